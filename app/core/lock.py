"""The writer lock: one indexer per Quire home, across processes.

An OS file lock (flock / msvcrt) is released by the kernel when its holder dies, even by
SIGKILL, so a crash never leaves the home locked.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO

from .errors import StoreError, StoreLockedError


class WriterLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held open while locked)
        except OSError as exc:
            raise StoreError(f"Cannot write to {self.path.parent} ({exc.strerror or exc}).",
                             "Make the folder writable or point QUIRE_HOME at a writable folder.") from None
        try:
            if sys.platform == "win32":
                import msvcrt

                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise StoreLockedError(
                f"Another Quire ({holder}) is updating the index in {self.path.parent}.",
                "Wait for it to finish or stop it (`quire watch` and the window keep it while open).") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            try:
                self._fh.close()  # closing drops the lock
            finally:
                self._fh = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
