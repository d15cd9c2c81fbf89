"""Embedders for tests: deterministic, fast, and instrumented (no model download, no network)."""

from __future__ import annotations

import re
import threading
import zlib
from collections.abc import Sequence

import numpy as np

from app.core.embed import EmbedderInfo

_WORD = re.compile(r"\w+")


class HashEmbedder:
    """Bag of hashed words: texts sharing words get similar vectors. Counts what it embeds."""

    def __init__(self, dim: int = 64, model: str = "sentence-transformers/all-MiniLM-L6-v2") -> None:
        self.info = EmbedderInfo("fastembed", model, dim, 254, "")
        self.calls = 0
        self.texts: list[str] = []
        self.gate = threading.Event()  # cleared: embed() blocks until it is set
        self.gate.set()
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.gate.wait()
        out = np.zeros((len(texts), self.info.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in _WORD.findall(t.lower()):
                out[i, zlib.crc32(w.encode()) % self.info.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1
        with self._lock:
            self.calls += 1
            self.texts.extend(texts)
        return out / norms
