"""Watch mode: how soon an edit is searchable, what a burst of new files costs, what idle watching costs.

    .venv/bin/python bench/bench_watch.py                  # ~5 min on 2 cores (plus waits for a quiet machine)
    .venv/bin/python bench/bench_watch.py --quick          # smaller corpora, shorter idle
    .venv/bin/python bench/bench_watch.py --embedder hash  # with the background embedder thread running

Embedder (--embedder, default none): "none" is embedding.backend = "none" (keyword search only: the
figures are the watch pipeline's own cost). "hash" injects tests/helpers/embedders.HashEmbedder (a
bag of hashed words, costs next to nothing) in place of the model, so the background embedder
thread runs too. Words are searchable right after a run either way; vectors follow in the background.

Corpus: one SciFact abstract per file (~1.5 KB; even files Markdown, odd plain text; folders of
100) from $QUIRE_SHARED/eval/scifact (default ../shared), or generated text if that is absent.

1. latency    A library of 200 files is watched in this process (app.core.watch.Watcher). 100 times:
              append a unique word to one file, then poll a keyword search (every 5 ms) until that
              file is the top hit for the word. Reported: p50/p95/max from the write to searchable,
              and the run's own seconds (most of the rest is the debounce: 0.4 s of quiet).
2. burst      `quire watch --json` (a subprocess) watches an empty library folder; `cp -r` copies
              5,000 new files into it. Until its JSON lines have reported all 5,000 added: runs, wall
              from the copy's start, the runs' own seconds, chunks written, CPU of the process tree
              from the copy on. Compared with `quire index` of the same files in a fresh home (one
              run; its wall and CPU include Python start-up, ~2 s).
3. idle       10,000 files indexed first, then `quire watch` over them; after the catch-up and a
              3 s settle, the process tree's CPU time over 30 s of no changes, the runs made
              meanwhile (should be 0), threads, RSS, inotify watches held.

CPU is user + system of a process and its descendants (psutil, sampled per pid: parse workers hang
off a forkserver, which the kernel's rusage of the main process misses). The machine may be shared:
each timed part first waits (up to 3 min) until other processes leave the CPUs nearly idle, and the
load average is recorded. Nothing is asserted; figures print as a table and go to bench/out/.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
SHARED = Path(os.environ.get("QUIRE_SHARED", REPO.parent / "shared"))
QUIRE = REPO / ".venv" / "bin" / "quire"
HASH_ENV = "QUIRE_BENCH_HASH_EMBEDDER"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _common import mb, pct, scifact_docs, secs, table  # noqa: E402

# --- helpers -------------------------------------------------------------------------------------

def make_corpus(dest: Path, n: int, seed: int) -> dict[str, Any]:
    """``n`` files of ~1.5 KB in folders of 100: SciFact abstracts (reused, shuffled, when n exceeds
    them) or generated sentences when the shared corpus is absent."""
    rng = random.Random(seed)
    scifact = SHARED / "eval" / "scifact" / "corpus.jsonl"
    docs: list[tuple[str, str]] = []
    if scifact.is_file():
        with open(scifact, encoding="utf-8") as f:
            docs = [(d["title"], d["text"]) for d in map(json.loads, filter(str.strip, f))]
    else:
        words = [f"{a}{b}" for a in ("ka", "lo", "mi", "nu", "pe", "ro", "si", "tu") for b in
                 ("ber", "dan", "fel", "gor", "hin", "jas", "kul", "mor")]
        for i in range(2000):
            text = " ".join(" ".join(rng.choice(words) for _ in range(12)) + "." for _ in range(15))
            docs.append((f"Document {i}", text))
    order = list(range(len(docs)))
    rng.shuffle(order)
    if dest.exists():
        shutil.rmtree(dest)
    total = 0
    for i in range(n):
        title, text = docs[order[i % len(order)]]
        md = i % 2 == 0
        f = dest / f"{i // 100:03d}" / f"doc{i:05d}.{'md' if md else 'txt'}"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(f"# {title}\n\n{text}\n" if md else f"{title}\n\n{text}\n", encoding="utf-8")
        total += f.stat().st_size
    return {"files": n, "bytes": total, "source": "scifact" if scifact.is_file() else "generated"}


def quire_env(home: Path, embedder: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUIRE_")}
    env.update({"QUIRE_HOME": str(home), "PYTHONPATH": str(REPO)})
    if embedder == "none":
        env["QUIRE_EMBEDDING_BACKEND"] = "none"
    else:
        env[HASH_ENV] = "1"
    return env


def quire_cmd(embedder: str, *args: str) -> list[str]:
    """`quire ARGS` as a user runs it, or through this file's --cli mode to inject the HashEmbedder."""
    if embedder == "hash":
        return [sys.executable, str(Path(__file__).resolve()), "--cli", *args]
    return [str(QUIRE), *args]


def use_hash_embedder() -> None:
    from app.core import library as library_mod
    from tests.helpers.embedders import HashEmbedder

    emb = HashEmbedder()
    library_mod.load_embedder = lambda settings, paths, **kw: None if settings.embedding.backend == "none" else emb


def _busy_cpu_s() -> float:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:8]]
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / os.sysconf("SC_CLK_TCK")


def wait_quiet(max_wait: float = 180.0, threshold: float = 0.3) -> float:
    """Wait until the machine has used under ``threshold`` of a core for 3 s in a row (at most
    ``max_wait`` s): other people's jobs may share these cores. Returns the seconds waited."""
    t0 = time.perf_counter()
    quiet = 0
    while quiet < 3 and time.perf_counter() - t0 < max_wait:
        b0 = _busy_cpu_s()
        time.sleep(1.0)
        quiet = quiet + 1 if _busy_cpu_s() - b0 < threshold else 0
    return time.perf_counter() - t0


class TreeCPU:
    """CPU seconds of a process and its descendants, sampled per pid in a thread."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        import psutil

        self.proc = psutil.Process(pid)
        self.every = every
        self.cpu: dict[int, float] = {}
        self.lock = threading.Lock()
        self.done = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def sample(self) -> float:
        import psutil

        try:
            procs = [self.proc, *self.proc.children(recursive=True)]
        except psutil.Error:
            procs = [self.proc]
        with self.lock:
            for p in procs:
                try:
                    c = p.cpu_times()
                    self.cpu[p.pid] = max(self.cpu.get(p.pid, 0.0), c.user + c.system)
                except psutil.Error:
                    pass
            return sum(self.cpu.values())

    def _run(self) -> None:
        while not self.done.wait(self.every):
            self.sample()


def run_index(home: Path, embedder: str, folder: Path) -> dict[str, Any]:
    """`quire index FOLDER --json`: wall, CPU of its process tree, its report."""
    t0 = time.perf_counter()
    p = subprocess.Popen(quire_cmd(embedder, "index", str(folder), "--json"), env=quire_env(home, embedder),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(REPO))
    cpu = TreeCPU(p.pid)
    out, err = p.communicate()
    wall = time.perf_counter() - t0
    cpu.done.set()
    if p.returncode != 0:
        raise SystemExit(f"quire index failed ({p.returncode}):\n{err[-3000:]}")
    return {"wall_s": wall, "cpu_s": sum(cpu.cpu.values()), "report": json.loads(out)}


class WatchProcess:
    """`quire watch --json` as a subprocess; its JSON lines (one per run) arrive on a queue."""

    def __init__(self, home: Path, embedder: str) -> None:
        self.p = subprocess.Popen(quire_cmd(embedder, "watch", "--json"), env=quire_env(home, embedder),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(REPO))
        self.lines: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self.reports: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        self.cpu = TreeCPU(self.p.pid)
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.p.stderr), daemon=True).start()  # type: ignore[arg-type]

    def _read(self) -> None:
        for line in self.p.stdout:  # type: ignore[union-attr]
            if line.strip():
                self.lines.put(json.loads(line))

    def wait_reports(self, until: Callable[[list[dict[str, Any]]], bool], timeout: float = 3600) -> None:
        deadline = time.monotonic() + timeout
        while not until(self.reports):
            if time.monotonic() > deadline:
                raise SystemExit(f"quire watch: timed out\n{''.join(self.stderr)[-3000:]}")
            try:
                self.reports.append(self.lines.get(timeout=1))
            except queue.Empty:
                if self.p.poll() is not None:
                    raise SystemExit(f"quire watch exited {self.p.returncode}\n"
                                     f"{''.join(self.stderr)[-3000:]}") from None

    def drain(self) -> None:
        while True:
            try:
                self.reports.append(self.lines.get_nowait())
            except queue.Empty:
                return

    def stop(self) -> int:
        self.p.send_signal(signal.SIGINT)
        rc = self.p.wait(120)
        self.cpu.done.set()
        time.sleep(0.2)
        self.drain()
        return rc


# --- 1. latency ------------------------------------------------------------------------------------

def bench_latency(work: Path, embedder: str, n_files: int, edits: int) -> dict[str, Any]:
    home = work / "home-latency"
    corpus = work / "latency-docs"
    make_corpus(corpus, n_files, seed=11)
    os.environ.update(quire_env(home, embedder))
    if embedder == "hash":
        use_hash_embedder()
    from app.core.config import Paths, load_settings
    from app.core.library import Library
    from app.core.watch import Watcher

    paths = Paths.default()
    lib = Library.open(paths, load_settings(paths), write=True)
    lib.index([str(corpus)])
    reports: list[Any] = []
    w = Watcher(lib, on_report=reports.append)
    w.start()
    while not reports:
        time.sleep(0.01)
    files = sorted(p for p in corpus.rglob("*") if p.is_file())
    waited = wait_quiet()
    load = os.getloadavg()[0]
    lat: list[float] = []
    run_s: list[float] = []
    try:
        for i in range(edits):
            f = files[(i * 7) % len(files)]
            word = f"zqmark{i:04d}x"
            n = len(reports)
            with open(f, "a", encoding="utf-8") as fh:
                fh.write(f"\n\nAn edit that mentions {word}.\n")
            t0 = time.perf_counter()
            while True:
                hits = lib.search(word, k=1).hits
                if hits and hits[0].path == str(f) and word in hits[0].text:
                    break
                if time.perf_counter() - t0 > 60:
                    raise SystemExit(f"edit {i} never became searchable")
                time.sleep(0.005)
            lat.append(time.perf_counter() - t0)
            while len(reports) == n:  # the run finishes before the next edit
                time.sleep(0.005)
            run_s.append(sum(r.seconds for r in reports[n:]))
            time.sleep(0.05)
    finally:
        w.stop()
        lib.close()
    res = {"files": n_files, "edits": edits, "latency_s": lat, "run_s": run_s,
           "p50_s": pct(lat, 50), "p95_s": pct(lat, 95), "max_s": max(lat),
           "run_p50_s": pct(run_s, 50), "run_p95_s": pct(run_s, 95), "debounce_s": w.debounce_s,
           "waited_for_quiet_s": waited, "loadavg_1m_at_start": load}
    print(f"  latency: p50 {secs(res['p50_s'])}, p95 {secs(res['p95_s'])}, max {secs(res['max_s'])}; "
          f"the run itself p50 {secs(res['run_p50_s'])}, p95 {secs(res['run_p95_s'])}", flush=True)
    return res


# --- 2. burst --------------------------------------------------------------------------------------

def bench_burst(work: Path, embedder: str, n_files: int) -> dict[str, Any]:
    src = work / "burst-src"
    info = make_corpus(src, n_files, seed=5)
    home_w, folder = work / "home-burst-watch", work / "burst-watched"
    folder.mkdir()
    subprocess.run(quire_cmd(embedder, "library", "add", str(folder)), env=quire_env(home_w, embedder), check=True,
                   capture_output=True, cwd=str(REPO))
    wp = WatchProcess(home_w, embedder)
    wp.wait_reports(lambda r: len(r) >= 1)  # caught up (nothing there yet)
    base = len(wp.reports)
    wait_quiet()
    load_w = os.getloadavg()[0]
    cpu0 = wp.cpu.sample()
    t0 = time.perf_counter()
    subprocess.run(["cp", "-r", str(src), str(folder / "batch")], check=True)
    copy_s = time.perf_counter() - t0
    wp.wait_reports(lambda r: sum(x["files_added"] for x in r[base:]) >= n_files)
    all_s = time.perf_counter() - t0
    cpu_s = wp.cpu.sample() - cpu0
    rc = wp.stop()
    runs = wp.reports[base:]
    watch = {"runs": len(runs), "copy_s": copy_s, "wall_to_all_indexed_s": all_s,
             "runs_seconds": sum(r["seconds"] for r in runs), "chunks_written": sum(r["chunks_written"] for r in runs),
             "files_added": sum(r["files_added"] for r in runs), "added_per_run": [r["files_added"] for r in runs],
             "cpu_s": cpu_s, "rc": rc, "loadavg_1m_at_start": load_w}
    print(f"  burst, quire watch: {watch['runs']} run(s) {watch['added_per_run']}, all {n_files:,} searchable "
          f"{secs(all_s)} after the copy began (copy {secs(copy_s)}), runs {secs(watch['runs_seconds'])}, "
          f"{watch['chunks_written']:,} chunks, CPU {secs(cpu_s)}", flush=True)

    wait_quiet()
    load_i = os.getloadavg()[0]
    r = run_index(work / "home-burst-index", embedder, src)
    rep = r["report"]
    index = {"runs": 1, "wall_s": r["wall_s"], "run_seconds": rep["seconds"], "chunks_written": rep["chunks_written"],
             "files_added": rep["files_added"], "cpu_s": r["cpu_s"], "loadavg_1m_at_start": load_i}
    print(f"  burst, quire index: wall {secs(index['wall_s'])} (Python start-up included), run "
          f"{secs(index['run_seconds'])}, {index['chunks_written']:,} chunks, CPU {secs(index['cpu_s'])}", flush=True)
    shutil.rmtree(src, ignore_errors=True)
    return {**info, "watch": watch, "index": index}


# --- 3. idle ---------------------------------------------------------------------------------------

def inotify_watches(pid: int) -> int:
    n = 0
    try:
        for fd in os.listdir(f"/proc/{pid}/fdinfo"):
            try:
                with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                    n += sum(1 for line in f if line.startswith("inotify wd:"))
            except OSError:
                pass
    except OSError:
        return -1
    return n


def bench_idle(work: Path, embedder: str, n_files: int, idle_s: float) -> dict[str, Any]:
    corpus = work / "idle-docs"
    info = make_corpus(corpus, n_files, seed=9)
    home = work / "home-idle"
    r = run_index(home, embedder, corpus)
    print(f"  idle: indexed {n_files:,} files first in {secs(r['wall_s'])}", flush=True)
    wp = WatchProcess(home, embedder)
    wp.wait_reports(lambda r: len(r) >= 1)
    catch_up = wp.reports[0]
    time.sleep(3)
    wp.cpu.done.set()  # sample only at both ends: the sampler must not be what keeps it busy
    wp.drain()
    runs_before = len(wp.reports)
    c0, t0 = wp.cpu.sample(), time.perf_counter()
    time.sleep(idle_s)
    c1, t1 = wp.cpu.sample(), time.perf_counter()
    wp.drain()
    threads = wp.cpu.proc.num_threads()
    rss = wp.cpu.proc.memory_info().rss
    watches = inotify_watches(wp.p.pid)
    dirs = sum(1 for p in corpus.rglob("*") if p.is_dir()) + 1
    wp.stop()
    res = {**info, "dirs": dirs, "idle_s": t1 - t0, "cpu_s": c1 - c0,
           "cpu_percent_of_one_core": 100 * (c1 - c0) / (t1 - t0), "runs_while_idle": len(wp.reports) - runs_before,
           "threads": threads, "rss": rss, "inotify_watches": watches, "catch_up_s": catch_up["seconds"]}
    print(f"  idle: {res['cpu_s']:.3f} s CPU over {res['idle_s']:.0f} s ({res['cpu_percent_of_one_core']:.2f}% of "
          f"one core), {res['runs_while_idle']} runs, {threads} threads, RSS {mb(rss)}, {watches} inotify watches "
          f"for {dirs} folders; catch-up run {secs(catch_up['seconds'])}", flush=True)
    shutil.rmtree(corpus, ignore_errors=True)
    return res


def bench_hotlog(work: Path, embedder: str, mb_size: float, seconds: float) -> dict[str, Any]:
    """A log a program keeps appending to (4 lines a second) in a watched folder: the CPU the
    watcher spends on it, and how stale its index of the log gets. Without a cooldown every
    append re-parsed and re-wrote the whole file."""
    folder = work / "hotlog"
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "server.log"
    rnd = random.Random(5)
    words = [d["title"].split()[0] for d in scifact_docs()[:2000]]
    with open(log, "w", encoding="utf-8") as f:
        i = 0
        while f.tell() < mb_size * 1024 * 1024:
            f.write(f"2026-11-27 12:00:{i % 60:02d} INFO request {i} served {rnd.choice(words)} in {i % 97} ms\n")
            i += 1
    home = work / "home-hotlog"
    first = run_index(home, embedder, folder)
    wp = WatchProcess(home, embedder)
    wp.wait_reports(lambda r: len(r) >= 1)
    time.sleep(2)
    wp.drain()
    runs0 = len(wp.reports)
    c0, t0 = wp.cpu.sample(), time.perf_counter()
    n = 0
    while time.perf_counter() - t0 < seconds:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"2026-11-27 12:01:00 INFO late line {n}\n")
        n += 1
        time.sleep(0.25)
    c1, t1 = wp.cpu.sample(), time.perf_counter()
    wp.drain()
    runs = len(wp.reports) - runs0
    wp.stop()
    res = {"mb": log.stat().st_size / 2**20, "appends": n, "seconds": t1 - t0, "cpu_s": c1 - c0,
           "cpu_percent_of_one_core": 100 * (c1 - c0) / (t1 - t0), "runs": runs,
           "first_index_s": first["report"]["seconds"]}
    print(f"  hot log: {res['mb']:.1f} MB appended to {n} times in {res['seconds']:.0f} s: {res['cpu_s']:.1f} s CPU "
          f"({res['cpu_percent_of_one_core']:.0f}% of one core), {runs} runs; indexing it once takes "
          f"{secs(res['first_index_s'])}", flush=True)
    shutil.rmtree(folder, ignore_errors=True)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--embedder", default="none", choices=["none", "hash"])
    ap.add_argument("--edits", type=int, default=100)
    ap.add_argument("--burst", type=int, default=5000)
    ap.add_argument("--idle-files", type=int, default=10000)
    ap.add_argument("--idle-seconds", type=float, default=30.0)
    ap.add_argument("--hotlog-mb", type=float, default=10.0)
    ap.add_argument("--hotlog-seconds", type=float, default=30.0)
    ap.add_argument("--only", default="latency,burst,idle,hotlog", help="comma-separated parts to run")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    a = ap.parse_args()
    if a.quick:
        a.edits, a.burst, a.idle_files, a.idle_seconds = 30, 1000, 2000, 10.0
        a.hotlog_mb, a.hotlog_seconds = 3.0, 10.0
    work = Path(tempfile.mkdtemp(prefix="quire-bench-watch-"))
    parts = set(a.only.split(","))
    result: dict[str, Any] = {"embedder": a.embedder, "quick": a.quick, "cpus": os.cpu_count()}
    print(f"# watch mode, embedder {a.embedder}", flush=True)
    try:
        if "latency" in parts:
            result["latency"] = bench_latency(work, a.embedder, 200, a.edits)
        if "burst" in parts:
            result["burst"] = bench_burst(work, a.embedder, a.burst)
        if "idle" in parts:
            result["idle"] = bench_idle(work, a.embedder, a.idle_files, a.idle_seconds)
        if "hotlog" in parts:
            result["hotlog"] = bench_hotlog(work, a.embedder, a.hotlog_mb, a.hotlog_seconds)
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    rows = []
    if "latency" in result:
        lt = result["latency"]
        rows.append(["write -> searchable", f"{lt['edits']} edits, {lt['files']} files",
                     f"p50 {secs(lt['p50_s'])}, p95 {secs(lt['p95_s'])}, max {secs(lt['max_s'])}",
                     f"the run itself: p50 {secs(lt['run_p50_s'])}; debounce {secs(lt['debounce_s'])}"])
    if "burst" in result:
        b = result["burst"]
        w, ix = b["watch"], b["index"]
        rows.append([f"burst: {b['files']:,} new files", "quire watch (cp -r into a watched folder)",
                     f"{w['runs']} run(s); all searchable {secs(w['wall_to_all_indexed_s'])} after the copy began",
                     f"runs {secs(w['runs_seconds'])}, {w['chunks_written']:,} chunks, CPU {secs(w['cpu_s'])}"])
        rows.append(["", "quire index (same files, fresh home)", f"1 run; wall {secs(ix['wall_s'])} with start-up",
                     f"run {secs(ix['run_seconds'])}, {ix['chunks_written']:,} chunks, CPU {secs(ix['cpu_s'])}"])
    if "idle" in result:
        i = result["idle"]
        rows.append([f"idle: {i['files']:,} files watched", f"{i['idle_s']:.0f} s without changes",
                     f"{i['cpu_s']:.3f} s CPU ({i['cpu_percent_of_one_core']:.2f}% of one core)",
                     f"{i['runs_while_idle']} runs, {i['threads']} threads, RSS {mb(i['rss'])}, "
                     f"{i['inotify_watches']} inotify watches"])
    if "hotlog" in result:
        h = result["hotlog"]
        rows.append([f"hot log: {h['mb']:.1f} MB", f"appended {h['appends']} times in {h['seconds']:.0f} s",
                     f"{h['cpu_s']:.1f} s CPU ({h['cpu_percent_of_one_core']:.0f}% of one core)",
                     f"{h['runs']} runs; one indexing of it {secs(h['first_index_s'])}"])
    print("\n" + table(["measure", "setup", "result", "detail"], rows))
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / f"watch-{a.embedder}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"benchmark": "watch", "date": time.strftime("%Y-%m-%d %H:%M:%S"), **result},
                              indent=2), encoding="utf-8")
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--cli":
        # `quire ARGS` with the HashEmbedder injected (the subprocesses of --embedder hash).
        if os.environ.get(HASH_ENV):
            use_hash_embedder()
        from app.cli import main as quire_main

        raise SystemExit(quire_main(sys.argv[2:]))
    raise SystemExit(main())
