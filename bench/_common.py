"""Shared helpers for the benchmarks: corpora, measured subprocesses, embedders, tables, JSON out.

Nothing here asserts anything: the benchmarks print figures and write them to bench/out/.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
OUT = BENCH / "out"
SHARED = Path(os.environ.get("QUIRE_SHARED", REPO.parent / "shared"))
MINILM = SHARED / "models" / "all-minilm-l6-v2-onnx"
M2V = SHARED / "models" / "m2v-minilm-256"
SCIFACT = SHARED / "eval" / "scifact"
EVAL_DOCS = SHARED / "eval" / "docs"
PY = str(REPO / ".venv" / "bin" / "python")
QUIRE = str(REPO / ".venv" / "bin" / "quire")
MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"


# --- corpora ---------------------------------------------------------------------------------

def scifact_docs() -> list[dict[str, str]]:
    with open(SCIFACT / "corpus.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def scifact_queries() -> dict[str, str]:
    out: dict[str, str] = {}
    with open(SCIFACT / "queries.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                out[d["_id"]] = d["text"]
        return out


def sample_queries(n: int, seed: int = 7) -> list[str]:
    qs = list(scifact_queries().values())
    random.Random(seed).shuffle(qs)
    return qs[:n]


def real_text_files() -> list[Path]:
    """The plain-text and Markdown files of the shared robustness corpus (real prose)."""
    if not EVAL_DOCS.is_dir():
        return []
    out = [p for p in sorted(EVAL_DOCS.rglob("*"))
           if p.is_file() and not p.is_symlink() and p.suffix.lower() in (".txt", ".md")]
    return out


def make_mixed_corpus(dest: Path, n_files: int, bytes_per_file: int, *, seed: int = 1,
                      unique: bool = False, real: bool = True) -> dict[str, Any]:
    """Write a reproducible corpus of .txt and .md files into ``dest``.

    ``real``: the .txt/.md files of shared/eval/docs are copied first (real/...). The rest are
    generated from SciFact abstracts concatenated until a file reaches ``bytes_per_file``:
    even-numbered files are Markdown ("# title" heading per abstract), odd ones plain text.
    ``unique``: no abstract is used twice (so no two chunks share a text and nothing is
    deduplicated), otherwise abstracts are reused in a seeded shuffled order.
    """
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    rng = random.Random(seed)
    docs = scifact_docs()
    order = list(range(len(docs)))
    rng.shuffle(order)
    pos = 0
    total = 0
    n_real = 0
    if real:
        for p in real_text_files():
            if n_real >= n_files:
                break
            rel = p.relative_to(EVAL_DOCS)
            name = "__".join(rel.parts)
            target = dest / "real" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, target)
            total += target.stat().st_size
            n_real += 1
    for i in range(n_files - n_real):
        md = i % 2 == 0
        parts: list[str] = []
        size = 0
        while size < bytes_per_file:
            if pos >= len(order):
                if unique:
                    break
                rng.shuffle(order)
                pos = 0
            d = docs[order[pos]]
            pos += 1
            piece = (f"# {d['title']}\n\n{d['text']}\n\n" if md else f"{d['title']}\n\n{d['text']}\n\n")
            parts.append(piece)
            size += len(piece.encode("utf-8"))
        if not parts:
            break
        sub = dest / "gen" / f"{i // 100:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        f = sub / f"doc{i:05d}.{'md' if md else 'txt'}"
        f.write_text("".join(parts), encoding="utf-8")
        total += f.stat().st_size
    files = sum(1 for p in dest.rglob("*") if p.is_file())
    return {"files": files, "bytes": total, "real_files": n_real, "seed": seed, "unique": unique}


# --- measured subprocesses -------------------------------------------------------------------

def _system_busy_s() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores; idle, iowait and steal excluded)."""
    with open("/proc/stat", encoding="ascii") as f:
        parts = f.readline().split()[1:]
    v = [int(x) for x in parts]
    user, nice, system, _idle, _iowait, irq, softirq = v[:7]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


QUIET_MAX_WAIT = float(os.environ.get("BENCH_QUIET_WAIT", "180"))


def wait_quiet(max_wait: float = QUIET_MAX_WAIT, threshold: float = 0.3, window: float = 1.0,
               need: int = 3) -> float:
    """Wait (up to ``max_wait`` s) until the machine has been nearly idle for ``need`` windows in a
    row: other people's test runs share these 2 cores. Returns the seconds waited."""
    t0 = time.perf_counter()
    quiet = 0
    while quiet < need and time.perf_counter() - t0 < max_wait:
        b0 = _system_busy_s()
        time.sleep(window)
        quiet = quiet + 1 if (_system_busy_s() - b0) / window < threshold else 0
    return time.perf_counter() - t0


def run_measured(cmd: Sequence[str], env: dict[str, str] | None = None, timeout: float = 7200,
                 poll: float = 0.05, check: bool = True, quiet: bool = True) -> dict[str, Any]:
    """Run ``cmd``; return wall seconds, stdout, stderr, exit code, CPU time and peak memory.

    ``peak_rss_main``: the process's own highest sampled RSS. ``peak_rss_tree``: the highest sum
    of RSS over the process and all its descendants (parser workers, forkserver), sampled every
    ``poll`` seconds. (wait4's ru_maxrss is not used: Linux carries the parent's high-water mark
    into a forked child across exec, so a child of a big benchmark process would report the
    parent's size.)
    ``cpu_s``: user + system seconds of the process tree (children sampled, so the last
    ``poll`` seconds of a short-lived child can be missed). ``other_load``: how many cores
    other processes on the machine kept busy on average meanwhile (this machine is shared:
    a figure taken while someone else's tests ran is marked by it).
    """
    import psutil

    full_env = {**os.environ, **(env or {})}
    waited = wait_quiet() if quiet and QUIET_MAX_WAIT > 0 else 0.0
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        busy0 = _system_busy_s()
        t0 = time.perf_counter()
        p = subprocess.Popen(list(cmd), stdout=out, stderr=err, env=full_env, cwd=str(REPO))
        try:
            ps = psutil.Process(p.pid)
        except psutil.NoSuchProcess:
            ps = None
        peak_tree = 0
        peak_main = 0
        cpu: dict[int, float] = {}
        status = None
        ru = None
        while True:
            pid, st, r = os.wait4(p.pid, os.WNOHANG)
            if pid == p.pid:
                status, ru = st, r
                break
            if time.perf_counter() - t0 > timeout:
                p.kill()
                pid, status, ru = os.wait4(p.pid, 0)
                break
            if ps is not None:
                total = 0
                try:
                    procs = [ps, *ps.children(recursive=True)]
                except psutil.Error:
                    procs = [ps]
                for c in procs:
                    try:
                        with c.oneshot():
                            rss = c.memory_info().rss
                            total += rss
                            if c.pid == p.pid:
                                peak_main = max(peak_main, rss)
                            ct = c.cpu_times()
                            cpu[c.pid] = ct.user + ct.system
                    except psutil.Error:
                        pass
                peak_tree = max(peak_tree, total)
            time.sleep(poll)
        wall = time.perf_counter() - t0
        busy = _system_busy_s() - busy0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    main_cpu = (ru.ru_utime + ru.ru_stime) if ru else 0.0
    # wait4's figure is exact for the process and the children it reaped; the sampled sum covers
    # children it never reaps (forkserver workers). Taking the larger never counts twice.
    cpu_s = max(main_cpu, sum(cpu.values()))
    res = {"cmd": list(cmd), "wall_s": wall, "rc": p.returncode, "stdout": stdout, "stderr": stderr,
           "peak_rss_main": peak_main, "peak_rss_tree": max(peak_tree, 0),
           "cpu_s": cpu_s, "other_load": max(0.0, (busy - cpu_s) / wall) if wall > 0 else 0.0,
           "waited_for_quiet_s": waited}
    if check and p.returncode != 0:
        sys.stderr.write(f"command failed ({p.returncode}): {' '.join(cmd)}\n{stderr[-4000:]}\n")
        raise SystemExit(1)
    return res


def quire_env(home: Path, embedder: str) -> dict[str, str]:
    """Environment for a `quire` subprocess. ``embedder``: none | minilm | zero | m2v.

    zero and m2v are injected by bench/_quire_driver.py (QUIRE_BENCH_EMBEDDER); the settings
    still name MiniLM and its model_path so chunks are counted in MiniLM's tokens."""
    env = {"QUIRE_HOME": str(home), "TOKENIZERS_PARALLELISM": "false"}
    if embedder == "none":
        env["QUIRE_EMBEDDING_BACKEND"] = "none"
    else:
        env["QUIRE_EMBEDDING_BACKEND"] = "fastembed"
        env["QUIRE_EMBEDDING_MODEL_PATH"] = str(MINILM)
    if embedder in ("zero", "m2v"):
        env["QUIRE_BENCH_EMBEDDER"] = embedder
    return env


def quire_cmd(embedder: str, *args: str) -> list[str]:
    """`quire ARGS` as a user runs it, or through the driver when an embedder is injected."""
    if embedder in ("zero", "m2v"):
        return [PY, str(BENCH / "_quire_driver.py"), "cli", *args]
    return [QUIRE, *args]


def quire_index(home: Path, embedder: str, *paths: str, settings: dict[str, str] | None = None) -> dict[str, Any]:
    r = run_measured(quire_cmd(embedder, "index", *paths, "--json"), env={**quire_env(home, embedder),
                                                                          **(settings or {})})
    r["report"] = json.loads(r["stdout"])
    return r


# --- numbers and tables ----------------------------------------------------------------------

def pct(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def mb(n: float) -> str:
    return f"{n / 1024 / 1024:,.0f} MB"


def secs(s: float) -> str:
    if s != s:  # nan
        return "-"
    if s < 0.001:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1000:.1f} ms"
    return f"{s:.2f} s"


def ratio(a: float, b: float) -> str:
    if not b or a != a or b != b:
        return "-"
    r = a / b
    return f"{r:.1f}x" if r >= 10 else f"{r:.2f}x"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(c) for c in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, r in enumerate(cells):
        lines.append("| " + " | ".join(c.ljust(widths[i]) for i, c in enumerate(r)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    import psutil

    return {"cpus": os.cpu_count(), "ram_gb": round(psutil.virtual_memory().total / 1024 ** 3, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "git": _git_rev()}


def _git_rev() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, check=False).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "app"], cwd=REPO, capture_output=True,
                               text=True, check=False).stdout.strip()
        return rev + ("+uncommitted app changes" if dirty else "")
    except OSError:
        return ""


def write_result(name: str, doc: dict[str, Any]) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    doc = {"benchmark": name, "date": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), **doc}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = OUT / f"{name}-{stamp}.json"
    text = json.dumps(doc, indent=2, default=str)
    path.write_text(text, encoding="utf-8")
    (OUT / f"{name}-latest.json").write_text(text, encoding="utf-8")
    return path


def settings_key(d: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:10]


def workdir(name: str) -> Path:
    """A scratch folder for one benchmark run (under /tmp unless BENCH_TMP says otherwise)."""
    base = Path(os.environ.get("BENCH_TMP", tempfile.gettempdir()))
    d = base / f"quire-bench-{name}-{os.getpid()}"
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    return d
