"""Turn a file into text sections: ``parse_file(path) -> list[Section]``.

One module per format; each is imported only when a file of its kind is parsed, so a
worker that parses only text files never imports pypdfium2, python-docx or lxml.
Every expected failure is a :class:`~app.core.errors.ParseError` subclass with a
one-line message for the Problems view; anything else escaping is a bug.
"""

from __future__ import annotations

import codecs
import importlib
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from app.core.errors import ParseError, UnreadableFile, UnsupportedFile

__all__ = ["SUPPORTED_KINDS", "Section", "kind_of", "kind_of_name", "parse_file", "sniffed_kind"]


@dataclass(frozen=True, slots=True)
class Section:
    text: str  # plain text, whitespace normalised, paragraph breaks as "\n\n"
    page: int | None  # 1-based page (PDF) or slide (PPTX); None where the format has no pages
    heading: str = ""  # heading path, e.g. "Install > On Linux"


SUPPORTED_KINDS: frozenset[str] = frozenset(
    {"pdf", "docx", "doc", "pptx", "odt", "epub", "rtf", "csv", "xlsx", "xls", "ods", "html", "markdown", "text",
     "email", "ppt", "odp"})

# What an unknown or missing extension maps to: parse_file sniffs the content first.
SNIFF = "text?"
# In READER_CHANGES: the files of the text formats whose bytes are not UTF-8 (their decoding
# changed; the rest read the same, and only their content tells them apart).
NOT_UTF8 = "text:not-utf-8"
_DECODED_KINDS = frozenset({"text", "markdown", "csv", SNIFF})

_SOURCE_CODE = (
    "py pyi pyw pyx pxd js mjs cjs jsx ts tsx mts cts c h cc cpp cxx c++ hpp hh hxx inl ipp m mm java "
    "kt kts scala sc groovy gradle go rs rb erb rake gemspec php phtml pl pm t pod lua r jl swift "
    "dart cs csx fs fsi fsx vb vbs sh bash zsh ksh fish ps1 psm1 psd1 bat cmd css scss sass less styl "
    "sql psql graphql gql proto thrift avdl cmake mk mak make dockerfile containerfile tf tfvars hcl "
    "nix el lisp scm ss rkt clj cljs cljc edn ex exs erl hrl hs lhs ml mli elm vue svelte astro asm s "
    "f f77 f90 f95 for pas pp d zig nim v sv svh vhd vhdl tcl awk sed vim lean agda idr purs cr hx "
    "coffee gd glsl hlsl wgsl frag vert cu cuh ino pde sol move cairo bzl bazel star jsonnet "
    "libsonnet cue dhall prisma"
)
_PLAIN_TEXT = (
    "txt text log out err rst rest tex latex ltx bib bst cls sty dtx ins adoc asciidoc asc org "
    "textile wiki mediawiki creole pod man nfo diz 1st me json jsonc json5 jsonl ndjson geojson yaml "
    "yml toml ini cfg conf config properties prop env editorconfig xml xsd xsl xslt dtd rng rnc wsdl "
    "xaml xul rss atom opml kml gpx plist lrc diff patch csproj vbproj fsproj "
    "vcxproj sln props targets pom resx manifest mf in am ac m4 po "
    "info changelog license authors readme gitignore gitattributes dockerignore npmignore htaccess lock "
    "sum mod"
)

_MARKDOWN = ("md", "markdown", "mdown", "mkd", "mkdn", "mdwn", "mdtxt", "mdtext", "mdx", "rmd", "qmd")

# Not in the table below, so the content decides (``SNIFF``): ".dot" is a Word template or a
# Graphviz graph, ".pot" a PowerPoint template or a gettext catalogue template.
# extension -> (kind, "module:function"). The one table of what Quire reads.
_EXTENSIONS: dict[str, tuple[str, str]] = {
    **{e: ("text", "text:parse") for e in (_SOURCE_CODE + " " + _PLAIN_TEXT).split()},
    **{e: ("markdown", "markdown:parse") for e in _MARKDOWN},
    **{e: ("html", "html:parse") for e in ["html", "htm", "xhtml", "xht", "shtml"]},
    **{e: ("html", "mail:parse") for e in ["mht", "mhtml"]},  # a web page saved as one file: MIME
    "fb2": ("html", "fb2:parse"),  # FictionBook: XML e-book, read with lxml
    "ipynb": ("text", "notebook:parse"),
    **{e: ("text", "contacts:parse") for e in ["vcf", "vcard", "ics", "ical", "ifb"]},
    **{e: ("text", "subtitles:parse") for e in ["srt", "vtt", "sbv", "ass", "ssa"]},
    "csv": ("csv", "csv:parse"),
    "tsv": ("csv", "csv:parse"),
    "tab": ("csv", "csv:parse"),
    **{e: ("xlsx", "xlsx:parse") for e in ["xlsx", "xlsm", "xltx", "xltm", "xlam"]},
    **{e: ("ods", "ods:parse") for e in ["ods", "ots", "fods"]},
    **{e: ("xls", "xls:parse") for e in ["xls", "xlt"]},
    "pdf": ("pdf", "pdf:parse"),
    "docx": ("docx", "docx:parse"),
    "doc": ("doc", "doc:parse"),
    "docm": ("docx", "docx:parse"),
    "dotx": ("docx", "docx:parse"),
    "dotm": ("docx", "docx:parse"),
    "pptx": ("pptx", "pptx:parse"),
    "pptm": ("pptx", "pptx:parse"),
    "ppsx": ("pptx", "pptx:parse"),
    "ppsm": ("pptx", "pptx:parse"),
    **{e: ("ppt", "ppt:parse") for e in ["ppt", "pps"]},
    "potx": ("pptx", "pptx:parse"),
    "potm": ("pptx", "pptx:parse"),
    "odt": ("odt", "odt:parse"),
    "ott": ("odt", "odt:parse"),
    **{e: ("odp", "odp:parse") for e in ["odp", "otp", "fodp"]},
    "epub": ("epub", "epub:parse"),
    "rtf": ("rtf", "rtf:parse"),
    "eml": ("email", "mail:parse"),
    "emlx": ("email", "mail:parse_emlx"),
    "mbox": ("email", "mail:parse_mbox"),
    "mbx": ("email", "mail:parse_mbox"),
    "msg": ("email", "msg:parse"),
}

# When Quire starts reading a format differently, its extensions go under a new number: a
# full run over an index made before re-reads those files once, changed or not, instead of
# keeping what the older version made of them. SNIFF stands for files whose extension tells
# nothing (the content decides what they are).
READER_CHANGES: dict[int, frozenset[str]] = {
    2: frozenset(["xlsx", "xlsm", "xltx", "xltm", "ods", "ots", "fods"]),  # spreadsheets: were skipped
    3: frozenset(["eml", "emlx", "mbox", "mbx", SNIFF]),  # e-mail: was read as plain text
    4: frozenset(["gz", "bz2", "xz"]),  # one compressed document (policy.txt.gz): was skipped
    5: frozenset(["doc", "dot", "xls", "xlt", "ppt", "pps", "pot",  # Office 97-2003: was skipped
                  "docm", "dotx", "dotm", "ppsx", "ppsm", "potx", "potm", "xlam",  # "damaged" variants
                  "odp", "otp", "fodp", "msg"]),  # OpenDocument slides, Outlook messages: were skipped
    # Legacy code pages of other languages (were mojibake), HTML with <?php ?> and FB2 with
    # half an emoji (were "failed"), RTF's Mac and DOS code pages, notebooks' pasted images, CSV dialects.
    6: frozenset(["rtf", "fb2", "html", "htm", "xhtml", "xht", "shtml", "ipynb", "csv", "tsv", "tab", NOT_UTF8,
                  "vcf", "vcard", "ics", "ical", "ifb", "srt", "vtt", "sbv"]),  # contacts, calendars, subtitles
    # RTF footnotes, comments and text boxes (were dropped); FB2 and EPUB authors and blurb; CSV titles
    # padded with commas (were the header); Markdown "#" lines in HTML comments, a leading rule;
    # e-mail: malformed multiparts, plain texts that only point to the HTML, unnamed attachments,
    # mbox separators;
    # Office: equations, SmartArt, chart titles, custom XML, moved text, nested tables, slide
    # footers, sheet values as Excel shows them, an empty column's name; .doc tracked deletions.
    7: frozenset(["rtf", "fb2", "epub", "csv", "tsv", "tab", *_MARKDOWN, "eml", "emlx", "mbox", "mbx", SNIFF,
                  "docx", "docm", "dotx", "dotm", "pptx", "pptm", "ppsx", "ppsm", "potx", "potm", "odt", "ott",
                  "odp", "otp", "fodp", "xlsx", "xlsm", "xltx", "xltm", "xlam", "xls", "xlt", "ods", "ots", "fods",
                  "doc", "dot", "pdf"]),  # PDF: sparse text no longer refused as a scan, rotated pages, unmapped glyphs
    # HTML: self-closed <title/> in XHTML and EPUB, the nesting guard's false alarms, split
    # headings, navigation, ruby, footnote marks; web pages saved as .mht/.mhtml (were raw MIME);
    # \uXXXX in JSON and .properties (were kept escaped); a heading followed by a sub-heading is
    # in the sub-heading's text (was only in its path): every reader with headings, and mail whose
    # HTML body has them; terminal colour codes in logs (in any text file; the usual kinds listed);
    # notebooks' text outputs; Markdown heading titles and pasted images; HTML sniffed (SNIFF).
    8: frozenset(["html", "htm", "xhtml", "xht", "shtml", "epub", "mht", "mhtml",
                  "json", "jsonc", "json5", "jsonl", "ndjson", "geojson", "properties",
                  *_MARKDOWN, "ipynb", "docx", "docm", "dotx", "dotm", "odt", "ott", "fb2",
                  "eml", "emlx", "mbox", "mbx", "msg", SNIFF, "log", "out", "err", "txt", "text",
                  "srt", "vtt", "sbv", "ass", "ssa",  # subtitles: "<3", cues without milliseconds, .ass
                  "xml", "xsd", "xsl", "xslt", "rng", "wsdl", "xaml", "xul", "rss", "atom", "opml", "kml", "gpx",
                  "plist", "resx", "csproj", "vbproj", "fsproj", "vcxproj", "props", "targets", "pom",  # &#233;
                  "bib", "tex", "latex", "ltx",  # LaTeX accent macros: M{\"u}ller
                  "pdf"]),  # PDF: a page split where a bookmarked section starts
}
READERS_VERSION = max(READER_CHANGES)


def reread_since(version: int) -> frozenset[str]:
    """Extensions (and SNIFF) that this version reads differently from ``version``."""
    return frozenset().union(*(exts for v, exts in READER_CHANGES.items() if v > version))


def read_differently(name: str, exts: frozenset[str]) -> bool:
    """Whether a file named ``name`` is among ``exts`` (from ``reread_since``)."""
    ext = _name_extension(name)
    return (ext in exts) or (SNIFF in exts and kind_of_name(name) == SNIFF)


def read_differently_unless_utf8(name: str, exts: frozenset[str]) -> bool:
    """Whether a file named ``name`` is read differently if its bytes are not UTF-8 (NOT_UTF8)."""
    return NOT_UTF8 in exts and kind_of_name(name) in _DECODED_KINDS


def is_utf8_file(path: str) -> bool:
    """Whether the file's bytes are UTF-8 (ASCII included); False if it cannot be read."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except (OSError, UnicodeDecodeError):
        return False
    return True


# Known non-text extensions -> the reason shown when such a file is skipped.
_BINARY_REASONS: dict[str, str] = {}
for _exts, _reason in (
    ("png jpg jpeg jpe jfif gif bmp dib tif tiff webp ico icns cur heic heif avif jxl jp2 svg svgz psd xcf "
     "raw cr2 cr3 nef arw orf rw2 dng eps ai kra exr hdr tga pcx ppm pgm pbm pnm wmf emf",
     "image (no text to index)"),
    ("zip gz tgz bz2 tbz tbz2 xz txz lz lzma lz4 zst tzst z 7z rar tar cab arj ace iso img dmg vhdx vmdk "
     "qcow2 jar war ear apk aab ipa deb rpm snap flatpak appimage whl egg crx xpi nupkg",
     "archive or disk image (not indexed)"),
    ("mp3 wav flac ogg oga opus m4a m4b aac wma aif aiff aifc mid midi amr ape wv caf",
     "audio (no text to index)"),
    ("mp4 m4v mkv avi mov wmv webm flv f4v mpg mpeg mpe m2ts 3gp 3g2 ogv vob rm rmvb",
     "video (no text to index)"),
    ("exe dll so dylib o obj a lib ko sys bin elf com msi msix pdb class pyc pyo pyd wasm node dex efi",
     "program or library (binary)"),
    ("ttf otf ttc woff woff2 eot fon fnt pfb pfm", "font file (no text to index)"),
    ("sqlite sqlite3 db db3 mdb accdb dbf msf lance parquet arrow feather orc avro npy npz pkl pickle joblib "
     "h5 hdf5 nc mat sav dta rds rdata onnx pt pth ckpt safetensors gguf ggml tflite pb mlmodel",
     "database or binary data file"),
    ("xlsb", "binary Excel workbook (not supported; save as XLSX)"),
    ("numbers", "Apple Numbers spreadsheet (not supported; export as XLSX or CSV)"),
    ("wps wpd pages", "word-processor format not supported (save as DOCX or PDF)"),
    ("key", "Apple Keynote presentation (not supported; export it as PPTX or PDF)"),
    ("mobi azw azw3 kfx lit djvu djv xps oxps cbz cbr chm", "e-book or document format not supported yet"),
    ("blend fbx stl 3ds dae glb usdz max ma mb skp dwg dxf step stp iges igs",
     "3D or CAD file (not indexed)"),
    ("swf fla sketch fig xd indd idml", "design file (not indexed)"),
    ("pst ost", "Outlook mailbox (not supported; export the mail as .eml or .mbox)"),
):
    for _e in _exts.split():
        _BINARY_REASONS[_e] = _reason
del _exts, _reason, _e


def _extension(path: str) -> str:
    return _name_extension(os.path.basename(path))


def _name_extension(name: str) -> str:
    dot = name.rfind(".")
    return name[dot + 1:].lower() if dot > 0 else ""  # ".bashrc" has no extension


def kind_of(path: str) -> str | None:
    """The format of ``path`` by its extension alone (no I/O).

    One of SUPPORTED_KINDS; ``None`` for a known non-text binary (image, archive, ...);
    ``"text?"`` for an unknown or missing extension, which parse_file sniffs.
    """
    return kind_of_name(os.path.basename(os.fspath(path)))


# One document compressed on its own is read as that document ("policy.txt.gz").
_COMPRESSED = frozenset({"gz", "bz2", "xz"})


def _inner_extension(name: str, ext: str) -> str | None:
    """The extension of the document inside a compressed file, if Quire reads that kind:
    "txt" for "policy.txt.gz"; None for "backup.tar.gz" or "data.gz"."""
    if ext not in _COMPRESSED:
        return None
    inner = _name_extension(name[: -len(ext) - 1])
    return inner if inner in _EXTENSIONS else None


def kind_of_name(name: str) -> str | None:
    """``kind_of`` for a bare file name (the scanner has it without splitting the path)."""
    ext = _name_extension(name)
    hit = _EXTENSIONS.get(ext)
    if hit:
        return hit[0]
    if ext in _COMPRESSED and (inner := _inner_extension(name, ext)):
        return _EXTENSIONS[inner][0]
    if ext in _BINARY_REASONS:
        return None
    return SNIFF


def sniffed_kind(path: str) -> str:
    """The kind of a file ``kind_of`` could not tell (``SNIFF``) once it parsed: "pdf" for a
    PDF without its extension, "doc", "xls" or "ppt" for an Office 97 file, "email" for a mailbox
    (Thunderbird's folders), "html" for a web page (a mirror's "viewtopic.php?t=123"), else "text".
    Searches filter on it, so it must be a real kind."""
    from app.core.parse._common import OLE_MAGIC, ole_kind
    from app.core.parse.text import looks_like_html, looks_like_mbox

    try:
        with open(path, "rb") as f:
            head = f.read(1024)
    except OSError:
        return "text"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(OLE_MAGIC):  # only Word, Excel and PowerPoint files get this far
        return ole_kind(path) or "text"
    if looks_like_mbox(head):
        return "email"
    return "html" if looks_like_html(head) else "text"


def skip_reason(path: str) -> str:
    """Why a file that ``kind_of`` calls None is not indexed, in a few words."""
    return _BINARY_REASONS.get(_extension(os.fspath(path)), "not a text document")


def _parser_for(ext: str) -> Callable[[str], list[Section]]:
    target = _EXTENSIONS[ext][1] if ext in _EXTENSIONS else "text:parse_unknown"
    module, func = target.split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), func)


def parse_file(path: str) -> list[Section]:
    """Read ``path`` and return its sections; ``[]`` for a readable but empty document.

    Raises UnsupportedFile, EncryptedFile, NoTextLayer, DamagedFile, FileTooLarge or
    UnreadableFile (all ParseError) with a one-line message for the user.
    """
    from app.core.parse._common import split_long

    path = os.fspath(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise UnreadableFile("dangling symlink (its target is missing)") from None
        raise UnreadableFile("file not found (moved or deleted?)") from None
    except PermissionError:
        raise UnreadableFile("permission denied") from None
    except OSError as exc:
        raise UnreadableFile(f"cannot read the file: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise UnsupportedFile("a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        # Opening a FIFO would block forever; devices and sockets are not documents.
        raise UnsupportedFile("not a regular file (pipe, device or socket)")
    ext = _extension(path)
    inner = _inner_extension(os.path.basename(path), ext)
    if ext in _BINARY_REASONS and ext not in _EXTENSIONS and inner is None:
        raise UnsupportedFile(_BINARY_REASONS[ext])
    if st.st_size == 0:
        return []
    if inner is not None:
        from app.core.parse import compressed

        parser: Callable[[str], list[Section]] = partial(compressed.parse, fmt=ext, inner_ext=inner)
    else:
        parser = _parser_for(ext)
    try:
        sections = parser(path)
    except ParseError:
        raise
    except FileNotFoundError:
        raise UnreadableFile("file disappeared while reading") from None
    except PermissionError:
        raise UnreadableFile("permission denied") from None
    except IsADirectoryError:
        raise UnsupportedFile("a folder, not a file") from None
    except OSError as exc:
        raise UnreadableFile(f"read error: {exc.strerror or exc}") from None
    return split_long([_without_surrogates(s) for s in sections])


_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_surrogates(s: Section) -> Section:
    """Join UTF-16 surrogate pairs that a reader left apart (RTF writes an emoji as two \\u
    codes) and replace lone halves: text with surrogates cannot be stored at all."""
    if not (_SURROGATE.search(s.text) or _SURROGATE.search(s.heading)):
        return s

    def fix(t: str) -> str:
        return t.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")

    return Section(fix(s.text), s.page, fix(s.heading))
