"""The command line's promises where scripts and odd environments test them: one JSON document
on stdout even when a command fails, no change from a command that fails, a doctor that finds
what is really wrong, and output that survives consoles, closed streams and undecodable bytes.
Found by a review that ran every command with bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import REPO, model_copy, run_cli, write

NONE = {"QUIRE_EMBEDDING_BACKEND": "none"}


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    write(d / "lease.md", "# Lease\n\nSixty days written notice ends the lease.\n")
    write(d / "sub" / "café.txt", "Crème brûlée for the zebras.")
    return d


def test_under_json_a_failure_is_one_json_document_too(tmp_path, docs):
    home = tmp_path / "home"
    p = run_cli(home, "index", str(tmp_path / "nowhere"), "--json", env=NONE)
    assert p.returncode == 2 and "does not exist" in p.stderr
    doc = json.loads(p.stdout)
    assert doc["exit_code"] == 2 and "does not exist" in doc["error"] and doc["action"]
    # --json before the command's name is the same --json
    p = run_cli(home, "--json", "status", env=NONE)
    assert p.returncode == 0 and json.loads(p.stdout)["folders"] == []


def test_a_command_that_fails_changes_nothing(tmp_path, docs):
    # `quire index A B` with B mistyped failed, yet had added A to the library.
    home = tmp_path / "home"
    p = run_cli(home, "index", str(docs), str(tmp_path / "typo"), env=NONE)
    assert p.returncode == 2
    assert json.loads(run_cli(home, "library", "--json", env=NONE).stdout) == []
    # Taking out a folder inside a library folder says why it cannot, not "not in the library".
    run_cli(home, "index", str(docs), env=NONE, check=True)
    p = run_cli(home, "library", "remove", str(docs / "sub"), env=NONE)
    assert p.returncode == 2 and f"inside the library folder {docs}" in p.stderr and "[index] ignore" in p.stderr
    # Rebuilding everything needs --yes when nobody can be asked (as a plain rebuild does).
    p = run_cli(home, "rebuild", "--all", env=NONE)
    assert p.returncode == 1 and "--all --yes" in p.stderr
    assert json.loads(run_cli(home, "status", "--json", env=NONE).stdout)["files"] == {"indexed": 2}


def test_doctor_finds_a_damaged_data_file_and_a_missing_chat_model(tmp_path, docs):
    from tests.fake_ollama import FakeOllama

    home = tmp_path / "home"
    run_cli(home, "index", str(docs), env=NONE, check=True)
    with FakeOllama() as server:
        server.remove_model("llama3.2")
        p = run_cli(home, "doctor", "--json", env={**NONE, "QUIRE_OLLAMA_URL": server.url})
    checks = {c["check"]: c for c in json.loads(p.stdout)}
    assert checks["index"]["ok"]
    assert not checks["ollama"]["ok"] and "llama3.2" in checks["ollama"]["detail"]
    assert "quire models pull llama3.2" in checks["ollama"]["fix"]
    # A data file cut short: its counts come from metadata, so status said all was well.
    data = [f for f in (home / "index").rglob("*.lance") if f.is_file() and f.parent.name == "data"]
    for f in data:
        f.write_bytes(f.read_bytes()[:100])
    p = run_cli(home, "doctor", env={**NONE, "QUIRE_OLLAMA_URL": "http://127.0.0.1:9"})
    assert p.returncode == 1 and "FAIL index" in p.stdout and "rebuild --all" in p.stdout
    assert "/rustc/" not in p.stdout


def test_a_malformed_ollama_url_is_a_bad_setting(tmp_path):
    p = run_cli(tmp_path / "home", "status", env={**NONE, "QUIRE_OLLAMA_URL": "http://[::1"})
    assert p.returncode == 2 and "ollama.url" in p.stderr and "unexpected" not in p.stderr


def test_undecodable_query_odd_consoles_and_closed_streams(tmp_path, docs):
    home = tmp_path / "home"
    run_cli(home, "index", str(docs), env=NONE, check=True)
    # Bytes the terminal could not decode: searched, not "the index is damaged".
    p = run_cli(home, "search", os.fsdecode(b"\xff\xfe zebras"), "--json", env=NONE)
    assert p.returncode == 0 and json.loads(p.stdout)[0]["path"].endswith("café.txt")
    # A console that cannot show "é" (a Windows redirect in cp1252, here ASCII).
    p = run_cli(home, "search", "zebras", env={**NONE, "PYTHONIOENCODING": "ascii"})
    assert p.returncode == 0 and "caf\\xe9.txt" in p.stdout
    p = run_cli(home, "search", "zebras", "--json", env={**NONE, "PYTHONIOENCODING": "ascii"})
    assert p.returncode == 0 and json.loads(p.stdout)[0]["path"].endswith("café.txt")
    # stdout and stderr closed (cron, daemons): the command still runs.
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUIRE_")}
    env.update({"QUIRE_HOME": str(home), "PYTHONPATH": str(REPO), **NONE})
    q = subprocess.run(["sh", "-c", f'"{sys.executable}" -m app index >&- 2>&-'], env=env, cwd=str(REPO),
                       timeout=120)
    assert q.returncode == 0


def test_a_damaged_manifest_is_repaired_without_losing_the_folders_or_doubling_rows(tmp_path, docs):
    # The advice was "move it aside and run `quire index`": that forgot the library's folders,
    # and adding them again doubled every chunk (the old rows stayed, claimed by new file ids);
    # `rebuild --all` refused to run at all.
    home = tmp_path / "home"
    run_cli(home, "index", str(docs), env=NONE, check=True)
    before = json.loads(run_cli(home, "status", "--json", env=NONE).stdout)
    manifest = home / "manifest.sqlite3"
    manifest.write_bytes(manifest.read_bytes()[:1000])
    p = run_cli(home, "status", env=NONE)
    assert p.returncode == 1 and "damaged" in p.stderr and "quire rebuild --all" in p.stderr
    p = run_cli(home, "rebuild", "--all", "--yes", "--json", env=NONE)
    assert p.returncode == 0, p.stderr
    after = json.loads(run_cli(home, "status", "--json", env=NONE).stdout)
    assert after["folders"] == before["folders"] and after["chunks"] == before["chunks"]
    assert list(home.glob("manifest.sqlite3.damaged-*"))
    # Doing it by hand works too: a new manifest takes the folders Quire remembers.
    manifest.rename(tmp_path / "aside.sqlite3")
    p = run_cli(home, "index", "--json", env=NONE)
    assert p.returncode == 0, p.stderr
    again = json.loads(run_cli(home, "status", "--json", env=NONE).stdout)
    assert again["folders"] == before["folders"] and again["chunks"] == before["chunks"]
    hits = json.loads(run_cli(home, "search", "zebras", "--json", env=NONE).stdout)
    assert len(hits) == 1


def test_another_model_in_the_same_model_path_is_refused_until_rebuilt(tmp_path, docs, minilm_path):
    # model_path was not part of the index's identity: another model of the same size put in its
    # place (or the setting pointed elsewhere) mixed two models' vectors without a word.
    home = tmp_path / "home"
    a, moved, b = (model_copy(minilm_path, tmp_path / "model-a"), model_copy(minilm_path, tmp_path / "model-a-moved"),
                   model_copy(minilm_path, tmp_path / "model-b", other=True))
    run_cli(home, "index", str(docs), env={"QUIRE_EMBEDDING_MODEL_PATH": str(a)}, check=True)
    # The same model in another folder is the same model: nothing to rebuild.
    p = run_cli(home, "search", "zebras", "--json", env={"QUIRE_EMBEDDING_MODEL_PATH": str(moved)})
    assert p.returncode == 0, p.stderr
    p = run_cli(home, "search", "zebras", env={"QUIRE_EMBEDDING_MODEL_PATH": str(b)})
    assert p.returncode != 0 and "another model" in p.stderr and "quire rebuild" in p.stderr
    p = run_cli(home, "rebuild", "--yes", "--json", env={"QUIRE_EMBEDDING_MODEL_PATH": str(b)})
    assert p.returncode == 0 and json.loads(p.stdout)["rebuilt"] is True, p.stderr
    assert run_cli(home, "search", "zebras", env={"QUIRE_EMBEDDING_MODEL_PATH": str(b)}).returncode == 0
