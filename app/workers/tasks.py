"""Background operations, Anki style: a function runs on a pool thread, its result comes back
on the GUI thread through ``done`` / ``failed`` signals.

A Task is a QObject created on the GUI thread. The worker thread emits private signals that
are queued to the GUI thread and re-emitted there as ``done`` / ``failed`` / ``progress``, so a
caller may connect its slots after ``start()`` (a fast task cannot finish "before anyone
listened"). Each Task keeps a strong reference to itself (in ``Task._live``) until it has
finished, since PySide would otherwise collect it mid-run.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, QTimer, Signal, SignalInstance

from app.core.errors import Cancelled, QuireError
from app.core.types import CancelToken

log = logging.getLogger(__name__)


class Task(QObject):
    """One call off the GUI thread. ``fn`` may take a ``task`` keyword to report progress or
    watch ``task.cancel``."""

    done = Signal(object)
    failed = Signal(object)  # the exception, with its __traceback__
    progress = Signal(object)
    finished = Signal()
    # Emitted on the worker thread; queued to the GUI thread and re-emitted as the public ones.
    _done = Signal(object)
    _failed = Signal(object)
    _progress = Signal(object)
    _finished = Signal()

    _live: ClassVar[set[Task]] = set()

    def __init__(self, fn: Callable[..., Any], *args: Any, pass_task: bool = False,
                 name: str = "") -> None:
        super().__init__()
        self._fn = fn
        self._args = args
        self._pass_task = pass_task
        self.name = name or getattr(fn, "__name__", "task")
        self.cancel = CancelToken()
        queued = Qt.ConnectionType.QueuedConnection
        self._done.connect(self.done, queued)
        self._failed.connect(self.failed, queued)
        self._progress.connect(self.progress, queued)
        self._finished.connect(self.finished, queued)
        self.finished.connect(self._release)

    def report(self, value: Any) -> None:
        """Progress from the worker thread (any thread)."""
        self._progress.emit(value)

    # Chaining, so callers read like Anki's ops: Task(fn).on_done(slot).start(pool)
    def on_done(self, slot: Callable[[Any], None]) -> Task:
        self.done.connect(slot)
        return self

    def on_failed(self, slot: Callable[[BaseException], None]) -> Task:
        self.failed.connect(slot)
        return self

    def on_progress(self, slot: Callable[[Any], None]) -> Task:
        self.progress.connect(slot)
        return self

    def start(self, pool: QThreadPool | None = None) -> Task:
        Task._live.add(self)
        (pool or QThreadPool.globalInstance()).start(_Runner(self._run))
        return self

    def start_thread(self) -> Task:
        """Run on a dedicated thread (for work that must not queue behind the pool's)."""
        Task._live.add(self)
        threading.Thread(target=self._run, name=f"quire-{self.name}", daemon=True).start()
        return self

    def _run(self) -> None:
        try:
            result = self._fn(*self._args, task=self) if self._pass_task else self._fn(*self._args)
        except BaseException as exc:  # handed to the GUI thread; nothing is lost
            if not isinstance(exc, QuireError):
                log.error("%s failed", self.name, exc_info=exc)
            self._failed.emit(exc)
        else:
            self._done.emit(result)
        finally:
            self._finished.emit()

    def _release(self) -> None:
        # Let go on a later turn of the event loop: every slot on ``finished`` (connected before or
        # after this one) runs first, and the object is not deleted while Qt is delivering one of
        # its own queued signals (that is a use-after-free).
        QTimer.singleShot(0, functools.partial(Task._live.discard, self))

    @classmethod
    def running(cls) -> int:
        return len(cls._live)


class _Runner(QRunnable):
    """The pool's handle on a Task: a Python subclass, which the pool owns and deletes after
    ``run`` with shiboken told. (``QRunnable.create(callable)`` is deleted behind shiboken's
    back; its stale wrapper then turned up for new objects at the same address: crashes.)"""

    def __init__(self, fn: Callable[[], None]) -> None:
        super().__init__()
        self._fn = fn

    def run(self) -> None:
        self._fn()


class FutureTask(QObject):
    """A ``concurrent.futures.Future`` (from the Watcher's writer) as done/failed signals."""

    done = Signal(object)
    failed = Signal(object)
    _done = Signal(object)
    _failed = Signal(object)

    _live: ClassVar[set[FutureTask]] = set()

    def __init__(self, future: concurrent.futures.Future[Any], name: str = "write") -> None:
        super().__init__()
        self.name = name
        FutureTask._live.add(self)
        # Queued even when the future is already done, so slots connected after this still run.
        self._done.connect(self.done, Qt.ConnectionType.QueuedConnection)
        self._failed.connect(self.failed, Qt.ConnectionType.QueuedConnection)
        self.done.connect(self._release)
        self.failed.connect(self._release)
        future.add_done_callback(self._finished)

    def on_done(self, slot: Callable[[Any], None]) -> FutureTask:
        self.done.connect(slot)
        return self

    def on_failed(self, slot: Callable[[BaseException], None]) -> FutureTask:
        self.failed.connect(slot)
        return self

    def _finished(self, future: concurrent.futures.Future[Any]) -> None:
        if future.cancelled():
            self._failed.emit(Cancelled())
            return
        exc = future.exception()
        if exc is not None:
            if not isinstance(exc, QuireError):
                log.error("%s failed", self.name, exc_info=exc)
            self._failed.emit(exc)
        else:
            self._done.emit(future.result())

    def _release(self, _: object = None) -> None:
        QTimer.singleShot(0, functools.partial(FutureTask._live.discard, self))  # see Task._release


class Throttle:
    """Pass events from a worker thread to a signal at most every ``interval`` seconds.

    The last event of a burst is never lost: ``final(event)`` returns True for events that
    must go out at once (e.g. phase "done"), and a held-back event is sent by ``flush``.
    """

    def __init__(self, signal: SignalInstance, interval: float = 0.1,
                 final: Callable[[Any], bool] | None = None) -> None:
        self._signal = signal
        self._interval = interval
        self._final = final or (lambda e: False)
        self._last = 0.0
        self._held: Any = None
        self._lock = threading.Lock()

    def __call__(self, event: Any) -> None:
        now = time.monotonic()
        with self._lock:
            if not self._final(event) and now - self._last < self._interval:
                self._held = event
                return
            self._last = now
            self._held = None
        self._signal.emit(event)

    def flush(self) -> None:
        with self._lock:
            held, self._held = self._held, None
        if held is not None:
            self._signal.emit(held)
