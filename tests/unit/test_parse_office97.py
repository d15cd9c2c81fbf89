"""Office 97-2003 files: Word (.doc) and PowerPoint (.ppt) read from their binary formats.
Files Word and PowerPoint saved, and files written here with the parts they write (8-bit and
UTF-16 text runs, fields, tables, footnotes, headers, slide lists, persist directories, notes,
the encryption flags). The .xls reader's tests are with the other spreadsheets'."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from app.core.errors import DamagedFile, EncryptedFile, UnsupportedFile
from app.core.parse import kind_of, parse_file
from tests.helpers.cfb import compound_file, powerpoint_document, word_document

DATA = Path(__file__).resolve().parents[1] / "data"


def test_a_document_word_saved_is_read() -> None:
    assert kind_of("x.doc") == "doc"
    [section] = parse_file(str(DATA / "word97-saved-by-word.doc"))
    assert section.text == "Test OLE file, saved as Word 97-2003 Document."


def test_text_runs_fields_tables_and_notes(tmp_path: Path) -> None:
    path = tmp_path / "lease.doc"
    path.write_bytes(word_document(
        [("Notice period: two months.\r", True),  # 8-bit run
         ("Kaution für Wohnung 3B \u2014 \u62bc\u91d1. See \x13 HYPERLINK \"http://example.org\" \x14the "
          "rules\x15 online.\r", False),  # UTF-16 run with a field
         ("Rent\x071,150 EUR\x07\x07Deposit\x072,300 EUR\x07\x07", True),  # a two-row table
         ("Signed\x0bAna\x0cPage two.\r", True)],
        footnotes="Footnote: the deposit earns interest.\r", headers="Confidential draft\r"))
    [section] = parse_file(str(path))
    text = section.text
    assert section.page is None and section.heading == ""
    assert "Notice period: two months." in text
    assert "Kaution für Wohnung 3B \u2014 \u62bc\u91d1. See the rules online." in text
    assert "HYPERLINK" not in text and "example.org" not in text
    assert "Rent | 1,150 EUR\nDeposit | 2,300 EUR" in text
    assert "Signed\nAna\n\nPage two." in text
    assert text.endswith("Footnote: the deposit earns interest.")
    assert "Confidential draft" not in text  # page headers are skipped, as in DOCX


def test_tracked_deletions_are_not_read(tmp_path: Path) -> None:
    # Word keeps deleted text in the file, marked in the character formatting, until the
    # change is accepted: a search found words the author had deleted.
    text = "Kept words, deleted albatross, more kept words.\r"
    start = text.index("deleted")
    for eight_bit in (True, False):
        path = tmp_path / f"tracked-{eight_bit}.doc"
        path.write_bytes(word_document([(text, eight_bit)], deleted=(start, start + len("deleted albatross, "))))
        assert parse_file(str(path))[0].text == "Kept words, more kept words."


def test_protected_damaged_and_other_ole_files(tmp_path: Path) -> None:
    enc = tmp_path / "secret.doc"
    enc.write_bytes(word_document([("hidden\r", True)], encrypted=True))
    with pytest.raises(EncryptedFile, match="password-protected Word document"):
        parse_file(str(enc))
    whole = word_document([("A long enough text for a cut.\r" * 200, True)])
    cut = tmp_path / "cut.doc"
    cut.write_bytes(whole[:3000])
    with pytest.raises(DamagedFile):
        parse_file(str(cut))
    excel = tmp_path / "book.doc"
    excel.write_bytes(compound_file({"Workbook": b"\x09\x08" + b"\0" * 100}))
    with pytest.raises(UnsupportedFile, match="not a Word document"):
        parse_file(str(excel))


def test_a_doc_that_is_really_rtf_html_or_docx_is_read_as_that(tmp_path: Path) -> None:
    rtf = tmp_path / "letter.doc"
    rtf.write_bytes(rb"{\rtf1\ansi{\fonttbl\f0\fswiss Helvetica;}\f0\pard The notice is sixty days.\par}")
    assert "The notice is sixty days." in parse_file(str(rtf))[0].text
    page = tmp_path / "page.doc"
    page.write_bytes(b"<html><body><p>Saved from a web editor.</p><script>x()</script></body></html>")
    assert parse_file(str(page))[0].text == "Saved from a web editor."
    buf = io.BytesIO()
    import docx

    d = docx.Document()
    d.add_paragraph("A DOCX renamed to .doc.")
    d.save(buf)
    renamed = tmp_path / "renamed.doc"
    renamed.write_bytes(buf.getvalue())
    assert zipfile.is_zipfile(renamed)
    assert "A DOCX renamed to .doc." in parse_file(str(renamed))[0].text


def test_a_word_document_without_its_extension_is_sniffed(tmp_path: Path) -> None:
    from app.core.parse import sniffed_kind

    bare = tmp_path / "LEASE"
    bare.write_bytes((DATA / "word97-saved-by-word.doc").read_bytes())
    assert kind_of(str(bare)) == "text?" and sniffed_kind(str(bare)) == "doc"
    assert parse_file(str(bare))[0].text == "Test OLE file, saved as Word 97-2003 Document."
    other = tmp_path / "MESSAGE"  # an Outlook message, say
    other.write_bytes(compound_file({"__substg1.0_0037001F": "Subject".encode("utf-16-le")}))
    with pytest.raises(UnsupportedFile, match="legacy Office file that is not Word, Excel or PowerPoint"):
        parse_file(str(other))


def test_an_old_office_file_under_a_new_name_is_read_and_an_encrypted_one_is_said_so(tmp_path: Path) -> None:
    renamed = tmp_path / "old.docx"
    renamed.write_bytes((DATA / "word97-saved-by-word.doc").read_bytes())
    assert parse_file(str(renamed))[0].text == "Test OLE file, saved as Word 97-2003 Document."
    # Office encrypts a DOCX or XLSX with a password into an OLE file of these streams.
    for name in ("secret.docx", "secret.xlsx"):
        enc = tmp_path / name
        enc.write_bytes(compound_file({"EncryptionInfo": b"\x04\x00\x04\x00" + b"\0" * 100,
                                       "EncryptedPackage": b"\0" * 200}))
        with pytest.raises(EncryptedFile, match="password-protected"):
            parse_file(str(enc))


def test_a_presentation_powerpoint_saved_is_read() -> None:
    assert kind_of("x.ppt") == "ppt" and kind_of("x.pps") == "ppt"
    [slide] = parse_file(str(DATA / "powerpoint-2007-as-ppt.ppt"))
    assert (slide.page, slide.heading) == (1, "Embedded Objects")
    assert slide.text == ("Embedded Objects\n\nThis slide contains an embedded object\n"
                          "It is a simple harmless ASCII text file")


def test_slides_in_order_with_titles_text_boxes_and_notes(tmp_path: Path) -> None:
    path = tmp_path / "results.ppt"
    path.write_bytes(powerpoint_document([
        {"title": "Quarterly results", "body": "Revenue grew 12%\rCosts fell", "box": "Source: finance team",
         "notes": "Mention the new office in Lyon."},
        {"title": "Next steps", "body": "Hire two engineers"},
        {"box": "Thank you \u2014 questions?"},
    ]))
    slides = parse_file(str(path))
    # The slide records are stored last first: only the persist directory gives this order.
    assert [(s.page, s.heading) for s in slides] == [(1, "Quarterly results"), (2, "Next steps"), (3, "")]
    assert slides[0].text == ("Quarterly results\n\nRevenue grew 12%\nCosts fell\n\nSource: finance team"
                              "\n\nNotes: Mention the new office in Lyon.")
    assert slides[1].text == "Next steps\n\nHire two engineers"
    assert slides[2].text == "Thank you \u2014 questions?"


def test_a_protected_presentation_and_other_names(tmp_path: Path) -> None:
    enc = tmp_path / "secret.ppt"
    enc.write_bytes(powerpoint_document([{"title": "Hidden"}], encrypted=True))
    with pytest.raises(EncryptedFile, match="password-protected PowerPoint file"):
        parse_file(str(enc))
    renamed = tmp_path / "old.pptx"  # a .ppt under the new name
    renamed.write_bytes((DATA / "powerpoint-2007-as-ppt.ppt").read_bytes())
    assert parse_file(str(renamed))[0].heading == "Embedded Objects"
    bare = tmp_path / "DECK"
    bare.write_bytes(renamed.read_bytes())
    from app.core.parse import sniffed_kind

    assert sniffed_kind(str(bare)) == "ppt" and parse_file(str(bare))[0].heading == "Embedded Objects"
    cut = tmp_path / "cut.ppt"
    cut.write_bytes((DATA / "powerpoint-2007-as-ppt.ppt").read_bytes()[:5000])
    with pytest.raises(DamagedFile):
        parse_file(str(cut))


def test_dot_and_pot_files_are_read_by_what_they_hold(tmp_path: Path) -> None:
    # ".dot" is a Word template or a Graphviz graph, ".pot" a PowerPoint template or a gettext
    # catalogue template: mapped to the Office readers, the text ones failed as "damaged".
    from app.core.parse import sniffed_kind

    assert kind_of("graph.dot") == "text?" and kind_of("messages.pot") == "text?"
    graph = tmp_path / "deps.dot"
    graph.write_text('digraph deps { "parser" -> "indexer" [label="feeds"]; }\n')
    catalogue = tmp_path / "messages.pot"
    catalogue.write_text('msgid "Open the library"\nmsgstr ""\n')
    word = tmp_path / "letter.dot"
    word.write_bytes((DATA / "word97-saved-by-word.doc").read_bytes())
    slides = tmp_path / "deck.pot"
    slides.write_bytes((DATA / "powerpoint-2007-as-ppt.ppt").read_bytes())
    assert '"parser" -> "indexer"' in parse_file(str(graph))[0].text and sniffed_kind(str(graph)) == "text"
    assert 'msgid "Open the library"' in parse_file(str(catalogue))[0].text
    assert parse_file(str(word))[0].text == "Test OLE file, saved as Word 97-2003 Document."
    assert sniffed_kind(str(word)) == "doc"
    assert parse_file(str(slides))[0].heading == "Embedded Objects" and sniffed_kind(str(slides)) == "ppt"
