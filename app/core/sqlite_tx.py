"""One write transaction on a SQLite connection opened with ``isolation_level=None``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


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
