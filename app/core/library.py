"""The library: one object that opens a Quire home and offers what the CLI and the window do.

``Library.open(paths, settings, write=True)`` takes the writer lock; readers take none and
see the writer's commits as they land. The index records the embedding model, its
dimension and the chunk settings; opening it with other settings is refused until the user
rebuilds (``rebuild`` builds beside the old tables and swaps them in when done).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .chunking import ChunkSpec, check_chunking
from .config import Paths, Settings
from .embed import Embedder, EmbedderInfo, load_embedder, model_fingerprint
from .errors import EmbeddingUnavailableError, IndexMismatchError, ManifestCorruptError, StoreError, UsageError
from .indexer import STORE_SCHEMA, EmbedWorker, Indexer, ProgressFn
from .lock import WriterLock
from .manifest import FAILED, INDEXED, SKIPPED, Manifest, Root
from .paths import display, is_within
from .scan import system_dir_of
from .search import Searcher, search_kinds
from .store import SCHEMA_VERSION, Store, disk_bytes, remove_leftovers, remove_store
from .types import CancelToken, IndexReport, Progress, SearchResult

log = logging.getLogger(__name__)

INDEX_META = "index"
RESETTING = "resetting"  # manifest meta: a reset let go of the index, which is still to be deleted


@dataclass(frozen=True, slots=True)
class RebuildPlan:
    reparse: bool  # chunk settings changed: files are parsed again
    reembed: bool  # embedding model changed: every chunk text is embedded again
    files: int
    chunks: int
    chunks_per_second: float | None  # the embedding rate measured on this machine, if known

    def describe(self) -> str:
        if not (self.reparse or self.reembed):  # a switch to keyword search only
            return (f"Rebuild will keep the {self.chunks:,} chunks of {self.files:,} files for keyword search "
                    "and drop their vectors. The current index keeps answering until then.")
        what = "re-parse and re-embed" if self.reparse and self.reembed else \
            "re-parse" if self.reparse else "re-embed"
        text = f"Rebuild will {what} {self.files:,} files ({self.chunks:,} chunks)"
        if self.reembed and self.chunks_per_second:
            text += f", about {_duration(self.chunks / self.chunks_per_second)} at the measured " \
                    f"{self.chunks_per_second:.0f} chunks/s"
        return text + ". The current index keeps answering until the new one is ready."


def _slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", s.lower()).strip("_")[:60] or "x"


def _duration(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


class Library:
    def __init__(self, paths: Paths, settings: Settings, manifest: Manifest, lock: WriterLock | None) -> None:
        self.paths = paths
        self.settings = settings
        self.manifest = manifest
        self._lock = lock
        self._store: Store | None = None
        self._embedder: Embedder | None = None
        self._embedder_error: str = ""
        self._embedder_loaded = False
        self._watch_indexer: Indexer | None = None

    # --- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, paths: Paths, settings: Settings, *, write: bool = False,
             set_aside_damaged_manifest: bool = False) -> Library:
        """The library in ``paths``. ``write``: take the writer lock. ``set_aside_damaged_manifest``
        (``quire rebuild --all``): a damaged manifest is renamed out of the way, under the lock,
        and a new one is started from the folders Quire remembers."""
        if paths.data_dir.exists() and not paths.data_dir.is_dir():
            # Read-only commands went on as if the library were empty.
            raise UsageError(f"Quire's data folder {paths.data_dir} is a file, not a folder.",
                             "Point QUIRE_HOME at a folder (it is made if missing).")
        lock = None
        if write:
            _check_writable(paths.data_dir)
            lock = WriterLock(paths.lock_file)
            lock.acquire()
        try:
            try:
                manifest = Manifest(paths.manifest_db, read_only=not write)
            except ManifestCorruptError:
                if not (write and set_aside_damaged_manifest):
                    raise
                log.warning("damaged manifest set aside as %s", set_aside_manifest(paths))
                manifest = Manifest(paths.manifest_db)
            lib = cls(paths, settings, manifest, lock)
            if write:
                remove_leftovers(str(paths.index_dir))  # an index being deleted when a run was killed
                if lib.manifest.get_meta(RESETTING):
                    lib._finish_reset()
                lib._recover_lost_manifest()
                lib._drop_leftover_tables()
        except BaseException:
            if lock:
                lock.release()
            raise
        return lib

    def _recover_lost_manifest(self) -> None:
        """A new manifest beside an index made with a lost one (damaged and set aside): take
        the library's folders from their backup, and drop the old chunk rows, which no file of
        the new manifest owns (its file ids start again at 1, and would claim them). Vectors
        are kept: they are found again by their text."""
        if self.meta() is not None:
            if self.manifest.roots() and not self.paths.roots_backup.exists():
                self._save_roots()  # an index made before the backup existed
            return
        if not self.manifest.roots():
            for r in _read_roots_backup(self.paths.roots_backup):
                if os.path.lexists(r["path"]):
                    root = self.manifest.add_root(r["path"], bool(r.get("is_file")))
                    if r.get("paused"):
                        self.manifest.set_paused(root.id, True)
        orphans = [d for d in (self.paths.index_dir.iterdir() if self.paths.index_dir.is_dir() else ())
                   if d.name.startswith("chunks_")]
        if orphans:
            log.warning("dropping %d chunk tables no manifest knows (a new manifest)", len(orphans))
            for d in orphans:
                shutil.rmtree(d, ignore_errors=True)
            with self.manifest.transaction() as conn:
                conn.execute("DELETE FROM files")

    def _drop_leftover_tables(self) -> None:
        """Tables the index does not use, left by a rebuild killed after its swap or halfway
        through (the old chunks, a part-built vectors table), and its staging folder: nothing
        else would ever remove them. Looked for on disk, so a run with nothing to do still
        does not load LanceDB."""
        shutil.rmtree(self.paths.data_dir / "rebuild", ignore_errors=True)
        meta = self.meta()
        if meta is None or not self.paths.index_dir.is_dir():
            return
        live = {meta["chunks_table"], meta.get("vectors_table") or ""}
        stray = [d.name[:-len(".lance")] for d in self.paths.index_dir.iterdir()
                 if d.name.endswith(".lance") and d.name[:-len(".lance")] not in live]
        if stray:
            log.warning("dropping %d tables the index does not use (a rebuild was stopped)", len(stray))
            store = self.store()
            for name in stray:
                store.drop_table(name)

    def _save_roots(self) -> None:
        """Keep the library's folders beside the manifest (``_recover_lost_manifest``)."""
        roots = [{"path": r.path, "is_file": r.is_file, "paused": r.paused} for r in self.manifest.roots()]
        tmp = self.paths.roots_backup.with_suffix(".tmp")
        try:
            # ASCII: a folder name that is not UTF-8 (surrogate escapes) round-trips as \\udcxx.
            tmp.write_text(json.dumps(roots, indent=1), encoding="utf-8")
            os.replace(tmp, self.paths.roots_backup)
        except OSError as exc:  # a convenience: never worth failing the change it follows
            log.warning("could not save %s: %s", self.paths.roots_backup, exc)

    def close(self) -> None:
        self._drop_watch_indexer()
        self.manifest.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def writable(self) -> bool:
        return self._lock is not None

    # --- the index's identity ------------------------------------------------------------

    def meta(self) -> dict[str, Any] | None:
        return self.manifest.get_meta(INDEX_META)

    def _wanted(self, info: EmbedderInfo | None) -> dict[str, Any]:
        ident = self.settings.embedding_identity()
        return {
            "embedding": {**ident, "dim": info.dim if info else None, "fingerprint": model_fingerprint(self.settings)},
            "chunking": {"chunk_size": self.settings.chunking.chunk_size,
                         "chunk_overlap": self.settings.chunking.chunk_overlap},
        }

    def mismatch(self) -> str | None:
        """Why the index on disk does not fit the current settings, or None."""
        meta = self.meta()
        if meta is None:
            return None
        want = self._wanted(None)
        have_e, want_e = meta["embedding"], want["embedding"]
        diffs = []
        if (have_e["backend"], have_e["model"]) != (want_e["backend"], want_e["model"]):
            have = f'{have_e["backend"]} {have_e["model"]}'.strip()
            now = f'{want_e["backend"]} {want_e["model"]}'.strip()
            diffs.append(f"embedding {have} (settings now: {now})")
        elif _other_model_files(have_e, want_e):
            diffs.append(f"another model's files (embedding.model_path {self.settings.embedding.model_path} "
                         "now holds a different model)")
        if meta["chunking"] != want["chunking"]:
            c = meta["chunking"]
            diffs.append(f"chunks of {c['chunk_size']} tokens with {c['chunk_overlap']} overlap (settings now: "
                         f"{want['chunking']['chunk_size']} with {want['chunking']['chunk_overlap']})")
        return "; ".join(diffs) or None

    def check_readable(self) -> None:
        """Raise StoreCorruptError if a data file of the index cannot be read."""
        if self.meta() is not None:
            self.store().check_readable()

    def check_settings(self) -> None:
        why = self.mismatch()
        if why:
            raise IndexMismatchError(f"The index was built with {why}.",
                                     "Run `quire rebuild` to rebuild it with the new settings, or change the "
                                     "settings back.")

    # --- components ----------------------------------------------------------------------

    def embedder(self) -> Embedder | None:
        """The configured embedder, loaded once; None for backend "none" or when unavailable."""
        if not self._embedder_loaded:
            self._embedder_loaded = True
            try:
                self._embedder = load_embedder(self.settings, self.paths)
            except EmbeddingUnavailableError as exc:
                self._embedder_error = exc.message
                log.warning("embedding unavailable: %s", exc.message)
        return self._embedder

    @property
    def embedder_error(self) -> str:
        return self._embedder_error

    def store(self) -> Store:
        if self._store is None:
            meta = self.meta()
            if meta is None:
                ident = self.settings.embedding_identity()
                chunks, vectors = "chunks_1", f"vectors_{_slug(ident['backend'] + '_' + ident['model'])}"
            else:
                chunks, vectors = meta["chunks_table"], meta["vectors_table"]
            if ident_none(meta, self.settings):
                vectors = None
            self._store = Store(self.paths.index_dir, chunks, vectors, read_only=not self.writable)
        return self._store

    def _ensure_meta(self, info: EmbedderInfo | None) -> None:
        meta = self.meta()
        if meta is None:
            st = self.store()
            meta = {"chunks_table": st.chunks_name, "vectors_table": st.vectors_name or "",
                    **self._wanted(info), "created_at": time.time()}
            self.manifest.set_meta(INDEX_META, meta)
        elif info is not None and meta["embedding"].get("dim") is None:
            meta["embedding"]["dim"] = info.dim
            self.manifest.set_meta(INDEX_META, meta)
        elif "fingerprint" not in meta["embedding"] and meta["embedding"]["backend"] != "none":
            # An index made before fingerprints: the model it was made with is the one now.
            meta["embedding"]["fingerprint"] = model_fingerprint(self.settings)
            self.manifest.set_meta(INDEX_META, meta)

    def _spec(self, info: EmbedderInfo | None) -> ChunkSpec:
        c = self.settings.chunking
        if info is not None:
            check_chunking(c, info.max_tokens, info.model)
        tokenizer = info.tokenizer_file if info else ""
        if not tokenizer and self.settings.embedding.backend == "fastembed" and self.settings.embedding.model_path:
            f = Path(self.settings.embedding.model_path).expanduser() / "tokenizer.json"
            tokenizer = str(f) if f.exists() else ""
        return ChunkSpec(c.chunk_size, c.chunk_overlap, tokenizer)

    # --- library folders -----------------------------------------------------------------

    def roots(self) -> list[Root]:
        return self.manifest.roots()

    def add(self, path: str) -> Root:
        self._need_write()
        p = self._addable(path)
        real = os.path.realpath(p)
        # Compared by where they really are: the same folder reached through a link (or macOS's
        # /tmp and /private/tmp) is one library folder, not two with every file indexed twice.
        for r in self.manifest.roots():
            r_real = os.path.realpath(r.path)
            if p == r.path or real == r_real:
                root = r  # (absorbing again below: a run stopped halfway through it goes on)
                break
            if not r.is_file and is_within(real, r_real):
                return r  # already inside a library folder
        else:
            root = self.manifest.add_root(p, os.path.isfile(p))
        self._absorb(root, real)
        self._save_roots()
        return root

    def _absorb(self, root: Root, real: str) -> None:
        """A new folder that contains existing library folders takes them in: their files move
        under it, rows first (a search by the new folder missed them), then the manifest."""
        for r in self.manifest.roots():
            if r.id == root.id or not is_within(os.path.realpath(r.path), real):
                continue
            moves = {f.id: (f.display, root.display) for f in self.manifest.files_of_root(r.id)
                     if f.status == INDEXED}
            if moves and self.meta() is not None and self.store().chunks is not None:
                self.store().repath(moves)
            with self.manifest.transaction() as conn:
                conn.execute("UPDATE files SET root_id=? WHERE root_id=?", (root.id, r.id))
                conn.execute("DELETE FROM roots WHERE id=?", (r.id,))

    def _addable(self, path: str) -> str:
        """``path`` made absolute, or UsageError saying why it cannot be a library folder."""
        p = os.path.abspath(os.path.expanduser(path))
        if not os.path.lexists(p):
            raise UsageError(f"{path} does not exist.", "Check the path and try again.")
        if not os.path.isdir(p) and not os.path.isfile(p):
            raise UsageError(f"{path} is neither a folder nor a regular file.")
        real = os.path.realpath(p)
        system = system_dir_of(p)
        if system is not None:
            where = "" if real == system else f" (in {system})"
            raise UsageError(f"{path} is a system folder{where}: what is in it describes the running system "
                             "and its devices, not documents.", "Add the folders that hold your documents instead.")
        if any(is_within(real, d) for d in self._own_dirs()):
            raise UsageError(f"{path} is inside Quire's own data folder, where it keeps its index and logs.",
                             "Add the folders that hold your documents instead.")
        return p

    def find_root(self, path: str) -> Root | None:
        """The library folder or file ``path`` names, spelled as it was added or by another way
        to the same place (a link, /tmp for /private/tmp)."""
        p = os.path.abspath(os.path.expanduser(path))
        roots = self.manifest.roots()
        real = os.path.realpath(p)
        return next((r for r in roots if r.path == p), None) or \
            next((r for r in roots if os.path.realpath(r.path) == real), None)

    def _inside_root(self, path: str) -> tuple[Root, str] | None:
        """The library folder ``path`` is inside, by any spelling (a link to it, or its real
        path when it was added through a link), and ``path`` as the index spells it."""
        p = os.path.abspath(os.path.expanduser(path))
        real = os.path.realpath(p)
        for r in self.manifest.roots():
            if r.is_file:
                continue
            if is_within(p, r.path):
                return r, display(p)
            if is_within(real, os.path.realpath(r.path)):
                rel = os.path.relpath(real, os.path.realpath(r.path))
                return r, os.path.join(r.display, rel) if rel != "." else r.display
        return None

    def remove(self, path: str) -> int:
        """Take a folder or file out of the library; returns how many files' rows left the index."""
        self._need_write()
        root = self.find_root(path)
        if root is None:
            found = self._inside_root(path)
            inside = found[0] if found else None
            if inside is not None:
                raise UsageError(f"{path} is inside the library folder {inside.display}; only whole library "
                                 "folders and files can be taken out.",
                                 "To leave it out of the index, add a pattern for it to [index] ignore in "
                                 "settings.toml.")
            raise UsageError(f"{path} is not in the library.", "`quire status` lists the library's folders.")
        # The folders' backup follows the manifest at once: a kill later in the run must not
        # bring the folder back if the manifest is ever lost.
        return self._indexer().remove_root(root, on_forgotten=self._save_roots)

    def set_paused(self, path: str, paused: bool) -> None:
        self._need_write()
        root = self.find_root(path)
        if root is None:
            raise UsageError(f"{path} is not in the library.")
        self.manifest.set_paused(root.id, paused)
        self._save_roots()

    # --- indexing ------------------------------------------------------------------------

    def _need_write(self) -> None:
        if not self.writable:
            raise StoreError("This library was opened read-only.")

    def _prepare(self) -> tuple[Embedder | None, ChunkSpec]:
        """Load the embedder (if any) and fix how text is chunked; record both in the index."""
        emb = self.embedder()
        info = emb.info if emb else None
        meta = self.meta()
        if meta is not None and info is not None:
            recorded = meta["embedding"].get("dim")
            if recorded is not None and recorded != info.dim:
                raise IndexMismatchError(
                    f"The index holds {recorded}-dimension vectors but {info.model} makes {info.dim}.",
                    "Run `quire rebuild`.")
        self._ensure_meta(info)
        return emb, self._spec(info)

    def _check_layout(self) -> None:
        """Refuse to write to an index a newer Quire made: its tables have columns this version
        does not write, so every run would fail midway."""
        layout = self.manifest.get_meta(STORE_SCHEMA)
        if isinstance(layout, int) and layout > SCHEMA_VERSION:
            raise StoreError(f"This index was made by a newer version of Quire (index layout {layout}; "
                             f"this version writes layout {SCHEMA_VERSION}).",
                             "Update Quire, or start the index over with this one: quire rebuild --all")

    def _indexer(self) -> Indexer:
        self._need_write()
        self._check_layout()
        self.check_settings()
        if self.meta() is None:
            self._ensure_meta(None)
        return Indexer(self.settings, self.manifest, self.store(), self._prepare, own_dirs=self._own_dirs())

    def _own_dirs(self) -> list[str]:
        """Where Quire keeps its index, logs and settings: never indexed, and never a library folder."""
        return list(dict.fromkeys(os.path.realpath(d) for d in (self.paths.data_dir, self.paths.config_dir)))

    def index(self, paths: list[str] | None = None, progress: ProgressFn | None = None,
              cancel: CancelToken | None = None, changed: list[str] | None = None,
              wait_for_vectors: bool = True) -> IndexReport:
        """Add ``paths`` to the library (if given) and bring the library up to date.

        ``changed`` limits the work to those paths (the watcher's events). With
        ``wait_for_vectors=False`` (watch mode, the window) the call returns as soon as the
        chunks are written and searchable by keyword; a background embedder adds the vectors
        and keeps running until ``close``."""
        self._need_write()
        self.check_settings()
        roots = None
        if paths:
            for p in paths:  # every path checked before any is added: a typo adds nothing
                self._addable(p)
            roots = [self.add(p) for p in paths]
            # Index the whole library's changes only when asked for everything.
            roots = list({r.id: r for r in roots}.values())
        if wait_for_vectors:
            indexer = self._indexer()
        else:
            if self._watch_indexer is None:
                self._watch_indexer = self._indexer()
            indexer = self._watch_indexer
        report = indexer.run(roots, progress, cancel, changed, wait_for_vectors=wait_for_vectors)
        if self._embedder_error and not report.note:
            report = _with_note(report, f"no vectors yet ({self._embedder_error}); keyword search works")
        return report

    def _drop_watch_indexer(self) -> None:
        """The watch-mode indexer keeps the store and manifest it was made with; a rebuild or reset
        replaces them, so it is stopped and the next watch-mode run makes a new one."""
        if self._watch_indexer is not None:
            self._watch_indexer.stop_background()
            self._watch_indexer.close_workers()
            self._watch_indexer = None

    def release_idle_workers(self, idle_for: float) -> None:
        """Watch mode: stop the parse workers kept between runs once unused for ``idle_for`` s."""
        if self._watch_indexer is not None:
            self._watch_indexer.close_workers(idle_for)

    def embedding_backlog(self) -> int:
        """Chunk texts the background embedder still has queued (watch mode), 0 otherwise."""
        bg = self._watch_indexer._background if self._watch_indexer is not None else None
        return bg.pending() if bg is not None else 0

    def on_embed_progress(self, fn: ProgressFn) -> None:
        """Progress of the background embedder (watch mode), as ``Progress("embed", ...)`` events."""
        if self._watch_indexer is None:
            self._watch_indexer = self._indexer()
        self._watch_indexer.on_embed_progress = lambda done, left: fn(
            Progress("embed", chunks_embedded=done, chunks_to_embed=left))

    # --- search --------------------------------------------------------------------------

    def searcher(self) -> Searcher:
        self.check_settings()
        emb = None
        reason = ""
        if self.settings.embedding.backend == "none":
            reason = 'embedding.backend is "none"'
        else:
            st = self.store()
            if st.count_vectors() == 0:
                reason = "no vectors have been computed yet"
            else:
                emb = self.embedder()
                reason = self._embedder_error
        return Searcher(self.store(), emb, self.settings.search.mode if emb else "keyword", reason)

    def search(self, query: str, k: int = 8, folder: str | None = None,
               kinds: list[str] | None = None) -> SearchResult:
        if self.meta() is None:
            return SearchResult((), "keyword", "the library is empty: add a folder with `quire index PATH`")
        under = None
        if folder:
            root = self.find_root(folder)
            if root is not None:
                folder = root.display
            else:  # a folder inside a library folder: its files' paths start with it
                found = self._inside_root(folder)
                if found is None:
                    raise UsageError(f"{folder} is not in the library.",
                                     "Give a library folder or a folder inside one; `quire status` lists them.")
                # A mistyped name matched nothing and said only "No passages match".
                if not os.path.isdir(os.path.expanduser(folder)):
                    what = "is a file" if os.path.exists(os.path.expanduser(folder)) else "does not exist"
                    raise UsageError(f"{folder} {what}; a search can be limited to a library folder or a folder "
                                     "inside one.",
                                     "`quire status` lists the library's folders.")
                folder, under = None, found[1].rstrip(os.sep) + os.sep
        return self.searcher().search(query, k, folder, search_kinds(kinds) if kinds else None, under=under)

    # --- status --------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        meta = self.meta()
        failed = self.manifest.files_by_status(FAILED)
        st = self.store() if meta is not None else None
        emb = meta["embedding"] if meta else {**self.settings.embedding_identity(), "dim": None}
        chunking = meta["chunking"] if meta else {"chunk_size": self.settings.chunking.chunk_size,
                                                  "chunk_overlap": self.settings.chunking.chunk_overlap}
        stats = st.stats() if st is not None else None
        return {
            "folders": [{"path": r.display, "kind": "file" if r.is_file else "folder", "paused": r.paused,
                         "present": os.path.exists(r.path)} for r in self.manifest.roots()],
            "files": self.manifest.counts(),
            "chunks": stats.chunks if stats else 0,
            "vectors": stats.vectors if stats else 0,
            "embedding": {"backend": emb["backend"], "model": emb["model"], "dim": emb.get("dim")},
            "chunking": chunking,
            "store_bytes": disk_bytes(str(self.paths.index_dir)) + _file_size(self.paths.manifest_db),
            "failed": [{"path": f.display, "reason": f.reason} for f in failed],
            "skipped": [{"path": f.display, "reason": f.reason} for f in self.manifest.files_by_status(SKIPPED)],
            "settings_mismatch": self.mismatch(),
            "home": str(self.paths.data_dir),
        }

    # --- rebuild -------------------------------------------------------------------------

    def reconfigure(self, settings: Settings) -> None:
        """Use ``settings`` from now on (call on the writer's thread, between runs).

        What was built from the old settings is dropped and rebuilt on next use: the watch-mode
        indexer (its scanner holds the ignore rules), and the embedder and store when the
        embedding or chunk settings changed. A change that needs a rebuild is followed by
        ``rebuild()``."""
        old = self.settings
        self._drop_watch_indexer()
        self.settings = settings
        if old.embedding != settings.embedding or old.embedding_identity() != settings.embedding_identity():
            self._embedder, self._embedder_loaded, self._embedder_error = None, False, ""
        if old.chunking != settings.chunking or old.embedding_identity() != settings.embedding_identity():
            self._store = None

    def plan_rebuild(self) -> RebuildPlan | None:
        meta = self.meta()
        if meta is None:
            return None
        want = self._wanted(None)
        reparse = meta["chunking"] != want["chunking"]
        reembed = self._model_changed(meta)
        if not (reparse or reembed):
            return None
        rate = None
        for run in self.manifest.last_runs(50):
            rep = run.get("report") or {}
            if rep.get("chunks_embedded", 0) >= 50 and rep.get("seconds"):
                rate = rep["chunks_embedded"] / rep["seconds"]
                break
        embeds = want["embedding"]["backend"] != "none"  # keyword search only: nothing is embedded
        return RebuildPlan(reparse, (reembed or reparse) and embeds, sum(self.manifest.counts().values()),
                           self.manifest.total_chunks(), rate)

    def _model_changed(self, meta: dict[str, Any]) -> bool:
        """Whether the settings' embedding model is not the one the index was built with."""
        have, want = meta["embedding"], self._wanted(None)["embedding"]
        return ((have["backend"], have["model"]) != (want["backend"], want["model"])
                or _other_model_files(have, want))

    def reset(self) -> None:
        """Forget the index (not the library's folders), e.g. to repair a damaged store.
        The next ``index`` reads every file again."""
        self._need_write()
        self._drop_watch_indexer()
        self._store = None
        # The manifest forgets first, and notes that the index is to go: killed after it, the
        # next open deletes the rest. The other way round, a kill left a manifest calling every
        # file indexed beside an empty index, which `quire index` then found unchanged.
        with self.manifest.transaction() as conn:
            conn.execute("DELETE FROM files")
            conn.execute("DELETE FROM meta WHERE key IN (?, ?, 'vectors_complete')", (INDEX_META, STORE_SCHEMA))
            self.manifest.set_meta(RESETTING, True, conn)
        self._finish_reset()

    def _finish_reset(self) -> None:
        """Delete the index a reset has let go of; run again at open after a kill, so none of
        it (a vectors table of another model, a damaged one) is taken up by the next index."""
        remove_store(str(self.paths.index_dir))
        self.manifest.set_meta(RESETTING, None)

    def rebuild(self, progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> IndexReport:
        """Build the index anew for the current settings beside the old one, then swap.

        An embedding change re-embeds the stored chunk texts without parsing a file again;
        a chunking change parses again (vectors of unchanged chunk texts are reused)."""
        self._need_write()
        self._check_layout()
        plan = self.plan_rebuild()
        if plan is None:
            raise UsageError("The index already matches the settings; nothing to rebuild.")
        self._drop_watch_indexer()
        cancel = cancel or CancelToken()
        emit = progress or (lambda p: None)
        t0 = time.monotonic()
        old = self.meta()
        assert old is not None
        emb = self.embedder()
        if emb is None and self.settings.embedding.backend != "none":
            raise EmbeddingUnavailableError(f"Cannot rebuild: {self._embedder_error}")
        info = emb.info if emb else None
        ident = self.settings.embedding_identity()
        vectors = f"vectors_{_slug(ident['backend'] + '_' + ident['model'])}" if emb else ""
        if vectors and old["vectors_table"]:
            if not self._model_changed(old):
                vectors = old["vectors_table"]  # the same model: its vectors serve the new chunks too
            elif _same_table(vectors, old["vectors_table"]):
                # Another model under the same name (other files in model_path): its vectors go
                # to a table of their own. Dropping the one in use first lost every vector when
                # the rebuild was stopped, and a re-parse mixed the two models' vectors.
                vectors = _next_table_name(vectors, Store(self.paths.index_dir, old["chunks_table"], None))
        if plan.reparse:
            gen = int(old["chunks_table"].rsplit("_", 1)[-1]) + 1
            chunks = f"chunks_{gen}"
            staging = Paths(self.paths.config_dir, self.paths.data_dir / "rebuild")
            shutil.rmtree(staging.data_dir, ignore_errors=True)
            staging.data_dir.mkdir(parents=True)
            sm = Manifest(staging.manifest_db)
            try:
                for r in self.manifest.roots():
                    root = sm.add_root(r.path, r.is_file)
                    if r.paused:
                        sm.set_paused(root.id, True)
                store = Store(self.paths.index_dir, chunks, vectors or None)
                store.drop_table(chunks)
                sm.set_meta(INDEX_META, {"chunks_table": chunks, "vectors_table": vectors, **self._wanted(info),
                                         "created_at": time.time()})
                spec = self._spec(info)
                report = Indexer(self.settings, sm, store, lambda: (emb, spec)).run(None, progress, cancel)
                cancel.raise_if_cancelled()
                sm.close()
                self.manifest.close()
                _swap_db(staging.manifest_db, self.paths.manifest_db)
            finally:
                sm.close()
            self.manifest = Manifest(self.paths.manifest_db)
            shutil.rmtree(staging.data_dir, ignore_errors=True)  # its manifest is the live one now
        else:
            chunks = old["chunks_table"]
            store = Store(self.paths.index_dir, chunks, vectors or None)
            if vectors:
                store.drop_table(vectors)
                worker = EmbedWorker(store, emb, cancel,  # type: ignore[arg-type]
                                     lambda d, left: emit(Progress("embed", chunks_embedded=d)))
                worker.start(backlog=True)
                worker.finish()
                if worker.error is not None:
                    raise worker.error
                cancel.raise_if_cancelled()
                store.maintain(final=True, compact=True)
            report = IndexReport(files_seen=sum(self.manifest.counts().values()),
                                 chunks_embedded=worker.embedded if vectors else 0,
                                 seconds=time.monotonic() - t0)
            self.manifest.set_meta(INDEX_META, {**old, "vectors_table": vectors, **self._wanted(info)})
        # The new tables are in use: drop what only the old index needed.
        keep = {chunks, vectors}
        for name in (old["chunks_table"], old["vectors_table"]):
            if name and name not in keep:
                store.drop_table(name)
        if plan.reparse and vectors and vectors == old["vectors_table"]:
            # The vectors table served both indexes; only now may the old chunks' go.
            store.orphan_vectors(everything=True)
        self._store = None
        return _with_note(report, "rebuilt", seconds=time.monotonic() - t0)


def _same_table(a: str, b: str) -> bool:
    return a.split("__")[0] == b.split("__")[0]


def _next_table_name(name: str, store: Store) -> str:
    """``name`` with the first generation suffix ("__2", "__3"...) no table has yet (a slug
    never holds "__", so the suffix cannot be confused with the model's own name)."""
    base = name.split("__")[0]
    n = 2
    while store.has_table(f"{base}__{n}"):
        n += 1
    return f"{base}__{n}"


def _other_model_files(have: dict[str, Any], want: dict[str, Any]) -> bool:
    """Both fingerprinted (a model_path in use), and not the same files."""
    return bool(have.get("fingerprint") and want.get("fingerprint") and have["fingerprint"] != want["fingerprint"])


def ident_none(meta: dict[str, Any] | None, settings: Settings) -> bool:
    backend = meta["embedding"]["backend"] if meta else settings.embedding.backend
    return backend == "none"


def _with_note(r: IndexReport, note: str, seconds: float | None = None) -> IndexReport:
    from dataclasses import replace

    return replace(r, note=f"{r.note}; {note}" if r.note else note,
                   seconds=r.seconds if seconds is None else seconds)


def _file_size(p: Path) -> int:
    try:
        return p.stat().st_size
    except OSError:
        return 0


def _read_roots_backup(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(data, list):
        return []
    return [r for r in data if isinstance(r, dict) and isinstance(r.get("path"), str)]


def set_aside_manifest(paths: Paths) -> Path:
    """Rename a damaged manifest (and its WAL files) out of the way; returns its new name."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = paths.manifest_db.with_name(f"{paths.manifest_db.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(paths.manifest_db) + suffix)
        if src.exists():
            os.replace(src, Path(str(target) + suffix))
    return target


def _check_writable(d: Path) -> None:
    if d.exists() and not d.is_dir():
        raise StoreError(f"Quire's data folder {d} is a file, not a folder.",
                         "Point QUIRE_HOME at a folder (it is made if missing).")
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"Cannot create Quire's data folder {d} ({exc.strerror or exc}).",
                         "Point QUIRE_HOME at a writable folder.") from None
    if not os.access(d, os.W_OK):
        raise StoreError(f"Quire's data folder {d} is read-only.",
                         "Make it writable or point QUIRE_HOME at a writable folder.")


def _swap_db(src: Path, dst: Path) -> None:
    """Move a finished manifest over the live one (both closed), WAL folded in first."""
    conn = sqlite3.connect(str(src))
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    finally:
        conn.close()
    for suffix in ("-wal", "-shm"):
        Path(str(dst) + suffix).unlink(missing_ok=True)
    os.replace(src, dst)

