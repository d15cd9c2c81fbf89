"""E-mail: single messages (.eml, Apple Mail's .emlx) and mailboxes (.mbox, Thunderbird's
extension-less folder files), read with the standard library's ``email`` package.

Read as plain text, a message is mostly noise: base64 bodies, "=E2=80=99" escapes,
encoded subjects, and a 5 MB attachment becomes thousands of chunks of base64. Here each
message is a section headed by its subject, whose text starts with the From, To, Date and
Subject lines (so a keyword search finds a sender) followed by the body: the text/plain
part, else the visible text of the text/html one. Attachments Quire can read (a PDF, a
DOCX, a forwarded message...) are parsed and follow as sections headed "Subject >
name.pdf"; others are named at the end of the message.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email.header
import email.parser
import email.policy
import os
import quopri
import re
import tempfile
from collections.abc import Iterator
from email.message import Message

from app.core.errors import DamagedFile, ParseError
from app.core.parse import Section, kind_of_name
from app.core.parse._common import clean_prose, decode_bytes, describe
from app.core.parse.text import MBOX_FROM_LINE

_HEADERS = ("From", "To", "Cc", "Date", "Subject")
_ESCAPED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)
_HEADER_LINE = re.compile(rb"[!-9;-~]+:")  # "Name:" (printable, no spaces, no colon in the name)
_DATED_FROM_LINE = re.compile(
    rb"From \S+ +(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? +(?:\d{1,2} +)?"
    rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* +(?:\d{1,4} +){0,2}\d{1,2}:\d{2}")
_FLAGS = re.compile(r"[A-Z]{1,8}")  # "RO", "D": a status, not "Delivered"
MAX_DEPTH = 3  # a message attached to a message attached to ...: enough for real forwards


def parse(path: str) -> list[Section]:
    """A .eml file: one message."""
    with open(path, "rb") as f:
        data = f.read()
    return _message_sections(_parse_bytes(data), 0)


def parse_emlx(path: str) -> list[Section]:
    """Apple Mail's .emlx: the message's length in bytes on the first line, the message,
    then an XML property list of flags."""
    with open(path, "rb") as f:
        data = f.read()
    first, _, rest = data.partition(b"\n")
    try:
        size = int(first.strip())
    except ValueError:
        size = len(rest)  # not the usual layout: take the whole file as the message
    return _message_sections(_parse_bytes(rest[:size]), 0)


def parse_mbox(path: str) -> list[Section]:
    """An mbox file: every message in it, in order, but those marked deleted."""
    out: list[Section] = []
    for raw in _mbox_messages(path):
        msg = _parse_bytes(raw)
        if not _deleted(msg):
            out.extend(_message_sections(msg, 0))
    return out


def _deleted(msg: Message) -> bool:
    """A message the user deleted that is still in the file: Thunderbird keeps it, flagged
    "expunged" in X-Mozilla-Status, until the folder is compacted; Pine and others write
    "D" in X-Status or Status."""
    mozilla = str(msg.get("X-Mozilla-Status") or "").strip()
    if mozilla and all(c in "0123456789abcdefABCDEF" for c in mozilla) and int(mozilla, 16) & 0x0008:
        return True
    return any(_FLAGS.fullmatch(v := str(msg.get(h) or "").strip()) and "D" in v for h in ("X-Status", "Status"))


def _mbox_messages(path: str) -> Iterator[bytes]:
    """The raw bytes of each message of an mbox, read line by line (the file is not held
    in memory). A separator is a "From " line with the usual date ("From a@b Mon Jan  1
    00:00:01 2001"), or one without at the start of the file or after a blank line when a
    header line follows; so a body's "From time to time" stays text. ">From " lines inside a
    body lose one ">" (mboxrd's escaping)."""
    lines: list[bytes] = []
    blank_before = True
    pending: bytes | None = None  # a "From " line waiting for the next to say what it is
    with open(path, "rb") as f:
        for line in f:
            if pending is not None:
                if _HEADER_LINE.match(line):
                    if lines and any(ln.strip() for ln in lines):
                        yield _ESCAPED_FROM.sub(rb"\1", b"".join(lines))
                    lines = []
                else:
                    lines.append(pending)
                pending = None
            if line.startswith(b"From ") and _DATED_FROM_LINE.match(line):
                if lines and any(ln.strip() for ln in lines):
                    yield _ESCAPED_FROM.sub(rb"\1", b"".join(lines))
                lines = []
            elif blank_before and line.startswith(b"From ") and MBOX_FROM_LINE.match(line):
                pending = line
            else:
                lines.append(line)
            blank_before = line in (b"\n", b"\r\n")
    if pending is not None:
        lines.append(pending)
    if lines and any(ln.strip() for ln in lines):
        yield _ESCAPED_FROM.sub(rb"\1", b"".join(lines))


def _parse_bytes(data: bytes) -> Message:
    # compat32, not policy.default: the modern header classes cost ~1.3 ms a message
    # (6.6 s for a 5,000-message mbox); headers are decoded here, only those shown.
    try:
        return email.parser.BytesParser(policy=email.policy.compat32).parsebytes(data)
    except RecursionError:  # thousands of nested parts: hostile or broken, never real mail
        raise DamagedFile("damaged e-mail: its parts are nested thousands deep") from None


def _header(msg: Message, name: str) -> str:
    """A header's value with its "=?utf-8?q?...?=" words decoded; the raw text where they
    cannot be (an unknown charset, a broken word), so nothing is lost for search."""
    # raw_items, not get(): get() turns 8-bit bytes (a raw UTF-8 or Latin-1 subject, which
    # many clients send) into "?"s; here they are surrogate escapes to decode as bytes.
    raw = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), None)
    if not raw:
        return ""
    raw = str(raw)
    if not raw.isascii():
        data = raw.encode("utf-8", "surrogateescape")
        try:
            raw = data.decode("utf-8")
        except UnicodeDecodeError:  # too short to guess well: the usual Western 8-bit
            raw = data.decode("cp1252", "replace")
    return " ".join(_decode_words(raw).split())


def _decode_words(raw: str) -> str:
    if "=?" not in raw:
        return raw
    try:
        pieces = email.header.decode_header(raw)
    except Exception:  # not even splittable: the raw text
        return raw
    if all(_known_charset(charset) for _, charset in pieces):
        try:
            return str(email.header.make_header(pieces))
        except Exception:  # a broken word: each decoded on its own, below
            pass
    # An unknown charset ("unknown-8bit", a typo): make_header would put "\ufffd"s in its place.
    return "".join(_decode_piece(chunk, charset) for chunk, charset in pieces)


def _known_charset(charset: str | None) -> bool:
    if charset is None:
        return True
    try:
        codecs.lookup(charset)
        return True
    except LookupError:
        return False


def _decode_piece(chunk: bytes | str, charset: str | None) -> str:
    if isinstance(chunk, str):
        return chunk
    try:
        return chunk.decode(charset or "ascii")
    except (LookupError, UnicodeDecodeError):
        return decode_bytes(chunk)


# Parts that are not content: signatures (signature.asc, smime.p7s) and Outlook's TNEF wrapper.
_NOT_CONTENT = frozenset({"application/pgp-signature", "application/pkcs7-signature",
                          "application/x-pkcs7-signature", "application/pgp-keys", "application/ms-tnef"})


def _is_attachment(part: Message) -> bool:
    if part.get_content_disposition() == "attachment":
        return True
    # An inline part with a file name that is not text (a PDF "inline") is a file too; not an
    # image the HTML shows by its Content-ID (a signature's logo, image001.png).
    return (part.get_content_maintype() not in ("text", "multipart") and bool(part.get_filename())
            and not (part.get_content_maintype() == "image" and part.get("Content-ID")))


def _walk(part: Message, body: list[str], files: list[Message], depth: int = 0) -> None:
    """Sort a MIME tree into the body's texts and the attached files; an attached message
    (message/rfc822) is a file, not descended into here."""
    ctype = part.get_content_type()
    if ctype in _NOT_CONTENT or depth > MAX_MIME_DEPTH:
        return
    if ctype == "message/rfc822" or _is_attachment(part):
        files.append(part)
    elif part.is_multipart():
        subs = [p for p in part.get_payload() if isinstance(p, Message)]
        if part.get_content_subtype() == "alternative" and subs:
            body.extend(_alternative(subs, files, depth + 1))
        else:
            for sub in subs:
                _walk(sub, body, files, depth + 1)
    elif part.get_content_maintype() == "multipart":
        # A multipart whose boundary is missing or not the one its body uses: the parser
        # leaves the body as one string. Parsed again with the boundary the body does use;
        # failing that, it is text (with whatever MIME lines it holds), not nothing.
        fixed = _with_found_boundary(part)
        if fixed is not None:
            _walk(fixed, body, files, depth + 1)
        else:
            body.append(_part_text(part))
    elif part.get_content_maintype() == "text" and ctype not in ("text/calendar", "text/x-vcard", "text/vcard"):
        body.append(_part_text(part))


_BOUNDARY_LINE = re.compile(r"^--([^\s]{1,200}?)(?:--)?[ \t]*$", re.M)


def _with_found_boundary(part: Message) -> Message | None:
    raw = part.get_payload()
    if not isinstance(raw, str):
        return None
    m = _BOUNDARY_LINE.search(raw)
    if m is None or part.get_param("boundary") == m.group(1) or raw.count("--" + m.group(1)) < 2:
        return None
    head = "".join(f"{k}: {v}\n" for k, v in part.items() if k.lower() != "content-type")
    ctype = f'Content-Type: {part.get_content_type()}; boundary="{m.group(1)}"\n'
    try:
        fixed = _parse_bytes((head + ctype + "\n" + raw).encode("utf-8", "surrogateescape"))
    except (DamagedFile, ValueError, UnicodeError):
        return None
    return fixed if fixed.is_multipart() else None


def _alternative(subs: list[Message], files: list[Message], depth: int) -> list[str]:
    """The same content in several forms: the plain text if there is one, else the richest
    (last) form, which may be a multipart/related holding the HTML. A blank plain text gives
    way to the HTML; a stand-in ("Please use an HTML capable mail program") is joined by it."""
    def richest() -> list[str]:
        """The richest form's texts, its files (a PDF in a multipart/related) with them."""
        out: list[str] = []
        _walk(subs[-1], out, files, depth)
        return out

    plain = next((p for p in subs if p.get_content_type() == "text/plain"), None)
    if plain is None or plain is subs[-1]:
        return richest()
    text = _part_text(plain)
    if not text.strip():
        return richest()
    if len(text) < _SHORT_PLAIN:  # the HTML is read only for short plain texts
        # A short plain text may stand in for the content: if most of the HTML's words are
        # not in it, the HTML says something else, and both are kept (with its files).
        found: list[Message] = []
        rich: list[str] = []
        _walk(subs[-1], rich, found, depth)
        words = set(text.casefold().split())
        rich_words = set(" ".join(rich).casefold().split())
        if len(rich_words - words) * 2 > len(rich_words):
            files.extend(found)
            return [text, *rich]
    return [text]


_SHORT_PLAIN = 200
MAX_MIME_DEPTH = 50  # parts nested deeper are a malformed or hostile message


def _part_text(part: Message) -> str:
    """The decoded text of a text/* part, whatever its transfer encoding and charset."""
    payload = _payload_bytes(part)
    if payload is None:
        return ""
    charset = _charset(part)
    if charset and charset.lower().replace("_", "-") in ("utf-7", "unicode-1-1-utf-7"):
        text = payload.decode("utf-7", "replace")  # all ASCII: decode_bytes would take it as UTF-8
    else:
        text = decode_bytes(payload, charset)
    if part.get_content_subtype() == "html":
        from app.core.parse.html import parse_html

        return "\n\n".join(s.text for s in parse_html(text, with_title=False))
    return text


def _payload_bytes(part: Message) -> bytes | None:
    """A part's body, transfer encoding undone, also when the encoding's name is misspelt
    ("base64;", "quoted printable"), which the email package then leaves encoded."""
    cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    name = re.sub(r"[^a-z0-9]", "", cte.split(";")[0])
    if cte in ("base64", "quoted-printable") or name not in ("base64", "quotedprintable"):
        payload = part.get_payload(decode=True)
        return payload if isinstance(payload, bytes) else None
    raw = part.get_payload()
    if not isinstance(raw, str):
        return None
    data = raw.encode("ascii", "surrogateescape")
    if name == "quotedprintable":
        return quopri.decodestring(data)
    try:
        return base64.b64decode(data + b"===", validate=False)
    except (binascii.Error, ValueError):
        return data


def _charset(part: Message) -> str | None:
    try:
        return part.get_content_charset()
    except Exception:  # a malformed parameter (RFC 2231 gone wrong)
        return None


def _message_sections(msg: Message, depth: int, parent: str = "") -> list[Section]:
    subject = _header(msg, "Subject")
    fields = [(name, _header(msg, name)) for name in _HEADERS]
    texts: list[str] = []
    files: list[Message] = []
    _walk(msg, texts, files)
    # Plain and HTML forms side by side in a multipart/mixed say the same thing twice.
    seen: set[str] = set()
    body = "\n\n".join(t for t in texts if t and not (" ".join(t.split()) in seen or seen.add(" ".join(t.split()))))
    heading = message_heading(subject, parent)
    attachments: list[tuple[str, list[Section], str]] = []
    inner: list[Section] = []
    for part in files:
        name = _filename(part)
        if part.get_content_type() == "message/rfc822":
            forwarded = _attached_message(part)
            if forwarded is not None and depth < MAX_DEPTH:
                inner.extend(_message_sections(forwarded, depth + 1, heading))
            continue
        if not name and part.get_content_maintype() == "text":
            # A text attachment with no file name: read as what it is, not dropped unnamed.
            text = clean_prose(_part_text(part))
            attachments.append(("attachment", [Section(text, None)] if text else [], "empty"))
            continue
        sections, why = read_attachment(name, _payload_bytes(part), _charset(part), depth)
        attachments.append((name or part.get_content_type(), sections, why))
    return message(subject, fields, body, attachments, parent) + inner


def _attached_message(part: Message) -> Message | None:
    """The message inside a message/rfc822 part. Sent base64- or QP-encoded (against the
    rules, but some clients do), the parser took the encoded text for the message: decode it
    and parse again."""
    payload = part.get_payload()
    if not (isinstance(payload, list) and payload and isinstance(payload[0], Message)):
        return None
    inner = payload[0]
    cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if cte in ("base64", "quoted-printable"):
        data = inner.as_bytes() if not inner.keys() else inner.get_payload(decode=False)
        if isinstance(data, str):
            data = data.encode("ascii", "surrogateescape")
        if isinstance(data, bytes):
            try:
                raw = base64.b64decode(data, validate=False) if cte == "base64" else quopri.decodestring(data)
                return _parse_bytes(raw)
            except (binascii.Error, ValueError):
                return inner
    return inner


def message_heading(subject: str, parent: str = "") -> str:
    subject = subject or "(no subject)"
    return f"{parent} > {subject}" if parent else subject


def message(subject: str, fields: list[tuple[str, str]], body: str,
            attachments: list[tuple[str, list[Section], str]], parent: str = "") -> list[Section]:
    """A message's sections: its header lines and body under its subject, then each readable
    attachment's sections under "Subject > name"; the unreadable ones named in the body.
    ``attachments``: (name, its sections, why not read when it has none)."""
    heading = message_heading(subject, parent)
    head = "\n".join(f"{name}: {value}" for name, value in fields if value)
    attached: list[Section] = []
    unread: list[str] = []
    for name, sections, why in attachments:
        if sections:
            attached.extend(Section(s.text, s.page, " > ".join(x for x in (heading, name, s.heading) if x))
                            for s in sections)
        elif name and "/" not in name:  # a content type stands in for a missing name: not worth naming
            unread.append(f"{name} ({why})" if why else name)
    if unread:
        body = f"{body}\n\nAttachments: {', '.join(unread)}"
    text = clean_prose(f"{head}\n\n{body}")
    return ([Section(text, None, heading)] if text else []) + attached


def _filename(part: Message) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:  # a malformed RFC 2231 parameter
        return ""
    # Some clients send the name as an encoded word ("=?utf-8?b?...?="), not RFC 2231.
    name = _decode_words(name)
    return os.path.basename(name.replace("\\", "/")).strip()


def read_attachment(name: str, payload: object, charset: str | None, depth: int) -> tuple[list[Section], str]:
    """Sections of an attachment Quire can read, else ([], why not in a few words)."""
    kind = kind_of_name(name) if name else None
    if kind is None or kind == "text?":
        return [], ""
    if not isinstance(payload, bytes) or not payload:
        return [], "empty"
    if kind in ("text", "markdown"):
        text = clean_prose(decode_bytes(payload, charset))
        return ([Section(text, None)] if text else []), ""
    if kind == "html":
        from app.core.parse.html import parse_html

        return parse_html(payload, with_title=False), ""
    if kind == "email":
        # Parsed here, not through parse_file, so the depth limit holds for a message
        # attached as a file inside a message attached as a file...
        if depth >= MAX_DEPTH:
            return [], "nested too deep"
        if name.lower().endswith(".msg"):
            from app.core.parse import msg

            return msg.parse_data(payload, depth + 1), ""
        return _message_sections(_parse_bytes(payload), depth + 1), ""
    # The other parsers read a path: hand them a private temporary copy.
    from app.core.parse import parse_file

    suffix = os.path.splitext(name)[1][:16]
    with tempfile.TemporaryDirectory(prefix="quire-mail-") as tmp:
        path = os.path.join(tmp, "attachment" + suffix)
        with open(path, "wb") as f:
            f.write(payload)
        try:
            return parse_file(path), ""
        except ParseError as exc:
            return [], str(exc)
        except Exception as exc:  # one bad attachment must not lose the message
            return [], describe(exc)
