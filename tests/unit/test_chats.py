"""Chat history in SQLite: CRUD, ordering, WAL, and many threads and connections at once."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.chats import ChatStore
from app.core.errors import UsageError


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ChatStore]:
    s = ChatStore(tmp_path / "data" / "chats.sqlite3")
    yield s
    s.close()


def test_create_append_read(store: ChatStore) -> None:
    chat = store.create("lease")
    store.append(chat, "user", "How much notice?")
    src = [{"n": 1, "path": "/docs/lease.pdf", "page": 7, "text": "Sixty days.", "score": 0.9}]
    msg = store.append(chat.id, "assistant", "Sixty days [1].", src)
    assert msg.sources == tuple(src)
    got = store.get("lease")
    assert got.id == chat.id and got.message_count == 2 and got.updated_at >= chat.updated_at
    messages = store.messages(got)
    assert [(m.role, m.text) for m in messages] == [("user", "How much notice?"),
                                                    ("assistant", "Sixty days [1].")]
    assert messages[1].sources[0]["page"] == 7
    assert [m.text for m in store.messages(got, last=1)] == ["Sixty days [1]."]


def test_wal_mode(store: ChatStore) -> None:
    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_list_most_recent_first(store: ChatStore) -> None:
    a, b = store.create("a"), store.create("b")
    store.append(a, "user", "later")
    assert [c.name for c in store.list()] == ["a", "b"]
    store.append(b, "user", "latest")
    assert [(c.name, c.message_count) for c in store.list()] == [("b", 1), ("a", 1)]


def test_names(store: ChatStore) -> None:
    store.create("deposit")
    with pytest.raises(UsageError, match="already exists"):
        store.create("  deposit ")
    with pytest.raises(UsageError, match="needs a name"):
        store.create("   ")
    assert store.get_or_create("deposit").name == "deposit"
    assert store.get_or_create("new one").message_count == 0
    with pytest.raises(UsageError, match="No chat named 'nope'"):
        store.get("nope")
    assert store.find("nope") is None


def test_rename_and_delete(store: ChatStore) -> None:
    chat = store.create("old")
    store.append(chat, "user", "q")
    store.create("taken")
    with pytest.raises(UsageError, match="already exists"):
        store.rename(chat, "taken")
    renamed = store.rename(chat, "new")
    assert renamed.id == chat.id and renamed.message_count == 1 and store.find("old") is None
    store.delete(renamed)
    assert store.find("new") is None and store.messages(renamed.id) == []
    with pytest.raises(UsageError, match="no longer exists"):
        store.append(renamed, "user", "into the void")


def test_bad_role(store: ChatStore) -> None:
    with pytest.raises(ValueError):
        store.append(store.create("x"), "robot", "beep")


def test_threads_and_a_second_store_at_once(store: ChatStore) -> None:
    other = ChatStore(store.path)  # another process would look like this: its own connections
    chat = store.create("busy")
    errors: list[BaseException] = []
    start = threading.Barrier(9)

    def writer(i: int, s: ChatStore) -> None:
        try:
            start.wait()
            for j in range(20):
                s.append(chat, "user", f"{i}-{j}")
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            start.wait()
            for _ in range(50):
                msgs = other.messages(chat)
                assert [m.id for m in msgs] == sorted(m.id for m in msgs)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i, store if i % 2 else other)) for i in range(8)]
    threads.append(threading.Thread(target=reader))
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    other.close()
    assert not errors
    texts = {m.text for m in store.messages(chat)}
    assert len(texts) == 160 and store.get("busy").message_count == 160
