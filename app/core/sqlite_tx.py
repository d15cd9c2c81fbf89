"""SQLite plumbing shared by the manifest and the chat history: connections lent per call,
and one write transaction on a connection opened with ``isolation_level=None``."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` (the write lock at once, so two writers never deadlock half-way),
    ``COMMIT`` at the end, ``ROLLBACK`` on any exception. SQLite rolls back by itself on some
    errors (a full disk): a second ROLLBACK would fail and hide the first error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class ConnectionPool:
    """SQLite connections lent for the length of a call, not kept per thread.

    A connection per thread (``threading.local``) leaks under Qt: each task on a ``QThreadPool``
    runs with a fresh Python thread state, so each got a connection of its own that stayed open
    (the window gained two file handles every few seconds until it ran out). Here a call takes
    the connection its thread already holds (so a read inside a transaction sees it), else an
    idle one, else a new one, and gives it back when its outermost use ends. At most ``keep``
    idle connections stay open; busy ones are as many as the threads using the store at once.
    """

    def __init__(self, connect: Callable[[], sqlite3.Connection], keep: int = 4) -> None:
        self._connect = connect  # must pass check_same_thread=False: connections move between threads
        self._keep = keep
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._held: dict[int, list[Any]] = {}  # thread id -> [connection, depth]
        self._open: set[sqlite3.Connection] = set()
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        me = threading.get_ident()
        with self._lock:
            held = self._held.get(me)
            if held is not None:
                held[1] += 1
            conn = None if held is not None or not self._idle else self._idle.pop()
        if held is not None:
            try:
                yield held[0]
            finally:
                with self._lock:
                    held[1] -= 1
            return
        fresh = conn is None
        if conn is None:
            conn = self._connect()
        with self._lock:
            if fresh:
                self._open.add(conn)
            self._held[me] = [conn, 1]
        try:
            yield conn
        finally:
            with self._lock:
                del self._held[me]
                # A connection left inside a transaction (its ROLLBACK failed) is not lent again.
                keep = not self._closed and len(self._idle) < self._keep and not conn.in_transaction
                if keep:
                    self._idle.append(conn)
                else:
                    self._open.discard(conn)
            if not keep:
                _close(conn)

    def open_count(self) -> int:
        """Connections open now, lent or idle."""
        with self._lock:
            return len(self._open)

    def close(self) -> None:
        """Close every connection, including any still lent (their users are done with the store)."""
        with self._lock:
            self._closed = True
            conns, self._open, self._idle = list(self._open), set(), []
        for c in conns:
            _close(c)


def _close(conn: sqlite3.Connection) -> None:
    try:
        conn.close()
    except sqlite3.Error:
        pass
