"""Check that a PyInstaller build embeds no absolute path of the machine that built it.

    python packaging/check_paths.py dist/quire/quire [more executables]   # exit 1 and list offenders

Looks where a plain ``grep`` cannot: the compressed Python bytecode inside the executable
(every code object's ``co_filename``, recursively; ``base_library.zip`` too) must hold no
absolute path, no file may mention the checkout or the virtualenv, and on Linux no ELF file
may carry a RUNPATH/RPATH outside the bundle (``$ORIGIN``-relative only). Run it with the
Python that built the app (it needs PyInstaller's archive reader; ``readelf`` for the ELF
check).

Not flagged: the configure prefix compiled into libpython (e.g. ``/root/.pyenv/versions/3.11.7``
or ``/opt/hostedtoolcache/Python/...``), an inert string every CPython build carries; the
frozen program's ``sys.prefix`` is the bundle folder.
"""

from __future__ import annotations

import marshal
import os
import sys
import types
import zipfile
import zlib
from pathlib import Path

from PyInstaller.archive.readers import CArchiveReader

ROOT = Path(__file__).resolve().parents[1]


def _needles() -> list[bytes]:
    out = {str(ROOT), sys.prefix}
    return sorted({p.encode() for p in out if len(p) > 3})


def _code_paths(code: types.CodeType) -> set[str]:
    found = {code.co_filename}
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            found |= _code_paths(c)
    return found


def check_executable(exe: Path, needles: list[bytes]) -> list[str]:
    bad: list[str] = []
    pkg = CArchiveReader(str(exe))
    for name, (_off, _len, _ulen, _flag, typecode) in pkg.toc.items():
        if typecode == "z":  # the PYZ: compressed, marshalled modules
            pyz = pkg.open_embedded_archive(name)
            with open(exe, "rb") as fp:
                for mod, (mtype, offset, length) in pyz.toc.items():
                    if mtype == 3:  # namespace package, no data
                        continue
                    fp.seek(pyz._start_offset + offset)
                    code = marshal.loads(zlib.decompress(fp.read(length)))
                    for f in _code_paths(code):
                        if os.path.isabs(f) or any(n.decode() in f for n in needles):
                            bad.append(f"{exe.name}:PYZ:{mod}: co_filename {f!r}")
                            break
        else:
            data = pkg.extract(name)
            if typecode in ("s", "m", "M") and data[:4] != b"\x7fELF":
                try:
                    for f in _code_paths(marshal.loads(data)):
                        if os.path.isabs(f) or any(n.decode() in f for n in needles):
                            bad.append(f"{exe.name}:{name}: co_filename {f!r}")
                            break
                    continue
                except Exception:  # not a code object: fall through to the byte search
                    pass
            for n in needles:
                if n in data:
                    bad.append(f"{exe.name}:{name}: contains {n.decode()!r}")
    return bad


def check_tree(folder: Path, needles: list[bytes]) -> list[str]:
    bad: list[str] = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.is_symlink():
            data = p.read_bytes()
            if p.name == "base_library.zip":
                with zipfile.ZipFile(p) as z:
                    for info in z.infolist():
                        raw = z.read(info)
                        try:
                            code = marshal.loads(raw[16:])
                        except Exception:
                            continue
                        for f in _code_paths(code):
                            if os.path.isabs(f) or any(n.decode() in f for n in needles):
                                bad.append(f"{p.relative_to(folder)}:{info.filename}: co_filename {f!r}")
                                break
                continue
            for n in needles:
                if n in data:
                    bad.append(f"{p.relative_to(folder)}: contains {n.decode()!r}")
    return bad


def check_runpaths(folder: Path) -> list[str]:
    import shutil
    import subprocess

    if not sys.platform.startswith("linux") or not shutil.which("readelf"):
        return []
    bad: list[str] = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.is_symlink():
            continue
        with open(p, "rb") as fh:
            if fh.read(4) != b"\x7fELF":
                continue
        out = subprocess.run(["readelf", "-d", str(p)], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if "(RUNPATH)" in line or "(RPATH)" in line:
                paths = line.split("[", 1)[1].rstrip("]").split(":")
                outside = [x for x in paths if x and not x.startswith("$ORIGIN")]
                if outside:
                    bad.append(f"{p.relative_to(folder)}: search path {':'.join(outside)}")
    return bad


def main(argv: list[str]) -> int:
    exes = [Path(a).resolve() for a in argv] or [ROOT / "dist" / "quire" / "quire"]
    needles = _needles()
    bad: list[str] = []
    for exe in exes:
        bad += check_executable(exe, needles)
    for folder in sorted({e.parent for e in exes}):
        bad += check_tree(folder, needles)
        bad += check_runpaths(folder)
    for line in bad[:50]:
        print(line)
    if bad:
        print(f"{len(bad)} place(s) embed a path of this machine ({', '.join(n.decode() for n in needles)})")
        return 1
    print(f"no absolute build-machine paths in {', '.join(str(e) for e in exes)} and their folders")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
