"""Parsing and chunking in worker processes, each file under a time and memory limit.

A poison file (a PDF that loops, a zip bomb, a parser crash) costs that one file: its
worker is killed and replaced, the file is reported with a reason, the run goes on.
Workers are started with ``spawn`` (never ``fork`` a process that already runs ONNX,
LanceDB or Qt threads) and only when there is something to parse.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from .chunking import Chunk, ChunkSpec
from .types import CancelToken

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ParseFailure:
    reason: str  # short label: "encrypted", "no text", "timed out", ...
    message: str  # one line for the user


ParseOutcome = list[Chunk] | ParseFailure


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


def _worker_main(conn: Connection, spec: ChunkSpec, memory_mb: int, parser: str) -> None:
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    _limit_memory(memory_mb)
    import importlib

    from .chunking import Chunker
    from .errors import ParseError

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
        job_id, path = msg
        try:
            chunks = chunker.chunk(parse_file(path))
            reply: tuple[Any, ...] = (job_id, "ok", [(c.chunk_no, c.text, c.page, c.heading) for c in chunks])
        except ParseError as exc:
            reply = (job_id, "error", exc.reason, exc.message)
        except MemoryError:
            reply = (job_id, "error", "too large", f"needs more than {memory_mb} MB of memory to parse")
        except RecursionError:
            reply = (job_id, "error", "damaged", "nested too deeply to parse")
        except Exception as exc:  # a parser bug must cost one file, not the run
            reply = (job_id, "error", "unreadable", f"parser failed: {type(exc).__name__}: {str(exc)[:160]}")
        try:
            conn.send(reply)
        except (OSError, ValueError):
            return


class _Worker:
    def __init__(self, ctx: Any, spec: ChunkSpec, memory_mb: int, parser: str) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, spec, memory_mb, parser), daemon=True,
                                name="quire-parser")
        self.proc.start()
        child.close()
        self.job: tuple[int, str] | None = None
        self.started = 0.0

    def submit(self, job_id: int, path: str) -> None:
        self.job = (job_id, path)
        self.started = time.monotonic()
        self.conn.send((job_id, path))

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.join(5)
        except (OSError, ValueError):
            pass
        self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.proc.join(2)
        if self.proc.is_alive():
            self.kill()
        else:
            self.conn.close()


class ParsePool:
    """``map`` yields (key, outcome) as files finish, a few in flight at a time."""

    def __init__(self, spec: ChunkSpec, workers: int, timeout_s: float, memory_mb: int,
                 parser: str = DEFAULT_PARSER) -> None:
        """``parser`` is "module:function" (path -> sections), imported in each worker."""
        self.spec = spec
        self.parser = parser
        self.n = max(1, workers)
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        if "forkserver" in mp.get_all_start_methods():
            self._ctx = mp.get_context("forkserver")
            # Workers fork from a clean server that already imported the splitter, so a worker
            # killed for a timeout is replaced in milliseconds, not the seconds an import takes.
            self._ctx.set_forkserver_preload(["app.core.chunking", "app.core.parse",
                                              "llama_index.core.node_parser"])
        else:
            self._ctx = mp.get_context("spawn")
        self._workers: list[_Worker] = []

    def _spawn(self) -> _Worker:
        return _Worker(self._ctx, self.spec, self.memory_mb, self.parser)

    def map(self, jobs: Iterable[tuple[Any, str]],
            cancel: CancelToken | None = None) -> Iterator[tuple[Any, ParseOutcome]]:
        pending = deque(jobs)
        keys: dict[int, Any] = {}
        next_id = 0
        idle: list[_Worker] = []
        busy: dict[Connection, _Worker] = {}
        while pending or busy:
            if cancel is not None and cancel.cancelled:
                for w in busy.values():
                    w.kill()
                    self._workers.remove(w)
                return
            while pending and (idle or len(self._workers) < self.n):
                w = idle.pop() if idle else None
                if w is None:
                    w = self._spawn()
                    self._workers.append(w)
                key, path = pending.popleft()
                keys[next_id] = key
                try:
                    w.submit(next_id, path)
                except (OSError, ValueError):
                    self._replace(w)
                    yield key, ParseFailure("unreadable", "parser process could not start")
                    continue
                busy[w.conn] = w
                next_id += 1
            ready = wait(list(busy), timeout=0.1)
            for conn in ready:
                w = busy.pop(conn)  # type: ignore[arg-type]
                assert w.job is not None
                job_id, path = w.job
                try:
                    msg = conn.recv()  # type: ignore[union-attr]
                except (EOFError, OSError):
                    # The worker died: a crash in native code or the memory limit.
                    code = w.proc.exitcode
                    self._replace(w)
                    yield keys.pop(job_id), ParseFailure(
                        "damaged", f"the parser crashed on this file (exit code {code})")
                    continue
                w.job = None
                idle.append(w)
                if msg[1] == "ok":
                    yield keys.pop(job_id), [Chunk(n, t, p, h) for n, t, p, h in msg[2]]
                else:
                    yield keys.pop(job_id), ParseFailure(msg[2], msg[3])
            now = time.monotonic()
            for conn, w in list(busy.items()):
                if w.job is not None and now - w.started > self.timeout_s:
                    job_id, _ = w.job
                    del busy[conn]
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
