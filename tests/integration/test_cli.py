"""`quire` as a user runs it: a fresh process, real files, the real MiniLM model, JSON out."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.core.lock import WriterLock
from tests.integration.conftest import REPO, can_mount, run_cli, small_disk, write

INDEX_KEYS = {"files_seen", "files_added", "files_changed", "files_removed", "files_moved", "files_unchanged",
              "files_failed", "chunks_written", "chunks_embedded", "seconds"}


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    d = tmp_path / "contracts"
    write(d / "lease-2024.md", "# Lease\n\n## Termination\n\nEither party may end the lease with sixty days "
                               "written notice, delivered by post or email.\n\n## Deposit\n\nThe deposit is "
                               "two months of rent, returned within thirty days.\n")
    write(d / "recipes.txt", "Slow-cooked tomato sauce needs garlic, basil and patience.")
    return d


def only_json(p) -> object:
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)  # the whole of stdout is one JSON document


def test_index_search_status_with_minilm(tmp_path, docs, minilm_path):
    home = tmp_path / "home"
    env = {"QUIRE_EMBEDDING_MODEL_PATH": str(minilm_path)}
    todo = write(tmp_path / "notes" / "todo.md", "# Todo\n\n- call the landlord about the notice period\n")
    rep = only_json(run_cli(home, "index", str(docs), str(todo), "--json", env=env))
    assert set(rep) >= INDEX_KEYS
    assert rep["files_added"] == 3 and rep["files_failed"] == 0 and rep["chunks_embedded"] == rep["chunks_written"]

    hits = only_json(run_cli(home, "search", "how much notice to end the lease", "-k", "2", "--json", env=env))
    assert [set(h) for h in hits] == [{"path", "page", "score", "text"}] * 2
    assert hits[0]["path"] == str(docs / "lease-2024.md") and hits[0]["page"] is None
    assert hits[0]["score"] >= hits[1]["score"]
    # No word in common and nothing near in meaning: no passage matches (the least unrelated two
    # came back, the first scored 1.0). A paraphrase with no word in common still finds its file.
    assert only_json(run_cli(home, "search", "xyzzyplugh", "--json", env=env)) == []
    p = run_cli(home, "search", "capital of Mongolia", env=env)
    assert "No passages match" in p.stdout and "near it in meaning" in p.stdout + p.stderr
    para = only_json(run_cli(home, "search", "moving out of my flat", "-k", "1", "--json", env=env))
    assert para and para[0]["path"] in (str(docs / "lease-2024.md"), str(todo))

    st = only_json(run_cli(home, "status", "--json", env=env))
    assert {"folders", "files", "chunks", "embedding", "chunking", "store_bytes", "failed"} <= set(st)
    assert st["embedding"] == {"backend": "fastembed", "model": "sentence-transformers/all-MiniLM-L6-v2",
                               "dim": 384}
    assert st["chunking"] == {"chunk_size": 240, "chunk_overlap": 40}
    assert st["files"] == {"indexed": 3} and st["failed"] == [] and st["store_bytes"] > 0
    assert [f["path"] for f in st["folders"]] == sorted([str(docs), str(todo)])

    again = only_json(run_cli(home, "index", "--json", env=env))
    assert again["files_unchanged"] == 3 and again["chunks_embedded"] == 0

    p = run_cli(home, "library", "remove", str(todo), env=env)
    assert p.returncode == 0 and "Removed" in p.stdout
    st = only_json(run_cli(home, "status", "--json", env=env))
    assert st["files"] == {"indexed": 2}
    # `quire library` alone lists, as `quire chats` does (it was a usage error).
    assert only_json(run_cli(home, "library", "--json", env=env)) == [
        {"path": str(docs), "kind": "folder", "paused": False}]


def test_human_output_and_env_override(tmp_path, docs):
    home = tmp_path / "home"
    p = run_cli(home, "index", str(docs), env={"QUIRE_EMBEDDING_BACKEND": "none"})
    assert p.returncode == 0, p.stderr
    assert "2 files: 2 added" in p.stdout
    p = run_cli(home, "search", "garlic basil", env={"QUIRE_EMBEDDING_BACKEND": "none"})
    assert p.returncode == 0 and "recipes.txt" in p.stdout
    assert "keyword search only" in p.stderr
    # A passage's section is named beside its file (a heading path, a spreadsheet's sheet).
    p = run_cli(home, "search", "deposit rent", "-k", "1", env={"QUIRE_EMBEDDING_BACKEND": "none"})
    assert p.stdout.startswith(f"[1] {docs / 'lease-2024.md'} · Lease > Deposit  (score ")
    p = run_cli(home, "search", "garlic", "--type", "docs", env={"QUIRE_EMBEDDING_BACKEND": "none"})
    assert p.returncode == 2 and "'docs' is not a kind of file" in p.stderr and "Use one of:" in p.stderr
    # Copies of a passage are one hit; the terminal names the other files.
    copies = [write(tmp_path / "copies" / d / "recipes.txt", (docs / "recipes.txt").read_text()) for d in "ab"]
    p = run_cli(home, "index", str(tmp_path / "copies"), env={"QUIRE_EMBEDDING_BACKEND": "none"})
    p = run_cli(home, "search", "garlic basil", env={"QUIRE_EMBEDDING_BACKEND": "none"})
    also = [line for line in p.stdout.splitlines() if line.startswith("    also in: ")]
    assert p.stdout.count("garlic") == 1 and len(also) == 1
    shown = p.stdout.split("  (score")[0].removeprefix("[1] ")
    assert sorted([shown, *also[0][len("    also in: "):].split(", ")]) == sorted(
        map(str, [docs / "recipes.txt", *copies]))


@pytest.mark.parametrize("args, expect", [
    (["index", "/definitely/not/here"], "does not exist"),
    (["library", "remove", "/not/in/library"], "not in the library"),
    (["search", "garlic", "-k", "-5"], "-5 is too few: give 1 or more"),  # once: all hits but 5
    (["search", "garlic", "-k", "0"], "0 is too few: give 1 or more"),
    (["search", "  "], "The search is empty."),
])
def test_bad_paths_are_clear_errors(tmp_path, args, expect):
    p = run_cli(tmp_path / "home", *args, env={"QUIRE_EMBEDDING_BACKEND": "none"})
    assert p.returncode != 0 and expect in p.stderr
    assert "Traceback" not in p.stderr and p.stdout == ""


@pytest.mark.parametrize("command", [["search", "garlic"], ["status"], ["index"]])
def test_a_data_folder_that_is_a_file_is_a_clear_error(tmp_path, command):
    # search and status went on as if the library were empty; index said "File exists".
    home = tmp_path / "home"
    home.write_text("not a folder")
    p = run_cli(home, *command, env={"QUIRE_EMBEDDING_BACKEND": "none"})
    assert p.returncode == 2 and "is a file, not a folder" in p.stderr and p.stdout == ""


def test_bad_setting_is_refused_with_key_value_and_allowed(tmp_path, docs):
    p = run_cli(tmp_path / "home", "index", str(docs), env={"QUIRE_EMBEDDING_BACKEND": "magic"})
    assert p.returncode == 2
    assert "embedding.backend" in p.stderr and "'magic'" in p.stderr and '"fastembed"' in p.stderr
    assert "Fix embedding.backend in the QUIRE_EMBEDDING_BACKEND variable" in p.stderr  # where it came from
    home = tmp_path / "home2"
    write(home / "settings.toml", "[chunking]\nchunk_size = \"big\"\n")
    p = run_cli(home, "status")
    assert p.returncode == 2 and "chunking.chunk_size" in p.stderr and "whole number" in p.stderr
    assert "Fix chunking.chunk_size in settings.toml." in p.stderr


def test_locked_store_is_a_clear_error(tmp_path, docs):
    home = tmp_path / "home"
    with WriterLock(home / "writer.lock"):
        p = run_cli(home, "index", str(docs), env={"QUIRE_EMBEDDING_BACKEND": "none"})
    assert p.returncode == 75 and "Another Quire" in p.stderr and "Traceback" not in p.stderr  # EX_TEMPFAIL
    # readers are never blocked by the writer
    assert run_cli(home, "status", "--json").returncode == 0


def test_corrupt_manifest_is_a_clear_error(tmp_path, docs):
    home = tmp_path / "home"
    home.mkdir()
    (home / "manifest.sqlite3").write_bytes(b"this is not a database" * 100)
    p = run_cli(home, "index", str(docs), env={"QUIRE_EMBEDDING_BACKEND": "none"})
    assert p.returncode != 0 and "damaged" in p.stderr and "Traceback" not in p.stderr


def test_corrupt_index_is_a_clear_error(tmp_path, docs):
    home = tmp_path / "home"
    env = {"QUIRE_EMBEDDING_BACKEND": "none"}
    run_cli(home, "index", str(docs), env=env, check=True)
    for f in (home / "index").rglob("*.lance"):
        if f.is_dir():
            continue
        f.write_bytes(b"garbage")
    p = run_cli(home, "search", "garlic", env=env)
    assert p.returncode != 0 and "Traceback" not in p.stderr
    assert "quire rebuild" in p.stderr or "damaged" in p.stderr or "could not be read" in p.stderr


def test_unwritable_home_is_a_clear_error(tmp_path, docs):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the home folder should be")
    p = run_cli(blocker / "home", "index", str(docs), env={"QUIRE_EMBEDDING_BACKEND": "none"})
    assert p.returncode != 0 and "QUIRE_HOME" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders anyway")
def test_read_only_home_is_a_clear_error(tmp_path, docs):
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o500)
    try:
        p = run_cli(home, "index", str(docs), env={"QUIRE_EMBEDDING_BACKEND": "none"})
    finally:
        home.chmod(0o700)
    assert p.returncode != 0 and "read-only" in p.stderr


def test_manifest_is_sqlite_in_wal_mode(tmp_path, docs):
    home = tmp_path / "home"
    run_cli(home, "index", str(docs), env={"QUIRE_EMBEDDING_BACKEND": "none"}, check=True)
    conn = sqlite3.connect(home / "manifest.sqlite3")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


@pytest.mark.parametrize("after_s", [0.8, 1.4, 2.5])
def test_ctrl_c_in_a_terminal_marks_no_file_failed(tmp_path, after_s):
    """A terminal's Ctrl-C reaches every process of the group: parse workers died of it and
    their files were recorded as crashes ('the parser crashed'), never read again while
    unchanged; early on it killed the process that starts them: 'unexpected EOFError'."""
    d = tmp_path / "notes"
    for i in range(300):
        write(d / f"note{i:03}.txt", " ".join(f"note {i} line {j} about topic{i}." for j in range(80)))
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUIRE_")}
    env.update({"QUIRE_HOME": str(home), "PYTHONPATH": str(REPO), "QUIRE_EMBEDDING_BACKEND": "none"})
    proc = subprocess.Popen([sys.executable, "-m", "app", "index", str(d)], cwd=str(REPO), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, process_group=0,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        time.sleep(after_s)
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal does: the whole foreground group
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    # Done, stopped, or (a Ctrl-C as the process exits) ended by the signal: 130 to a shell.
    assert proc.returncode in (0, 130, -signal.SIGINT), err
    assert "Traceback" not in err and "unexpected" not in err
    run_cli(home, "index", env={"QUIRE_EMBEDDING_BACKEND": "none"}, check=True)
    st = json.loads(run_cli(home, "status", "--json", env={"QUIRE_EMBEDDING_BACKEND": "none"}, check=True).stdout)
    assert st["files"] == {"indexed": 300} and st["failed"] == []


def test_ctrl_c_stops_an_index_run_and_the_next_run_finishes_it(tmp_path, minilm_path):
    """Ctrl-C mid-run: exit 130, a line that says it stopped, nothing lost; `quire index` goes on."""
    d = tmp_path / "notes"
    for i in range(40):
        write(d / f"note{i:02}.txt", " ".join(f"note {i} line {j} about topic{i} and more words." for j in range(60)))
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUIRE_")}
    env.update({"QUIRE_HOME": str(home), "PYTHONPATH": str(REPO), "QUIRE_EMBEDDING_MODEL_PATH": str(minilm_path)})
    # As a terminal starts it: a shell that runs the tests in the background would make SIGINT ignored.
    proc = subprocess.Popen([sys.executable, "-m", "app", "index", str(d)], cwd=str(REPO), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert proc.stderr is not None
        proc.stderr.readline()  # the first progress line: the run is under way
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Stopped (Ctrl-C)" in out + err and "Traceback" not in err

    rep = json.loads(run_cli(home, "index", "--json", env={"QUIRE_EMBEDDING_MODEL_PATH": str(minilm_path)},
                             check=True).stdout)
    assert rep["files_added"] + rep["files_unchanged"] == 40 and rep["files_failed"] == 0
    st = json.loads(run_cli(home, "status", "--json", check=True).stdout)
    assert st["files"] == {"indexed": 40}
    assert st["chunks"] > 0 and st["vectors"] == st["chunks"]


@pytest.mark.skipif(not can_mount(), reason="needs root on Linux to mount a small tmpfs")
def test_a_full_disk_is_a_clear_error_and_nothing_is_lost(tmp_path):
    d = tmp_path / "docs"
    for i in range(2000):
        write(d / f"n{i:04}.txt", f"note {i} about item{i}. " * 60)
    env = {"QUIRE_EMBEDDING_BACKEND": "none"}
    with small_disk(tmp_path / "disk", "2M") as disk:
        home = disk / "home"
        p = run_cli(home, "index", str(d), env=env)
        assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
        assert "is full" in p.stderr and "Free some space" in p.stderr
        assert "rebuild" not in p.stderr  # not "damaged": a rebuild would need more room still
        subprocess.run(["mount", "-o", "remount,size=200M", str(disk)], check=True)
        rep = json.loads(run_cli(home, "index", "--json", env=env, check=True).stdout)
        assert rep["files_added"] + rep["files_unchanged"] == 2000 and rep["files_failed"] == 0
        st = json.loads(run_cli(home, "status", "--json", env=env, check=True).stdout)
        assert st["files"] == {"indexed": 2000}
        hits = json.loads(run_cli(home, "search", "item1234", "--json", env=env, check=True).stdout)
        assert hits and hits[0]["path"] == str(d / "n1234.txt")


@pytest.mark.skipif(not can_mount(), reason="needs root on Linux to mount a read-only tmpfs")
def test_a_read_only_home_is_a_clear_error_even_for_root(tmp_path, docs):
    env = {"QUIRE_EMBEDDING_BACKEND": "none"}
    with small_disk(tmp_path / "disk", "50M") as disk:
        home = disk / "home"
        run_cli(home, "index", str(docs), env=env, check=True)
        write(docs / "new.txt", "a file added while the home is read-only")
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        p = run_cli(home, "index", env=env)
        assert p.returncode != 0 and "Traceback" not in p.stderr, p.stderr
        assert "read-only" in p.stderr or "permission denied" in p.stderr, p.stderr
        # Reading still works there (a backup, a share): SQLite could not open its WAL database
        # on a read-only disk, and search and status failed too.
        p = run_cli(home, "search", "garlic", "--json", env=env)
        assert p.returncode == 0 and json.loads(p.stdout)[0]["path"].endswith("recipes.txt"), p.stderr
        p = run_cli(home, "status", "--json", env=env)
        assert p.returncode == 0 and json.loads(p.stdout)["files"] == {"indexed": 2}, p.stderr


def test_doctor_says_what_works_and_how_to_fix_what_does_not(tmp_path, docs):
    from tests.fake_ollama import FakeOllama

    home = tmp_path / "home"
    env = {"QUIRE_EMBEDDING_BACKEND": "none", "QUIRE_OLLAMA_URL": "http://127.0.0.1:9"}
    assert run_cli(home, "index", str(docs), env=env).returncode == 0
    p = run_cli(home, "doctor", "--json", env=env)
    checks = {c["check"]: c for c in only_json(p)}
    assert p.returncode == 0  # Ollama is needed for written answers only: search still works
    assert checks["index"]["ok"] and checks["index"]["detail"].endswith(" chunks, 0 vectors")
    assert checks["embedding model"]["detail"] == "keyword search only (backend none)"
    assert not checks["ollama"]["ok"] and "not running" in checks["ollama"]["detail"]
    assert "ollama serve" in checks["ollama"]["fix"]
    with FakeOllama() as server:
        p = run_cli(home, "doctor", env={**env, "QUIRE_OLLAMA_URL": server.url})
    assert p.returncode == 0 and "FAIL" not in p.stdout and f"ok  ollama: {server.url}" in p.stdout
    # An index made with other chunk settings cannot be used until it is rebuilt: a failure.
    p = run_cli(home, "doctor", env={**env, "QUIRE_CHUNKING_CHUNK_SIZE": "300"})
    assert p.returncode == 1 and "FAIL index" in p.stdout and "rebuild" in p.stdout


def test_a_rebuild_with_a_setting_from_a_variable_says_it_is_for_this_run_only(tmp_path, docs):
    home = tmp_path / "home"
    none = {"QUIRE_EMBEDDING_BACKEND": "none"}
    run_cli(home, "index", str(docs), env=none, check=True)
    p = run_cli(home, "rebuild", "--yes", env={**none, "QUIRE_CHUNKING_CHUNK_SIZE": "128"})
    assert p.returncode == 0, p.stderr
    assert "chunking.chunk_size comes from QUIRE_CHUNKING_CHUNK_SIZE, for this run only" in p.stderr
    assert "embedding.backend comes from QUIRE_EMBEDDING_BACKEND" in p.stderr
    assert not (home / "rebuild").exists()  # the staging folder goes once swapped in
    # As the note says: without the variable the rebuilt index is refused.
    p = run_cli(home, "search", "garlic", env=none)
    assert p.returncode != 0 and "chunks of 128 tokens" in p.stderr


def test_status_says_what_a_stopped_run_left_waiting(tmp_path, docs):
    # "Files: 647 indexed, 853 pending" said nothing of what to do about it.
    from app.core.manifest import PENDING, Manifest

    home = tmp_path / "home"
    none = {"QUIRE_EMBEDDING_BACKEND": "none"}
    run_cli(home, "index", str(docs), env=none, check=True)
    m = Manifest(home / "manifest.sqlite3")  # as a stopped run leaves them: reserved, not indexed
    with m.transaction() as conn:
        conn.execute("UPDATE files SET status=?", (PENDING,))
    m.close()
    out = run_cli(home, "status", env=none, check=True).stdout
    assert "2 files are waiting to be indexed" in out and "`quire index` finishes them" in out
    run_cli(home, "index", env=none, check=True)
    assert "waiting" not in run_cli(home, "status", env=none, check=True).stdout
