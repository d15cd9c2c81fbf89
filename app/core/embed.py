"""Embedding backends: in-process ONNX through fastembed (default), or an Ollama model.

Both are built from Quire's settings and handed to whoever needs them; nothing reads a
global. A backend that cannot load (no model on disk, no network to fetch it) raises
``EmbeddingUnavailableError``: callers then index and search by keywords alone and say so.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
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


DownloadProgress = Callable[[int, int], None]  # (files done, files total)

# Files fastembed reads besides the ONNX weights.
_MODEL_FILES = ["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
                "modules.json", "1_Pooling/config.json"]


def _quiet_fastembed() -> None:
    """fastembed logs through loguru to stderr; Quire reports failures itself."""
    try:
        from loguru import logger

        logger.disable("fastembed")
    except ImportError:
        pass


_FINGERPRINTS: dict[tuple[str, tuple[tuple[str, int, int], ...]], str] = {}


def model_fingerprint(settings: Settings) -> str:
    """What tells apart the model in ``embedding.model_path`` from another one in the same
    place: its configuration and tokenizer files and the size of its weights. "" without a
    ``model_path`` (the model's name says which it is). Two models of the same size under one
    name (bge-small and MiniLM both have 384 dimensions) would otherwise mix their vectors."""
    e = settings.embedding
    if e.backend != "fastembed" or not e.model_path:
        return ""
    folder = Path(e.model_path).expanduser()
    try:
        files = sorted(p for p in folder.rglob("*")
                       if p.is_file() and (p.suffix == ".onnx" or p.name in _IDENTITY_FILES))
        stats = tuple((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    except OSError:
        return ""
    key = (str(folder), stats)
    if key not in _FINGERPRINTS:
        import hashlib

        h = hashlib.sha256()
        for p, (rel, size, _) in zip(files, stats, strict=True):
            h.update(f"{rel}\0{size}\0".encode())
            if p.suffix != ".onnx":  # the weights by size: hashing hundreds of MB per command is not cheap
                try:
                    h.update(p.read_bytes())
                except OSError:
                    return ""
        _FINGERPRINTS[key] = h.hexdigest()[:16] if files else ""
    return _FINGERPRINTS[key]


_IDENTITY_FILES = frozenset({"config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                             "modules.json", "vocab.txt"})


def model_dir_for(model: str, models_dir: Path) -> Path:
    return models_dir / re.sub(r"[^A-Za-z0-9._-]+", "--", model)


def download_model(model: str, models_dir: Path, progress: DownloadProgress | None = None) -> Path:
    """Fetch a fastembed model's files once, into the Quire home. One attempt, no retry loop,
    so an offline machine learns it at once; the hub checks each file's checksum on the way."""
    from fastembed import TextEmbedding

    desc = next((m for m in TextEmbedding._list_supported_models() if m.model.lower() == model.lower()), None)
    if desc is None or not desc.sources.hf:
        raise EmbeddingUnavailableError(f"The embedding model {model!r} has no download source.")
    target = model_dir_for(model, models_dir)
    target.mkdir(parents=True, exist_ok=True)
    tqdm_class = _progress_tqdm(progress) if progress else None
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(repo_id=desc.sources.hf, local_dir=str(target),
                          allow_patterns=[desc.model_file, *desc.additional_files, *_MODEL_FILES],
                          tqdm_class=tqdm_class)
    except Exception as exc:
        raise EmbeddingUnavailableError(
            f"Could not download the embedding model {model} ({_short(exc)}).",
            "Connect to the internet once so Quire can fetch it (about "
            f"{desc.size_in_GB * 1000:.0f} MB), set [embedding] model_path to a local copy, or set "
            "[embedding] backend = \"none\" for keyword search only.") from None
    (target / ".complete").write_text(desc.sources.hf, encoding="utf-8")
    return target


def _progress_tqdm(progress: DownloadProgress) -> type:
    from tqdm.auto import tqdm

    class _Reporting(tqdm):  # type: ignore[misc, valid-type]
        def update(self, n: float | None = 1) -> bool | None:
            out = super().update(n)
            progress(int(self.n), int(self.total or 0))
            return out

    return _Reporting


class FastEmbedBackend:
    def __init__(self, model: str, model_path: str, models_dir: Path, batch_size: int = 32,
                 threads: int | None = None, allow_download: bool = True,
                 download_progress: DownloadProgress | None = None) -> None:
        self.batch_size = batch_size
        self._lock = threading.Lock()  # one ONNX session; callers from several threads take turns
        try:
            from fastembed import TextEmbedding
        except ImportError as exc:  # a broken install, not the user's fault
            raise EmbeddingUnavailableError(f"fastembed cannot be imported: {exc}.") from None
        _quiet_fastembed()
        desc = next((m for m in TextEmbedding.list_supported_models() if m["model"].lower() == model.lower()), None)
        if desc is None:
            raise EmbeddingUnavailableError(
                f"The embedding model {model!r} is not one fastembed knows.",
                "Set [embedding] model to a fastembed model such as sentence-transformers/all-MiniLM-L6-v2.")
        if model_path:
            mdir = Path(model_path).expanduser()
            if not any(mdir.glob("*.onnx")):
                raise EmbeddingUnavailableError(
                    f"No ONNX model in {mdir} (embedding.model_path).",
                    "Point [embedding] model_path at a folder with model.onnx and tokenizer.json, or leave it "
                    "empty to download the model.")
        else:
            mdir = model_dir_for(model, models_dir)
            if not (mdir / ".complete").exists():
                from app.resources_path import bundled_model_dir

                bundled = bundled_model_dir(model)  # installers may carry the default model
                if bundled is not None:
                    mdir = bundled
                elif not allow_download:
                    raise EmbeddingUnavailableError(
                        f"The embedding model {model} has not been downloaded yet.",
                        "Run `quire index` while online to fetch it, or set [embedding] model_path.")
                else:
                    mdir = download_model(model, models_dir, download_progress)
        try:
            self._model = TextEmbedding(model, threads=threads, specific_model_path=str(mdir))
        except Exception as exc:
            raise EmbeddingUnavailableError(
                f"The embedding model {model} could not be loaded from {mdir} ({_short(exc)}).",
                "Check the folder (embedding.model_path), or delete it to download the model again.") from None
        tok = mdir / "tokenizer.json"
        self.info = EmbedderInfo("fastembed", model, int(desc["dim"]), model_max_tokens(mdir),
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


def load_embedder(settings: Settings, paths: Paths, allow_download: bool = True,
                  download_progress: DownloadProgress | None = None) -> Embedder | None:
    """The configured backend, or None for ``backend = "none"``. Raises EmbeddingUnavailableError."""
    e = settings.embedding
    if e.backend == "none":
        return None
    if e.backend == "ollama":
        return OllamaEmbedBackend(settings)
    return FastEmbedBackend(e.model, e.model_path, paths.models_dir, e.batch_size, allow_download=allow_download,
                            download_progress=download_progress)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
