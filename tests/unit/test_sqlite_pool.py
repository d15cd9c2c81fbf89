"""SQLite connections are lent per call: threads that come and go (Qt's pool, a run's flush
thread) must not each leave a connection open behind them."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from app.core.chats import ChatStore
from app.core.manifest import Manifest
from app.core.sqlite_tx import ConnectionPool, immediate


def _churn(fn, n: int = 30) -> None:
    """``fn`` on ``n`` threads that each end before the next starts, then on 4 at once."""
    for _ in range(n):
        t = threading.Thread(target=fn)
        t.start()
        t.join()
    barrier = threading.Barrier(4)

    def together() -> None:
        barrier.wait()
        fn()

    ts = [threading.Thread(target=together) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def test_the_manifest_and_the_chat_history_keep_a_few_connections_however_many_threads(tmp_path: Path) -> None:
    m = Manifest(tmp_path / "manifest.sqlite3")
    chats = ChatStore(tmp_path / "chats.sqlite3")
    chats.create("lease")
    _churn(lambda: (m.roots(), m.get_meta("x"), chats.list(), chats.find("lease")))
    assert m.open_connections() <= 4 and chats.open_connections() <= 4
    m.close()
    chats.close()
    assert m.open_connections() == 0 and chats.open_connections() == 0


def test_a_thread_reads_its_own_open_transaction(tmp_path: Path) -> None:
    pool = ConnectionPool(lambda: sqlite3.connect(tmp_path / "t.db", isolation_level=None, check_same_thread=False))
    with pool.connection() as c:
        c.execute("CREATE TABLE t (x)")
    with pool.connection() as c, immediate(c):
        c.execute("INSERT INTO t VALUES (1)")
        with pool.connection() as inner:  # nested: the same connection, so it sees the insert
            assert inner is c and inner.execute("SELECT COUNT(*) FROM t").fetchone() == (1,)
        seen: list[int] = []
        t = threading.Thread(target=lambda: seen.append(_count(pool)))
        t.start()
        t.join()
        assert seen == [0]  # another thread gets another connection: not committed yet
    assert _count(pool) == 1
    pool.close()


def _count(pool: ConnectionPool) -> int:
    with pool.connection() as c:
        return int(c.execute("SELECT COUNT(*) FROM t").fetchone()[0])


def test_a_reader_of_a_home_never_indexed_answers_from_any_thread(tmp_path: Path) -> None:
    m = Manifest(tmp_path / "nothing-here.sqlite3", read_only=True)  # an in-memory, empty manifest
    barrier = threading.Barrier(3)
    results: list[object] = []

    def read() -> None:
        with m._pool.connection():  # hold one connection so the others need their own
            barrier.wait()
            results.append(m.roots())

    ts = [threading.Thread(target=read) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert results == [[], [], []]


def test_a_connection_left_inside_a_transaction_is_not_lent_again(tmp_path: Path) -> None:
    pool = ConnectionPool(lambda: sqlite3.connect(tmp_path / "t.db", isolation_level=None, check_same_thread=False))
    with pool.connection() as c:
        c.execute("BEGIN")  # as if its ROLLBACK had failed
    assert pool.open_count() == 0
    with pool.connection() as c2:
        assert c2 is not c and not c2.in_transaction
    pool.close()
