"""answer() end to end against the fake Ollama over HTTP, with a fake retriever."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from app.core.answer import NO_ANSWER, answer
from app.core.config import OllamaSettings, Settings
from app.core.errors import Cancelled
from app.core.ollama import OllamaClient
from app.core.types import CancelToken, Hit
from tests.fake_ollama import FakeModel, FakeOllama, fake_ollama_fixture  # noqa: F401

HITS = (
    Hit("/docs/contracts/lease-2024.pdf", 7, 0.91,
        "The tenant must give sixty days' written notice. Notice may be sent by post.", "Termination",
        folder="/docs/contracts"),
    Hit("/docs/contracts/lease-2024.pdf", 12, 0.80, "Notices are delivered by post or email.", "Notices",
        folder="/docs/contracts"),
    Hit("/docs/notes/deposit.md", None, 0.42, "The deposit is two months of rent.", "Deposit",
        folder="/docs/notes"),
)


class Retriever:
    """Records the queries; returns ``hits`` (all of them, or the first k)."""

    def __init__(self, hits: Sequence[Hit] = HITS) -> None:
        self.hits = tuple(hits)
        self.queries: list[tuple[str, int]] = []

    def __call__(self, query: str, k: int) -> Sequence[Hit]:
        self.queries.append((query, k))
        return self.hits[:k]


def setup(fake: FakeOllama, timeout_s: float = 5.0) -> tuple[OllamaClient, Settings]:
    settings = replace(Settings(), ollama=OllamaSettings(url=fake.url, timeout_s=timeout_s))
    return OllamaClient(settings.ollama), settings


def user_prompt(fake: FakeOllama, i: int = -1) -> str:
    return fake.bodies("/api/chat")[i]["messages"][-1]["content"]


def test_answer_streams_and_cites(fake_ollama: FakeOllama) -> None:
    client, settings = setup(fake_ollama)
    tokens: list[str] = []
    retrieve = Retriever()
    a = answer("How much notice does the lease require?", retrieve, client, settings, on_token=tokens.append)
    assert a.mode == "answer" and a.model == "llama3.2" and a.seconds > 0
    assert a.text == "According to the documents, The tenant must give sixty days' written notice [1]."
    assert "".join(tokens) == a.text and len(tokens) > 1
    assert [(s.n, s.path, s.page) for s in a.sources] == [(1, "/docs/contracts/lease-2024.pdf", 7)]
    assert [s.n for s in a.retrieved] == [1, 2, 3]
    assert retrieve.queries == [("How much notice does the lease require?", 8)]
    (body,) = fake_ollama.bodies("/api/chat")
    assert body["options"] == {"num_ctx": 8192, "num_predict": 1024}  # 131072 capped at MAX_CONTEXT
    prompt = user_prompt(fake_ollama)
    assert "[1] lease-2024.pdf, page 7 (Termination)\nThe tenant must give" in prompt
    assert "[3] deposit.md (Deposit)\nThe deposit is two months of rent." in prompt
    assert "cite" in body["messages"][0]["content"]


def test_citations_map_back_in_citation_order(fake_ollama: FakeOllama) -> None:
    fake_ollama.responder = lambda msgs: "By post or email [2]; two months' deposit [3, 2]; and [7] is bogus."
    client, settings = setup(fake_ollama)
    a = answer("How are notices sent?", Retriever(), client, settings, k=5)
    assert [s.n for s in a.sources] == [2, 3]
    assert a.sources[0].text == HITS[1].text and a.sources[1].path == "/docs/notes/deposit.md"
    assert a.note == "The answer cites [7], which is not among the 3 passages it was given."


def test_not_in_the_passages(fake_ollama: FakeOllama) -> None:
    fake_ollama.responder = lambda msgs: NO_ANSWER
    client, settings = setup(fake_ollama)
    a = answer("What colour is the front door?", Retriever(), client, settings)
    assert a.mode == "answer" and a.text == NO_ANSWER
    assert a.sources == () and len(a.retrieved) == 3
    assert a.note == ""  # the answer says it: a note saying it again was redundant
    assert a.uncited == a.retrieved  # the passages given are still there to look at


def test_uncited_answer_is_flagged(fake_ollama: FakeOllama) -> None:
    fake_ollama.responder = lambda msgs: "Probably sixty days."
    client, settings = setup(fake_ollama)
    a = answer("Notice?", Retriever(), client, settings)
    assert a.sources == () and "cites none of the passages" in a.note


def test_context_is_trimmed_to_whole_passages(fake_ollama: FakeOllama) -> None:
    fake_ollama.models["llama3.2:latest"] = FakeModel(context_length=2048)
    body = " ".join(f"word{j}" for j in range(150)) + "."
    hits = [Hit(f"/docs/f{i:02d}.txt", None, 1 / (i + 1), f"Fact {i} is here. {body}") for i in range(20)]
    client, settings = setup(fake_ollama)
    a = answer("Which fact?", Retriever(hits), client, settings, k=20)
    n = len(a.retrieved)
    assert 1 < n < 20
    assert f"{20 - n} of 20 passages did not fit the model's 2048-token context." in a.note
    prompt = user_prompt(fake_ollama)
    for i in range(n):  # each passage given is complete, and the next one is absent
        assert f"[{i + 1}] f{i:02d}.txt\nFact {i} is here. {body}" in prompt
    assert f"[{n + 1}]" not in prompt
    options = fake_ollama.bodies("/api/chat")[0]["options"]
    assert options == {"num_ctx": 2048, "num_predict": 512}


def test_follow_up_is_rewritten_from_history(fake_ollama: FakeOllama) -> None:
    def responder(msgs: list[dict[str, Any]]) -> str:
        if "standalone question" in msgs[0]["content"]:
            return "Standalone question: How much is the deposit under the lease?"
        return "The deposit is two months of rent [3]."

    fake_ollama.responder = responder
    client, settings = setup(fake_ollama)
    retrieve = Retriever()
    history = [("user", "How much notice does the lease require?"),
               ("assistant", "Sixty days' written notice [1].")]
    a = answer("and for the deposit?", retrieve, client, settings, history=history)
    assert retrieve.queries == [("How much is the deposit under the lease?", 8)]
    assert a.question == "How much is the deposit under the lease?"
    rewrite, final = fake_ollama.bodies("/api/chat")
    shown = rewrite["messages"][-1]["content"]
    assert "User: How much notice does the lease require?" in shown
    assert "Assistant: Sixty days' written notice." in shown  # citations stripped from history
    assert "Follow-up question: and for the deposit?" in shown
    assert rewrite["options"]["num_ctx"] == final["options"]["num_ctx"]  # no model reload between the two
    # The model gets the user's own words, and the standalone form with them.
    assert ("Question: and for the deposit?\n(In full: How much is the deposit under the lease?)"
            in final["messages"][-1]["content"])
    assert [s.n for s in a.sources] == [3]


@pytest.mark.parametrize("reply", [
    "The answer is not. The answer is: The notice period is three months.",  # it answered instead
    "How much is the deposit? It is two months of rent.",  # a second sentence
    "The deposit under the lease",  # no longer a question
    "The documents do not contain the answer.",
])
def test_a_rewrite_that_is_not_a_question_is_not_used(fake_ollama: FakeOllama, reply: str) -> None:
    """A small model answered instead of rewriting, and its sentence replaced the user's question
    in the search and in the prompt; the model then answered that."""
    def responder(msgs: list[dict[str, Any]]) -> str:
        return reply if "standalone question" in msgs[0]["content"] else "Two months of rent [1]."

    fake_ollama.responder = responder
    client, settings = setup(fake_ollama)
    retrieve = Retriever()
    history = [("user", "How much notice does the lease require?"), ("assistant", "Sixty days [1].")]
    answer("and for the deposit?", retrieve, client, settings, history=history)
    # Searched with the conversation's last question as context, as without a model to rewrite.
    assert retrieve.queries == [("How much notice does the lease require? and for the deposit?", 8)]
    prompt = fake_ollama.bodies("/api/chat")[-1]["messages"][-1]["content"]
    assert "Question: and for the deposit?\nAnswer from the passages" in prompt and reply not in prompt


def test_no_rewrite_without_history(fake_ollama: FakeOllama) -> None:
    client, settings = setup(fake_ollama)
    retrieve = Retriever()
    answer("How much notice?", retrieve, client, settings, history=[("user", "  ")])
    assert len(fake_ollama.bodies("/api/chat")) == 1  # the answer only
    assert retrieve.queries == [("How much notice?", 8)]


def test_ollama_down_gives_passages(fake_ollama: FakeOllama) -> None:
    client, settings = setup(fake_ollama)
    fake_ollama.stop()
    retrieve = Retriever()
    a = answer("How much notice?", retrieve, client, settings, k=2,
               history=[("user", "About the lease."), ("assistant", "Yes [1].")])
    assert a.mode == "passages" and a.text == ""
    assert [s.n for s in a.sources] == [1, 2] and a.sources[0].path == HITS[0].path
    assert a.note == f"Ollama is not running at {fake_ollama.url}."
    assert "ollama serve" in a.action
    assert retrieve.queries == [("About the lease. How much notice?", 2)]  # no model to rewrite with
    assert a.as_json()["answer"] is None


def test_model_missing_gives_passages(fake_ollama: FakeOllama) -> None:
    fake_ollama.remove_model("llama3.2")
    client, settings = setup(fake_ollama)
    a = answer("How much notice?", Retriever(), client, settings)
    assert a.mode == "passages" and len(a.sources) == 3
    assert "llama3.2 is not on the Ollama server" in a.note
    assert a.action == "Pull it: quire models pull llama3.2"


def test_nothing_retrieved(fake_ollama: FakeOllama) -> None:
    client, settings = setup(fake_ollama)
    a = answer("Anything?", Retriever(()), client, settings)
    assert a.mode == "passages" and a.sources == () and "No passage" in a.note
    assert not fake_ollama.bodies("/api/chat")


def test_a_server_error_before_any_answer_shows_the_passages(fake_ollama: FakeOllama) -> None:
    # A server error (or a timeout) before the first word was a bare error, while Ollama being
    # down showed the passages found: the passages are worth as much either way.
    fake_ollama.fail["/api/chat"] = (500, "out of memory")
    client, settings = setup(fake_ollama)
    a = answer("How much notice?", Retriever(), client, settings)
    assert a.mode == "passages" and "out of memory" in a.note and a.sources


def test_cancel_raises_and_closes_the_stream(fake_ollama: FakeOllama) -> None:
    fake_ollama.delay = 0.2
    client, settings = setup(fake_ollama)
    cancel = CancelToken()
    box: dict[str, BaseException] = {}

    def run() -> None:
        try:
            answer("How much notice?", Retriever(), client, settings, cancel=cancel)
        except BaseException as exc:
            box["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    assert fake_ollama.stream_started.wait(2)
    t0 = time.monotonic()
    cancel.cancel()
    assert fake_ollama.client_closed.wait(2)
    t.join(2)
    assert isinstance(box.get("error"), Cancelled)
    assert fake_ollama.disconnects[0].at - t0 < 0.5


def test_concurrent_asks(fake_ollama: FakeOllama) -> None:
    fake_ollama.delay = 0.005
    client, settings = setup(fake_ollama)
    results: dict[int, Any] = {}
    start = threading.Barrier(8)

    def ask(i: int) -> None:
        hits = [Hit(f"/docs/{i}.txt", i, 1.0, f"Answer number {i} is {i * 7}. More text.")]
        start.wait()
        try:
            results[i] = answer(f"What is number {i}?", Retriever(hits), client, settings)
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    for i in range(8):
        a = results[i]
        assert a.text == f"According to the documents, Answer number {i} is {i * 7} [1]."
        assert a.sources[0].path == f"/docs/{i}.txt" and a.sources[0].page == i


def test_an_answer_cut_off_by_the_length_limit_says_so(fake_ollama: FakeOllama) -> None:
    """Ollama ends a stream with done_reason "length" when num_predict runs out: the answer
    stopped mid-word ("the best crè") and looked complete."""
    fake_ollama.models["llama3.2:latest"] = FakeModel(context_length=512)  # 128 tokens kept for the answer
    fake_ollama.responder = lambda msgs: "The deposit is two months of rent [1]. " * 60
    fake_ollama.words_per_chunk = 1  # a streamed piece is a token
    client, settings = setup(fake_ollama)
    a = answer("How much is the deposit?", Retriever(), client, settings)
    assert a.mode == "answer" and len(a.text.split()) == 128
    assert "The answer was cut off at the 128 tokens kept for it" in a.note
    fake_ollama.responder = lambda msgs: "Two months of rent [1]."
    assert "cut off" not in answer("How much is the deposit?", Retriever(), client, settings).note


def test_a_citation_of_a_passage_that_was_not_given_is_pointed_out(fake_ollama: FakeOllama) -> None:
    """"[9]" with three passages given stayed in the answer, with no source and no word about it."""
    fake_ollama.responder = lambda msgs: "Two months of rent [1], as clause 9 says [9]."
    client, settings = setup(fake_ollama)
    a = answer("How much is the deposit?", Retriever(), client, settings, k=3)
    assert len(a.retrieved) == 3 and [s.n for s in a.sources] == [1]
    assert "The answer cites [9], which is not among the 3 passages it was given." in a.note
