"""The manifest: what Quire knows about each file (SQLite, WAL), beside the LanceDB folder.

A file's row is written *after* its chunks are in the store, so the manifest never claims
more than the store holds. A crash in between leaves a row whose size/mtime do not match
the disk (or a 'pending' row), which the next reconcile redoes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from .errors import DiskFullError, ManifestCorruptError, StoreError, StoreLockedError, is_disk_full
from .paths import display, from_key, path_key
from .sqlite_tx import ConnectionPool, immediate

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS roots (
    id INTEGER PRIMARY KEY,
    path BLOB NOT NULL UNIQUE,
    display TEXT NOT NULL,
    is_file INTEGER NOT NULL DEFAULT 0,
    paused INTEGER NOT NULL DEFAULT 0,
    added_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    path BLOB NOT NULL UNIQUE,
    display TEXT NOT NULL,
    root_id INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT,
    kind TEXT,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    chunks INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS files_root ON files(root_id);
CREATE INDEX IF NOT EXISTS files_sha ON files(sha256);
CREATE INDEX IF NOT EXISTS files_status ON files(status);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started_at REAL NOT NULL,
    finished_at REAL,
    outcome TEXT,
    report TEXT
);
"""

# File states. 'pending' rows exist only while their chunks are being written.
INDEXED, EMPTY, FAILED, SKIPPED, PENDING = "indexed", "empty", "failed", "skipped", "pending"


@dataclass(frozen=True, slots=True)
class Root:
    id: int
    path: str
    display: str
    is_file: bool
    paused: bool


@dataclass(frozen=True, slots=True)
class FileRow:
    id: int
    path: str
    display: str
    root_id: int
    size: int
    mtime_ns: int
    sha256: str | None
    kind: str | None
    status: str
    reason: str
    chunks: int


class FileStat(NamedTuple):
    """The part of a manifest row that tells whether a file changed: a third of the cost of
    loading a whole ``FileRow``, which matters when a run finds 5,000 files unchanged."""

    id: int
    root_id: int
    size: int
    mtime_ns: int
    status: str


@dataclass(frozen=True, slots=True)
class FileRecord:
    """What the indexer writes for a file once its chunks are stored."""

    path: str
    root_id: int
    size: int
    mtime_ns: int
    sha256: str | None
    kind: str | None
    status: str
    reason: str = ""
    chunks: int = 0


class Manifest:
    """The manifest (SQLite, WAL): writes are serialised by the indexer, reads are free. Connections
    are lent per call (``sqlite_tx.ConnectionPool``)."""

    def __init__(self, db_path: Path, *, read_only: bool = False) -> None:
        self.db_path = db_path
        self.read_only = read_only
        self._pool = ConnectionPool(self._connect)
        if not read_only:
            db_path.parent.mkdir(parents=True, exist_ok=True)
        elif not db_path.exists():
            # A reader of a home that was never indexed: an empty in-memory manifest.
            self.db_path = Path(":memory:")
        with self._guard(), self._pool.connection() as conn:
            conn.executescript(_SCHEMA)
            if conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone() is None:
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))

    # --- connection plumbing -------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._frozen():
            # A read-only disk or folder (a backup, a share): SQLite cannot make the WAL's shared
            # memory file there, so even reading failed. Read as a file that cannot change.
            uri = f"file:{urllib.parse.quote(str(self.db_path))}?mode=ro&immutable=1"
            conn = sqlite3.connect(uri, uri=True, timeout=10, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=10000")
            return conn
        conn = sqlite3.connect(str(self.db_path), timeout=10, isolation_level=None, check_same_thread=False)
        if str(self.db_path) != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        else:
            conn.executescript(_SCHEMA)  # each in-memory connection is a database of its own: all empty
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    def _frozen(self) -> bool:
        return (self.read_only and str(self.db_path) != ":memory:" and self.db_path.exists()
                and not os.access(self.db_path.parent, os.W_OK))

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn SQLite's failures into errors a person can act on."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            text = str(exc)
            if is_disk_full(exc):
                raise DiskFullError(str(self.db_path)) from None
            if "locked" in text or "busy" in text:
                raise StoreLockedError(f"The manifest {self.db_path} is locked by another program.",
                                       "Wait for it to finish, or close the other Quire.") from None
            if "readonly" in text or "read-only" in text:
                raise StoreError(f"Cannot write to {self.db_path}: the folder is read-only.",
                                 "Make it writable or point QUIRE_HOME at a writable folder.") from None
            if "malformed" in text or "not a database" in text or "corrupt" in text:
                raise ManifestCorruptError(
                    f"The manifest {self.db_path} is damaged ({text}).",
                    "Run `quire rebuild --all`: it sets the file aside and reads every file of the library's "
                    "folders again (Quire remembers them).") from None
            if "unable to open" in text:
                raise StoreError(f"Cannot open {self.db_path} ({text}).",
                                 "Check that the folder exists and is writable, or set QUIRE_HOME.") from None
            raise StoreError(f"The manifest {self.db_path} failed: {text}.") from None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._guard(), self._pool.connection() as c, immediate(c) as conn:
            yield conn

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._guard(), self._pool.connection() as conn:
            return conn.execute(sql, params).fetchall()

    def open_connections(self) -> int:
        return self._pool.open_count()

    def close(self) -> None:
        self._pool.close()

    # --- meta ----------------------------------------------------------------------------

    def get_meta(self, key: str) -> Any:
        rows = self._query("SELECT value FROM meta WHERE key=?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: Any, conn: sqlite3.Connection | None = None) -> None:
        sql, params = "INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value))
        if conn is not None:
            conn.execute(sql, params)
        else:
            with self.transaction() as c:
                c.execute(sql, params)

    # --- roots ---------------------------------------------------------------------------

    def roots(self) -> list[Root]:
        rows = self._query("SELECT id, path, display, is_file, paused FROM roots ORDER BY display")
        return [Root(r[0], from_key(r[1]), r[2], bool(r[3]), bool(r[4])) for r in rows]

    def add_root(self, path: str, is_file: bool) -> Root:
        with self.transaction() as c:
            c.execute("INSERT OR IGNORE INTO roots (path, display, is_file, added_at) VALUES (?, ?, ?, ?)",
                      (path_key(path), display(path), int(is_file), time.time()))
        root = self.root_for(path)
        assert root is not None
        return root

    def root_for(self, path: str) -> Root | None:
        rows = self._query("SELECT id, path, display, is_file, paused FROM roots WHERE path=?", (path_key(path),))
        return Root(rows[0][0], from_key(rows[0][1]), rows[0][2], bool(rows[0][3]), bool(rows[0][4])) \
            if rows else None

    def set_paused(self, root_id: int, paused: bool) -> None:
        with self.transaction() as c:
            c.execute("UPDATE roots SET paused=? WHERE id=?", (int(paused), root_id))

    def remove_root(self, root_id: int) -> None:
        """Forget a root and its files. Call only after their chunks left the store."""
        with self.transaction() as c:
            c.execute("DELETE FROM files WHERE root_id=?", (root_id,))
            c.execute("DELETE FROM roots WHERE id=?", (root_id,))

    # --- files ---------------------------------------------------------------------------

    _FILE_COLS = "id, path, display, root_id, size, mtime_ns, sha256, kind, status, reason, chunks"

    @staticmethod
    def _file(r: tuple[Any, ...]) -> FileRow:
        return FileRow(r[0], from_key(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10])

    def files_of_root(self, root_id: int) -> Iterator[FileRow]:
        for r in self._query(f"SELECT {self._FILE_COLS} FROM files WHERE root_id=?", (root_id,)):
            yield self._file(r)

    def stats_of_root(self, root_id: int) -> dict[str, FileStat]:
        rows = self._query("SELECT path, id, root_id, size, mtime_ns, status FROM files WHERE root_id=?", (root_id,))
        return {from_key(p): FileStat(i, r, s, m, st) for p, i, r, s, m, st in rows}

    def stats_under(self, root_id: int, tops: Sequence[str]) -> dict[str, FileStat]:
        """``stats_of_root`` for the files at or below ``tops`` only: a range of the path index
        per top, so a watcher's run over one edited file does not read the whole root."""
        sep = os.sep.encode()
        out: dict[str, FileStat] = {}
        for top in tops:
            key = path_key(top)
            lo = key.rstrip(sep) + sep
            hi = lo[:-1] + bytes([lo[-1] + 1])  # every key that starts with ``lo``
            rows = self._query("SELECT path, id, root_id, size, mtime_ns, status FROM files "
                               "WHERE root_id=? AND (path=? OR (path>=? AND path<?))", (root_id, key, lo, hi))
            out.update({from_key(p): FileStat(i, r, s, m, st) for p, i, r, s, m, st in rows})
        return out

    def files_by_id(self, ids: Iterable[int]) -> dict[int, FileRow]:
        out: dict[int, FileRow] = {}
        ids = list(ids)
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            marks = ",".join("?" * len(part))
            for r in self._query(f"SELECT {self._FILE_COLS} FROM files WHERE id IN ({marks})", part):
                out[r[0]] = self._file(r)
        return out

    def file(self, path: str) -> FileRow | None:
        rows = self._query(f"SELECT {self._FILE_COLS} FROM files WHERE path=?", (path_key(path),))
        return self._file(rows[0]) if rows else None

    def files_by_status(self, *statuses: str) -> list[FileRow]:
        marks = ",".join("?" * len(statuses))
        rows = self._query(f"SELECT {self._FILE_COLS} FROM files WHERE status IN ({marks}) ORDER BY display",
                           statuses)
        return [self._file(r) for r in rows]

    def all_files(self) -> list[FileRow]:
        return [self._file(r) for r in self._query(f"SELECT {self._FILE_COLS} FROM files")]

    def reserve(self, conn: sqlite3.Connection, path: str, root_id: int) -> tuple[int, bool]:
        """A 'pending' row (size -1 never matches the disk), so the file has an id for its chunks.
        Returns the id and whether the row is new (an existing row may own chunks)."""
        row = conn.execute("SELECT id FROM files WHERE path=?", (path_key(path),)).fetchone()
        if row:
            conn.execute("UPDATE files SET status=?, size=-1, root_id=? WHERE id=?", (PENDING, root_id, row[0]))
            return int(row[0]), False
        cur = conn.execute(
            "INSERT INTO files (path, display, root_id, size, mtime_ns, status, updated_at)"
            " VALUES (?, ?, ?, -1, 0, ?, ?)", (path_key(path), display(path), root_id, PENDING, time.time()))
        return int(cur.lastrowid or 0), True

    def record(self, conn: sqlite3.Connection, rec: FileRecord) -> int:
        conn.execute(
            "INSERT INTO files (path, display, root_id, size, mtime_ns, sha256, kind, status, reason, chunks,"
            " updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(path) DO UPDATE SET root_id=excluded.root_id,"
            " size=excluded.size, mtime_ns=excluded.mtime_ns, sha256=excluded.sha256, kind=excluded.kind,"
            " status=excluded.status, reason=excluded.reason, chunks=excluded.chunks,"
            " updated_at=excluded.updated_at",
            (path_key(rec.path), display(rec.path), rec.root_id, rec.size, rec.mtime_ns, rec.sha256, rec.kind,
             rec.status, rec.reason, rec.chunks, time.time()))
        row = conn.execute("SELECT id FROM files WHERE path=?", (path_key(rec.path),)).fetchone()
        return int(row[0])

    def touch(self, conn: sqlite3.Connection, file_id: int, size: int, mtime_ns: int) -> None:
        conn.execute("UPDATE files SET size=?, mtime_ns=? WHERE id=?", (size, mtime_ns, file_id))

    def move(self, conn: sqlite3.Connection, file_id: int, new_path: str, root_id: int, size: int,
             mtime_ns: int) -> None:
        conn.execute("DELETE FROM files WHERE path=? AND id<>?", (path_key(new_path), file_id))
        conn.execute("UPDATE files SET path=?, display=?, root_id=?, size=?, mtime_ns=?, updated_at=? WHERE id=?",
                     (path_key(new_path), display(new_path), root_id, size, mtime_ns, time.time(), file_id))

    def forget(self, conn: sqlite3.Connection, file_ids: Iterable[int]) -> None:
        conn.executemany("DELETE FROM files WHERE id=?", [(i,) for i in file_ids])

    def file_ids(self) -> set[int]:
        return {r[0] for r in self._query("SELECT id FROM files")}

    def has_files(self) -> bool:
        return bool(self._query("SELECT 1 FROM files LIMIT 1"))

    def counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self._query("SELECT status, COUNT(*) FROM files GROUP BY status")}

    def total_chunks(self) -> int:
        return int(self._query("SELECT COALESCE(SUM(chunks), 0) FROM files")[0][0])

    # --- runs (the job journal) -----------------------------------------------------------

    def start_run(self) -> tuple[int, bool]:
        """Journal a run's start. Returns (run id, whether the previous run never finished)."""
        with self.transaction() as c:
            unfinished = c.execute("SELECT COUNT(*) FROM runs WHERE finished_at IS NULL").fetchone()[0] > 0
            c.execute("UPDATE runs SET finished_at=?, outcome='interrupted' WHERE finished_at IS NULL",
                      (time.time(),))
            cur = c.execute("INSERT INTO runs (started_at) VALUES (?)", (time.time(),))
            return int(cur.lastrowid or 0), unfinished

    def finish_run(self, run_id: int, outcome: str, report: dict[str, Any]) -> None:
        with self.transaction() as c:
            c.execute("UPDATE runs SET finished_at=?, outcome=?, report=? WHERE id=?",
                      (time.time(), outcome, json.dumps(report), run_id))
            c.execute("DELETE FROM runs WHERE id < ? - 200", (run_id,))  # keep the journal short

    def last_runs(self, n: int = 20) -> list[dict[str, Any]]:
        rows = self._query("SELECT started_at, finished_at, outcome, report FROM runs ORDER BY id DESC LIMIT ?",
                           (n,))
        return [{"started_at": r[0], "finished_at": r[1], "outcome": r[2],
                 "report": json.loads(r[3]) if r[3] else None} for r in rows]
