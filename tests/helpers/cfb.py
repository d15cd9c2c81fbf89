"""Write OLE compound files and Word 97 documents for the .doc reader's tests (no program
here can save a .doc). Version 3 compound files with 512-byte sectors; streams are padded
to the 4,096-byte mini-stream cutoff so every stream lives in ordinary sectors."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from datetime import datetime

SECTOR = 512
END, FREE, FAT_SECT, NO_STREAM = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF


def compound_file(streams: dict[str, bytes]) -> bytes:
    """A compound file holding ``streams``; a name with "/" puts the stream in storages
    ("__attach_version1.0_#00000000/__substg1.0_3707001F")."""
    streams = {name: data + b"\0" * max(0, 4096 - len(data)) for name, data in streams.items()}
    sectors: list[bytes] = []
    fat: list[int] = []

    def chain(data: bytes) -> int:
        first = len(sectors)
        n = -(-len(data) // SECTOR)
        for i in range(n):
            sectors.append(data[i * SECTOR:(i + 1) * SECTOR].ljust(SECTOR, b"\0"))
            fat.append(first + i + 1 if i < n - 1 else END)
        return first

    # The tree: every storage's children, in the order first seen.
    children: dict[str, list[str]] = {"": []}
    for name in streams:
        parts = name.split("/")
        for i in range(len(parts)):
            parent, path = "/".join(parts[:i]), "/".join(parts[:i + 1])
            if path not in children.get(parent, []):
                children.setdefault(parent, []).append(path)
            if i < len(parts) - 1:
                children.setdefault(path, [])
    ids = {"": 0}
    order = [""]
    for path in (p for p in _walk_tree(children, "")):
        ids[path] = len(order)
        order.append(path)
    starts = {name: chain(data) for name, data in streams.items()}
    entries = []
    for path in order:
        kids = children.get(path, [])
        child = ids[kids[0]] if kids else NO_STREAM
        if path == "":
            entries.append(_dir_entry("Root Entry", 5, child=child, start=END, size=0))
            continue
        parent = path.rsplit("/", 1)[0] if "/" in path else ""
        siblings = children[parent]
        i = siblings.index(path)
        right = ids[siblings[i + 1]] if i + 1 < len(siblings) else NO_STREAM  # a right-leaning chain
        name = path.rsplit("/", 1)[-1]
        if path in streams:
            entries.append(_dir_entry(name, 2, right=right, start=starts[path], size=len(streams[path])))
        else:
            entries.append(_dir_entry(name, 1, right=right, child=child, start=0, size=0))
    directory = b"".join(entries)
    dir_start = chain(directory.ljust(-(-len(directory) // SECTOR) * SECTOR, b"\0"))
    n_fat = 1
    while len(fat) + n_fat > n_fat * (SECTOR // 4):
        n_fat += 1
    fat_start = len(sectors)
    fat.extend([FAT_SECT] * n_fat)
    fat.extend([FREE] * (n_fat * (SECTOR // 4) - len(fat)))
    table = struct.pack(f"<{len(fat)}I", *fat)
    for i in range(n_fat):
        sectors.append(table[i * SECTOR:(i + 1) * SECTOR])
    difat = [fat_start + i for i in range(n_fat)] + [FREE] * (109 - n_fat)
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16
              + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\0" * 6
              + struct.pack("<IIIIIIIII", 0, n_fat, dir_start, 0, 4096, END, 0, END, 0)
              + struct.pack("<109I", *difat))
    return header + b"".join(sectors)


def _walk_tree(children: dict[str, list[str]], path: str) -> Iterator[str]:
    for kid in children.get(path, []):
        yield kid
        yield from _walk_tree(children, kid)


def _dir_entry(name: str, kind: int, *, child: int = NO_STREAM, right: int = NO_STREAM, start: int, size: int) -> bytes:
    raw = name.encode("utf-16-le") + b"\0\0"
    return (raw.ljust(64, b"\0") + struct.pack("<HBB", len(raw), kind, 1)
            + struct.pack("<III", NO_STREAM, right, child) + b"\0" * 16 + b"\0" * 4 + b"\0" * 16
            + struct.pack("<IQ", start, size))


def word_document(pieces: list[tuple[str, bool]], *, footnotes: str = "", headers: str = "",
                  encrypted: bool = False, deleted: tuple[int, int] | None = None) -> bytes:
    """A .doc whose main text is ``pieces`` ((text, stored 8-bit) each), followed by its
    ``footnotes`` and page ``headers``, as Word 97 and later write it: a FIB, a piece table
    in the 1Table stream, the text in the WordDocument stream. ``deleted``: characters
    [a, b) of the main text are a tracked deletion (a character-formatting page marks them)."""
    main = sum(len(t) for t, _ in pieces)
    pieces = pieces + [(t, False) for t in (footnotes, headers) if t]
    text_at = 0x1000
    body = bytearray()
    plc_cps = [0]
    pcds = []
    byte_of: list[int] = []  # each main-text character's offset in the WordDocument stream
    for text, eight_bit in pieces:
        offset = text_at + len(body)
        if len(byte_of) < main:
            byte_of += [offset + (1 if eight_bit else 2) * i for i in range(len(text))]
        if eight_bit:
            body += text.encode("cp1252")
            fc = (offset * 2) | 0x40000000
        else:
            body += text.encode("utf-16-le")
            fc = offset
        plc_cps.append(plc_cps[-1] + len(text))
        pcds.append(struct.pack("<HIH", 0, fc, 0))
    plc = struct.pack(f"<{len(plc_cps)}I", *plc_cps) + b"".join(pcds)
    clx = b"\x02" + struct.pack("<I", len(plc)) + plc
    fib = bytearray(0x1000)
    flags = 0x0200 | (0x0100 if encrypted else 0)
    struct.pack_into("<HH", fib, 0, 0xA5EC, 0x00C1)
    struct.pack_into("<H", fib, 0x0A, flags)
    struct.pack_into("<H", fib, 0x20, 14)  # csw
    struct.pack_into("<H", fib, 0x3E, 22)  # cslw
    counts = [0] * 22
    counts[3], counts[4], counts[5] = main, len(footnotes), len(headers)
    struct.pack_into("<22i", fib, 0x40, *counts)
    struct.pack_into("<H", fib, 0x98, 93)  # cbRgFcLcb (Word 97)
    struct.pack_into("<II", fib, 0x9A + 8 * 33, 0, len(clx))  # fcClx, lcbClx
    table = clx
    if deleted is not None:
        # One ChpxFkp page (512 bytes, after the text) of three runs, the middle one deleted
        # (sprmCFRMarkDel = 1), and a PlcBteChpx pointing to it.
        a, b = deleted
        end = byte_of[main - 1] + (byte_of[1] - byte_of[0] if main > 1 else 2)
        fcs = [byte_of[0], byte_of[a], byte_of[b] if b < main else end, end]
        page = bytearray(512)
        struct.pack_into("<4I", page, 0, *fcs)
        page[16:19] = bytes([0, 0x40, 0])  # rgb: the runs' properties at word 0x40 (the middle one)
        page[0x80:0x84] = bytes([3, 0x00, 0x08, 1])  # cb, sprmCFRMarkDel, 1
        page[511] = 3
        body += b"\0" * (-(text_at + len(body)) % 512)
        pn = (text_at + len(body)) // 512
        body += page
        bte = struct.pack("<3I", fcs[0], fcs[-1], pn)
        struct.pack_into("<II", fib, 0x9A + 8 * 12, len(clx), len(bte))  # fcPlcfBteChpx
        table = clx + bte
    return compound_file({"WordDocument": bytes(fib) + bytes(body), "1Table": table})


def _rec(rtype: int, data: bytes, *, inst: int = 0, container: bool = False) -> bytes:
    return struct.pack("<HHI", (inst << 4) | (0xF if container else 0), rtype, len(data)) + data


def _box(kind: int, text: str, eight_bit: bool = False) -> bytes:
    """A shape's text box: OfficeArt containers around a TextHeaderAtom and a text atom."""
    atom = _rec(0x0FA8, text.encode("latin-1")) if eight_bit else _rec(0x0FA0, text.encode("utf-16-le"))
    textbox = _rec(0xF00D, _rec(0x0F9F, struct.pack("<I", kind)) + atom, container=True)
    shape = _rec(0xF004, textbox, container=True)
    return _rec(0x040C, _rec(0xF002, shape, container=True), container=True)


def powerpoint_document(slides: list[dict[str, str]], *, encrypted: bool = False) -> bytes:
    """A .ppt as PowerPoint 97 and later write it. Each slide: "title" and "body" (placeholder
    text, kept in the document's slide list; the body as 8-bit text), "box" (a text box on the
    slide itself) and "notes". Slide records are stored last slide first, so only the persist
    directory tells their order."""
    n = len(slides)
    slide_ids = [2 + i for i in range(n)]
    notes_ids = [2 + n + i for i in range(n)]
    slide_list = b""
    notes_list = b""
    for i, s in enumerate(slides):
        slide_list += _rec(0x03F3, struct.pack("<IIiII", slide_ids[i], 0, 2, 256 + i, 0))
        slide_list += _rec(0x0F9F, struct.pack("<I", 0)) + _rec(0x0FA0, s.get("title", "").encode("utf-16-le"))
        slide_list += _rec(0x0F9F, struct.pack("<I", 1)) + _rec(0x0FA8, s.get("body", "").encode("latin-1"))
        notes_list += _rec(0x03F3, struct.pack("<IIiII", notes_ids[i], 0, 0, i + 1, 0))
    document = _rec(0x03E8, _rec(0x03E9, b"\0" * 40) + _rec(0x0FF0, slide_list, inst=0, container=True)
                    + _rec(0x0FF0, notes_list, inst=2, container=True), container=True)
    stream = bytearray(document)
    offsets = {1: 0}
    for i in reversed(range(n)):
        s = slides[i]
        atom = _rec(0x03EF, struct.pack("<I8sIIHH", 0, b"\0" * 8, 0, i + 1, 0, 0))
        offsets[slide_ids[i]] = len(stream)
        stream += _rec(0x03EE, atom + (_box(4, s["box"]) if s.get("box") else b""), container=True)
    for i, s in enumerate(slides):
        offsets[notes_ids[i]] = len(stream)
        stream += _rec(0x03F0, _rec(0x03F1, b"\0" * 8) + (_box(2, s["notes"]) if s.get("notes") else b""),
                       container=True)
    ids = sorted(offsets)
    directory_at = len(stream)
    stream += _rec(0x1772, struct.pack("<I", ids[0] | (len(ids) << 20))
                   + struct.pack(f"<{len(ids)}I", *(offsets[i] for i in ids)))
    edit_at = len(stream)
    stream += _rec(0x0FF5, struct.pack("<IHBBIIIIHH", 0, 0, 0, 3, 0, directory_at, 1, len(ids) + 1, 1, 0))
    token = 0xF3D1C4DF if encrypted else 0xE391C05F
    user = _rec(0x0FF6, struct.pack("<IIIHHBBH", 0x14, token, edit_at, 3, 0x03F4, 3, 0, 0) + b"ana")
    return compound_file({"PowerPoint Document": bytes(stream), "Current User": user})


def outlook_message(props: dict[int, str], *, sent: datetime | None = None, html: bytes | None = None,
                    attachments: tuple[tuple[str, bytes], ...] = (),
                    embedded: dict[int, str] | None = None) -> bytes:
    """A .msg as Outlook saves it ([MS-OXMSG]): each text property a UTF-16 stream
    ``__substg1.0_<id>001F``, the send time in ``__properties_version1.0``, attachments in
    storages of their own, and ``embedded`` (an attached message's properties) in one."""
    streams: dict[str, bytes] = {}

    def texts(prefix: str, values: dict[int, str]) -> None:
        for pid, text in values.items():
            streams[f"{prefix}__substg1.0_{pid:04X}001F"] = text.encode("utf-16-le")

    texts("", props)
    entries = b""
    if sent is not None:
        ticks = int((sent - datetime(1601, 1, 1, tzinfo=sent.tzinfo)).total_seconds() * 10_000_000)
        entries = struct.pack("<HHIQ", 0x0040, 0x0039, 2, ticks)
    streams["__properties_version1.0"] = b"\0" * 32 + entries
    if html is not None:  # the HTML body as bytes (0102), as Outlook writes it
        streams["__substg1.0_10130102"] = html
    for i, (name, data) in enumerate(attachments):
        at = f"__attach_version1.0_#{i:08X}/"
        texts(at, {0x3707: name})
        streams[at + "__substg1.0_37010102"] = data
        streams[at + "__properties_version1.0"] = b"\0" * 8
    if embedded is not None:
        at = f"__attach_version1.0_#{len(attachments):08X}/"
        streams[at + "__properties_version1.0"] = b"\0" * 8
        texts(at + "__substg1.0_3701000D/", embedded)
        streams[at + "__substg1.0_3701000D/__properties_version1.0"] = b"\0" * 24
    return compound_file(streams)
