"""Put the default embedding model in a folder, for a build that bundles it (QUIRE_BUNDLE_MODEL).

    python packaging/fetch_model.py build/model                     # download (CI), then verify
    python packaging/fetch_model.py build/model --from ../shared/models/all-minilm-l6-v2-onnx

Downloading uses Quire's own downloader (``app.core.embed.download_model``: the same source,
files and per-file hub checksums as the app's first-use download). ``--from`` copies a local
copy instead, with no network. Either way the script prints the folder to pass as
QUIRE_BUNDLE_MODEL and each file's SHA-256; with ``--sha256 <hex>`` (or QUIRE_MODEL_SHA256)
the build stops unless model.onnx has exactly that digest, which pins what a release ships.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def sha256(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dest", type=Path, help="folder to create the model folder in")
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--from", dest="source", type=Path, help="copy this local model folder instead of downloading")
    ap.add_argument("--sha256", default=os.environ.get("QUIRE_MODEL_SHA256", ""), help="required digest of model.onnx")
    args = ap.parse_args()

    from app.core.embed import download_model, model_dir_for

    target = model_dir_for(args.model, args.dest)
    if args.source:
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(args.source, target, ignore=shutil.ignore_patterns("*.md", ".cache"))
        for p in [target, *target.rglob("*")]:  # the source may be read-only
            p.chmod(0o755 if p.is_dir() else 0o644)
    elif not (target / ".complete").exists():
        target = download_model(args.model, args.dest,
                                progress=lambda done, total: print(f"  {done}/{total} files", flush=True))

    onnx = sorted(target.glob("*.onnx"))
    if not onnx or not (target / "tokenizer.json").exists():
        print(f"error: {target} lacks *.onnx or tokenizer.json", file=sys.stderr)
        return 1
    for p in sorted(f for f in target.rglob("*") if f.is_file() and ".cache" not in f.parts):
        print(f"{sha256(p)}  {p.relative_to(target)}")
    if args.sha256 and sha256(onnx[0]) != args.sha256.lower():
        print(f"error: {onnx[0].name} does not have the pinned SHA-256 {args.sha256}", file=sys.stderr)
        return 1
    print(f"QUIRE_BUNDLE_MODEL={target}")
    if os.environ.get("GITHUB_ENV"):
        with open(os.environ["GITHUB_ENV"], "a", encoding="utf-8") as f:
            f.write(f"QUIRE_BUNDLE_MODEL={target}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
