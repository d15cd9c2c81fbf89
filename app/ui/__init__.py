"""The Quire window (PySide6 Widgets). Widgets only: every core call goes through app.workers."""
