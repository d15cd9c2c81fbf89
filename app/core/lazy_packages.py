"""Import a package's re-exported names when they are first used, not with the package.

``import lancedb`` takes ~1.1 s, and ~0.6 s of it is ``lance_namespace_urllib3_client``: a
client generated for LanceDB's REST catalogs, whose ``__init__`` modules import ~20 API
classes and ~300 pydantic models. Quire opens local tables only and never calls it, yet
every `quire` command paid for it at start.

``lazy_init(packages)`` makes the named packages' ``__init__`` lazy while it is active: the
package module is created with its ``__path__`` (so its submodules import as usual), and a
module ``__getattr__`` imports ``sub.module`` the first time ``name`` is read, for every
``from sub.module import name`` line of the real ``__init__``. Any name is still there when
asked for; what nobody asks for is never imported. Where the ``__init__`` source cannot be
read (a frozen build without its .py files) or holds anything but such lines, the package
imports normally.
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any


def _exports(source: str) -> tuple[dict[str, tuple[str, str]], dict[str, str]] | None:
    """``{name: (module, attribute)}`` and string constants of an ``__init__`` made only of
    a docstring, ``from x import y`` lines and ``__dunder__ = "..."``; None if it does more."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return None
    names: dict[str, tuple[str, str]] = {}
    consts: dict[str, str] = {}
    for i, node in enumerate(body):
        if i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and all(a.name != "*" for a in node.names):
            for a in node.names:
                names[a.asname or a.name] = (node.module, a.name)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(target := node.targets[0], ast.Name) and target.id.startswith("__") \
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            consts[target.id] = node.value.value
        else:
            return None
    return names, consts


class _LazyInitLoader(importlib.abc.Loader):
    def __init__(self, names: dict[str, tuple[str, str]], consts: dict[str, str]) -> None:
        self._names = names
        self._consts = consts

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # the default module object, with __path__ from the spec

    def exec_module(self, module: ModuleType) -> None:
        names = self._names
        module.__dict__.update(self._consts)
        module.__all__ = list(names)  # type: ignore[attr-defined]

        def __getattr__(attr: str) -> Any:
            where = names.get(attr)
            if where is None:
                raise AttributeError(f"module {module.__name__!r} has no attribute {attr!r}")
            value = getattr(importlib.import_module(where[0]), where[1])
            setattr(module, attr, value)
            return value

        module.__getattr__ = __getattr__  # type: ignore[attr-defined]


class _LazyInitFinder(importlib.abc.MetaPathFinder):
    def __init__(self, packages: Sequence[str]) -> None:
        self.packages = frozenset(packages)

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.packages:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not spec.submodule_search_locations:
            return None
        try:  # get_source: a frozen build's importer has it too, if the .py files ship
            source = spec.loader.get_source(fullname)  # type: ignore[union-attr]
        except Exception:
            source = None
        found = _exports(source) if source else None
        if found is None:
            return None  # import it the ordinary way
        spec.loader = _LazyInitLoader(*found)
        return spec


@contextmanager
def lazy_init(packages: Sequence[str]) -> Iterator[None]:
    """While active, ``packages`` that are not imported yet get lazy ``__init__`` modules."""
    finder = _LazyInitFinder(packages)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
