"""vCard (.vcf) and iCalendar (.ics): each contact or event as a few readable lines.

Read as plain text these were noise: folded lines split words ("Use th / e online"), vCard
2.1's quoted-printable hid the names ("=D7=A7=D7=99=D7=A8"), and photos and attachments were
kilobytes of base64. Here lines are unfolded, values decoded and unescaped, and only what a
person would look for is kept: names, organisations, phone numbers, addresses, notes; an
event's summary, place, times, people and description.
"""

from __future__ import annotations

import quopri
import re

from app.core.parse import Section
from app.core.parse._common import clean_prose
from app.core.parse.text import decode_text_file

# Property -> label, in the order they are shown.
_LABELS = {
    "FN": "Name", "N": "Name", "NICKNAME": "Nickname", "ORG": "Organization", "TITLE": "Title",
    "ROLE": "Role", "TEL": "Phone", "EMAIL": "Email", "ADR": "Address", "URL": "Web",
    "BDAY": "Birthday", "NOTE": "Note",
    "SUMMARY": "Event", "LOCATION": "Location", "DTSTART": "Starts", "DTEND": "Ends", "DUE": "Due",
    "ORGANIZER": "Organizer", "ATTENDEE": "Attendee", "CATEGORIES": "Categories", "DESCRIPTION": "Description",
    "COMMENT": "Comment",
}
_ORDER = {name: i for i, name in enumerate(_LABELS)}
# Every other block (a contact, an event, a task, a journal entry) becomes a paragraph.
_CONTAINER = "VCALENDAR"
_SKIPPED_BLOCKS = {"VTIMEZONE", "VALARM", "STANDARD", "DAYLIGHT"}
_LINE = re.compile(r"^(?:[A-Za-z0-9-]+\.)?([A-Za-z0-9-]+)((?:;[^:]*)?):(.*)$")
_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})?(Z?))?$")
_ESCAPE = re.compile(r"\\([nN,;\\])")


def parse(path: str) -> list[Section]:
    with open(path, "rb") as f:
        text = decode_text_file(f.read())
    paragraphs: list[str] = []
    fields: list[tuple[int, str, str]] = []
    skip = 0
    for name, params, value in _properties(text):
        if name in ("BEGIN", "END"):
            block = value.strip().upper()
            if block in _SKIPPED_BLOCKS:
                skip += 1 if name == "BEGIN" else -1
            elif block != _CONTAINER:
                if fields:
                    paragraphs.append(_paragraph(fields))
                fields = []
            continue
        if skip > 0 or name not in _LABELS or _binary(params):
            continue
        value = _value(value, params)
        if name in ("N", "ADR", "ORG"):  # structured: "family;given;..." parts
            parts = [p.strip() for p in re.split(r"(?<!\\);", value) if p.strip()]
            if name == "N":  # given name first
                parts[:2] = reversed(parts[:2])
            value = (" " if name == "N" else ", ").join(parts)
        elif name in ("DTSTART", "DTEND", "DUE", "BDAY"):
            value = _date(value)
        elif name in ("ORGANIZER", "ATTENDEE"):
            cn = re.search(r"(?i)(?:^|;)CN=(\"[^\"]*\"|[^;:]*)", params)
            mail = value[7:] if value.lower().startswith("mailto:") else value
            value = f"{cn.group(1).strip(chr(34))} <{mail}>" if cn and cn.group(1).strip('"') else mail
        value = clean_prose(_ESCAPE.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value))
        if value and value.lower() != "null":
            fields.append((_ORDER[name], _LABELS[name], value))
    if fields:
        paragraphs.append(_paragraph(fields))
    text = "\n\n".join(p for p in paragraphs if p)
    return [Section(text, None)] if text else []


def _properties(text: str) -> list[tuple[str, str, str]]:
    """(NAME, ;params, value) of each content line, unfolded (RFC 5545/6350: a line starting
    with a space or tab continues the one before; vCard 2.1's quoted-printable continues a
    value ending in "=")."""
    out: list[tuple[str, str, str]] = []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        while i < len(lines) and lines[i][:1] in (" ", "\t"):
            line += lines[i][1:]
            i += 1
        m = _LINE.match(line)
        if not m:
            continue
        name, params, value = m.group(1).upper(), m.group(2), m.group(3)
        if "QUOTED-PRINTABLE" in params.upper():
            while value.endswith("=") and i < len(lines):
                value = value[:-1] + lines[i]
                i += 1
        out.append((name, params, value))
    return out


def _binary(params: str) -> bool:
    p = params.upper()
    return "ENCODING=B" in p or "VALUE=BINARY" in p


def _value(value: str, params: str) -> str:
    if "QUOTED-PRINTABLE" not in params.upper():
        return value
    charset = re.search(r"(?i)CHARSET=([A-Za-z0-9_.:-]+)", params)
    raw = quopri.decodestring(value.encode("latin-1", "replace"))
    try:
        return raw.decode(charset.group(1) if charset else "utf-8", "replace")
    except LookupError:
        return raw.decode("utf-8", "replace")


def _date(value: str) -> str:
    """20240105T100000Z -> 2024-01-05 10:00 UTC (left as it is if it is not one)."""
    m = _DATE.match(value.strip())
    if not m:
        return value
    y, mo, d, h, mi, _, z = m.groups()
    return f"{y}-{mo}-{d}" + (f" {h}:{mi}" if h else "") + (" UTC" if z else "")


def _paragraph(fields: list[tuple[int, str, str]]) -> str:
    if any(order == _ORDER["FN"] for order, _, _ in fields):  # the formatted name says it better than N
        fields = [f for f in fields if f[0] != _ORDER["N"]]
    seen: set[tuple[str, str]] = set()
    lines = []
    for _, label, value in sorted(fields, key=lambda f: f[0]):
        if (label, value) in seen:
            continue
        seen.add((label, value))
        lines.append(f"{label}: {value}")
    return "\n".join(lines)
