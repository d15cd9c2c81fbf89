"""Kill `quire index` with SIGKILL at several moments; the next run must give exactly a clean run's rows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from app.core.config import Paths, Settings
from app.core.library import Library
from tests.integration.conftest import REPO, chunk_rows, model_copy, run_cli, write

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


def make_corpus(d: Path, n: int) -> None:
    for i in range(n):
        paras = "\n\n".join(f"Section {j} of document {i}: the {w} clause covers item {i * 10 + j} and its "
                            f"{w}-related obligations in some detail, written out at length." * 2
                            for j, w in enumerate(["notice", "deposit", "repair", "renewal", "insurance"]))
        write(d / f"group{i % 5}" / f"doc{i:03d}.md", f"# Document {i}\n\n{paras}\n")


def start_index(home: Path, folder: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("QUIRE_")}
    e.update({"QUIRE_HOME": str(home), "PYTHONPATH": str(REPO), **env})
    return subprocess.Popen([sys.executable, "-m", "app", "index", str(folder), "--json"], env=e,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=str(REPO),
                            start_new_session=True)


def snapshot(home: Path, env: dict[str, str]) -> tuple[list, Counter, set]:
    settings = Settings().with_values({f"embedding.{k.split('_', 2)[2].lower()}": v for k, v in env.items()})
    with Library.open(Paths.default({"QUIRE_HOME": str(home)}), settings) as lib:
        rows = chunk_rows(lib)
        st = lib.store()
        vt = st.vectors()
        vec_hashes = Counter(vt.to_arrow().column("text_hash").to_pylist()) if vt is not None else Counter()
        chunk_hashes = set(st.chunks.to_arrow().column("text_hash").to_pylist())
        manifest = sorted((f.display, f.status, f.chunks) for f in lib.manifest.all_files())
    return rows + [("manifest", manifest)], vec_hashes, chunk_hashes


def test_sigkill_at_any_moment_then_rerun_equals_a_clean_run(tmp_path, minilm_path):
    folder = tmp_path / "corpus"
    make_corpus(folder, 60)
    env = {"QUIRE_EMBEDDING_MODEL_PATH": str(minilm_path)}
    home = tmp_path / "crashed"
    kills = 0
    # Each run goes on where the killed one stopped, so the kills come soon: indexing got faster
    # (at 2.5 / 3.5 / 4.5 s the third run had finished, in 3.5 s, on a quiet machine).
    for delay in (1.5, 2.5, 3.0, 3.5, 5.0, 8.0):
        p = start_index(home, folder, env)
        time.sleep(delay)
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)  # the indexer and its parser processes, mid-flight
            kills += 1
        p.wait(30)
        # Files change between crashes too: an edit, a rename, a deletion.
        if delay == 3.0:
            (folder / "group1" / "doc001.md").write_text("# Document 1\n\nRewritten: only the notice clause.\n")
            (folder / "group2" / "doc002.md").rename(folder / "group2" / "doc002-renamed.md")
            (folder / "group3" / "doc003.md").unlink()
    assert kills >= 3, "the corpus indexed too fast for the kills to land mid-run"
    run_cli(home, "index", "--json", env=env, check=True)

    clean = tmp_path / "clean"
    run_cli(clean, "index", str(folder), "--json", env=env, check=True)

    rows_crashed, vec_crashed, chunks_crashed = snapshot(home, env)
    rows_clean, vec_clean, chunks_clean = snapshot(clean, env)
    assert rows_crashed == rows_clean  # no duplicates, no orphans, nothing missing
    assert max(vec_crashed.values()) == 1  # one vector per chunk text, never two
    assert set(vec_crashed) == chunks_crashed == chunks_clean == set(vec_clean)


# A SIGKILL right after one step of a command: the step runs, then the process dies at once.
KILL_AFTER = """
import importlib, os, signal, sys
when, _, target = sys.argv[1].rpartition(" ")
module, _, name = target.rpartition(".")
owner = importlib.import_module(module.split(":")[0])
if ":" in module:
    owner = getattr(owner, module.split(":")[1])
step = getattr(owner, name)
def killed(*a, **k):
    if when != "before":
        step(*a, **k)
    os.kill(os.getpid(), signal.SIGKILL)
setattr(owner, name, killed)
from app.cli import main
sys.exit(main(sys.argv[2:]))
"""


def killed_after(home: Path, step: str, *argv: str, env: dict[str, str] | None = None) -> int:
    """Run `quire ARGV` and SIGKILL it right after ``step`` ("module:Class.method" or
    "module.function"), or right before it ("before module.function")."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("QUIRE_")}
    e.update({"QUIRE_HOME": str(home), "PYTHONPATH": str(REPO), "QUIRE_EMBEDDING_BACKEND": "none", **(env or {})})
    p = subprocess.run([sys.executable, "-c", KILL_AFTER, step, *argv], env=e, cwd=str(REPO),
                       capture_output=True, text=True, timeout=300)
    return p.returncode


NONE = {"QUIRE_EMBEDDING_BACKEND": "none"}


def keyword_snapshot(home: Path) -> list:
    settings = Settings().with_values({"embedding.backend": "none"})
    with Library.open(Paths.default({"QUIRE_HOME": str(home)}), settings) as lib:
        return chunk_rows(lib) + [("manifest", sorted((f.display, f.status, f.chunks)
                                                      for f in lib.manifest.all_files()))]


@pytest.mark.parametrize("step", ["before app.core.library.remove_store", "app.core.library.remove_store"])
def test_rebuild_all_killed_while_it_clears_the_index(tmp_path, step):
    """`rebuild --all` deleted the index before the manifest forgot it: killed in between, the
    manifest called every file indexed beside an empty index, and `quire index` found them
    all unchanged (0 chunks, with status and doctor saying all was well)."""
    folder = tmp_path / "corpus"
    make_corpus(folder, 12)
    home, clean = tmp_path / "home", tmp_path / "clean"
    run_cli(home, "index", str(folder), env=NONE, check=True)
    run_cli(clean, "index", str(folder), env=NONE, check=True)
    assert killed_after(home, step, "rebuild", "--all", "--yes") == -signal.SIGKILL
    run_cli(home, "index", env=NONE, check=True)
    assert keyword_snapshot(home) == keyword_snapshot(clean)


def test_an_index_killed_while_being_deleted_is_finished_off(tmp_path):
    """The index is renamed aside before it is deleted: a kill halfway leaves no half-deleted
    table where the next run would open it, only the renamed folder, which goes next time."""
    folder = tmp_path / "corpus"
    make_corpus(folder, 3)
    home = tmp_path / "home"
    run_cli(home, "index", str(folder), env=NONE, check=True)
    half = home / "index.removing-4242"
    half.mkdir()
    (half / "part.lance").mkdir()
    run_cli(home, "index", env=NONE, check=True)
    assert not half.exists() and (home / "index").is_dir()


@pytest.mark.parametrize("step", ["app.core.manifest:Manifest.remove_root", "app.core.store:Store.delete_files"])
def test_library_remove_killed_halfway_loses_the_folder_s_rows_on_the_next_run(tmp_path, step):
    """Rows first, manifest second: killed in between, the folder stayed in the library as
    indexed with none of its rows, and nothing noticed."""
    a, b = tmp_path / "a", tmp_path / "b"
    make_corpus(a, 6)
    make_corpus(b, 6)
    home, clean = tmp_path / "home", tmp_path / "clean"
    run_cli(home, "index", str(a), str(b), env=NONE, check=True)
    run_cli(clean, "index", str(a), env=NONE, check=True)
    assert killed_after(home, step, "library", "remove", str(b)) == -signal.SIGKILL
    if step.endswith("delete_files"):  # the folders' backup lets go of it with the manifest, not at the end
        assert [r["path"] for r in json.loads((home / "library-folders.json").read_text())] == [str(a)]
    run_cli(home, "index", env=NONE, check=True)
    assert keyword_snapshot(home) == keyword_snapshot(clean)


def test_a_rebuild_killed_after_its_swap_leaves_no_old_tables(tmp_path):
    """The old chunks table and the staging folder stayed on disk for good."""
    folder = tmp_path / "corpus"
    make_corpus(folder, 6)
    home = tmp_path / "home"
    run_cli(home, "index", str(folder), env=NONE, check=True)
    small = {**NONE, "QUIRE_CHUNKING_CHUNK_SIZE": "120", "QUIRE_CHUNKING_CHUNK_OVERLAP": "20"}
    assert killed_after(home, "app.core.library._swap_db", "rebuild", "--yes", env=small) == -signal.SIGKILL
    assert (home / "rebuild").exists() and (home / "index" / "chunks_1.lance").exists()
    run_cli(home, "index", env=small, check=True)
    assert sorted(p.name for p in (home / "index").iterdir()) == ["chunks_2.lance"]
    assert not (home / "rebuild").exists()


def vectors_of(home: Path, env: dict[str, str]) -> dict[str, bytes]:
    settings = Settings().with_values({"embedding.model_path": env["QUIRE_EMBEDDING_MODEL_PATH"]})
    with Library.open(Paths.default({"QUIRE_HOME": str(home)}), settings, write=False) as lib:
        t = lib.store().vectors().to_arrow()
    return {h: np.asarray(v, dtype=np.float32).tobytes()
            for h, v in zip(t.column("text_hash").to_pylist(), t.column("vector").to_pylist(), strict=True)}


def test_a_re_embed_killed_halfway_keeps_the_vectors_in_use(tmp_path, minilm_path):
    """Other model files under the same model name: the rebuild dropped the vectors table in
    use, then re-embedded into it; killed, and the setting put back, every vector was gone for
    good (status and doctor saying all was well)."""
    folder = tmp_path / "corpus"
    make_corpus(folder, 4)
    home = tmp_path / "home"
    a = {"QUIRE_EMBEDDING_MODEL_PATH": str(model_copy(minilm_path, tmp_path / "model-a"))}
    b = {"QUIRE_EMBEDDING_MODEL_PATH": str(model_copy(minilm_path, tmp_path / "model-b", other=True))}
    run_cli(home, "index", str(folder), env=a, check=True)
    in_use = vectors_of(home, a)
    assert in_use
    for step in ("app.core.store:Store.drop_table", "app.core.store:Store.add_vectors"):
        assert killed_after(home, step, "rebuild", "--yes",
                            env={"QUIRE_EMBEDDING_BACKEND": "fastembed", **b}) == -signal.SIGKILL
        assert vectors_of(home, a) == in_use  # model a's, all of them (they were gone)
    assert run_cli(home, "search", "deposit clause", "--json", env=a, check=True).stdout.strip() != "[]"
    p = run_cli(home, "rebuild", "--yes", "--json", env=b)  # and the rebuild, run again, completes
    assert p.returncode == 0, p.stderr
    final = json.loads(run_cli(home, "status", "--json", env=b, check=True).stdout)
    assert final["vectors"] == final["chunks"] and len(list((home / "index").glob("vectors_*"))) == 1


def test_rebuild_all_killed_before_it_deletes_the_index_leaves_no_vectors_to_take_up(tmp_path, minilm_path):
    """Killed after the manifest let go of the index, before the index was deleted: the old
    vectors table stayed and the next index took it up, another model's vectors under this
    model's name (chunks_embedded 0)."""
    folder = tmp_path / "corpus"
    make_corpus(folder, 3)
    home = tmp_path / "home"
    a = {"QUIRE_EMBEDDING_MODEL_PATH": str(model_copy(minilm_path, tmp_path / "model-a"))}
    b = {"QUIRE_EMBEDDING_BACKEND": "fastembed",
         "QUIRE_EMBEDDING_MODEL_PATH": str(model_copy(minilm_path, tmp_path / "model-b", other=True))}
    run_cli(home, "index", str(folder), env=a, check=True)
    assert killed_after(home, "before app.core.library.remove_store", "rebuild", "--all", "--yes",
                        env=b) == -signal.SIGKILL
    r = json.loads(run_cli(home, "index", "--json", env=b, check=True).stdout)
    assert r["chunks_written"] > 0 and r["chunks_embedded"] == r["chunks_written"]
