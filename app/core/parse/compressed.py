"""One document compressed on its own: "policy.txt.gz", "notes.md.bz2", "report.pdf.xz".

The file is decompressed into a private temporary file named like the document (at most
MAX_DECOMPRESSED bytes: a small file can unpack to gigabytes) and parsed as that document.
A file so named that is not compressed at all (a browser download, decompressed on
the way) is read as it is. Archives of many files (.tar.gz, .tgz, .zip) are not read; nor is a bare "data.gz", whose
name does not say what is inside.
"""

from __future__ import annotations

import os
import tempfile
import zlib
from typing import IO

from app.core.errors import DamagedFile, FileTooLarge
from app.core.parse import Section

MAX_DECOMPRESSED = 256 * 1024 * 1024
_BLOCK = 1 << 20
_MAGIC = {"gz": b"\x1f\x8b", "bz2": b"BZh", "xz": b"\xfd7zXZ\x00"}


def _reader(fmt: str, raw: IO[bytes]) -> IO[bytes]:
    if fmt == "gz":
        import gzip

        return gzip.GzipFile(fileobj=raw, mode="rb")
    if fmt == "bz2":
        import bz2

        return bz2.BZ2File(raw, "rb")
    import lzma

    return lzma.LZMAFile(raw, "rb")


def parse(path: str, fmt: str, inner_ext: str) -> list[Section]:
    """Sections of the document inside ``path``, compressed with ``fmt`` (gz, bz2 or xz),
    read as a file with extension ``inner_ext``."""
    import lzma

    from app.core.parse import _parser_for, parse_file

    with open(path, "rb") as f:
        head = f.read(8)
    if not head.startswith(_MAGIC[fmt]):
        # Not compressed after all: a browser that downloads "notes.txt.gz" served with
        # Content-Encoding: gzip saves it decompressed under the same name.
        return _parser_for(inner_ext)(path)
    with tempfile.TemporaryDirectory(prefix="quire-") as tmp:
        out = os.path.join(tmp, f"document.{inner_ext}")
        with open(path, "rb") as raw:  # errors opening the file itself are read errors, not damage
            try:
                with _reader(fmt, raw) as src, open(out, "wb") as dst:
                    n = 0
                    while block := src.read(_BLOCK):
                        n += len(block)
                        if n > MAX_DECOMPRESSED:
                            raise FileTooLarge(f"decompresses to more than {MAX_DECOMPRESSED >> 20} MB")
                        dst.write(block)
            except (EOFError, zlib.error, lzma.LZMAError, ValueError) as exc:
                raise DamagedFile(f"damaged or truncated .{fmt} file ({type(exc).__name__})") from None
            except OSError as exc:
                if exc.filename == out:
                    raise  # the temporary copy could not be written (a full disk): a read error
                # gzip and bz2 say "not a gzip file" and "invalid data stream" with OSError.
                raise DamagedFile(f"damaged .{fmt} file: {exc}") from None
        return parse_file(out)
