"""`quire`: the command line. Same core as the window; works where Qt is absent.

Every command takes ``--json`` and then prints exactly one JSON document on stdout and
nothing else. Expected failures print ``error: ...`` and what to do on stderr and exit
non-zero; unexpected ones are logged with their traceback and summarised in one line.
"""

from __future__ import annotations

import argparse
import json
import logging
import logging.handlers
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

from . import __version__
from .core.config import Paths, Settings, index_overrides, load_settings
from .core.errors import Cancelled, QuireError, UsageError
from .core.types import CancelToken, Progress

log = logging.getLogger("quire")


@dataclass
class Context:
    """What every command handler gets: settings, where things live, how to print."""

    paths: Paths
    settings: Settings
    json: bool = False
    out: IO[str] = field(default_factory=lambda: sys.stdout)
    err: IO[str] = field(default_factory=lambda: sys.stderr)

    def open_library(self, write: bool = False) -> Any:
        from .core.library import Library

        return Library.open(self.paths, self.settings, write=write)

    def emit_json(self, doc: Any) -> None:
        self.out.write(json_text(doc, self.out) + "\n")
        self.out.flush()

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def note(self, text: str) -> None:
        """Side information: stderr, and silent under --json."""
        if not self.json:
            self.err.write(text + "\n")
            self.err.flush()


def json_text(doc: Any, stream: IO[str]) -> str:
    """``doc`` as JSON for ``stream``: non-ASCII as \\u escapes where the stream cannot write
    it (a Windows console or a redirect in cp1252), still the same JSON to whoever reads it."""
    utf = (getattr(stream, "encoding", None) or "utf-8").lower().replace("-", "").replace("_", "") == "utf8"
    return json.dumps(doc, ensure_ascii=not utf, indent=2)


def shown_path(path: str) -> str:
    """A path on one line of text output: a newline or other control character in a file
    name is written as an escape (\\n), so each result stays one line."""
    return path if path.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in path)


@contextmanager
def cancel_on_sigint() -> Iterator[CancelToken]:
    """Ctrl-C asks the running operation to stop cleanly; a second Ctrl-C exits at once."""
    token = CancelToken()
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        if token.cancelled:
            raise KeyboardInterrupt
        token.cancel()

    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread (tests calling main() from a thread)
        previous = None
    try:
        yield token
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


# --- progress -------------------------------------------------------------------------------


class ProgressPrinter:
    """A one-line bar on a terminal (files, chunks, rate, ETA); plain lines otherwise."""

    def __init__(self, stream: IO[str], enabled: bool = True) -> None:
        self.stream = stream
        self.enabled = enabled
        # A terminal that can redraw a line in place (TERM=dumb and Emacs' shell cannot).
        self.tty = stream.isatty() and os.environ.get("TERM", "") != "dumb"
        self.t0 = time.monotonic()
        self.last = 0.0
        self.p = Progress("scan")
        self.embedded = 0
        self.to_embed = 0
        self.parse_t0: float | None = None  # the ETA counts from here, not from the scan before it
        self._shown = False

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        if p.phase == "embed":
            self.embedded = max(self.embedded, p.chunks_embedded)
            self.to_embed = p.chunks_to_embed
        else:
            if p.phase == "parse" and self.parse_t0 is None:
                self.parse_t0 = time.monotonic()
            self.p = p
        now = time.monotonic()
        if p.phase != "done" and now - self.last < (0.1 if self.tty else 5.0):
            return
        self.last = now
        self._draw(p.phase == "done")

    def _draw(self, final: bool) -> None:
        p = self.p
        elapsed = max(time.monotonic() - self.t0, 1e-6)
        if p.phase == "parse" and p.files_total:
            frac = p.files_done / p.files_total
            parsing = time.monotonic() - (self.parse_t0 or self.t0)
            # From the first file or two the estimate is noise (it said 1215h55m for a big disk).
            eta = _eta(parsing / frac - parsing) if frac > 0 and parsing >= 2 and p.files_done >= 10 else "…"
            bar = "#" * int(frac * 24)
            embedded = (f"{self.embedded:,} embedded ({self.embedded / elapsed:.0f}/s) · "
                        if self.embedded or self.to_embed else "")
            line = (f"[{bar:<24}] " if self.tty else "") + (
                f"{p.files_done:,}/{p.files_total:,} files · {p.chunks_parsed:,} chunks · {embedded}ETA {eta}")
        elif p.phase == "scan":
            line = f"{p.message or 'scanning'}… {p.files_total:,} files"
        elif p.phase == "embed":
            line = f"adding vectors… {self.embedded:,} embedded ({self.embedded / elapsed:.0f}/s)"
        elif p.phase == "compact":
            line = "updating search indexes…"
        else:
            line = p.message or p.phase
        if self.tty:
            self.stream.write("\r\x1b[2K" + line[:160] + ("\n" if final else ""))
            self._shown = not final
        elif not final:
            self.stream.write(line + "\n")
        self.stream.flush()

    def clear(self) -> None:
        if self.tty and self._shown:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._shown = False


def _eta(s: float) -> str:
    s = int(max(s, 0))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


# --- commands -------------------------------------------------------------------------------


def cmd_index(args: argparse.Namespace, ctx: Context) -> int:
    from .core.store import use_lean_scans

    use_lean_scans()  # a batch job: bounded memory matters more than search latency here
    bar = ProgressPrinter(ctx.err, enabled=not ctx.json)
    with ctx.open_library(write=True) as lib, cancel_on_sigint() as cancel:
        if not args.paths and not lib.roots():
            raise QuireError("The library is empty.", "Add a folder or file: quire index PATH")
        report = lib.index(args.paths or None, progress=bar, cancel=cancel)
    bar.clear()
    if ctx.json:
        ctx.emit_json(report.as_json())
    else:
        r = report
        if cancel.cancelled:
            done = r.files_added + r.files_changed + r.files_moved + r.files_removed + r.files_unchanged \
                + r.files_failed + r.files_skipped
            ctx.say(f"Stopped (Ctrl-C) with {max(r.files_seen - done, 0):,} of {r.files_seen:,} files not "
                    f"looked at yet. What was done is kept: `quire index` goes on from there.")
        ctx.say(f"{r.files_seen:,} files: {r.files_added:,} added, {r.files_changed:,} changed, "
                f"{r.files_moved:,} moved, {r.files_removed:,} removed, {r.files_unchanged:,} unchanged, "
                f"{r.files_failed:,} failed, {r.files_skipped:,} skipped")
        ctx.say(f"{r.chunks_written:,} chunks written, {r.chunks_embedded:,} embedded in {r.seconds:.1f} s")
        if r.embed_pending:
            ctx.say(f"{r.embed_pending:,} chunks still need vectors; they are searchable by keyword meanwhile.")
        if r.note:
            ctx.say(f"note: {r.note}")
        if r.files_failed:
            ctx.say("`quire status` lists the files that could not be indexed and why.")
    return 130 if cancel.cancelled else 0


def positive_int(text: str) -> int:
    """An argument that counts something (-k): a whole number, 1 or more. Under 1 is refused:
    `search -k 0` once meant the default and `-k -5` all but five of the candidates."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} is too few: give 1 or more")
    return n


def cmd_search(args: argparse.Namespace, ctx: Context) -> int:
    if not args.query.strip():  # as `quire ask` refuses an empty question
        raise UsageError("The search is empty.", 'Give a few words, e.g. quire search "termination notice"')
    with ctx.open_library() as lib:
        res = lib.search(args.query, k=args.k or ctx.settings.search.top_k, folder=args.folder,
                         kinds=args.type or None)
    if ctx.json:
        ctx.emit_json([h.as_json() for h in res.hits])
        return 0
    if res.note:
        ctx.note(f"({res.note})")
    if not res.hits:
        ctx.say("No passages match.")
        return 0
    for i, h in enumerate(res.hits, 1):
        where = shown_path(h.path) + (f", page {h.page}" if h.page is not None else "")
        # The section it is in: a heading path, or a spreadsheet's sheet ("Budget 2024").
        where += f" · {h.heading}" if h.heading else ""
        ctx.say(f"[{i}] {where}  (score {h.score:.3f})")
        snippet = " ".join(h.text.split())
        ctx.say("    " + (snippet[:300] + "…" if len(snippet) > 300 else snippet))
        if h.also:  # copies of this passage in other files, shown once
            more = f" and {len(h.also) - 3} more" if len(h.also) > 3 else ""
            ctx.say(f"    also in: {', '.join(map(shown_path, h.also[:3]))}{more}")
    return 0


def cmd_status(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.open_library() as lib:
        st = lib.status()
    if ctx.json:
        ctx.emit_json(st)
        return 0
    ctx.say(f"Quire data folder: {st['home']}")
    if not st["folders"]:
        ctx.say("The library is empty. Add a folder: quire index PATH")
    for f in st["folders"]:
        flags = [w for w, on in (("paused", f["paused"]), ("missing", not f["present"])) if on]
        ctx.say(f"  {shown_path(f['path'])}" + (f"  ({', '.join(flags)})" if flags else ""))
    files = st["files"]
    ctx.say("Files: " + (", ".join(f"{n:,} {s}" for s, n in sorted(files.items())) or "none"))
    e = st["embedding"]
    ctx.say(f"Chunks: {st['chunks']:,} ({st['vectors']:,} vectors) · embedding: "
            + " ".join(x for x in (e["backend"], e["model"]) if x)
            + (f" ({e['dim']} dims)" if e.get("dim") else "")
            + f" · chunks of {st['chunking']['chunk_size']} tokens, {st['chunking']['chunk_overlap']} overlap")
    ctx.say(f"Index size: {st['store_bytes'] / 1024 / 1024:,.1f} MB")
    if files.get("pending"):
        # Files a run reserved and has not finished: it was stopped, or one is under way now.
        ctx.say(f"{files['pending']:,} files are waiting to be indexed (a run stopped early, or one is under way): "
                "`quire index` finishes them.")
    if st["settings_mismatch"]:
        ctx.say(f"Settings changed since the index was built: {st['settings_mismatch']}. Run `quire rebuild`.")
    if st["failed"]:
        ctx.say(f"Could not index {len(st['failed']):,} files:")
        for f in st["failed"]:
            ctx.say(f"  {shown_path(f['path'])}: {f['reason']}")
    if st["skipped"]:
        by_reason: dict[str, int] = {}
        for f in st["skipped"]:
            by_reason[f["reason"]] = by_reason.get(f["reason"], 0) + 1
        ctx.say(f"Skipped {len(st['skipped']):,} files that are not documents: "
                + "; ".join(f"{n:,} {r}" for r, n in sorted(by_reason.items(), key=lambda x: -x[1])))
        if args.all:
            for f in st["skipped"]:
                ctx.say(f"  {shown_path(f['path'])}: {f['reason']}")
        else:
            ctx.say("  (`quire status --all` lists them)")
    return 0


def cmd_library(args: argparse.Namespace, ctx: Context) -> int:
    action = args.action
    if action == "list":
        with ctx.open_library() as lib:
            roots = lib.roots()
        if ctx.json:
            ctx.emit_json([{"path": r.display, "kind": "file" if r.is_file else "folder", "paused": r.paused}
                           for r in roots])
        else:
            for r in roots:
                ctx.say(r.display + ("  (paused)" if r.paused else ""))
        return 0
    if not args.path:
        raise UsageError(f"`quire library {action}` needs a PATH.", f"e.g. quire library {action} ~/Documents")
    with ctx.open_library(write=True) as lib:
        if action == "add":
            root = lib.add(args.path)
            result: dict[str, Any] = {"added": root.display}
            msg = f"Added {root.display}. Run `quire index` to index it."
        elif action == "remove":
            n = lib.remove(args.path)
            result = {"removed": os.path.abspath(args.path), "files": n}
            msg = f"Removed {args.path} and its {n:,} files from the index."
        else:
            lib.set_paused(args.path, action == "pause")
            result = {action + "d": os.path.abspath(args.path)}
            msg = f"{action.capitalize()}d {args.path}."
    if ctx.json:
        ctx.emit_json(result)
    else:
        ctx.say(msg)
    return 0


def cmd_rebuild(args: argparse.Namespace, ctx: Context) -> int:
    from .core.store import use_lean_scans

    use_lean_scans()
    bar = ProgressPrinter(ctx.err, enabled=not ctx.json)
    overrides = index_overrides()
    if overrides:
        # The rebuilt index keeps these values, and the next command without the variables would
        # refuse it as built with other settings.
        ctx.note("Note: " + ", ".join(f"{o.name} comes from {o.env}" for o in overrides)
                 + f", for this run only. Put the same in {ctx.paths.settings_file}, or every command"
                 " run without it will refuse the rebuilt index.")
    if args.all and not args.yes and not _confirmed("Read every file again and rebuild the whole index?",
                                                    "Rebuilding the whole index", "quire rebuild --all --yes"):
        ctx.say("Nothing changed.")
        return 1
    from .core.library import Library

    # --all repairs: a damaged manifest is set aside and started again from the remembered folders.
    opened = Library.open(ctx.paths, ctx.settings, write=True, set_aside_damaged_manifest=args.all)
    with opened as lib, cancel_on_sigint() as cancel:
        if args.all:
            lib.reset()
            report = lib.index(progress=bar, cancel=cancel)
            bar.clear()
            if ctx.json:
                ctx.emit_json({"rebuilt": True, **report.as_json()})
            else:
                ctx.say(f"Rebuilt from scratch: {report.files_seen:,} files, {report.chunks_written:,} chunks.")
            return 130 if cancel.cancelled else 0
        plan = lib.plan_rebuild()
        if plan is None:
            if ctx.json:
                ctx.emit_json({"rebuilt": False, "reason": "the index already matches the settings"})
            else:
                ctx.say("The index already matches the settings; nothing to rebuild.")
            return 0
        if not args.yes:
            ctx.note(plan.describe())
            if not _confirmed("Go ahead?", "Rebuilding", "quire rebuild --yes"):
                ctx.say("Nothing changed.")
                return 1
        report = lib.rebuild(progress=bar, cancel=cancel)
    bar.clear()
    if ctx.json:
        ctx.emit_json({"rebuilt": True, **report.as_json()})
    else:
        ctx.say(f"Rebuilt: {report.chunks_written:,} chunks written, {report.chunks_embedded:,} embedded "
                f"in {report.seconds:.1f} s.")
    return 0


def _confirmed(question: str, what: str, command: str) -> bool:
    """The user's yes on a terminal; without one nobody can be asked, and the command says so."""
    if not sys.stdin.isatty():
        raise QuireError(f"{what} needs confirmation.", f"Run `{command}` to go ahead.")
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def cmd_doctor(args: argparse.Namespace, ctx: Context) -> int:
    checks: list[dict[str, Any]] = []

    def check(name: str, fn: Callable[[], str]) -> None:
        try:
            checks.append({"check": name, "ok": True, "detail": fn()})
        except QuireError as exc:
            checks.append({"check": name, "ok": False, "detail": exc.message, "fix": exc.action or ""})

    def home() -> str:
        from .core.library import _check_writable

        _check_writable(ctx.paths.data_dir)
        return str(ctx.paths.data_dir)

    def index() -> str:
        with ctx.open_library() as lib:
            st = lib.status()
            lib.check_settings()
            lib.check_readable()  # a damaged data file: the counts come from metadata and hide it
        return f"{st['chunks']:,} chunks, {st['vectors']:,} vectors"

    def embedder() -> str:
        from .core.embed import load_embedder

        e = load_embedder(ctx.settings, ctx.paths, allow_download=False)
        return "keyword search only (backend none)" if e is None else f"{e.info.model}, {e.info.dim} dims"

    def ollama() -> str:
        from .core.ollama import OllamaClient

        st = OllamaClient(ctx.settings.ollama).health()
        if not st.ok:  # down, not Ollama at all, or without the chat model
            raise QuireError(st.error, st.action)
        return f"{st.url} (version {st.version}); models: {', '.join(st.models) or 'none'}"

    check("data folder", home)
    check("index", index)
    check("embedding model", embedder)
    check("ollama", ollama)
    if ctx.json:
        ctx.emit_json(checks)
    else:
        for c in checks:
            ctx.say(f"{'ok ' if c['ok'] else 'FAIL'} {c['check']}: {c['detail']}")
            if not c["ok"] and c.get("fix"):
                ctx.say(f"     fix: {c['fix']}")
    return 0 if all(c["ok"] for c in checks[:3]) else 1


# --- wiring ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    # SUPPRESS: a subcommand's default must not undo a --json given before the command's name.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print one JSON document and nothing else")
    p = argparse.ArgumentParser(prog="quire", description="Ask questions of the files on your computer.")
    p.add_argument("--version", action="version", version=f"quire {__version__}")
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    sp = sub.add_parser("index", parents=[common], help="add folders or files and bring the index up to date")
    sp.add_argument("paths", nargs="*", help="folders or files to add (none: the whole library)")
    sp.set_defaults(func=cmd_index)

    sp = sub.add_parser("search", parents=[common], help="find the best passages for a query")
    sp.add_argument("query")
    sp.add_argument("-k", type=positive_int, default=0, help="how many passages (default: search.top_k)")
    sp.add_argument("--folder", help="only this library folder, or a folder inside one")
    sp.add_argument("--type", action="append", help="only this kind of file (pdf, docx, markdown, text, ...)")
    sp.set_defaults(func=cmd_search)

    sp = sub.add_parser("status", parents=[common], help="what is indexed, what failed and why")
    sp.add_argument("--all", action="store_true", help="also list every skipped file")
    sp.set_defaults(func=cmd_status)

    sp = sub.add_parser("library", parents=[common], help="list, add, remove, pause or resume library folders")
    sp.add_argument("action", nargs="?", default="list", choices=["list", "add", "remove", "pause", "resume"],
                    help="default: list")
    sp.add_argument("path", nargs="?")
    sp.set_defaults(func=cmd_library)

    sp = sub.add_parser("rebuild", parents=[common], help="rebuild the index after a settings change")
    sp.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    sp.add_argument("--all", action="store_true", help="forget the index and read every file again "
                                                       "(repairs a damaged index)")
    sp.set_defaults(func=cmd_rebuild)

    sp = sub.add_parser("doctor", parents=[common], help="check the data folder, the model and Ollama")
    sp.set_defaults(func=cmd_doctor)

    for register in _plugins():
        register(sub, common)
    return p


def _plugins() -> list[Callable[[Any, argparse.ArgumentParser], None]]:
    """Command groups that live in their own modules (answers, watch)."""
    regs = []
    for mod in ("app.cli_ask", "app.cli_watch"):
        try:
            m = __import__(mod, fromlist=["register"])
        except ImportError:
            continue
        regs.append(m.register)
    return regs


def setup_logging(paths: Paths, verbose: bool = False) -> str:
    """Log to a rotating file in the data folder (and stderr with -v). Returns the log path."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    try:
        paths.log_dir.mkdir(parents=True, exist_ok=True)
        f = paths.log_dir / "quire.log"
        # A file name with bytes that are not UTF-8 is logged escaped, not as a logging traceback.
        h = logging.handlers.RotatingFileHandler(f, maxBytes=2_000_000, backupCount=3, encoding="utf-8",
                                                 errors="backslashreplace")
        h.setFormatter(logging.Formatter("%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"))
        root.addHandler(h)
        where = str(f)
    except OSError:
        where = "(no log file: the data folder is not writable)"
    if verbose:
        root.addHandler(logging.StreamHandler(sys.stderr))
    # Libraries that print progress or warnings of their own stay out of stdout.
    for noisy in ("httpx", "httpcore", "fastembed", "huggingface_hub", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return where


def _usable_streams() -> None:
    """stdout/stderr as the commands need them: present (cron and daemons may close them) and
    never failing on a character the console's encoding lacks."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 (lives as long as the process)
        elif hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        from .__main__ import open_window

        return open_window()
    _usable_streams()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    paths = Paths.default()
    logpath = setup_logging(paths)
    ctx = Context(paths=paths, settings=Settings(), json=getattr(args, "json", False))
    try:
        ctx.settings = load_settings(paths)
        return int(args.func(args, ctx) or 0)
    except Cancelled:
        sys.stderr.write("Cancelled.\n")
        return 130
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        return 130
    except QuireError as exc:
        return _failed(ctx, exc.message, exc.action, exc.exit_code)
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: keep the traceback for the log, show one line
        log.exception("unexpected error in `quire %s`", " ".join(argv))
        return _failed(ctx, f"unexpected {type(exc).__name__}: {exc}", f"Details are in {logpath}", 1)


def _failed(ctx: Context, message: str, action: str | None, code: int) -> int:
    """Say what went wrong on stderr; under --json also as the one JSON document on stdout, so
    a script reading stdout gets the reason, not an empty document."""
    sys.stderr.write(f"error: {message}\n")
    if action:
        sys.stderr.write(f"  {action}\n")
    if ctx.json:
        try:
            ctx.emit_json({"error": message, "action": action or "", "exit_code": code})
        except (OSError, ValueError):
            pass
    return code


if __name__ == "__main__":
    raise SystemExit(main())
