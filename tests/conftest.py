"""Fixtures shared by every test: a throwaway Quire home and the shared resources."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_dir() -> Path:
    env = os.environ.get("QUIRE_SHARED")
    return Path(env) if env else REPO.parent / "shared"


SHARED = _shared_dir()
MINILM = SHARED / "models" / "all-minilm-l6-v2-onnx"
EVAL_DOCS = SHARED / "eval" / "docs"


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared resources not found at {SHARED} (set QUIRE_SHARED)")
    return SHARED


@pytest.fixture
def minilm_path() -> Path:
    if not MINILM.is_dir():
        pytest.skip(f"MiniLM model not found at {MINILM}")
    return MINILM


@pytest.fixture
def eval_docs() -> Path:
    if not EVAL_DOCS.is_dir():
        pytest.skip(f"eval documents not found at {EVAL_DOCS}")
    return EVAL_DOCS
