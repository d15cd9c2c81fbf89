"""Watch mode: filesystem events -> debounced, coalesced paths -> the library's single writer.

One writer thread owns every write: it runs ``Library.index(changed=..., wait_for_vectors=False)``
for the paths that changed, the periodic reconcile, and whatever the window hands it through
``submit``. watchdog observers (one per library folder, recursive; one per parent directory
of single-file roots, not recursive) only mark paths dirty in a shared, coalescing set.

Why the set waits before a run: an editor's save-by-rename, a file written in many appends,
a 5,000-file copy or a ``git checkout`` arrive as bursts of events; waiting until they settle
(``debounce_s`` of quiet, at most ``max_delay_s`` after the first event, longer while a big
burst keeps arriving) turns each into one run over the paths involved. Both ends of a move
land in the same run, so the indexer recognises the content at its new path and re-paths its
rows instead of parsing and embedding it again.

Events are a hint, not the truth: a periodic stat-only reconcile (``reconcile_every_s``)
catches whatever was missed (inotify limits, queue overflows, network drives, sleep). A
folder that vanishes is reported offline, keeps its rows, and is watched and caught up again
when it returns. No Qt here: the window's workers turn the callbacks into signals.

Known limits: a recursive inotify watch covers every subfolder, ignored ones (``.git``,
``node_modules``) included, so those count against ``fs.inotify.max_user_watches``; their events
are dropped here. A folder emptied but still present (a mount point whose drive was unplugged)
looks like deleted files, not like an offline folder.
"""

from __future__ import annotations

import concurrent.futures
import errno
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import Cancelled, UsageError
from .paths import display, is_within
from .priority import lower_thread_priority
from .scan import Scanner
from .types import CancelToken, IndexReport, Progress

if TYPE_CHECKING:
    from watchdog.events import FileSystemEvent
    from watchdog.observers.api import BaseObserver

    from .library import Library
    from .manifest import Root

log = logging.getLogger(__name__)

T = TypeVar("T")

WATCHING, POLLING, OFFLINE, PAUSED = "watching", "polling", "offline", "paused"

HEALTH_EVERY_S = 2.0  # how often vanished/returned folders and dead observers are looked for
WORKERS_IDLE_S = 60.0  # parse workers kept warm between runs are let go after this long unused
MOVE_PAIR_S = 0.6  # watchdog holds a move's source 0.5 s to pair it; across two folders it then
#                    arrives as a delete after the destination's create: wait for it
BURST_PATHS = 200  # this many distinct dirty paths make a burst (a copy, a checkout)...
BURST_MAX_S = 10.0  # ...which keeps coalescing while events arrive, for at most this long
LARGE_SET = 2000  # more dirty paths than this in one folder: reconcile the folder (stat only)
POLL_EVERY_S = 60.0  # folders that cannot be watched are checked this often
PREEMPT_AFTER_S = 3.0  # a submitted job interrupts a run that has had at least this long
RESTARTS_PER_MINUTE = 3  # an observer that dies more often than this is given up on (polling)
CLOCK_JUMP_S = 30.0  # the wall clock ran this much ahead of the monotonic one: the machine slept
# A file that keeps changing (a log a program appends to) and is costly to index: each path of a
# run that took at least HOT_FILE_S a path waits HOT_DUTY times that long before it is indexed
# again (at most HOT_MAX_WAIT_S). A 10 MB log appended to 4 times a second kept a core busy
# (17 CPU-seconds in 18 s; 3.2 with this, `bench_watch.py --only hotlog`). A document saved now
# and then, indexed in a few milliseconds, is never held back.
HOT_FILE_S = 0.25
HOT_DUTY = 9.0
HOT_MAX_WAIT_S = 60.0

NETWORK_FS = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "ceph", "glusterfs", "davfs",
                        "fuse.sshfs", "fuse.rclone", "fuse.s3fs", "fuse.davfs2", "fuse.gvfsd-fuse"})


@dataclass(frozen=True)
class WatchStatus:
    folder: str  # a library root's display path
    state: str  # "watching" | "polling" (events unavailable, periodic reconcile only) | "offline" | "paused"
    message: str = ""  # why a folder cannot be watched and what fixes it, or why it is offline


def _new_observer() -> BaseObserver:
    """The platform's native observer (inotify on Linux). Tests replace this to simulate failures."""
    from watchdog.observers import Observer

    return Observer()


def _event_filter() -> list[type[FileSystemEvent]]:
    # Opens and no-write closes are left out on purpose: the indexer reads the files it indexes,
    # and those reads must not look like changes.
    from watchdog.events import (
        DirCreatedEvent,
        DirDeletedEvent,
        DirMovedEvent,
        FileAttribEvent,
        FileClosedEvent,
        FileCreatedEvent,
        FileDeletedEvent,
        FileModifiedEvent,
        FileMovedEvent,
    )

    return [FileCreatedEvent, DirCreatedEvent, FileModifiedEvent, FileAttribEvent, FileClosedEvent,
            FileDeletedEvent, DirDeletedEvent, FileMovedEvent, DirMovedEvent]


def _under(path: str, top: str) -> bool:
    return is_within(path, top)


# --- the dirty set -------------------------------------------------------------------------------


class _Dirty:
    """Paths waiting for a run, per library root, coalesced as they arrive (observer threads add,
    the writer takes). Memory stays bounded by distinct paths, not by the number of events."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.paths: dict[str, set[str]] = {}  # root path -> dirty paths inside it
        self.whole: set[str] = set()  # roots to look at in full
        self.first = 0.0  # when the oldest pending change arrived (0: nothing pending)
        self.last = 0.0  # the latest event
        self.last_create = 0.0  # the latest create / move-in (a cross-folder move's delete may follow)
        self.distinct = 0  # distinct paths since ``first`` (burst detection)
        self.urgent = False  # run without waiting (a request, a catch-up)
        self.not_before = 0.0  # retry back-off after a failed run

    def add(self, root: str, path: str, *, created: bool = False, urgent: bool = False) -> bool:
        """Mark ``path`` (inside ``root``) dirty. Returns True if nothing was pending before."""
        now = time.monotonic()
        with self.lock:
            was_empty = not self.first
            if was_empty:
                self.first = now
                self.distinct = 0
            self.last = now
            if created:
                self.last_create = now
            self.urgent = self.urgent or urgent
            if root in self.whole:
                return was_empty
            s = self.paths.setdefault(root, set())
            if path == root:
                self.whole.add(root)
                self.paths.pop(root, None)
                return was_empty
            if path in s or _ancestor_in(path, root, s):
                return was_empty
            s.add(path)
            self.distinct += 1
            if len(s) > LARGE_SET:
                # A stat-only walk of the folder costs less than tracking every path of a huge change.
                self.whole.add(root)
                self.paths.pop(root, None)
            return was_empty

    def pending(self) -> bool:
        with self.lock:
            return bool(self.first)

    def due_at(self, debounce_s: float, max_delay_s: float) -> float | None:
        with self.lock:
            if not self.first:
                return None
            if self.urgent:
                return max(self.not_before, 0.0)
            settle = max(self.last + debounce_s, self.last_create + MOVE_PAIR_S)
            bound = self.first + (max(BURST_MAX_S, max_delay_s) if self.distinct >= BURST_PATHS else max_delay_s)
            return max(min(settle, bound), self.not_before)

    def take(self) -> dict[str, list[str]]:
        with self.lock:
            out = {r: [r] for r in self.whole}
            for r, s in self.paths.items():
                if r not in out and s:
                    out[r] = sorted(s)
            self.paths.clear()
            self.whole.clear()
            self.first = self.last = self.last_create = 0.0
            self.distinct = 0
            self.urgent = False
            return out

    def clear(self) -> None:
        self.take()

    def drop_root(self, root: str) -> None:
        with self.lock:
            self.paths.pop(root, None)
            self.whole.discard(root)
            if not self.paths and not self.whole:
                self.first = 0.0
                self.urgent = False


def _ancestor_in(path: str, root: str, s: set[str]) -> bool:
    """Whether a folder above ``path`` (below ``root``) is already dirty: the indexer walks it anyway."""
    p = os.path.dirname(path)
    while len(p) > len(root):
        if p in s:
            return True
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    return False


# --- what is watched ------------------------------------------------------------------------------


@dataclass
class _Unit:
    """One observer: a library folder (recursive) or the parent directory of single-file roots."""

    key: str  # the watched directory, as the library names it
    recursive: bool
    roots: frozenset[str]  # the root paths it serves (one folder, or files in ``key``)
    observer: BaseObserver | None = None
    state: str = WATCHING
    message: str = ""
    restarts: list[float] = field(default_factory=list)
    real: str = ""  # ``key`` with symlinks resolved: what is actually watched
    ident: tuple[int, int] | None = None  # (device, inode) of ``real`` when armed

    def local(self, path: str) -> str:
        """An event's path in the library's terms (a folder added through a symlink is watched at
        its target, since inotify would otherwise watch the link itself)."""
        if self.real and self.real != self.key and _under(path, self.real):
            return self.key + path[len(self.real):]
        return path

    def root_for(self, path: str) -> str | None:
        if self.recursive:
            return self.key if _under(path, self.key) else None
        return path if path in self.roots else None


class _Handler:
    """watchdog handler for one unit: hands every event to the watcher, never raises."""

    def __init__(self, watcher: Watcher, unit: _Unit) -> None:
        self.watcher = watcher
        self.unit = unit

    def dispatch(self, event: FileSystemEvent) -> None:
        try:
            self.watcher._on_event(self.unit, event)
        except Exception:  # a broken handler would kill the observer thread
            log.exception("watch: could not handle %r", event)


class _OverflowLog(logging.Handler):
    """watchdog says only in its log that the kernel dropped events: listen there."""

    def __init__(self, fn: Callable[[], None]) -> None:
        super().__init__(logging.WARNING)
        self.fn = fn

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.fn()


# --- the watcher ----------------------------------------------------------------------------------


class Watcher:
    """Keeps ``library`` current with its folders while it runs. See the module docstring.

    The library must be opened for writing by the caller, who also closes it (after ``stop``).
    From ``start`` on, only the watcher's thread writes to it: everything else that writes goes
    through ``submit``. Callbacks run on the watcher's threads; keep them short.
    """

    def __init__(self, library: Library, *, debounce_s: float = 0.4, max_delay_s: float = 1.5,
                 reconcile_every_s: float = 300.0,
                 on_report: Callable[[IndexReport], None] | None = None,
                 on_status: Callable[[WatchStatus], None] | None = None,
                 on_progress: Callable[[Progress], None] | None = None,
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        self.library = library
        self.debounce_s = debounce_s
        self.max_delay_s = max(max_delay_s, debounce_s)
        self.reconcile_every_s = reconcile_every_s
        self.poll_every_s = min(POLL_EVERY_S, reconcile_every_s)
        self._on_report = on_report
        self._on_status = on_status
        self._on_progress = on_progress
        self._on_error = on_error

        self._dirty = _Dirty()
        self._cooldown: dict[str, float] = {}  # path -> not indexed by an events run before then
        self._later: dict[str, tuple[str, float]] = {}  # path changed during its cooldown -> (root, when)
        self._commands: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._cancel = CancelToken()
        self._busy = False
        self._run_started = 0.0
        self._jobs_waiting = 0
        self._jobs_lock = threading.Lock()
        self._full_due = False
        self._overflow_handler: _OverflowLog | None = None

        self._excluded = tuple(os.path.abspath(str(p)) for p in (library.paths.data_dir, library.paths.config_dir))
        self._scanner = Scanner(library.settings.index, exclude=self._excluded)
        self._roots: dict[str, Root] = {}  # root path -> Root, as last read from the library
        self._units: dict[str, _Unit] = {}  # unit key -> unit (armed or polling)
        self._offline: set[str] = set()  # root paths currently missing
        self._network: set[str] = set()  # roots on network drives (said in their status)
        self._status_lock = threading.Lock()
        self._status: dict[str, WatchStatus] = {}  # root path -> status
        self._last_error = ""
        self._failures = 0
        self.runs = 0  # index runs finished since start (the catch-up included)

    # --- public API ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread: arm observers, catch up with the whole library, then follow events.

        Observers are armed before the catch-up run (not after) so that nothing changed during
        a long catch-up is missed: such events simply make a small run right after it."""
        if self._thread is not None:
            raise RuntimeError("Watcher.start() called twice")
        self._overflow_handler = _OverflowLog(self._overflowed)
        for name in ("watchdog.observers.inotify_c", "watchdog.observers.inotify"):
            lg = logging.getLogger(name)
            lg.addHandler(self._overflow_handler)
            if not lg.isEnabledFor(logging.WARNING):
                lg.setLevel(logging.WARNING)
        self._thread = threading.Thread(target=self._main, name="quire-watch", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Cancel the current run, stop observers and the writer thread. The library stays open."""
        self._stopping.set()
        self._cancel.cancel()
        self._wake.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)
            if t.is_alive():
                log.warning("watch: the writer thread did not stop within %.0f s", timeout)
        if self._overflow_handler is not None:
            for name in ("watchdog.observers.inotify_c", "watchdog.observers.inotify"):
                logging.getLogger(name).removeHandler(self._overflow_handler)
            self._overflow_handler = None

    def submit(self, fn: Callable[[Library], T]) -> concurrent.futures.Future[T]:
        """Run ``fn(library)`` on the writer thread between runs; the future holds its result.

        A run that has been going for a few seconds is interrupted for it and resumes afterwards
        (its finished files stay done). Roots added, removed or paused by ``fn`` are re-armed."""
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        if self._stopping.is_set():
            fut.set_exception(Cancelled("The watcher has stopped."))
            return fut
        with self._jobs_lock:
            self._jobs_waiting += 1
        self._commands.put(("job", fn, fut))
        self._maybe_preempt()
        self._wake.set()
        return fut

    def request(self, paths: Iterable[str]) -> None:
        """Index these paths soon, without waiting for the debounce. Paths inside library folders
        are looked at again; others (a file dropped on the window) are added to the library first."""
        self._commands.put(("request", [os.path.abspath(os.path.expanduser(p)) for p in paths]))
        self._wake.set()

    def refresh_roots(self) -> None:
        """Roots were added, removed or paused: (re)arm observers (on the writer thread)."""
        self._commands.put(("roots",))
        self._wake.set()

    def statuses(self) -> list[WatchStatus]:
        with self._status_lock:
            return list(self._status.values())

    @property
    def busy(self) -> bool:
        """A run is in progress."""
        return self._busy

    # --- events (observer threads) ---------------------------------------------------------------

    def _on_event(self, unit: _Unit, event: FileSystemEvent) -> None:
        etype = event.event_type
        if etype not in ("created", "modified", "attrib", "closed", "deleted", "moved"):
            return
        is_dir = event.is_directory
        if is_dir and etype in ("modified", "attrib"):
            return  # a folder's own metadata: its files' events say what changed
        srcs = [event.src_path]
        if etype == "moved" and event.dest_path:
            srcs.append(event.dest_path)
        notify = False
        for i, raw in enumerate(srcs):
            path = unit.local(os.fsdecode(raw) if isinstance(raw, bytes) else raw)
            if not path:
                continue
            root = unit.root_for(path)
            if root is None or any(_under(path, x) for x in self._excluded):
                continue
            if path != root and self._scanner.is_ignored(root, path, is_dir):
                continue
            created = etype == "created" or (etype == "moved" and i == 1)
            notify |= self._dirty.add(root, path, created=created)
            if path == root and etype in ("deleted", "moved"):
                self._commands.put(("health",))  # the folder itself went: say so now
                notify = True
        if notify:
            self._wake.set()

    def _overflowed(self) -> None:
        log.warning("watch: the kernel dropped filesystem events; reconciling the whole library")
        self._commands.put(("full",))
        self._wake.set()

    # --- the writer thread -----------------------------------------------------------------------

    def _main(self) -> None:
        lower_thread_priority()  # the window (and the user's other programs) come first
        last_health = last_poll = time.monotonic()
        try:
            self._arm_all(initial=True)
            self._run_full("catch-up")
            last_full = time.monotonic()
            wall, mono = time.time(), time.monotonic()
            while not self._stopping.is_set():
                now = time.monotonic()
                deadlines = [last_health + HEALTH_EVERY_S, last_full + self.reconcile_every_s]
                if self._polled_roots():
                    deadlines.append(last_poll + self.poll_every_s)
                due = self._dirty.due_at(self.debounce_s, self.max_delay_s)
                if due is not None:
                    deadlines.append(due)
                if self._later:
                    deadlines.append(min(when for _, when in self._later.values()))
                if self._full_due:
                    deadlines.append(self._dirty.not_before)
                wait = min(deadlines) - now
                if wait > 0 and self._commands.empty():
                    self._wake.wait(wait)
                self._wake.clear()
                if self._stopping.is_set():
                    break
                try:
                    self._do_commands()
                    now = time.monotonic()
                    # The wall clock running ahead of the monotonic one means the machine slept.
                    w2, m2 = time.time(), now
                    if (w2 - wall) - (m2 - mono) > CLOCK_JUMP_S:
                        log.info("watch: the machine was asleep; reconciling the library")
                        self._full_due = True
                    wall, mono = w2, m2
                    if now - last_health >= HEALTH_EVERY_S:
                        last_health = now
                        self._health()
                        self.library.release_idle_workers(WORKERS_IDLE_S)
                    if self._stopping.is_set():
                        break
                    if (self._full_due and now >= self._dirty.not_before) or now - last_full >= self.reconcile_every_s:
                        self._full_due = False
                        self._dirty.clear()  # a full reconcile sees every pending change
                        self._later.clear()
                        self._run_full("reconcile")
                        last_full = time.monotonic()
                        continue
                    if self._polled_roots() and now - last_poll >= self.poll_every_s:
                        last_poll = now
                        for r in self._polled_roots():
                            self._dirty.add(r, r, urgent=True)
                            self._retry_arm(r)
                    self._release_later(time.monotonic())
                    due = self._dirty.due_at(self.debounce_s, self.max_delay_s)
                    if due is not None and time.monotonic() >= due:
                        self._run_dirty()
                except Exception as exc:  # keep watching whatever one step did
                    log.exception("watch: unexpected error")
                    self._error(exc)
        except Exception as exc:
            log.exception("watch: the writer thread failed")
            self._error(exc)
        finally:
            self._disarm_all()
            self._cancel_jobs()
            try:
                self.library.release_idle_workers(0.0)  # no more runs: the parse workers go now
            except Exception:
                log.exception("watch: stopping the parse workers failed")

    def _do_commands(self) -> None:
        while True:
            try:
                cmd = self._commands.get_nowait()
            except queue.Empty:
                return
            kind = cmd[0]
            if kind == "job":
                self._run_job(cmd[1], cmd[2])
            elif kind == "request":
                self._request(cmd[1])
            elif kind == "roots":
                self._arm_all()
            elif kind == "full":
                self._full_due = True
                self._dirty.not_before = 0.0
            elif kind == "health":
                self._health()

    def _run_job(self, fn: Callable[[Library], Any], fut: concurrent.futures.Future[Any]) -> None:
        with self._jobs_lock:
            self._jobs_waiting -= 1
        if not fut.set_running_or_notify_cancel():
            return
        try:
            fut.set_result(fn(self.library))
        except BaseException as exc:
            fut.set_exception(exc)
        finally:
            # Whatever the job did to the library's folders (add, remove, pause, rebuild): follow it.
            self._arm_all()

    def _request(self, paths: list[str]) -> None:
        added = False
        for p in paths:
            root = self._root_of(p)
            if root is not None:
                # Asked for by name (the window's Retry, a drop): no cooldown holds it back.
                self._cooldown.pop(p, None)
                self._later.pop(p, None)
                self._dirty.add(root, p, urgent=True)
                continue
            try:
                self.library.add(p)
                added = True
            except Exception as exc:
                self._error(exc)
        if added:
            self._arm_all()  # new roots get observers and a catch-up

    def _root_of(self, path: str) -> str | None:
        for r in self._roots.values():
            if (r.is_file and path == r.path) or (not r.is_file and _under(path, r.path)):
                return r.path
        return None

    def _cancel_jobs(self) -> None:
        while True:
            try:
                cmd = self._commands.get_nowait()
            except queue.Empty:
                return
            if cmd[0] == "job":
                cmd[2].cancel()

    # --- runs ------------------------------------------------------------------------------------

    def _run_full(self, why: str) -> None:
        report = self._index(None, why)
        if report is None and not self._stopping.is_set():
            self._full_due = True  # interrupted or failed: again soon

    def _run_dirty(self) -> None:
        by_root = self._dirty.take()
        changed: list[str] = []
        now = time.monotonic()
        self._cooldown = {p: t for p, t in self._cooldown.items() if t > now}
        for root, paths in by_root.items():
            r = self._roots.get(root)
            if r is None or r.paused:
                continue
            if not _exists(r):
                # Nothing to do for a folder that is gone: its rows stay until it comes back.
                self._set_offline(root)
                continue
            for p in paths:
                if p in self._cooldown:
                    self._later.setdefault(p, (root, self._cooldown[p]))  # indexed when it cools down
                else:
                    changed.append(p)
        if not changed:
            return
        t0 = time.monotonic()
        report = self._index(sorted(changed), "events")
        if report is None:
            if not self._stopping.is_set():
                for root, paths in by_root.items():
                    for p in paths:
                        if p not in self._later:
                            self._dirty.add(root, p, urgent=True)
            return
        per_path = (time.monotonic() - t0) / len(changed)
        if per_path >= HOT_FILE_S:
            wait = min(HOT_MAX_WAIT_S, HOT_DUTY * per_path)
            log.info("watch: indexing %s took %.1f s; not again for %.0f s", ", ".join(changed[:3]), per_path, wait)
            for p in changed:
                self._cooldown[p] = time.monotonic() + wait

    def _release_later(self, now: float) -> None:
        """Paths whose cooldown is over go back in the dirty set, to run now."""
        for p, (root, when) in list(self._later.items()):
            if when <= now:
                del self._later[p]
                if root in self._roots:
                    self._dirty.add(root, p, urgent=True)

    def _index(self, changed: list[str] | None, why: str) -> IndexReport | None:
        """One run. Returns None if it did not finish (stopped, interrupted for a job, failed):
        the caller queues its paths again."""
        self._cancel = CancelToken()
        # Checked after the new token exists: a stop() from now on cancels this very run.
        if self._stopping.is_set() or self._jobs_waiting > 0:
            return None  # a waiting job goes first
        self._busy = True
        self._run_started = time.monotonic()
        self._hook_embed_progress()
        try:
            log.info("watch: %s run over %s", why,
                     "the whole library" if changed is None else f"{len(changed)} path(s)")
            report = self.library.index(changed=changed, progress=self._progress, cancel=self._cancel,
                                        wait_for_vectors=False)
        except Exception as exc:
            self._failures += 1
            self._dirty.not_before = time.monotonic() + min(60.0, 2.0 ** self._failures)
            log.warning("watch: %s run failed: %s", why, exc)
            self._error(exc)
            return None
        finally:
            self._busy = False
        self.runs += 1
        self._failures = 0
        self._last_error = ""
        self._dirty.not_before = 0.0
        self._emit(self._on_report, report)
        return None if self._cancel.cancelled else report

    def _progress(self, p: Progress) -> None:
        self._maybe_preempt()
        self._emit(self._on_progress, p)

    def _maybe_preempt(self) -> None:
        if self._busy and self._jobs_waiting > 0 and time.monotonic() - self._run_started >= PREEMPT_AFTER_S:
            self._cancel.cancel()

    def _hook_embed_progress(self) -> None:
        if self._on_progress is None:
            return
        try:
            self.library.on_embed_progress(lambda p: self._emit(self._on_progress, p))
        except Exception:
            pass  # the run itself reports why the library cannot index

    # --- observers -------------------------------------------------------------------------------

    def _arm_all(self, initial: bool = False) -> None:
        """Bring observers in line with the library's roots; new roots get a catch-up."""
        roots = {r.path: r for r in self.library.roots()}
        self._scanner = Scanner(self.library.settings.index, exclude=self._excluded)
        new = [p for p in roots if p not in self._roots]
        resumed = [p for p, r in roots.items() if p in self._roots and self._roots[p].paused and not r.paused]
        self._roots = roots
        want: dict[str, tuple[bool, set[str]]] = {}
        for r in roots.values():
            if r.paused:
                continue
            key, rec = (os.path.dirname(r.path), False) if r.is_file else (r.path, True)
            want.setdefault(key, (rec, set()))[1].add(r.path)
        for key in list(self._units):
            u = self._units[key]
            w = want.get(key)
            if w is None or w[0] != u.recursive or frozenset(w[1]) != u.roots:
                self._disarm(u)
                del self._units[key]
        self._offline &= set(roots)
        self._network &= set(roots)
        for key, (rec, paths) in want.items():
            if key not in self._units:
                u = _Unit(key, rec, frozenset(paths))
                self._units[key] = u
                self._arm(u)
        if not initial:
            for p in new + resumed:
                if not roots[p].paused:
                    self._dirty.add(p, p, urgent=True)
            if new or resumed:
                self._wake.set()
        self._publish()

    def _arm(self, u: _Unit) -> None:
        if not os.path.isdir(u.key):
            self._offline.update(u.roots)
            u.state, u.message, u.observer = OFFLINE, "", None
            return
        obs: BaseObserver | None = None
        u.real = os.path.realpath(u.key)
        u.ident = _ident(u.real)
        try:
            obs = _new_observer()
            obs.schedule(_Handler(self, u), u.real, recursive=u.recursive, event_filter=_event_filter())
            obs.start()
        except Exception as exc:
            _stop_observer(obs)
            u.observer = None
            u.state, u.message = POLLING, self._cannot_watch(exc)
            log.warning("watch: cannot watch %s: %s", display(u.key), u.message)
            return
        u.observer = obs
        u.state, u.message = WATCHING, ""
        if u.recursive and _watch_limit_reached(u.real):
            # watchdog skips subfolders it cannot watch without a word: probe for the limit.
            u.state = POLLING
            u.message = (f"inotify watch limit reached: some subfolders are not watched; raise "
                         f"fs.inotify.max_user_watches (sysctl). Changes there are found by a check every "
                         f"{_secs(self.poll_every_s)}.")
            log.warning("watch: %s: %s", display(u.key), u.message)
        for r in u.roots:
            if _exists(self._roots[r]):
                self._offline.discard(r)
            else:
                self._offline.add(r)
            if _fs_type(r) in NETWORK_FS:
                self._network.add(r)
            else:
                self._network.discard(r)

    def _cannot_watch(self, exc: BaseException) -> str:
        every = f"Changes are found by a check every {_secs(self.poll_every_s)}."
        code = getattr(exc, "errno", None)
        if code == errno.ENOSPC:
            return f"inotify watch limit reached; raise fs.inotify.max_user_watches (sysctl). {every}"
        if code == errno.EMFILE:
            return f"inotify instance limit reached; raise fs.inotify.max_user_instances (sysctl). {every}"
        if code in (errno.EACCES, errno.EPERM):
            return f"permission denied. {every}"
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return f"cannot watch: {reason}. {every}"

    def _disarm(self, u: _Unit) -> None:
        _stop_observer(u.observer)
        u.observer = None

    def _disarm_all(self) -> None:
        for u in self._units.values():
            self._disarm(u)

    def _retry_arm(self, root: str) -> None:
        """A folder that could not be (fully) watched: try again once the limit may have been raised."""
        for u in self._units.values():
            if root not in u.roots or u.state != POLLING:
                continue
            if u.observer is not None:
                # Partly watched: start over only if a watch can be added now, else nothing changed.
                if _watch_limit_reached(u.real or u.key):
                    continue
                self._disarm(u)
            self._arm(u)
            self._publish()

    def _polled_roots(self) -> list[str]:
        return [r for u in self._units.values() if u.state == POLLING for r in u.roots if r not in self._offline]

    def _health(self) -> None:
        """Folders that vanished or came back, observers that died."""
        changed = False
        for u in list(self._units.values()):
            if u.state == OFFLINE:
                if os.path.isdir(u.key):
                    log.info("watch: %s is back; catching up", display(u.key))
                    self._arm(u)
                    for r in u.roots:
                        self._dirty.add(r, r, urgent=True)
                    changed = True
                continue
            if not os.path.isdir(u.key):
                log.warning("watch: %s is gone (removed or unmounted?); its index is kept", display(u.key))
                self._disarm(u)
                u.state, u.message = OFFLINE, ""
                for r in u.roots:
                    self._set_offline(r, publish=False)
                changed = True
                continue
            if u.real and (os.path.realpath(u.key) != u.real or _ident(u.real) != u.ident):
                # A library folder that is a link, pointed elsewhere (ln -sfn v2 current), or a
                # drive unmounted from it or mounted on it again: the watch was on what was
                # there before, and new changes were missed until the periodic full check.
                log.info("watch: %s now leads to another folder; catching up", display(u.key))
                self._disarm(u)
                self._arm(u)
                for r in u.roots:
                    self._dirty.add(r, r, urgent=True)
                changed = True
                continue
            for r in u.roots:  # single files come and go inside a watched folder
                gone = not _exists(self._roots[r])
                if gone != (r in self._offline):
                    changed = True
                    if gone:
                        self._offline.add(r)
                        self._dirty.drop_root(r)
                    else:
                        self._offline.discard(r)
            obs = u.observer
            if obs is not None and not (obs.is_alive() and all(e.is_alive() for e in list(obs.emitters))):
                now = time.monotonic()
                u.restarts = [t for t in u.restarts if now - t < 60] + [now]
                self._disarm(u)
                if len(u.restarts) > RESTARTS_PER_MINUTE:
                    log.error("watch: watching %s keeps failing; relying on periodic checks", display(u.key))
                    u.state = POLLING
                    u.message = (f"watching keeps failing (see the log); changes are found by a check every "
                                 f"{_secs(self.poll_every_s)}.")
                else:
                    log.warning("watch: the observer for %s stopped; restarting it", display(u.key))
                    self._arm(u)
                for r in u.roots:
                    self._dirty.add(r, r, urgent=True)  # events may have been missed meanwhile
                changed = True
        if changed:
            self._publish()

    def _set_offline(self, root: str, publish: bool = True) -> None:
        self._dirty.drop_root(root)
        if root not in self._offline:
            self._offline.add(root)
            if publish:
                self._publish()

    # --- statuses --------------------------------------------------------------------------------

    def _publish(self) -> None:
        """Recompute every root's status; call on_status for those that changed."""
        unit_of = {r: u for u in self._units.values() for r in u.roots}
        new: dict[str, WatchStatus] = {}
        for path, r in self._roots.items():
            u = unit_of.get(path)
            if r.paused:
                st = WatchStatus(r.display, PAUSED)
            elif path in self._offline or u is None or u.state == OFFLINE:
                what = "file" if r.is_file else "folder"
                st = WatchStatus(r.display, OFFLINE, f"{what} not found (removed or unmounted?); its index is "
                                                     f"kept and watching resumes when it returns")
            elif u.state == POLLING:
                st = WatchStatus(r.display, POLLING, u.message)
            elif path in self._network:
                # Events only cover changes made on this machine; a full walk each minute would be
                # costly over the network, so the regular reconcile finds the rest.
                st = WatchStatus(r.display, WATCHING, f"network drive: changes made from other computers are "
                                                      f"found by a check every {_secs(self.reconcile_every_s)}")
            else:
                st = WatchStatus(r.display, WATCHING)
            new[path] = st
        with self._status_lock:
            old = self._status
            self._status = new
        for path, st in new.items():
            if old.get(path) != st:
                self._emit(self._on_status, st)

    # --- callbacks -------------------------------------------------------------------------------

    def _emit(self, fn: Callable[[Any], None] | None, value: Any) -> None:
        if fn is None:
            return
        try:
            fn(value)
        except Exception:
            log.exception("watch: a callback failed")

    def _error(self, exc: BaseException) -> None:
        key = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, UsageError) or key != self._last_error:
            self._last_error = key
            self._emit(self._on_error, exc)


# --- helpers --------------------------------------------------------------------------------------


def _ident(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _exists(root: Root) -> bool:
    return os.path.isfile(root.path) if root.is_file else os.path.isdir(root.path)


def _stop_observer(obs: BaseObserver | None) -> None:
    if obs is None:
        return
    try:
        obs.stop()
        if obs.is_alive():
            obs.join(5)
    except Exception:
        log.debug("watch: stopping an observer failed", exc_info=True)


def _secs(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.0f} min"


def _watch_limit_reached(path: str) -> bool:
    """On Linux: whether one more inotify watch can be added (False when unsure)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        from watchdog.observers.inotify_c import inotify_add_watch, inotify_init, inotify_rm_watch
    except Exception:
        return False
    fd = inotify_init()
    if fd < 0:
        return False
    try:
        wd = inotify_add_watch(fd, os.fsencode(path), 0x00000100)  # IN_CREATE
        if wd < 0:
            return ctypes.get_errno() == errno.ENOSPC
        inotify_rm_watch(fd, wd)
        return False
    finally:
        os.close(fd)


def _fs_type(path: str) -> str:
    """The filesystem type holding ``path`` (Linux, from /proc/self/mountinfo), or ""."""
    if not sys.platform.startswith("linux"):
        return ""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return ""
    real = os.path.realpath(path)
    best, fstype = "", ""
    for line in lines:
        left, _, right = line.partition(" - ")
        parts = left.split()
        if len(parts) < 5 or not right:
            continue
        mount = parts[4].replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")
        if is_within(real, mount) and len(mount) >= len(best):
            best, fstype = mount, right.split()[0]
    return fstype
