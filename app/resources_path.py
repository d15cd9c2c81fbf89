"""Where Quire's bundled files are, the same way from a source checkout and from a frozen build.

A PyInstaller build (packaging/quire.spec) puts ``resources/`` and, when the installer
carries it, the default embedding model under ``sys._MEIPASS``::

    <_MEIPASS>/resources/icons/quire.svg ...
    <_MEIPASS>/models/sentence-transformers--all-MiniLM-L6-v2/model.onnx ...

From source the same names resolve against the repository root (``resources/``), or
``app/resources`` for an installed wheel. No Qt, no third-party import: core, the CLI
and the window can all use it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent  # .../app


def is_frozen() -> bool:
    """True inside a PyInstaller build."""
    return bool(getattr(sys, "frozen", False)) and hasattr(sys, "_MEIPASS")


def bundle_root() -> Path:
    """The folder bundled data lives under: ``sys._MEIPASS`` when frozen, else the repository root."""
    if is_frozen():
        return Path(sys._MEIPASS)  # type: ignore[attr-defined]
    return _HERE.parent


def resources_dir() -> Path:
    """``resources/``: frozen, in a source checkout, or inside an installed ``app`` package."""
    candidates = [bundle_root() / "resources", _HERE / "resources"]
    for c in candidates:
        if c.is_dir():
            return c
    return candidates[0]


def resource_path(*parts: str) -> Path:
    """A file under ``resources/``, e.g. ``resource_path("icons", "quire.svg")``. It may not exist."""
    return resources_dir().joinpath(*parts)


def model_folder_name(model: str) -> str:
    """The folder name a model gets, the same rule as ``app.core.embed.model_dir_for``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "--", model)


def bundled_model_dir(model: str) -> Path | None:
    """The embedding model shipped inside the installer, or None when this build has none.

    Only a frozen build carries one (``<_MEIPASS>/models/<name>/``, holding ``model.onnx`` and
    its tokenizer files); from source the model is downloaded or pointed at with
    ``[embedding] model_path``.
    """
    if not is_frozen():
        return None
    models = bundle_root() / "models"
    want = model_folder_name(model).lower()  # fastembed matches model names without case
    for d in models.iterdir() if models.is_dir() else ():
        if d.name.lower() == want and any(d.glob("*.onnx")):
            return d
    return None
