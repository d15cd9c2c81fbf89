"""A full disk is said as such, wherever it is hit (LanceDB, the manifest, the chat history)."""

from __future__ import annotations

import errno
import sqlite3

import pytest

from app.core.chats import ChatStore
from app.core.errors import DiskFullError, StoreCorruptError, is_disk_full
from app.core.manifest import Manifest
from app.core.store import _lance_errors

LANCE_ENOSPC = ("lance error: LanceError(IO): No space left on device (os error 28), "
                "/root/.cargo/registry/src/lance-file-13.0.0/src/writer/structural.rs:191:9")


@pytest.mark.parametrize("exc, full", [
    (OSError(errno.ENOSPC, "No space left on device"), True),
    (RuntimeError(LANCE_ENOSPC), True),
    (sqlite3.OperationalError("database or disk is full"), True),
    (RuntimeError("lance error: LanceError(IO): There is not enough space on the disk. (os error 112)"), True),
    (OSError(errno.EACCES, "Permission denied"), False),
    (RuntimeError("lance error: Corrupt file"), False),
])
def test_is_disk_full(exc, full):
    assert is_disk_full(exc) is full


def test_lancedb_out_of_space_is_not_called_damaged(tmp_path):
    with pytest.raises(DiskFullError) as e, _lance_errors(str(tmp_path / "index")):
        raise RuntimeError(LANCE_ENOSPC)
    assert "is full" in e.value.message and "Free some space" in (e.value.action or "")
    with pytest.raises(StoreCorruptError), _lance_errors(str(tmp_path / "index")):
        raise RuntimeError("lance error: Corrupt file")


def test_sqlite_out_of_space_in_a_transaction(tmp_path):
    m = Manifest(tmp_path / "manifest.sqlite3")
    with pytest.raises(DiskFullError), m.transaction():
        raise sqlite3.OperationalError("database or disk is full")
    with m.transaction() as conn:  # the connection is usable afterwards
        conn.execute("SELECT 1")
    chats = ChatStore(tmp_path / "chats.sqlite3")
    with pytest.raises(DiskFullError), chats._write():
        raise sqlite3.OperationalError("database or disk is full")
    chats.close()
    m.close()
