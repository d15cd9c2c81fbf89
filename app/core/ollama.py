"""Quire's only door to the Ollama server: health, models, pull, embeddings, streamed chat.

Everything goes through the official ``ollama`` client (and, for LlamaIndex components,
``llama_index.llms.ollama.Ollama`` sharing the same client). Every failure comes out as one
of the typed errors in ``errors.py`` with a one-line message and the action that fixes it;
nothing here raises an httpx or ollama exception to its caller.

Cancellation of a stream (a chat or a pull) is real: the request runs in the calling thread,
and a watcher thread shuts the request's socket down the moment the cancel token fires, so
the blocked read returns at once and the server sees the connection close, even when it is
silent (a model still loading, a hung server). Streaming requests therefore use their own
connection (no keep-alive), whose socket is captured through httpcore's ``trace`` hook.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import ollama
import pydantic

from .config import OllamaSettings
from .errors import (
    Cancelled,
    OllamaModelMissing,
    OllamaServerError,
    OllamaStreamBroken,
    OllamaTimeout,
    OllamaUnreachable,
    QuireError,
)
from .types import CancelToken

if TYPE_CHECKING:
    from llama_index.llms.ollama import Ollama as LlamaIndexOllama

log = logging.getLogger(__name__)

DEFAULT_CONTEXT = 2048  # what Quire assumes when /api/show reports no context length
MAX_CONTEXT = 8192  # the largest window Quire asks for (num_ctx); bigger costs memory, rarely helps
PROBE_TIMEOUT_S = 5.0  # health checks must not hang the status bar for the full timeout
EMBED_BATCH = 64

Message = Mapping[str, Any]  # {"role": "system" | "user" | "assistant", "content": str}


@dataclass(frozen=True)
class ServerStatus:
    """What the status bar and ``quire doctor`` show. ``error`` is empty when all is well."""

    reachable: bool
    url: str
    version: str = ""
    models: tuple[str, ...] = ()
    error: str = ""
    action: str = ""

    @property
    def ok(self) -> bool:
        return self.reachable and not self.error


@dataclass(frozen=True)
class ModelInfo:
    name: str  # full name with tag, e.g. "llama3.2:latest"
    size: int  # bytes on disk
    family: str = ""
    parameter_size: str = ""
    quantization: str = ""
    modified_at: str = ""  # ISO 8601


@dataclass(frozen=True)
class ChatReply:
    text: str
    done_reason: str = ""  # Ollama's: "stop" (the model ended it), "length" (num_predict ran out)

    @property
    def cut_short(self) -> bool:
        return self.done_reason == "length"


@dataclass(frozen=True)
class ContextLength:
    tokens: int
    reported: bool  # False when Ollama did not say and DEFAULT_CONTEXT is assumed
    note: str = ""


@dataclass(frozen=True)
class PullProgress:
    status: str  # Ollama's words: "pulling manifest", "pulling 1a2b3c…", "verifying sha256 digest", "success"
    digest: str = ""
    total: int = 0
    completed: int = 0

    @property
    def fraction(self) -> float | None:
        return min(1.0, self.completed / self.total) if self.total else None


def model_key(name: str) -> str:
    """Ollama's canonical name: "llama3.2" means "llama3.2:latest" (a tag follows the last slash)."""
    name = name.strip()
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


@dataclass
class _Call:
    """What one request is about, so its failure can be described in the user's terms."""

    model: str
    what: str = "request"  # "answer", "download" or "request"
    streaming: bool = False
    started: bool = False  # at least one streamed part arrived


@dataclass
class _StreamGuard:
    """Ties one streaming request's socket to a cancel token, so a cancel can close it from any thread."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sock: socket.socket | None = None
    _fired: bool = False
    finished: threading.Event = field(default_factory=threading.Event)

    def trace(self, name: str, info: dict[str, Any]) -> None:
        # httpcore reports each new connection here; with TLS the TLS socket comes last and wins.
        if name in ("connection.connect_tcp.complete", "connection.start_tls.complete",
                    "connection.connect_unix_socket.complete"):
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if isinstance(sock, socket.socket):
                with self._lock:
                    self._sock = sock
                    fired = self._fired
                if fired:
                    _shutdown(sock)

    def fire(self) -> None:
        with self._lock:
            if self.finished.is_set():
                return
            self._fired = True
            sock = self._sock
        if sock is not None:
            _shutdown(sock)

    def finish(self) -> None:
        with self._lock:
            self.finished.set()
            self._sock = None


def _shutdown(sock: socket.socket) -> None:
    # shutdown (not close) wakes a read blocked in another thread; the base-class method also
    # works on an SSLSocket without tearing its TLS state down under the reader's feet.
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


def _watch(guard: _StreamGuard, cancel: CancelToken) -> None:
    while not guard.finished.is_set():
        if cancel.wait(0.1):
            guard.fire()
            return


_tls: ssl.SSLContext | None = None
_tls_lock = threading.Lock()


def _tls_context() -> ssl.SSLContext:
    """One TLS context for every client of the process. httpx builds a new one per client by
    default, loading the whole CA bundle each time (~40 ms holding the GIL, three times per
    OllamaClient): enough to make the window stutter when a question starts."""
    global _tls
    with _tls_lock:
        if _tls is None:
            _tls = httpx.create_ssl_context()
        return _tls


_TAG = re.compile(r"<[^>]*>")


def _one_line(msg: str, limit: int = 160) -> str:
    """A server's error text fit for a one-line message: an HTML page's text, cut short."""
    if "<" in msg and ">" in msg:
        msg = _TAG.sub(" ", msg)
    msg = " ".join(msg.split())
    return msg if len(msg) <= limit else msg[:limit - 1].rstrip() + "…"


class OllamaClient:
    """One Ollama server, as configured in ``[ollama]``. Thread-safe; share one per process."""

    def __init__(self, settings: OllamaSettings) -> None:
        self.settings = settings
        self.url = settings.url.rstrip("/")
        timeout = httpx.Timeout(settings.timeout_s)
        tls = _tls_context()
        self._api = ollama.Client(host=self.url, timeout=timeout, verify=tls)
        probe_timeout = httpx.Timeout(min(settings.timeout_s, PROBE_TIMEOUT_S))
        self._probe = ollama.Client(host=self.url, timeout=probe_timeout, verify=tls)
        self._streamer = ollama.Client(
            host=self.url, timeout=timeout, verify=tls,
            limits=httpx.Limits(max_keepalive_connections=0),  # a fresh socket per stream: see _StreamGuard
            event_hooks={"request": [self._on_request]},
        )
        self._local = threading.local()
        self._ctx_cache: dict[str, ContextLength] = {}
        self._ctx_lock = threading.Lock()

    def close(self) -> None:
        for c in (self._api, self._probe, self._streamer):
            c.close()

    def __enter__(self) -> OllamaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- server and models ----------------------------------------------------------------

    def version(self) -> str:
        # The ollama client has no version(); its raw request keeps the same error behaviour.
        with self._errors(_Call("")):
            return str(self._api._request_raw("GET", "/api/version").json().get("version", ""))

    def health(self) -> ServerStatus:
        """Is the server there, which version, which models; never raises."""
        try:
            with self._errors(_Call("")):
                version = str(self._probe._request_raw("GET", "/api/version").json().get("version", ""))
                names = tuple(sorted(m.model or "" for m in self._probe.list().models))
        except QuireError as exc:
            reachable = not isinstance(exc, OllamaUnreachable | OllamaTimeout)
            return ServerStatus(reachable, self.url, error=exc.message, action=exc.action or "")
        except Exception as exc:  # a status poll must never take its caller down
            log.exception("Ollama health check failed")
            return ServerStatus(False, self.url, error=f"Checking Ollama at {self.url} failed: {exc}.",
                                action="Check [ollama] url.")
        status = ServerStatus(True, self.url, version=version, models=names)
        chat = self.settings.chat_model
        if model_key(chat) not in {model_key(n) for n in names}:
            missing = self._missing(chat)
            return ServerStatus(True, self.url, version, names, missing.message, missing.action or "")
        return status

    def list_models(self) -> tuple[ModelInfo, ...]:
        with self._errors(_Call("")):
            models = self._api.list().models
        out = []
        for m in models:
            d = m.details
            out.append(ModelInfo(
                name=m.model or "", size=int(m.size or 0),
                family=(d.family or "") if d else "", parameter_size=(d.parameter_size or "") if d else "",
                quantization=(d.quantization_level or "") if d else "",
                modified_at=m.modified_at.isoformat() if m.modified_at else ""))
        return tuple(sorted(out, key=lambda x: x.name))

    def has_model(self, name: str) -> bool:
        key = model_key(name)
        return any(model_key(m.name) == key for m in self.list_models())

    def context_length(self, model: str | None = None, cancel: CancelToken | None = None) -> ContextLength:
        """The model's context length from /api/show ``model_info["<arch>.context_length"]``.
        ``cancel`` closes the request's socket (a cold model can take a minute to answer)."""
        model = model or self.settings.chat_model
        with self._ctx_lock:
            cached = self._ctx_cache.get(model_key(model))
        if cached is not None:
            return cached
        with self._errors(_Call(model), cancel), self._guarded(cancel):
            info = (self._streamer if cancel is not None else self._api).show(model).modelinfo or {}
        tokens = next((v for k, v in info.items()
                       if k.endswith(".context_length") and isinstance(v, int)), None)
        if tokens and tokens > 0:
            result = ContextLength(int(tokens), True)
        else:
            note = f"Ollama did not report the context length of {model}; assuming {DEFAULT_CONTEXT} tokens."
            log.warning(note)
            result = ContextLength(DEFAULT_CONTEXT, False, note)
        with self._ctx_lock:
            self._ctx_cache[model_key(model)] = result
        return result

    def pull(self, name: str, progress: Callable[[PullProgress], None] | None = None,
             cancel: CancelToken | None = None) -> None:
        """Download a model onto the server, reporting Ollama's progress lines as they come."""
        call = _Call(name, what="download", streaming=True)
        succeeded = False
        with self._errors(call, cancel), self._guarded(cancel):
            stream = self._streamer.pull(name, stream=True)
            try:
                for part in stream:
                    call.started = True
                    if cancel is not None and cancel.cancelled:
                        raise Cancelled()
                    p = PullProgress(part.status or "", part.digest or "", int(part.total or 0),
                                     int(part.completed or 0))
                    if progress is not None:
                        progress(p)
                    if p.status == "success":
                        succeeded = True
                        break
            finally:
                stream.close()
        if not succeeded:
            raise self._broken(call)
        with self._ctx_lock:
            self._ctx_cache.pop(model_key(name), None)

    def embed(self, texts: Sequence[str], model: str | None = None,
              batch_size: int = EMBED_BATCH) -> list[list[float]]:
        """Vectors for ``texts`` from an Ollama embedding model, in order, in batches."""
        model = model or self.settings.embed_model
        out: list[list[float]] = []
        for i in range(0, len(texts), batch_size):
            batch = list(texts[i:i + batch_size])
            with self._errors(_Call(model)):
                vectors = self._api.embed(model=model, input=batch).embeddings
            if len(vectors) != len(batch):
                raise OllamaServerError(
                    f"Ollama at {self.url} returned {len(vectors)} vectors for {len(batch)} texts.",
                    "Retry; if it keeps happening, check the Ollama server's log.")
            out.extend([float(x) for x in v] for v in vectors)
        return out

    # --- chat -----------------------------------------------------------------------------

    def chat_stream(self, messages: Sequence[Message], model: str | None = None,
                    on_token: Callable[[str], None] | None = None, cancel: CancelToken | None = None,
                    options: Mapping[str, Any] | None = None) -> ChatReply:
        """Stream a chat answer, calling ``on_token`` per piece; return the whole text and why it ended.

        Raises Cancelled within a moment of ``cancel`` firing (the HTTP stream is closed),
        OllamaStreamBroken if the stream ends without Ollama's ``done``, OllamaTimeout if
        nothing arrives for ``timeout_s`` (before the first token or between two tokens).
        """
        model = model or self.settings.chat_model
        call = _Call(model, what="answer", streaming=True)
        parts: list[str] = []
        finished = False
        reason = ""
        with self._errors(call, cancel), self._guarded(cancel):
            stream = self._streamer.chat(model=model, messages=[dict(m) for m in messages], stream=True,
                                         options=dict(options) if options else None)
            try:
                for part in stream:
                    call.started = True
                    if cancel is not None and cancel.cancelled:
                        raise Cancelled()
                    piece = part.message.content or ""
                    if piece:
                        parts.append(piece)
                        if on_token is not None:
                            on_token(piece)
                    if part.done:
                        finished = True
                        reason = part.done_reason or ""
                        break
            finally:
                stream.close()  # leaves the httpx stream context: the connection closes now
        if not finished:
            raise self._broken(call)
        return ChatReply("".join(parts), reason)

    def llm(self, model: str | None = None, max_context: int = MAX_CONTEXT) -> LlamaIndexOllama:
        """A LlamaIndex LLM on the same server and client, for LlamaIndex components.

        Its calls raise the ollama client's own exceptions; wrap them in ``mapped_errors()``.
        """
        from llama_index.llms.ollama import Ollama as LlamaIndexOllama

        model = model or self.settings.chat_model
        window = min(self.context_length(model).tokens, max_context)
        return LlamaIndexOllama(model=model, base_url=self.url, request_timeout=self.settings.timeout_s,
                                context_window=window, client=self._api)

    @contextmanager
    def mapped_errors(self, model: str | None = None) -> Iterator[None]:
        """Turn ollama/httpx exceptions raised inside the block into Quire's typed errors."""
        with self._errors(_Call(model or self.settings.chat_model)):
            yield

    # --- internals ------------------------------------------------------------------------

    def _on_request(self, request: httpx.Request) -> None:
        guard = getattr(self._local, "guard", None)
        if guard is not None:
            request.extensions["trace"] = guard.trace

    @contextmanager
    def _guarded(self, cancel: CancelToken | None) -> Iterator[None]:
        if cancel is None:
            yield
            return
        cancel.raise_if_cancelled()
        guard = _StreamGuard()
        previous = getattr(self._local, "guard", None)
        self._local.guard = guard
        threading.Thread(target=_watch, args=(guard, cancel), name="quire-ollama-cancel", daemon=True).start()
        try:
            yield
        finally:
            guard.finish()
            self._local.guard = previous

    @contextmanager
    def _errors(self, call: _Call, cancel: CancelToken | None = None) -> Iterator[None]:
        try:
            yield
        except QuireError:
            raise
        except Exception as exc:
            if cancel is not None and cancel.cancelled:
                raise Cancelled() from None  # whatever the closed socket made the reader raise
            mapped = self._translate(exc, call)
            if mapped is None:
                raise
            log.debug("ollama %s failed: %r", call.what, exc)
            raise mapped from exc

    def _missing(self, model: str) -> OllamaModelMissing:
        return OllamaModelMissing(f"Model {model} is not on the Ollama server at {self.url}.",
                                  f"Pull it: quire models pull {model}")

    def _broken(self, call: _Call) -> OllamaStreamBroken:
        if call.what == "download":
            return OllamaStreamBroken(f"The download of {call.model} stopped halfway.",
                                      f"Retry: quire models pull {call.model}")
        return OllamaStreamBroken(
            f"The {call.what} stopped halfway: Ollama at {self.url} ended the stream early.", "Retry.")

    def _translate(self, exc: Exception, call: _Call) -> QuireError | None:
        url, t = self.url, self.settings.timeout_s
        retry_log = "Retry; if it keeps happening, check the Ollama server's log."
        if isinstance(exc, ollama.ResponseError):
            status, msg = exc.status_code, str(exc.error).strip()
            low = msg.lower()
            page = "<" in msg and ">" in msg  # an HTML error page: some other web server answered
            msg = _one_line(msg)
            # ("404 page not found" is Ollama's router: no such request, as from a server that is
            # not Ollama or cannot pull; not a model the registry lacks.)
            if call.what == "download" and ("file does not exist" in low
                                            or "not found" in low and "page not found" not in low):
                return OllamaModelMissing(f"Ollama cannot find a model named {call.model} to pull ({msg}).",
                                          "Check the name at https://ollama.com/library")
            if status == 404 and "model" in low and "not found" in low:
                return self._missing(call.model)
            if status == 404 and (page or not msg):
                return OllamaServerError(f"The server at {url} does not answer like Ollama ({msg or 'HTTP 404'}).",
                                         "Check [ollama] url: it should be Ollama's address, by default "
                                         "http://127.0.0.1:11434.")
            if status == 404:
                return OllamaServerError(f"Ollama at {url} does not offer this request ({msg}).",
                                         "Update Ollama to a recent version.")
            if status >= 500:
                return OllamaServerError(f"Ollama at {url} failed: {msg} (HTTP {status}).", retry_log)
            if status == -1:  # an error line inside a stream
                return OllamaServerError(f"Ollama at {url} stopped the {call.what} with an error: {msg}.",
                                         retry_log)
            return OllamaServerError(f"Ollama at {url} refused the request: {msg} (HTTP {status}).",
                                     "Check [ollama] chat_model and embed_model.")
        # The client turns httpx.ConnectError into a bare ConnectionError on plain requests.
        if type(exc) is ConnectionError or isinstance(exc, httpx.ConnectError):
            cause = exc.__context__ if type(exc) is ConnectionError else exc
            if cause is None or "refused" in str(cause).lower():
                return OllamaUnreachable(
                    f"Ollama is not running at {url}.",
                    "Start it with `ollama serve` (or open the Ollama app), or set [ollama] url.")
            return OllamaUnreachable(f"Cannot reach Ollama at {url} ({cause}).",
                                     "Check [ollama] url and that the host is up, then start Ollama there.")
        if isinstance(exc, httpx.ConnectTimeout):
            return OllamaTimeout(f"Ollama at {url} did not accept a connection within {t:g} s.",
                                 "Check [ollama] url and that the host is up.")
        if isinstance(exc, httpx.TimeoutException):
            slow = "Retry; the model may still be loading or the server is busy. Or raise [ollama] timeout_s."
            if call.started:
                return OllamaTimeout(
                    f"Ollama at {url} stopped sending the {call.what} for more than {t:g} s.", slow)
            return OllamaTimeout(f"Ollama at {url} did not answer within {t:g} s.", slow)
        if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError | httpx.CloseError):
            if call.streaming:
                if call.what == "download":
                    return self._broken(call)
                return OllamaStreamBroken(
                    f"The {call.what} stopped halfway: Ollama at {url} closed the connection.", "Retry.")
            return OllamaServerError(f"Ollama at {url} closed the connection without answering.", retry_log)
        if isinstance(exc, json.JSONDecodeError | pydantic.ValidationError):
            if call.streaming and call.started:
                return self._broken(call)
            return OllamaServerError(f"The server at {url} sent a reply Quire cannot read; is it Ollama?",
                                     "Check [ollama] url.")
        if isinstance(exc, httpx.HTTPError):
            return OllamaServerError(f"Talking to Ollama at {url} failed: {exc}.", retry_log)
        if isinstance(exc, ollama.RequestError):
            return OllamaServerError(f"Quire sent Ollama a bad request: {exc.error}.",
                                     "Check [ollama] chat_model and embed_model.")
        return None
