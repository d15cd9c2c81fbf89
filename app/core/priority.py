"""Background priority for the work a watching app does behind the user's back.

The watcher's writer thread (scan, parse, write) and everything it starts (the parse
processes, the embedding model's threads, the embedder thread) run below normal priority,
so the window and the user's other programs keep the CPU when they need it. On an idle
machine this costs nothing: a lower priority only matters when something else wants to run.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger(__name__)

NICE = 10  # POSIX niceness added to background work (0 normal, 19 lowest)


def lower_thread_priority() -> bool:
    """Lower the calling thread's priority; threads and processes it starts from now on
    inherit it on Linux. True if it took effect."""
    try:
        if sys.platform.startswith("linux"):
            # Linux keeps a nice value per thread: PRIO_PROCESS with a thread id is that thread.
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + NICE))
            return True
        if sys.platform == "win32":
            import ctypes

            below_normal = -1  # THREAD_PRIORITY_BELOW_NORMAL
            k32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
            return bool(k32.SetThreadPriority(k32.GetCurrentThread(), below_normal))
    except (OSError, AttributeError, ValueError) as exc:
        log.debug("could not lower the thread's priority: %s", exc)
    return False  # macOS: niceness is per process there, which would slow the window too


def lower_process_priority() -> None:
    """For a worker process that only does background work (POSIX)."""
    if hasattr(os, "nice"):
        try:
            current = os.getpriority(os.PRIO_PROCESS, 0)
            if current < NICE:
                os.nice(NICE - current)
        except OSError:
            pass
