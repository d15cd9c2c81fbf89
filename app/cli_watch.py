"""`quire watch`: keep the index current while files change. Registered into app/cli.py's parser.

It opens the library for writing, catches up with whatever changed while it was not running,
then follows filesystem events (see app/core/watch.py) until Ctrl-C or SIGTERM, which stop it
cleanly: "Stopped." on stderr and exit 0.

Output: one line per run that changed something (the catch-up run always gets one). With
``--json`` stdout is JSON Lines (https://jsonlines.org): one JSON document per run, one per line,
each the run's report with the keys of ``quire index --json``; read it line by line. Folder
states (cannot be watched and why, offline, back again) and errors go to stderr in both modes.
"""

from __future__ import annotations

import argparse
import json
import queue
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .cli import Context, ProgressPrinter, cancel_on_sigint
from .core.errors import QuireError
from .core.types import CancelToken, IndexReport


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    sp = sub.add_parser(
        "watch", parents=[common], help="keep the index current while files change (Ctrl-C stops)",
        description="Catch up with what changed since the last run, then index files as they change: new words "
                    "are searchable within seconds, moves and renames re-embed nothing. Ctrl-C stops.",
        epilog="With --json, stdout is JSON Lines: one JSON document per index run, one per line (the keys of "
               "`quire index --json`). Folder states and errors go to stderr.")
    sp.add_argument("--reconcile-seconds", type=_positive_float, default=300.0, metavar="SECONDS",
                    help="how often to compare every folder with the index, for changes that events missed "
                         "(stat only, cheap; default 300)")
    sp.set_defaults(func=cmd_watch)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1 second")
    return value


@contextmanager
def _stop_on_sigterm(token: CancelToken) -> Iterator[None]:
    """A service manager's SIGTERM stops as cleanly as Ctrl-C."""
    try:
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: token.cancel())
    except ValueError:  # not the main thread
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def summary(r: IndexReport) -> str:
    counts = ((r.files_added, "added"), (r.files_changed, "changed"), (r.files_moved, "moved"),
              (r.files_removed, "removed"), (r.files_failed, "failed"), (r.files_skipped, "skipped"))
    text = ", ".join(f"{n:,} {label}" for n, label in counts if n) or "nothing changed"
    if r.chunks_written:
        text += f" · {r.chunks_written:,} chunks written"
    if r.embed_pending:
        text += f" · {r.embed_pending:,} waiting for vectors"
    text += f" ({r.seconds:.1f} s)"
    if r.note:
        text += f" · note: {r.note}"
    return text


def _files(n: int) -> str:
    return f"{n:,} file" if n == 1 else f"{n:,} files"


def _changed(r: IndexReport) -> bool:
    return bool(r.files_added or r.files_changed or r.files_moved or r.files_removed or r.files_failed
                or r.files_skipped or r.chunks_written)


def cmd_watch(args: argparse.Namespace, ctx: Context) -> int:
    from .core.watch import Watcher, WatchStatus

    events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
    bar = ProgressPrinter(ctx.err, enabled=not ctx.json)
    catching_up = [True]

    def err(text: str) -> None:
        ctx.err.write(text + "\n")
        ctx.err.flush()

    with ctx.open_library(write=True) as lib:
        if not lib.roots():
            raise QuireError("The library is empty.", "Add a folder first: quire index PATH")
        lib.check_settings()
        with cancel_on_sigint() as cancel, _stop_on_sigterm(cancel):
            watcher = Watcher(lib, reconcile_every_s=args.reconcile_seconds,
                              on_report=lambda r: events.put(("report", r)),
                              on_status=lambda s: events.put(("status", s)),
                              on_error=lambda e: events.put(("error", e)),
                              on_progress=lambda p: bar(p) if catching_up[0] else None)
            states: dict[str, str] = {}
            runs = 0

            def show(kind: str, value: Any) -> None:
                nonlocal runs
                if kind == "report":
                    r: IndexReport = value
                    runs += 1
                    first = catching_up[0]
                    catching_up[0] = False
                    if ctx.json:
                        ctx.out.write(json.dumps(r.as_json(), ensure_ascii=False) + "\n")
                        ctx.out.flush()
                    elif first:
                        bar.clear()
                        ctx.say(f"{time.strftime('%H:%M:%S')} caught up: {_files(r.files_seen)} looked at; "
                                f"{summary(r)}")
                    elif _changed(r):
                        ctx.say(f"{time.strftime('%H:%M:%S')} {summary(r)}")
                    if first and not cancel.cancelled:
                        now = watcher.statuses()
                        watching = sum(1 for s in now if s.state == "watching")
                        err(f"Watching {watching:,} of {len(now):,} library folders and files for changes. "
                            f"Ctrl-C stops.")
                elif kind == "status":
                    s: WatchStatus = value
                    before = states.get(s.folder)
                    states[s.folder] = s.state
                    if s.state == "polling":
                        err(f"{s.folder}: cannot watch for changes: {s.message}")
                    elif s.state == "offline":
                        err(f"{s.folder}: offline: {s.message}")
                    elif s.state == "paused":
                        err(f"{s.folder}: paused, not watched")
                    elif s.message:
                        err(f"{s.folder}: {s.message}")
                    elif before is not None:
                        err(f"{s.folder}: watching again")
                elif kind == "error":
                    if catching_up[0]:
                        raise value  # the first run failed: nothing would work (e.g. settings changed)
                    if isinstance(value, QuireError):
                        err(f"error: {value.message}" + (f"\n  {value.action}" if value.action else ""))
                    else:
                        err(f"error: {type(value).__name__}: {value} (the watcher keeps going)")

            watcher.start()
            try:
                while not cancel.cancelled:
                    try:
                        kind, value = events.get(timeout=0.25)
                    except queue.Empty:
                        continue
                    show(kind, value)
            finally:
                watcher.stop()
            while True:  # what the stopped run had done
                try:
                    kind, value = events.get_nowait()
                except queue.Empty:
                    break
                if kind == "report":
                    show(kind, value)
    bar.clear()
    err("Stopped.")
    return 0
