"""Past conversations (left, under the library): pick one to read and continue it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics, QKeySequence, QPainter, QPalette, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from . import theme


def when(ts: float) -> str:
    d = dt.datetime.fromtimestamp(ts)
    today = dt.date.today()
    if d.date() == today:
        return d.strftime("%H:%M")
    if (today - d.date()).days < 7:
        return d.strftime("%a %H:%M")
    return d.strftime("%d %b %Y")


WHEN_ROLE = Qt.ItemDataRole.UserRole + 1  # "14:05", "Tue 09:12", "03 Nov 2026"


class _ChatDelegate(QStyledItemDelegate):
    """A conversation's name, and when it was last used in smaller grey type under it: titles
    that start alike ("Question about the rent…") were told apart by nothing."""

    def sizeHint(self, option: QStyleOptionViewItem, index: Any) -> QSize:
        fm = option.fontMetrics
        return QSize(option.rect.width(), fm.height() + int(fm.height() * 0.85) + 10)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Any) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        when_text = index.data(WHEN_ROLE) or ""
        opt.text = ""
        style = opt.widget.style() if opt.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        r = option.rect.adjusted(6, 4, -6, -4)
        fm = option.fontMetrics
        painter.save()
        painter.setPen(theme.role(QPalette.ColorRole.Text))
        painter.drawText(r.x(), r.y() + fm.ascent(),
                         fm.elidedText(index.data(Qt.ItemDataRole.DisplayRole) or "", Qt.TextElideMode.ElideRight,
                                       r.width()))
        small = QFont(option.font)
        small.setPointSizeF(max(small.pointSizeF() * 0.85, 6.0))
        painter.setFont(small)
        painter.setPen(theme.secondary_text())
        painter.drawText(r.x(), r.y() + fm.height() + QFontMetrics(small).ascent(), when_text)
        painter.restore()


class ChatsPanel(QWidget):
    chosen = Signal(int)  # chat id
    new_chat = Signal()
    delete = Signal(int)
    rename = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(6)
        head = QHBoxLayout()
        title = QLabel("Conversations")
        title.setFont(theme.scaled_font(self, 1.1, bold=True))
        head.addWidget(title)
        head.addStretch(1)
        self.new_button = new = QToolButton()
        new.setText("New")
        new.setToolTip("Start a new conversation (Ctrl+N)")
        new.clicked.connect(self.new_chat.emit)
        head.addWidget(new)
        lay.addLayout(head)
        self.list = QListWidget()
        self.list.setFrameShape(QFrame.Shape.NoFrame)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setUniformItemSizes(True)
        self.list.setItemDelegate(_ChatDelegate(self.list))
        self.list.setAccessibleName("Past conversations")
        self.list.itemActivated.connect(self._chosen)
        self.list.itemClicked.connect(self._chosen)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        # The menu's actions from the keyboard too, on the conversation that has the focus.
        for key, signal in ((Qt.Key.Key_F2, self.rename), (Qt.Key.Key_Delete, self.delete)):
            shortcut = QShortcut(QKeySequence(key), self.list, context=Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(lambda sig=signal: self._on_current(sig))
        lay.addWidget(self.list, 1)
        self.empty = QLabel("Your conversations are kept here: pick one to read it again or ask a follow-up.")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        lay.addWidget(self.empty, 1)
        self.current: int | None = None
        self.restyle()

    def restyle(self) -> None:
        pal = theme.palette()
        acc = theme.accent(pal)
        self.list.setStyleSheet(
            f"QListWidget::item {{ padding: 4px 2px; }}"
            f"QListWidget::item:selected {{ background: {theme.css(theme.tint(acc, 0.16, pal))};"
            f" color: {theme.css(theme.role(QPalette.ColorRole.Text, pal))}; }}")
        self.empty.setStyleSheet(f"color: {theme.css(theme.secondary_text(pal))}; padding: 8px;")

    def set_chats(self, chats: Sequence[Any]) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for c in chats:
            item = QListWidgetItem(c.name)
            item.setData(Qt.ItemDataRole.UserRole, c.id)
            item.setToolTip(f"{c.name}\n{c.message_count // 2} questions · last used {when(c.updated_at)}")
            item.setData(WHEN_ROLE, f"{when(c.updated_at)} · {c.message_count // 2} "
                                    f"question{'s' if c.message_count // 2 != 1 else ''}")
            self.list.addItem(item)
            if c.id == self.current:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self.empty.setVisible(not chats)
        self.list.setVisible(bool(chats))

    def set_current(self, chat_id: int | None) -> None:
        self.current = chat_id
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == chat_id:
                self.list.setCurrentItem(item)
                return
        self.list.clearSelection()

    def _chosen(self, item: QListWidgetItem) -> None:
        cid = item.data(Qt.ItemDataRole.UserRole)
        if cid != self.current:
            self.chosen.emit(cid)

    def _menu(self, pos: Any) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        cid = item.data(Qt.ItemDataRole.UserRole)
        menu = QMenu(self)
        menu.addAction("Rename…  (F2)", lambda: self.rename.emit(cid))
        menu.addAction("Delete…  (Del)", lambda: self.delete.emit(cid))
        menu.exec(self.list.viewport().mapToGlobal(pos))

    def _on_current(self, signal: Any) -> None:
        item = self.list.currentItem()
        if item is not None:
            signal.emit(item.data(Qt.ItemDataRole.UserRole))

    def name_of(self, chat_id: int) -> str:
        """The listed name of conversation ``chat_id`` ("" if it is not listed)."""
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == chat_id:
                return item.text()
        return ""
