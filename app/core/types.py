"""The plain, frozen values core hands out: to the CLI, to the window's workers, to tests."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import Cancelled


@dataclass(frozen=True, slots=True)
class Hit:
    """One retrieved passage."""

    path: str  # absolute path as the user sees it
    page: int | None  # 1-based page or slide; None where the format has none
    score: float  # higher is better; comparable only within one result list
    text: str
    heading: str = ""
    chunk_id: str = ""
    folder: str = ""  # the library folder (or file) it came from
    kind: str = ""  # parser kind: pdf, docx, markdown, text, ...
    also: tuple[str, ...] = ()  # other files holding this very passage (copies), best first

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "page": self.page, "score": round(self.score, 6), "text": self.text}


@dataclass(frozen=True, slots=True)
class SearchResult:
    hits: tuple[Hit, ...]
    mode: str  # "hybrid", "keyword" or "vector"
    note: str = ""  # e.g. why search fell back to keywords only


@dataclass(frozen=True, slots=True)
class IndexReport:
    files_seen: int = 0
    files_added: int = 0
    files_changed: int = 0
    files_removed: int = 0
    files_moved: int = 0
    files_unchanged: int = 0
    files_failed: int = 0
    files_skipped: int = 0  # not documents (images, archives) or over the size cap
    chunks_written: int = 0
    chunks_embedded: int = 0
    seconds: float = 0.0
    embed_pending: int = 0  # chunks still waiting for vectors (embedder off or cancelled)
    note: str = ""
    cancelled: bool = False  # stopped before the end; what was done is kept

    def as_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["seconds"] = round(self.seconds, 3)
        return d


@dataclass(frozen=True, slots=True)
class Progress:
    """A progress event from a long operation. ``phase`` names what is happening."""

    phase: str  # "scan", "parse", "embed", "write", "compact", "done"
    files_done: int = 0
    files_total: int = 0
    chunks_written: int = 0
    chunks_parsed: int = 0  # made by the parse workers so far, stored or not
    chunks_embedded: int = 0
    chunks_to_embed: int = 0
    current: str = ""  # the file being worked on, if any
    message: str = ""


@dataclass
class CancelToken:
    """Shared between the caller and a long operation; the operation checks it often."""

    _event: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if cancelled meanwhile."""
        return self._event.wait(seconds)
