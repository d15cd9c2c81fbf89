"""Several asks on threads, each with its own read-only Library, while an index run writes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from app.core.answer import answer
from app.core.config import Paths
from app.core.library import Library
from app.core.ollama import OllamaClient
from tests.fake_ollama import FakeOllama, fake_ollama_fixture  # noqa: F401
from tests.helpers.embedders import HashEmbedder
from tests.integration.conftest import write

TEAMS = {"falcon": "amber", "otter": "cobalt", "heron": "saffron", "badger": "umber"}


def test_asks_run_while_an_index_run_writes(tmp_path: Path, paths: Paths, embedder: HashEmbedder,
                                            open_lib: Callable[..., Library], fake_ollama: FakeOllama,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    facts = tmp_path / "facts"
    for team, word in TEAMS.items():
        write(facts / f"{team}.txt", f"The code word for team {team} is {word}. Keep it secret.")
    writer = open_lib(ollama__url=fake_ollama.url)
    writer.index([str(facts)])
    settings = writer.settings

    more = tmp_path / "more"
    for i in range(80):
        write(more / f"extra{i:02d}.txt", f"Minutes of meeting {i}. " + "Budget lines were read aloud. " * 30)

    # The index run's embedding blocks on its first batch (whose rows are already written) until
    # every asker has had one answer; its writer goes on writing meanwhile, and the askers keep
    # asking until the run is over.
    first_round = threading.Barrier(len(TEAMS) + 1)
    original = embedder.embed
    index_calls: list[int] = []

    askers: list[threading.Thread] = []

    def embed(texts: Sequence[str]) -> Any:
        if threading.current_thread() not in askers:  # the index run's embedding, whichever thread runs it
            index_calls.append(len(texts))
            if len(index_calls) == 1:
                first_round.wait(timeout=20)
        return original(texts)

    monkeypatch.setattr(embedder, "embed", embed)
    index_done = threading.Event()
    report: dict[str, Any] = {}

    def index() -> None:
        try:
            report["r"] = writer.index([str(more)])
        finally:
            index_done.set()

    errors: list[BaseException] = []
    rounds: dict[str, int] = {}
    client = OllamaClient(settings.ollama)

    def ask(team: str) -> None:
        try:
            with Library.open(paths, settings) as lib:
                n = 0
                while n == 0 or (not index_done.is_set() and n < 50):
                    a = answer(f"What is the code word for team {team}?",
                               lambda q, k: lib.search(q, k).hits, client, settings, k=4)
                    assert a.mode == "answer", a.note
                    assert a.sources[0].path == str(facts / f"{team}.txt")
                    assert TEAMS[team] in a.text
                    n += 1
                    if n == 1:
                        first_round.wait(timeout=20)
                rounds[team] = n
        except BaseException as exc:
            errors.append(exc)

    indexer = threading.Thread(target=index, name="indexer")
    askers.extend(threading.Thread(target=ask, args=(team,)) for team in TEAMS)
    indexer.start()
    for t in askers:
        t.start()
    for t in [*askers, indexer]:
        t.join(60)
    assert not errors, errors
    assert index_calls, "the index run embedded nothing: the test proved nothing"
    assert report["r"].files_added == 80 and report["r"].files_failed == 0
    assert all(rounds[team] >= 1 for team in TEAMS)
