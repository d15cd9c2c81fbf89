"""The single writer: reconcile the library with the disk and bring the index up to date.

A run: scan (stat only) -> compare with the manifest by (size, mtime_ns) -> hash only what
differs -> touch / move / delete / parse. Parsed files are written in large batches
(chunk rows first, then their manifest rows), so they are keyword-searchable at once; an
embedder thread follows behind and adds vectors for chunk texts that have none. A crash
anywhere leaves the manifest claiming no more than the store holds, and the next run
repairs the rest.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from .chunking import Chunk, ChunkSpec, text_hash
from .config import Settings
from .embed import Embedder
from .hashing import sha256_file
from .manifest import EMPTY, FAILED, INDEXED, PENDING, SKIPPED, FileRecord, FileRow, FileStat, Manifest, Root
from .parse import (
    READERS_VERSION,
    is_utf8_file,
    kind_of,
    read_differently,
    read_differently_unless_utf8,
    reread_since,
    skip_reason,
)
from .parse._common import describe
from .parsepool import CANNOT_READ, GONE, ParseFailure, ParsePool, os_reason
from .paths import display
from .scan import ScanEntry, Scanner, ScanProblem
from .scripts import spaceless
from .store import CHUNK_SCHEMA, FINAL_FOLD_ROWS, FTS_FOLD_ROWS, SCHEMA_VERSION, Store, preload_lancedb, scan
from .types import CancelToken, IndexReport, Progress

log = logging.getLogger(__name__)

ProgressFn = Callable[[Progress], None]

FLUSH_ROWS = 2048  # chunk rows per LanceDB commit: few, large writes keep fragments few
FLUSH_SECONDS = 2.0  # ...but never hold parsed files back longer than this
EMBED_QUEUE = 4096  # chunk texts buffered for the embedder; past this it re-reads the store
TAKE = 1024  # chunk texts the embedder takes at once (one look-up of which have vectors)
VECTOR_FLUSH = 2048  # vectors per commit to the vectors table
COMPACT_AFTER_REMOVING = 500  # files removed in one run: reclaim their rows' space at once
UPKEEP_DUE = "upkeep_due"  # manifest meta: a watcher's run wrote and left the full upkeep for later
STORE_SCHEMA = "store_schema"  # manifest meta: the store's layout version, once a full upkeep has upgraded it
READERS = "readers"  # manifest meta: parse.READERS_VERSION of the last full run (re-reads, see READER_CHANGES)
SIZE_CAP = "max_file_bytes"  # manifest meta: [index] max_file_mb as bytes, as of the last full run
UNREAD = -2  # the size recorded for a file that could not be read: never "unchanged", so retried
ROOT_DEVICES = "root_devices"  # manifest meta: {root id: st_dev of the library folder when it had files}
_WAKE = ("", "")  # put in the embed queue to wake its thread; never embedded
# Rows not yet in the keyword index cost every keyword search a flat scan (~30 µs a row): a run
# this long folds them in as it goes, each time they are as many as the rows already in it (so
# the folds, each of which rewrites the whole index, cost at most one more build in all).
FOLD_DURING_RUN_AFTER_S = 30.0


@dataclass
class _Counts:
    seen: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    moved: int = 0
    unchanged: int = 0
    failed: int = 0
    skipped: int = 0
    chunks_written: int = 0
    chunks_parsed: int = 0


@dataclass
class _Job:
    entry: ScanEntry
    root_id: int
    file_id: int
    sha256: str
    is_new: bool
    fresh: bool  # its id was reserved by this run, so no rows can exist under it yet


@dataclass
class _Batch:
    ids: list[int] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)  # ids that may have rows to replace
    gone: list[int] = field(default_factory=list)  # files deleted since the scan
    rows: list[dict[str, object]] = field(default_factory=list)
    records: list[FileRecord] = field(default_factory=list)
    record_ids: list[int] = field(default_factory=list)  # the file id of each record
    texts: list[tuple[str, str]] = field(default_factory=list)
    since: float = field(default_factory=time.monotonic)


class EmbedWorker:
    """Adds vectors for chunk texts that have none, behind the writer, on its own thread."""

    def __init__(self, store: Store, embedder: Embedder, cancel: CancelToken,
                 on_progress: Callable[[int, int], None]) -> None:
        self.store = store
        self.embedder = embedder
        self.cancel = cancel
        self.on_progress = on_progress
        self.q: queue.Queue[tuple[str, str]] = queue.Queue(EMBED_QUEUE)
        self.overflow = threading.Event()  # items were dropped: re-read the store for them
        self.writer_done = threading.Event()
        self.embedded = 0
        self.queued = 0
        self.busy = False
        self.error: BaseException | None = None
        self._buf_hashes: list[str] = []
        self._buf_vecs: list[np.ndarray] = []
        self._buffered: set[str] = set()
        self._buf_since = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="quire-embed", daemon=True)

    @property
    def idle(self) -> bool:
        """Nothing queued, nothing being embedded, nothing left behind in the store."""
        return not self.busy and self.q.empty() and not self.overflow.is_set() and not self._buf_hashes

    @property
    def waiting(self) -> bool:
        """The model has nothing to embed: it keeps up with the writer."""
        return not self.busy and self.q.empty()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def pending(self) -> int:
        """Chunk texts known to be waiting (a lower bound while the store is being re-read)."""
        return self.q.qsize() + (1 if self.busy else 0)

    def start(self, backlog: bool) -> None:
        if backlog:
            self.overflow.set()
        self._thread.start()

    def offer(self, items: Sequence[tuple[str, str]]) -> None:
        for it in items:
            try:
                self.q.put_nowait(it)
                self.queued += 1
            except queue.Full:
                self.overflow.set()
                return

    def finish(self) -> None:
        self.writer_done.set()
        try:
            self.q.put_nowait(_WAKE)  # the thread may be waiting on an empty queue: end that now
        except queue.Full:
            pass  # then it is not waiting
        while self._thread.is_alive():
            self._thread.join(0.2)
            if self.cancel.cancelled:
                self._thread.join(10)
                break

    def _take(self, n: int, wait: float) -> list[tuple[str, str]]:
        items: list[tuple[str, str]] = []
        try:
            items.append(self.q.get(timeout=wait))
            while len(items) < n:
                items.append(self.q.get_nowait())
        except queue.Empty:
            pass
        return [it for it in items if it is not _WAKE]

    def _run(self) -> None:
        try:
            while not self.cancel.cancelled:
                # Once the writer is done nothing more will come: do not wait for it.
                items = self._take(TAKE, 0.0 if self.writer_done.is_set() else 0.2)
                if items:
                    self.busy = True
                    self._embed(items)
                    self.busy = False
                    continue
                self._flush()  # the queue is quiet: what was embedded becomes searchable now
                if self.overflow.is_set():
                    self.busy = True
                    self.overflow.clear()
                    self._drain_store()
                    self.busy = False
                    continue
                if self.writer_done.is_set() and self.q.empty() and not self.overflow.is_set():
                    return
        except BaseException as exc:  # reported by the indexer; the run's chunks stay searchable
            log.exception("embedding failed")
            self.error = exc
        finally:
            try:
                self._flush()  # vectors already computed are kept, even when cancelled
            except Exception:
                log.exception("could not write the last vectors")

    def _drain_store(self) -> None:
        pending: list[tuple[str, str]] = []
        for item in self.store.iter_pending_embeddings():
            if self.cancel.cancelled:
                return
            pending.append(item)
            if len(pending) >= TAKE:
                self._embed(pending)
                pending = []
        if pending:
            self._embed(pending)

    def _embed(self, items: list[tuple[str, str]]) -> None:
        texts = dict(items)
        # One look-up for the whole batch; hashes embedded but not yet written are skipped too.
        missing = self.store.missing_vectors([h for h in texts if h not in self._buffered])
        # One model batch per call: a cancel waits for one batch (~1-2 s with MiniLM on two
        # cores), not several; throughput is the same either way.
        call = max(1, getattr(self.embedder, "batch_size", 32))
        for i in range(0, len(missing), call):
            part = missing[i:i + call]
            vecs = self.embedder.embed([texts[h] for h in part])
            self._buf_hashes.extend(part)
            self._buf_vecs.append(vecs)
            self._buffered.update(part)
            self.embedded += len(part)
            if self.cancel.cancelled:
                return  # what is computed is kept: _run's last flush writes it
            if len(self._buf_hashes) >= VECTOR_FLUSH or time.monotonic() - self._buf_since > FLUSH_SECONDS:
                self._flush()
            self.on_progress(self.embedded, self.q.qsize())

    def _flush(self) -> None:
        """Write buffered vectors in one commit: few, large writes keep the table's fragments few."""
        if self._buf_hashes:
            self.store.add_vectors(self._buf_hashes, np.vstack(self._buf_vecs))
            self._buf_hashes, self._buf_vecs = [], []
            self._buffered.clear()
        self._buf_since = time.monotonic()


class Indexer:
    """Owns every write to the store and the manifest. One per home, guarded by the writer lock."""

    def __init__(self, settings: Settings, manifest: Manifest, store: Store,
                 prepare: Callable[[], tuple[Embedder | None, ChunkSpec]],
                 own_dirs: Sequence[str | os.PathLike[str]] = ()) -> None:
        """``prepare`` loads the embedder and says how to chunk; it is called only when a run
        has something to parse or embed, so a run that finds nothing changed loads no model.
        ``own_dirs``: Quire's data and settings folders, never indexed."""
        self.settings = settings
        self.manifest = manifest
        self.store = store
        self._prepare_fn = prepare
        self._prepared: tuple[Embedder | None, ChunkSpec] | None = None
        self.scanner = Scanner(settings.index, exclude=own_dirs)
        self._embed_worker: EmbedWorker | None = None
        self._background: EmbedWorker | None = None  # outlives runs in watch mode
        self._low_priority = False  # watch mode: parse workers below normal priority
        self._bg_cancel = CancelToken()
        self.on_embed_progress: Callable[[int, int], None] = lambda done, left: None
        self._pool: ParsePool | None = None  # watch mode: parse workers kept between runs
        self._pool_used = 0.0
        self._unstorable: dict[int, str] = {}  # this run's files whose rows cannot be stored: why
        self._run_t0 = 0.0
        self._fold_checked_at = 0  # chunks_written when the keyword backlog was last looked at

    def _prepare(self) -> tuple[Embedder | None, ChunkSpec]:
        if self._prepared is None:
            self._prepared = self._prepare_fn()
        return self._prepared

    def background_embedder(self) -> EmbedWorker | None:
        """The long-lived embedder of watch mode: runs return once their chunks are written
        (searchable by keyword) and vectors follow here. Started on first use."""
        if self._background is None or not self._background.alive:
            embedder, _ = self._prepare()
            if embedder is None:
                return None
            self._bg_cancel = CancelToken()
            self._background = EmbedWorker(self.store, embedder, self._bg_cancel,
                                           lambda done, left: self.on_embed_progress(done, left))
            self._background.start(backlog=not self.manifest.get_meta("vectors_complete"))
        return self._background

    def stop_background(self, timeout: float = 10.0, drain_s: float = 3.0) -> None:
        """Stop the watch-mode embedder: it gets ``drain_s`` to finish what is queued, then is
        cancelled; what it had not embedded is found again by the next run."""
        bg = self._background
        if bg is None:
            return
        bg.writer_done.set()
        bg._thread.join(min(drain_s, timeout))
        finished = not bg._thread.is_alive()
        self._bg_cancel.cancel()
        bg._thread.join(timeout)
        self._background = None
        if finished and bg.error is None:
            self.manifest.set_meta("vectors_complete", True)

    def _start_embedding(self, cancel: CancelToken, emit: ProgressFn, backlog: bool) -> EmbedWorker | None:
        """The run's embedder thread, started the first time there is anything to embed."""
        if self._background is not None:
            return self._background
        if self._embed_worker is None:
            embedder, _ = self._prepare()
            if embedder is None:
                return None
            self._embed_worker = EmbedWorker(
                self.store, embedder, cancel,
                lambda done, left: emit(Progress("embed", chunks_embedded=done, chunks_to_embed=left)))
            self._embed_worker.start(backlog=backlog)
        return self._embed_worker

    # --- the public operation ------------------------------------------------------------

    def run(self, roots: Sequence[Root] | None = None, progress: ProgressFn | None = None,
            cancel: CancelToken | None = None, paths: Iterable[str] | None = None,
            wait_for_vectors: bool = True) -> IndexReport:
        """Bring ``roots`` (default: every active library root) up to date.

        ``paths``, when given, limits the run to those files (and folders) inside the roots:
        the watcher passes what changed instead of rescanning everything. With
        ``wait_for_vectors=False`` the run returns once chunks are written and the background
        embedder (see ``background_embedder``) adds their vectors afterwards.
        """
        t0 = self._run_t0 = time.monotonic()
        self._fold_checked_at = 0
        cancel = cancel or CancelToken()
        emit = progress or (lambda p: None)
        run_id, interrupted = self.manifest.start_run()
        if interrupted:
            self._recover()
        all_roots = roots is None
        roots = [r for r in (roots if roots is not None else self.manifest.roots()) if not r.paused]
        c = _Counts()
        self._embed_worker = None
        outcome = "ok"
        note = ""
        vectors_wanted = self.settings.embedding.backend != "none"
        self._low_priority = not wait_for_vectors
        if not wait_for_vectors and vectors_wanted:
            self.background_embedder()
        try:
            if vectors_wanted and (interrupted or not self.manifest.get_meta("vectors_complete")):
                self._start_embedding(cancel, emit, backlog=True)
            # Files a newer Quire reads differently are read again by a full run, once.
            reread = self._reread() if paths is None else frozenset()
            note = self._reconcile(roots, c, emit, cancel, paths, reread)
            embedder_worker = self._embed_worker if self._background is None else None
            if embedder_worker is not None:
                # The model may need hours more: make what was written fast to find by keyword
                # now, not after the vectors (the end of the run would do it only then).
                if (not cancel.cancelled and (embedder_worker.pending() or embedder_worker.overflow.is_set())
                        and self.store.keyword_backlog()[1] >= FINAL_FOLD_ROWS):
                    emit(Progress("compact", message="updating search indexes"))
                    self.store.fold_keywords()
                emit(Progress("embed", chunks_written=c.chunks_written, chunks_embedded=embedder_worker.embedded,
                              message="adding vectors"))
                embedder_worker.finish()
                if embedder_worker.error is not None:
                    note = _join(note, f"embedding stopped: {embedder_worker.error}")
            if cancel.cancelled:
                outcome = "cancelled"
            else:
                full = paths is None  # the watcher's small runs leave the heavier upkeep to full runs
                every_root = full and all_roots
                wrote = bool(c.chunks_written or c.removed or c.moved or c.changed or c.added or c.failed or interrupted
                             or (embedder_worker is not None and embedder_worker.embedded))
                # A run that changed nothing leaves the store alone (it need not even be opened),
                # unless an earlier run left the full upkeep for later.
                upkeep_due = full and bool(self.manifest.get_meta(UPKEEP_DUE))
                # An index made by an older Quire is upgraded by the same upkeep, once.
                upgrade = full and self.manifest.get_meta(STORE_SCHEMA) != SCHEMA_VERSION
                if wrote or upkeep_due or upgrade:
                    emit(Progress("compact", message="updating search indexes"))
                    # Vectors whose chunks were replaced or deleted in this run, looked up by hash;
                    # every vector after a crash (or the window's first full run after watcher
                    # runs: a vector the background embedder wrote for a chunk replaced meanwhile).
                    self.store.orphan_vectors(everything=interrupted or upkeep_due)
                    self.store.maintain(final=full, compact=c.removed >= COMPACT_AFTER_REMOVING)
                    self.manifest.set_meta(UPKEEP_DUE, not full)
                    if full:
                        self.manifest.set_meta(STORE_SCHEMA, SCHEMA_VERSION)
                if reread and every_root:
                    self.manifest.set_meta(READERS, READERS_VERSION)
                if every_root and self.manifest.get_meta(SIZE_CAP) != self.settings.index.max_file_bytes:
                    self.manifest.set_meta(SIZE_CAP, self.settings.index.max_file_bytes)
        finally:
            embedder_worker = self._embed_worker
            if self._background is not None:
                complete = False  # the background embedder records completion when it is idle
            elif embedder_worker is not None:
                complete = embedder_worker.error is None and not cancel.cancelled
            else:  # nothing was embedded this run: still complete if it was before and nothing was added
                complete = bool(self.manifest.get_meta("vectors_complete")) and c.chunks_written == 0
                if (not complete and vectors_wanted and c.chunks_written == 0 and self.store.chunks is not None
                        and self.store.count_chunks() == 0):
                    complete = True
            self.manifest.set_meta("vectors_complete", complete and vectors_wanted)
            if self._background is not None:
                pending = self._background.pending()
            else:
                pending = 0 if complete or not vectors_wanted else self.store.count_pending_embeddings()
            report = IndexReport(
                files_seen=c.seen, files_added=c.added, files_changed=c.changed, files_removed=c.removed,
                files_moved=c.moved, files_unchanged=c.unchanged, files_failed=c.failed,
                files_skipped=c.skipped, chunks_written=c.chunks_written,
                chunks_embedded=embedder_worker.embedded if embedder_worker and not self._background else 0,
                seconds=time.monotonic() - t0, embed_pending=pending, note=note,
                cancelled=cancel.cancelled)
            self.manifest.finish_run(run_id, outcome if not cancel.cancelled else "cancelled", report.as_json())
        emit(Progress("done", files_done=c.seen, files_total=c.seen, chunks_written=c.chunks_written,
                      chunks_embedded=report.chunks_embedded))
        return report

    # --- reconcile -----------------------------------------------------------------------

    def _reread(self) -> frozenset[str]:
        """Extensions whose files this version reads differently from the one that indexed them."""
        done = self.manifest.get_meta(READERS)
        if done is None:  # a new index, or one from before the mark existed
            if not self.manifest.has_files():
                self.manifest.set_meta(READERS, READERS_VERSION)
                return frozenset()
            done = 1
        return reread_since(done)

    def _reconcile(self, roots: Sequence[Root], c: _Counts, emit: ProgressFn, cancel: CancelToken,
                   only: Iterable[str] | None, reread: frozenset[str] = frozenset()) -> str:
        notes: list[str] = []
        disk: dict[str, tuple[ScanEntry, int]] = {}
        problems: list[tuple[ScanProblem, int]] = []
        known: dict[str, FileStat] = {}
        only = [os.path.abspath(p) for p in only] if only is not None else None
        limit = _collapse(only) if only is not None else None
        # A file the watcher was told changed is hashed even when its size and mtime are the
        # same: a same-size edit whose mtime was set back (cp -p, rsync -t, touch -r) was missed.
        named = frozenset(only or ())
        # No garbage collection while every file is looked at: this part makes a few objects per
        # file and no cycles, and a full collection in a process that holds LanceDB took ~5-60 ms
        # of a 50 ms run that finds nothing changed.
        with _gc_paused():
            for root in roots:
                starts = [root.path] if limit is None else [p for p in limit if _under(p, root.path)]
                if limit is not None and any(_under(root.path, p) for p in limit):
                    starts = [root.path]  # a change above the root: look at all of it
                if not starts:
                    continue
                whole = starts == [root.path]
                known.update(self.manifest.stats_of_root(root.id) if whole
                             else self.manifest.stats_under(root.id, starts))
                found = 0
                for item in self._scan(root, starts):
                    if cancel.cancelled:
                        return "cancelled"
                    found += 1
                    if isinstance(item, ScanProblem):
                        if item.path == root.path:
                            # An unplugged drive must not wipe its index: keep every row of this root.
                            notes.append(f"{root.display}: {item.reason}")
                            known = {p: r for p, r in known.items() if r.root_id != root.id}
                            break
                        problems.append((item, root.id))
                    else:
                        disk.setdefault(item.path, (item, root.id))
                        if len(disk) % 2000 == 0:
                            emit(Progress("scan", files_total=len(disk), message="looking for changes"))
                if whole and found == 0 and not root.is_file and any(r.root_id == root.id for r in known.values()) \
                        and _holds_nothing(root.path) and not self._same_device(root):
                    # An empty folder where files were is what an unmounted drive leaves behind
                    # (its mount point, now on the disk below): keep the rows until the user removes
                    # the folder. Not a folder emptied on the disk it was on, nor one whose files
                    # the ignore rules now skip: those rows go.
                    notes.append(f"{root.display}: the folder is empty now (drive unmounted?); its index is kept "
                                 "until you remove it from the library")
                    known = {p: r for p, r in known.items() if r.root_id != root.id}
                elif whole and found and not root.is_file:
                    self._remember_device(root)
            c.seen = len(disk)

            # What differs from the manifest, by size and mtime alone: no file is read here.
            changed: list[tuple[ScanEntry, int, FileStat | None]] = []
            again: set[str] = set()  # unchanged files to read again (see _reread)
            unless_utf8: list[tuple[ScanEntry, int, FileStat]] = []  # ...if their bytes are not UTF-8
            cap = self.settings.index.max_file_bytes
            # Since [index] max_file_mb changed, an unchanged file may be over it, or no longer.
            recheck_size = only is None and self.manifest.get_meta(SIZE_CAP) != cap
            for path, (e, root_id) in disk.items():
                st = known.pop(path, None)
                if st is not None and st.status != PENDING and st.size == e.size and st.mtime_ns == e.mtime_ns \
                        and not (recheck_size and _size_decision_changed(st, e, cap)) and path not in named:
                    if reread and read_differently(os.path.basename(path), reread):
                        again.add(path)
                    elif reread and read_differently_unless_utf8(os.path.basename(path), reread):
                        unless_utf8.append((e, root_id, st))
                        continue
                    else:
                        c.unchanged += 1
                        continue
                changed.append((e, root_id, st))
        if unless_utf8:
            emit(Progress("scan", files_total=len(unless_utf8), message="checking text files' encodings"))
        for e, root_id, st in unless_utf8:  # read once, on the first run after an upgrade
            if cancel.cancelled:
                return "cancelled"
            if st.status in (INDEXED, EMPTY) and not is_utf8_file(e.path):
                again.add(e.path)
                changed.append((e, root_id, st))
            else:
                c.unchanged += 1
        if again:
            n = len(again)
            notes.append(f"{n} file{'s' if n != 1 else ''} read again: this version of Quire reads "
                         f"{'their format' if n != 1 else 'its format'} better")
        problem_rows = [(p, root_id, known.pop(p.path, None)) for p, root_id in problems]
        # Whole manifest rows only for what differs (and what is gone).
        rows = self.manifest.files_by_id([st.id for _, _, st in changed if st is not None]
                                         + [st.id for _, _, st in problem_rows if st is not None]
                                         + [st.id for st in known.values()])
        candidates: list[tuple[ScanEntry, int, FileRow | None]] = []
        records: list[FileRecord] = []
        unindexed: list[int] = []  # files that had rows and are now skipped or failed unread
        for e, root_id, st in changed:
            reason = self._skip_reason(e)
            if reason is not None:
                records.append(FileRecord(e.path, root_id, e.size, e.mtime_ns, None, e.kind, SKIPPED, reason))
                c.skipped += 1
                if st is not None:
                    unindexed.append(st.id)
                continue
            candidates.append((e, root_id, rows.get(st.id) if st is not None else None))
        for p, root_id, st in problem_rows:
            row = rows.get(st.id) if st is not None else None
            if row is None or row.status != FAILED or row.reason != p.reason:
                records.append(FileRecord(p.path, root_id, UNREAD, 0, None, None, FAILED, p.reason))
                c.failed += 1
                if row is not None:
                    unindexed.append(row.id)
        missing = [rows[st.id] for st in known.values() if st.id in rows]  # in the manifest, gone from disk
        # Their old rows leave first, then the manifest says why they are not indexed: the rows of
        # a file grown past max_file_mb, or turned into a dangling link, stayed searchable.
        self.store.delete_files(unindexed)
        self._commit_records(records)

        # Hash what changed (threads: hashlib releases the GIL), to tell edits from touches and
        # moves. A new file can be a moved one only if a missing file had its size; any other
        # new file is hashed by the parse worker that reads it anyway.
        move_sizes = {r.size for r in missing if r.sha256 and r.status in (INDEXED, EMPTY)}
        to_hash: list[tuple[ScanEntry, int, FileRow | None]] = []
        hash_later: list[tuple[ScanEntry, int, FileRow | None, str]] = []
        for e, root_id, row in candidates:
            if row is not None or e.size in move_sizes:
                to_hash.append((e, root_id, row))
            else:
                hash_later.append((e, root_id, row, ""))
        hashed: list[tuple[ScanEntry, int, FileRow | None, str]] = []
        fail_records: list[FileRecord] = []
        unreadable: list[int] = []
        if to_hash:
            emit(Progress("scan", files_total=len(to_hash), message="checking changed files"))
            with ThreadPoolExecutor(2) as pool:
                for (e, root_id, row), res in zip(to_hash, _hash_all(to_hash, pool, cancel), strict=True):
                    if cancel.cancelled:
                        return "cancelled"
                    if isinstance(res, FileNotFoundError):
                        if row is not None:
                            missing.append(row)
                        continue
                    if isinstance(res, OSError):
                        # Not its size and mtime: unchanged, it was never tried again once readable.
                        fail_records.append(FileRecord(e.path, root_id, UNREAD, 0, None, e.kind, FAILED,
                                                       os_reason(res)))
                        c.failed += 1
                        if row is not None:
                            unreadable.append(row.id)
                        continue
                    hashed.append((e, root_id, row, res))
        self.store.delete_files(unreadable)
        self._commit_records(fail_records)

        # Touches: same content under the same path. Moves: a missing file's content at a new path.
        by_sha: dict[str, list[FileRow]] = {}
        for row in missing:
            if row.sha256 and row.status in (INDEXED, EMPTY):
                by_sha.setdefault(row.sha256, []).append(row)
        touches: list[tuple[int, int, int]] = []
        moves: list[tuple[FileRow, ScanEntry, int]] = []
        jobs: list[tuple[ScanEntry, int, FileRow | None, str]] = hash_later  # the parse workers hash these
        for e, root_id, row, sha in hashed:
            if row is not None and row.sha256 == sha and row.status in (INDEXED, EMPTY, FAILED, SKIPPED) \
                    and e.path not in again:
                touches.append((row.id, e.size, e.mtime_ns))
                c.unchanged += 1
            elif row is None and (gone := _read_alike(by_sha.get(sha), e)) is not None:
                moves.append((gone, e, root_id))
            else:
                jobs.append((e, root_id, row, sha))
        if touches:
            with self.manifest.transaction() as conn:
                for fid, size, mtime in touches:
                    self.manifest.touch(conn, fid, size, mtime)
        moved_ids = {m[0].id for m in moves}
        missing = [r for r in missing if r.id not in moved_ids]
        jobs.extend(self._apply_moves(moves, c, roots))

        # Deletions: rows leave the store first, then the manifest.
        if missing and not cancel.cancelled:
            ids = [r.id for r in missing]
            self.store.delete_files(ids)
            with self.manifest.transaction() as conn:
                self.manifest.forget(conn, ids)
            c.removed += len(missing)

        if jobs and not cancel.cancelled:
            embed = self._start_embedding(cancel, emit, backlog=False) \
                if self.settings.embedding.backend != "none" else None
            self._parse_and_write(jobs, c, emit, cancel, embed)
        return "; ".join(notes)

    def _remember_device(self, root: Root) -> None:
        """The disk a library folder with files is on (manifest meta ROOT_DEVICES), to tell a
        drive unmounted from its mount point from a folder emptied on it later."""
        try:
            dev = os.stat(root.path).st_dev
        except OSError:
            return
        devices = self.manifest.get_meta(ROOT_DEVICES) or {}
        if devices.get(str(root.id)) != dev:
            self.manifest.set_meta(ROOT_DEVICES, {**devices, str(root.id): dev})

    def _same_device(self, root: Root) -> bool:
        """Whether the folder is on the disk it was on when it last had files (unknown: no)."""
        known = (self.manifest.get_meta(ROOT_DEVICES) or {}).get(str(root.id))
        try:
            return known is not None and os.stat(root.path).st_dev == known
        except OSError:
            return False

    def _scan(self, root: Root, starts: Sequence[str]) -> Iterable[ScanEntry | ScanProblem]:
        if starts == [root.path]:
            yield from self.scanner.walk([root.path])
            return
        # A limited run (the watcher's): walk each changed path, under the root's rules.
        for start in starts:
            for item in self.scanner.walk_within(root.path, start):
                if isinstance(item, ScanProblem) and item.path == start and start != root.path \
                        and not os.path.islink(start):
                    continue  # the changed path itself vanished: handled as a deletion
                yield item

    def _skip_reason(self, e: ScanEntry) -> str | None:
        if e.kind is None:
            return skip_reason(e.path)
        cap = self.settings.index.max_file_bytes
        if e.size > cap:
            return f"too large: {_mb(e.size)}, over the limit of {_mb(cap)} ([index] max_file_mb)"
        return None

    def _commit_records(self, records: Sequence[FileRecord]) -> None:
        if records:
            with self.manifest.transaction() as conn:
                for r in records:
                    self.manifest.record(conn, r)

    def _apply_moves(self, moves: list[tuple[FileRow, ScanEntry, int]], c: _Counts,
                     roots: Sequence[Root]) -> list[tuple[ScanEntry, int, FileRow | None, str]]:
        """Re-path moved files' rows, embedding nothing. Files whose rows are not all there (a
        crash mid-move) are handed back to be parsed again, keeping their manifest ids."""
        root_display = {r.id: r.display for r in roots}
        redo: list[tuple[ScanEntry, int, FileRow | None, str]] = []
        for i in range(0, len(moves), 200):
            part = moves[i:i + 200]
            with_rows = {row.id: (display(e.path), root_display.get(rid, ""))
                         for row, e, rid in part if row.status == INDEXED}
            expected = sum(row.chunks for row, _, _ in part if row.status == INDEXED)
            if self.store.repath(with_rows) != expected:
                # Their manifest rows take the new paths first (size -1: never taken for unchanged),
                # so the parse replaces these ids' rows, partly re-pathed by now, instead of adding
                # a second copy under new ids beside them.
                with self.manifest.transaction() as conn:
                    for row, e, rid in part:
                        self.manifest.move(conn, row.id, e.path, rid, -1, 0)
                redo.extend((e, rid, row, row.sha256 or "") for row, e, rid in part)
                continue
            with self.manifest.transaction() as conn:
                for row, e, rid in part:
                    self.manifest.move(conn, row.id, e.path, rid, e.size, e.mtime_ns)
            c.moved += len(part)
        return redo

    # --- parse, chunk, write -------------------------------------------------------------

    def _parse_and_write(self, jobs: list[tuple[ScanEntry, int, FileRow | None, str]], c: _Counts,
                         emit: ProgressFn, cancel: CancelToken, embed: EmbedWorker | None) -> None:
        roots = {r.id: r for r in self.manifest.roots()}
        # Every file to parse gets a 'pending' manifest row now: a new one, so its chunks have an
        # id to live under; a changed one, because its old rows are about to go, and if the run
        # dies between that and its new rows (a large file is written in parts), the next run must
        # parse it again even if it was changed back meanwhile (else it passes for a touch).
        work: list[_Job] = []
        with self.manifest.transaction() as conn:
            for e, root_id, row, sha in jobs:
                # A fresh id has no rows: rows left by an interrupted run were removed at its
                # start (_recover), and a pending row from that run keeps its old id.
                fid, fresh = self.manifest.reserve(conn, e.path, root_id)
                # New to the index: no row, or a pending one that never had content (a file first
                # seen by a run that was stopped); a pending row with a hash is a changed file's.
                is_new = row is None or (row.status == PENDING and not row.sha256)
                work.append(_Job(e, root_id, fid, sha, is_new, fresh))
        # This run will write: import the store's library on a thread while the parse workers
        # start and parse. Not before the reservations above: each SQLite call releases the GIL
        # and then waits for the importing thread to give it back (1,500 new files took 0.45 s
        # instead of 10 ms).
        preload_lancedb()
        total = len(work)
        done = 0
        batch = _Batch()
        by_id = {j.file_id: j for j in work}
        _, spec = self._prepare()
        pool = self._parse_pool(spec)
        # Batches are written on a thread of their own, one at a time, so the parse workers get
        # new files while a batch is stored (the first waits for lancedb's import and builds the
        # keyword index: the workers sat idle for ~0.5 s). At most two batches are in memory.
        flusher = ThreadPoolExecutor(1, thread_name_prefix="quire-flush")
        self._unstorable = {}
        flushing: Future[None] | None = None
        all_cores = self.settings.index.worker_count(embedding=False)

        def flush(b: _Batch) -> None:
            nonlocal flushing
            if flushing is not None:
                # The model has eaten every batch stored so far (a cheap model, or Ollama on a GPU):
                # parsing is the bottleneck, so the core kept for the model parses too.
                if embed is not None and pool.n < all_cores and embed.queued and embed.waiting:
                    pool.n = all_cores
                flushing.result()  # the previous batch is stored first; its error surfaces here
            flushing = flusher.submit(self._flush, b, c, embed)

        try:
            for fid, outcome in pool.map(((j.file_id, j.entry.path, not j.sha256) for j in work), cancel):
                job = by_id[fid]
                done += 1
                if not job.fresh:
                    batch.stale.append(fid)
                e = job.entry
                folder = roots[job.root_id].display if job.root_id in roots else ""
                if isinstance(outcome, ParseFailure) and outcome.reason == GONE:
                    batch.ids.append(fid)
                    batch.gone.append(fid)  # deleted since the scan: as if never seen
                    c.seen -= 1
                elif isinstance(outcome, ParseFailure):
                    # Binary content under a text-like name is skipped, like any other non-document.
                    skipped = outcome.reason == "unsupported"
                    retry = outcome.reason == CANNOT_READ  # the next run tries again, changed or not
                    batch.ids.append(fid)
                    batch.record_ids.append(fid)
                    batch.records.append(FileRecord(e.path, job.root_id, UNREAD if retry else e.size,
                                                    0 if retry else e.mtime_ns, job.sha256, e.kind,
                                                    SKIPPED if skipped else FAILED, outcome.message))
                    if skipped:
                        c.skipped += 1
                    else:
                        c.failed += 1
                else:
                    batch.ids.append(fid)
                    chunks = outcome.chunks
                    c.chunks_parsed += len(chunks)
                    kind = outcome.kind or e.kind or ""
                    # A file of many chunks (a long log, a book) goes out in several batches, so the
                    # writer never holds all its rows at once (a 65 MB log: the writer's peak 660 -> 420 MB). Its old
                    # rows leave with the first batch; the manifest says it is indexed after the last
                    # (a crash between them leaves it 'pending' or changed: the next run redoes it).
                    for start in range(0, len(chunks), FLUSH_ROWS):
                        if start:
                            flush(batch)
                            batch = _Batch(ids=[fid])
                        self._add_rows(batch, fid, e, folder, kind, chunks[start:start + FLUSH_ROWS])
                    batch.record_ids.append(fid)
                    batch.records.append(FileRecord(e.path, job.root_id, e.size, e.mtime_ns,
                                                    job.sha256 or outcome.sha256, kind,
                                                    INDEXED if chunks else EMPTY,
                                                    "" if chunks else "no text found", len(chunks)))
                    if job.is_new:
                        c.added += 1
                    else:
                        c.changed += 1
                if len(batch.rows) >= FLUSH_ROWS or time.monotonic() - batch.since > FLUSH_SECONDS:
                    flush(batch)
                    batch = _Batch()
                emit(Progress("parse", files_done=done, files_total=total, chunks_written=c.chunks_written,
                              chunks_parsed=c.chunks_parsed, chunks_embedded=embed.embedded if embed else 0,
                              current=display(e.path)))
            flush(batch)
            if flushing is not None:
                flushing.result()
            for fid in self._unstorable:  # counted as read when parsed: they failed after all
                c.failed += 1
                if by_id[fid].is_new:
                    c.added -= 1
                else:
                    c.changed -= 1
        finally:
            flusher.shutdown(wait=True)  # never leave a batch half-stored behind the run
            self._pool_used = time.monotonic()
            if pool is not self._pool:
                pool.close()

    def _parse_pool(self, spec: ChunkSpec) -> ParsePool:
        """Parse workers for a run. Watch mode keeps them between runs: a saved file is then
        parsed by a worker that is already up (~45 ms sooner: no fork, no tokenizer to load)."""
        if self._pool is not None and self._pool.spec == spec and self._pool.background == self._low_priority:
            return self._pool
        self.close_workers()
        s = self.settings.index
        workers = s.worker_count(embedding=self.settings.embedding.backend != "none")
        pool = ParsePool(spec, workers, s.parse_timeout_s, s.parse_memory_mb, background=self._low_priority)
        if self._low_priority:
            self._pool = pool
        return pool

    def close_workers(self, idle_for: float = 0.0) -> None:
        """Stop the parse workers watch mode keeps, if unused for ``idle_for`` seconds (an idle
        worker holds ~16 MB of its own). The writer's thread only."""
        if self._pool is not None and time.monotonic() - self._pool_used >= idle_for:
            self._pool.close()
            self._pool = None

    @staticmethod
    def _add_rows(batch: _Batch, fid: int, e: ScanEntry, folder: str, kind: str, chunks: list[Chunk]) -> None:
        shown = display(e.path)
        for ch in chunks:
            embed_text = ch.embed_text
            h = text_hash(embed_text)
            batch.rows.append({"id": f"{fid}:{ch.chunk_no}", "file_id": fid, "path": shown, "folder": folder,
                               "kind": kind, "chunk_no": ch.chunk_no, "page": ch.page,
                               "heading": ch.heading, "text": ch.text, "text_hash": h,
                               "kw": ch.text if spaceless(ch.text) else ""})
            batch.texts.append((h, embed_text))

    def _flush(self, batch: _Batch, c: _Counts, embed: EmbedWorker | None) -> None:
        if not batch.ids:
            return
        rows = self._rows_table(batch)
        self.store.replace_files(batch.stale, rows)  # 1. the rows
        self._commit_records(batch.records)  # 2. then the manifest says so
        if batch.gone:
            with self.manifest.transaction() as conn:
                self.manifest.forget(conn, batch.gone)
        self.store.ensure_fts()  # searchable by keyword from the first batch on
        c.chunks_written += len(batch.rows)
        if (time.monotonic() - self._run_t0 >= FOLD_DURING_RUN_AFTER_S
                and c.chunks_written - self._fold_checked_at >= FTS_FOLD_ROWS // 4):
            self._fold_checked_at = c.chunks_written
            indexed, flat = self.store.keyword_backlog()
            if flat >= max(FTS_FOLD_ROWS, indexed):
                self.store.fold_keywords()
        if embed is not None:
            embed.offer(batch.texts)

    def _rows_table(self, batch: _Batch) -> pa.Table | None:
        """The batch's rows as one Arrow table. Rows that cannot be stored (a value a reader
        should never have made: it happened with half an emoji) cost their own file, listed as
        failed with the reason, not the whole run."""
        try:
            table = pa.Table.from_pylist(batch.rows, schema=CHUNK_SCHEMA) if batch.rows else None
        except (pa.ArrowException, ValueError, TypeError, UnicodeError, OverflowError):
            table = None
            by_file: dict[int, list[dict[str, object]]] = {}
            for r in batch.rows:
                by_file.setdefault(r["file_id"], []).append(r)  # type: ignore[arg-type]
            for fid, rows in by_file.items():
                try:
                    pa.Table.from_pylist(rows, schema=CHUNK_SCHEMA)
                except (pa.ArrowException, ValueError, TypeError, UnicodeError, OverflowError) as exc:
                    log.warning("chunks of file %d cannot be stored: %r", fid, exc)
                    self._unstorable.setdefault(fid, f"its text could not be stored ({describe(exc)})")
        if self._unstorable and any(fid in self._unstorable for fid in batch.ids):
            # Its rows from an earlier batch (a long file spans several) leave with this one.
            batch.stale.extend(fid for fid in batch.ids if fid in self._unstorable)
            kept = [r for r in batch.rows if r["file_id"] not in self._unstorable]
            hashes = {r["text_hash"] for r in kept}
            batch.rows, batch.texts = kept, [t for t in batch.texts if t[0] in hashes]
            batch.records = [dataclasses.replace(r, status=FAILED, reason=self._unstorable[fid], chunks=0)
                             if fid in self._unstorable else r for r, fid in zip(batch.records, batch.record_ids,
                                                                                 strict=True)]
            table = None
        if table is None and batch.rows:
            table = pa.Table.from_pylist(batch.rows, schema=CHUNK_SCHEMA)
        return table

    # --- crash recovery ------------------------------------------------------------------

    def _recover(self) -> None:
        """After a run that never finished: drop chunk rows no manifest row owns."""
        tbl = self.store.chunks
        if tbl is None:
            return
        owned = self.manifest.file_ids()
        stray: set[int] = set()
        for b in scan(tbl, ["file_id"]):
            stray.update(i for i in b.column(0).to_pylist() if i not in owned)
        if stray:
            log.warning("removing chunks of %d files left by an interrupted run", len(stray))
            self.store.delete_files(sorted(stray))

    def remove_root(self, root: Root, on_forgotten: Callable[[], None] = lambda: None) -> int:
        """Take a folder or file out of the library, as a run: the manifest lets go of its files
        first, then their rows leave the store. Killed in between, the next run finds rows no
        file owns and drops them, with their vectors (store first, a kill left the folder
        listed as indexed with none of its rows, and nothing noticed)."""
        run_id, interrupted = self.manifest.start_run()
        if interrupted:
            self._recover()
        ids = [r.id for r in self.manifest.files_of_root(root.id)]
        self.manifest.remove_root(root.id)
        on_forgotten()
        self.store.delete_files(ids)
        if ids or interrupted:
            self.store.orphan_vectors(everything=interrupted)
            self.store.maintain(final=True, compact=True)
        self.manifest.finish_run(run_id, "ok", {"files_removed": len(ids)})
        return len(ids)


BIG_FILE = 1 << 20


def _holds_nothing(folder: str) -> bool:
    try:
        with os.scandir(folder) as it:
            return next(it, None) is None
    except OSError:
        return True


def _read_alike(rows: list[FileRow] | None, e: ScanEntry) -> FileRow | None:
    """Take a missing file with ``e``'s content that is read the same way as ``e``: renaming
    notes.txt to notes.md changes its sections and headings, so that is parsed again (its
    vectors are still reused by text)."""
    for i, r in enumerate(rows or ()):
        if kind_of(r.path) == e.kind:
            return rows.pop(i)  # type: ignore[union-attr]
    return None


@contextmanager
def _gc_paused() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _hash_all(candidates: Sequence[tuple[ScanEntry, int, FileRow | None]], pool: ThreadPoolExecutor,
              cancel: CancelToken) -> Iterator[str | OSError]:
    """Hashes in input order. Large files go to threads (hashlib drops the GIL on big blocks
    and the disk can overlap); small ones are hashed right here: under 2 KB hashlib keeps the
    GIL, and a crowd of threads fighting for it stalls every other thread of the process,
    the window's included, for nothing."""
    futures = {i: pool.submit(_try_hash, e.path, cancel)
               for i, (e, _, _) in enumerate(candidates) if e.size >= BIG_FILE}
    for i, (e, _, _) in enumerate(candidates):
        yield futures[i].result() if i in futures else _try_hash(e.path, cancel)


def _try_hash(path: str, cancel: CancelToken) -> str | OSError:
    try:
        return sha256_file(path, cancel)
    except OSError as exc:
        return exc


def _mb(n: int) -> str:
    if n >= 1024 ** 3:
        return f"{n / 1024 ** 3:,.1f} GB"
    mb = n / 1024 / 1024
    return f"{mb:,.1f} MB" if mb >= 1 or mb == 0 else f"{mb:.2g} MB"  # a limit of 0.05 MB was "0.0 MB"


def _size_decision_changed(st: FileStat, e: ScanEntry, cap: int) -> bool:
    """An unchanged file that the size limit, since it changed, now keeps out or lets in."""
    if st.status in (INDEXED, EMPTY):
        return e.size > cap
    # Skipped and of a kind Quire reads: as too large (or as binary under a text name, read once more).
    return st.status == SKIPPED and e.size <= cap and e.kind is not None


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip(os.sep) + os.sep)


def _collapse(paths: Iterable[str]) -> list[str]:
    """Drop paths that lie inside another path of the set (each subtree is walked once)."""
    out: list[str] = []
    for p in sorted(set(paths)):
        if not out or not _under(p, out[-1]):
            out.append(p)
    return out


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a else b

