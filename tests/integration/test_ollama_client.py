"""OllamaClient against the fake Ollama server over real HTTP on 127.0.0.1."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from app.core.config import OllamaSettings
from app.core.errors import (
    Cancelled,
    OllamaModelMissing,
    OllamaServerError,
    OllamaStreamBroken,
    OllamaTimeout,
    OllamaUnreachable,
)
from app.core.ollama import DEFAULT_CONTEXT, OllamaClient, PullProgress, model_key
from app.core.types import CancelToken
from tests.fake_ollama import FakeModel, FakeOllama, fake_ollama_fixture  # noqa: F401

PROMPT = [{"role": "system", "content": "Answer from the passages."},
          {"role": "user", "content": "Passages:\n\n[1] lease.pdf, page 7\nThe tenant must give sixty days' "
                                      "written notice. Notice goes by post.\n\nQuestion: How much notice?"}]
EXPECTED = "According to the documents, The tenant must give sixty days' written notice [1]."


def client_for(fake: FakeOllama, timeout_s: float = 5.0, **kw: str) -> OllamaClient:
    return OllamaClient(OllamaSettings(url=fake.url, timeout_s=timeout_s, **kw))


def run_in_thread(fn: Callable[[], object]) -> tuple[threading.Thread, dict[str, object]]:
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, box


# --- server and models --------------------------------------------------------------------------


def test_health_up(fake_ollama: FakeOllama) -> None:
    status = client_for(fake_ollama).health()
    assert status.reachable and status.ok
    assert status.version == "0.12.6"
    assert "llama3.2:latest" in status.models
    assert status.url == fake_ollama.url


def test_health_says_when_the_chat_model_is_missing(fake_ollama: FakeOllama) -> None:
    fake_ollama.remove_model("llama3.2")
    status = client_for(fake_ollama).health()
    assert status.reachable and not status.ok
    assert "llama3.2 is not on the Ollama server" in status.error
    assert status.action == "Pull it: quire models pull llama3.2"


def test_health_down_never_raises(fake_ollama: FakeOllama) -> None:
    client = client_for(fake_ollama)
    assert client.health().ok  # a kept-alive connection must not hide the stop below
    fake_ollama.stop()
    status = client.health()
    assert not status.reachable
    assert status.error == f"Ollama is not running at {fake_ollama.url}."
    assert "ollama serve" in status.action and "[ollama] url" in status.action


def test_health_of_a_hung_server_is_a_timeout(fake_ollama: FakeOllama) -> None:
    fake_ollama.hang = True
    t0 = time.monotonic()
    status = client_for(fake_ollama, timeout_s=0.3).health()
    assert time.monotonic() - t0 < 1.5
    assert not status.reachable and "did not answer within 0.3 s" in status.error


def test_list_and_has_model(fake_ollama: FakeOllama) -> None:
    client = client_for(fake_ollama)
    models = client.list_models()
    assert [m.name for m in models] == ["llama3.2:latest", "nomic-embed-text:latest"]
    assert models[0].size == 2_019_393_189 and models[0].parameter_size == "3.2B"
    assert client.has_model("llama3.2") and client.has_model("llama3.2:latest")
    assert not client.has_model("mistral")
    assert model_key("hf.co/org/repo") == "hf.co/org/repo:latest"
    assert model_key("host:5000/x:q4") == "host:5000/x:q4"


def test_version(fake_ollama: FakeOllama) -> None:
    assert client_for(fake_ollama).version() == "0.12.6"


def test_context_length_from_show(fake_ollama: FakeOllama) -> None:
    client = client_for(fake_ollama)
    ctx = client.context_length("llama3.2")
    assert ctx.tokens == 131072 and ctx.reported and not ctx.note
    assert fake_ollama.bodies("/api/show") == [{"model": "llama3.2"}]
    client.context_length("llama3.2:latest")  # cached: no second request
    assert len(fake_ollama.bodies("/api/show")) == 1


def test_context_length_falls_back_and_says_so(fake_ollama: FakeOllama) -> None:
    fake_ollama.models["tiny:latest"] = FakeModel(context_length=None)
    ctx = client_for(fake_ollama).context_length("tiny")
    assert ctx.tokens == DEFAULT_CONTEXT == 2048 and not ctx.reported
    assert "did not report the context length of tiny" in ctx.note


def test_context_length_of_a_missing_model(fake_ollama: FakeOllama) -> None:
    with pytest.raises(OllamaModelMissing) as err:
        client_for(fake_ollama).context_length("mistral")
    assert err.value.message == f"Model mistral is not on the Ollama server at {fake_ollama.url}."
    assert err.value.action == "Pull it: quire models pull mistral"


# --- pull -----------------------------------------------------------------------------------------


def test_pull_reports_progress_and_adds_the_model(fake_ollama: FakeOllama) -> None:
    client = client_for(fake_ollama)
    seen: list[PullProgress] = []
    client.pull("qwen2.5:0.5b", seen.append)
    assert fake_ollama.bodies("/api/pull") == [{"model": "qwen2.5:0.5b", "insecure": False, "stream": True}]
    assert seen[0].status == "pulling manifest" and seen[-1].status == "success"
    fractions = [p.fraction for p in seen if p.fraction is not None]
    assert fractions == sorted(fractions) and fractions[0] == 0 and fractions[-1] == 1
    assert all(p.digest.startswith("sha256:") and p.total == 4_000_000 for p in seen if p.total)
    assert client.has_model("qwen2.5:0.5b")


def test_pull_of_an_unknown_name(fake_ollama: FakeOllama) -> None:
    fake_ollama.unknown_to_registry.add("nosuchmodel")
    with pytest.raises(OllamaModelMissing) as err:
        client_for(fake_ollama).pull("nosuchmodel")
    assert "cannot find a model named nosuchmodel" in err.value.message
    assert "ollama.com/library" in (err.value.action or "")


def test_pull_from_a_server_without_the_pull_request_is_not_an_unknown_model(fake_ollama: FakeOllama) -> None:
    # It said "Ollama cannot find a model named llama3.2 to pull", and sent the user to check the name.
    fake_ollama.fail["/api/pull"] = (404, "404 page not found")
    with pytest.raises(OllamaServerError) as err:
        client_for(fake_ollama).pull("llama3.2")
    assert err.value.message == f"Ollama at {fake_ollama.url} does not offer this request (404 page not found)."


def test_pull_cut_off_is_a_broken_stream(fake_ollama: FakeOllama) -> None:
    fake_ollama.drop_after = 2
    with pytest.raises(OllamaStreamBroken) as err:
        client_for(fake_ollama).pull("qwen2.5:0.5b")
    assert err.value.message == "The download of qwen2.5:0.5b stopped halfway."
    assert err.value.action == "Retry: quire models pull qwen2.5:0.5b"


def test_pull_cancel_closes_the_stream(fake_ollama: FakeOllama) -> None:
    fake_ollama.delay = 0.2
    cancel = CancelToken()
    first = threading.Event()
    client = client_for(fake_ollama)
    t, box = run_in_thread(lambda: client.pull("big", lambda p: first.set(), cancel))
    assert first.wait(2)
    t0 = time.monotonic()
    cancel.cancel()
    assert fake_ollama.client_closed.wait(2)
    t.join(2)
    assert isinstance(box.get("error"), Cancelled)
    assert fake_ollama.disconnects[0].at - t0 < 0.5
    assert not client.has_model("big")


# --- embeddings --------------------------------------------------------------------------------------


def test_embed_in_batches_deterministically(fake_ollama: FakeOllama) -> None:
    fake_ollama.embed_dim = 24
    client = client_for(fake_ollama)
    texts = ["sixty days notice", "deposit of two months", "sixty days notice", "a", "b"]
    vectors = client.embed(texts, batch_size=2)
    assert len(vectors) == 5 and all(len(v) == 24 for v in vectors)
    assert vectors[0] == vectors[2] and vectors[0] != vectors[1]
    bodies = fake_ollama.bodies("/api/embed")
    assert [b["input"] for b in bodies] == [texts[0:2], texts[2:4], texts[4:5]]
    assert all(b["model"] == "nomic-embed-text" for b in bodies)


def test_embed_with_a_missing_model(fake_ollama: FakeOllama) -> None:
    with pytest.raises(OllamaModelMissing) as err:
        client_for(fake_ollama, embed_model="mxbai-embed-large").embed(["x"])
    assert err.value.action == "Pull it: quire models pull mxbai-embed-large"


# --- chat -----------------------------------------------------------------------------------------------


def test_chat_streams_tokens(fake_ollama: FakeOllama) -> None:
    tokens: list[str] = []
    reply = client_for(fake_ollama).chat_stream(PROMPT, on_token=tokens.append,
                                                options={"num_ctx": 4096, "num_predict": 256})
    text = reply.text
    assert text == EXPECTED and reply.done_reason == "stop" and not reply.cut_short
    assert len(tokens) > 3 and "".join(tokens) == text
    (body,) = fake_ollama.bodies("/api/chat")
    assert body["model"] == "llama3.2" and body["stream"] is True
    assert body["messages"] == PROMPT
    assert body["options"] == {"num_ctx": 4096, "num_predict": 256}


def test_cancel_closes_the_stream_promptly(fake_ollama: FakeOllama) -> None:
    fake_ollama.delay = 0.3  # per chunk: the client sits in a blocked read when the cancel comes
    cancel = CancelToken()
    tokens: list[str] = []
    client = client_for(fake_ollama)
    t, box = run_in_thread(lambda: client.chat_stream(PROMPT, on_token=tokens.append, cancel=cancel))
    assert fake_ollama.stream_started.wait(2)
    t0 = time.monotonic()
    cancel.cancel()
    assert fake_ollama.client_closed.wait(2), "the server never saw the connection close"
    (gone,) = fake_ollama.disconnects
    assert gone.path == "/api/chat" and gone.at - t0 < 0.5
    t.join(2)
    assert isinstance(box.get("error"), Cancelled)
    assert len(tokens) < 4


def test_cancel_closes_a_silent_stream(fake_ollama: FakeOllama) -> None:
    """The server accepted the request and says nothing (a model loading): cancel must not wait for it."""
    fake_ollama.hang = True
    cancel = CancelToken()
    client = client_for(fake_ollama, timeout_s=30)
    t, box = run_in_thread(lambda: client.chat_stream(PROMPT, cancel=cancel))
    assert fake_ollama.received.wait(2)  # the request is in; the server now says nothing
    t0 = time.monotonic()
    cancel.cancel()
    assert fake_ollama.client_closed.wait(2)
    assert fake_ollama.disconnects[0].at - t0 < 0.5
    t.join(2)
    assert not t.is_alive() and isinstance(box.get("error"), Cancelled)


def test_cancel_before_start(fake_ollama: FakeOllama) -> None:
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        client_for(fake_ollama).chat_stream(PROMPT, cancel=cancel)
    assert not fake_ollama.bodies("/api/chat")


def test_unreachable(fake_ollama: FakeOllama) -> None:
    client = client_for(fake_ollama)
    fake_ollama.stop()
    start = "Start it with `ollama serve` (or open the Ollama app), or set [ollama] url."
    for call in (lambda: client.chat_stream(PROMPT), client.list_models, lambda: client.embed(["x"]),
                 lambda: client.pull("x")):
        with pytest.raises(OllamaUnreachable) as err:
            call()
        assert err.value.message == f"Ollama is not running at {fake_ollama.url}."
        assert err.value.action == start


def test_model_missing(fake_ollama: FakeOllama) -> None:
    with pytest.raises(OllamaModelMissing) as err:
        client_for(fake_ollama).chat_stream(PROMPT, model="mistral")
    assert err.value.action == "Pull it: quire models pull mistral"


def test_server_error(fake_ollama: FakeOllama) -> None:
    fake_ollama.fail["/api/chat"] = (500, "llama runner process has terminated: exit status 2")
    with pytest.raises(OllamaServerError) as err:
        client_for(fake_ollama).chat_stream(PROMPT)
    assert "llama runner process has terminated" in err.value.message and "HTTP 500" in err.value.message
    assert err.value.action and "Retry" in err.value.action


def test_hang_is_a_timeout(fake_ollama: FakeOllama) -> None:
    fake_ollama.hang = True
    t0 = time.monotonic()
    with pytest.raises(OllamaTimeout) as err:
        client_for(fake_ollama, timeout_s=0.3).chat_stream(PROMPT)
    assert 0.25 < time.monotonic() - t0 < 1.5
    assert err.value.message == f"Ollama at {fake_ollama.url} did not answer within 0.3 s."
    assert "timeout_s" in (err.value.action or "")


def test_stall_between_tokens_is_a_timeout(fake_ollama: FakeOllama) -> None:
    fake_ollama.hang_after = 2
    tokens: list[str] = []
    with pytest.raises(OllamaTimeout) as err:
        client_for(fake_ollama, timeout_s=0.3).chat_stream(PROMPT, on_token=tokens.append)
    assert len(tokens) == 2
    assert "stopped sending the answer for more than 0.3 s" in err.value.message


def test_dropped_connection_is_a_broken_stream(fake_ollama: FakeOllama) -> None:
    fake_ollama.drop_after = 2
    with pytest.raises(OllamaStreamBroken) as err:
        client_for(fake_ollama).chat_stream(PROMPT)
    assert err.value.message.startswith("The answer stopped halfway")
    assert err.value.action == "Retry."


def test_stream_without_done_is_broken(fake_ollama: FakeOllama) -> None:
    fake_ollama.no_done = True
    with pytest.raises(OllamaStreamBroken):
        client_for(fake_ollama).chat_stream(PROMPT)


def test_concurrent_streams(fake_ollama: FakeOllama) -> None:
    fake_ollama.delay = 0.01
    client = client_for(fake_ollama)
    threads = [run_in_thread(lambda: client.chat_stream(PROMPT, cancel=CancelToken())) for _ in range(8)]
    for t, _ in threads:
        t.join(5)
    assert [box["result"].text for _, box in threads] == [EXPECTED] * 8


def test_llama_index_llm_shares_the_server(fake_ollama: FakeOllama) -> None:
    from llama_index.core.llms import ChatMessage

    client = client_for(fake_ollama)
    llm = client.llm()
    assert llm.metadata.context_window == 8192  # capped: 131072 would make Ollama allocate it all
    with client.mapped_errors():
        reply = llm.chat([ChatMessage(role=m["role"], content=m["content"]) for m in PROMPT])
    assert reply.message.content == EXPECTED
    body = fake_ollama.bodies("/api/chat")[-1]
    assert body["stream"] is False and body["options"]["num_ctx"] == 8192
    fake_ollama.stop()
    with pytest.raises(OllamaUnreachable), client.mapped_errors():
        llm.chat([ChatMessage(role="user", content="hi")])
