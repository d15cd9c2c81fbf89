"""A small, real HTTP server that speaks Ollama's API, for tests and benchmarks.

It listens on 127.0.0.1 (a free port), answers deterministically, and can be told per test
to misbehave the ways a real server does: be slow, hang before or during an answer, drop
the connection halfway, fail with 5xx, lack a model, or not run at all. It records every
request and notices when a client closes a streaming connection early, so a test can
assert that Cancel really closed the HTTP stream, and how fast.

Response shapes follow Ollama's documented API and what the `ollama` 0.6.3 client and
`llama-index-llms-ollama` 0.11 parse (see ollama/_types.py: ChatResponse, GenerateResponse,
ListResponse, ShowResponse with ``model_info``, ProgressResponse, EmbedResponse).

Use it as a context manager, or as the ``fake_ollama`` pytest fixture:

    from tests.fake_ollama import fake_ollama_fixture  # noqa: F401

    def test_x(fake_ollama): ...
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

VERSION = "0.12.6"
NO_PASSAGE_REPLY = "The documents do not contain the answer."


@dataclass
class FakeModel:
    family: str = "llama"
    kind: str = "llm"  # "llm" or "embed"
    context_length: int | None = 131072  # None: /api/show reports none
    size: int = 2_019_393_189
    parameter_size: str = "3.2B"
    quantization: str = "Q4_K_M"


def default_models() -> dict[str, FakeModel]:
    return {
        "llama3.2:latest": FakeModel(),
        "nomic-embed-text:latest": FakeModel(family="nomic-bert", kind="embed", context_length=2048,
                                             size=274_302_450, parameter_size="137M", quantization="F16"),
    }


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: Any  # parsed JSON, or None for GET
    at: float  # time.monotonic()


@dataclass(frozen=True)
class Disconnect:
    """A client closed a streaming response before the server finished it."""

    path: str
    at: float  # time.monotonic() when the server noticed
    chunks_sent: int


@dataclass
class _Stats:
    requests: list[Request] = field(default_factory=list)
    disconnects: list[Disconnect] = field(default_factory=list)


def _full_name(name: str) -> str:
    return name if ":" in name else f"{name}:latest"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


def first_passage(text: str) -> tuple[int, str] | None:
    """The number and first sentence of the first ``[n] header`` + body block in a prompt."""
    m = re.search(r"^\[(\d+)\][^\n]*\n(.+?)(?:\n\s*\n|\Z)", text, re.M | re.S)
    if not m:
        return None
    body = " ".join(m.group(2).split())
    sentence = re.split(r"(?<=[.!?])\s+", body, maxsplit=1)[0].rstrip(".!?")
    return int(m.group(1)), sentence


def default_reply(messages: list[dict[str, Any]]) -> str:
    """Quote the first passage of the prompt with its citation, as a grounded model would."""
    for msg in reversed(messages):
        if msg.get("role") == "user":
            found = first_passage(msg.get("content") or "")
            if found:
                n, sentence = found
                return f"According to the documents, {sentence} [{n}]."
    return NO_PASSAGE_REPLY


def hash_vector(text: str, dim: int) -> list[float]:
    """Feature hashing of lower-cased words: equal texts get equal vectors, shared words raise cosine."""
    v = [0.0] * dim
    for word in re.findall(r"\w+", text.lower()) or [""]:
        h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
        v[h % dim] += 1.0 if (h >> 32) & 1 else -1.0
    norm = math.sqrt(sum(x * x for x in v)) or 1.0
    return [x / norm for x in v]


class FakeOllama:
    """The server and its knobs. Every knob can be changed while the server runs."""

    def __init__(self) -> None:
        self.models: dict[str, FakeModel] = default_models()
        self.responder: Callable[[list[dict[str, Any]]], str] = default_reply
        self.words_per_chunk = 3
        self.delay = 0.0  # seconds before each streamed chunk (also pull steps)
        self.hang = False  # accept the request, never send a byte
        self.hang_after: int | None = None  # stream N chunks, then go silent (connection stays open)
        self.drop_after: int | None = None  # stream N chunks, then close the socket without finishing
        self.no_done = False  # finish the HTTP stream cleanly but never send "done": true
        self.fail: dict[str, tuple[int, str]] = {}  # path -> (status, error message)
        self.embed_dim = 16
        self.pull_steps = 4
        self.pull_size = 4_000_000
        self.unknown_to_registry: set[str] = set()  # names /api/pull cannot find
        self.received = threading.Event()  # set when any request has been read (its body recorded)
        self.stream_started = threading.Event()  # set when the first chunk of any stream is sent
        self.client_closed = threading.Event()  # set when a client drops a stream early
        self._stats = _Stats()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._loaded: set[str] = set()
        self._conns: set[socket.socket] = set()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeOllama:
        server = self

        class Handler(_Handler):
            fake = server

        self._stopping.clear()
        httpd = _Server(("127.0.0.1", self.port), Handler)
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-ollama", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: from now on a client gets "connection refused" at this URL."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        with self._lock:  # keep-alive connections would otherwise go on being served
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what happened ----------------------------------------------------------------------

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._stats.requests)

    @property
    def disconnects(self) -> list[Disconnect]:
        with self._lock:
            return list(self._stats.disconnects)

    def bodies(self, path: str) -> list[Any]:
        return [r.body for r in self.requests if r.path == path]

    def remove_model(self, name: str) -> None:
        self.models.pop(_full_name(name), None)

    def _record(self, req: Request) -> None:
        with self._lock:
            self._stats.requests.append(req)
        self.received.set()

    def _record_disconnect(self, path: str, chunks: int) -> None:
        with self._lock:
            self._stats.disconnects.append(Disconnect(path, time.monotonic(), chunks))
        self.client_closed.set()


class _ClientGone(Exception):
    pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops SYNs under concurrent tests: a 1 s retransmit each

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that resets its connection is normal here (cancel tests do it on purpose)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOllama
    protocol_version = "HTTP/1.1"
    server_version = "fake-ollama"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle + delayed ACK add 40 ms a request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.fake._lock:
            self.fake._conns.add(self.connection)

    def finish(self) -> None:
        with self.fake._lock:
            self.fake._conns.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    # --- plumbing -------------------------------------------------------------------------------

    def _send_json(self, obj: Any, status: int = 200) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        self._send_json({"error": message}, status)

    def _idle(self, seconds: float) -> None:
        """Wait while watching the socket: raise _ClientGone as soon as the client closes it."""
        deadline = time.monotonic() + seconds
        while True:
            if self.fake._stopping.is_set():
                raise _ClientGone
            left = deadline - time.monotonic()
            if left <= 0:
                return
            ready, _, _ = select.select([self.connection], [], [], min(max(left, 0), 0.01))
            if ready:
                try:
                    peek = self.connection.recv(1, socket.MSG_PEEK)
                except OSError:
                    peek = b""
                if not peek:
                    raise _ClientGone

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def _chunk(self, obj: Any) -> None:
        data = (json.dumps(obj) + "\n").encode()
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        except OSError:
            raise _ClientGone from None

    def _end_stream(self) -> None:
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            raise _ClientGone from None

    def _drop(self) -> None:
        """Close the TCP connection abruptly, as a crashed server would."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _stream(self, parts: list[dict[str, Any]], final: dict[str, Any],
                before_final: Callable[[], None] | None = None) -> None:
        """Send parts as NDJSON chunks, misbehaving as configured, then the final object."""
        fake = self.fake
        sent = 0
        try:
            if fake.delay:
                self._idle(fake.delay)
            self._start_stream()
            for part in parts:
                if fake.hang_after is not None and sent >= fake.hang_after:
                    self._idle(math.inf)
                if fake.drop_after is not None and sent >= fake.drop_after:
                    return self._drop()
                if sent and fake.delay:
                    self._idle(fake.delay)
                self._chunk(part)
                sent += 1
                fake.stream_started.set()
            if fake.hang_after is not None:
                self._idle(math.inf)
            if fake.drop_after is not None:
                return self._drop()
            if not fake.no_done:
                if before_final is not None:
                    before_final()
                self._chunk(final)
            self._end_stream()
        except _ClientGone:
            self.close_connection = True
            if not fake._stopping.is_set():
                fake._record_disconnect(self.path, sent)

    def _model(self, body: dict[str, Any], kind: str | None = None) -> str | None:
        name = body.get("model") or body.get("name")
        if not name:
            self._error(400, "model is required")
            return None
        full = _full_name(name)
        spec = self.fake.models.get(full)
        if spec is None:
            self._error(404, f'model "{name}" not found, try pulling it first')
            return None
        if kind and spec.kind != kind:
            self._error(400, f'"{name}" does not support {"chat" if kind == "llm" else "embeddings"}')
            return None
        return full

    def _details(self, spec: FakeModel) -> dict[str, Any]:
        return {"parent_model": "", "format": "gguf", "family": spec.family, "families": [spec.family],
                "parameter_size": spec.parameter_size, "quantization_level": spec.quantization}

    # --- routes ----------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self.fake._record(Request("GET", self.path, None, time.monotonic()))
        if self.path in self.fake.fail:
            return self._error(*self.fake.fail[self.path])
        if self.fake.hang:
            try:
                return self._idle(math.inf)
            except _ClientGone:
                self.close_connection = True
                if not self.fake._stopping.is_set():
                    self.fake._record_disconnect(self.path, 0)
                return None
        if self.path == "/":
            data = b"Ollama is running"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif self.path == "/api/version":
            self._send_json({"version": VERSION})
        elif self.path == "/api/tags":
            self._send_json({"models": [
                {"name": n, "model": n, "modified_at": _now(), "size": s.size,
                 "digest": hashlib.sha256(n.encode()).hexdigest(), "details": self._details(s)}
                for n, s in sorted(self.fake.models.items())]})
        elif self.path == "/api/ps":
            self._send_json({"models": [
                {"name": n, "model": n, "size": s.size, "digest": hashlib.sha256(n.encode()).hexdigest(),
                 "details": self._details(s), "expires_at": "2999-01-01T00:00:00Z", "size_vram": 0,
                 "context_length": s.context_length or 2048}
                for n, s in self.fake.models.items() if n in self.fake._loaded]})
        else:
            self._error(404, "404 page not found")

    def do_POST(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError as exc:
            return self._error(400, f"invalid character in request body: {exc}")
        self.fake._record(Request("POST", self.path, body, time.monotonic()))
        if self.path in self.fake.fail:
            return self._error(*self.fake.fail[self.path])
        if self.fake.hang:
            try:
                return self._idle(math.inf)
            except _ClientGone:
                self.close_connection = True
                if not self.fake._stopping.is_set():
                    self.fake._record_disconnect(self.path, 0)
                return None
        route = {"/api/show": self._show, "/api/chat": self._chat, "/api/generate": self._generate,
                 "/api/embed": self._embed, "/api/pull": self._pull}.get(self.path)
        if route is None:
            return self._error(404, "404 page not found")
        try:
            route(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _show(self, body: dict[str, Any]) -> None:
        name = self._model(body)
        if not name:
            return
        spec = self.fake.models[name]
        info: dict[str, Any] = {"general.architecture": spec.family, "general.parameter_count": 3_212_749_888}
        if spec.context_length is not None:
            info[f"{spec.family}.context_length"] = spec.context_length
        if spec.kind == "embed":
            info[f"{spec.family}.embedding_length"] = self.fake.embed_dim
        self._send_json({"license": "", "modelfile": f"FROM {name}\n", "parameters": "", "template": "",
                         "details": self._details(spec), "model_info": info, "modified_at": _now(),
                         "capabilities": ["embedding"] if spec.kind == "embed" else ["completion"]})

    def _words(self, text: str) -> list[str]:
        words = re.findall(r"\S+\s*", text)
        k = max(1, self.fake.words_per_chunk)
        return ["".join(words[i:i + k]) for i in range(0, len(words), k)]

    def _final_stats(self, t0: float, body: dict[str, Any], n_out: int) -> dict[str, Any]:
        prompt = json.dumps(body.get("messages") or body.get("prompt") or "")
        ns = int((time.monotonic() - t0) * 1e9)
        return {"done": True, "done_reason": "stop", "total_duration": ns, "load_duration": 0,
                "prompt_eval_count": len(prompt) // 4, "prompt_eval_duration": ns // 2,
                "eval_count": n_out, "eval_duration": ns // 2}

    def _chat(self, body: dict[str, Any]) -> None:
        name = self._model(body, "llm")
        if not name:
            return
        self.fake._loaded.add(name)
        t0 = time.monotonic()
        messages = body.get("messages") or []
        if not messages:  # Ollama: an empty chat just loads the model
            return self._send_json({"model": body["model"], "created_at": _now(), "done": True,
                                    "done_reason": "load", "message": {"role": "assistant", "content": ""}})
        text = self.fake.responder(messages)
        pieces = self._words(text)
        # As Ollama: the answer stops after num_predict tokens (a piece counts as one here).
        limit = int((body.get("options") or {}).get("num_predict") or 0)
        cut = 0 < limit < len(pieces)
        if cut:
            pieces = pieces[:limit]
            text = "".join(pieces)
        base = {"model": body["model"]}
        stats = {**self._final_stats(t0, body, len(pieces)), **({"done_reason": "length"} if cut else {})}
        if body.get("stream", True) is False:
            return self._send_json({**base, "created_at": _now(),
                                    "message": {"role": "assistant", "content": text}, **stats})
        parts = [{**base, "created_at": _now(), "message": {"role": "assistant", "content": p}, "done": False}
                 for p in pieces]
        final = {**base, "created_at": _now(), "message": {"role": "assistant", "content": ""}, **stats}
        self._stream(parts, final)

    def _generate(self, body: dict[str, Any]) -> None:
        name = self._model(body, "llm")
        if not name:
            return
        self.fake._loaded.add(name)
        t0 = time.monotonic()
        if not body.get("prompt"):
            return self._send_json({"model": body["model"], "created_at": _now(), "response": "",
                                    "done": True, "done_reason": "load"})
        text = self.fake.responder([{"role": "user", "content": body["prompt"]}])
        pieces = self._words(text)
        base = {"model": body["model"]}
        if body.get("stream", True) is False:
            return self._send_json({**base, "created_at": _now(), "response": text, "context": [],
                                    **self._final_stats(t0, body, len(pieces))})
        parts = [{**base, "created_at": _now(), "response": p, "done": False} for p in pieces]
        final = {**base, "created_at": _now(), "response": "", "context": [],
                 **self._final_stats(t0, body, len(pieces))}
        self._stream(parts, final)

    def _embed(self, body: dict[str, Any]) -> None:
        name = self._model(body, "embed")
        if not name:
            return
        self.fake._loaded.add(name)
        inp = body.get("input", "")
        texts = [inp] if isinstance(inp, str) else list(inp)
        dim = int(body.get("dimensions") or self.fake.embed_dim)
        self._send_json({"model": body["model"], "embeddings": [hash_vector(t, dim) for t in texts],
                         "total_duration": 1000, "load_duration": 0,
                         "prompt_eval_count": sum(len(t.split()) for t in texts)})

    def _pull(self, body: dict[str, Any]) -> None:
        name = body.get("model") or body.get("name") or ""
        fake = self.fake
        full = _full_name(name)
        digest = "sha256:" + hashlib.sha256(full.encode()).hexdigest()
        if name in fake.unknown_to_registry or full in fake.unknown_to_registry:
            error = {"error": "pull model manifest: file does not exist"}
            if body.get("stream", True) is False:
                return self._send_json(error, 500)
            return self._stream([{"status": "pulling manifest"}], error)
        total = fake.pull_size
        steps = max(1, fake.pull_steps)
        parts: list[dict[str, Any]] = [{"status": "pulling manifest"}]
        parts += [{"status": f"pulling {digest[7:19]}", "digest": digest, "total": total,
                   "completed": total * i // steps} for i in range(steps + 1)]
        parts += [{"status": "verifying sha256 digest"}, {"status": "writing manifest"}]
        def install() -> None:  # before "success" goes out, so a following /api/tags lists it
            fake.models.setdefault(full, FakeModel())

        if body.get("stream", True) is False:
            install()
            return self._send_json({"status": "success"})
        self._stream(parts, {"status": "success"}, install)


@pytest.fixture(name="fake_ollama")
def fake_ollama_fixture() -> Iterator[FakeOllama]:
    """A running fake Ollama server; stopped (and its hung streams released) after the test."""
    with FakeOllama() as server:
        yield server


# Importing either name into a test module makes the ``fake_ollama`` fixture available there;
# importing ``fake_ollama_fixture`` keeps linters from seeing the test argument as a redefinition.
fake_ollama = fake_ollama_fixture
