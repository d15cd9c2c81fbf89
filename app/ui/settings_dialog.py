"""Settings, generated from ``config.OPTIONS``: one field per option with its help text; a bad
value is refused inline with the ConfigError's message; options that change the index say so."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.config import OPTIONS, Option, Settings
from app.core.errors import ConfigError

from . import theme

SECTIONS = (("ollama", "Answers"), ("search", "Search"), ("embedding", "Embedding"), ("chunking", "Chunks"),
            ("index", "Indexing"))
LABELS = {
    "ollama.url": "Ollama URL", "ollama.chat_model": "Chat model", "ollama.embed_model": "Embedding model (Ollama)",
    "ollama.timeout_s": "Timeout (seconds)", "search.mode": "Search mode", "search.top_k": "Passages per question",
    "embedding.backend": "Backend", "embedding.model": "Model", "embedding.model_path": "Model folder",
    "embedding.batch_size": "Batch size", "chunking.chunk_size": "Chunk size (tokens)",
    "chunking.chunk_overlap": "Overlap (tokens)", "index.ignore": "Ignore patterns",
    "index.max_file_mb": "Size cap (MB)", "index.hidden": "Hidden files", "index.parse_timeout_s": "Parse timeout (s)",
    "index.parse_memory_mb": "Parser memory (MB)", "index.workers": "Parser processes",
}
MODEL_LISTS = ("ollama.chat_model", "ollama.embed_model")  # picked from the server's models


def choices(opt: Option) -> list[str]:
    """The allowed values of a one-of option, read from its own check's message."""
    if opt.kind is not str or opt.check is None:
        return []
    allowed = opt.check("\0")  # no real value is a NUL: the check answers with what it allows
    if not allowed or not allowed.startswith("one of "):
        return []
    return re.findall(r'"([^"]+)"', allowed)


class Field:
    """One option's editor, its error line and how to read and write its value."""

    def __init__(self, opt: Option, widget: QWidget, get: Callable[[], Any], set_: Callable[[Any], None],
                 error: QLabel) -> None:
        self.opt = opt
        self.widget = widget
        self.get = get
        self.set = set_
        self.error = error


class SettingsDialog(QDialog):
    models_wanted = Signal(str)  # the Ollama URL whose model list the dialog would like

    def __init__(self, settings: Settings, index_exists: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.resize(680, 560)
        self.settings = settings
        self.result_settings: Settings | None = None
        self.fields: dict[str, Field] = {}
        self._validate_timer = QTimer(self)
        self._validate_timer.setSingleShot(True)
        self._validate_timer.setInterval(150)
        self._validate_timer.timeout.connect(self.validate)
        lay = QVBoxLayout(self)
        self.tabs = QTabWidget()
        lay.addWidget(self.tabs, 1)
        for section, title in SECTIONS:
            self.tabs.addTab(self._page(section, index_exists), title)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.validate()

    # --- building --------------------------------------------------------------------------

    def _page(self, section: str, index_exists: bool) -> QWidget:
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        inner = QWidget()
        form = QFormLayout(inner)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.setVerticalSpacing(4)
        sec = theme.css(theme.secondary_text(theme.palette()))
        for opt in (o for o in OPTIONS if o.section == section):
            editor, get, set_ = self._editor(opt)
            set_(self.settings.get(opt.name))
            box = QWidget()
            col = QVBoxLayout(box)
            col.setContentsMargins(0, 0, 0, 10)
            col.setSpacing(2)
            col.addWidget(editor)
            help_text = opt.help
            if opt.needs_rebuild and index_exists:
                help_text += " Changing it rebuilds the index (you are told the cost first)."
            helper = QLabel(help_text)
            helper.setWordWrap(True)
            helper.setStyleSheet(f"color: {sec};")
            helper.setFont(theme.scaled_font(self, 0.88))
            col.addWidget(helper)
            error = QLabel()
            error.setWordWrap(True)
            error.setStyleSheet(f"color: {theme.css(theme.problem_color(theme.palette()))};")
            error.hide()
            col.addWidget(error)
            label = QLabel(LABELS.get(opt.name, opt.key.replace("_", " ").capitalize()))
            label.setBuddy(editor)
            form.addRow(label, box)
            self.fields[opt.name] = Field(opt, editor, get, set_, error)
        scroll.setWidget(inner)
        return scroll

    def _editor(self, opt: Option) -> tuple[QWidget, Callable[[], Any], Callable[[Any], None]]:
        changed = self._changed
        if opt.kind is bool:
            cb = QCheckBox(LABELS.get(opt.name, "Enabled") if opt.name == "index.hidden" else "Enabled")
            cb.toggled.connect(changed)
            return cb, cb.isChecked, lambda v: cb.setChecked(bool(v))
        if opt.kind is int:
            sb = QSpinBox()
            sb.setRange(-1_000_000, 10_000_000)  # the option's own check refuses what it must, inline
            sb.setGroupSeparatorShown(True)
            sb.valueChanged.connect(changed)
            return sb, sb.value, lambda v: sb.setValue(int(v))
        if opt.kind is float:
            ds = QDoubleSpinBox()
            ds.setRange(-1e9, 1e9)
            ds.setDecimals(1)
            ds.setSingleStep(1.0)
            ds.valueChanged.connect(changed)
            return ds, ds.value, lambda v: ds.setValue(float(v))
        if opt.kind is list:
            te = QPlainTextEdit()
            te.setPlaceholderText("One gitignore-style pattern a line, e.g.  *.log  or  /drafts/")
            te.setFixedHeight(te.fontMetrics().lineSpacing() * 5 + 12)
            te.setTabChangesFocus(True)
            te.textChanged.connect(changed)
            return (te, lambda: [ln.strip() for ln in te.toPlainText().splitlines() if ln.strip()],
                    lambda v: te.setPlainText("\n".join(v)))
        options = choices(opt)
        if options:
            combo = QComboBox()
            combo.addItems(options)
            combo.currentTextChanged.connect(changed)
            return combo, combo.currentText, lambda v: combo.setCurrentText(str(v))
        if opt.name in MODEL_LISTS:
            combo = QComboBox()
            combo.setEditable(True)
            combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
            combo.currentTextChanged.connect(changed)
            wrap = QWidget()
            row = QHBoxLayout(wrap)
            row.setContentsMargins(0, 0, 0, 0)
            row.addWidget(combo, 1)
            refresh = QPushButton("Refresh list")
            refresh.setToolTip("Ask the Ollama server which models it has")
            refresh.clicked.connect(lambda: self.models_wanted.emit(self._value("ollama.url")))
            row.addWidget(refresh)
            wrap.setFocusProxy(combo)
            return wrap, lambda: combo.currentText().strip(), lambda v: combo.setCurrentText(str(v))
        line = QLineEdit()
        line.textChanged.connect(changed)
        if opt.name == "embedding.model_path":
            wrap = QWidget()
            row = QHBoxLayout(wrap)
            row.setContentsMargins(0, 0, 0, 0)
            row.addWidget(line, 1)
            browse = QPushButton("Choose…")
            browse.clicked.connect(lambda: self._browse(line))
            row.addWidget(browse)
            wrap.setFocusProxy(line)
            return wrap, lambda: line.text().strip(), lambda v: line.setText(str(v))
        if opt.name == "ollama.url":
            line.editingFinished.connect(lambda: self.models_wanted.emit(line.text().strip()))
        return line, lambda: line.text().strip(), lambda v: line.setText(str(v))

    def _browse(self, line: QLineEdit) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder with the embedding model's ONNX files", line.text())
        if folder:
            line.setText(folder)

    def set_models(self, models: list[str]) -> None:
        for name in MODEL_LISTS:
            f = self.fields.get(name)
            if f is None:
                continue
            combo = f.widget.findChild(QComboBox)
            if combo is None:
                continue
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(models)
            combo.setCurrentText(current)
            combo.blockSignals(False)

    # --- values ---------------------------------------------------------------------------------

    def _value(self, name: str) -> Any:
        return self.fields[name].get()

    def values(self) -> dict[str, Any]:
        return {name: f.get() for name, f in self.fields.items()}

    def changed_values(self) -> dict[str, Any]:
        return {name: v for name, v in self.values().items() if v != self.settings.get(name)}

    def needs_rebuild(self) -> bool:
        return any(self.fields[n].opt.needs_rebuild for n in self.changed_values())

    def _changed(self, *_: object) -> None:
        self._validate_timer.start()

    def validate(self) -> Settings | None:
        """Check each field on its own, then all together; show the first problem of each field."""
        errors: dict[str, str] = {}
        for name, f in self.fields.items():
            try:
                self.settings.with_values({name: f.get()})
            except ConfigError as exc:
                errors[name] = self._in_words(exc)
        # Checked against the saved values above, an overlap was refused for the saved chunk size,
        # not the one in the dialog: checked again with the dialog's other values.
        fine = {n: f.get() for n, f in self.fields.items() if n not in errors}
        for name in list(errors):
            try:
                self.settings.with_values({**fine, name: self.fields[name].get()})
                del errors[name]
            except ConfigError as exc:
                errors[name] = self._in_words(exc)
        result: Settings | None = None
        if not errors:
            try:
                result = self.settings.with_values(self.changed_values())
            except ConfigError as exc:
                errors[exc.key if exc.key in self.fields else next(iter(self.fields))] = self._in_words(exc)
        for name, f in self.fields.items():
            msg = errors.get(name, "")
            f.error.setText(msg)
            f.error.setVisible(bool(msg))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not errors)
        sec = theme.css(theme.secondary_text(theme.palette()))
        if errors:
            tabs = {self.fields[n].opt.section for n in errors}
            titles = [t for s, t in SECTIONS if s in tabs]
            self.summary.setText(f"Fix the value{'s' if len(errors) > 1 else ''} marked in red "
                                 f"({', '.join(titles)}) to save.")
            self.summary.setStyleSheet(f"color: {theme.css(theme.problem_color(theme.palette()))};")
        elif result is not None and self.needs_rebuild():
            self.summary.setText("These changes need the index to be rebuilt; you will see what it costs "
                                 "before it starts.")
            self.summary.setStyleSheet(f"color: {sec};")
        else:
            self.summary.setText("")
        return result

    def _in_words(self, exc: ConfigError) -> str:
        """A setting's error as the dialog shows it: what the field may hold ("Must be a whole
        number from 1 to 8192."), other settings named by their labels; not the settings file's
        "Setting chunking.chunk_overlap = 300 is not valid:"."""
        if not exc.allowed:
            return exc.message
        text = exc.allowed
        for name in self.fields:
            if name in text:
                text = text.replace(name, f"“{LABELS.get(name, name.split('.')[-1].replace('_', ' ').capitalize())}”")
        return f"Must be {text}."

    def _accept(self) -> None:
        result = self.validate()
        if result is None:
            return
        self.result_settings = result
        self.accept()

    def focus_field(self, name: str) -> None:
        f = self.fields[name]
        for i, (section, _) in enumerate(SECTIONS):
            if section == f.opt.section:
                self.tabs.setCurrentIndex(i)
        f.widget.setFocus(Qt.FocusReason.OtherFocusReason)
