"""Kill `quire index` with SIGKILL at several moments; the next run must give exactly a clean run's rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from app.core.config import Paths, Settings
from app.core.library import Library
from tests.integration.conftest import REPO, chunk_rows, run_cli, write

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
