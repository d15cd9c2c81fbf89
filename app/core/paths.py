"""File paths as Quire stores them.

A path on disk is a ``str`` that may carry lone surrogates (Python's way of holding file
names that are not valid UTF-8). SQLite and Arrow need real text, so the manifest keys a
file by its exact bytes (``path_key``) and everything a person reads gets ``display``,
which shows undecodable bytes as ``\\xNN``.
"""

from __future__ import annotations

import os
import sys


def path_key(path: str) -> bytes:
    """The exact bytes of a path: a lossless key, whatever the encoding of its name."""
    return os.fsencode(path)


_FS_ENCODING, _FS_ERRORS = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()


def from_key(key: bytes) -> str:
    return key.decode(_FS_ENCODING, _FS_ERRORS)  # os.fsdecode, without its checks (5,000 per run)


def display(path: str) -> str:
    """A printable form of a path: undecodable bytes appear as ``\\xNN``."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")


def sql_str(value: str) -> str:
    """A SQL string literal for a LanceDB filter: quotes doubled, nothing else interpreted."""
    return "'" + value.replace("'", "''") + "'"


def is_within(path: str, root: str) -> bool:
    """True if ``path`` is ``root`` or lies inside it (both absolute, normalised)."""
    if path == root:
        return True
    root_sep = root if root.endswith(os.sep) else root + os.sep
    return path.startswith(root_sep)
