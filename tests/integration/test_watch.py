"""Watch mode on real filesystem events: the index follows the folders, asserted on the index itself.

Nothing here sleeps for a fixed time: every wait polls the index (or the reports) until a
deadline. Moves are checked with the indexer's counters (nothing written) and the
HashEmbedder's (nothing embedded).
"""

from __future__ import annotations

import errno
import functools
import json
import logging
import multiprocessing as mp
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.core import indexer as indexer_mod
from app.core import watch as watch_mod
from app.core.library import Library
from app.core.parsepool import ParsePool
from app.core.types import IndexReport
from app.core.watch import Watcher, WatchStatus
from tests.integration.conftest import REPO, can_mount, chunk_rows, small_disk, write

TIMEOUT = 30.0  # generous for a loaded 2-core machine; the waits usually end within a second or two


def wait_until(fn: Callable[[], Any], timeout: float = TIMEOUT, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def indexed(lib: Library) -> set[str]:
    return {p for p, *_ in chunk_rows(lib)}


class Recorder:
    """The watcher's callbacks, recorded; plus every `changed` list the library was asked to index."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reports: list[IndexReport] = []
        self.statuses: list[WatchStatus] = []
        self.errors: list[BaseException] = []
        self.calls: list[list[str] | None] = []
        self.busy_seen: list[bool] = []
        self.watcher: Watcher | None = None

    def progress(self, p: Any) -> None:
        if self.watcher is not None:
            self.busy_seen.append(self.watcher.busy)

    def report(self, r: IndexReport) -> None:
        with self.lock:
            self.reports.append(r)

    def status(self, s: WatchStatus) -> None:
        with self.lock:
            self.statuses.append(s)

    def error(self, e: BaseException) -> None:
        with self.lock:
            self.errors.append(e)

    def since(self, n: int) -> list[IndexReport]:
        with self.lock:
            return self.reports[n:]

    def report_where(self, pred: Callable[[IndexReport], bool], start: int = 0) -> IndexReport:
        return wait_until(lambda: next((r for r in self.since(start) if pred(r)), None), what="a matching report")


@pytest.fixture
def watched(open_lib, embedder) -> Iterator[Callable[..., tuple[Library, Watcher, Recorder]]]:
    """start(folders, **watcher_kwargs): a writable library holding ``folders``, watched; the
    catch-up run has finished when it returns."""
    started: list[Watcher] = []

    def start(*folders: Path, index_first: bool = False, **kw: Any) -> tuple[Library, Watcher, Recorder]:
        lib = open_lib()
        if index_first:
            lib.index([str(f) for f in folders])
        else:
            for f in folders:
                lib.add(str(f))
        rec = Recorder()
        real_index = lib.index

        def recording_index(*a: Any, **k: Any) -> IndexReport:
            rec.calls.append(k.get("changed"))
            return real_index(*a, **k)

        lib.index = recording_index  # type: ignore[method-assign]
        w = Watcher(lib, on_report=rec.report, on_status=rec.status, on_error=rec.error, on_progress=rec.progress,
                    **kw)
        rec.watcher = w
        started.append(w)
        w.start()
        wait_until(lambda: rec.since(0), what="the catch-up run")
        return lib, w, rec

    yield start
    for w in started:
        w.stop()


def settle_vectors(lib: Library) -> None:
    """Wait until the background embedder has nothing left to do."""
    st = lib.store()

    def done() -> bool:
        if lib.embedding_backlog():
            return False
        hashes = {r["text_hash"] for r in st.chunks.to_arrow().select(["text_hash"]).to_pylist()}
        return st.count_vectors() >= len(hashes)

    wait_until(done, what="vectors for every chunk")


# --- the basics ------------------------------------------------------------------------------------


def test_create_modify_delete_rename(tmp_path, watched):
    d = tmp_path / "docs"
    write(d / "keep.txt", "nothing happens to this file")
    lib, w, rec = watched(d)
    assert rec.reports[0].files_added == 1 and w.statuses() == [WatchStatus(str(d), "watching")]

    write(d / "new.txt", "a quokka appears")
    wait_until(lambda: str(d / "new.txt") in indexed(lib), what="the new file")
    assert lib.search("quokka", k=1).hits[0].path == str(d / "new.txt")

    n = len(rec.reports)
    (d / "new.txt").write_text("now it speaks of a narwhal instead", encoding="utf-8")
    wait_until(lambda: any("narwhal" in t for p, _, t, _ in chunk_rows(lib) if p.endswith("new.txt")),
               what="the modified text")
    assert not any("quokka" in t for _, _, t, _ in chunk_rows(lib))
    # The rows land during the run; its report arrives when the run ends: wait for it.
    rec.report_where(lambda r: r.files_changed == 1, n)
    assert sum(r.files_changed for r in rec.since(n)) == 1

    n = len(rec.reports)
    (d / "new.txt").rename(d / "renamed.txt")
    r = rec.report_where(lambda r: r.files_moved == 1, n)
    assert r.chunks_written == 0 and r.files_added == 0 and r.files_removed == 0
    assert indexed(lib) == {str(d / "keep.txt"), str(d / "renamed.txt")}

    (d / "renamed.txt").unlink()
    wait_until(lambda: indexed(lib) == {str(d / "keep.txt")}, what="the deleted file to leave the index")
    assert not rec.errors


def test_moves_between_folders_and_whole_trees_embed_nothing(tmp_path, watched, embedder):
    a, b, outside = tmp_path / "a", tmp_path / "b", tmp_path / "outside"
    for i in range(3):
        write(a / "tree" / "deep" / f"t{i}.md", f"# Tree {i}\n\nLeaf number {i} of the walnut tree.")
    write(a / "lease.txt", "The lease requires sixty days written notice.")
    write(b / "readme.txt", "the other library folder")
    write(outside / "incoming.txt", "a file that moves into the library: albatross")
    lib, w, rec = watched(a, b)
    settle_vectors(lib)
    calls = embedder.calls

    n = len(rec.reports)
    (a / "lease.txt").rename(b / "lease.txt")  # between two watched folders (two observers)
    r = rec.report_where(lambda r: r.files_moved == 1, n)
    assert (r.chunks_written, r.files_added, r.files_removed) == (0, 0, 0)

    n = len(rec.reports)
    (a / "tree").rename(a / "forest")  # a whole tree, inside one folder
    r = rec.report_where(lambda r: r.files_moved == 3, n)
    assert (r.chunks_written, r.files_added, r.files_removed) == (0, 0, 0)

    n = len(rec.reports)
    shutil.move(str(a / "forest"), str(b / "forest"))  # a whole tree, to the other folder
    r = rec.report_where(lambda r: r.files_moved == 3, n)
    assert (r.chunks_written, r.files_added, r.files_removed) == (0, 0, 0)
    assert {p for p in indexed(lib) if "forest" in p} == {str(b / "forest" / "deep" / f"t{i}.md") for i in range(3)}
    settle_vectors(lib)
    assert embedder.calls == calls, embedder.texts  # the moves embedded nothing
    hit = lib.search("sixty days notice", k=1).hits[0]  # (this embeds the query)
    assert hit.path == str(b / "lease.txt") and hit.folder == str(b)

    n = len(rec.reports)
    (b / "lease.txt").rename(outside / "lease.txt")  # out of the library: a delete
    rec.report_where(lambda r: r.files_removed == 1, n)
    (outside / "incoming.txt").rename(a / "incoming.txt")  # into it: an add
    wait_until(lambda: str(a / "incoming.txt") in indexed(lib), what="the moved-in file")
    assert str(b / "lease.txt") not in indexed(lib) and not rec.errors


def test_save_by_rename_appends_and_temp_files(tmp_path, watched):
    d = tmp_path / "docs"
    doc = write(d / "report.txt", "first draft mentions the pelican")
    lib, w, rec = watched(d)

    # An editor's atomic save: write a temp file beside the original, rename it over the original.
    n = len(rec.reports)
    tmp = write(d / "report.txt.tmp", "second draft mentions the cormorant")
    os.replace(tmp, doc)
    r = rec.report_where(lambda r: r.files_changed == 1, n)
    assert r.files_added == 0 and r.files_removed == 0
    rows = chunk_rows(lib)
    assert [t for p, _, t, _ in rows if p == str(doc)] == ["second draft mentions the cormorant"]
    assert indexed(lib) == {str(doc)}

    # A file written in many small appends, then temp and lock files that must never be indexed.
    n = len(rec.calls)
    temps = ["~$report.docx", "notes.txt.swp", "draft.tmp", ".~lock.sheet.ods#", "movie.part", "big.iso.crdownload"]
    for name in temps:
        write(d / name, "temporary words: flamingo")
    with open(d / "log.txt", "a", encoding="utf-8") as f:
        for i in range(200):
            f.write(f"line {i} of the heron log\n")
            f.flush()
    wait_until(lambda: any("line 199" in t for p, _, t, _ in chunk_rows(lib) if p.endswith("log.txt")),
               what="the appended file")
    runs = [c for c in rec.calls[n:] if c and any(p.endswith("log.txt") for p in c)]
    assert 1 <= len(runs) <= 2, runs  # the appends coalesce
    assert not any(os.path.basename(p) in temps for c in rec.calls[n:] if c for p in c)  # never even looked at
    assert indexed(lib) == {str(doc), str(d / "log.txt")}
    assert not rec.errors


def test_burst_of_1000_files_takes_few_runs(tmp_path, watched):
    d = tmp_path / "docs"
    write(d / "seed.txt", "the folder exists before the burst")
    lib, w, rec = watched(d)
    n = len(rec.reports)
    t0 = time.monotonic()
    for i in range(1000):
        write(d / "burst" / f"{i // 100:02d}" / f"f{i:04d}.txt", f"burst file {i} word{i}")
    # Rows land batch by batch during a run: wait for the runs to finish and report.
    wait_until(lambda: sum(r.files_added for r in rec.since(n)) >= 1000, timeout=90, what="all 1,000 files")
    runs = rec.since(n)
    print(f"\n1,000-file burst: {len(runs)} run(s), {time.monotonic() - t0:.1f} s to all indexed, "
          f"added per run {[r.files_added for r in runs]}")
    assert sum(r.files_added for r in runs) == 1000 and len(indexed(lib)) == 1001
    assert len(runs) <= 4
    assert lib.search("word737", k=1).hits[0].path.endswith("f0737.txt")


# --- folders that come and go, catching up ---------------------------------------------------------


def test_deleted_folder_keeps_rows_goes_offline_and_resumes(tmp_path, watched):
    d = tmp_path / "usb"
    write(d / "a.txt", "photos from the trip to the fjord")
    write(d / "sub" / "b.txt", "receipts from the ferry")
    lib, w, rec = watched(d)
    before = chunk_rows(lib)
    backup = tmp_path / "backup"
    shutil.copytree(d, backup)

    shutil.rmtree(d)
    wait_until(lambda: w.statuses()[0].state == "offline", what="status offline")
    assert "not found" in w.statuses()[0].message
    assert chunk_rows(lib) == before  # an unplugged drive must not wipe its index

    n = len(rec.reports)
    shutil.copytree(backup, d)
    wait_until(lambda: w.statuses()[0].state == "watching", what="status watching again")
    r = rec.report_where(lambda r: r.files_seen == 2, n)  # caught up with the returned folder
    assert r.files_unchanged == 2 and r.chunks_written == 0
    write(d / "c.txt", "a new file after the drive came back: glacier")
    wait_until(lambda: str(d / "c.txt") in indexed(lib), what="a file written after the return")
    assert [s.state for s in rec.statuses] == ["watching", "offline", "watching"]


def test_a_file_that_keeps_changing_waits_out_its_cooldown(tmp_path, watched, monkeypatch):
    """A costly file changed again right after it was indexed (a log a program keeps appending
    to) is indexed again only when its cooldown is over, once, with everything appended
    meanwhile; other files are not held back. It was indexed over and over (a 10 MB log kept a
    core busy)."""
    monkeypatch.setattr(watch_mod, "HOT_FILE_S", 0.0)  # every run counts as costly here...
    monkeypatch.setattr(watch_mod, "HOT_DUTY", 1e6)
    monkeypatch.setattr(watch_mod, "HOT_MAX_WAIT_S", 3.0)  # ...and holds its paths back 3 s
    d = tmp_path / "logs"
    log = write(d / "app.log", "server started\n")
    lib, w, rec = watched(d, index_first=True, debounce_s=0.1, max_delay_s=0.3)
    n = len(rec.calls)

    def has(word: str, path: Path) -> bool:
        return any(p == str(path) and word in text for p, _, text, _ in chunk_rows(lib))

    with open(log, "a") as f:
        f.write("request alpha served\n")
    wait_until(lambda: has("alpha", log), what="the first append")
    for word in ("bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india"):
        with open(log, "a") as f:
            f.write(f"request {word} served\n")
        time.sleep(0.1)
    notes = write(d / "notes.txt", "a quokka in the notes")
    wait_until(lambda: has("quokka", notes), what="another file, while the log cools down")
    wait_until(lambda: has("india", log), what="the log after its cooldown")
    log_runs = [c for c in rec.calls[n:] if c and str(log) in c]
    assert len(log_runs) == 2, rec.calls[n:]  # the first append, then all the others at once
    assert any(c and str(notes) in c and str(log) not in c for c in rec.calls[n:])
    # Asked for by name (the window's Retry), it goes at once, whatever its cooldown.
    w._cooldown[str(log)] = time.monotonic() + 600
    with open(log, "a") as f:
        f.write("request juliet served\n")
    w.request([str(log)])
    wait_until(lambda: has("juliet", log), what="the log, asked for by name")


def test_catch_up_on_start_and_single_file_roots(tmp_path, open_lib, watched):
    d = tmp_path / "docs"
    write(d / "stays.txt", "unchanged")
    write(d / "edited.txt", "before the edit")
    write(d / "goes.txt", "deleted while nobody watched")
    single = write(tmp_path / "loose" / "todo.md", "# Todo\n\nbuy oranges")
    write(tmp_path / "loose" / "neighbour.txt", "not in the library")
    with open_lib() as lib0:
        lib0.index([str(d), str(single)])
    # Changes while not watching...
    (d / "edited.txt").write_text("after the edit: marmalade", encoding="utf-8")
    (d / "goes.txt").unlink()
    write(d / "came.txt", "arrived while nobody watched")
    lib, w, rec = watched(d, single)
    # ...are what the catch-up run does first.
    r = rec.reports[0]
    assert rec.calls[0] is None  # the whole library
    assert (r.files_added, r.files_changed, r.files_removed, r.files_unchanged) == (1, 1, 1, 2)
    assert {s.folder: s.state for s in w.statuses()} == {str(d): "watching", str(single): "watching"}

    # A single-file root: its parent folder is watched, only that file counts.
    n = len(rec.calls)
    write(tmp_path / "loose" / "neighbour.txt", "still not in the library")
    single.write_text("# Todo\n\nbuy lemons", encoding="utf-8")
    wait_until(lambda: any("lemons" in t for _, _, t, _ in chunk_rows(lib)), what="the single file's edit")
    assert all(p == str(single) for c in rec.calls[n:] if c for p in c)
    assert str(tmp_path / "loose" / "neighbour.txt") not in indexed(lib)


def test_folder_added_through_a_symlink(tmp_path, watched):
    real = tmp_path / "data" / "docs"
    write(real / "a.txt", "alpha")
    link = tmp_path / "Documents"
    link.symlink_to(real, target_is_directory=True)
    lib, w, rec = watched(link)
    write(real / "b.txt", "written through the real path: ibis")
    wait_until(lambda: str(link / "b.txt") in indexed(lib), what="the file under the library's (link) path")


def test_a_library_folder_link_pointed_elsewhere_is_followed(tmp_path, watched):
    """`ln -sfn v2 current` while watching: the old target stayed watched and the new one's
    files were missed until the periodic full check."""
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    write(v1 / "a.txt", "the first version: aardvark")
    write(v2 / "c.txt", "the second version: capybara")
    link = tmp_path / "current"
    link.symlink_to(v1, target_is_directory=True)
    lib, w, rec = watched(link)
    assert indexed(lib) == {str(link / "a.txt")}
    tmp = tmp_path / "current.new"
    tmp.symlink_to(v2, target_is_directory=True)
    os.replace(tmp, link)
    wait_until(lambda: indexed(lib) == {str(link / "c.txt")}, what="the new target's files, and not the old's")
    write(v2 / "d.txt", "written after the switch: dugong")
    wait_until(lambda: str(link / "d.txt") in indexed(lib), what="a change in the new target")


@pytest.mark.skipif(not can_mount(), reason="needs root on Linux to mount a drive (tmpfs)")
def test_a_drive_mounted_again_on_a_library_folder_is_watched_again(tmp_path, watched):
    """Unmounted and mounted again while watching (a USB drive re-plugged): the folder still
    existed, so the watch stayed on what was there before and changes waited for the
    periodic full check."""
    drive = tmp_path / "drive"
    with small_disk(drive, "10M"):
        write(drive / "a.txt", "on the drive: aardvark")
        lib, w, rec = watched(drive)
        assert indexed(lib) == {str(drive / "a.txt")}
        subprocess.run(["umount", str(drive)], check=True)
        time.sleep(3)  # the watcher's health check sees the drive gone
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=10M", "tmpfs", str(drive)], check=True)
        write(drive / "b.txt", "written after the drive came back: bandicoot")
        wait_until(lambda: str(drive / "b.txt") in indexed(lib), what="a file written on the remounted drive")


def test_submit_runs_on_the_writer_thread_and_rearms(tmp_path, watched):
    d, more = tmp_path / "docs", tmp_path / "more"
    write(d / "a.txt", "alpha")
    write(more / "m.txt", "a folder added through submit: meerkat")
    lib, w, rec = watched(d)
    assert w.submit(lambda lib_: threading.current_thread().name).result(TIMEOUT) == "quire-watch"
    assert w.submit(lambda lib_: lib_ is lib).result(TIMEOUT)
    with pytest.raises(ZeroDivisionError):
        w.submit(lambda lib_: 1 / 0).result(TIMEOUT)

    # The window adds a folder through submit: it is caught up and watched.
    w.submit(lambda lib_: lib_.add(str(more))).result(TIMEOUT)
    wait_until(lambda: str(more / "m.txt") in indexed(lib), what="the added folder's catch-up")
    write(more / "n.txt", "written after the folder was added")
    wait_until(lambda: str(more / "n.txt") in indexed(lib), what="an event in the added folder")

    # Paused: no status 'watching', nothing indexed; resumed: caught up.
    w.submit(lambda lib_: lib_.set_paused(str(more), True)).result(TIMEOUT)
    wait_until(lambda: {s.folder: s.state for s in w.statuses()}.get(str(more)) == "paused", what="paused")
    write(more / "p.txt", "written while paused")
    w.submit(lambda lib_: lib_.set_paused(str(more), False)).result(TIMEOUT)
    wait_until(lambda: str(more / "p.txt") in indexed(lib), what="the catch-up after resuming")

    # request(): a path outside the library (a drop on the window) is added and indexed.
    dropped = write(tmp_path / "dropped.md", "# Dropped\n\non the window")
    w.request([str(dropped)])
    wait_until(lambda: str(dropped) in indexed(lib), what="the dropped file")
    assert str(dropped) in {r.path for r in lib.roots()}
    assert w.submit(lambda lib_: w.busy).result(TIMEOUT) is False  # jobs run between runs...
    assert True in rec.busy_seen  # ...and progress comes from inside them
    assert not rec.errors


def watch_while_a_big_folder_waits(tmp_path, watched, monkeypatch):
    """A watched folder, and an 80-file folder beside it whose parsing takes 50 ms a file, so a
    run over it can be interrupted by a job (after 0.2 s instead of 3 s)."""
    monkeypatch.setattr(watch_mod, "PREEMPT_AFTER_S", 0.2)
    monkeypatch.setattr(indexer_mod, "ParsePool", functools.partial(ParsePool, parser="tests.helpers.parsers:slow"))
    d, big = tmp_path / "docs", tmp_path / "big"
    write(d / "a.txt", "alpha")
    for i in range(80):
        write(big / f"b{i:02}.txt", f"big folder file {i}")
    lib, w, rec = watched(d)
    return d, big, lib, w, rec


def test_a_job_interrupts_a_long_run_mid_parse_and_the_run_resumes(tmp_path, watched, monkeypatch):
    """The window pauses, adds or removes a folder while a big one is being read: the run stops
    between files for the job, then goes on; no error, nothing lost."""
    d, big, lib, w, rec = watch_while_a_big_folder_waits(tmp_path, watched, monkeypatch)
    n = len(rec.reports)
    w.request([str(big)])
    wait_until(lambda: w.busy and len(indexed(lib)) > 3, what="the big folder's run to be under way")
    assert w.submit(lambda lib_: len(lib_.roots())).result(TIMEOUT) == 2  # ran between two files
    wait_until(lambda: len(indexed(lib)) == 81, what="every file, after the interrupted run resumed")
    assert any(r.files_added < 80 for r in rec.since(n))  # the run was interrupted, not finished first
    assert not rec.errors


def test_removing_a_folder_while_it_is_indexed_leaves_nothing_of_it(tmp_path, watched, monkeypatch):
    d, big, lib, w, rec = watch_while_a_big_folder_waits(tmp_path, watched, monkeypatch)
    w.request([str(big)])
    wait_until(lambda: w.busy and len(indexed(lib)) > 3, what="the big folder's run to be under way")
    assert w.submit(lambda lib_: lib_.remove(str(big))).result(TIMEOUT) > 0
    wait_until(lambda: not w.busy, what="the watcher to settle")
    assert indexed(lib) == {str(d / "a.txt")}
    assert [r.path for r in lib.roots()] == [str(d)]
    assert set(lib.manifest.counts()) == {"indexed"} and lib.manifest.counts()["indexed"] == 1
    write(big / "late.txt", "written after the folder left the library")
    write(d / "b.txt", "the watched folder still works")
    wait_until(lambda: str(d / "b.txt") in indexed(lib), what="an event in the folder that stayed")
    assert str(big / "late.txt") not in indexed(lib)
    assert not rec.errors


def test_parse_workers_stay_up_between_edits_and_go_when_idle(tmp_path, watched, monkeypatch):
    d = tmp_path / "docs"
    write(d / "a.txt", "alpha")
    lib, w, rec = watched(d)  # the catch-up run parsed a.txt: its worker stays up
    started: list[int] = []
    real_spawn = ParsePool._spawn

    def spawn(self):
        worker = real_spawn(self)
        started.append(worker.proc.pid)
        return worker

    monkeypatch.setattr(ParsePool, "_spawn", spawn)
    for i in range(3):
        write(d / f"n{i}.txt", f"note {i} about a walrus{i}")
        wait_until(lambda i=i: str(d / f"n{i}.txt") in indexed(lib), what=f"edit {i}")
    assert started == []  # every edit was parsed by the worker that was already up
    monkeypatch.setattr(watch_mod, "WORKERS_IDLE_S", 0.0)
    wait_until(lambda: lib._watch_indexer is not None and lib._watch_indexer._pool is None,
               what="idle workers to be let go")
    wait_until(lambda: not [p for p in mp.active_children() if p.name == "quire-parser"],
               what="the worker process to exit")
    write(d / "later.txt", "written after the workers were let go")
    wait_until(lambda: str(d / "later.txt") in indexed(lib), what="an edit after that")
    assert len(started) == 1 and not rec.errors
    monkeypatch.setattr(watch_mod, "WORKERS_IDLE_S", 3600.0)
    write(d / "last.txt", "parsed by a worker that stays up")
    wait_until(lambda: str(d / "last.txt") in indexed(lib), what="one more edit")
    w.stop()  # the library stays open; its kept workers go with the watcher
    assert lib._watch_indexer is not None and lib._watch_indexer._pool is None


def test_rebuild_through_submit_keeps_watching(tmp_path, watched):
    """The window rebuilds through submit (one writer); runs after it write to the new index."""
    d = tmp_path / "docs"
    write(d / "a.txt", "alpha words")
    lib, w, rec = watched(d)

    def rebuild(lib_: Library) -> IndexReport:
        lib_.settings = lib_.settings.with_values({"chunking.chunk_size": 64, "chunking.chunk_overlap": 8})
        return lib_.rebuild()

    w.submit(rebuild).result(TIMEOUT)
    assert lib.meta()["chunks_table"] == "chunks_2"
    write(d / "b.txt", "after the rebuild: okapi")
    wait_until(lambda: str(d / "b.txt") in indexed(lib), what="a file indexed into the rebuilt index")
    assert lib.search("okapi", k=1).hits[0].path == str(d / "b.txt")
    assert not rec.errors


# --- when watching is not possible -----------------------------------------------------------------


def test_unwatchable_folder_is_polled_and_says_why(tmp_path, watched, monkeypatch):
    class NoWatches:
        emitters: set[Any] = set()

        def schedule(self, *a: Any, **k: Any) -> None:
            pass

        def start(self) -> None:
            raise OSError(errno.ENOSPC, "inotify watch limit reached")

        def stop(self) -> None:
            pass

        def is_alive(self) -> bool:
            return False

    monkeypatch.setattr(watch_mod, "_new_observer", NoWatches)
    d = tmp_path / "docs"
    write(d / "a.txt", "alpha")
    lib, w, rec = watched(d, reconcile_every_s=1.0)
    st = w.statuses()[0]
    assert st.state == "polling" and "fs.inotify.max_user_watches" in st.message
    write(d / "b.txt", "found by the periodic check: wombat")
    wait_until(lambda: str(d / "b.txt") in indexed(lib), what="the periodic check")


def test_dead_observer_is_restarted_and_overflow_reconciles(tmp_path, watched, monkeypatch, caplog):
    made: list[Any] = []
    real = watch_mod._new_observer

    def recording() -> Any:
        obs = real()
        made.append(obs)
        return obs

    monkeypatch.setattr(watch_mod, "_new_observer", recording)
    d = tmp_path / "docs"
    write(d / "a.txt", "alpha")
    lib, w, rec = watched(d)
    assert len(made) == 1
    caplog.set_level(logging.WARNING, logger="app.core.watch")
    made[0].stop()  # the observer dies behind the watcher's back
    made[0].join(5)
    wait_until(lambda: len(made) == 2 and made[1].is_alive(), what="a restarted observer")
    assert "restarting" in caplog.text
    write(d / "b.txt", "seen by the restarted observer")
    wait_until(lambda: str(d / "b.txt") in indexed(lib), what="an event after the restart")

    # The kernel's event queue overflowed (watchdog only logs it): the whole library is reconciled.
    n = len(rec.calls)
    logging.getLogger("watchdog.observers.inotify_c").warning("Inotify queue overflowed; filesystem events were lost")
    wait_until(lambda: None in rec.calls[n:], what="a full reconcile")


# --- the command ------------------------------------------------------------------------------------


def test_quire_watch_json_lines_and_ctrl_c(tmp_path):
    home, d = tmp_path / "home", tmp_path / "docs"
    write(d / "a.txt", "alpha")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUIRE_")}
    env.update({"QUIRE_HOME": str(home), "PYTHONPATH": str(REPO), "QUIRE_EMBEDDING_BACKEND": "none"})
    subprocess.run([sys.executable, "-m", "app", "library", "add", str(d)], env=env, cwd=str(REPO), check=True,
                   capture_output=True, timeout=120)
    p = subprocess.Popen([sys.executable, "-m", "app", "watch", "--json"], env=env, cwd=str(REPO),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.SimpleQueue[str] = queue.SimpleQueue()
    threading.Thread(target=lambda: [lines.put(x) for x in p.stdout], daemon=True).start()  # type: ignore[union-attr]

    def next_report(pred: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                doc = json.loads(lines.get(timeout=1))  # every stdout line is one JSON document
            except queue.Empty:
                assert p.poll() is None, p.stderr.read()  # type: ignore[union-attr]
                continue
            if pred(doc):
                return doc
        raise AssertionError("no matching JSON line")

    try:
        first = next_report(lambda doc: True)
        assert first["files_added"] == 1  # the catch-up run
        write(d / "b.txt", "written while quire watch runs")
        assert next_report(lambda doc: doc["files_added"] == 1)["chunks_written"] == 1
        p.send_signal(signal.SIGINT)
        assert p.wait(60) == 0
        assert "Stopped." in p.stderr.read()  # type: ignore[union-attr]
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
