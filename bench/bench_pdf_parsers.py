"""Compare PDF text extraction engines: pypdfium2 against pypdf.

Extracts the text of every PDF under the shared eval corpus (recursively) and of a
synthetic text-heavy PDF written here without any dependency, with each engine,
and prints per-file time, pages, characters and failures plus totals and pages/s.

    .venv/bin/python bench/bench_pdf_parsers.py [--docs DIR] [--pages 400] [--repeat 3]

Each engine runs in its own child process so that its import cost is measured on
its own and one engine's memory/caches do not favour the other.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DOCS = Path(os.environ.get("QUIRE_SHARED", REPO.parent / "shared")) / "eval" / "docs"
ENGINES = ("pypdfium2", "pypdf")

_WORDS = [
    "index", "folder", "answer", "model", "embedding", "vector", "search", "page", "chunk", "heading",
    "parser", "worker", "process", "manifest", "lance", "table", "query", "citation", "source", "passage",
    "local", "offline",
]


def write_synthetic_pdf(path: Path, pages: int, lines_per_page: int = 48) -> None:
    """Write a valid PDF of ``pages`` pages of dense Helvetica text (Flate-compressed streams)."""
    objects: list[bytes] = []  # object n is objects[n - 1]

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in once the page tree number is known
    tree = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    kids: list[int] = []
    n = 0
    for p in range(pages):
        ops = [b"BT /F1 10 Tf 12 TL 50 800 Td"]
        for line in range(lines_per_page):
            words = " ".join(_WORDS[(n + k * 7) % len(_WORDS)] for k in range(14))
            n += 1
            ops.append(f"(Page {p + 1} line {line + 1}: {words}) Tj T*".encode("latin-1"))
        ops.append(b"ET")
        data = zlib.compress(b"\n".join(ops))
        stream = add(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream")
        kids.append(add(
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 %d 0 R >> >> "
            b"/Contents %d 0 R >>" % (tree, font, stream)))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % tree
    objects[tree - 1] = (b"<< /Type /Pages /Count %d /Kids [" % pages
                         + b" ".join(b"%d 0 R" % k for k in kids) + b"] >>")

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\n" % (len(objects) + 1, catalog)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    path.write_bytes(bytes(out))


# --- child side: one engine, all files -------------------------------------------------

def _extract_pypdfium2(path: str) -> tuple[int, int, int]:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(path)
    try:
        chars = failed = 0
        n = len(doc)
        for i in range(n):
            try:
                page = doc[i]
                textpage = page.get_textpage()
                chars += len(textpage.get_text_range())
                textpage.close()
                page.close()
            except Exception:
                failed += 1
        return n, chars, failed
    finally:
        doc.close()


def _extract_pypdf(path: str) -> tuple[int, int, int]:
    from pypdf import PdfReader

    reader = PdfReader(path)
    if reader.is_encrypted and not reader.decrypt(""):
        raise PermissionError("password required")
    chars = failed = 0
    n = len(reader.pages)
    for page in reader.pages:
        try:
            chars += len(page.extract_text() or "")
        except Exception:
            failed += 1
    return n, chars, failed


def run_child(engine: str, files: list[str], repeat: int) -> None:
    import logging
    import warnings

    logging.disable(logging.CRITICAL)  # pypdf logs every recoverable syntax issue
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    extract = _extract_pypdfium2 if engine == "pypdfium2" else _extract_pypdf
    if engine == "pypdfium2":
        import pypdfium2  # noqa: F401
    else:
        import pypdf  # noqa: F401
    import_s = time.perf_counter() - t0
    rows = []
    for f in files:
        best = float("inf")
        result: dict[str, object] = {"file": f}
        for _ in range(repeat):
            t = time.perf_counter()
            try:
                pages, chars, failed = extract(f)
                result.update(pages=pages, chars=chars, page_failures=failed, error="")
            except Exception as exc:  # the bench records failures, it does not stop on them
                result.update(pages=0, chars=0, page_failures=0, error=f"{type(exc).__name__}: {exc}"[:70])
            best = min(best, time.perf_counter() - t)
        result["seconds"] = best
        rows.append(result)
    print(json.dumps({"engine": engine, "import_s": import_s, "rows": rows}))


# --- parent side -----------------------------------------------------------------------

def run_engine(engine: str, files: list[Path], repeat: int) -> dict:
    cmd = [sys.executable, __file__, "--child", engine, "--repeat", str(repeat), *map(str, files)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=Path, default=DEFAULT_DOCS)
    ap.add_argument("--pages", type=int, default=400, help="pages of the synthetic PDF (0 = none)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per file; the fastest counts")
    ap.add_argument("--child", choices=ENGINES, help=argparse.SUPPRESS)
    ap.add_argument("files", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        run_child(args.child, args.files, args.repeat)
        return

    files = sorted(p for p in args.docs.rglob("*") if p.suffix.lower() == ".pdf" and p.is_file())
    with tempfile.TemporaryDirectory() as tmp:
        if args.pages:
            synth = Path(tmp) / f"synthetic-{args.pages}p.pdf"
            write_synthetic_pdf(synth, args.pages)
            files.append(synth)
        print(f"{len(files)} PDFs ({sum(f.stat().st_size for f in files) / 1e6:.1f} MB), "
              f"best of {args.repeat} runs per file, Python {sys.version.split()[0]}\n")
        results = {e: run_engine(e, files, args.repeat) for e in ENGINES}

    def short(f: str) -> str:
        p = Path(f)
        return p.name if p.parent.name.startswith("tmp") else f"{p.parent.name}/{p.name}"

    head = f"{'file':58} {'pages':>5} | " + " | ".join(f"{e + ' ms':>13} {'chars':>8}" for e in ENGINES)
    print(head)
    print("-" * len(head))
    by_engine = {e: results[e]["rows"] for e in ENGINES}
    notes: list[str] = []
    for i, f in enumerate(files):
        rows = [by_engine[e][i] for e in ENGINES]
        pages = max(r["pages"] for r in rows)
        cells = []
        for e, r in zip(ENGINES, rows, strict=True):
            cell = "FAIL" if r["error"] else f"{r['chars']}"
            cells.append(f"{r['seconds'] * 1000:13.1f} {cell:>8}")
            if r["error"]:
                notes.append(f"{e:9} {short(str(f))}: {r['error']}")
            elif r["page_failures"]:
                notes.append(f"{e:9} {short(str(f))}: {r['page_failures']} page(s) failed")
        print(f"{short(str(f))[:58]:58} {pages:5} | " + " | ".join(cells))
    print()
    for e in ENGINES:
        rows = by_engine[e]
        total = sum(r["seconds"] for r in rows)
        pages = sum(r["pages"] for r in rows)
        chars = sum(r["chars"] for r in rows)
        fails = sum(1 for r in rows if r["error"])
        corpus = [r for r in rows if not Path(r["file"]).name.startswith("synthetic-")]
        ctotal = sum(r["seconds"] for r in corpus)
        cpages = sum(r["pages"] for r in corpus)
        print(f"{e:9}: import {results[e]['import_s'] * 1000:6.0f} ms | all {total:7.3f} s, {pages} pages, "
              f"{pages / total:7.0f} pages/s, {chars} chars, {fails} file failures | "
              f"corpus only {ctotal:6.3f} s, {cpages / ctotal:6.0f} pages/s")
    if notes:
        print("\nfailures:")
        print("\n".join(f"  {n}" for n in notes))


if __name__ == "__main__":
    main()
