"""The window's longest event-loop stall while a 5,000-file folder indexes and answers stream.

A QTimer fires every 10 ms and records how late each tick is (its lateness is time the GUI
thread spent not processing events: a stall). Meanwhile the real MainWindow (offscreen Qt)
indexes a folder of generated text files through the Watcher's writer thread, the
HashEmbedder adds vectors in the background, and questions are asked one after another
against the fake Ollama server, which streams each answer a word at a time.

    .venv/bin/python bench/bench_gui_stall.py [--files 5000] [--json]

Prints max / p99 / p50 stall; the target is a max under 100 ms. Writes bench/out/gui_stall.json.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer  # noqa: E402

TICK_MS = 10
TARGET_MS = 100.0
TEXT = ("the committee agreed that the budget for the garden project would be reviewed again in spring "
        "after the volunteers had counted the tools and measured the plots")
WORDS = TEXT.split(" ")


def make_folder(root: Path, n: int) -> None:
    root.mkdir(parents=True)
    for i in range(n):
        sub = root / f"part-{i // 500:02d}"
        sub.mkdir(exist_ok=True)
        body = " ".join(WORDS[(i + j) % len(WORDS)] for j in range(60))
        (sub / f"note-{i:05d}.txt").write_text(f"Note {i} about plot {i % 97}.\n\n{body}.\n", encoding="utf-8")


def long_answer(messages: list[dict[str, Any]]) -> str:
    return "According to the notes, " + " ".join(WORDS * 3) + " [1]."


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--embedder", choices=("hash", "minilm"), default="hash",
                    help="hash: a cheap bag-of-words stand-in; minilm: the real ONNX model from shared/models")
    ap.add_argument("--min-answers", type=int, default=5, help="keep asking until this many answers streamed")
    ap.add_argument("--max-seconds", type=float, default=120,
                    help="stop measuring after this long even if the embedder is still catching up")
    ap.add_argument("--token-delay", type=float, default=0.01, help="seconds between streamed words")
    ap.add_argument("--switch-interval", type=float, default=0.0,
                    help="sys.setswitchinterval for this run (0: the window's own choice)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON only")
    ap.add_argument("--trace-stalls", metavar="FILE",
                    help="write every thread's stack to FILE whenever the GUI thread is 60 ms late "
                         "(faulthandler's watchdog runs without the GIL, so it sees who holds it)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="quire-stall-"))
    os.environ["QUIRE_HOME"] = str(tmp / "home")
    from app.core import library as library_mod
    from app.core.config import Paths, Settings
    from app.ui.app import create_app
    from app.ui.main_window import MainWindow
    from tests.fake_ollama import FakeOllama
    from tests.helpers.embedders import HashEmbedder

    settings = Settings().with_values({"ollama.url": "http://127.0.0.1:1"})
    if args.embedder == "hash":
        embedder = HashEmbedder()
        library_mod.load_embedder = lambda settings, paths, **kw: embedder  # type: ignore[assignment]
    else:
        minilm = REPO.parent / "shared" / "models" / "all-minilm-l6-v2-onnx"
        settings = settings.with_values({"embedding.backend": "fastembed", "embedding.model_path": str(minilm)})
    folder = tmp / "notes"
    make_folder(folder, args.files)

    app = create_app(sys.argv[:1])
    fake = FakeOllama().start()
    fake.responder = long_answer
    fake.words_per_chunk = 1
    fake.delay = args.token_delay
    paths = Paths.default()
    window = MainWindow(paths, settings.with_values({"ollama.url": fake.url}), str(paths.log_dir / "quire.log"))
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    window.resize(1280, 800)
    window.show()
    window.start()

    def spin(cond: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not cond() and time.monotonic() < deadline:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)

    spin(lambda: window.opened is not None, 60)

    lateness: list[float] = []
    clock = QElapsedTimer()
    last = [0.0]

    trace = open(args.trace_stalls, "w") if args.trace_stalls else None  # noqa: SIM115

    def tick() -> None:
        if trace is not None:
            faulthandler.dump_traceback_later(0.05, repeat=True, file=trace)  # re-armed every tick
        now = clock.nsecsElapsed() / 1e6
        if last[0]:
            lateness.append(max(0.0, now - last[0] - TICK_MS))
        last[0] = now

    timer = QTimer()
    timer.setTimerType(timer.timerType().PreciseTimer)
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)
    clock.start()
    timer.start()

    t0 = time.monotonic()
    window.add_paths([str(folder)])
    answers = tokens = 0
    asking = [False]

    def indexed() -> bool:
        s = window.snap
        return s is not None and s.files >= args.files and not window._indexing

    def done() -> bool:
        # Files indexed, the embedder caught up (or out of time) and enough answers streamed.
        s = window.snap
        over = time.monotonic() - t0 > args.max_seconds
        return indexed() and (over or (s is not None and s.backlog == 0 and answers >= args.min_answers))

    def ask() -> None:
        nonlocal answers
        if window.ask_task is None and not asking[0]:
            answers += 1
            window.conversation.edit.setPlainText(f"What did the committee agree about plot {answers}?")
            window.conversation._submit()

    # Questions start once the first batch is searchable, and keep coming until indexing is done.
    spin(lambda: window.snap is not None and window.snap.chunks > 0, 120)
    index_s = 0.0
    while not done() and time.monotonic() - t0 < 900:
        ask()
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        if not index_s and indexed():
            index_s = time.monotonic() - t0
    measured_s = time.monotonic() - t0
    backlog = window.snap.backlog if window.snap is not None else -1
    spin(lambda: window.ask_task is None, 60)
    tokens = sum(len(t.text.split()) for t in window.conversation.turns)
    timer.stop()
    if trace is not None:
        faulthandler.cancel_dump_traceback_later()
        trace.close()

    window.close()
    spin(lambda: window._closed, 60)
    fake.stop()
    shutil.rmtree(tmp, ignore_errors=True)

    ordered = sorted(lateness)
    result = {
        "files": args.files, "embedder": args.embedder, "index_seconds": round(index_s, 1),
        "measured_seconds": round(measured_s, 1), "embed_backlog_at_end": backlog,
        "answers": answers, "streamed_words": tokens,
        "ticks": len(lateness), "stall_max_ms": round(ordered[-1], 1) if ordered else None,
        "stall_p99_ms": round(ordered[int(len(ordered) * 0.99) - 1], 1) if ordered else None,
        "stall_p50_ms": round(statistics.median(ordered), 1) if ordered else None,
        "target_ms": TARGET_MS, "switch_interval_s": sys.getswitchinterval(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "load_average": os.getloadavg()[0],
    }
    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "gui_stall.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.files:,} files indexed in {index_s:.1f} s ({args.embedder} embedder; measured for "
              f"{measured_s:.1f} s, {backlog:,} chunks left to embed at the end) while {answers} answers streamed "
              f"({tokens:,} words); {len(lateness):,} ticks of {TICK_MS} ms")
        print(f"event-loop stall: max {result['stall_max_ms']} ms, p99 {result['stall_p99_ms']} ms, "
              f"p50 {result['stall_p50_ms']} ms (target: max < {TARGET_MS:.0f} ms; "
              f"load average {result['load_average']:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
