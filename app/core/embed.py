"""Embedding backends: in-process ONNX through fastembed (default), or an Ollama model.

Both are built from Quire's settings and handed to whoever needs them; nothing reads a
global. A backend that cannot load (no model on disk, no network to fetch it) raises
``EmbeddingUnavailableError``: callers then index and search by keywords alone and say so.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .chunking import model_max_tokens
from .config import Paths, Settings
from .errors import EmbeddingUnavailableError, QuireError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EmbedderInfo:
    backend: str
    model: str
    dim: int
    max_tokens: int | None  # None: the backend does not say
    tokenizer_file: str  # "" when there is no local tokenizer


class Embedder(Protocol):
    info: EmbedderInfo

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 array (len(texts), dim), L2-normalised."""
        ...


def _normalise(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float32)
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return a / norms


class FastEmbedBackend:
    def __init__(self, model: str, model_path: str, cache_dir: Path, batch_size: int = 32,
                 threads: int | None = None, allow_download: bool = True) -> None:
        self.batch_size = batch_size
        self._lock = threading.Lock()  # one ONNX session; callers from several threads take turns
        try:
            from fastembed import TextEmbedding
        except ImportError as exc:  # a broken install, not the user's fault
            raise EmbeddingUnavailableError(f"fastembed cannot be imported: {exc}.") from None
        supported = {m["model"].lower(): m for m in TextEmbedding.list_supported_models()}
        desc = supported.get(model.lower())
        if desc is None:
            raise EmbeddingUnavailableError(
                f"The embedding model {model!r} is not one fastembed knows.",
                "Set [embedding] model to a fastembed model such as sentence-transformers/all-MiniLM-L6-v2.")
        if model_path:
            mp = Path(model_path).expanduser()
            if not (mp / "model.onnx").exists() and not any(mp.glob("*.onnx")):
                raise EmbeddingUnavailableError(
                    f"No ONNX model in {mp} (embedding.model_path).",
                    "Point [embedding] model_path at a folder with model.onnx and tokenizer.json, or leave it "
                    "empty to download the model.")
        cache_dir.mkdir(parents=True, exist_ok=True)
        try:
            try:
                self._model = TextEmbedding(model, cache_dir=str(cache_dir), threads=threads,
                                            specific_model_path=model_path or None, local_files_only=True)
            except Exception:
                if model_path or not allow_download:
                    raise
                log.info("downloading embedding model %s to %s", model, cache_dir)
                self._model = TextEmbedding(model, cache_dir=str(cache_dir), threads=threads)
        except Exception as exc:
            where = model_path or str(cache_dir)
            raise EmbeddingUnavailableError(
                f"The embedding model {model} could not be loaded from {where} ({_short(exc)}).",
                "Connect to the internet once so Quire can download it, set [embedding] model_path to a local "
                "copy, or set [embedding] backend = \"none\" for keyword search only.") from None
        model_dir = Path(getattr(self._model.model, "_model_dir", model_path or cache_dir))
        tok = model_dir / "tokenizer.json"
        self.info = EmbedderInfo("fastembed", model, int(desc["dim"]), model_max_tokens(model_dir),
                                 str(tok) if tok.exists() else "")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        with self._lock:
            vecs = list(self._model.embed(list(texts), batch_size=self.batch_size))
        return _normalise(np.vstack(vecs))


class OllamaEmbedBackend:
    def __init__(self, settings: Settings) -> None:
        from .ollama import OllamaClient

        self._client = OllamaClient(settings.ollama)
        model = settings.ollama.embed_model
        try:
            probe = self._client.embed(["dimension probe"])
        except QuireError as exc:
            raise EmbeddingUnavailableError(f"Ollama embedding model {model}: {exc.message}", exc.action) from None
        self.info = EmbedderInfo("ollama", model, len(probe[0]), None, "")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        return _normalise(np.asarray(self._client.embed(list(texts)), dtype=np.float32))


def load_embedder(settings: Settings, paths: Paths, allow_download: bool = True) -> Embedder | None:
    """The configured backend, or None for ``backend = "none"``. Raises EmbeddingUnavailableError."""
    e = settings.embedding
    if e.backend == "none":
        return None
    if e.backend == "ollama":
        return OllamaEmbedBackend(settings)
    return FastEmbedBackend(e.model, e.model_path, paths.models_dir, e.batch_size, allow_download=allow_download)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
