"""The parsers on the shared evaluation corpus (skipped when /work/shared is absent)."""

from __future__ import annotations

import collections
import os
import shutil
from pathlib import Path

import pytest

from app.core.errors import DamagedFile, EncryptedFile, NoTextLayer, ParseError, UnreadableFile
from app.core.parse import parse_file

PYPDF = "py-pdf"


def test_multi_page_pdf_keeps_page_numbers(eval_docs: Path) -> None:
    sections = parse_file(str(eval_docs / PYPDF / "004-pdflatex-4-pages" / "pdflatex-4-pages.pdf"))
    assert [s.page for s in sections] == [1, 2, 3, 4]
    assert all(len(s.text) > 1000 for s in sections)


def test_pdf_outline_gives_headings(eval_docs: Path) -> None:
    sections = parse_file(str(eval_docs / PYPDF / "009-pdflatex-geotopo" / "GeoTopo-komprimiert.pdf"))
    assert {s.page for s in sections} == set(range(1, 118))
    by_page = {s.page: s for s in sections}
    assert by_page[9].heading == "1 Topologische Grundbegriffe > 1.1 Topologische Räume"
    assert by_page[10].heading == "1 Topologische Grundbegriffe > 1.2 Metrische Räume"  # 1.2 starts here
    assert "\ufffe" not in "".join(s.text for s in sections)  # pdfium's hyphen markers are gone


def test_a_pdf_page_is_split_where_a_bookmarked_section_starts(eval_docs: Path) -> None:
    """Each page took the heading of its last bookmark: the top of debian-faq's page 18, the end
    of 3.1.9, was labelled 3.1.10, and 107 of the file's 165 bookmarks labelled no text."""
    faq = eval_docs / "debian-faq" / "usr" / "share" / "doc" / "debian" / "FAQ" / "debian-faq.pdf"
    sections = parse_file(str(faq))
    p18 = [s for s in sections if s.page == 18]
    assert [s.heading.rsplit(" > ", 1)[-1] for s in p18] == [
        "What happens when a new release is made?",
        "I have a working Desktop/cluster with Debian installed. How do I know which distribution I am running?"]
    assert "3.1.9 What happens when a new release is made?" in p18[0].text
    assert p18[1].text.startswith("3.1.10 I have a working")
    assert len({s.heading for s in sections}) >= 140  # of 165 bookmarks (59 before)


def test_password_protected_pdf(eval_docs: Path) -> None:
    path = eval_docs / PYPDF / "005-libreoffice-writer-password" / "libreoffice-writer-password.pdf"
    with pytest.raises(EncryptedFile, match="password-protected PDF"):
        parse_file(str(path))


@pytest.mark.parametrize(
    "name", ["imagemagick-lzw.pdf", "imagemagick-images.pdf", "imagemagick-CCITTFaxDecode.pdf"])
def test_images_only_pdf_has_no_text_layer(eval_docs: Path, name: str) -> None:
    with pytest.raises(NoTextLayer, match="no text layer"):
        parse_file(str(eval_docs / PYPDF / "007-imagemagick-images" / name))


def test_glyphs_without_a_character_are_not_glued_to_words(eval_docs: Path) -> None:
    # Glyphs the font maps to no character came back as their glyph numbers, stray Greek
    # letters glued to the next word ("ϲΒϴΒhabibi"): a search for "habibi" missed it.
    [section] = parse_file(str(eval_docs / PYPDF / "015-arabic" / "habibi.pdf"))
    assert "habibi" in section.text.split() and "ϲΒϴΒ" not in section.text


def test_damaged_pdfs(eval_docs: Path, tmp_path: Path) -> None:
    with pytest.raises(DamagedFile):  # its page tree object is missing altogether
        parse_file(str(eval_docs / PYPDF / "017-unreadable-meta-data" / "unreadablemetadata.pdf"))
    data = (eval_docs / PYPDF / "004-pdflatex-4-pages" / "pdflatex-4-pages.pdf").read_bytes()
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(data[: len(data) * 6 // 10])
    with pytest.raises(DamagedFile, match="truncated PDF"):
        parse_file(str(cut))


def test_corpus_odt_docx_epub(eval_docs: Path) -> None:
    odt = parse_file(str(eval_docs / "pandoc" / "test" / "odt" / "odt" / "headers.odt"))
    assert odt[0].heading == "A header (Lv 1)" and odt[1].heading == "A header (Lv 1) > Another header (Lv 2)"
    strict = parse_file(str(eval_docs / "pandoc" / "test" / "command" / "7691.docx"))  # Strict Open XML
    assert strict[0].text == "Some text"
    epub = parse_file(str(eval_docs / "debian-policy/usr/share/doc/debian-policy/policy.epub"))
    assert len(epub) > 100 and any(s.heading.startswith("1. About this manual > 1.1. Scope") for s in epub)


def test_every_corpus_file_parses_or_fails_cleanly(eval_docs: Path, tmp_path: Path) -> None:
    """No file may raise anything but a ParseError; most must give text."""
    outcomes: collections.Counter[str] = collections.Counter()
    bugs: list[str] = []
    files = sorted(p for p in eval_docs.rglob("*") if p.is_file() or p.is_symlink())
    # A dangling symlink, as a real folder may hold one.
    dangling = tmp_path / "dangling.pdf"
    dangling.symlink_to(tmp_path / "missing-target.pdf")
    files.append(dangling)
    for path in files:
        if path.is_symlink() and not path.exists():
            with pytest.raises(UnreadableFile, match="dangling symlink"):
                parse_file(str(path))
            outcomes["dangling symlink"] += 1
            continue
        try:
            sections = parse_file(str(path))
        except ParseError as exc:
            outcomes[exc.reason] += 1
            continue
        except Exception as exc:  # the per-file guard: record, keep going, fail at the end
            bugs.append(f"{path.relative_to(eval_docs)}: {type(exc).__name__}: {exc}")
            continue
        outcomes["text" if sections else "empty"] += 1
        for s in sections:
            # (leading spaces of a text file's first line are layout, and kept)
            assert s.text.strip() and s.text == s.text.rstrip() and not s.text.startswith("\n"), path
            assert s.page is None or s.page >= 1, path
    summary = ", ".join(f"{k}: {v}" for k, v in outcomes.most_common())
    print(f"\n{len(files)} corpus files -> {summary}")
    assert not bugs, "\n".join(bugs)
    assert outcomes["text"] >= 0.8 * (len(files) - outcomes["unsupported"]), summary
    assert outcomes["dangling symlink"] == 1


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read anything")
def test_unreadable_corpus_copy(eval_docs: Path, tmp_path: Path) -> None:
    src = eval_docs / PYPDF / "001-trivial" / "minimal-document.pdf"
    dst = tmp_path / "locked.pdf"
    shutil.copy(src, dst)
    dst.chmod(0)
    try:
        with pytest.raises(UnreadableFile, match="permission denied"):
            parse_file(str(dst))
    finally:
        dst.chmod(0o600)
