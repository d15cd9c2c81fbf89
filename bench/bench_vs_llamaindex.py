"""Quire against the recipe it replaces: the LlamaIndex default, same corpus, same embedder, same run.

    .venv/bin/python bench/bench_vs_llamaindex.py            # full: ~15-20 min on 2 cores
    .venv/bin/python bench/bench_vs_llamaindex.py --quick    # smoke size, ~2 min
    .venv/bin/python bench/bench_vs_llamaindex.py --only zero|minilm

LlamaIndex side (bench/_llama_driver.py, its own process per phase):
  SimpleDirectoryReader(dir, recursive=True).load_data(); VectorStoreIndex.from_documents(docs,
  embed_model=...); index.storage_context.persist(dir); later, in a fresh process,
  load_index_from_storage(StorageContext.from_defaults(persist_dir=dir)) and
  .as_retriever(similarity_top_k=10).retrieve(q).
Quire side: `quire index DIR --json` and `quire search Q --json` as a user runs them (fresh
processes), plus a fresh process that opens the library and times 1 + 20 queries in-process
(bench/_quire_driver.py reopen).

Two embedders:
  zero   costs nothing (the same unit vector for every text), to expose pipeline overhead.
         LlamaIndex: a BaseEmbedding subclass. Quire: (a) embedding.backend = "none" (no vectors
         at all, keyword search), and (b) the zero embedder injected in place of
         app.core.embed.load_embedder (full pipeline: vectors table, hybrid search).
         Corpus: the .txt/.md files of shared/eval/docs + generated SciFact files, ~1,500 files, ~29 MB.
  minilm all-MiniLM-L6-v2 ONNX through fastembed on both sides (FastEmbedEmbedding with
         specific_model_path for LlamaIndex). Corpus: 300 files of distinct SciFact abstracts
         (~3,000 Quire chunks). LlamaIndex runs twice: its default chunking (1,024 tokens, which
         MiniLM silently cuts at 256) and chunk_size=240/overlap=40 like Quire's. Then "the model
         alone" (bench/_model_alone.py) embeds exactly the chunk texts Quire stored, batch 32.

Peak memory is the highest sampled sum of RSS over the process and its children (Quire's
parser workers included); the process's own kernel high-water mark is in the JSON too.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    BENCH,
    PY,
    make_mixed_corpus,
    mb,
    median,
    quire_cmd,
    quire_env,
    quire_index,
    ratio,
    run_measured,
    sample_queries,
    secs,
    table,
    workdir,
    write_result,
)


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def best_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the least wall time (interference from other processes only adds time)."""
    best = min(runs, key=lambda r: r["wall_s"])
    return {**best, "all_wall_s": [r["wall_s"] for r in runs]}


def run_quire(corpus: Path, work: Path, embedder: str, queries: Path, label: str,
              repeat: int = 1, settings: dict[str, str] | None = None) -> dict[str, Any]:
    """``settings``: extra QUIRE_* environment overrides for every command of this run."""
    slug = label.replace(" ", "-").replace("/", "-").replace(",", "")
    home = work / f"home-{slug}"
    runs = []
    for i in range(repeat):
        print(f"  quire [{label}] index{f' (run {i + 1}/{repeat})' if repeat > 1 else ''} ...", flush=True)
        shutil.rmtree(home, ignore_errors=True)
        runs.append(quire_index(home, embedder, str(corpus), settings=settings))
    idx = best_of(runs)
    env = {**quire_env(home, embedder), **(settings or {})}
    qs = json.loads(queries.read_text())
    print(f"  quire [{label}] reopen (CLI search, fresh process) ...", flush=True)
    cli = run_measured(quire_cmd(embedder, "search", qs[0], "-k", "10", "--json"), env=env)
    print(f"  quire [{label}] reopen + 20 queries in one process ...", flush=True)
    out = work / f"reopen-{slug}.json"
    ro = run_measured([PY, str(BENCH / "_quire_driver.py"), "reopen", "--queries", str(queries),
                       "--k", "10", "--out", str(out)], env=env)
    r = json.loads(out.read_text())
    return {
        "label": label, "embedder": embedder,
        "index_wall_s": idx["wall_s"], "index_internal_s": idx["report"]["seconds"],
        "index_all_wall_s": idx["all_wall_s"], "index_cpu_s": idx["cpu_s"], "index_other_load": idx["other_load"],
        "index_report": idx["report"], "chunks": idx["report"]["chunks_written"],
        "peak_rss_index": idx["peak_rss_tree"], "peak_rss_index_main": idx["peak_rss_main"],
        "reopen_cli_wall_s": cli["wall_s"], "cli_hits": len(json.loads(cli["stdout"])),
        "reopen_to_first_answer_s": r["python_start_to_main_s"] + r["import_s"] + r["open_and_first_query_s"],
        "reopen_load_s": r["open_and_first_query_s"],  # open the library AND answer the first query
        "reopen_detail": r,
        "query_median_s": median(r["query_latencies_s"]), "search_mode": r["mode"],
        "peak_rss_reopen": ro["peak_rss_tree"], "reopen_other_load": ro["other_load"],
        "disk_bytes": du(home),
    }


def run_llama(corpus: Path, work: Path, embed: str, queries: Path, label: str, chunk: str = "",
              repeat: int = 1) -> dict[str, Any]:
    persist = work / f"llama-{label}"
    out_i = work / f"llama-index-{label}.json"
    print(f"  llamaindex [{label}] index + persist ...", flush=True)
    cmd = [PY, str(BENCH / "_llama_driver.py"), "index", "--docs", str(corpus), "--persist", str(persist),
           "--embed", embed, "--out", str(out_i)]
    if chunk:
        cmd += ["--chunk", chunk]
    runs = []
    for _ in range(repeat):
        shutil.rmtree(persist, ignore_errors=True)
        r = run_measured(cmd, env={"TOKENIZERS_PARALLELISM": "false"})
        r["detail"] = json.loads(out_i.read_text())
        runs.append(r)
    idx = best_of(runs)
    i = idx["detail"]
    print(f"  llamaindex [{label}] reopen + 20 queries ...", flush=True)
    out_r = work / f"llama-reopen-{label}.json"
    ro = run_measured([PY, str(BENCH / "_llama_driver.py"), "reopen", "--persist", str(persist), "--embed", embed,
                       "--queries", str(queries), "--k", "10", "--out", str(out_r)],
                      env={"TOKENIZERS_PARALLELISM": "false"})
    r = json.loads(out_r.read_text())
    return {
        "label": label, "embedder": embed, "chunking": chunk or "default (1024/200)",
        "index_wall_s": idx["wall_s"],
        "index_internal_s": i["load_data_s"] + i["from_documents_s"] + i["persist_s"],
        "index_all_wall_s": idx["all_wall_s"], "index_cpu_s": idx["cpu_s"], "index_other_load": idx["other_load"],
        "index_detail": i, "chunks": i["nodes"],
        "peak_rss_index": idx["peak_rss_tree"], "peak_rss_index_main": idx["peak_rss_main"],
        "reopen_to_first_answer_s": (r["python_start_to_main_s"] + r["import_s"] + r["model_load_s"]
                                     + r["load_index_s"] + r["first_query_s"]),
        "reopen_load_s": r["load_index_s"],  # load_index_from_storage alone (no query)
        "reopen_detail": r,
        "query_median_s": median(r["query_latencies_s"]),
        "peak_rss_reopen": ro["peak_rss_tree"], "reopen_other_load": ro["other_load"],
        "disk_bytes": du(persist),
    }


ROWS = [
    ("index, wall (process)", "index_wall_s", secs),
    ("index, inside the process", "index_internal_s", secs),
    ("index, CPU time (all processes)", "index_cpu_s", secs),
    ("other load on the machine while indexing (cores)", "index_other_load", lambda v: f"{v:.2f}"),
    ("chunks / nodes", "chunks", lambda v: f"{v:,}"),
    ("peak RSS while indexing", "peak_rss_index", mb),
    ("reopen: load (LI load_index_from_storage; Quire open + 1st search)", "reopen_load_s", secs),
    ("reopen: fresh process to first answer", "reopen_to_first_answer_s", secs),
    ("query latency, median of 20", "query_median_s", secs),
    ("peak RSS reopen + 21 queries", "peak_rss_reopen", mb),
    ("on disk", "disk_bytes", mb),
]


def print_section(title: str, base: dict[str, Any], others: list[dict[str, Any]]) -> str:
    headers = ["", f"LlamaIndex ({base['label']})"]
    for o in others:
        headers += [f"Quire ({o['label']})", "LI / Quire"]
    rows = []
    for name, key, fmt in ROWS:
        row = [name, fmt(base[key])]
        for o in others:
            better_low = key not in ("chunks", "index_other_load")
            row += [fmt(o[key]), ratio(base[key], o[key]) if better_low else ""]
        rows.append(row)
    extra = [o for o in others if "reopen_cli_wall_s" in o]
    if extra:
        row = ["`quire search` CLI wall (fresh process)", ""]
        for o in others:
            row += [secs(o.get("reopen_cli_wall_s", float("nan"))), ""]
        rows.append(row)
    text = f"\n## {title}\n\n" + table(headers, rows)
    print(text, flush=True)
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke size (a few minutes)")
    ap.add_argument("--only", choices=["zero", "minilm"])
    ap.add_argument("--zero-files", type=int, default=1500)
    ap.add_argument("--zero-kb", type=float, default=17.5, help="size of each generated file")
    ap.add_argument("--minilm-files", type=int, default=300)
    ap.add_argument("--minilm-kb", type=float, default=8.0)
    ap.add_argument("--no-matched", action="store_true", help="skip LlamaIndex with Quire's chunk size (MiniLM)")
    ap.add_argument("--repeat", type=int, default=2,
                    help="each index run (and the model alone) is run this many times; the fastest counts")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    a = ap.parse_args()
    if a.quick:
        a.zero_files, a.minilm_files, a.repeat = 150, 30, 1
    work = workdir("vs-llamaindex")
    queries = work / "queries.json"
    queries.write_text(json.dumps(sample_queries(21)))
    result: dict[str, Any] = {"quick": a.quick, "queries": 21}
    report: list[str] = []
    try:
        if a.only in (None, "zero"):
            corpus = work / "corpus-zero"
            info = make_mixed_corpus(corpus, a.zero_files, int(a.zero_kb * 1024), seed=1, unique=False)
            print(f"\n# zero-cost embedder: {info['files']:,} files, {info['bytes'] / 1e6:.1f} MB "
                  f"({info['real_files']} real .txt/.md from shared/eval/docs)", flush=True)
            li = run_llama(corpus, work, "zero", queries, "zero", repeat=a.repeat)
            qn = run_quire(corpus, work, "none", queries, "backend none", repeat=a.repeat)
            qz = run_quire(corpus, work, "zero", queries, "zero embedder", repeat=a.repeat)
            # Same chunk size as LlamaIndex's default (possible without a model's limit): the
            # pipelines compared chunk for chunk.
            q1k = run_quire(corpus, work, "none", queries, "none, 1024/200", repeat=a.repeat,
                            settings={"QUIRE_CHUNKING_CHUNK_SIZE": "1024", "QUIRE_CHUNKING_CHUNK_OVERLAP": "200"})
            result["zero"] = {"corpus": info, "llamaindex": li, "quire_none": qn, "quire_zero": qz,
                              "quire_none_1024": q1k}
            report.append(print_section(f"Zero-cost embedder — {info['files']:,} files, "
                                        f"{info['bytes'] / 1e6:.1f} MB", li, [qn, qz, q1k]))
            shutil.rmtree(corpus, ignore_errors=True)
        if a.only in (None, "minilm"):
            corpus = work / "corpus-minilm"
            info = make_mixed_corpus(corpus, a.minilm_files, int(a.minilm_kb * 1024), seed=2, unique=True,
                                     real=False)
            print(f"\n# MiniLM: {info['files']:,} files, {info['bytes'] / 1e6:.1f} MB of distinct SciFact "
                  "abstracts", flush=True)
            qm = run_quire(corpus, work, "minilm", queries, "minilm", repeat=a.repeat)
            mas = []
            for i in range(a.repeat):
                print(f"  the model alone on Quire's chunk texts (run {i + 1}/{a.repeat}) ...", flush=True)
                out = work / "model-alone.json"
                ma_run = run_measured([PY, str(BENCH / "_model_alone.py"), "--home", str(work / "home-minilm"),
                                       "--out", str(out), "--batch", "32"])
                ma = json.loads(out.read_text())
                ma.update(peak_rss=ma_run["peak_rss_tree"], wall_s=ma_run["wall_s"], cpu_s=ma_run["cpu_s"],
                          other_load=ma_run["other_load"])
                mas.append(ma)
            ma = min(mas, key=lambda m: m["embed_s"])
            ma["all_embed_s"] = [m["embed_s"] for m in mas]
            li = run_llama(corpus, work, "minilm", queries, "minilm")
            lim = None if a.no_matched else run_llama(corpus, work, "minilm", queries, "minilm-240", "240,40")
            result["minilm"] = {"corpus": info, "quire": qm, "model_alone": ma, "llamaindex": li,
                                "llamaindex_chunk240": lim}
            for base in [li] + ([lim] if lim else []):
                report.append(print_section(f"MiniLM — {info['files']:,} files, {info['bytes'] / 1e6:.1f} MB, "
                                            f"LlamaIndex chunking {base['chunking']}", base, [qm]))
            emb = qm["index_report"]["chunks_embedded"]
            lines = [
                f"\nThe model alone: {ma['embedded']:,} texts (Quire embedded {emb:,}) in {secs(ma['embed_s'])} "
                f"({ma['chunks_per_s']:.1f}/s, batch 32), + {secs(ma['model_load_s'])} model load; "
                f"peak RSS {mb(ma['peak_rss'])}; other load {ma['other_load']:.2f} cores "
                f"(runs: {', '.join(secs(x) for x in ma['all_embed_s'])})",
                f"quire index runs (wall): {', '.join(secs(x) for x in qm['index_all_wall_s'])}; "
                f"other load in the best one {qm['index_other_load']:.2f} cores",
                f"quire index wall / model alone embed   = {qm['index_wall_s'] / ma['embed_s']:.3f}  (target <= 1.15)",
                f"quire index internal / model alone embed = {qm['index_internal_s'] / ma['embed_s']:.3f}",
                f"quire index wall / (model load + embed)  = "
                f"{qm['index_wall_s'] / (ma['embed_s'] + ma['model_load_s']):.3f}",
            ]
            lines.append(f"quire index CPU / model alone process CPU = {qm['index_cpu_s'] / ma['cpu_s']:.3f}  "
                         "(CPU seconds of all processes; less sensitive to other load)")
            result["minilm"]["ratio_quire_cpu_over_model_cpu"] = qm["index_cpu_s"] / ma["cpu_s"]
            result["minilm"]["ratio_quire_wall_over_model"] = qm["index_wall_s"] / ma["embed_s"]
            result["minilm"]["ratio_quire_internal_over_model"] = qm["index_internal_s"] / ma["embed_s"]
            print("\n".join(lines), flush=True)
            report.append("\n".join(lines))
            shutil.rmtree(corpus, ignore_errors=True)
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    result["report"] = "\n".join(report)
    path = write_result("vs_llamaindex" + ("-quick" if a.quick else ""), result)
    print(f"\nwritten: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
