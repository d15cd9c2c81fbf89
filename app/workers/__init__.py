"""Qt glue: runs core calls off the GUI thread and turns core callbacks into Qt signals.

The only Qt code that calls ``app.core``. Results come back as the core's frozen dataclasses
(or the small frozen views in ``views.py``); widgets in ``app.ui`` never touch the store,
SQLite or HTTP.
"""
