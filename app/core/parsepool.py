"""Parsing and chunking in worker processes, each file under a time and memory limit.

A poison file (a PDF that loops, a zip bomb, a parser crash) costs that one file: its
worker is killed and replaced, the file is reported with a reason, the run goes on.
Workers are started with ``spawn`` (never ``fork`` a process that already runs ONNX,
LanceDB or Qt threads) and only when there is something to parse.
"""

from __future__ import annotations

import errno
import logging
import multiprocessing as mp
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from .chunking import Chunk, ChunkSpec
from .hashing import sha256_file
from .priority import lower_process_priority
from .types import CancelToken

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ParseFailure:
    reason: str  # short label: "encrypted", "no text", "timed out", ...
    message: str  # one line for the user


@dataclass(frozen=True, slots=True)
class Parsed:
    chunks: list[Chunk]
    sha256: str  # of the bytes the worker read, when the job asked for it; else ""
    kind: str = ""  # what an unknown extension turned out to be ("text", "pdf"); "" if the name told


ParseOutcome = Parsed | ParseFailure
GONE = "gone"  # ParseFailure.reason of a file that vanished before it could be read
CANNOT_READ = "cannot read"  # ParseFailure.reason: the file could not be opened or read; retried
_ACCESS_ERRNOS = frozenset(getattr(errno, n) for n in ("EACCES", "EPERM", "EIO", "ENXIO", "ETIMEDOUT", "ESTALE",
                                                       "ENOTCONN", "EHOSTDOWN", "EBUSY") if hasattr(errno, n))


def _limit_memory(mb: int) -> None:
    try:
        import resource
    except ImportError:  # Windows: the timeout still bounds a runaway parser
        return
    limit = mb * 1024 * 1024
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):
        pass


DEFAULT_PARSER = "app.core.parse:parse_file"


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ctrl-C ignored for the block, where signals can be set (the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


SCRATCH_PREFIX = "quire-parse-"


def scratch_dir(pid: int) -> str:
    """A worker's folder for temporary files (a decompressed document, a mail attachment): the
    pool removes it when it kills the worker, so a parser stopped mid-file leaves nothing."""
    return os.path.join(tempfile.gettempdir(), f"{SCRATCH_PREFIX}{pid}")


def remove_orphan_scratch() -> None:
    """Scratch folders of workers that are gone without their pool (the whole process killed):
    they may hold a decompressed copy of a user's document."""
    root = tempfile.gettempdir()
    try:
        names = [n for n in os.listdir(root) if n.startswith(SCRATCH_PREFIX)]
    except OSError:
        return
    for n in names:
        pid = n[len(SCRATCH_PREFIX):]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(os.path.join(root, n), ignore_errors=True)


def _alive(pid: int) -> bool:
    if sys.platform == "win32":
        return True  # os.kill there terminates the process: no safe way to ask
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process, or a platform that cannot tell: leave it alone
        return True
    return True


def _worker_main(conn: Connection, spec: ChunkSpec, memory_mb: int, parser: str, background: bool) -> None:
    # Ctrl-C in a terminal reaches every process of the group: the writer stops the run and the
    # workers it still needs; a worker that died of it was recorded as a crash on a good file.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    scratch = scratch_dir(os.getpid())
    try:
        os.makedirs(scratch, exist_ok=True)
        tempfile.tempdir = scratch  # every tempfile call in this process goes there
    except OSError:
        pass  # the system's temporary folder will do
    try:
        _serve(conn, spec, memory_mb, parser, background)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _serve(conn: Connection, spec: ChunkSpec, memory_mb: int, parser: str, background: bool) -> None:
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    _limit_memory(memory_mb)
    if background:
        lower_process_priority()
    import importlib

    from .chunking import Chunker

    module, _, name = parser.partition(":")
    parse_file = getattr(importlib.import_module(module), name)
    chunker = Chunker(spec)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return  # the parent went away
        if msg is None:
            return
        job_id, path, want_hash = msg
        try:
            # Hashed here, not by the writer, when nothing needs the hash before parsing (a new
            # file that cannot be a moved one): the writer's thread stays free, and it is in parallel.
            sha = sha256_file(path) if want_hash else ""
        except FileNotFoundError:
            reply: tuple[Any, ...] = (job_id, "error", GONE, "the file was deleted before it could be read")
        except OSError as exc:
            reply = (job_id, "error", CANNOT_READ, os_reason(exc))
        else:
            reply = _parse(job_id, path, sha, parse_file, chunker, memory_mb)
        try:
            conn.send(reply)
        except (OSError, ValueError):
            return


def _parse(job_id: int, path: str, sha: str, parse_file: Any, chunker: Any, memory_mb: int) -> tuple[Any, ...]:
    from .errors import ParseError
    from .parse import SNIFF, kind_of, sniffed_kind

    try:
        chunks = chunker.chunk(parse_file(path))
        kind = sniffed_kind(path) if kind_of(path) == SNIFF else ""
        reply: tuple[Any, ...] = (job_id, "ok", [(c.chunk_no, c.text, c.page, c.heading) for c in chunks], sha,
                                  kind)
    except ParseError as exc:
        reply = (job_id, "error", exc.reason, exc.message)
    except MemoryError:
        reply = (job_id, "error", "too large", f"needs more than {memory_mb} MB of memory to parse")
    except RecursionError:
        reply = (job_id, "error", "damaged", "nested too deeply to parse")
    except FileNotFoundError:
        reply = (job_id, "error", GONE, "the file was deleted before it could be read")
    except OSError as exc:
        # The file could not be read (permission, a disk or network error), not its content:
        # tried again by the next run. Other OS errors (a bad gzip stream) are the file's own.
        reason = CANNOT_READ if isinstance(exc, PermissionError) or exc.errno in _ACCESS_ERRNOS else "unreadable"
        reply = (job_id, "error", reason, os_reason(exc))
    except Exception as exc:  # a parser bug must cost one file, not the run
        reply = (job_id, "error", "unreadable", f"parser failed: {type(exc).__name__}: {str(exc)[:160]}")
    return reply


def os_reason(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a folder"
    return f"cannot read: {exc.strerror or exc}"


class _Worker:
    def __init__(self, ctx: Any, spec: ChunkSpec, memory_mb: int, parser: str, background: bool) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, spec, memory_mb, parser, background), daemon=True,
                                name="quire-parser")
        self.proc.start()
        child.close()
        # Jobs sent and not yet answered, oldest first; the worker is busy with the first one
        # since ``started``. A second job waits in the pipe so the worker never idles while
        # the writer stores the previous result.
        self.jobs: deque[tuple[int, str, bool]] = deque()
        self.started = 0.0

    def submit(self, job_id: int, path: str, want_hash: bool) -> None:
        if not self.jobs:
            self.started = time.monotonic()
        self.jobs.append((job_id, path, want_hash))
        self.conn.send((job_id, path, want_hash))

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.join(5)
        except (OSError, ValueError):
            pass
        self.conn.close()
        if self.proc.pid is not None:
            shutil.rmtree(scratch_dir(self.proc.pid), ignore_errors=True)

    def stop(self) -> None:
        """Let an idle worker go: it reads the stop (or the pipe's end) and exits. Not joined,
        so a run does not wait ~10 ms per worker for that; multiprocessing reaps it later."""
        if self.jobs:  # busy (a map was abandoned): its parser may never return
            self.kill()
            return
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.conn.close()


class ParsePool:
    """``map`` yields (key, outcome) as files finish, a few in flight at a time."""

    def __init__(self, spec: ChunkSpec, workers: int, timeout_s: float, memory_mb: int,
                 parser: str = DEFAULT_PARSER, background: bool = False) -> None:
        """``parser`` is "module:function" (path -> sections), imported in each worker.
        ``background``: workers run below normal priority (the watcher's work)."""
        self.spec = spec
        self.background = background
        self.parser = parser
        self.n = max(1, workers)  # the indexer may raise it mid-run (a model that keeps up)
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        if "forkserver" in mp.get_all_start_methods():
            self._ctx = mp.get_context("forkserver")
            # Workers fork from a clean server that already imported the splitter, so a worker
            # killed for a timeout is replaced in milliseconds, not the seconds an import takes.
            self._ctx.set_forkserver_preload(["app.core.chunking", "app.core.parse", "app.core.hashing",
                                              "tokenizers"])
            with _sigint_ignored():
                # Started ignoring Ctrl-C (kept across its exec): its own guard comes only after
                # the second or so of imports, and a Ctrl-C then killed it, ending the run with
                # "unexpected EOFError". Workers forked from it ignore Ctrl-C from the start.
                from multiprocessing import forkserver

                forkserver.ensure_running()
        else:
            self._ctx = mp.get_context("spawn")
        self._workers: list[_Worker] = []
        remove_orphan_scratch()

    def _spawn(self) -> _Worker:
        w = _Worker(self._ctx, self.spec, self.memory_mb, self.parser, self.background)
        self._workers.append(w)  # kept for the next map, stopped by close()
        return w

    def map(self, jobs: Iterable[tuple[Any, str] | tuple[Any, str, bool]],
            cancel: CancelToken | None = None) -> Iterator[tuple[Any, ParseOutcome]]:
        """Jobs are (key, path) or (key, path, hash it too)."""
        pending: deque[tuple[Any, str, bool]] = deque((j[0], j[1], len(j) > 2 and bool(j[2])) for j in jobs)
        keys: dict[int, Any] = {}
        next_id = 0
        live: dict[Connection, _Worker] = {}  # workers of this map, by connection
        failed_starts = 0  # workers in a row that could not take a first job
        for w in [w for w in self._workers if w.jobs or not w.proc.is_alive()]:
            self._replace(w)  # busy for a map its caller abandoned (its replies are not ours), or gone

        def requeue(w: _Worker) -> None:
            # Jobs queued behind the one that failed were never started: parse them elsewhere.
            for job_id, path, want_hash in reversed(list(w.jobs)[1:]):
                pending.appendleft((keys.pop(job_id), path, want_hash))

        while pending or any(w.jobs for w in live.values()):
            if cancel is not None and cancel.cancelled:
                for w in live.values():
                    if w.jobs:
                        self._replace(w)
                return
            for depth in (1, 2):  # first give every worker a job, then a second one in its pipe
                while pending and len(live) < self.n:
                    w = next((x for x in self._workers if x.conn not in live), None) or self._spawn()
                    live[w.conn] = w
                for w in list(live.values()):
                    if not pending:
                        break
                    if len(w.jobs) >= depth:
                        continue
                    key, path, want_hash = pending.popleft()
                    keys[next_id] = key
                    try:
                        w.submit(next_id, path, want_hash)
                    except (OSError, ValueError):
                        # The worker is gone and this job never reached it.
                        w.jobs.pop()
                        keys.pop(next_id)
                        if w.jobs:
                            # It died on the job it had (a parser crash): the wait below reads
                            # its end and reports that file; this one goes to another worker.
                            pending.appendleft((key, path, want_hash))
                            continue
                        del live[w.conn]
                        self._replace(w)
                        failed_starts += 1
                        if failed_starts < 3:  # an idle worker that died: a fresh one takes it
                            pending.appendleft((key, path, want_hash))
                        else:
                            yield key, ParseFailure("unreadable", "parser process could not start")
                        continue
                    next_id += 1
            busy = [c for c, w in live.items() if w.jobs]
            ready = wait(busy, timeout=0.1) if busy else []
            for conn in ready:
                w = live[conn]  # type: ignore[index]
                job_id = w.jobs[0][0]
                try:
                    msg = conn.recv()  # type: ignore[union-attr]
                except (EOFError, OSError):
                    # The worker died: a crash in native code or the memory limit.
                    code = w.proc.exitcode
                    requeue(w)
                    del live[conn]  # type: ignore[arg-type]
                    self._replace(w)
                    if cancel is not None and cancel.cancelled:
                        return  # stopped with the run, not by the file
                    yield keys.pop(job_id), ParseFailure(
                        "damaged", f"the parser crashed on this file (exit code {code})")
                    continue
                w.jobs.popleft()
                w.started = time.monotonic()
                failed_starts = 0
                if msg[1] == "ok":
                    yield keys.pop(job_id), Parsed([Chunk(n, t, p, h) for n, t, p, h in msg[2]], msg[3], msg[4])
                else:
                    yield keys.pop(job_id), ParseFailure(msg[2], msg[3])
            now = time.monotonic()
            for conn, w in list(live.items()):
                if w.jobs and now - w.started > self.timeout_s:
                    job_id = w.jobs[0][0]
                    requeue(w)
                    del live[conn]
                    self._replace(w)
                    yield keys.pop(job_id), ParseFailure(
                        "timed out", f"parsing took longer than {self.timeout_s:g} s and was stopped")

    def _replace(self, w: _Worker) -> None:
        w.kill()
        if w in self._workers:
            self._workers.remove(w)

    def close(self) -> None:
        for w in self._workers:
            w.stop()
        self._workers.clear()

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
