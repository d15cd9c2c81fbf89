"""LanceDB on disk: the chunks table (text, BM25) and the vectors table (one row per chunk text).

Vectors are keyed by the hash of the text they embed, not by chunk: a renamed file, a
copied file, or an unchanged page of an edited PDF finds its vectors already there, and a
new embedding model is just a new vectors table beside the chunks. Chunk rows of a file are
replaced as a unit by ``file_id`` (an integer from the manifest), so no path ever has to be
quoted into a filter to delete it.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import shutil
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from .chunking import embed_text
from .errors import DiskFullError, StoreCorruptError, StoreError, is_disk_full
from .lazy_packages import lazy_init
from .scripts import spaceless

log = logging.getLogger(__name__)

# LanceDB's Rust side logs warnings straight to stderr, which would break `--json` users'
# pipes and clutter the terminal; Quire reports what matters itself.
os.environ.setdefault("LANCEDB_LOG", "error")

CHUNK_SCHEMA = pa.schema([
    pa.field("id", pa.string(), nullable=False),
    pa.field("file_id", pa.int64(), nullable=False),
    pa.field("path", pa.string(), nullable=False),
    pa.field("folder", pa.string(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),
    pa.field("chunk_no", pa.int32(), nullable=False),
    pa.field("page", pa.int32(), nullable=True),
    pa.field("heading", pa.string(), nullable=False),
    pa.field("text", pa.string(), nullable=False),
    pa.field("text_hash", pa.string(), nullable=False),
    # The text again where it is in a script written without spaces (Chinese, Japanese, Thai:
    # see scripts.py), for a second keyword index that splits words with ICU; "" elsewhere.
    # Last, because an index made before it gets it added at the end.
    pa.field("kw", pa.string(), nullable=False),
])
# The chunks table's layout: 2 added the kw column (an older table is upgraded when opened to write).
SCHEMA_VERSION = 2
# The keyword index of each column: the text's splits words at spaces and punctuation (and is
# the cheaper build: ICU's costs ~35% more), the kw column's with ICU's word breaks.
_FTS_TOKENIZERS = {"text": "simple", "kw": "icu"}

# Below this many vectors a flat scan is fast and exact; above it an IVF index pays off.
VECTOR_INDEX_MIN_ROWS = 100_000
# Compact once a table has this many fragments (each add makes at least one).
COMPACT_FRAGMENTS = 64
# Rows not yet in the full-text index are scanned flat; fold them in past this many.
FTS_FOLD_ROWS = 20_000
# At the end of a run (``maintain(final=True)``) the bars are lower, but a run that changed a
# file or two does not rewrite the table for one new fragment (compaction merges it with the
# big ones: ~0.5 s for 8k rows, ~1 s for 30k), and a few hundred unindexed rows cost a flat scan
# of nothing. Each such run adds a fragment; at 8 the rewrite came every ~7th one-file run and
# was 40% of their mean cost. Up to 32 small fragments, and the rows waiting for the keyword
# index with them, cost a search a few ms (bench/README.md).
FINAL_COMPACT_FRAGMENTS = 32
FINAL_FOLD_ROWS = 1_000
# Old table versions are kept this long so readers in other processes finish their query.
KEEP_VERSIONS = timedelta(minutes=10)


def vector_schema(dim: int) -> pa.Schema:
    return pa.schema([
        pa.field("text_hash", pa.string(), nullable=False),
        pa.field("vector", pa.list_(pa.float32(), dim), nullable=False),
    ])


def _in_list(values: Iterable[int]) -> str:
    return ",".join(str(int(v)) for v in values)


def _str_list(values: Iterable[str]) -> str:
    return ",".join("'" + v.replace("'", "''") + "'" for v in values)


@dataclass(frozen=True, slots=True)
class StoreStats:
    chunks: int
    vectors: int
    bytes: int
    fragments: int
    fts_unindexed: int


# Where in the engine's own source an error was raised ("/rustc/.../function.rs:250:5"): no
# help to a user, and it pushed the reason out of the one line shown.
_RUST_SOURCE = re.compile(r",?\s*/(?:rustc|root/\.cargo|home/[^/\s]+/\.cargo)/\S*")


@contextmanager
def _lance_errors(uri: str) -> Iterator[None]:
    try:
        yield
    except StoreError:
        raise
    except UnicodeError:
        raise  # text Quire handed over (a query), not the index: never "damaged"
    except (OSError, RuntimeError, ValueError) as exc:
        text = _RUST_SOURCE.sub("", str(exc))
        if is_disk_full(exc):
            raise DiskFullError(uri) from None  # not "damaged": `rebuild --all` would need more room
        if isinstance(exc, PermissionError) or "Permission denied" in text or "Read-only" in text:
            raise StoreError(f"Cannot write the index at {uri}: permission denied.",
                             "Make the folder writable or point QUIRE_HOME at a writable folder.") from None
        if "not found" in text.lower() and "table" in text.lower():
            raise
        raise StoreCorruptError(f"The index at {uri} could not be read ({text.splitlines()[0][:200]}).",
                                "Run `quire rebuild --all` to build it again from your files.") from None


def use_lean_scans() -> None:
    """For batch commands (``quire index``, ``rebuild``): read tables in smaller batches.

    LanceDB scans 8,192 rows at a time with fragments read ahead, and the full-text index
    build at the end of a run is slower than the scan feeding it, so much of the text column
    waits in memory: that made the peak of indexing grow with the library. 1,024-row batches,
    one fragment ahead, cut the upkeep's peak by ~100 MB at 144k chunks (295 -> 189 MB above
    the start) at no cost in time. They slow searches by 10-20% (flat vector scans), so the
    window and the watcher, which answer questions, keep LanceDB's defaults. The engine reads
    these variables once, so this must run before its first scan; a value set by the user wins."""
    os.environ.setdefault("LANCE_DEFAULT_BATCH_SIZE", "1024")
    os.environ.setdefault("LANCE_DEFAULT_FRAGMENT_READAHEAD", "1")


_preload: threading.Thread | None = None
_preload_lock = threading.Lock()


def preload_lancedb() -> None:
    """Import lancedb on a thread: it takes ~0.5 s, which then overlaps the start of the parse
    workers and parsing (the indexer calls this once it knows it will write). Not a daemon:
    an interpreter must not exit halfway through importing native modules."""
    global _preload
    with _preload_lock:
        if _preload is None and "lancedb" not in sys.modules:
            _preload = threading.Thread(target=_import_lancedb, name="quire-import-lancedb")
            _preload.start()


# A REST catalog client lancedb imports at start but local tables never call: ~0.5 s of the
# ~1.1 s that `import lancedb` took (see lazy_packages).
_LAZY_PACKAGES = ("lance_namespace_urllib3_client", "lance_namespace_urllib3_client.api",
                  "lance_namespace_urllib3_client.models")


def load_lancedb() -> None:
    """Import lancedb and the submodules Quire uses (the one way Quire imports it)."""
    if "lancedb.query" in sys.modules:
        return
    with lazy_init(_LAZY_PACKAGES):
        for name in ("lancedb", "lancedb.index", "lancedb.query"):
            importlib.import_module(name)


def _import_lancedb() -> None:
    try:
        load_lancedb()
    except Exception:  # the first real use imports it again and reports why
        log.debug("preloading lancedb failed", exc_info=True)


def _lancedb(submodule: str = "") -> Any:
    """lancedb, or one of its submodules ("index", "query"). Every use of lancedb goes through
    this: it waits for the preload, since two threads importing that package at once break on
    its circular imports."""
    t = _preload
    if t is not None and t is not threading.current_thread():
        t.join()
    load_lancedb()
    return importlib.import_module(f"lancedb.{submodule}" if submodule else "lancedb")


class Store:
    """One LanceDB connection. Writers must be the single indexer; readers may be many."""

    def __init__(self, uri: str | Path, chunks_table: str, vectors_table: str | None,
                 *, read_only: bool = False) -> None:
        self.uri = str(uri)
        self.chunks_name = chunks_table
        self.vectors_name = vectors_table
        self.read_only = read_only
        if not read_only and "://" not in self.uri:
            Path(self.uri).mkdir(parents=True, exist_ok=True)
        self._db: Any = None
        self._chunks: Any = None
        self._vectors: Any = None
        self._fts_ready = False  # the text column's keyword index exists
        self._kw_ready = False  # and the kw column's
        self._kw_fill = False  # rows written before the kw column may need theirs filled in
        self._open_lock = threading.RLock()  # the embedder thread and the writer open tables lazily
        # Text hashes of chunk rows deleted since the last orphan_vectors(): the only vectors
        # that can have lost their last chunk (the writer's thread only).
        self._maybe_orphaned: set[str] = set()

    @property
    def db(self) -> Any:
        if self._db is None:
            with self._open_lock:
                if self._db is None:
                    lancedb = _lancedb()
                    with _lance_errors(self.uri):
                        # Every handle re-checks the latest version before a read, so readers in
                        # other processes (and other threads of this one) see each commit as soon
                        # as it lands.
                        self._db = lancedb.connect(self.uri, read_consistency_interval=timedelta(0))
        return self._db

    # --- tables --------------------------------------------------------------------------

    def _table_names(self) -> set[str]:
        with _lance_errors(self.uri):
            res = self.db.list_tables()
            names = getattr(res, "tables", res)
            return set(names)

    @property
    def chunks(self) -> Any:
        if self._chunks is not None:
            return self._chunks
        with self._open_lock:
            return self._open_chunks()

    def _open_table(self, name: str) -> Any:
        """The table, or None if it does not exist (yet: a writer may be creating it now)."""
        if name not in self._table_names():
            return None
        try:
            with _lance_errors(self.uri):
                return self.db.open_table(name)
        except ValueError as exc:
            if "not found" in str(exc):
                return None
            raise

    def _open_chunks(self) -> Any:
        if self._chunks is None:
            with _lance_errors(self.uri):
                self._chunks = self._open_table(self.chunks_name)
                if self._chunks is None:
                    if self.read_only:
                        return None
                    # "overwrite": a table folder left half-made by a crash is replaced, not an error.
                    self._chunks = self.db.create_table(self.chunks_name, schema=CHUNK_SCHEMA, mode="overwrite")
                else:
                    self._upgrade(self._chunks)
            self._fts_ready, self._kw_ready = self._keyword_indexes(self._chunks)
        return self._chunks

    def _upgrade(self, tbl: Any) -> None:
        """Bring a chunks table made by an older Quire up to the current schema."""
        if self.read_only:
            return
        if "kw" not in tbl.schema.names:
            tbl.add_columns({"kw": "CAST('' AS STRING)"})
        # Its rows in spaceless scripts get their kw text before the kw index is made (in
        # ensure_fts); until then a search finds them as before.
        self._kw_fill = not self._keyword_indexes(tbl)[1]

    @staticmethod
    def _keyword_indexes(tbl: Any) -> tuple[bool, bool]:
        cols = {c for i in tbl.list_indices() if i.index_type == "FTS" for c in i.columns}
        return "text" in cols, "kw" in cols

    def vectors(self, dim: int | None = None) -> Any:
        if self._vectors is not None:
            return self._vectors
        with self._open_lock:
            return self._open_vectors(dim)

    def _open_vectors(self, dim: int | None) -> Any:
        if self._vectors is None and self.vectors_name:
            with _lance_errors(self.uri):
                self._vectors = self._open_table(self.vectors_name)
                if self._vectors is None and dim and not self.read_only:
                    self._vectors = self.db.create_table(self.vectors_name, schema=vector_schema(dim),
                                                         mode="overwrite")
        return self._vectors

    def has_table(self, name: str) -> bool:
        return name in self._table_names()

    def drop_table(self, name: str) -> None:
        if self.has_table(name):
            with _lance_errors(self.uri):
                self.db.drop_table(name)

    # --- chunk writes --------------------------------------------------------------------

    def replace_files(self, file_ids: Sequence[int], rows: pa.Table | None, *, same_texts: bool = False) -> None:
        """Delete every chunk of ``file_ids``, then add ``rows`` (which belong to those files).
        ``same_texts``: the rows keep the old rows' texts (a move), so no vector can be orphaned."""
        tbl = self.chunks
        with _lance_errors(self.uri):
            if file_ids:
                where = f"file_id IN ({_in_list(file_ids)})"
                if not same_texts:
                    self._note_deleted_hashes(tbl, where)
                tbl.delete(where)
            if rows is not None and rows.num_rows:
                tbl.add(rows)

    def delete_files(self, file_ids: Sequence[int]) -> None:
        if file_ids and self.chunks is not None:
            for i in range(0, len(file_ids), 5000):
                where = f"file_id IN ({_in_list(file_ids[i:i + 5000])})"
                with _lance_errors(self.uri):
                    self._note_deleted_hashes(self.chunks, where)
                    self.chunks.delete(where)

    def _note_deleted_hashes(self, tbl: Any, where: str) -> None:
        if self.vectors() is None:
            return  # no vectors, none to orphan
        got = tbl.search().where(where).select(["text_hash"]).limit(None).to_arrow()
        self._maybe_orphaned.update(got.column("text_hash").to_pylist())

    def repath(self, moves: dict[int, tuple[str, str]]) -> int:
        """Give files new paths (and library folders) without touching their text or vectors."""
        if not moves:
            return 0
        tbl = self.chunks
        with _lance_errors(self.uri):
            old = tbl.search().where(f"file_id IN ({_in_list(moves)})").limit(None).to_arrow()
            if old.num_rows == 0:
                return 0
            ids = old.column("file_id").to_pylist()
            paths = pa.array([moves[i][0] for i in ids], pa.string())
            folders = pa.array([moves[i][1] for i in ids], pa.string())
            new = old.set_column(old.schema.get_field_index("path"), CHUNK_SCHEMA.field("path"), paths)
            new = new.set_column(new.schema.get_field_index("folder"), CHUNK_SCHEMA.field("folder"), folders)
            self.replace_files(list(moves), new.select(CHUNK_SCHEMA.names).cast(CHUNK_SCHEMA), same_texts=True)
        return old.num_rows

    # --- vectors -------------------------------------------------------------------------

    def missing_vectors(self, hashes: Sequence[str]) -> list[str]:
        """Which of ``hashes`` have no vector yet (order kept, duplicates dropped)."""
        uniq = list(dict.fromkeys(hashes))
        vt = self.vectors()
        if vt is None or not uniq:
            return uniq
        have: set[str] = set()
        with _lance_errors(self.uri):
            for i in range(0, len(uniq), 2000):
                part = uniq[i:i + 2000]
                got = (vt.search().where(f"text_hash IN ({_str_list(part)})").select(["text_hash"])
                       .limit(None).to_arrow())
                have.update(got.column("text_hash").to_pylist())
        return [h for h in uniq if h not in have]

    def add_vectors(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
        if not hashes:
            return
        vt = self.vectors(vectors.shape[1])
        arr = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), vectors.shape[1])
        with _lance_errors(self.uri):
            vt.add(pa.Table.from_arrays([pa.array(hashes, pa.string()), arr], schema=vt.schema))

    def iter_pending_embeddings(self, batch_rows: int = 2000) -> Iterator[tuple[str, str]]:
        """(text_hash, text to embed) of every chunk whose vector is missing, streamed in
        batches so memory stays flat whatever the size of the table."""
        tbl = self.chunks
        if tbl is None:
            return
        for b in scan(tbl, ["text_hash", "heading", "text"], batch_rows):
            texts: dict[str, str] = {}
            for h, head, text in zip(b.column(0).to_pylist(), b.column(1).to_pylist(), b.column(2).to_pylist(),
                                     strict=True):
                texts.setdefault(h, embed_text(head, text))
            for h in self.missing_vectors(list(texts)):
                yield h, texts[h]

    def count_pending_embeddings(self) -> int:
        """Distinct chunk texts without a vector. Reads the hash column only, not the texts."""
        tbl = self.chunks
        if tbl is None:
            return 0
        pending: set[str] = set()
        for b in scan(tbl, ["text_hash"], 2000):
            pending.update(self.missing_vectors(b.column(0).to_pylist()))
        return len(pending)

    def orphan_vectors(self, *, everything: bool = False) -> int:
        """Delete vectors no chunk uses any more. By default only those that can be new orphans:
        of chunk rows deleted since the last call, looked up by hash (cost in proportion to what
        changed). ``everything``: check every vector against every chunk, a scan of both tables
        (after a crashed run, whose deletions this process did not see)."""
        vt, tbl = self.vectors(), self.chunks
        candidates, self._maybe_orphaned = self._maybe_orphaned, set()
        if vt is None or tbl is None:
            return 0
        used: set[str] = set()
        orphans: list[str] = []
        with _lance_errors(self.uri):
            # A look-up costs ~10 µs a hash, a scan ~1 µs a row: past a tenth of the table
            # (most files changed), scanning is the cheaper way.
            if everything or len(candidates) * 10 > tbl.count_rows():
                for b in scan(tbl, ["text_hash"]):
                    used.update(b.column(0).to_pylist())
                for b in scan(vt, ["text_hash"]):
                    orphans.extend(h for h in b.column(0).to_pylist() if h not in used)
            else:
                maybe = list(candidates)
                for i in range(0, len(maybe), 2000):
                    got = (tbl.search().where(f"text_hash IN ({_str_list(maybe[i:i + 2000])})")
                           .select(["text_hash"]).limit(None).to_arrow())
                    used.update(got.column("text_hash").to_pylist())
                orphans = [h for h in maybe if h not in used]
        for i in range(0, len(orphans), 2000):
            with _lance_errors(self.uri):
                vt.delete(f"text_hash IN ({_str_list(orphans[i:i + 2000])})")
        return len(orphans)

    # --- reads ---------------------------------------------------------------------------

    _COLS = ["id", "path", "folder", "kind", "page", "heading", "text", "text_hash"]

    def fts_search(self, query: str, k: int, where: str | None = None) -> list[dict[str, Any]]:
        MatchQuery = _lancedb("query").MatchQuery
        tbl = self.chunks
        if tbl is None or not query.strip():
            return []
        if not self._fts_ready:
            self._fts_ready, self._kw_ready = self._keyword_indexes(tbl)
            if not self._fts_ready:
                return []
        if not self._kw_ready and spaceless(query):
            self._kw_ready = self._keyword_indexes(tbl)[1]  # a writer elsewhere may have made it since
        with _lance_errors(self.uri):
            if self._kw_ready and spaceless(query):
                # Words of a spaceless script are found through the kw column's ICU index; any
                # other words in the query still count through the text column's.
                q = tbl.search(_lancedb("query").MultiMatchQuery(query, ["text", "kw"]), query_type="fts")
            else:
                q = tbl.search(MatchQuery(query, "text"), query_type="fts")
            if where:
                q = q.where(where, prefilter=True)
            return q.select(self._COLS + ["_score"]).limit(k).to_list()

    def keyword_terms(self, query: str) -> list[str] | None:
        """The words of ``query`` the keyword index searches by (stemmed; common words such as
        "the" dropped), or None when there is no index to ask."""
        tbl = self.chunks
        if tbl is None or not self._fts_ready:
            return None
        try:
            with _lance_errors(self.uri):
                terms = [t.text for t in tbl.tokenize(query, column="text")]
                if self._kw_ready and spaceless(query):
                    terms += [t.text for t in tbl.tokenize(query, column="kw")]
        except StoreError:
            return None
        return terms

    def vector_search(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """(text_hash, cosine similarity), best first."""
        vt = self.vectors()
        if vt is None:
            return []
        with _lance_errors(self.uri):
            q = vt.search(vector.astype(np.float32), vector_column_name="vector").distance_type("cosine")
            if self._has_vector_index(vt):
                q = q.nprobes(24).refine_factor(4)
            rows = q.select(["text_hash", "_distance"]).limit(k).to_arrow()
        hashes = rows.column("text_hash").to_pylist()
        dists = rows.column("_distance").to_pylist()
        return [(h, 1.0 - float(d)) for h, d in zip(hashes, dists, strict=True)]

    def chunks_by_hash(self, hashes: Sequence[str], where: str | None = None) -> list[dict[str, Any]]:
        tbl = self.chunks
        if tbl is None or not hashes:
            return []
        cond = f"text_hash IN ({_str_list(hashes)})"
        if where:
            cond = f"({cond}) AND ({where})"
        with _lance_errors(self.uri):
            return tbl.search().where(cond).select(self._COLS).limit(None).to_list()

    def count_chunks(self, where: str | None = None) -> int:
        tbl = self.chunks
        if tbl is None:
            return 0
        with _lance_errors(self.uri):
            return int(tbl.count_rows(where) if where else tbl.count_rows())

    def count_vectors(self) -> int:
        vt = self.vectors()
        if vt is None:
            return 0
        with _lance_errors(self.uri):
            return int(vt.count_rows())

    # --- upkeep --------------------------------------------------------------------------

    @staticmethod
    def _has_vector_index(vt: Any) -> bool:
        return any(i.index_type.upper().startswith("IVF") for i in vt.list_indices())  # "IvfPq"

    def ensure_fts(self) -> None:
        """Create the full-text indexes once the table has rows. Rows added after them are
        found by a flat scan of the unindexed part until ``maintain`` folds them in."""
        tbl = self.chunks
        if (self._fts_ready and self._kw_ready) or tbl is None or self.read_only:
            return
        FTS = _lancedb("index").FTS
        with _lance_errors(self.uri):
            if tbl.count_rows() == 0:
                return
            for column, ready in (("text", self._fts_ready), ("kw", self._kw_ready)):
                if ready:
                    continue
                if column == "kw" and self._kw_fill:
                    self._fill_kw(tbl)
                tbl.create_index(column, config=FTS(base_tokenizer=_FTS_TOKENIZERS[column], with_position=False,
                                                    stem=True, remove_stop_words=True, ascii_folding=True),
                                 replace=True)
        self._fts_ready = self._kw_ready = True

    def _fill_kw(self, tbl: Any) -> None:
        """Give rows written before the kw column existed their kw text (once, on upgrade)."""
        ids: list[str] = []
        for b in tbl.search().where("kw = ''").select(["id", "text"]).limit(None).to_batches(8192):
            ids.extend(i for i, t in zip(b.column("id").to_pylist(), b.column("text").to_pylist(), strict=True)
                       if spaceless(t))
        for i in range(0, len(ids), 1000):
            tbl.update(where=f"id IN ({_str_list(ids[i:i + 1000])})", values_sql={"kw": "text"})
        self._kw_fill = False

    def keyword_backlog(self) -> tuple[int, int]:
        """(rows in the keyword index, rows a keyword search still scans flat)."""
        tbl = self.chunks
        if tbl is None:
            return 0, 0
        with _lance_errors(self.uri):
            unindexed = _fts_unindexed(tbl)
            return int(tbl.count_rows()) - unindexed, unindexed

    def fold_keywords(self) -> None:
        """Fold the rows written since the keyword index was last updated into it, in the middle
        of a long run (``maintain`` does it at the end). LanceDB merges them into the whole
        index, so the cost grows with the index, not with the new rows (~1 s for 30k rows)."""
        tbl = self.chunks
        if tbl is None or self.read_only:
            return
        with _lance_errors(self.uri):
            tbl.optimize(cleanup_older_than=KEEP_VERSIONS)

    def maintain(self, *, final: bool = True, compact: bool = False) -> None:
        """Keep indexes current and fragments few. Cheap when nothing is due. ``compact``:
        rewrite now anyway (after many deletions, whose rows stay on disk until then)."""
        tbl = self.chunks
        if tbl is None or self.read_only:
            return
        BTree = _lancedb("index").BTree
        with _lance_errors(self.uri):
            n = tbl.count_rows()
            if n == 0:
                return
            names = {i.name for i in tbl.list_indices()}
            self.ensure_fts()
            if "file_id_idx" not in names:
                tbl.create_index("file_id", config=BTree(), replace=True, name="file_id_idx")
            if "text_hash_idx" not in names:
                tbl.create_index("text_hash", config=BTree(), replace=True, name="text_hash_idx")
            unindexed = _fts_unindexed(tbl)
            for t in (tbl, self.vectors()):
                if t is None:
                    continue
                fragments = fragment_count(t)
                frag_bar, fold_bar = (FINAL_COMPACT_FRAGMENTS, FINAL_FOLD_ROWS) if final else \
                    (COMPACT_FRAGMENTS, FTS_FOLD_ROWS)
                if compact or fragments >= frag_bar or (t is tbl and unindexed >= fold_bar):
                    # optimize(): compacts small fragments, folds new rows into every index
                    # incrementally (no full FTS rebuild) and drops versions past KEEP_VERSIONS.
                    t.optimize(cleanup_older_than=KEEP_VERSIONS)
            vt = self.vectors()
            if vt is not None:
                vnames = {i.name for i in vt.list_indices()}
                if "text_hash_idx" not in vnames and vt.count_rows() > 0:
                    vt.create_index("text_hash", config=BTree(), replace=True, name="text_hash_idx")
                nv = vt.count_rows()
                if nv >= VECTOR_INDEX_MIN_ROWS and not self._has_vector_index(vt):
                    IvfPq = _lancedb("index").IvfPq
                    dim = vt.schema.field("vector").type.list_size
                    vt.create_index("vector", config=IvfPq(distance_type="cosine",
                                                            num_partitions=max(16, int(nv ** 0.5)),
                                                            num_sub_vectors=max(1, dim // 8)))

    def check_readable(self) -> None:
        """Read a column of every data file of both tables: a damaged file (a disk error, a
        copy cut short) raises StoreCorruptError here, where counts from metadata hide it."""
        for name in ("chunks", "vectors"):
            tbl = self.chunks if name == "chunks" else self.vectors()
            if tbl is None:
                continue
            with _lance_errors(self.uri):
                for _ in scan(tbl, ["text_hash"]):
                    pass

    def stats(self) -> StoreStats:
        tbl = self.chunks
        unindexed = 0
        fragments = 0
        if tbl is not None:
            with _lance_errors(self.uri):
                fragments = fragment_count(tbl)
                unindexed = _fts_unindexed(tbl)
        return StoreStats(self.count_chunks(), self.count_vectors(), disk_bytes(self.uri), fragments, unindexed)


def scan(table: Any, columns: list[str], batch_rows: int = 65536) -> Iterator[pa.RecordBatch]:
    """Stream some columns of a whole table in batches (memory stays flat)."""
    yield from table.search().select(columns).limit(None).to_batches(batch_rows)


def _fts_unindexed(tbl: Any) -> int:
    """Rows not yet in the text column's keyword index (the kw column's folds with it)."""
    return next((int(tbl.index_stats(i.name).num_unindexed_rows) for i in tbl.list_indices()
                 if i.index_type == "FTS" and i.columns == ["text"]), 0)


def fragment_count(table: Any) -> int:
    return int(table.stats()["fragment_stats"]["num_fragments"])


def disk_bytes(uri: str) -> int:
    if "://" in uri:
        return 0
    total = 0
    for p in Path(uri).rglob("*"):
        try:
            if p.is_file():
                total += p.stat().st_size
        except OSError:
            pass
    return total


REMOVING = ".removing-"  # an index folder being deleted is first renamed to <name>.removing-<pid>


def remove_store(uri: str) -> None:
    """Delete a whole index. It is renamed aside first, so a kill halfway leaves no half-deleted
    table where the next index would open it, only a folder ``remove_leftovers`` deletes."""
    if "://" in uri or not os.path.exists(uri):
        return
    aside = f"{uri.rstrip(os.sep)}{REMOVING}{os.getpid()}"
    try:
        os.replace(uri, aside)
    except OSError:
        aside = uri
    shutil.rmtree(aside, ignore_errors=True)


def remove_leftovers(uri: str) -> None:
    """Finish deleting what ``remove_store`` was stopped in the middle of."""
    if "://" in uri:
        return
    parent, name = os.path.split(uri.rstrip(os.sep))
    try:
        names = os.listdir(parent or ".")
    except OSError:
        return
    for n in names:
        if n.startswith(name + REMOVING):
            shutil.rmtree(os.path.join(parent, n), ignore_errors=True)
