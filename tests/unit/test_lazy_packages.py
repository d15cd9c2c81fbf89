"""lazy_init: a package's re-exported names import on first use, and nothing else changes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.core.lazy_packages import lazy_init


def _package(root: Path, name: str, init: str, modules: dict[str, str]) -> None:
    pkg = root / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent(init))
    for mod, body in modules.items():
        (pkg / f"{mod}.py").write_text(textwrap.dedent(body))


@pytest.fixture
def on_path(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith(("lazyq_", "eagerq_"))]:
        del sys.modules[name]


def test_names_import_when_first_read(on_path):
    _package(on_path, "lazyq_pkg", '''
        """A generated client."""
        __version__ = "1.2.3"
        from lazyq_pkg.cheap import Cheap
        from lazyq_pkg.costly import Costly as Renamed
    ''', {"cheap": "class Cheap: pass\n",
          "costly": "import sys\nsys.modules['lazyq_pkg'].costly_ran = True\nclass Costly: pass\n"})
    with lazy_init(["lazyq_pkg"]):
        import lazyq_pkg
    assert lazyq_pkg.__version__ == "1.2.3"
    assert "lazyq_pkg.costly" not in sys.modules and "lazyq_pkg.cheap" not in sys.modules
    from lazyq_pkg import Cheap

    assert Cheap.__module__ == "lazyq_pkg.cheap"
    assert "lazyq_pkg.costly" not in sys.modules
    assert lazyq_pkg.Renamed.__name__ == "Costly" and lazyq_pkg.costly_ran
    assert sorted(lazyq_pkg.__all__) == ["Cheap", "Renamed"]
    with pytest.raises(AttributeError, match="no attribute 'Missing'"):
        _ = lazyq_pkg.Missing
    with pytest.raises(ImportError):
        from lazyq_pkg import Missing  # noqa: F401


def test_an_init_that_does_more_imports_as_usual(on_path):
    _package(on_path, "eagerq_pkg", '''
        from eagerq_pkg.part import Part
        SETTING = Part()
    ''', {"part": "class Part: pass\n"})
    with lazy_init(["eagerq_pkg"]):
        import eagerq_pkg
    assert "eagerq_pkg.part" in sys.modules and isinstance(eagerq_pkg.SETTING, eagerq_pkg.Part)


def test_the_finder_is_gone_afterwards(on_path):
    before = list(sys.meta_path)
    with lazy_init(["lazyq_other"]):
        assert len(sys.meta_path) == len(before) + 1
    assert sys.meta_path == before


def test_lancedb_loads_without_its_rest_client():
    """In a fresh interpreter: Quire's way of importing lancedb leaves the REST catalog API
    unimported, and lancedb still opens a table and searches it."""
    code = textwrap.dedent('''
        import sys, tempfile
        from app.core.store import load_lancedb, _lancedb
        load_lancedb()
        assert "lance_namespace_urllib3_client.api.table_api" not in sys.modules
        lancedb = _lancedb()
        db = lancedb.connect(tempfile.mkdtemp())
        t = db.create_table("t", data=[{"id": 1, "text": "a lazy import"}])
        t.create_index("text", config=_lancedb("index").FTS())
        print(t.search("lazy", query_type="fts").limit(1).to_list()[0]["id"])
        from lance_namespace_urllib3_client import ApiClient  # still there when asked for
        print(ApiClient.__name__)
    ''')
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "ApiClient"]
