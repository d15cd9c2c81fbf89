"""Outlook messages (.msg), read from the compound file Outlook saves ([MS-OXMSG]) with olefile,
into the same sections as an .eml: the message under its subject with From/To/Cc/Date lines
and its body, then the attachments Quire can read under "Subject > name".

Each property is a stream named ``__substg1.0_<id><type>`` (type 001F: UTF-16 text, 001E:
8-bit text, 0102: bytes); dates are fixed-size properties in ``__properties_version1.0``.
An attached message is a storage of its own, read the same way, to a small depth.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from typing import Any

from app.core.errors import DamagedFile, UnsupportedFile
from app.core.parse import Section
from app.core.parse._common import OLE_MAGIC, decode_bytes, describe
from app.core.parse.mail import MAX_DEPTH, message, message_heading, read_attachment

_SUBJECT, _SENDER_NAME, _SENDER_EMAIL, _TO, _CC = 0x0037, 0x0C1A, 0x0C1F, 0x0E04, 0x0E03
_BODY, _BODY_HTML, _HEADERS = 0x1000, 0x1013, 0x007D
_SUBMIT_TIME, _DELIVERY_TIME = 0x0039, 0x0E06
_ATTACH_LONG_NAME, _ATTACH_NAME, _ATTACH_DATA = 0x3707, 0x3704, 0x3701
_PROPS = "__properties_version1.0"
_ATTACH = "__attach_version1.0_#"
_EMBEDDED = "__substg1.0_3701000D"  # an attachment that is itself a message


def parse(path: str) -> list[Section]:
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(OLE_MAGIC):
        # Other programs write text under this name too (message catalogues, logs).
        from app.core.parse import text

        if text.binary_reason(data[:text.SNIFF_BYTES]) is None:
            return text.parse(path)
        raise DamagedFile("not an Outlook message (no OLE file inside)")
    return parse_data(data, 0)


def parse_data(data: bytes, depth: int, parent: str = "") -> list[Section]:
    import olefile

    try:
        ole = olefile.OleFileIO(data)
    except OSError as exc:
        raise DamagedFile(f"damaged Outlook message: {describe(exc)}") from None
    try:
        if not any(e[0].startswith("__substg1.0_") for e in ole.listdir(streams=True, storages=False)):
            raise UnsupportedFile("an OLE file with no message properties (not an Outlook message)")
        return _message(ole, [], depth, parent)
    except (OSError, struct.error, IndexError, ValueError) as exc:
        raise DamagedFile(f"damaged Outlook message: {describe(exc)}") from None
    finally:
        ole.close()


def _message(ole: Any, at: list[str], depth: int, parent: str) -> list[Section]:
    subject = _text(ole, at, _SUBJECT)
    sender = _text(ole, at, _SENDER_NAME)
    address = _text(ole, at, _SENDER_EMAIL)
    if address and "@" in address and address not in sender:
        sender = f"{sender} <{address}>" if sender else address
    fields = [("From", sender), ("To", _text(ole, at, _TO)), ("Cc", _text(ole, at, _CC)),
              ("Date", _date(ole, at, top=not at)), ("Subject", subject)]
    body = _text(ole, at, _BODY)
    if not body.strip():
        wide = _raw(ole, at, _BODY_HTML, "001F")
        html: bytes | str | None = _raw(ole, at, _BODY_HTML, "0102") or (
            wide.decode("utf-16-le", "replace") if wide else None)
        if html:
            from app.core.parse.html import parse_html

            body = "\n\n".join(s.text for s in parse_html(html, with_title=False))
    heading = message_heading(subject, parent)
    attachments: list[tuple[str, list[Section], str]] = []
    inner: list[Section] = []
    for storage in sorted({e[len(at)] for e in ole.listdir(streams=True, storages=True)
                           if len(e) > len(at) + 1 and e[:len(at)] == at and e[len(at)].startswith(_ATTACH)}):
        place = [*at, storage]
        name = _text(ole, place, _ATTACH_LONG_NAME) or _text(ole, place, _ATTACH_NAME)
        name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
        if ole.exists("/".join([*place, _EMBEDDED])):
            if depth < MAX_DEPTH:
                inner.extend(_message(ole, [*place, _EMBEDDED], depth + 1, heading))
            continue
        sections, why = read_attachment(name, _raw(ole, place, _ATTACH_DATA, "0102"), None, depth)
        attachments.append((name, sections, why))
    return message(subject, fields, body, attachments, parent) + inner


def _raw(ole: Any, at: list[str], prop: int, kind: str) -> bytes | None:
    path = "/".join([*at, f"__substg1.0_{prop:04X}{kind}"])
    return ole.openstream(path).read() if ole.exists(path) else None


def _text(ole: Any, at: list[str], prop: int) -> str:
    raw = _raw(ole, at, prop, "001F")
    if raw is not None:
        return raw.decode("utf-16-le", "replace").rstrip("\x00")
    raw = _raw(ole, at, prop, "001E")
    return decode_bytes(raw.rstrip(b"\x00")) if raw else ""


def _date(ole: Any, at: list[str], top: bool) -> str:
    """When it was sent (else delivered), from the fixed-size properties stream: a header (32
    bytes for the message itself, 24 for one attached to it), then 16-byte entries of
    (type, id, flags, value); a date is a FILETIME."""
    path = "/".join([*at, _PROPS])
    if not ole.exists(path):
        return ""
    data = ole.openstream(path).read()
    found: dict[int, int] = {}
    for pos in range(32 if top else 24, len(data) - 15, 16):
        ptype, pid = struct.unpack_from("<HH", data, pos)
        if ptype == 0x0040 and pid in (_SUBMIT_TIME, _DELIVERY_TIME):
            found[pid] = struct.unpack_from("<Q", data, pos + 8)[0]
    ticks = found.get(_SUBMIT_TIME) or found.get(_DELIVERY_TIME)
    if not ticks:
        return ""
    try:
        when = datetime(1601, 1, 1, tzinfo=UTC) + timedelta(microseconds=ticks // 10)
    except OverflowError:
        return ""
    return when.strftime("%a, %d %b %Y %H:%M:%S +0000")
