"""Frozen, Qt-free views of the library that the window draws from (built on worker threads)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    reason: str
    root: str  # the library folder (or file) it belongs to


@dataclass(frozen=True, slots=True)
class RootView:
    path: str  # as the user sees it
    is_file: bool
    paused: bool
    present: bool  # False: an unplugged drive or a deleted folder
    files: int  # files indexed (with or without text)
    chunks: int
    problems: int  # files that failed


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the library holds right now."""

    roots: tuple[RootView, ...]
    files: int
    chunks: int
    vectors: int
    problems: tuple[Problem, ...]
    backlog: int  # chunks the background embedder still has to add vectors for
    mismatch: str | None  # why the index does not fit the settings (a rebuild is due)
    home: str


@dataclass(frozen=True, slots=True)
class OpenResult:
    writable: bool
    lock_message: str  # why the library opened read-only ("" when writable)
    lock_action: str
    mismatch: str | None


@dataclass(frozen=True, slots=True)
class AddResult:
    added: tuple[str, ...]
    refused: tuple[tuple[str, str], ...]  # (path, why)
    covered: tuple[tuple[str, str], ...] = ()  # (path, the library folder it is already in)
    merged: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (new folder, library folders now inside it)


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str  # "user" | "assistant"
    text: str
    sources: tuple[object, ...]  # app.core.answer.Source
    mode: str = "answer"  # "answer" | "passages" | "stopped"
    given: tuple[object, ...] = ()  # an answer citing none: the passages the model was given


@dataclass(frozen=True, slots=True)
class Versions:
    quire: str
    python: str
    qt: str
    pyside: str
    lancedb: str
    llama_index: str
    data_dir: str
    log_path: str
