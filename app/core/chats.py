"""Conversations, kept in SQLite (WAL) at ``Paths.chats_db``.

One connection per thread (SQLite connections must not be shared across threads without a
lock, and per-thread connections let readers run while another thread writes). WAL mode
lets other processes read while one writes; writes take the write lock up front
(``BEGIN IMMEDIATE``) so two writers queue instead of failing halfway.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import DiskFullError, StoreError, UsageError, is_disk_full
from .sqlite_tx import ConnectionPool, immediate

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS chats (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    text TEXT NOT NULL,
    sources TEXT NOT NULL DEFAULT '[]',
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_chat ON messages(chat_id, id);
"""
ROLES = ("user", "assistant", "system")


@dataclass(frozen=True)
class Chat:
    id: int
    name: str
    created_at: float  # seconds since the epoch
    updated_at: float
    message_count: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "created_at": self.created_at,
                "updated_at": self.updated_at, "messages": self.message_count}


@dataclass(frozen=True)
class Message:
    id: int
    chat_id: int
    role: str
    text: str
    sources: tuple[dict[str, Any], ...]  # Source.as_json() of each cited passage
    created_at: float

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "role": self.role, "text": self.text, "sources": list(self.sources),
                "created_at": self.created_at}


ChatRef = Chat | int


def _chat_id(chat: ChatRef) -> int:
    return chat.id if isinstance(chat, Chat) else int(chat)


class ChatStore:
    """Create, list, read, append to, rename and delete conversations. Thread-safe."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._pool = ConnectionPool(self._connect)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._pool.connection() as db:
                db.executescript(_SCHEMA)  # idempotent; executescript manages its own transaction
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            text = str(exc)
            if "malformed" in text or "not a database" in text:
                raise StoreError(f"The chat history {self.path} is damaged ({text}).",
                                 "Move the file away to start a new history.") from None
            # A read-only disk or folder, a permission: the file is fine and must stay.
            raise StoreError(f"Cannot open the chat history {self.path}: {text}.",
                             "Check that its folder is writable (or set QUIRE_HOME to one that is).") from None

    # --- connections --------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        return db

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._pool.connection() as db:
            return db.execute(sql, params).fetchall()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._pool.connection() as c, immediate(c) as db:
                yield db
        except sqlite3.DatabaseError as exc:
            if is_disk_full(exc):
                raise DiskFullError(str(self.path)) from None
            raise

    def open_connections(self) -> int:
        return self._pool.open_count()

    def close(self) -> None:
        """Close every connection; use the store no more afterwards."""
        self._pool.close()

    def __enter__(self) -> ChatStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- chats ----------------------------------------------------------------------------

    _CHAT_SELECT = ("SELECT c.id, c.name, c.created_at, c.updated_at, "
                    "(SELECT COUNT(*) FROM messages m WHERE m.chat_id = c.id) AS n FROM chats c ")

    @staticmethod
    def _chat(row: sqlite3.Row) -> Chat:
        return Chat(row["id"], row["name"], row["created_at"], row["updated_at"], row["n"])

    def create(self, name: str) -> Chat:
        name = _clean_name(name)
        now = time.time()
        try:
            with self._write() as db:
                cur = db.execute("INSERT INTO chats (name, created_at, updated_at) VALUES (?, ?, ?)",
                                 (name, now, now))
        except sqlite3.IntegrityError:
            raise UsageError(f"A chat named {name!r} already exists.", "Pick another name.") from None
        return Chat(int(cur.lastrowid or 0), name, now, now, 0)

    def find(self, name: str) -> Chat | None:
        rows = self._read(self._CHAT_SELECT + "WHERE c.name = ?", (name.strip(),))
        return self._chat(rows[0]) if rows else None

    def get(self, name: str) -> Chat:
        chat = self.find(name)
        if chat is None:
            raise UsageError(f"No chat named {name!r}.", "List them: quire chats")
        return chat

    def get_or_create(self, name: str) -> Chat:
        chat = self.find(name)
        if chat is not None:
            return chat
        try:
            return self.create(name)
        except UsageError:  # another thread or process created it meanwhile
            return self.get(name)

    def list(self) -> list[Chat]:
        """All chats, the most recently used first."""
        rows = self._read(self._CHAT_SELECT + "ORDER BY c.updated_at DESC, c.id DESC")
        return [self._chat(r) for r in rows]

    def rename(self, chat: ChatRef, new_name: str) -> Chat:
        new_name = _clean_name(new_name)
        cid = _chat_id(chat)
        try:
            with self._write() as db:
                cur = db.execute("UPDATE chats SET name = ? WHERE id = ?", (new_name, cid))
        except sqlite3.IntegrityError:
            raise UsageError(f"A chat named {new_name!r} already exists.", "Pick another name.") from None
        if cur.rowcount == 0:
            raise UsageError("That chat no longer exists.", "List them: quire chats")
        return self.get(new_name)

    def delete(self, chat: ChatRef) -> None:
        with self._write() as db:
            db.execute("DELETE FROM chats WHERE id = ?", (_chat_id(chat),))  # messages go by cascade

    # --- messages ---------------------------------------------------------------------------

    def append(self, chat: ChatRef, role: str, text: str,
               sources: Sequence[Mapping[str, Any]] = ()) -> Message:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {role!r}")
        cid = _chat_id(chat)
        now = time.time()
        payload = json.dumps([dict(s) for s in sources], ensure_ascii=False)
        try:
            with self._write() as db:
                cur = db.execute(
                    "INSERT INTO messages (chat_id, role, text, sources, created_at) VALUES (?, ?, ?, ?, ?)",
                    (cid, role, text, payload, now))
                db.execute("UPDATE chats SET updated_at = ? WHERE id = ?", (now, cid))
        except sqlite3.IntegrityError:
            raise UsageError("That chat no longer exists.", "List them: quire chats") from None
        return Message(int(cur.lastrowid or 0), cid, role, text, tuple(dict(s) for s in sources), now)

    def messages(self, chat: ChatRef, last: int | None = None) -> list[Message]:
        """The chat's messages in order; only the ``last`` ones if given."""
        cid = _chat_id(chat)
        if last is None:
            rows = self._read("SELECT * FROM messages WHERE chat_id = ? ORDER BY id", (cid,))
        else:
            rows = self._read("SELECT * FROM (SELECT * FROM messages WHERE chat_id = ? "
                              "ORDER BY id DESC LIMIT ?) ORDER BY id", (cid, last))
        return [Message(r["id"], r["chat_id"], r["role"], r["text"], tuple(json.loads(r["sources"])),
                        r["created_at"]) for r in rows]


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise UsageError("A chat needs a name.", "Give one, e.g. --chat lease")
    return name
