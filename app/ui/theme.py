"""Colours and icons derived from the current palette, so light and dark themes both work.

Nothing here hard-codes a colour for text or backgrounds: they come from palette roles. The
few status accents (ok, warning, problem) keep a fixed hue and take their lightness from the
palette, so they read on both light and dark windows.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPainterPath, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QApplication, QStyle, QWidget

from app.resources_path import resources_dir


def palette() -> QPalette:
    return QApplication.palette()


def is_dark(pal: QPalette | None = None) -> bool:
    pal = pal or palette()
    return pal.color(QPalette.ColorRole.Window).lightnessF() < 0.5


def mix(a: QColor, b: QColor, t: float) -> QColor:
    """``a`` moved ``t`` of the way to ``b``."""
    return QColor.fromRgbF(a.redF() + (b.redF() - a.redF()) * t, a.greenF() + (b.greenF() - a.greenF()) * t,
                           a.blueF() + (b.blueF() - a.blueF()) * t, 1.0)


def role(r: QPalette.ColorRole, pal: QPalette | None = None) -> QColor:
    return (pal or palette()).color(r)


def accent(pal: QPalette | None = None) -> QColor:
    return role(QPalette.ColorRole.Highlight, pal)


def secondary_text(pal: QPalette | None = None) -> QColor:
    pal = pal or palette()
    return mix(pal.color(QPalette.ColorRole.WindowText), pal.color(QPalette.ColorRole.Window), 0.38)


def surface(level: float = 0.04, pal: QPalette | None = None) -> QColor:
    """The base colour nudged towards the text colour: cards, bubbles, chips."""
    pal = pal or palette()
    return mix(pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Text), level)


def border(pal: QPalette | None = None) -> QColor:
    pal = pal or palette()
    return mix(pal.color(QPalette.ColorRole.Window), pal.color(QPalette.ColorRole.WindowText), 0.16)


def _status(hue: float, pal: QPalette | None) -> QColor:
    return QColor.fromHslF(hue, 0.62, 0.70 if is_dark(pal) else 0.36)


def ok_color(pal: QPalette | None = None) -> QColor:
    return _status(0.36, pal)


def warn_color(pal: QPalette | None = None) -> QColor:
    return _status(0.10, pal)


def problem_color(pal: QPalette | None = None) -> QColor:
    return _status(0.0, pal)


def tint(c: QColor, amount: float = 0.14, pal: QPalette | None = None) -> QColor:
    """A background tinted with ``c``: banners and highlights."""
    return mix(role(QPalette.ColorRole.Base, pal), c, amount)


def css(c: QColor) -> str:
    return c.name(QColor.NameFormat.HexRgb)


def scaled_font(w: QWidget | None, factor: float, bold: bool = False) -> QFont:
    f = QFont(w.font() if w is not None else QApplication.font())
    size = f.pointSizeF()
    if size > 0:
        f.setPointSizeF(size * factor)
    f.setBold(bold)
    return f


def dot_icon(c: QColor, size: int = 12) -> QIcon:
    pm = QPixmap(size * 2, size * 2)
    pm.setDevicePixelRatio(2.0)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(c)
    p.drawEllipse(QRectF(size * 0.2, size * 0.2, size * 0.6, size * 0.6))
    p.end()
    return QIcon(pm)


def std_icon(name: str) -> QIcon:
    """A theme icon by freedesktop name, else the style's built-in one."""
    fallback = {
        "folder": QStyle.StandardPixmap.SP_DirIcon,
        "text-x-generic": QStyle.StandardPixmap.SP_FileIcon,
        "folder-open": QStyle.StandardPixmap.SP_DirOpenIcon,
        "list-add": QStyle.StandardPixmap.SP_FileDialogNewFolder,
        "view-refresh": QStyle.StandardPixmap.SP_BrowserReload,
        "media-playback-pause": QStyle.StandardPixmap.SP_MediaPause,
        "media-playback-start": QStyle.StandardPixmap.SP_MediaPlay,
        "media-playback-stop": QStyle.StandardPixmap.SP_MediaStop,
        "edit-delete": QStyle.StandardPixmap.SP_TrashIcon,
        "dialog-warning": QStyle.StandardPixmap.SP_MessageBoxWarning,
        "dialog-information": QStyle.StandardPixmap.SP_MessageBoxInformation,
        "dialog-error": QStyle.StandardPixmap.SP_MessageBoxCritical,
        "document-open": QStyle.StandardPixmap.SP_DialogOpenButton,
        "drive-harddisk": QStyle.StandardPixmap.SP_DriveHDIcon,
        "edit-copy": QStyle.StandardPixmap.SP_FileDialogDetailedView,
        "go-up": QStyle.StandardPixmap.SP_ArrowUp,
    }
    icon = QIcon.fromTheme(name)
    if icon.isNull() and name in fallback:
        style = QApplication.style()
        icon = style.standardIcon(fallback[name])
    return icon


def send_icon(c: QColor, size: int = 20) -> QIcon:
    """A paper-plane arrow drawn in ``c`` (no icon theme has a consistent one)."""
    pm = QPixmap(size * 2, size * 2)
    pm.setDevicePixelRatio(2.0)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    path = QPainterPath(QPointF(size * 0.15, size * 0.18))
    path.lineTo(QPointF(size * 0.88, size * 0.5))
    path.lineTo(QPointF(size * 0.15, size * 0.82))
    path.lineTo(QPointF(size * 0.28, size * 0.5))
    path.closeSubpath()
    p.setPen(QPen(c, 1.2))
    p.setBrush(c)
    p.drawPath(path)
    p.end()
    return QIcon(pm)


def stop_icon(c: QColor, size: int = 20) -> QIcon:
    pm = QPixmap(size * 2, size * 2)
    pm.setDevicePixelRatio(2.0)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(c)
    p.drawRoundedRect(QRectF(size * 0.25, size * 0.25, size * 0.5, size * 0.5), 2, 2)
    p.end()
    return QIcon(pm)


# --- assets ---------------------------------------------------------------------------------


def app_icon() -> QIcon:
    icons = resources_dir() / "icons"  # one lookup, frozen or from source: app.resources_path
    icon = QIcon()
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        f = icons / f"quire-{size}.png"
        if f.exists():
            icon.addFile(os.fspath(f), QSize(size, size))
    svg = icons / "quire.svg"
    if icon.isNull() and svg.exists():
        icon.addFile(os.fspath(svg))
    return icon
