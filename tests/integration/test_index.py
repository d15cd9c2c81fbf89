"""The index on a real LanceDB: incremental runs, moves, deletes, odd names, rebuilds."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.core import indexer as indexer_mod
from app.core import parsepool
from app.core import store as store_mod
from app.core.config import Settings
from app.core.errors import ConfigError, IndexMismatchError, UsageError
from tests.integration.conftest import can_mount, chunk_rows, small_disk, write

LOREM = ("Quire keeps an index of the folders a user picks. Each file is parsed, chunked and embedded. "
         "Only what changed is indexed again. ")


def long_doc(n_paras: int, marker: str = "") -> str:
    return "\n\n".join(f"Paragraph {i} {marker} about topic{i} and subject{i}. " + LOREM * 3
                       for i in range(n_paras))


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    write(d / "lease.txt", "The lease requires sixty days written notice before termination.")
    write(d / "notes" / "deposit.md", "# Money\n\n## Deposit\n\nThe deposit is two months of rent.\n")
    write(d / "long.txt", long_doc(30))
    write(d / ".git" / "config", "ignored because of the default ignore rules")
    write(d / "node_modules" / "x.js", "ignored too")
    write(d / "draft.txt.swp", "editor swap file")
    (d / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    return d


def test_index_then_search_by_keyword_and_meaning(corpus, open_lib, embedder):
    lib = open_lib()
    r = lib.index([str(corpus)])
    assert (r.files_added, r.files_failed) == (3, 0)
    assert r.files_skipped == 1  # the PNG, listed with a reason
    assert r.chunks_written > 3 and r.chunks_embedded == len(set(embedder.texts))
    res = lib.search("termination notice", k=3)
    assert res.mode == "hybrid"
    assert res.hits[0].path == str(corpus / "lease.txt")
    md = lib.search("deposit rent", k=1).hits[0]
    assert md.path.endswith("deposit.md") and md.heading == "Money > Deposit"
    st = lib.status()
    assert st["files"] == {"indexed": 3, "skipped": 1}
    assert st["embedding"]["dim"] == 64
    assert not any(".git" in f or "node_modules" in f or ".swp" in f for f, *_ in chunk_rows(lib))


def test_progress_counts_chunks_as_they_are_parsed_not_only_once_stored(corpus, open_lib, embedder):
    # Rows are stored in batches of thousands, so a small folder is stored at the very end: the
    # bar said "3/3 files · 0 chunks" all the way through.
    seen = []
    r = open_lib().index([str(corpus)], progress=seen.append)
    parse = [p for p in seen if p.phase == "parse"]
    assert parse[-1].files_done == parse[-1].files_total == 3  # the PNG is skipped by its name
    assert parse[-1].chunks_parsed == r.chunks_written > 0
    assert [p.chunks_parsed for p in parse] == sorted(p.chunks_parsed for p in parse)


def test_second_run_reads_nothing_and_embeds_nothing(corpus, open_lib, embedder, monkeypatch):
    lib = open_lib()
    first = lib.index([str(corpus)])

    def no_reading(*a, **k):
        raise AssertionError("a no-change run must not read file contents")

    monkeypatch.setattr(indexer_mod, "sha256_file", no_reading)
    monkeypatch.setattr(parsepool.ParsePool, "map", no_reading)
    monkeypatch.setattr(indexer_mod.Store, "maintain", no_reading)  # and leaves the store alone
    calls = embedder.calls
    r = lib.index()
    assert r.files_unchanged == first.files_seen and r.chunks_written == 0 and r.chunks_embedded == 0
    assert embedder.calls == calls


def test_editing_one_paragraph_embeds_only_new_chunks(corpus, open_lib, embedder):
    lib = open_lib()
    lib.index([str(corpus)])
    before = chunk_rows(lib)
    doc = corpus / "long.txt"
    n_file_chunks = sum(1 for p, *_ in before if p == str(doc))
    assert n_file_chunks >= 6
    text = doc.read_text()
    doc.write_text(text.replace("Paragraph 17 ", "Paragraph 17 CHANGED "))
    r = lib.index()
    assert (r.files_changed, r.files_unchanged) == (1, 3)  # the PNG is unchanged too
    assert r.chunks_written == n_file_chunks  # the file's rows are replaced as a unit...
    assert 1 <= r.chunks_embedded <= 3  # ...but only the chunks whose text changed are embedded
    assert lib.search("CHANGED", k=1).hits[0].path == str(doc)


def test_touch_without_change_reindexes_nothing(corpus, open_lib, embedder):
    lib = open_lib()
    lib.index([str(corpus)])
    f = corpus / "lease.txt"
    os.utime(f, ns=(time.time_ns(), time.time_ns() + 10_000_000_000))
    r = lib.index()
    assert r.chunks_written == 0 and r.files_changed == 0 and r.files_unchanged == 4


def test_rename_and_move_repath_without_embedding(corpus, open_lib, embedder, tmp_path):
    lib = open_lib()
    other = tmp_path / "other"
    write(other / "readme.txt", "another library folder")
    lib.index([str(corpus), str(other)])
    rows_before = len(chunk_rows(lib))
    (corpus / "long.txt").rename(corpus / "renamed.txt")
    (corpus / "notes").rename(corpus / "moved-notes")  # a whole folder
    (corpus / "lease.txt").rename(other / "lease.txt")  # into another library folder
    calls = embedder.calls
    r = lib.index()
    assert r.files_moved == 3 and r.chunks_embedded == 0 and r.chunks_written == 0 and r.files_removed == 0
    assert embedder.calls == calls
    paths = {p for p, *_ in chunk_rows(lib)}
    assert str(corpus / "renamed.txt") in paths and str(corpus / "long.txt") not in paths
    assert str(corpus / "moved-notes" / "deposit.md") in paths
    hit = lib.search("termination notice", k=1).hits[0]
    assert hit.path == str(other / "lease.txt") and hit.folder == str(other)
    assert len(chunk_rows(lib)) == rows_before


def test_delete_removes_rows_and_vectors_follow(corpus, open_lib, embedder):
    lib = open_lib()
    lib.index([str(corpus)])
    (corpus / "long.txt").unlink()
    r = lib.index()
    assert r.files_removed == 1
    assert all(not p.endswith("long.txt") for p, *_ in chunk_rows(lib))
    assert not [h for h in lib.search("topic17 subject17", k=5).hits if h.path.endswith("long.txt")]
    # vectors no chunk uses any more are dropped too
    st = lib.store()
    assert st.count_vectors() == len({r["text_hash"] for r in st.chunks.to_arrow().to_pylist()})


def test_vectors_orphaned_by_an_edit_go_without_a_scan_of_the_library(corpus, open_lib, embedder,
                                                                       monkeypatch):
    """A changed or deleted file's old vectors leave; a text another file shares keeps its
    vector; and finding them looks up the replaced rows' hashes, not every row of both tables."""
    shared = "A sentence both files hold, word for word, about the notice period."
    write(corpus / "twin.txt", shared)
    write(corpus / "edited.txt", shared)
    for i in range(40):  # a library much larger than the edit: looking hashes up is the cheap way
        write(corpus / "more" / f"m{i}.txt", f"Filler note {i} about item{i}.")
    lib = open_lib()
    lib.index([str(corpus)])
    st = lib.store()
    scanned: list[str] = []
    real_scan = store_mod.scan
    monkeypatch.setattr(store_mod, "scan",
                        lambda table, *a, **k: scanned.append(table.name) or real_scan(table, *a, **k))

    def hashes() -> set[str]:
        return {r["text_hash"] for r in st.chunks.to_arrow().to_pylist()}

    vectors_before = st.count_vectors()
    write(corpus / "edited.txt", "Entirely new words about a walrus.")  # its old text lives on in twin.txt
    write(corpus / "lease.txt", "The lease now asks for ninety days.")  # its old text is gone
    r = lib.index()
    assert r.files_changed == 2 and r.chunks_embedded == 2
    assert st.count_vectors() == len(hashes())  # no vector without a chunk, none missing
    assert st.count_vectors() == vectors_before + 2 - 1  # the lease's old vector left, the shared one stayed
    assert st.missing_vectors(list(hashes())) == []
    (corpus / "twin.txt").unlink()  # the shared text's last chunk goes with it
    lib.index()
    assert st.count_vectors() == len(hashes())
    assert st.vectors_name not in scanned  # looked up by hash, never scanned whole

    write(corpus / "long.txt", long_doc(30, marker="revised"))  # most of the library changes:
    lib.index()  # a scan of both tables is cheaper then, and gives the same answer
    assert st.count_vectors() == len(hashes()) and st.missing_vectors(list(hashes())) == []


def test_odd_file_names_are_just_files(tmp_path, open_lib, embedder):
    d = tmp_path / "odd"
    names = ["a\"b' OR 1=1.txt", "line\nbreak.txt", "semi;colon -- x.txt", "ünïcödé.txt"]
    for n in names:
        write(d / n, f"content of {n!r} with the word zanzibar")
    raw = os.fsencode(str(d)) + b"/bad-\xff-bytes.txt"
    with open(raw, "wb") as f:
        f.write(b"non utf-8 name, word zanzibar")
    lib = open_lib()
    r = lib.index([str(d)])
    assert r.files_added == 5 and r.files_failed == 0
    hits = lib.search("zanzibar", k=10).hits
    shown = {Path(h.path).name for h in hits}
    assert set(names) <= shown and "bad-\\xff-bytes.txt" in shown
    os.unlink(raw)
    (d / names[0]).unlink()
    r = lib.index()
    assert r.files_removed == 2
    assert len(lib.search("zanzibar", k=10).hits) == 3


def test_library_remove_takes_rows_out(corpus, tmp_path, open_lib, embedder):
    other = write(tmp_path / "todo.md", "# Todo\n\nbuy zucchini")
    lib = open_lib()
    lib.index([str(corpus), str(other)])
    assert lib.search("zucchini", k=1).hits
    n = lib.remove(str(other))
    assert n == 1
    assert not [h for h in lib.search("zucchini", k=5).hits if h.path == str(other)]
    assert [r.path for r in lib.roots()] == [str(corpus)]
    with pytest.raises(UsageError):
        lib.remove(str(other))


def test_missing_path_is_refused(open_lib, embedder, tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        open_lib().index([str(tmp_path / "nope")])


def test_unplugged_folder_keeps_its_rows(corpus, open_lib, embedder, tmp_path):
    lib = open_lib()
    lib.index([str(corpus)])
    n = len(chunk_rows(lib))
    corpus.rename(tmp_path / "unplugged")
    r = lib.index()
    assert r.files_removed == 0 and "not found" in r.note
    assert len(chunk_rows(lib)) == n
    (tmp_path / "unplugged").rename(corpus)
    assert lib.index().files_unchanged == 4


@pytest.mark.skipif(not can_mount(), reason="needs root on Linux to mount a drive (tmpfs)")
def test_a_drive_unmounted_from_its_mount_point_keeps_its_rows(tmp_path, open_lib, embedder):
    """An unmounted drive leaves its mount point, an empty folder on the disk below: the index
    is kept until the user removes the folder."""
    with small_disk(tmp_path / "drive", "10M") as drive:
        write(drive / "a.txt", "notes on the unplugged drive")
        lib = open_lib()
        lib.index([str(drive)])
        n = len(chunk_rows(lib))
        subprocess.run(["umount", str(drive)], check=True)
        r = lib.index()
        assert r.files_removed == 0 and "empty" in r.note and len(chunk_rows(lib)) == n


def test_a_folder_emptied_on_its_own_disk_loses_its_rows(corpus, open_lib, embedder):
    """Not an unmounted drive: the folder is on the disk it was on. Its rows stayed for good,
    and a search kept finding files that were deleted (the watcher's runs removed them)."""
    lib = open_lib()
    lib.index([str(corpus)])
    for child in corpus.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    r = lib.index()
    assert r.files_removed == 4 and "empty" not in r.note and chunk_rows(lib) == []


def test_a_file_that_can_no_longer_be_read_loses_its_rows(tmp_path, open_lib, embedder):
    """Grown past max_file_mb, or replaced by a dangling link: the manifest said skipped or
    failed while the old rows stayed, and a search still found the old text."""
    d = tmp_path / "docs"
    write(d / "log.txt", "kumquat harvest notes. " * 10)
    write(d / "note.txt", "apricot jam recipe.")
    write(d / "keep.txt", "plain note that stays.")
    lib = open_lib(index__max_file_mb=0.01)
    lib.index([str(d)])
    write(d / "log.txt", "kumquat harvest notes. " * 1000)  # ~23 KB, over 0.01 MB
    (d / "note.txt").unlink()
    (d / "note.txt").symlink_to(d / "nowhere.txt")
    r = lib.index()
    assert r.files_skipped == 1 and r.files_failed == 1
    assert {Path(p).name for p, *_ in chunk_rows(lib)} == {"keep.txt"}
    assert lib.search("kumquat").hits == () and lib.search("apricot").hits == ()
    assert lib.status()["chunks"] == 1
    skipped = lib.manifest.files_by_status("skipped")
    assert [f.reason for f in skipped] == ["too large: 0.022 MB, over the limit of 0.01 MB ([index] max_file_mb)"]


def test_a_new_size_limit_applies_to_files_that_did_not_change(tmp_path, open_lib, embedder):
    d = tmp_path / "docs"
    write(d / "big.txt", "kumquat harvest notes. " * 1000)
    write(d / "small.txt", "apricot jam recipe.")
    lib = open_lib(index__max_file_mb=0.01)
    lib.index([str(d)])
    assert lib.search("kumquat").hits == ()
    lib.close()
    lib = open_lib(index__max_file_mb=1)  # raised: the big file is read now
    r = lib.index()
    assert r.files_added + r.files_changed == 1 and lib.search("kumquat").hits
    lib.close()
    lib = open_lib(index__max_file_mb=0.01)  # lowered: it leaves the index
    r = lib.index()
    assert r.files_skipped == 1 and lib.search("kumquat").hits == ()
    again = lib.index()  # and the next run reads nothing again
    assert again.files_unchanged == 2 and again.files_skipped == 0 and again.chunks_written == 0


def test_a_folder_whose_files_the_rules_now_skip_loses_their_rows(corpus, open_lib, embedder):
    """Not mistaken for an unmounted drive: the folder is not empty, its files are ignored."""
    lib = open_lib()
    lib.index([str(corpus)])
    lib.close()
    lib2 = open_lib(index__ignore=["*.txt", "*.md", "*.png"])
    r = lib2.index()
    assert r.files_removed == 4 and "empty" not in r.note
    assert chunk_rows(lib2) == []


def test_keyword_search_works_before_vectors_exist(corpus, open_lib, embedder):
    """Files are searchable by their words while the embedder is still busy."""
    embedder.gate.clear()  # the embedder blocks until released
    lib = open_lib()
    result: list = []
    t = threading.Thread(target=lambda: result.append(lib.index([str(corpus)])))
    t.start()
    try:
        deadline = time.monotonic() + 60
        hits = ()
        while time.monotonic() < deadline and not hits:
            with open_lib(write=False) as reader:
                hits = reader.search("termination", k=1).hits
            time.sleep(0.2)
        assert hits and hits[0].path.endswith("lease.txt")
    finally:
        embedder.gate.set()
        t.join(60)
    assert result and result[0].chunks_embedded > 0


def test_the_keyword_index_is_complete_before_the_run_waits_for_vectors(tmp_path, open_lib, embedder, monkeypatch):
    """With a model, `quire index` waits for the vectors (hours for a big folder): the rows are
    folded into the keyword index first, not left to a flat scan per search until the end."""
    d = tmp_path / "many"
    for i in range(1200):
        write(d / f"n{i:04}.txt", f"Note {i} mentions item{i} once.")
    monkeypatch.setattr(indexer_mod, "FLUSH_ROWS", 100)  # the first batch makes the index; the rest wait
    embedder.gate.clear()  # the model is slow: everything is still waiting when parsing ends
    lib = open_lib()
    backlog: list[tuple[int, int]] = []

    def progress(p):
        if p.phase == "embed" and p.message == "adding vectors" and not backlog:
            backlog.append(lib.store().keyword_backlog())
            embedder.gate.set()

    r = lib.index([str(d)], progress=progress)
    assert backlog == [(1200, 0)]
    assert r.chunks_embedded == 1200 and lib.status()["vectors"] == 1200


def test_a_long_run_folds_its_rows_into_the_keyword_index_as_it_goes(tmp_path, open_lib, monkeypatch):
    """Each fold rewrites the whole index, so they come when the rows waiting are as many as the
    rows in it: a few folds, never one a batch."""
    monkeypatch.setattr(indexer_mod, "FOLD_DURING_RUN_AFTER_S", 0.0)
    monkeypatch.setattr(indexer_mod, "FTS_FOLD_ROWS", 200)
    monkeypatch.setattr(indexer_mod, "FLUSH_ROWS", 100)
    folds: list[tuple[int, int]] = []
    fold = store_mod.Store.fold_keywords

    def spy(self):
        folds.append(self.keyword_backlog())
        fold(self)

    monkeypatch.setattr(store_mod.Store, "fold_keywords", spy)
    d = tmp_path / "many"
    for i in range(1200):
        write(d / f"n{i:04}.txt", f"Note {i} mentions item{i} once.")
    lib = open_lib(embedding__backend="none")
    lib.index([str(d)])
    assert folds == [(100, 200), (300, 300), (600, 600)]
    assert lib.store().keyword_backlog() == (1200, 0)
    assert lib.search("item777", k=1).hits[0].path.endswith("n0777.txt")


def test_backend_none_is_keyword_only_and_says_so(corpus, open_lib):
    lib = open_lib(embedding__backend="none")
    r = lib.index([str(corpus)])
    assert r.chunks_embedded == 0 and r.embed_pending == 0
    res = lib.search("termination notice", k=2)
    assert res.mode == "keyword" and "keyword" in res.note
    assert res.hits[0].path.endswith("lease.txt")


def test_a_keyword_search_of_only_common_words_says_so(corpus, open_lib):
    # It said "No passages match", as if the library held nothing about it.
    lib = open_lib(embedding__backend="none")
    lib.index([str(corpus)])
    res = lib.search("what is it", k=3)
    assert res.hits == () and '"what is it" has only words too common to search by' in res.note
    res = lib.search("zeppelin", k=3)  # a real word that is nowhere: no such note
    assert res.hits == () and "too common" not in res.note
    assert lib.search("the lease", k=1).hits[0].path.endswith("lease.txt")


def test_filters_by_folder_and_type(corpus, tmp_path, open_lib, embedder):
    other = tmp_path / "other"
    write(other / "lease-copy.md", "# Lease\n\nThe lease requires sixty days written notice.")
    lib = open_lib()
    lib.index([str(corpus), str(other)])
    only_other = lib.search("lease notice", k=5, folder=str(other)).hits
    assert only_other and all(h.folder == str(other) for h in only_other)
    # A folder inside a library folder narrows to its files; one outside the library is refused.
    in_notes = lib.search("deposit rent lease notice", k=5, folder=str(corpus / "notes") + "/").hits
    assert [h.path for h in in_notes] == [str(corpus / "notes" / "deposit.md")]
    with pytest.raises(UsageError, match="is not in the library"):
        lib.search("lease", folder=str(tmp_path / "elsewhere"))
    # A mistyped folder or a file is refused with why; both answered "No passages match".
    with pytest.raises(UsageError, match="nots does not exist"):
        lib.search("lease", folder=str(corpus / "nots"))
    with pytest.raises(UsageError, match="deposit.md is a file"):
        lib.search("lease", folder=str(corpus / "notes" / "deposit.md"))
    only_text = lib.search("lease notice", k=5, kinds=["text"]).hits
    assert only_text and all(h.kind == "text" for h in only_text)
    # An extension names its kind; a name that is neither is refused, not answered with nothing.
    assert {h.kind for h in lib.search("lease notice", k=5, kinds=["md"]).hits} == {"markdown"}
    assert lib.search("lease notice", k=5, kinds=[".TXT"]).hits == only_text
    with pytest.raises(UsageError, match="'mdd' is not a kind of file") as bad:
        lib.search("lease notice", kinds=["mdd"])
    assert "markdown" in bad.value.user_text() and "pdf" in bad.value.user_text()


def test_a_folder_filter_works_by_any_path_to_a_library_added_through_a_link(corpus, tmp_path, open_lib,
                                                                            embedder):
    """Added as ~/link-to-docs: a subfolder named by its real path was "not in the library"."""
    link = tmp_path / "link-to-docs"
    link.symlink_to(corpus, target_is_directory=True)
    lib = open_lib()
    lib.index([str(link)])
    for spelled in (link / "notes", corpus / "notes"):
        hits = lib.search("deposit rent", k=5, folder=str(spelled)).hits
        assert [h.path for h in hits] == [str(link / "notes" / "deposit.md")]


def test_files_without_an_extension_are_filtered_by_what_they_turned_out_to_be(tmp_path, open_lib, embedder):
    from tests.unit.test_parse_formats import make_pdf

    d = tmp_path / "docs"
    write(d / "README", "Plain notes about the quarterly budget.")
    (d / "scan0042").write_bytes(make_pdf(["Invoice for the quarterly budget review"]))
    lib = open_lib()
    assert lib.index([str(d)]).files_added == 2
    kinds = {h.path.rsplit("/", 1)[-1]: h.kind for h in lib.search("quarterly budget", k=5).hits}
    assert kinds == {"README": "text", "scan0042": "pdf"}
    assert [h.kind for h in lib.search("quarterly budget", kinds=["pdf"]).hits] == ["pdf"]
    assert [h.kind for h in lib.search("quarterly budget", kinds=["text"]).hits] == ["text"]


def test_a_rename_that_changes_how_a_file_is_read_parses_it_again(tmp_path, open_lib, embedder):
    d = tmp_path / "docs"
    write(d / "plan.txt", "# Budget\n\nThe budget for next year is set in March.\n")
    lib = open_lib()
    lib.index([str(d)])
    (d / "plan.txt").rename(d / "plan.md")
    r = lib.index()
    assert (r.files_moved, r.files_added, r.files_removed) == (0, 1, 1)
    hit = lib.search("budget March", k=1).hits[0]
    assert hit.path.endswith("plan.md") and (hit.kind, hit.heading) == ("markdown", "Budget")
    (d / "plan.md").rename(d / "plan2.md")  # same kind: still a move, nothing parsed
    assert lib.index().files_moved == 1


def test_changed_settings_are_refused_until_rebuild(corpus, open_lib, embedder, paths, monkeypatch):
    lib = open_lib()
    lib.index([str(corpus)])
    rows = chunk_rows(lib)
    lib.close()
    other_model = Settings().with_values({"embedding.model": "BAAI/bge-small-en-v1.5"})
    lib2 = open_lib(other_model)
    with pytest.raises(IndexMismatchError, match="BAAI/bge-small-en-v1.5") as exc:
        lib2.index()
    assert "quire rebuild" in (exc.value.action or "")
    with pytest.raises(IndexMismatchError):
        lib2.search("lease")
    plan = lib2.plan_rebuild()
    assert plan is not None and plan.reembed and not plan.reparse and plan.files == 4

    def no_parsing(*a, **k):
        raise AssertionError("an embedding change must not parse files again")

    monkeypatch.setattr(parsepool.ParsePool, "map", no_parsing)
    calls_before = len(embedder.texts)
    r = lib2.rebuild()
    assert r.chunks_embedded == len({h for h in embedder.texts[calls_before:]}) > 0
    assert chunk_rows(lib2) == rows
    assert lib2.search("termination notice", k=1).hits[0].path.endswith("lease.txt")
    assert lib2.status()["embedding"]["model"] == "BAAI/bge-small-en-v1.5"


def test_chunk_setting_change_rebuilds_beside_the_old_index(corpus, open_lib, embedder):
    lib = open_lib()
    lib.index([str(corpus)])
    n_old = len(chunk_rows(lib))
    lib.close()
    lib2 = open_lib(chunking__chunk_size=64, chunking__chunk_overlap=8)
    assert lib2.plan_rebuild().reparse
    lib2.rebuild()
    assert len(chunk_rows(lib2)) > n_old
    assert lib2.mismatch() is None
    assert lib2.index().files_unchanged == 4
    # The vectors of the old chunks' texts go with them (they stayed behind: 57 of 556 after a
    # rebuild of a real folder); the new chunks' texts all have theirs.
    st = lib2.store()
    hashes = set(st.chunks.to_arrow().column("text_hash").to_pylist())
    assert set(st.vectors().to_arrow().column("text_hash").to_pylist()) == hashes


def test_chunk_size_above_the_model_limit_is_refused(corpus, open_lib, embedder):
    lib = open_lib(chunking__chunk_size=400)
    with pytest.raises(ConfigError, match="chunking.chunk_size"):
        lib.index([str(corpus)])


def test_watch_mode_returns_before_vectors_which_follow(corpus, open_lib, embedder):
    embedder.gate.clear()
    lib = open_lib()
    r = lib.index([str(corpus)], wait_for_vectors=False)
    assert r.chunks_written > 0 and r.chunks_embedded == 0
    assert lib.search("termination", k=1).hits[0].path.endswith("lease.txt")
    assert lib.embedding_backlog() > 0
    embedder.gate.set()
    st = lib.store()
    deadline = time.monotonic() + 30
    want = len({r["text_hash"] for r in st.chunks.to_arrow().to_pylist()})
    while st.count_vectors() < want and time.monotonic() < deadline:
        time.sleep(0.05)
    assert st.count_vectors() == want

    # The watcher's limited runs: only the paths that changed are looked at.
    write(corpus / "new.txt", "brand new words: xylophone")
    r = lib.index(changed=[str(corpus / "new.txt")], wait_for_vectors=False)
    assert (r.files_seen, r.files_added) == (1, 1)
    assert lib.search("xylophone", k=1).hits[0].path.endswith("new.txt")
    (corpus / "lease.txt").unlink()
    r = lib.index(changed=[str(corpus / "lease.txt")], wait_for_vectors=False)
    assert (r.files_seen, r.files_removed) == (0, 1)
    (corpus / "notes").rename(corpus / "notes2")
    r = lib.index(changed=[str(corpus / "notes"), str(corpus / "notes2")], wait_for_vectors=False)
    assert r.files_moved == 1 and r.chunks_written == 0
    lib.close()
    with open_lib() as again:
        assert again.manifest.get_meta("vectors_complete") is True
        assert again.index().files_unchanged == 4


def test_a_file_still_waiting_for_vectors_ranks_fairly_in_hybrid_search(tmp_path, open_lib, embedder,
                                                                        monkeypatch):
    """During catch-up, a keyword match without a vector must not lose to embedded noise."""
    club, home = tmp_path / "club", tmp_path / "household"
    for i in range(60):
        write(club / f"newsletter{i}.txt", f"Newsletter {i}: the club meeting, tea and a notice board. " * 5)
    lib = open_lib()
    lib.index([str(club)])
    write(home / "tenancy.txt", "The tenant must give two months notice in writing before moving out.")
    embedder.gate.clear()  # the new file's vectors will not be there yet
    try:
        lib.index([str(home)], wait_for_vectors=False)
        with open_lib(write=False) as reader:
            monkeypatch.setattr(reader, "embedder", lambda: type(embedder)())  # queries need not wait
            hits = reader.searcher().search("notice before moving out tenant", k=3, mode="hybrid").hits
        assert hits[0].path.endswith("tenancy.txt")
    finally:
        embedder.gate.set()


def test_a_limited_run_reads_only_its_paths_and_spares_look_alike_neighbours(tmp_path, open_lib, embedder,
                                                                             monkeypatch):
    """The watcher's run names what changed: only those paths' manifest rows are read, and a
    sibling whose name merely starts the same ("a-old", "a0", "a.txt") is neither read nor lost."""
    d = tmp_path / "docs"
    write(d / "a" / "in.txt", "inside the folder that changed")
    write(d / "a" / "deep" / "x.txt", "deeper inside it")
    for sib in ("a-old/s.txt", "a0/s.txt", "a.txt", "ab/s.txt"):
        write(d / sib, f"a neighbour named {sib}")
    lib = open_lib()
    lib.index([str(d)])
    before = {p for p, *_ in chunk_rows(lib)}
    assert len(before) == 6
    monkeypatch.setattr(lib.manifest, "stats_of_root",
                        lambda *a: (_ for _ in ()).throw(AssertionError("a limited run read the whole root")))
    write(d / "a" / "deep" / "x.txt", "deeper inside it, edited")
    (d / "a" / "in.txt").unlink()
    r = lib.index(changed=[str(d / "a")])
    assert (r.files_seen, r.files_changed, r.files_removed) == (1, 1, 1)
    assert {p for p, *_ in chunk_rows(lib)} == before - {str(d / "a" / "in.txt")}


def test_a_limited_run_judges_ignore_rules_and_links_from_the_library_root(tmp_path, open_lib, embedder):
    """"/sub/" is anchored at the library folder: it skips <root>/sub/, not <root>/x/sub/. A run
    that starts at <root>/x must read the rule the same way, or x/sub/'s files look deleted; and
    a link from x/ to elsewhere in the library is read under its target's name, as in a full run."""
    d = tmp_path / "docs"
    write(d / "x" / "sub" / "kept.txt", "kept: the rule is anchored at the library folder")
    write(d / "sub" / "skipped.txt", "skipped by the rule")
    write(d / "x" / "plain.txt", "plain")
    write(d / "y" / "target.txt", "reached through a link in x")
    (d / "x" / "link.txt").symlink_to(d / "y" / "target.txt")
    lib = open_lib(index__ignore=["/sub/"])
    lib.index([str(d)])
    full = {p for p, *_ in chunk_rows(lib)}
    assert str(d / "x" / "sub" / "kept.txt") in full and str(d / "sub" / "skipped.txt") not in full
    assert str(d / "y" / "target.txt") in full and str(d / "x" / "link.txt") not in full
    write(d / "x" / "plain.txt", "plain, edited")
    r = lib.index(changed=[str(d / "x")])
    assert (r.files_changed, r.files_removed, r.files_failed) == (1, 0, 0)
    assert {p for p, *_ in chunk_rows(lib)} == full
    assert lib.index(changed=[str(d / "sub" / "skipped.txt")]).files_seen == 0
    assert lib.index(changed=[str(d / "x" / "link.txt")]).files_seen == 0  # an alias, named by a change


def test_a_file_the_watcher_names_is_read_even_with_its_old_size_and_mtime(tmp_path, open_lib, embedder):
    """A same-size edit whose mtime is set back (cp -p, rsync -t, touch -r) looks unchanged by
    size and mtime; the watcher heard of it and still kept the old text."""
    d = tmp_path / "docs"
    f = write(d / "a.txt", "the kumquat harvest")
    lib = open_lib()
    lib.index([str(d)])
    st = os.stat(f)
    f.write_text("the apricot harvest")  # the same length
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert lib.index().files_changed == 0  # a full run trusts size and mtime, as rsync does
    r = lib.index(changed=[str(f)])
    assert r.files_changed == 1 and lib.search("apricot").hits and lib.search("kumquat").hits == ()
    assert lib.index(changed=[str(f)]).files_unchanged == 1  # hashed again, not parsed


def test_links_are_read_under_their_target_s_name_by_the_watcher_s_runs_too(tmp_path, open_lib, embedder):
    """A run over a changed path made a link to a folder outside the library index that folder,
    and a link to one inside index its files a second time. Changes are reported by real
    names; a full run had indexed the files under whichever name sorted first ("alink/")."""
    d = tmp_path / "docs"
    write(d / "real" / "r.txt", "the ferry timetable")
    write(tmp_path / "private" / "diary.txt", "a private diary")
    (d / "alink").symlink_to(d / "real", target_is_directory=True)
    lib = open_lib()
    lib.index([str(d)])
    assert {p for p, *_ in chunk_rows(lib)} == {str(d / "real" / "r.txt")}
    (d / "out").symlink_to(tmp_path / "private", target_is_directory=True)
    (d / "again").symlink_to(d / "real", target_is_directory=True)
    write(d / "real" / "r.txt", "the ferry timetable, edited")
    for changed in (d / "out", d / "again", d / "real" / "r.txt"):
        lib.index(changed=[str(changed)])
    assert [(p, t) for p, _, t, _ in chunk_rows(lib)] == [(str(d / "real" / "r.txt"), "the ferry timetable, edited")]
    # A file replaced by a dangling link: listed as a full run lists it, not taken for deleted.
    (d / "real" / "r.txt").unlink()
    (d / "real" / "r.txt").symlink_to(d / "gone.txt")
    lib.index(changed=[str(d / "real" / "r.txt")])
    assert chunk_rows(lib) == []
    assert [(f.display, f.reason) for f in lib.manifest.files_by_status("failed")] == [
        (str(d / "real" / "r.txt"), "dangling symbolic link")]


@pytest.mark.parametrize("model_keeps_up", [True, False])
def test_the_core_kept_for_the_model_parses_once_the_model_keeps_up(tmp_path, open_lib, embedder, monkeypatch,
                                                                    model_keeps_up):
    """One parser process per core but one while a model embeds; when the model has eaten the
    last batch by the time the next is stored, parsing is the bottleneck and gets every core."""
    pools: list[parsepool.ParsePool] = []

    class Recorded(parsepool.ParsePool):
        def __init__(self, *a, **k) -> None:
            super().__init__(*a, parser="tests.helpers.parsers:slow", **k)  # 50 ms a file
            pools.append(self)

    monkeypatch.setattr(indexer_mod, "ParsePool", Recorded)
    monkeypatch.setattr(indexer_mod, "FLUSH_ROWS", 10)
    monkeypatch.setattr("os.cpu_count", lambda: 3)
    for i in range(16):
        write(tmp_path / "docs" / f"d{i}.txt", long_doc(12, f"doc{i}"))
    if not model_keeps_up:
        embedder.gate.clear()  # the model is slow: it is still at its first texts when the run ends
        threading.Timer(3, embedder.gate.set).start()
    r = open_lib().index([str(tmp_path / "docs")])
    assert r.files_added == 16 and r.chunks_written > 5 * 10 and r.chunks_embedded == r.chunks_written
    assert pools[0].n == (3 if model_keeps_up else 2)


def test_quires_own_folder_is_never_indexed(tmp_path, paths, open_lib, embedder):
    """A library folder that holds Quire's home (the user's home folder on macOS or Windows
    holds the platform's data folder) skips it: its log, lock and index files change with
    every run, so every run found them changed, and the log's lines became search results."""
    write(tmp_path / "docs" / "notes.txt", "Notes about the garden.")
    lib = open_lib()
    (paths.data_dir / "logs").mkdir(parents=True, exist_ok=True)
    (paths.data_dir / "logs" / "quire.log").write_text("INFO garden run finished\n")
    first = lib.index([str(tmp_path)])
    assert (first.files_seen, first.files_added) == (1, 1)
    assert {p for p, *_ in chunk_rows(lib)} == {str(tmp_path / "docs" / "notes.txt")}
    (paths.data_dir / "logs" / "quire.log").write_text("INFO garden run finished\nINFO another\n")
    again = lib.index()
    assert (again.files_seen, again.files_unchanged, again.files_changed, again.files_added) == (1, 1, 0, 0)
    with pytest.raises(UsageError, match="inside Quire's own data folder"):
        lib.index([str(paths.data_dir / "logs")])


def test_system_folders_are_never_entered_nor_added(tmp_path, open_lib, embedder, monkeypatch):
    """Where /proc, /sys and /dev are mounted (found in /proc/self/mounts): a library folder
    that holds them ("/", a whole disk) indexed /proc/<pid>/... and /sys files as documents."""
    from app.core import scan as scan_mod

    d = tmp_path / "disk"
    write(d / "home" / "notes.txt", "Notes about the garden.")
    write(d / "proc" / "1" / "status", "Name: init")  # stands in for the kernel's /proc
    monkeypatch.setattr(scan_mod, "system_dirs", lambda: (str(d / "proc"),))
    lib = open_lib()
    r = lib.index([str(d)])
    assert r.files_seen == 1 and {p for p, *_ in chunk_rows(lib)} == {str(d / "home" / "notes.txt")}
    with pytest.raises(UsageError, match=r"is a system folder \(in .*proc\): .* not documents"):
        lib.index([str(d / "proc" / "1")])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's mount table")
def test_the_kernels_file_systems_are_system_folders():
    from app.core.scan import system_dir_of, system_dirs

    assert {"/proc", "/sys"} <= set(system_dirs())
    assert system_dir_of("/proc/self/status") == "/proc" and system_dir_of(os.getcwd()) is None


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open files through /proc")
def test_runs_leave_no_file_handles_behind(tmp_path, open_lib, embedder):
    """Each run stores its batches on a thread of its own; that thread's SQLite connection must
    close with it, or a window or `quire watch` session (a run per edit) runs out of handles."""
    d = tmp_path / "docs"
    write(d / "a.txt", "first version")
    lib = open_lib()
    lib.index([str(d)])
    write(d / "a.txt", "second version")
    lib.index()
    before = len(os.listdir("/proc/self/fd"))
    for i in range(12):
        write(d / "a.txt", f"version {i}")
        assert lib.index().files_changed == 1
    assert len(os.listdir("/proc/self/fd")) <= before + 2


def test_the_rebuild_plan_says_what_will_happen_without_a_model(corpus, open_lib, embedder):
    lib = open_lib()
    lib.index([str(corpus)])
    lib.close()
    lib = open_lib(embedding__backend="none")
    to_none = lib.plan_rebuild()
    assert to_none is not None and not to_none.reembed and not to_none.reparse
    assert "keep the" in to_none.describe() and "drop their vectors" in to_none.describe()
    lib.rebuild()
    lib.close()
    lib = open_lib(embedding__backend="none", chunking__chunk_size=64, chunking__chunk_overlap=8)
    plan = lib.plan_rebuild()
    assert plan is not None and plan.reparse and not plan.reembed  # nothing to embed without a model
    assert plan.describe().startswith("Rebuild will re-parse 4 files")


def test_a_file_of_many_chunks_is_written_in_parts_and_replaced_whole(tmp_path, open_lib, embedder, monkeypatch):
    """The writer never holds all the rows of a long file (a 65 MB log took its peak from 420 to
    680 MB); its old rows still go before its new ones, and it is indexed once all are in."""
    monkeypatch.setattr(indexer_mod, "FLUSH_ROWS", 10)
    written: list[int] = []
    real = store_mod.Store.replace_files

    def spy(self, file_ids, rows, **kw):
        written.append(rows.num_rows if rows is not None else 0)
        return real(self, file_ids, rows, **kw)

    monkeypatch.setattr(store_mod.Store, "replace_files", spy)
    d = tmp_path / "docs"
    write(d / "long.txt", long_doc(120, "first"))
    write(d / "short.txt", "A short note about the garden.")
    lib = open_lib()
    r = lib.index([str(d)])
    n = len([p for p, *_ in chunk_rows(lib) if p.endswith("long.txt")])
    assert n > 3 * 10 and r.chunks_written == n + 1
    assert max(written) <= 2 * 10 and len(written) >= n // 10
    assert lib.status()["files"] == {"indexed": 2}
    write(d / "long.txt", long_doc(120, "second"))  # changed: every old row replaced, none doubled
    lib.index()
    rows = [t for p, _, t, _ in chunk_rows(lib) if p.endswith("long.txt")]
    assert len(rows) == n and all("first" not in t for t in rows)


def test_a_run_that_dies_between_a_files_old_and_new_rows_redoes_it_even_if_changed_back(
        tmp_path, open_lib, embedder, monkeypatch):
    d = tmp_path / "docs"
    f = write(d / "note.txt", "The boiler was serviced in March.")
    lib = open_lib()
    lib.index([str(d)])
    f.write_text("The boiler was replaced in April.")
    real = store_mod.Store.replace_files

    def dies_after_deleting(self, file_ids, rows, **kw):
        real(self, file_ids, None, **kw)  # the old rows are gone ...
        raise RuntimeError("power cut")  # ... and the new ones never arrive

    monkeypatch.setattr(store_mod.Store, "replace_files", dies_after_deleting)
    with pytest.raises(RuntimeError, match="power cut"):
        lib.index()
    monkeypatch.setattr(store_mod.Store, "replace_files", real)
    f.write_text("The boiler was serviced in March.")  # changed back: same size and content, new mtime
    os.utime(f, ns=(time.time_ns(), time.time_ns() + 5_000_000_000))
    r = lib.index()
    assert (r.files_unchanged, r.files_added, r.files_changed) == (0, 0, 1)  # parsed again, not a touch
    assert r.chunks_written == 1
    assert lib.search("boiler serviced March", k=1).hits[0].path == str(f)


def test_a_move_whose_rows_are_not_all_there_is_parsed_again_once(tmp_path, open_lib, embedder, monkeypatch):
    """A crash mid-move leaves some rows re-pathed: the file is parsed again under its manifest
    id, at its new path, so its rows are replaced, not doubled, and the old path is gone."""
    d = tmp_path / "docs"
    write(d / "a.txt", "The quarterly report about the harbour expansion.")
    write(d / "z.txt", "Another note entirely.")
    lib = open_lib()
    lib.index([str(d)])
    (d / "a.txt").rename(d / "b.txt")
    real = store_mod.Store.repath
    monkeypatch.setattr(store_mod.Store, "repath", lambda self, moves: real(self, moves) - 1)  # one row missing
    r = lib.index()
    assert (r.files_moved, r.files_changed, r.chunks_written) == (0, 1, 1)
    assert [(p, n) for p, n, *_ in chunk_rows(lib)] == [(str(d / "b.txt"), 0), (str(d / "z.txt"), 0)]
    assert sorted(f.path for f in lib.manifest.all_files()) == [str(d / "b.txt"), str(d / "z.txt")]
    monkeypatch.setattr(store_mod.Store, "repath", real)
    assert lib.index().files_unchanged == 2


def test_a_folder_added_twice_in_any_spelling_is_one_library_folder(tmp_path, open_lib, embedder):
    """A subfolder of a library folder, the same folder through a link, and a parent that holds
    library folders: each file stays indexed once."""
    real = tmp_path / "real"
    write(real / "sub" / "a.txt", "The ferry timetable changes in May.")
    write(tmp_path / "other" / "b.txt", "The ferry office opens at nine.")
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    lib = open_lib()
    lib.index([str(real)])
    assert lib.index([str(real / "sub")]).files_added == 0  # inside: the same library folder
    assert lib.index([str(tmp_path / "link")]).files_added == 0  # the same folder through a link
    assert lib.find_root(str(tmp_path / "link")).path == str(real)  # so `library remove LINK` finds it
    lib.index([str(tmp_path / "other")])
    assert sorted(r.path for r in lib.roots()) == sorted([str(real), str(tmp_path / "other")])
    before = len(embedder.texts)
    r = lib.index([str(tmp_path)])  # a parent: it takes both in, their files move under it
    assert [x.path for x in lib.roots()] == [str(tmp_path)] and len(embedder.texts) == before
    assert r.files_added == 0
    hits = sorted(h.path for h in lib.search("ferry", k=10).hits)  # a.txt once, by the link or not
    assert len(hits) == 2 and str(tmp_path / "other" / "b.txt") in hits
    assert sum(h.endswith(os.sep + os.path.join("sub", "a.txt")) for h in hits) == 1
    # Their rows belong to the new folder too: a search limited to it missed them.
    assert len(lib.search("ferry", k=10, folder=str(tmp_path)).hits) == 2


SPACELESS = {
    "zh.txt": "合同终止需要提前三十天书面通知。押金为两个月的租金。",
    "ja.txt": "契約の解除には三十日前の書面による通知が必要です。敷金は家賃の二か月分です。",
    "th.txt": "สัญญาเช่าต้องแจ้งล่วงหน้าหกสิบวัน เงินประกันเท่ากับค่าเช่าสองเดือน",
    "en.txt": "The lease requires sixty days written notice before termination.",
}


def _found(lib, query: str) -> list[str]:
    return sorted(os.path.basename(h.path) for h in lib.search(query, k=5).hits)


def test_an_index_a_newer_quire_made_is_refused_for_writing_with_how_to_go_on(corpus, open_lib):
    from app.core.errors import StoreError

    lib = open_lib(embedding__backend="none")
    lib.index([str(corpus)])
    lib.manifest.set_meta(indexer_mod.STORE_SCHEMA, store_mod.SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match="made by a newer version of Quire") as exc:
        lib.index()
    assert "quire rebuild --all" in (exc.value.action or "")
    assert lib.search("termination notice", k=1).hits  # reading it still works
    lib.reset()  # what `quire rebuild --all` does first: this version starts the index over
    assert lib.index().files_added == 3
    assert lib.manifest.get_meta(indexer_mod.STORE_SCHEMA) == store_mod.SCHEMA_VERSION


def test_a_word_inside_a_sentence_without_spaces_is_found_by_keyword(tmp_path, open_lib):
    # Keywords split at spaces and punctuation: a Chinese or Japanese sentence was one "word",
    # so a search for a word in it (書面, 通知) found nothing.
    d = tmp_path / "docs"
    for name, text in SPACELESS.items():
        write(d / name, text)
    lib = open_lib(**{"embedding__backend": "none"})
    lib.index([str(d)])
    assert _found(lib, "通知") == ["ja.txt", "zh.txt"]  # notice: the same characters in both
    assert _found(lib, "书面通知") == ["ja.txt", "zh.txt"]  # the Chinese word ranks its own file first
    assert os.path.basename(lib.search("书面通知", k=1).hits[0].path) == "zh.txt"
    assert _found(lib, "敷金") == ["ja.txt"]
    assert _found(lib, "เงินประกัน") == ["th.txt"]
    assert _found(lib, "termination notice") == ["en.txt"]  # other text is searched as before
    assert _found(lib, "termination 押金") == ["en.txt", "zh.txt"]  # a query in both


def test_an_index_made_before_the_spaceless_keyword_column_is_upgraded_in_place(tmp_path, open_lib):
    d = tmp_path / "docs"
    for name, text in SPACELESS.items():
        write(d / name, text)
    none = {"embedding__backend": "none"}
    lib = open_lib(**none)
    lib.index([str(d)])
    # Make it the index an older Quire left: no kw column, no index on it, no schema mark.
    tbl = lib.store().chunks
    tbl.drop_index(next(i.name for i in tbl.list_indices() if i.columns == ["kw"]))
    tbl.drop_columns(["kw"])
    lib.manifest.set_meta(indexer_mod.STORE_SCHEMA, None)
    lib.close()

    old = open_lib(write=False, **none)  # a reader (quire search) leaves it as it is and finds what it did
    assert _found(old, "通知") == [] and _found(old, "termination") == ["en.txt"]
    old.close()
    lib = open_lib(**none)
    r = lib.index()  # nothing changed, yet the one upgrade runs
    assert r.files_unchanged == 4 and r.chunks_written == 0
    assert _found(lib, "通知") == ["ja.txt", "zh.txt"] and _found(lib, "敷金") == ["ja.txt"]
    before = chunk_rows(lib)
    # Rows written into the upgraded table, moved in it, and replaced in it keep working.
    (d / "ja.txt").rename(d / "ja2.txt")
    write(d / "zh.txt", SPACELESS["zh.txt"] + "房东必须退还押金。")
    write(d / "ko.txt", "계약 해지에는 서면 통지가 필요합니다.")
    r = lib.index()
    assert (r.files_moved, r.files_changed, r.files_added) == (1, 1, 1)
    assert _found(lib, "敷金") == ["ja2.txt"] and _found(lib, "房东") == ["zh.txt"]
    assert len(chunk_rows(lib)) == len(before) + 1
    assert lib.manifest.get_meta(indexer_mod.STORE_SCHEMA) == store_mod.SCHEMA_VERSION


def test_files_a_newer_quire_reads_differently_are_read_again_once(tmp_path, open_lib):
    # An index made when .eml was read as plain text (base64 and all) and spreadsheets were
    # skipped kept those results after an update until each file changed: the update's
    # better reading never reached them. A full run now reads them again, once.
    from email.message import EmailMessage

    d = tmp_path / "docs"
    msg = EmailMessage()
    msg["Subject"] = "Deposit"
    msg.set_content("The deposit is two months of rent.", cte="base64")
    d.mkdir()
    (d / "deposit.eml").write_bytes(bytes(msg))
    write(d / "lease.yaml", "note: The lease requires sixty days written notice.")  # read the same since 1
    write(d / "LICENSE", "Permission is granted to read this licence.")  # sniffed: no telling extension
    none = {"embedding__backend": "none"}
    lib = open_lib(**none)
    first = lib.index([str(d)])
    assert first.files_added == 3
    assert lib.manifest.get_meta(indexer_mod.READERS) == indexer_mod.READERS_VERSION  # a new index: nothing to redo
    assert lib.index().files_unchanged == 3
    clean = chunk_rows(lib)

    # What the version before e-mail support left: the message's rows as raw text, mark 2.
    eml = str(d / "deposit.eml")
    lib.store().chunks.update(where=f"path = '{eml}'", values={"text": "U3ViamVjdDogRGVwb3NpdA=="})
    lib.manifest.set_meta(indexer_mod.READERS, 2)
    assert not lib.search("deposit rent", k=3).hits
    r = lib.index()
    assert (r.files_changed, r.files_unchanged) == (2, 1)  # the .eml and LICENSE; not lease.yaml
    assert "2 files read again: this version of Quire reads their format better" in r.note
    assert chunk_rows(lib) == clean
    assert [os.path.basename(h.path) for h in lib.search("deposit rent", k=3).hits] == ["deposit.eml"]
    assert lib.manifest.file(eml).kind == "email"
    assert lib.index().files_unchanged == 3  # once only

    # An index from before the mark existed (no mark, files indexed): everything since 1.
    lib.manifest.set_meta(indexer_mod.READERS, None)
    assert lib.index().files_changed == 2
    # A run limited to some paths (the watcher's) neither re-reads nor sets the mark.
    lib.manifest.set_meta(indexer_mod.READERS, 2)
    assert lib.index(changed=[str(d / "lease.yaml")]).files_changed == 0
    assert lib.manifest.get_meta(indexer_mod.READERS) == 2


def test_an_upgrade_reads_again_only_the_text_files_whose_decoding_changed(tmp_path, open_lib, embedder):
    # Version 6 decodes legacy code pages differently; of the text files, only those whose
    # bytes are not UTF-8 can read differently, and only those are read again.
    d = tmp_path / "docs"
    d.mkdir()
    russian = "Договор аренды квартиры. Арендатор обязан вносить плату не позднее пятого числа."
    # Plain text of kinds no later version reads otherwise (version 8 reads every .txt again).
    (d / "dogovor.nfo").write_bytes(russian.encode("cp1251"))
    write(d / "lease.conf", "The lease requires sixty days written notice.")
    write(d / "notes.rst", "Notes\n=====\n\nCafé au lait.")
    lib = open_lib(embedding__backend="none")
    assert lib.index([str(d)]).files_added == 3
    clean = chunk_rows(lib)
    path = str(d / "dogovor.nfo")
    lib.store().chunks.update(where=f"path = '{path}'", values={"text": "Äîãîâîð àðåíäû"})  # as version 5 read it
    lib.manifest.set_meta(indexer_mod.READERS, 5)
    r = lib.index()
    assert (r.files_changed, r.files_unchanged) == (1, 2)
    assert "1 file read again: this version of Quire reads its format better" in r.note
    assert chunk_rows(lib) == clean
    assert lib.index().files_unchanged == 3


def test_copies_of_a_passage_are_one_hit_naming_the_other_files(tmp_path, open_lib, embedder):
    # The same document saved in three folders filled three of the top hits (and three of the
    # model's passages) with one text; a licence header in 150 files pushed every other match
    # out of the candidates altogether.
    d = tmp_path / "docs"
    text = "The boiler must be serviced every autumn by a registered engineer."
    for name in ("Downloads/boiler (1).txt", "Documents/boiler.txt", "Backup/Copy of boiler.txt"):
        write(d / name, text)
    write(d / "Documents" / "boiler-log.txt", "Boiler serviced in October; the engineer replaced a valve.")
    header = "Licensed under the Apache License. Boiler control firmware, all rights reserved."
    for i in range(150):
        write(d / "src" / f"mod{i:03}.c", f"/* {header} */")
    write(d / "src" / "README.txt", "Build the boiler control firmware with make. The licence is in LICENSE.")
    for backend in ("none", "fastembed"):
        lib = open_lib(embedding__backend=backend) if backend == "none" else open_lib()
        lib.index([str(d)])
        hits = lib.search("boiler serviced engineer", k=3).hits
        paths = [os.path.relpath(h.path, d) for h in hits]
        assert len(set(h.text for h in hits)) == len(hits) == 3, paths
        first = next(h for h in hits if h.text == text)
        assert os.path.relpath(first.path, d) == "Documents/boiler.txt"  # the one that looks original
        assert sorted(os.path.relpath(p, d) for p in first.also) == ["Backup/Copy of boiler.txt",
                                                                      "Downloads/boiler (1).txt"]
        firmware = lib.search("boiler control firmware", k=3).hits
        assert len(firmware) == 3 and sum(h.text.startswith("/*") for h in firmware) == 1
        assert len(next(h for h in firmware if h.text.startswith("/*")).also) == 149
        assert any(h.path.endswith("README.txt") for h in firmware)
        lib.reset()
        lib.close()
