"""Content hashes of files: a file's identity across renames, moves and touches."""

from __future__ import annotations

import hashlib

from .types import CancelToken


def sha256_file(path: str, cancel: CancelToken | None = None) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
            if cancel is not None and cancel.cancelled:
                break
    return h.hexdigest()
