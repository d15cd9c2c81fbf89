"""Poison files cost one file, never the run: each is indexed or listed with a one-line reason."""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.core import indexer as indexer_mod
from app.core.chunking import ChunkSpec
from app.core.parsepool import Parsed, ParseFailure, ParsePool
from app.core.types import CancelToken
from tests.integration.conftest import chunk_rows, write

PYPDF = "py-pdf"


def reasons(lib) -> dict[str, str]:
    return {Path(f["path"]).name: f["reason"] for f in lib.status()["failed"]}


def test_poison_files_are_listed_and_the_run_goes_on(tmp_path, eval_docs, open_lib, embedder):
    d = tmp_path / "poison"
    d.mkdir()
    src = eval_docs / PYPDF
    shutil.copy(src / "005-libreoffice-writer-password" / "libreoffice-writer-password.pdf", d / "locked.pdf")
    shutil.copy(src / "007-imagemagick-images" / "imagemagick-images.pdf", d / "scanned.pdf")
    shutil.copy(src / "004-pdflatex-4-pages" / "pdflatex-4-pages.pdf", d / "four-pages.pdf")
    good = (src / "004-pdflatex-4-pages" / "pdflatex-4-pages.pdf").read_bytes()
    (d / "truncated.pdf").write_bytes(good[: len(good) // 3])
    (d / "truncated.docx").write_bytes(b"PK\x03\x04" + os.urandom(300))
    with open(d / "huge.txt", "wb") as f:  # a sparse 2 GB file: over the size cap, never read
        f.truncate(2 * 1024 ** 3)
    os.symlink(d / "loop-b", d / "loop-a")
    os.symlink(d / "loop-a", d / "loop-b")
    os.symlink(d / "nowhere.txt", d / "dangling.txt")
    os.symlink("/etc", d / "outside")  # leaves the folder: not followed
    (d / "sub").mkdir()
    os.symlink(d, d / "sub" / "back-to-top")  # a directory loop inside the folder
    write(d / "fine.txt", "an ordinary file about kumquats")

    lib = open_lib()
    r = lib.index([str(d)])
    why = reasons(lib)
    assert "encrypt" in why["locked.pdf"] or "password" in why["locked.pdf"]
    assert "text" in why["scanned.pdf"]
    assert why["truncated.docx"]
    assert "dangling" in why["dangling.txt"]
    assert "loop" in why["loop-a"] and "loop" in why["loop-b"]
    st = lib.status()
    assert st["files"]["skipped"] >= 1  # huge.txt, with its reason in the manifest
    huge = lib.manifest.file(str(d / "huge.txt"))
    assert huge is not None and "too large" in huge.reason
    paths = {p for p, *_ in chunk_rows(lib)}
    assert str(d / "fine.txt") in paths and str(d / "four-pages.pdf") in paths
    assert not any(p.startswith("/etc") or "back-to-top" in p for p in paths)
    # The truncated PDF is recovered or listed, never a crash.
    assert str(d / "truncated.pdf") in paths or "truncated.pdf" in why
    pages = {pg for p, _, _, pg in chunk_rows(lib) if p.endswith("four-pages.pdf")}
    assert pages == {1, 2, 3, 4}
    assert r.files_failed >= 5
    # Failed files are not retried until they change...
    again = lib.index()
    assert again.files_failed == 0 and again.chunks_written == 0
    # ...and are once they do.
    shutil.copy(src / "001-trivial" / "minimal-document.pdf", d / "locked.pdf")
    assert lib.index().files_changed == 1
    assert "locked.pdf" not in reasons(lib)


def test_an_emoji_split_in_two_by_a_reader_costs_nothing(tmp_path, open_lib, embedder):
    # Word writes an emoji in RTF as two \\u codes (a UTF-16 surrogate pair), which the RTF
    # reader left apart: text that cannot be stored, and the whole run stopped on it.
    d = tmp_path / "notes"
    d.mkdir()
    (d / "smile.rtf").write_bytes(b"{\\rtf1\\ansi Party \\u-10179?\\u-8704? at eight, odd \\u-10179? half.}")
    write(d / "fine.txt", "an ordinary file about kumquats")
    lib = open_lib()
    r = lib.index([str(d)])
    assert r.files_failed == 0 and r.files_added == 2
    texts = {Path(p).name: t for p, _, t, _ in chunk_rows(lib)}
    assert texts["smile.rtf"] == "Party \U0001F600 at eight, odd \ufffd half."
    assert lib.search("kumquats", k=1).hits[0].path == str(d / "fine.txt")


def test_a_file_whose_rows_cannot_be_stored_fails_alone(tmp_path, open_lib, embedder, monkeypatch):
    # Any value a reader should never have made (half an emoji was one) stopped the whole run
    # at the batch write, leaving every other file unindexed. Now that file alone fails.
    d = tmp_path / "notes"
    for i in range(30):
        write(d / f"n{i:02}.txt", f"note {i} about kumquats")
    write(d / "long.txt", "\n\n".join(f"Paragraph {i} about the odd file." for i in range(4000)))
    add_rows = indexer_mod.Indexer._add_rows

    def poisoned(batch, fid, e, folder, kind, chunks):
        add_rows(batch, fid, e, folder, kind, chunks)
        # The long file's last batch only: its earlier batches are stored by then.
        if e.path.endswith("n07.txt") or (e.path.endswith("long.txt") and len(chunks) < 64):
            batch.rows[-1]["text"] = "half an emoji \ud83d"

    monkeypatch.setattr(indexer_mod.Indexer, "_add_rows", staticmethod(poisoned))
    monkeypatch.setattr(indexer_mod, "FLUSH_ROWS", 64)  # the long file spans several batches
    lib = open_lib(embedding__backend="none")
    r = lib.index([str(d)])
    assert (r.files_added, r.files_failed) == (29, 2)
    why = reasons(lib)
    assert "could not be stored" in why["n07.txt"] and "could not be stored" in why["long.txt"]
    paths = {Path(p).name for p, *_ in chunk_rows(lib)}
    assert len(paths) == 29 and "long.txt" not in paths and "n07.txt" not in paths
    assert lib.search("kumquats", k=40).hits and len(lib.search("kumquats", k=40).hits) == 29
    monkeypatch.setattr(indexer_mod.Indexer, "_add_rows", staticmethod(add_rows))
    write(d / "n07.txt", "note seven, fixed, about kumquats")
    assert lib.index().files_changed == 1 and "n07.txt" not in reasons(lib)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a file without permission")
def test_permission_denied_is_listed(tmp_path, open_lib, embedder):
    d = tmp_path / "perm"
    f = write(d / "secret.txt", "no access")
    write(d / "open.txt", "fine")
    f.chmod(0)
    try:
        lib = open_lib()
        lib.index([str(d)])
        assert "permission" in reasons(lib)["secret.txt"]
    finally:
        f.chmod(0o600)


def test_file_vanishing_between_scan_and_read_is_not_an_error(tmp_path, open_lib, embedder, monkeypatch):
    d = tmp_path / "v"
    write(d / "stays.txt", "stays")
    edited = write(d / "edited.txt", "first version")
    lib = open_lib()
    lib.index([str(d)])
    edited.write_text("second version, longer")
    gone2 = write(d / "new-and-gone.txt", "here for the scan only")
    real_scan = indexer_mod.Indexer._scan
    real_hash = indexer_mod.sha256_file

    def scan_then_delete(self, root, starts):
        yield from real_scan(self, root, starts)
        gone2.unlink()  # seen by the scan, deleted before its parse worker reads it

    def hash_then_delete(path, cancel=None):
        if path == str(edited):
            edited.unlink()  # changed, then deleted while the writer hashes it
        return real_hash(path, cancel)

    monkeypatch.setattr(indexer_mod.Indexer, "_scan", scan_then_delete)
    monkeypatch.setattr(indexer_mod, "sha256_file", hash_then_delete)
    r = lib.index()
    assert r.files_failed == 0 and r.files_added == 0 and r.files_removed == 1
    st = lib.status()
    assert st["failed"] == [] and st["files"] == {"indexed": 1}
    assert {p for p, *_ in chunk_rows(lib)} == {str(d / "stays.txt")}


def _pool(parser: str, timeout: float = 60, memory_mb: int = 2048) -> ParsePool:
    return ParsePool(ChunkSpec(200, 20), workers=2, timeout_s=timeout, memory_mb=memory_mb, parser=parser)


def test_a_hanging_parser_is_stopped_and_the_rest_goes_on(tmp_path):
    files = [write(tmp_path / f"ok{i}.txt", f"document {i}") for i in range(4)]
    files.insert(2, write(tmp_path / "hang.txt", "never finishes"))
    with _pool("tests.helpers.parsers:hang_on_marker", timeout=3) as pool:
        out = dict(pool.map((str(f), str(f)) for f in files))
    assert isinstance(out[str(tmp_path / "hang.txt")], ParseFailure)
    assert out[str(tmp_path / "hang.txt")].reason == "timed out"
    assert all(isinstance(out[str(f)], Parsed) and out[str(f)].chunks for f in files if "hang" not in f.name)


def test_a_parser_stopped_mid_file_leaves_no_temporary_files(tmp_path):
    files = [write(tmp_path / "ok.txt", "document"), write(tmp_path / "hang.txt", "never finishes")]
    with _pool("tests.helpers.parsers:hang_holding_a_temp_file", timeout=5) as pool:
        out = dict(pool.map((f.name, str(f)) for f in files))
    assert out["hang.txt"].reason == "timed out"
    temp = Path(str(tmp_path / "hang.txt") + ".where").read_text()
    assert os.path.basename(os.path.dirname(temp)).startswith("quire-parse-")  # the worker's own folder
    assert not os.path.exists(temp) and not os.path.exists(os.path.dirname(temp))


def test_a_crashing_parser_costs_one_file(tmp_path):
    files = [write(tmp_path / n, "text") for n in ("a.txt", "crash.txt", "b.txt", "c.txt")]
    with _pool("tests.helpers.parsers:crash_on_marker") as pool:
        out = dict(pool.map((f.name, str(f)) for f in files))
    assert isinstance(out["crash.txt"], ParseFailure) and "crashed" in out["crash.txt"].message
    assert all(isinstance(out[n], Parsed) for n in ("a.txt", "b.txt", "c.txt"))


def test_cancelling_a_parse_stops_busy_workers_and_the_pool_goes_on(tmp_path):
    files = [write(tmp_path / f"ok{i}.txt", f"document {i}") for i in range(6)]
    files.insert(1, write(tmp_path / "hang.txt", "keeps a worker busy until it is stopped"))
    cancel = CancelToken()
    with _pool("tests.helpers.parsers:hang_on_marker") as pool:
        seen = []
        for key, _outcome in pool.map(((f.name, str(f)) for f in files), cancel):
            seen.append(key)
            if len(seen) == 2:
                cancel.cancel()  # the worker with hang.txt is busy now
        assert 2 <= len(seen) < len(files) and "hang.txt" not in seen
        again = dict(pool.map((f.name, str(f)) for f in files[2:4]))
        assert all(isinstance(o, Parsed) and o.chunks for o in again.values()) and len(again) == 2
    deadline = time.monotonic() + 10  # close() lets idle workers exit on their own
    while [p for p in mp.active_children() if p.name == "quire-parser"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [p for p in mp.active_children() if p.name == "quire-parser"] == []


def test_an_index_run_cancelled_while_parsing_resumes_cleanly(tmp_path, open_lib, embedder):
    d = tmp_path / "docs"
    for i in range(60):
        write(d / f"note{i:02}.txt", f"note {i} about item{i}. " * 40)
    lib = open_lib()
    cancel = CancelToken()

    def progress(p):
        if p.files_done >= 5:
            cancel.cancel()

    stopped = lib.index([str(d)], progress=progress, cancel=cancel)
    assert stopped.cancelled and stopped.as_json()["cancelled"] is True  # `quire index --json` says so
    assert lib.manifest.last_runs(1)[0]["outcome"] == "cancelled"
    r = lib.index()
    assert r.files_failed == 0 and r.files_seen == 60 and not r.cancelled
    assert lib.status()["files"] == {"indexed": 60}
    assert sorted({Path(p).name for p, *_ in chunk_rows(lib)}) == sorted(f"note{i:02}.txt" for i in range(60))


def test_a_crash_while_the_writer_is_busy_costs_one_file(tmp_path):
    """The worker dies on the job queued behind the one it answered, before the writer (slow,
    here) hands it the next: that send fails, and the next file must go elsewhere."""
    files = [write(tmp_path / n, "text") for n in ("a.txt", "crash.txt", "b.txt", "c.txt")]
    out = {}
    with ParsePool(ChunkSpec(200, 20), workers=1, timeout_s=60, memory_mb=2048,
                   parser="tests.helpers.parsers:crash_on_marker") as pool:
        for key, outcome in pool.map((f.name, str(f)) for f in files):
            out[key] = outcome
            time.sleep(0.3)  # writing the rows: the worker has crashed on crash.txt meanwhile
    assert isinstance(out["crash.txt"], ParseFailure) and out["crash.txt"].reason == "damaged"
    assert all(isinstance(out[n], Parsed) and out[n].chunks for n in ("a.txt", "b.txt", "c.txt"))


@pytest.mark.skipif(sys.platform == "win32", reason="memory caps need POSIX rlimits")
def test_a_memory_hog_is_capped(tmp_path):
    files = [write(tmp_path / n, "text") for n in ("a.txt", "hog.txt", "b.txt")]
    with _pool("tests.helpers.parsers:hog_on_marker", memory_mb=768) as pool:
        out = dict(pool.map((f.name, str(f)) for f in files))
    assert isinstance(out["hog.txt"], ParseFailure)
    assert out["hog.txt"].reason in ("too large", "damaged")
    assert isinstance(out["a.txt"], Parsed) and isinstance(out["b.txt"], Parsed)


def test_the_whole_eval_corpus_indexes_without_a_crash(tmp_path, eval_docs, open_lib, embedder):
    """568 real documents of many formats: everything with text is indexed, the rest has a reason."""
    lib = open_lib()
    r = lib.index([str(eval_docs)])
    st = lib.status()
    counts = st["files"]
    assert r.files_seen == sum(counts.values())
    assert counts.get("indexed", 0) >= 400, counts
    for f in st["failed"]:
        assert f["reason"] and "\n" not in f["reason"], f
    rows = lib.manifest.all_files()
    assert all(row.status in ("indexed", "empty", "failed", "skipped") for row in rows)
    assert all(row.reason for row in rows if row.status in ("failed", "skipped"))
    assert lib.search("Debian policy manual", k=3).hits


def test_scratch_folders_of_killed_workers_are_removed(tmp_path, monkeypatch):
    """A worker killed with its whole process (SIGKILL to the group) leaves its scratch folder,
    which may hold a decompressed copy of a document; the next pool removes it."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    stale = tmp_path / f"quire-parse-{gone}"
    (stale / "unpacked").mkdir(parents=True)
    (stale / "unpacked" / "letter.txt").write_text("a private letter")
    mine = tmp_path / f"quire-parse-{os.getpid()}"  # a live process's: left alone
    mine.mkdir()
    with ParsePool(ChunkSpec(200, 20), workers=1, timeout_s=60, memory_mb=2048):
        pass
    assert not stale.exists() and mine.exists()


def test_a_file_that_cannot_be_read_is_told_apart_from_a_bad_one(tmp_path):
    """Permission denied or a disk error is the file's access, tried again by the next run;
    a bad gzip stream (an OSError too) is its content."""
    from app.core.parsepool import CANNOT_READ

    files = [write(tmp_path / n, "text") for n in ("denied.txt", "badgz.txt", "fine.txt")]
    with _pool("tests.helpers.parsers:os_errors_on_marker") as pool:
        out = dict(pool.map((f.name, str(f)) for f in files))
    assert out["denied.txt"].reason == CANNOT_READ and out["denied.txt"].message == "permission denied"
    assert out["badgz.txt"].reason == "unreadable" and isinstance(out["fine.txt"], Parsed)


def test_a_file_unreadable_when_it_changed_is_read_once_it_is_readable_again(tmp_path, open_lib, embedder,
                                                                             monkeypatch):
    """Its size and mtime were recorded with the failure, so once readable it passed for
    unchanged and stayed failed ('permission denied'), its text never indexed."""
    d = tmp_path / "docs"
    f = write(d / "a.txt", "the kumquat harvest")
    lib = open_lib()
    lib.index([str(d)])
    write(d / "a.txt", "the apricot harvest, revised")
    real = indexer_mod.sha256_file

    def denied(path, cancel=None):
        if path == str(f):
            raise PermissionError(13, "Permission denied", path)
        return real(path, cancel)

    monkeypatch.setattr(indexer_mod, "sha256_file", denied)
    r = lib.index()
    assert r.files_failed == 1 and lib.search("kumquat").hits == ()
    monkeypatch.setattr(indexer_mod, "sha256_file", real)  # readable again; the file itself unchanged
    r = lib.index()
    assert r.files_failed == 0 and lib.search("apricot").hits
    assert lib.status()["files"] == {"indexed": 1}
