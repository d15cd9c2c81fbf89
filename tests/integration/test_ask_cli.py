"""`quire ask`, `quire chats`, `quire models` against the fake Ollama: output, exit codes, Ctrl-C."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from app.cli_ask import run
from app.core.config import OllamaSettings, Paths, Settings
from app.core.types import Hit, SearchResult
from tests.fake_ollama import FakeOllama, fake_ollama_fixture  # noqa: F401
from tests.integration.conftest import REPO

HITS = (
    Hit("/docs/contracts/lease-2024.pdf", 7, 0.91, "The lease requires sixty days' written notice. More.",
        "Termination", folder="/docs/contracts"),
    Hit("/docs/contracts/lease-2024.pdf", 12, 0.80, "Notice is delivered by post or email.",
        folder="/docs/contracts"),
)


class FakeLibrary:
    def __init__(self, hits: tuple[Hit, ...] = HITS) -> None:
        self.hits = hits
        self.queries: list[str] = []
        self.closed = False

    def search(self, query: str, k: int = 8) -> SearchResult:
        self.queries.append(query)
        return SearchResult(self.hits[:k], "hybrid")

    def close(self) -> None:
        self.closed = True


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@dataclass
class Ctx:
    paths: Paths
    settings: Settings
    json: bool = False
    out: io.StringIO = field(default_factory=io.StringIO)
    err: io.StringIO = field(default_factory=io.StringIO)
    library: FakeLibrary = field(default_factory=FakeLibrary)

    def open_library(self) -> FakeLibrary:
        return self.library


@pytest.fixture
def ctx(tmp_path: Path, fake_ollama: FakeOllama) -> Ctx:
    settings = replace(Settings(), ollama=OllamaSettings(url=fake_ollama.url, timeout_s=5))
    return Ctx(Paths.default({"QUIRE_HOME": str(tmp_path / "home")}), settings)


def fresh(ctx: Ctx, **kw: Any) -> Ctx:
    return replace(ctx, **{"out": io.StringIO(), "err": io.StringIO(), **kw})


# --- ask -------------------------------------------------------------------------------------------


def test_ask_streams_then_lists_sources(ctx: Ctx) -> None:
    assert run(["ask", "How much notice does the lease require?"], ctx) == 0
    assert ctx.out.getvalue() == (
        "According to the documents, The lease requires sixty days' written notice [1].\n"
        "[1] contracts/lease-2024.pdf, page 7\n")
    assert ctx.err.getvalue() == ""
    assert ctx.library.queries == ["How much notice does the lease require?"] and ctx.library.closed


def test_a_source_with_copies_in_other_files_says_so(ctx: Ctx) -> None:
    copied = replace(HITS[0], also=("/docs/backup/lease-2024.pdf", "/docs/old/lease-2024.pdf"))
    c = fresh(ctx, library=FakeLibrary((copied, HITS[1])))
    assert run(["ask", "How much notice does the lease require?"], c) == 0
    assert c.out.getvalue().endswith("[1] contracts/lease-2024.pdf, page 7 (also in 2 other files)\n")
    c = fresh(ctx, json=True, library=FakeLibrary((copied, HITS[1])))
    assert run(["ask", "How much notice?"], c) == 0
    assert json.loads(c.out.getvalue())["sources"][0]["also"] == list(copied.also)


def test_ask_json_is_one_document(ctx: Ctx, fake_ollama: FakeOllama) -> None:
    assert run(["ask", "How much notice?", "--json", "-k", "1"], ctx) == 0
    doc = json.loads(ctx.out.getvalue())  # nothing else on stdout
    assert doc["answer"].endswith("[1].") and doc["model"] == "llama3.2" and doc["seconds"] >= 0
    assert doc["sources"] == [{"n": 1, "path": "/docs/contracts/lease-2024.pdf", "page": 7,
                               "text": HITS[0].text, "score": 0.91, "heading": "Termination"}]
    assert fake_ollama.bodies("/api/chat")[0]["messages"][-1]["content"].count("[2]") == 0  # -k 1


def test_ask_without_ollama_prints_passages_and_exits_0(ctx: Ctx, fake_ollama: FakeOllama) -> None:
    fake_ollama.stop()
    assert run(["ask", "How much notice?"], ctx) == 0
    out = ctx.out.getvalue().splitlines()
    assert out[0] == f"Passages (no answer: Ollama is not running at {fake_ollama.url})"
    assert out[1] == "[1] contracts/lease-2024.pdf, page 7"
    assert out[2] == "    The lease requires sixty days' written notice. More."
    assert out[3] == "[2] contracts/lease-2024.pdf, page 12"
    assert ctx.err.getvalue() == ("To get written answers: Start it with `ollama serve` "
                                  "(or open the Ollama app), or set [ollama] url.\n")
    c2 = fresh(ctx, json=True)
    assert run(["ask", "How much notice?"], c2) == 0
    doc = json.loads(c2.out.getvalue())
    assert doc["answer"] is None and doc["mode"] == "passages" and len(doc["sources"]) == 2


def test_ask_with_the_model_missing(ctx: Ctx, fake_ollama: FakeOllama) -> None:
    fake_ollama.remove_model("llama3.2")
    assert run(["ask", "How much notice?"], ctx) == 0
    expected = "Passages (no answer: Model llama3.2 is not on the Ollama server at "
    assert ctx.out.getvalue().startswith(expected)
    assert "quire models pull llama3.2" in ctx.err.getvalue()


def test_ask_server_failure_before_the_answer_prints_passages(ctx: Ctx, fake_ollama: FakeOllama) -> None:
    # A server error before any of the answer was a bare error; the passages found are shown,
    # as when Ollama is down, with the reason and what to do.
    fake_ollama.fail["/api/chat"] = (500, "llama runner process has terminated")
    assert run(["ask", "How much notice?"], ctx) == 0
    out = ctx.out.getvalue().splitlines()
    assert out[0] == (f"Passages (no answer: Ollama at {fake_ollama.url} failed: llama runner process has "
                      "terminated (HTTP 500))")
    assert "Retry; if it keeps happening, check the Ollama server's log." in ctx.err.getvalue()


def test_ask_broken_stream_ends_the_line_first(ctx: Ctx, fake_ollama: FakeOllama) -> None:
    fake_ollama.drop_after = 2
    assert run(["ask", "How much notice?"], ctx) == 1
    assert ctx.out.getvalue().endswith("\n")  # the half answer, then a clean line
    assert ctx.err.getvalue().startswith("error: The answer stopped halfway")


def test_ask_keeps_a_conversation(ctx: Ctx, fake_ollama: FakeOllama) -> None:
    def responder(msgs: list[dict[str, Any]]) -> str:
        if "standalone question" in msgs[0]["content"]:
            return "How is notice delivered under the lease?"
        return "By post or email [2]."

    fake_ollama.responder = responder
    assert run(["ask", "--chat", "lease", "How much notice does the lease require?"], ctx) == 0
    c2 = fresh(ctx)
    assert run(["ask", "and how is it delivered?", "--chat", "lease"], c2) == 0
    assert c2.library.queries[-1] == "How is notice delivered under the lease?"
    rewrite = fake_ollama.bodies("/api/chat")[1]["messages"][-1]["content"]
    assert "User: How much notice does the lease require?" in rewrite

    c3 = fresh(ctx)
    assert run(["chats"], c3) == 0
    assert c3.out.getvalue().startswith("lease     4 messages  last used ")
    c4 = fresh(ctx)
    assert run(["chats", "--json"], c4) == 0
    (chat,) = json.loads(c4.out.getvalue())
    assert chat["name"] == "lease" and chat["messages"] == 4
    c5 = fresh(ctx)
    assert run(["chats", "show", "lease"], c5) == 0
    shown = c5.out.getvalue().splitlines()
    assert shown[0] == "you: How much notice does the lease require?"
    assert shown[-2:] == ["quire: By post or email [2].", "    [2] /docs/contracts/lease-2024.pdf, page 12"]



def test_an_answer_citing_nothing_lists_the_passages_it_was_given(ctx: Ctx, fake_ollama: FakeOllama) -> None:
    # The note says to check the answer against the passages, so they are named.
    fake_ollama.responder = lambda msgs: "Sixty days."
    assert run(["ask", "--chat", "lease", "How much notice does the lease require?"], ctx) == 0
    assert ctx.out.getvalue() == ("Sixty days.\n"
                                  "Passages it was given (none cited):\n"
                                  "[1] contracts/lease-2024.pdf, page 7\n"
                                  "[2] contracts/lease-2024.pdf, page 12\n")
    assert ctx.err.getvalue() == "note: The answer cites none of the passages; check it against them.\n"
    c = fresh(ctx)
    assert run(["chats", "show", "lease"], c) == 0
    assert c.out.getvalue().splitlines()[-3:] == [
        "    passages it was given (none cited):", "    [1] /docs/contracts/lease-2024.pdf, page 7",
        "    [2] /docs/contracts/lease-2024.pdf, page 12"]

def test_chats_rename_delete_and_errors(ctx: Ctx) -> None:
    assert run(["chats"], ctx) == 0
    assert ctx.out.getvalue().startswith("No chats yet.")
    assert run(["ask", "--chat", "a", "q"], fresh(ctx)) == 0
    c = fresh(ctx)
    assert run(["chats", "rename", "a", "b"], c) == 0 and c.out.getvalue() == "Renamed chat 'a' to 'b'.\n"
    c = fresh(ctx)
    assert run(["chats", "show", "a"], c) == 2
    assert c.err.getvalue() == "error: No chat named 'a'.\n  List them: quire chats\n"
    c = fresh(ctx)
    assert run(["chats", "delete"], c) == 2 and "needs the chat's name" in c.err.getvalue()
    c = fresh(ctx)
    assert run(["chats", "delete", "b", "--json"], c) == 0
    assert json.loads(c.out.getvalue()) == {"deleted": "b"}


# --- models ---------------------------------------------------------------------------------------------


def test_models_list(ctx: Ctx, fake_ollama: FakeOllama) -> None:
    assert run(["models"], ctx) == 0
    lines = ctx.out.getvalue().splitlines()
    assert lines[0] == f"Ollama 0.12.6 at {fake_ollama.url}"
    assert lines[1].split() == ["llama3.2:latest", "2.0", "GB", "3.2B", "Q4_K_M", "(chat", "model)"]
    assert lines[2].split()[:3] == ["nomic-embed-text:latest", "274.3", "MB"]
    c = fresh(ctx, json=True)
    assert run(["models"], c) == 0
    doc = json.loads(c.out.getvalue())
    assert doc["chat_model_present"] is True and [m["name"] for m in doc["models"]][0] == "llama3.2:latest"


def test_models_says_what_is_missing(ctx: Ctx, fake_ollama: FakeOllama) -> None:
    fake_ollama.remove_model("llama3.2")
    assert run(["models"], ctx) == 0
    assert ("The chat model llama3.2 is not on the server. Pull it: quire models pull llama3.2"
            in ctx.out.getvalue())


def test_models_when_ollama_is_down(ctx: Ctx, fake_ollama: FakeOllama) -> None:
    fake_ollama.stop()
    assert run(["models", "--json"], ctx) == 1
    assert ctx.out.getvalue() == ""
    assert ctx.err.getvalue().startswith(f"error: Ollama is not running at {fake_ollama.url}.\n  Start it with")


def test_pull_plain_lines(ctx: Ctx, fake_ollama: FakeOllama) -> None:
    fake_ollama.pull_steps = 20
    assert run(["models", "pull", "qwen2.5:0.5b"], ctx) == 0
    lines = ctx.out.getvalue().splitlines()
    assert lines[0] == "pulling manifest"
    pct = [ln for ln in lines if "% of" in ln]
    assert pct[0].endswith(" 0% of 4.0 MB") and pct[-1].endswith(" 100% of 4.0 MB") and len(pct) == 11
    assert lines[-3:] == ["verifying sha256 digest", "writing manifest", "Pulled qwen2.5:0.5b."]
    assert ctx.err.getvalue() == ""
    assert "\r" not in ctx.out.getvalue()


def test_pull_progress_bar_on_a_terminal(ctx: Ctx) -> None:
    c = fresh(ctx, out=Tty())
    assert run(["models", "pull", "qwen2.5:0.5b"], c) == 0
    text = c.out.getvalue()
    assert "\r" in text and "100% [##############################] 4.0 MB/4.0 MB" in text
    assert text.endswith("Pulled qwen2.5:0.5b.\n")


def test_pull_errors(ctx: Ctx, fake_ollama: FakeOllama) -> None:
    fake_ollama.unknown_to_registry.add("nosuch")
    assert run(["models", "pull", "nosuch"], ctx) == 1
    assert "cannot find a model named nosuch" in ctx.err.getvalue()
    c = fresh(ctx)
    assert run(["models", "pull"], c) == 2 and "needs a model name" in c.err.getvalue()


# --- wiring and Ctrl-C -------------------------------------------------------------------------------


def test_registered_in_the_quire_parser() -> None:
    from app.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["ask", "How", "much?", "--chat", "x", "-k", "3", "--json"])
    assert args.func.__name__ == "cmd_ask" and args.question == ["How", "much?"] and args.json and args.k == 3
    assert parser.parse_args(["models", "pull", "llama3.2"]).func.__name__ == "cmd_models"
    assert parser.parse_args(["chats", "--json"]).json is True
    with pytest.raises(SystemExit):
        parser.parse_args(["ask", "q", "-k", "0"])


RUNNER = """
import sys
from dataclasses import replace
from app.cli_ask import run
from app.core.config import OllamaSettings, Paths, Settings
from app.core.types import Hit, SearchResult

class Lib:
    def search(self, q, k=8):
        hit = Hit("/d/a.txt", 1, 1.0, "Sixty days of notice are needed. More words follow.")
        return SearchResult((hit,), "hybrid")

class Ctx:
    paths = Paths.default({"QUIRE_HOME": sys.argv[2]})
    settings = replace(Settings(), ollama=OllamaSettings(url=sys.argv[1], timeout_s=30))
    json = False
    out, err = sys.stdout, sys.stderr
    def open_library(self):
        return Lib()

sys.exit(run(["ask", "How much notice?"], Ctx()))
"""


def test_ctrl_c_cancels_cleanly_and_closes_the_stream(fake_ollama: FakeOllama, tmp_path: Path) -> None:
    fake_ollama.delay = 0.3
    # A shell that starts the test run in the background (as CI may) makes SIGINT ignored, and
    # children inherit that; a user's terminal never does. Start the CLI as a terminal would.
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, fake_ollama.url, str(tmp_path)], cwd=str(REPO),
                            env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    watchdog = threading.Timer(20, proc.kill)  # the blocking read below must not hang the run
    watchdog.start()
    try:
        assert proc.stdout is not None
        first = proc.stdout.read(12)  # the first streamed token has reached the terminal
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert fake_ollama.client_closed.wait(5)
        proc.wait(10)
        out = first + proc.stdout.read()  # not communicate(): it would skip what read(12) buffered
        err = proc.stderr.read() if proc.stderr else ""
    finally:
        watchdog.cancel()
        proc.kill()
    assert first == "According to"
    assert fake_ollama.disconnects[0].at - t0 < 0.5
    assert proc.returncode == 130
    assert err.endswith("Cancelled.\n")
    assert out.startswith("According to") and out.endswith("\n")  # the cut line is ended first


def test_through_the_quire_cli(tmp_path: Path, fake_ollama: FakeOllama,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """app.cli's parser, Context and real (empty) Library, in process."""
    from app.cli import Context, build_parser
    from app.core.config import load_settings

    monkeypatch.setenv("QUIRE_OLLAMA_URL", fake_ollama.url)
    paths = Paths.default({"QUIRE_HOME": str(tmp_path / "home")})

    def quire(*argv: str) -> tuple[int, str, str]:
        args = build_parser().parse_args(list(argv))
        ctx = Context(paths=paths, settings=load_settings(paths), json=getattr(args, "json", False),
                      out=io.StringIO(), err=io.StringIO())
        code = args.func(args, ctx)
        return code, ctx.out.getvalue(), ctx.err.getvalue()

    code, out, err = quire("ask", "How much notice?")
    assert code == 0
    assert out == ("No passage in the library matches the question.\n"
                   "(the library is empty: add a folder with `quire index PATH`)\n")
    code, out, _ = quire("models", "--json")
    assert code == 0 and json.loads(out)["url"] == fake_ollama.url
    code, out, _ = quire("ask", "--json", "q")
    assert code == 0 and json.loads(out)["sources"] == []
