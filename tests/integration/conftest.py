"""A throwaway Quire home with a real LanceDB on disk and a fast deterministic embedder."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.core import library as library_mod
from app.core.config import Paths, Settings
from app.core.library import Library
from tests.helpers.embedders import HashEmbedder

REPO = Path(__file__).resolve().parents[2]


def model_copy(model: Path, dest: Path, other: bool = False) -> Path:
    """The model's folder copied to ``dest`` (weights linked); ``other``: a different model of
    the same size and name (another setting in its configuration)."""
    dest.mkdir()
    for f in model.iterdir():
        (dest / f.name).symlink_to(f) if f.suffix == ".onnx" or f.is_dir() else shutil.copy(f, dest / f.name)
    if other:
        cfg = json.loads((dest / "config.json").read_text())
        (dest / "config.json").write_text(json.dumps({**cfg, "layer_norm_eps": 1e-6}))
    return dest


def can_mount() -> bool:
    return sys.platform.startswith("linux") and os.geteuid() == 0 and shutil.which("mount") is not None


@contextlib.contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    """A real filesystem of ``size`` (tmpfs) at ``where``: a full disk without filling the machine's,
    or a drive to unmount."""
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths.default({"QUIRE_HOME": str(tmp_path / "home")})


@pytest.fixture
def embedder(monkeypatch: pytest.MonkeyPatch) -> HashEmbedder:
    """Every Library in the test gets this embedder instead of loading a model."""
    emb = HashEmbedder()
    monkeypatch.setattr(library_mod, "load_embedder", lambda settings, paths, **kw: emb)
    return emb


@pytest.fixture
def open_lib(paths: Paths) -> Iterator[Callable[..., Library]]:
    opened: list[Library] = []

    def _open(settings: Settings | None = None, write: bool = True, **values: Any) -> Library:
        s = (settings or Settings()).with_values({k.replace("__", "."): v for k, v in values.items()})
        lib = Library.open(paths, s, write=write)
        opened.append(lib)
        return lib

    yield _open
    for lib in opened:
        lib.close()


def run_cli(home: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300,
            check: bool = False) -> subprocess.CompletedProcess[str]:
    """`quire ARGS` in a fresh interpreter, as a user runs it."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("QUIRE_")}
    e.update({"QUIRE_HOME": str(home), "PYTHONPATH": str(REPO)})
    e.update(env or {})
    p = subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, env=e,
                       timeout=timeout, cwd=str(REPO), stdin=subprocess.DEVNULL)  # not a terminal
    if check and p.returncode != 0:
        raise AssertionError(f"quire {' '.join(args)} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def chunk_rows(lib: Library) -> list[tuple[str, int, str, int | None]]:
    """Every chunk row as (path, chunk_no, text, page), sorted: the index's observable content."""
    tbl = lib.store().chunks
    if tbl is None:
        return []
    t = tbl.to_arrow().select(["path", "chunk_no", "text", "page"]).to_pylist()
    return sorted((r["path"], r["chunk_no"], r["text"], r["page"]) for r in t)
