"""`quire ask`, `quire chats` and `quire models`: registered into app/cli.py's argparse parser.

Each handler takes ``(args, ctx)`` and returns the exit code. ``ctx`` gives ``paths``,
``settings``, ``out`` (stdout), ``json`` and ``open_library()`` (an object whose
``search(query, k)`` returns a SearchResult). Expected failures print ``error: <message>``
and the action to stderr and return the error's exit code; Ctrl-C prints "Cancelled." and
returns 130. Long calls run on a worker thread so Ctrl-C can cancel them cleanly (the
cancel token closes the HTTP stream) instead of tearing through them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO, TypeVar

from .cli import positive_int
from .core.chats import ChatStore
from .core.config import Paths, Settings
from .core.errors import Cancelled, QuireError, UsageError
from .core.types import CancelToken, Hit

if TYPE_CHECKING:
    from .core.answer import Answer, Source
    from .core.ollama import PullProgress

# The answer and Ollama modules (httpx, the ollama package, pydantic) are imported by the
# commands that use them: every `quire` invocation builds this parser, and `quire search`
# should not pay ~0.3 s for them.

T = TypeVar("T")


class Context(Protocol):
    paths: Paths
    settings: Settings
    out: TextIO
    json: bool

    def open_library(self) -> Any: ...


# --- registration ------------------------------------------------------------------------------


def _add_json(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a subcommand default must not overwrite a --json given before the command name.
    try:
        parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                            help="print one JSON document on stdout and nothing else")
    except argparse.ArgumentError:
        pass  # the common parent already defines --json


def register(subparsers: Any, common_parent: argparse.ArgumentParser | None = None) -> None:
    """Add ``ask``, ``chats`` and ``models`` to ``subparsers`` (from ``add_subparsers()``)."""
    parents = [common_parent] if common_parent is not None else []

    p = subparsers.add_parser(
        "ask", parents=parents, help="answer a question from your files, citing them",
        description="Answer a question from the indexed files with the Ollama chat model, citing the "
                    "passages used. Without Ollama, prints the best passages instead.")
    p.add_argument("question", nargs="+", metavar="QUESTION")
    p.add_argument("--chat", metavar="NAME",
                   help="keep a conversation: follow-ups are read in the light of its earlier questions")
    p.add_argument("-k", type=positive_int, metavar="N",
                   help="passages to retrieve (default: [search] top_k)")
    _add_json(p)
    p.set_defaults(func=cmd_ask)

    c = subparsers.add_parser(
        "chats", parents=parents, help="list, show, rename or delete conversations",
        description="quire chats | quire chats show NAME | quire chats rename NAME NEW | "
                    "quire chats delete NAME")
    c.add_argument("action", nargs="?", choices=("list", "show", "rename", "delete"), default="list")
    c.add_argument("name", nargs="?")
    c.add_argument("new_name", nargs="?", metavar="NEW")
    _add_json(c)
    c.set_defaults(func=cmd_chats)

    m = subparsers.add_parser(
        "models", parents=parents, help="list the Ollama server's models, or pull one",
        description="quire models | quire models pull NAME")
    m.add_argument("action", nargs="?", choices=("list", "pull"), default="list")
    m.add_argument("name", nargs="?")
    _add_json(m)
    m.set_defaults(func=cmd_models)


def run(argv: Sequence[str], ctx: Context) -> int:
    """Parse ``argv`` with only these commands and run one (for tests and benchmarks)."""
    parser = argparse.ArgumentParser(prog="quire")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return int(args.func(args, ctx))


# --- helpers ---------------------------------------------------------------------------------


def _wants_json(args: argparse.Namespace, ctx: Context) -> bool:
    return bool(getattr(ctx, "json", False) or getattr(args, "json", False))


def _err(ctx: Context) -> TextIO:
    return getattr(ctx, "err", None) or sys.stderr


def _fail(exc: QuireError, ctx: Context) -> int:
    """As the main command line does: the error on stderr, and under --json also as the one
    JSON document on stdout."""
    err = _err(ctx)
    err.write(f"error: {exc.message}\n")
    if exc.action:
        err.write(f"  {exc.action}\n")
    err.flush()
    if getattr(ctx, "json", False):
        _emit_json(ctx, {"error": exc.message, "action": exc.action or "", "exit_code": exc.exit_code})
    return exc.exit_code


def _emit_json(ctx: Context, doc: Any) -> None:
    from .cli import json_text

    ctx.out.write(json_text(doc, ctx.out) + "\n")
    ctx.out.flush()


def _interruptible(work: Callable[[], T], cancel: CancelToken) -> T:
    """Run ``work`` on a thread. Ctrl-C fires ``cancel`` and waits for ``work`` to stop (a second Ctrl-C
    stops waiting)."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["result"] = work()
        except BaseException as exc:  # handed to the main thread below
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=target, name="quire-cli-worker", daemon=True).start()
    interrupted = False
    # Wait on an Event, not Thread.join(): a KeyboardInterrupt inside join() can leave CPython
    # (3.11) believing the thread has ended while it still runs.
    while not done.is_set():
        try:
            done.wait(0.1)
        except KeyboardInterrupt:
            if interrupted:
                raise Cancelled() from None
            interrupted = True
            cancel.cancel()
            sys.stderr.write("\nStopping… (Ctrl-C again to quit now)\n")
            sys.stderr.flush()
    if interrupted:
        raise Cancelled()
    if "error" in box:
        raise box["error"]
    return box["result"]


def display_path(path: str, folder: str = "") -> str:
    """The path as the user knows it: relative to the current folder, else to the library folder's parent."""
    p = Path(path)
    bases = [Path.cwd()] + ([Path(folder).parent] if folder else [])
    for base in bases:
        try:
            return str(p.relative_to(base))
        except ValueError:
            continue
    return path


def source_line(s: Source) -> str:
    where = f", page {s.page}" if s.page is not None else ""
    # Copies of the passage in other files are one source; say how many there are.
    copies = f" (also in {len(s.also)} other file{'s' if len(s.also) != 1 else ''})" if s.also else ""
    return f"[{s.n}] {display_path(s.path, s.folder)}{where}{copies}"


def _snippet(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def _human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


# --- quire ask ---------------------------------------------------------------------------------


def cmd_ask(args: argparse.Namespace, ctx: Context) -> int:
    as_json = _wants_json(args, ctx)
    out, err = ctx.out, _err(ctx)
    question = " ".join(args.question).strip()
    if args.chat is not None and not args.chat.strip():
        return _fail(UsageError("A chat needs a name.", 'e.g. quire ask --chat lease "What notice is needed?"'), ctx)
    cancel = CancelToken()
    streamed = threading.Event()
    search_notes: list[str] = []  # e.g. "the library is empty: add a folder with `quire index PATH`"

    def on_token(piece: str) -> None:
        if not as_json:
            out.write(piece)
            out.flush()
            streamed.set()

    from .core.answer import HISTORY_TURNS, answer
    from .core.ollama import OllamaClient

    def work() -> Answer:
        store = ChatStore(ctx.paths.chats_db) if args.chat else None
        library = None
        try:
            history: list[tuple[str, str]] = []
            chat = None
            if store is not None:
                chat = store.get_or_create(args.chat)
                history = [(m.role, m.text) for m in store.messages(chat, last=HISTORY_TURNS)]
            library = ctx.open_library()

            def retrieve(query: str, k: int) -> Sequence[Hit]:
                found = library.search(query, k)
                search_notes.append(getattr(found, "note", ""))
                return found.hits

            with OllamaClient(ctx.settings.ollama) as client:
                result = answer(question, retrieve, client, ctx.settings,
                                on_token=on_token, cancel=cancel, history=history, k=args.k)
            if store is not None and chat is not None:
                store.append(chat, "user", question)
                store.append(chat, "assistant", result.text if result.mode == "answer" else "",
                             result.stored_sources())
            return result
        finally:
            if store is not None:
                store.close()
            close = getattr(library, "close", None)
            if callable(close):
                close()

    try:
        result = _interruptible(work, cancel)
    except Cancelled:
        if streamed.is_set():
            out.write("\n")
            out.flush()
        err.write("Cancelled.\n")
        err.flush()
        return Cancelled.exit_code
    except QuireError as exc:
        if streamed.is_set():
            out.write("\n")
            out.flush()
        return _fail(exc, ctx)

    if as_json:
        _emit_json(ctx, result.as_json())
        return 0
    if result.mode == "passages":
        _print_passages(result, ctx, next((n for n in reversed(search_notes) if n), ""))
        return 0
    if not result.text.endswith("\n"):
        out.write("\n")
    for s in result.sources:
        out.write(source_line(s) + "\n")
    if result.uncited:  # the note asks the reader to check the answer against these
        out.write("Passages it was given (none cited):\n")
        for s in result.uncited:
            out.write(source_line(s) + "\n")
    out.flush()
    if result.note:
        err.write(f"note: {result.note}\n")
        err.flush()
    return 0


def _print_passages(result: Answer, ctx: Context, search_note: str = "") -> None:
    out, err = ctx.out, _err(ctx)
    why = result.note.rstrip(".")
    if not result.sources:
        out.write(f"{result.note}\n")
        if search_note:
            out.write(f"({search_note})\n")
    else:
        out.write(f"Passages (no answer: {why})\n")
        for s in result.sources:
            out.write(f"{source_line(s)}\n    {_snippet(s.text)}\n")
    out.flush()
    if result.action:
        label = "To get written answers: " if result.sources else ""
        err.write(f"{label}{result.action}\n")
        err.flush()


# --- quire chats ------------------------------------------------------------------------------


def cmd_chats(args: argparse.Namespace, ctx: Context) -> int:
    as_json = _wants_json(args, ctx)
    out = ctx.out
    action = args.action or "list"
    try:
        if action != "list" and not args.name:
            raise UsageError(f"quire chats {action} needs the chat's name.", "List them: quire chats")
        if action == "rename" and not args.new_name:
            raise UsageError("quire chats rename needs the new name.", "quire chats rename NAME NEW")
        with ChatStore(ctx.paths.chats_db) as store:
            if action == "list":
                chats = store.list()
                if as_json:
                    _emit_json(ctx, [c.as_json() for c in chats])
                elif not chats:
                    out.write('No chats yet. Start one: quire ask --chat NAME "question"\n')
                else:
                    width = max(len(c.name) for c in chats)
                    for c in chats:
                        out.write(f"{c.name:<{width}}  {c.message_count:>4} messages  "
                                  f"last used {_when(c.updated_at)}\n")
            elif action == "show":
                chat = store.get(args.name)
                messages = store.messages(chat)
                if as_json:
                    _emit_json(ctx, {"chat": chat.as_json(), "messages": [m.as_json() for m in messages]})
                else:
                    for m in messages:
                        who = "you" if m.role == "user" else "quire"
                        out.write(f"{who}: {m.text or '(passages only)'}\n")
                        if any(s.get("cited") is False for s in m.sources):
                            out.write("    passages it was given (none cited):\n")
                        for s in m.sources:
                            page = f", page {s.get('page')}" if s.get("page") is not None else ""
                            out.write(f"    [{s.get('n')}] {display_path(str(s.get('path', '')))}{page}\n")
            elif action == "rename":
                chat = store.rename(store.get(args.name), args.new_name)
                if as_json:
                    _emit_json(ctx, chat.as_json())
                else:
                    out.write(f"Renamed chat {args.name!r} to {chat.name!r}.\n")
            else:
                store.delete(store.get(args.name))
                if as_json:
                    _emit_json(ctx, {"deleted": args.name})
                else:
                    out.write(f"Deleted chat {args.name!r}.\n")
    except QuireError as exc:
        return _fail(exc, ctx)
    out.flush()
    return 0


# --- quire models -------------------------------------------------------------------------------


def cmd_models(args: argparse.Namespace, ctx: Context) -> int:
    if args.action == "pull":
        return _cmd_pull(args, ctx)
    as_json = _wants_json(args, ctx)
    out = ctx.out
    ol = ctx.settings.ollama
    from .core.ollama import OllamaClient, model_key
    try:
        with OllamaClient(ol) as client:
            version = client.version()
            models = client.list_models()
    except QuireError as exc:
        return _fail(exc, ctx)
    have = {model_key(m.name) for m in models}
    chat_ok = model_key(ol.chat_model) in have
    embed_ok = model_key(ol.embed_model) in have
    if as_json:
        _emit_json(ctx, {
            "url": ol.url, "version": version,
            "models": [{"name": m.name, "size": m.size, "family": m.family,
                        "parameter_size": m.parameter_size, "quantization": m.quantization,
                        "modified_at": m.modified_at} for m in models],
            "chat_model": ol.chat_model, "chat_model_present": chat_ok,
            "embed_model": ol.embed_model, "embed_model_present": embed_ok})
        return 0
    out.write(f"Ollama {version} at {ol.url}\n")
    if not models:
        out.write(f"No models yet. Pull one: quire models pull {ol.chat_model}\n")
    width = max((len(m.name) for m in models), default=0)
    for m in models:
        role = []
        if model_key(m.name) == model_key(ol.chat_model):
            role.append("chat model")
        if model_key(m.name) == model_key(ol.embed_model):
            role.append("embedding model")
        detail = " ".join(x for x in (m.parameter_size, m.quantization) if x)
        tag = f"  ({', '.join(role)})" if role else ""
        out.write(f"  {m.name:<{width}}  {_human_size(m.size):>8}  {detail}{tag}\n")
    if models and not chat_ok:
        out.write(f"The chat model {ol.chat_model} is not on the server. "
                  f"Pull it: quire models pull {ol.chat_model}\n")
    if ctx.settings.embedding.backend == "ollama" and models and not embed_ok:
        out.write(f"The embedding model {ol.embed_model} is not on the server. "
                  f"Pull it: quire models pull {ol.embed_model}\n")
    out.flush()
    return 0


class _PullReport:
    """Ollama's pull progress as a bar on a terminal, or as plain lines (each status, every 10%) otherwise."""

    def __init__(self, out: TextIO, tty: bool, quiet: bool) -> None:
        self.out, self.tty, self.quiet = out, tty, quiet
        self.status = ""
        self.decile = -1
        self.open_line = False

    def __call__(self, p: PullProgress) -> None:
        if self.quiet or p.status == "success":  # the closing "Pulled NAME." says it
            return
        frac = p.fraction
        if self.tty:
            if p.status != self.status:
                self.end()
            if frac is None:
                line = p.status
            else:
                bar = "#" * int(frac * 30)
                line = (f"{p.status[:24]:<24} {frac * 100:3.0f}% [{bar:<30}] "
                        f"{_human_size(p.completed)}/{_human_size(p.total)}")
            self.out.write(f"\r{line:<80}")
            self.open_line = True
        else:
            decile = int(frac * 10) if frac is not None else -1
            if p.status != self.status:
                self.decile = -2
            if decile > self.decile:
                pct = f" {frac * 100:.0f}% of {_human_size(p.total)}" if frac is not None else ""
                self.out.write(f"{p.status}{pct}\n")
                self.decile = decile
        self.status = p.status
        self.out.flush()

    def end(self) -> None:
        if self.open_line:
            self.out.write("\n")
            self.out.flush()
            self.open_line = False


def _cmd_pull(args: argparse.Namespace, ctx: Context) -> int:
    as_json = _wants_json(args, ctx)
    if not args.name:
        missing = UsageError("quire models pull needs a model name.", "e.g. quire models pull llama3.2")
        return _fail(missing, ctx)
    isatty = getattr(ctx.out, "isatty", None)
    report = _PullReport(ctx.out, tty=bool(isatty and isatty()), quiet=as_json)
    cancel = CancelToken()

    from .core.ollama import OllamaClient

    def work() -> None:
        with OllamaClient(ctx.settings.ollama) as client:
            client.pull(args.name, report, cancel)

    try:
        _interruptible(work, cancel)
    except Cancelled:
        report.end()
        _err(ctx).write("Cancelled.\n")
        return Cancelled.exit_code
    except QuireError as exc:
        report.end()
        return _fail(exc, ctx)
    report.end()
    if as_json:
        _emit_json(ctx, {"model": args.name, "status": "success"})
    else:
        ctx.out.write(f"Pulled {args.name}.\n")
        ctx.out.flush()
    return 0

