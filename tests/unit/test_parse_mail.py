"""E-mail files: .eml, .emlx and mbox (with and without an extension), built here with the
standard library the way mail clients write them: quoted-printable and base64 bodies,
encoded subjects, HTML-only messages, attachments and forwarded messages."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from app.core.errors import DamagedFile
from app.core.parse import kind_of, parse_file, sniffed_kind
from tests.unit.test_parse_formats import make_pdf


def message(subject: str, body: str, *, html: str | None = None, sender: str = "Ana Díaz <ana@example.org>",
            attachments: tuple[tuple[str, str, bytes], ...] = ()) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "team@example.org"
    msg["Date"] = "Tue, 03 Mar 2026 09:15:00 +0100"
    msg["Subject"] = subject
    msg.set_content(body, cte="quoted-printable")
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for name, ctype, data in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def test_eml_headers_body_and_encodings_are_decoded(tmp_path: Path) -> None:
    msg = message("Délai de préavis – résiliation", "Le préavis est de trois mois.\nCordialement, Ana’s team")
    path = tmp_path / "notice.eml"
    path.write_bytes(bytes(msg))
    raw = path.read_bytes()
    assert b"=?utf-8?" in raw and b"=C3=A9" in raw  # what a plain-text reading would index
    assert kind_of(str(path)) == "email"
    [section] = parse_file(str(path))
    assert section.heading == "Délai de préavis – résiliation"
    assert "From: Ana Díaz <ana@example.org>" in section.text
    assert "Subject: Délai de préavis – résiliation" in section.text
    assert "Le préavis est de trois mois." in section.text and "Ana’s team" in section.text
    assert "=C3" not in section.text and "=?utf-8?" not in section.text


def test_html_only_message_gives_its_visible_text(tmp_path: Path) -> None:
    msg = EmailMessage()
    msg["Subject"] = "Newsletter"
    msg.set_content("<html><head><style>p{color:red}</style></head><body><p>Spring <b>sale</b> on tents"
                    "</p><script>track()</script></body></html>", subtype="html", cte="base64")
    path = tmp_path / "news.eml"
    path.write_bytes(bytes(msg))
    [section] = parse_file(str(path))
    assert "Spring sale on tents" in section.text
    assert "track()" not in section.text and "color:red" not in section.text


def test_plain_part_is_preferred_and_readable_attachments_are_parsed(tmp_path: Path) -> None:
    pdf = make_pdf(["Lease schedule page one", "Deposit is two months of rent"])
    blob = bytes(range(256)) * 400  # 100 KB of binary: base64 in the file, nothing in the index
    msg = message("Lease documents", "See the attached lease.", html="<p>See the <i>attached</i> lease.</p>",
                  attachments=(("lease.pdf", "application/pdf", pdf),
                               ("notes.txt", "text/plain", b"Parking space 14 is included"),
                               ("photo.jpg", "image/jpeg", blob)))
    path = tmp_path / "lease.eml"
    path.write_bytes(bytes(msg))
    sections = parse_file(str(path))
    body = sections[0]
    assert body.heading == "Lease documents"
    assert "See the attached lease." in body.text
    assert body.text.count("attached lease") == 1  # the HTML alternative is not added again
    assert "Attachments: photo.jpg" in body.text
    by_heading = {(s.heading, s.page): s.text for s in sections[1:]}
    assert "Deposit is two months of rent" in by_heading[("Lease documents > lease.pdf", 2)]
    assert "Parking space 14" in by_heading[("Lease documents > notes.txt", None)]
    everything = "".join(s.text for s in sections)
    assert len(everything) < 2_000  # no base64 of the photo


def test_forwarded_message_and_a_broken_attachment(tmp_path: Path) -> None:
    inner = message("Original quote", "The quote is 4,200 EUR including installation.")
    msg = message("Fwd: Original quote", "Forwarding the quote below.",
                  attachments=(("broken.pdf", "application/pdf", b"%PDF-1.4 truncated"),))
    msg.add_attachment(inner)
    path = tmp_path / "fwd.eml"
    path.write_bytes(bytes(msg))
    sections = parse_file(str(path))
    assert sections[0].heading == "Fwd: Original quote"
    assert "Attachments: broken.pdf (" in sections[0].text  # named, with why it was not read
    assert any(s.heading == "Fwd: Original quote > Original quote" and "4,200 EUR" in s.text
               for s in sections)


def test_mbox_with_and_without_extension(tmp_path: Path) -> None:
    msgs = [message(f"Report {i}", f"Body of report {i}.\nFrom here on the numbers are final.\n")
            for i in range(3)]
    data = b"".join(b"From MAILER-DAEMON Tue Mar  3 09:15:00 2026\n"
                    + bytes(m).replace(b"\nFrom here", b"\n>From here") + b"\n" for m in msgs)
    for name in ("archive.mbox", "Inbox"):  # Thunderbird's folders have no extension
        path = tmp_path / name
        path.write_bytes(data)
        sections = parse_file(str(path))
        assert [s.heading for s in sections] == ["Report 0", "Report 1", "Report 2"]
        assert "Body of report 1.\nFrom here on the numbers are final." in sections[1].text
    assert kind_of(str(tmp_path / "Inbox")) == "text?" and sniffed_kind(str(tmp_path / "Inbox")) == "email"
    # A text file that merely starts with "From " is still text.
    prose = tmp_path / "letter"
    prose.write_text("From the desk of the mayor: the bridge opens Monday.\n")
    assert sniffed_kind(str(prose)) == "text"
    assert "bridge opens Monday" in parse_file(str(prose))[0].text


def test_emlx_and_a_damaged_header(tmp_path: Path) -> None:
    raw = bytes(message("Apple Mail note", "Stored by Apple Mail."))
    path = tmp_path / "12345.emlx"
    path.write_bytes(f"{len(raw)}\n".encode() + raw + b'<?xml version="1.0"?>\n<plist><dict/></plist>\n')
    [section] = parse_file(str(path))
    assert "Stored by Apple Mail." in section.text and "plist" not in section.text
    bad = tmp_path / "bad.eml"
    bad.write_bytes(b"From: Jane Doe <<jane@@example.org>\nTo: ;;;\nSubject: =?bogus-charset?q?hi?=\n"
                    b"Content-Type: text/plain; charset=no-such-charset\n\nStill the body.\n")
    [section] = parse_file(str(bad))
    assert "Still the body." in section.text and section.heading == "hi"
    # The standard parser mends that address to '"Jane Doe"'; the raw text is kept for search.
    assert "jane@@example.org" in section.text
    # Raw 8-bit subjects (no encoded words), as some clients send them: UTF-8 and Latin-1.
    for raw in (b"Subject: Caf\xc3\xa9 menu\n\nx", b"Subject: Caf\xe9 menu\n\nx"):
        bad.write_bytes(raw)
        assert parse_file(str(bad))[0].heading == "Café menu"


def test_signatures_and_inline_logos_are_not_listed_as_attachments(tmp_path: Path) -> None:
    msg = message("Invoice 1182", "Invoice attached.", html='<p>Invoice attached.</p><img src="cid:logo">')
    html = msg.get_payload()[1]  # multipart/alternative: plain, html
    html.add_related(b"\x89PNG\r\n\x1a\n" + bytes(64), maintype="image", subtype="png", cid="<logo>",
                     filename="image001.png")
    msg.add_attachment(b"-----BEGIN PGP SIGNATURE-----\nwsBcBAEBCAAQ\n-----END PGP SIGNATURE-----\n",
                       maintype="application", subtype="pgp-signature", filename="signature.asc")
    msg.add_attachment(b"BEGIN:VCALENDAR\nSUMMARY:Payment due\nEND:VCALENDAR\n", maintype="text",
                       subtype="calendar", filename="due.ics")
    path = tmp_path / "invoice.eml"
    path.write_bytes(bytes(msg))
    sections = parse_file(str(path))
    everything = "\n".join(s.text for s in sections)
    assert "image001.png" not in everything and "PGP SIGNATURE" not in everything
    assert "signature.asc" not in everything
    assert any(s.heading == "Invoice 1182 > due.ics" and "Payment due" in s.text for s in sections)


def test_messages_deleted_but_still_in_a_mailbox_are_left_out(tmp_path: Path) -> None:
    # Thunderbird keeps a deleted message in the folder's file, flagged, until it compacts the
    # folder: searching found mail the user had deleted.
    kept, deleted, pine = (message(s, f"Body of {s}.") for s in ("Kept", "Deleted", "Pine deleted"))
    kept["X-Mozilla-Status"] = "0001"  # read
    deleted["X-Mozilla-Status"] = "0009"  # read + expunged
    pine["X-Status"] = "D"
    data = b"".join(b"From - Tue Mar  3 09:15:00 2026\n" + bytes(m) + b"\n" for m in (kept, deleted, pine))
    path = tmp_path / "Inbox"
    path.write_bytes(data)
    assert [s.heading for s in parse_file(str(path))] == ["Kept"]


def test_outlook_msg_is_read_like_an_eml(tmp_path: Path) -> None:
    # Outlook saves a dragged message as .msg: it was skipped as "not supported".
    from datetime import UTC, datetime

    from tests.helpers.cfb import outlook_message

    assert kind_of("x.msg") == "email"
    path = tmp_path / "visit.msg"
    path.write_bytes(outlook_message(
        {0x0037: "Boiler service visit", 0x0C1A: "Ana Díaz", 0x0C1F: "ana@example.org", 0x0E04: "Household",
         0x1000: "The engineer comes on Tuesday at 9.\r\nPlease leave the side gate open."},
        sent=datetime(2026, 3, 3, 9, 15, tzinfo=UTC),
        attachments=(("visit.pdf", make_pdf(["Visit checklist: flue, pressure, valves"])),
                     ("logo.png", b"\x89PNG\r\n\x1a\n" + bytes(50))),
        embedded={0x0037: "Original booking", 0x1000: "Booked for the first week of March."}))
    sections = parse_file(str(path))
    assert [(s.heading, s.page) for s in sections] == [
        ("Boiler service visit", None), ("Boiler service visit > visit.pdf", 1),
        ("Boiler service visit > Original booking", None)]
    body = sections[0].text
    assert body.startswith("From: Ana Díaz <ana@example.org>\nTo: Household\nDate: Tue, 03 Mar 2026 09:15:00")
    assert "Please leave the side gate open." in body and body.endswith("Attachments: logo.png")
    assert sections[1].text == "Visit checklist: flue, pressure, valves"
    assert "Booked for the first week of March." in sections[2].text
    # An HTML-only message, and a .msg inside an .eml.
    html = tmp_path / "news.msg"
    html.write_bytes(outlook_message({0x0037: "Newsletter"}, html=b"<p>Spring <b>sale</b></p><script>x()</script>"))
    [section] = parse_file(str(html))
    assert section.text.endswith("Spring sale") and "x()" not in section.text
    wide = tmp_path / "wide.msg"  # the HTML body as a UTF-16 string property, as some clients write it
    wide.write_bytes(outlook_message({0x0037: "Newsletter", 0x1013: "<p>Autumn <b>fair</b> in Brno</p>"}))
    assert parse_file(str(wide))[0].text.endswith("Autumn fair in Brno")
    outer = message("Fwd: visit", "See the Outlook message.", attachments=(
        ("visit.msg", "application/vnd.ms-outlook", path.read_bytes()),))
    eml = tmp_path / "fwd.eml"
    eml.write_bytes(bytes(outer))
    assert ("Fwd: visit > visit.msg > Boiler service visit > visit.pdf", 1) in [
        (s.heading, s.page) for s in parse_file(str(eml))]


def test_a_msg_that_is_text_or_damaged(tmp_path: Path) -> None:
    from app.core.errors import DamagedFile

    catalogue = tmp_path / "strings.msg"  # other programs' message catalogues use the name too
    catalogue.write_text("$set 1\n1 Cannot open the file\n")
    assert "Cannot open the file" in parse_file(str(catalogue))[0].text
    from tests.helpers.cfb import outlook_message

    cut = tmp_path / "cut.msg"
    cut.write_bytes(outlook_message({0x0037: "x" * 3000, 0x1000: "y" * 9000})[:3000])
    with pytest.raises(DamagedFile):
        parse_file(str(cut))


def eml(tmp_path: Path, name: str, text: str) -> list:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return parse_file(str(path))


def body_of(sections: list) -> str:
    return sections[0].text.split("\n\n", 1)[1] if "\n\n" in sections[0].text else ""


def test_malformed_multiparts_keep_their_text(tmp_path: Path) -> None:
    # A multipart with no boundary, or with one its body does not use, lost its whole body
    # (a real bounce lost half its words); a part's body sent as "base64;" stayed base64.
    head = "From: a@example.com\nSubject: s\nMIME-Version: 1.0\n"
    no_boundary = head + "Content-Type: multipart/mixed\n\nBlah blah zanzibar\n"
    assert body_of(eml(tmp_path, "a.eml", no_boundary)) == "Blah blah zanzibar"
    wrong = (head + 'Content-Type: multipart/mixed; boundary="AAA"\n\n--BBB\nContent-Type: text/plain\n\n'
             "The zanzibar words.\n--BBB\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
             "YWJj\n--BBB--\n")
    assert body_of(eml(tmp_path, "b.eml", wrong)) == "The zanzibar words."
    semi = head + "Content-Type: text/plain\nContent-Transfer-Encoding: base64;\n\nRGVjb2RlZCB6YW56aWJhciB3b3Jkcy4=\n"
    assert body_of(eml(tmp_path, "c.eml", semi)) == "Decoded zanzibar words."
    utf7 = head + "Content-Type: text/plain; charset=utf-7\n\nHello +ZeVnLIqe- world\n"
    assert body_of(eml(tmp_path, "d.eml", utf7)) == "Hello 日本語 world"
    deep = head + "Content-Type: multipart/mixed; boundary=b0\n\n" + "".join(
        f"--b{i}\nContent-Type: multipart/mixed; boundary=b{i + 1}\n\n" for i in range(3000))
    with pytest.raises(DamagedFile, match="nested"):
        eml(tmp_path, "deep.eml", deep)


def test_alternatives_stubs_and_unnamed_attachments(tmp_path: Path) -> None:
    # A blank plain form hid the HTML; a stub ("use an HTML capable mail program") was all
    # that was indexed; a text attachment with no name was dropped and not even listed; a
    # forwarded message sent base64-encoded was indexed as base64; the same text side by side
    # as plain and HTML in a multipart/mixed was indexed twice.
    head = "From: a@example.com\nSubject: s\nMIME-Version: 1.0\n"

    def alt(plain: str, html: str) -> str:
        return (head + "Content-Type: multipart/alternative; boundary=XX\n\n--XX\nContent-Type: text/plain\n\n"
                + plain + "\n--XX\nContent-Type: text/html\n\n" + html + "\n--XX--\n")

    assert body_of(eml(tmp_path, "a.eml", alt("", "<p>Only the HTML has the zanzibar numbers.</p>"))) == (
        "Only the HTML has the zanzibar numbers.")
    stub = "This is an HTML message. Please use an HTML capable mail program to read this message."
    assert body_of(eml(tmp_path, "b.eml", alt(stub, "<p>Hello, the zanzibar contract is signed.</p>"))) == (
        stub + "\n\nHello, the zanzibar contract is signed.")
    same = "Thanks, see you at the zanzibar meeting on Monday."
    assert body_of(eml(tmp_path, "c.eml", alt(same, f"<div>{same}</div>"))) == same
    mixed = (head + "Content-Type: multipart/mixed; boundary=M\n\n"
             "--M\nContent-Type: text/plain\n\nAttached, zanzibar.\n"
             "--M\nContent-Type: text/plain\nContent-Disposition: attachment\n\nputs 'hello'\n"
             "--M\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
             "RnJvbTogeEBleGFtcGxlLmNvbQpTdWJqZWN0OiBJbm5lcgoKVGhlIGZvcndhcmRlZCB3b3Jkcy4K\n"
             "--M\nContent-Type: text/html\n\n<p>Attached, zanzibar.</p>\n--M--\n")
    sections = eml(tmp_path, "d.eml", mixed)
    assert [(s.heading, s.text) for s in sections] == [
        ("s", "From: a@example.com\nSubject: s\n\nAttached, zanzibar."),
        ("s > attachment", "puts 'hello'"),
        ("s > Inner", "From: x@example.com\nSubject: Inner\n\nThe forwarded words.")]


def test_mbox_separators_and_flags_are_read_strictly(tmp_path: Path) -> None:
    # "From time to time" after a blank line split a message and lost the line; a message
    # with no blank line before the next separator swallowed it; "Status: Delivered" has a
    # "D" in it and the message was dropped as deleted; an unknown charset in an encoded word
    # became replacement characters.
    data = (b"From a@example.com Mon Jan  1 00:00:00 2001\nFrom: a@example.com\nSubject: first\n\n"
            b"Hello\n\nFrom time to time we meet.\nBye.\n"
            b"From b@example.com Mon Jan  1 00:00:01 2001\nFrom: b@example.com\nSubject: second\nStatus: Delivered\n\n"
            b"Body two.\n\nFrom c@example.com Mon Jan  1 00:00:02 2001\nFrom: c@example.com\n"
            b"Subject: =?unknown-8bit?q?pr=C3=A9sente?=\n\nBody three.\n")
    path = tmp_path / "box.mbox"
    path.write_bytes(data)
    sections = parse_file(str(path))
    assert [s.heading for s in sections] == ["first", "second", "présente"]
    assert sections[0].text.endswith("Hello\n\nFrom time to time we meet.\nBye.")
