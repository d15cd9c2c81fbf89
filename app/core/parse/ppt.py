"""PowerPoint 97-2003 presentations (.ppt, .pps, .pot), read from the binary format ([MS-PPT]):
one section per slide, page = slide number, the slide title as its heading, then the rest
of its text and its speaker notes, as the PPTX reader gives them.

The "PowerPoint Document" stream is a tree of records. The last edit (found through the
"Current User" stream) has a persist directory mapping object ids to stream offsets; the
document's slide list gives the slides in order with the text of their layout boxes (title, body),
and each slide's own record holds the text of its other shapes and the id of its notes.
A file whose edit chain is broken is read by walking its records in stream order.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from app.core.errors import DamagedFile, EncryptedFile
from app.core.parse import Section
from app.core.parse._common import OLE_MAGIC, clean_prose, describe, read_ole

_DOCUMENT, _SLIDE, _NOTES, _SLIDE_ATOM = 0x03E8, 0x03EE, 0x03F0, 0x03EF
_SLIDE_LIST, _PERSIST_ATOM, _USER_EDIT, _PERSIST_DIR = 0x0FF0, 0x03F3, 0x0FF5, 0x1772
_TEXT_HEADER, _TEXT_CHARS, _TEXT_BYTES = 0x0F9F, 0x0FA0, 0x0FA8
_TITLE_TYPES = (0, 6)  # Tx_TYPE_TITLE, Tx_TYPE_CENTERTITLE
_NOTES_TYPE = 2
_ENCRYPTED_TOKEN = 0xF3D1C4DF
MAX_DEPTH = 64
MAX_EDITS = 10_000


def parse(path: str) -> list[Section]:
    with open(path, "rb") as f:
        head = f.read(8)
    if not head.startswith(OLE_MAGIC):
        if head.startswith(b"PK\x03\x04"):  # a PPTX under the old name
            from app.core.parse import pptx

            return pptx.parse(path)
        raise DamagedFile("not a PowerPoint file (no PowerPoint or PPTX content)")
    streams = read_ole(path, "PowerPoint file", "PowerPoint Document", ("Current User",))
    doc, user = streams["PowerPoint Document"], streams.get("Current User", b"")
    if len(user) >= 20 and struct.unpack_from("<I", user, 12)[0] == _ENCRYPTED_TOKEN:
        raise EncryptedFile("password-protected PowerPoint file",
                            "Remove the password (save a copy without it) to have it indexed.")
    try:
        return _slides(doc, user)
    except (struct.error, IndexError, ValueError, RecursionError) as exc:
        raise DamagedFile(f"damaged PowerPoint file: {describe(exc)}") from None


def _header(data: bytes, pos: int) -> tuple[int, int, int, int]:
    """(recVer, recInstance, recType, recLen) of the record at ``pos``."""
    ver_inst, rec_type, length = struct.unpack_from("<HHI", data, pos)
    return ver_inst & 0xF, ver_inst >> 4, rec_type, length


def _children(data: bytes, pos: int) -> Iterator[tuple[int, int, int, int]]:
    """(offset, recType, recInstance, recLen) of each record inside the container at ``pos``."""
    _, _, _, length = _header(data, pos)
    p, end = pos + 8, min(pos + 8 + length, len(data))
    while p + 8 <= end:
        _, inst, rtype, rlen = _header(data, p)
        yield p, rtype, inst, rlen
        p += 8 + rlen


def _text_atom(data: bytes, pos: int, rtype: int, length: int) -> str:
    raw = data[pos + 8:pos + 8 + length]
    # TextBytesAtom holds the low bytes of UTF-16 code units: Latin-1.
    return raw.decode("utf-16-le", "replace") if rtype == _TEXT_CHARS else raw.decode("latin-1")


def _texts(data: bytes, pos: int, depth: int = 0) -> Iterator[tuple[int, str]]:
    """(text type, text) of every text atom under the container at ``pos``, in order; the
    type is the last TextHeaderAtom's before it in the same container (-1 if none)."""
    if depth > MAX_DEPTH:
        return
    kind = -1
    for p, rtype, _, rlen in _children(data, pos):
        if rtype == _TEXT_HEADER and rlen >= 4:
            kind = struct.unpack_from("<I", data, p + 8)[0]
        elif rtype in (_TEXT_CHARS, _TEXT_BYTES):
            yield kind, _text_atom(data, p, rtype, rlen)
        elif _header(data, p)[0] == 0xF:  # a container: look inside
            yield from _texts(data, p, depth + 1)


def _persist_directory(doc: bytes, user: bytes) -> tuple[dict[int, int], int | None]:
    """Object id -> stream offset over every edit, newest first; and the document's id."""
    if len(user) < 20:
        return {}, None
    offset = struct.unpack_from("<I", user, 16)[0]
    persist: dict[int, int] = {}
    doc_ref = None
    seen: set[int] = set()
    while offset and offset not in seen and offset + 32 <= len(doc) and len(seen) < MAX_EDITS:
        seen.add(offset)
        if _header(doc, offset)[2] != _USER_EDIT:
            break
        last_edit, dir_offset, ref = struct.unpack_from("<III", doc, offset + 16)
        doc_ref = ref if doc_ref is None else doc_ref
        if dir_offset + 8 <= len(doc) and _header(doc, dir_offset)[2] == _PERSIST_DIR:
            length = _header(doc, dir_offset)[3]
            p, end = dir_offset + 8, min(dir_offset + 8 + length, len(doc))
            while p + 4 <= end:
                entry = struct.unpack_from("<I", doc, p)[0]
                first, count = entry & 0xFFFFF, entry >> 20
                for j in range(count):
                    if p + 8 + 4 * j <= end:
                        persist.setdefault(first + j, struct.unpack_from("<I", doc, p + 4 + 4 * j)[0])
                p += 4 + 4 * count
        offset = last_edit
    return persist, doc_ref


def _record_of(doc: bytes, persist: dict[int, int], ref: int, rtype: int) -> int | None:
    pos = persist.get(ref)
    if pos is None or pos + 8 > len(doc) or _header(doc, pos)[2] != rtype:
        return None
    return pos


def _slides(doc: bytes, user: bytes) -> list[Section]:
    persist, doc_ref = _persist_directory(doc, user)
    document = _record_of(doc, persist, doc_ref, _DOCUMENT) if doc_ref is not None else None
    if document is None:
        return _slides_in_stream_order(doc)
    slides: list[tuple[int | None, list[tuple[int, str]]]] = []  # (slide record, its layout boxes' text)
    notes_by_id: dict[int, int] = {}
    for p, rtype, inst, _ in _children(doc, document):
        if rtype != _SLIDE_LIST or inst not in (0, 2):
            continue
        kind = -1
        for q, ctype, _, clen in _children(doc, p):
            if ctype == _PERSIST_ATOM and clen >= 16:
                ref, _flags, _n, ident = struct.unpack_from("<IIiI", doc, q + 8)
                if inst == 0:
                    slides.append((_record_of(doc, persist, ref, _SLIDE), []))
                else:
                    rec = _record_of(doc, persist, ref, _NOTES)
                    if rec is not None:
                        notes_by_id[ident] = rec
            elif inst == 0 and slides and ctype == _TEXT_HEADER and clen >= 4:
                kind = struct.unpack_from("<I", doc, q + 8)[0]
            elif inst == 0 and slides and ctype in (_TEXT_CHARS, _TEXT_BYTES):
                slides[-1][1].append((kind, _text_atom(doc, q, ctype, clen)))
    out = []
    for number, (rec, listed) in enumerate(slides, start=1):
        texts = list(listed)
        notes: list[str] = []
        if rec is not None:
            known = {t for _, t in texts}
            texts += [(k, t) for k, t in _texts(doc, rec) if t not in known]
            notes_rec = notes_by_id.get(_notes_id(doc, rec))
            if notes_rec is not None:
                notes = [t for k, t in _texts(doc, notes_rec) if k == _NOTES_TYPE]
        section = _section(number, texts, notes)
        if section is not None:
            out.append(section)
    return out


def _notes_id(doc: bytes, slide: int) -> int:
    for p, rtype, _, rlen in _children(doc, slide):
        if rtype == _SLIDE_ATOM and rlen >= 20:
            return int(struct.unpack_from("<I", doc, p + 8 + 16)[0])
    return 0


def _slides_in_stream_order(doc: bytes) -> list[Section]:
    """No usable edit chain: the slide records as they come in the stream."""
    out = []
    p, number = 0, 0
    while p + 8 <= len(doc):
        _, _, rtype, rlen = _header(doc, p)
        if rtype == _SLIDE:
            number += 1
            section = _section(number, list(_texts(doc, p)), [])
            if section is not None:
                out.append(section)
        p += 8 + rlen
    return out


def _section(number: int, texts: list[tuple[int, str]], notes: list[str]) -> Section | None:
    title = next((" ".join(t.split()) for k, t in texts if k in _TITLE_TYPES and t.strip()), "")
    parts = [title] if title else []
    parts += [_lines(t) for k, t in texts if t.strip() and not (k in _TITLE_TYPES and " ".join(t.split()) == title)]
    note = "\n".join(_lines(t) for t in notes if t.strip())
    if note:
        parts.append(f"Notes: {note}")
    text = clean_prose("\n\n".join(parts))
    return Section(text, number, title) if text else None


def _lines(text: str) -> str:
    # "\r" ends a paragraph and "\x0b" breaks a line inside one.
    return text.replace("\r", "\n").replace("\x0b", "\n")

