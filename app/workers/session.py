"""The window's door to the core: one Library writer (through the Watcher), a read-only Library
for questions, the chat history and the Ollama server, each used off the GUI thread.

Threads:
- opening, snapshots, questions, health checks and pulls run as ``Task``s on a small pool;
- every write (add, remove, pause, settings, rebuild) goes through ``Watcher.submit``, so the
  Watcher's writer thread is the only one that writes;
- the Watcher's own callbacks arrive on its threads and are re-emitted as Qt signals.

Questions read through their own read-only Library opened with the settings the index was built
with, so the old index keeps answering while a rebuild for new settings runs beside it.
"""

from __future__ import annotations

import dataclasses
import gc
import importlib.metadata
import logging
import os
import platform
import shutil
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QThreadPool, QTimer, Signal

from app import __version__
from app.core.answer import HISTORY_TURNS, Answer, Source, answer
from app.core.chats import Chat, ChatStore
from app.core.config import Paths, Settings, save_settings
from app.core.errors import Cancelled, IndexMismatchError, QuireError, StoreLockedError, UsageError
from app.core.library import Library, RebuildPlan
from app.core.manifest import FAILED
from app.core.ollama import OllamaClient, ServerStatus
from app.core.parse import kind_of
from app.core.types import CancelToken, Hit, IndexReport, Progress

from .tasks import FutureTask, Task, Throttle
from .views import AddResult, ChatMessage, OpenResult, Problem, RootView, Snapshot, Versions

log = logging.getLogger(__name__)

STOPPED = "\n\n*(stopped)*"  # marks an answer the user stopped, in the chat history
CHAT_NAME_CHARS = 60


def index_settings(settings: Settings, meta: dict[str, Any] | None) -> Settings:
    """``settings`` adjusted to what the index on disk was built with, so a reader can use it
    while the settings ask for a rebuild that has not happened yet."""
    if not meta:
        return settings
    emb, chunking = meta["embedding"], meta["chunking"]
    values: dict[str, Any] = {"embedding.backend": emb["backend"],
                              "chunking.chunk_size": chunking["chunk_size"],
                              "chunking.chunk_overlap": chunking["chunk_overlap"]}
    if emb["backend"] == "ollama":
        values["ollama.embed_model"] = emb["model"]
    elif emb["backend"] == "fastembed":
        values["embedding.model"] = emb["model"]
    try:
        return settings.with_values(values)
    except QuireError:
        return settings


def source_from_json(d: dict[str, Any]) -> Source:
    return Source(int(d.get("n", 0)), str(d.get("path", "")), d.get("page"), str(d.get("text", "")),
                  float(d.get("score", 0.0)), str(d.get("heading", "")), str(d.get("folder", "")),
                  tuple(str(p) for p in d.get("also") or ()))


def messages_view(messages: Sequence[Any]) -> list[ChatMessage]:
    """Stored messages as the window shows them; a regenerated answer replaces the one before it."""
    out: list[ChatMessage] = []
    for m in messages:
        if m.role == "user":
            if (len(out) >= 2 and out[-2].role == "user" and out[-2].text == m.text
                    and out[-1].role == "assistant"):
                del out[-2:]  # the same question asked again right after: a regenerate
            out.append(ChatMessage("user", m.text, ()))
        elif m.role == "assistant":
            sources = tuple(source_from_json(s) for s in m.sources if s.get("cited", True))
            given = tuple(source_from_json(s) for s in m.sources if not s.get("cited", True))
            if m.text.endswith(STOPPED):
                out.append(ChatMessage("assistant", m.text[:-len(STOPPED)], sources, "stopped"))
            else:
                out.append(ChatMessage("assistant", m.text, sources, "answer" if m.text else "passages", given))
    return out


def warm_up() -> None:
    """Import now, on the GUI thread before the window shows, what the library loads lazily.

    A native library (LanceDB, Arrow, NumPy, watchdog's inotify) is loaded under the GIL;
    loaded later from a worker thread, each would freeze the visible window for 50-200 ms."""
    import numpy  # noqa: F401
    import pyarrow  # noqa: F401
    import watchdog.observers  # noqa: F401

    import app.core.indexer
    import app.core.search
    import app.core.store
    import app.core.watch

    app.core.store.load_lancedb()

    freeze_heap()


def freeze_heap() -> None:
    """Keep what is loaded so far out of Python's cyclic garbage collector.

    A full collection walks every tracked object while holding the GIL: after the imports
    above that is ~150,000 objects and 95 ms, which any thread's allocations can trigger in
    the middle of indexing, freezing the window with it (bench/bench_gui_stall.py). Modules,
    classes and the open library live as long as the process; frozen, they are never walked."""
    gc.collect()
    gc.freeze()


class AskTask(Task):
    """A question on a pool thread; ``token`` carries the answer's pieces as they stream."""

    token = Signal(str)
    chat = Signal(object)  # the Chat the question went into, as soon as it is known
    _token = Signal(str)
    _chat = Signal(object)

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._token.connect(self.token, Qt.ConnectionType.QueuedConnection)
        self._chat.connect(self.chat, Qt.ConnectionType.QueuedConnection)


class Session(QObject):
    opened = Signal(object)  # OpenResult
    open_failed = Signal(object)  # exception
    progress = Signal(object)  # core Progress from indexing (throttled, ~10/s)
    embed_progress = Signal(object)  # Progress("embed", ...) from the background embedder
    report = Signal(object)  # IndexReport of a finished run
    watch_status = Signal(object)  # list of WatchStatus
    background_error = Signal(object)  # an exception from the writer's thread
    rebuild_progress = Signal(object)
    snapshot = Signal(object)  # Snapshot
    ollama_status = Signal(object)  # ServerStatus

    def __init__(self, paths: Paths, settings: Settings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        warm_up()
        self.paths = paths
        self.settings = settings
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(4)
        self.writer: Library | None = None
        self.reader: Library | None = None
        self.watcher: Any = None
        self.chats: ChatStore | None = None
        self._read_lock = threading.RLock()
        self._rebuild_cancel = CancelToken()
        self._asks: set[AskTask] = set()
        self._closed = False
        self._snapshot_running = False
        self._snapshot_again = False
        self._progress = Throttle(self.progress, 0.1, final=lambda p: p.phase == "done")
        self._embed = Throttle(self.embed_progress, 0.25)
        self._rebuild = Throttle(self.rebuild_progress, 0.1, final=lambda p: p.phase == "done")
        # Held-back progress events go out even when a burst ends without a final event.
        self._flusher = QTimer(self)
        self._flusher.setInterval(200)
        self._flusher.timeout.connect(self._flush)
        self._flusher.start()

    def _flush(self) -> None:
        self._progress.flush()
        self._embed.flush()
        self._rebuild.flush()

    @property
    def writable(self) -> bool:
        return self.writer is not None and self.watcher is not None

    # --- opening and closing -----------------------------------------------------------------

    def open(self) -> Task:
        return Task(self._open, name="open").on_done(self._opened).on_failed(self.open_failed.emit) \
            .start_thread()

    def _opened(self, result: OpenResult) -> None:
        freeze_heap()  # the libraries, the embedding model and the store handles, now loaded
        self.opened.emit(result)

    def _open(self) -> OpenResult:
        lock_message = lock_action = ""
        writer = None
        try:
            writer = Library.open(self.paths, self.settings, write=True)
        except StoreLockedError as exc:
            lock_message, lock_action = exc.message, exc.action or ""
        self.chats = ChatStore(self.paths.chats_db)
        # Opened after the writer, which creates the manifest a reader needs to exist.
        reader = Library.open(self.paths, self.settings, write=False)
        mismatch = reader.mismatch()
        reader.reconfigure(index_settings(self.settings, reader.meta()))
        with self._read_lock:
            self.reader = reader
        if writer is not None:
            from app.core.watch import Watcher

            self.writer = writer
            self.watcher = Watcher(writer, on_report=self._on_report, on_status=self._on_status,
                                   on_progress=self._on_progress, on_error=self._on_error)
            self.watcher.start()
        return OpenResult(writer is not None, lock_message, lock_action, mismatch)

    def _on_progress(self, p: Progress) -> None:
        # The background embedder reports through the same callback; it gets its own throttle so
        # its steady stream never hides the files' progress.
        (self._embed if p.phase == "embed" else self._progress)(p)

    def _on_report(self, report: IndexReport, *_: Any) -> None:
        self.report.emit(report)

    def _on_status(self, _: Any = None) -> None:
        watcher = self.watcher
        if watcher is not None:
            self.watch_status.emit(watcher.statuses())

    def _on_error(self, exc: BaseException) -> None:
        if isinstance(exc, IndexMismatchError):
            return  # the window says so with a Rebuild button; the watcher retries after the rebuild
        self.background_error.emit(exc)

    def shutdown(self) -> Task:
        """Stop answers, indexing and a rebuild; release the writer lock. Loses nothing: what
        was not indexed yet is found again by the next start's reconcile."""
        self._closed = True
        self._rebuild_cancel.cancel()
        for t in list(self._asks):
            t.cancel.cancel()
        return Task(self._shutdown, name="shutdown").start_thread()

    def _shutdown(self) -> None:
        self.pool.waitForDone(10_000)
        if self.watcher is not None:
            try:
                self.watcher.stop()
            except Exception:
                log.exception("stopping the watcher failed")
        for lib in (self.writer, self.reader):
            if lib is not None:
                try:
                    lib.close()
                except Exception:
                    log.exception("closing the library failed")
        if self.chats is not None:
            self.chats.close()
        self.watcher = self.writer = self.reader = self.chats = None

    # --- reading ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Ask for a new Snapshot; several requests while one runs become one more."""
        if self._closed or self.reader is None:
            return
        if self._snapshot_running:
            self._snapshot_again = True
            return
        self._snapshot_running = True
        Task(self._snapshot, name="snapshot").on_done(self._snapshot_done) \
            .on_failed(self._snapshot_failed).start(self.pool)

    def _snapshot_done(self, snap: Snapshot) -> None:
        self._snapshot_finished()
        self.snapshot.emit(snap)

    def _snapshot_failed(self, exc: BaseException) -> None:
        self._snapshot_finished()
        log.warning("library snapshot failed: %s", exc)

    def _snapshot_finished(self) -> None:
        self._snapshot_running = False
        if self._snapshot_again:
            self._snapshot_again = False
            self.refresh()

    def _snapshot(self) -> Snapshot:
        with self._read_lock:
            lib = self.reader
        if lib is None:
            raise Cancelled()
        roots = lib.roots()
        files: dict[int, int] = {r.id: 0 for r in roots}
        chunks: dict[int, int] = dict(files)
        failed: dict[int, int] = dict(files)
        problems: list[Problem] = []
        by_id = {r.id: r for r in roots}
        for f in lib.manifest.all_files():
            if f.root_id not in files:
                continue
            if f.status == FAILED:
                failed[f.root_id] += 1
                problems.append(Problem(f.display, f.reason, by_id[f.root_id].display))
            elif f.status in ("indexed", "empty"):
                files[f.root_id] += 1
                chunks[f.root_id] += f.chunks
        views = tuple(RootView(r.display, r.is_file, r.paused, os.path.exists(r.path), files[r.id], chunks[r.id],
                               failed[r.id]) for r in roots)
        meta = lib.meta()
        stats = lib.store().stats() if meta is not None else None
        writer = self.writer
        backlog = writer.embedding_backlog() if writer is not None else 0
        mismatch = writer.mismatch() if writer is not None else None
        problems.sort(key=lambda p: p.path.lower())
        return Snapshot(views, sum(files.values()), stats.chunks if stats else 0, stats.vectors if stats else 0,
                        tuple(problems), backlog, mismatch, str(self.paths.data_dir))

    def _retrieve(self, query: str, k: int) -> Sequence[Hit]:
        with self._read_lock:
            lib = self.reader
            if lib is None:
                raise Cancelled()
            return lib.search(query, k).hits

    def ask(self, question: str, chat_id: int | None, regenerate: bool = False) -> AskTask:
        """Answer ``question`` in chat ``chat_id`` (a new chat when None); ``regenerate`` answers
        the chat's last question again, without it in the history."""
        task = AskTask(self._ask, question, chat_id, regenerate, pass_task=True, name="ask")
        self._asks.add(task)
        task.finished.connect(lambda: self._asks.discard(task))
        return task.start(self.pool)

    def _ask(self, question: str, chat_id: int | None, regenerate: bool, task: AskTask) -> tuple[Chat, Answer]:
        store = self.chats
        if store is None:
            raise Cancelled()
        chat = self._chat_for(store, chat_id, question)
        task._chat.emit(chat)
        previous = store.messages(chat, last=HISTORY_TURNS + 2)
        if regenerate and len(previous) >= 2 and previous[-1].role == "assistant":
            previous = previous[:-2]
        history = [(m.role, m.text[:-len(STOPPED)] if m.text.endswith(STOPPED) else m.text)
                   for m in previous[-HISTORY_TURNS:]]
        store.append(chat, "user", question)
        pieces: list[str] = []

        def on_token(piece: str) -> None:
            pieces.append(piece)
            task._token.emit(piece)

        settings = self.settings
        try:
            with OllamaClient(settings.ollama) as client:
                result = answer(question, self._retrieve, client, settings, on_token=on_token,
                                cancel=task.cancel, history=history)
        except Cancelled:
            store.append(chat, "assistant", "".join(pieces).strip() + STOPPED)
            raise
        store.append(chat, "assistant", result.text if result.mode == "answer" else "",
                     result.stored_sources())
        return chat, result

    @staticmethod
    def _chat_for(store: ChatStore, chat_id: int | None, question: str) -> Chat:
        if chat_id is not None:
            found = next((c for c in store.list() if c.id == chat_id), None)
            if found is not None:
                return found
        base = " ".join(question.split())
        if len(base) > CHAT_NAME_CHARS:
            base = base[:CHAT_NAME_CHARS].rsplit(" ", 1)[0] + "…"
        name, n = base, 2
        while store.find(name) is not None:
            name, n = f"{base} ({n})", n + 1
        return store.get_or_create(name)

    def list_chats(self) -> Task:
        return Task(lambda: self.chats.list() if self.chats else [], name="chats").start(self.pool)

    def load_chat(self, chat_id: int) -> Task:
        return Task(lambda: messages_view(self.chats.messages(chat_id)) if self.chats else [],
                    name="load chat").start(self.pool)

    def delete_chat(self, chat_id: int) -> Task:
        return Task(lambda: self.chats.delete(chat_id) if self.chats else None, name="delete chat").start(self.pool)

    def rename_chat(self, chat_id: int, name: str) -> Task:
        return Task(lambda: self.chats.rename(chat_id, name) if self.chats else None,
                    name="rename chat").start(self.pool)

    # --- Ollama ---------------------------------------------------------------------------------

    def check_ollama(self) -> Task:
        settings = self.settings.ollama

        def health() -> ServerStatus:
            with OllamaClient(settings) as client:
                return client.health()

        return Task(health, name="ollama health").on_done(self.ollama_status.emit).start(self.pool)

    def list_models(self, url: str) -> Task:
        settings = dataclasses.replace(self.settings.ollama, url=url)

        def models() -> list[str]:
            with OllamaClient(settings) as client:
                return [m.name for m in client.list_models()]

        return Task(models, name="models").start(self.pool)

    def pull(self, model: str) -> Task:
        settings = self.settings.ollama

        def pull(task: Task) -> str:
            emit = Throttle(task._progress, 0.1, final=lambda p: p.status == "success")
            with OllamaClient(settings) as client:
                client.pull(model, emit, task.cancel)
            return model

        task = Task(pull, pass_task=True, name="pull")
        return task.start(self.pool)

    @staticmethod
    def find_ollama() -> Task:
        return Task(lambda: shutil.which("ollama"), name="find ollama").start()

    # --- writing (all through the Watcher's writer) ------------------------------------------------

    def _submit(self, fn: Callable[[Library], Any], name: str) -> FutureTask:
        if self.watcher is None:
            raise UsageError("Another Quire is updating this library, so this window can only answer questions.",
                             "Close the other Quire (or `quire watch`), then reopen this window.")
        return FutureTask(self.watcher.submit(fn), name)

    def add(self, paths: Sequence[str]) -> FutureTask:
        """Add files and folders; unsupported files are refused with the reason, the rest go on."""

        def add(lib: Library) -> AddResult:
            added: list[str] = []
            refused: list[tuple[str, str]] = []
            covered: list[tuple[str, str]] = []
            merged: list[tuple[str, tuple[str, ...]]] = []
            for p in paths:
                if os.path.isfile(p) and kind_of(p) is None:
                    refused.append((p, "not a text document Quire can read"))
                    continue
                before = {r.path: r.display for r in lib.roots()}
                try:
                    root = lib.add(p)
                except QuireError as exc:
                    refused.append((p, exc.message))
                    continue
                if root.path in before and os.path.realpath(root.path) != os.path.realpath(p):
                    covered.append((p, root.display))  # inside a folder the library has
                    continue
                added.append(root.path)
                now = {r.path for r in lib.roots()}
                gone = tuple(d for path, d in before.items() if path not in now)
                if gone:
                    merged.append((root.display, gone))
            return AddResult(tuple(added), tuple(refused), tuple(covered), tuple(merged))

        # The Watcher re-arms after every job: new roots get observers and a catch-up run.
        return self._submit(add, "add").on_done(lambda _: self.refresh())

    def remove(self, path: str) -> FutureTask:
        def remove(lib: Library) -> int:
            n = lib.remove(path)
            return n

        return self._submit(remove, "remove").on_done(lambda _: self.refresh())

    def set_paused(self, path: str, paused: bool) -> FutureTask:
        return self._submit(lambda lib: lib.set_paused(path, paused), "pause").on_done(lambda _: self.refresh())

    def rescan(self, paths: Sequence[str]) -> None:
        if self.watcher is None:
            raise UsageError("This window opened the library read-only; another Quire keeps it up to date.")
        self.watcher.request(list(paths))

    def plan_rebuild(self, new: Settings) -> Task:
        """What moving the index to ``new`` settings would cost (None: no rebuild needed)."""

        def plan() -> RebuildPlan | None:
            with Library.open(self.paths, new, write=False) as probe:
                return probe.plan_rebuild()

        return Task(plan, name="plan rebuild").start(self.pool)

    def apply_settings(self, new: Settings, rebuild: bool, rescan: bool = False) -> FutureTask | Task:
        """Save ``new``, hand it to the writer and, when asked, rebuild the index for it on the
        writer's thread while the reader keeps answering from the old index."""
        self._rebuild_cancel = cancel = CancelToken()

        def reopen_reader() -> None:
            with Library.open(self.paths, new, write=False) as probe:
                meta = probe.meta()
            fresh = Library.open(self.paths, index_settings(new, meta), write=False)
            with self._read_lock:
                old, self.reader = self.reader, fresh
            if old is not None:
                old.close()

        def apply(lib: Library | None) -> IndexReport | None:
            save_settings(self.paths, new)
            self.settings = new
            report = None
            if lib is not None:
                lib.reconfigure(new)
                if rebuild and lib.plan_rebuild() is not None:
                    report = lib.rebuild(self._rebuild, cancel)
                    self._rebuild(Progress("done", message="rebuilt"))
            reopen_reader()
            return report

        def then(_: object) -> None:
            if self.watcher is not None and self.writer is not None and (rescan or rebuild):
                self.watcher.request([r.path for r in self.writer.roots()])
            self.refresh()
            self.check_ollama()

        if self.watcher is None:
            return Task(lambda: apply(None), name="settings").on_done(then).start(self.pool)
        return self._submit(apply, "settings").on_done(then)

    def exclude(self, path: str, roots: Sequence[str]) -> FutureTask | Task:
        """Add an ignore pattern for ``path`` (anchored at its library folder) and re-scan."""
        root = max((r for r in roots if path == r or path.startswith(r.rstrip(os.sep) + os.sep)), key=len,
                   default=None)
        if root is None or root == path:
            pattern = "/" + os.path.basename(path)
        else:
            pattern = "/" + os.path.relpath(path, root).replace(os.sep, "/")
        ignore = list(self.settings.index.ignore)
        if pattern not in ignore:
            ignore.append(pattern)
        return self.apply_settings(self.settings.with_values({"index.ignore": ignore}), rebuild=False, rescan=True)


# --- desktop helpers (run on a pool thread: they look at the disk) ---------------------------------

PDF_VIEWERS: tuple[tuple[str, Callable[[str, int], list[str]]], ...] = (
    ("evince", lambda p, n: ["--page-index", str(n), p]),
    ("okular", lambda p, n: ["-p", str(n), p]),
    ("zathura", lambda p, n: ["-P", str(n), p]),
    ("qpdfview", lambda p, n: [f"{p}#{n}"]),
    ("mupdf", lambda p, n: [p, str(n)]),
)


def viewer_command(path: str, page: int | None) -> list[str] | None:
    """A command that opens ``path`` at ``page`` where a known viewer can; None: open it plainly."""
    if page is None or not path.lower().endswith(".pdf") or sys.platform in ("win32", "darwin"):
        return None
    for name, args in PDF_VIEWERS:
        exe = shutil.which(name)
        if exe:
            return [exe, *args(path, page)]
    return None


def open_command(path: str, page: int | None) -> Task:
    def resolve() -> tuple[str, list[str] | None]:
        if not os.path.exists(path):
            raise UsageError(f"{path} is no longer there.", "It may have been moved or deleted; re-scan its folder.")
        return path, viewer_command(path, page)

    return Task(resolve, name="open file").start()


def reveal_command(path: str) -> Task:
    """The command that shows ``path`` selected in the file manager, or None to open its folder."""

    def resolve() -> tuple[str, list[str] | None]:
        if not os.path.exists(path):
            parent = os.path.dirname(path)
            if not os.path.isdir(parent):
                raise UsageError(f"{path} is no longer there.", "It may have been moved or deleted.")
            return parent, None
        if sys.platform == "darwin":
            return path, ["open", "-R", path]
        if sys.platform == "win32":
            return path, ["explorer", f"/select,{path}"]
        folder = path if os.path.isdir(path) else os.path.dirname(path)
        return folder, None

    return Task(resolve, name="reveal").start()


def versions(paths: Paths, log_path: str) -> Task:
    def collect() -> Versions:
        from PySide6 import __version__ as pyside
        from PySide6.QtCore import qVersion

        def dist(name: str) -> str:
            try:
                return importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                return "not installed"

        return Versions(__version__, f"{platform.python_version()} ({platform.python_implementation()})",
                        qVersion(), pyside, dist("lancedb"), dist("llama-index-core"), str(paths.data_dir),
                        log_path)

    return Task(collect, name="versions").start()


def home_folder() -> str:
    return str(Path.home())
