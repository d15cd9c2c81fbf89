"""HTML, XHTML, Markdown, subtitles, notebooks and text/data files: what a sweep of these
readers found lost, glued or mangled (each test fails on the reader as it was)."""

from __future__ import annotations

import time
from pathlib import Path

from app.core.parse import Section, parse_file
from tests.unit.test_parse_formats import texts, write

# --- HTML: the nesting guard --------------------------------------------------------------

def test_unclosed_paragraph_and_font_soup_is_parsed_not_stripped(tmp_path: Path) -> None:
    page = ("<html><head><title>Minutes</title><script>var x=1;</script></head><body><h1>Board minutes</h1>"
            + "".join(f'<p><font face="Arial">Paragraph {i} of the minutes.\n' for i in range(5200))
            + "<h2>Decisions</h2><p><b>12</b>% more.</body></html>")
    sections = parse_file(write(tmp_path, "font.html", page))
    assert sections[0].heading == "Board minutes" and sections[-1].heading == "Board minutes > Decisions"
    assert "var x" not in texts(sections)
    assert sections[-1].text == "Decisions\n\n12% more."


def test_script_bodies_and_escaped_end_tags_do_not_count_as_nesting(tmp_path: Path) -> None:
    data = '{"html":"' + '<p>item<\\/p>' * 5100 + '"}'
    comparisons = "if (a < b) x();\n" * 6000
    page = (f"<html><head><script>var d = {data};</script><script>{comparisons}</script></head>"
            "<body><h1>Welcome</h1><p>Opening hours</p></body></html>")
    sections = parse_file(write(tmp_path, "wp.html", page))
    assert sections == [Section("Welcome\n\nOpening hours", None, "Welcome")]


def test_nesting_by_tags_that_start_like_flat_ones_is_caught(tmp_path: Path) -> None:
    page = "<pre>" * 40_000 + "deep text" + "</pre>" * 40_000
    start = time.perf_counter()
    sections = parse_file(write(tmp_path, "pre.html", page))
    assert time.perf_counter() - start < 2
    assert texts(sections) == "deep text"


# --- XHTML and EPUB -------------------------------------------------------------------------

def test_self_closed_raw_text_elements_in_xhtml_do_not_swallow_the_page(tmp_path: Path) -> None:
    head = '<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'
    for element in ("title", "script", "style", "iframe", "textarea", "noscript", "xmp", "noembed", "noframes"):
        page = (f'{head}<head><{element}/></head><body><h1>Chapter</h1><{element} id="x" />'
                '<p>Body text here.</p></body></html>')
        sections = parse_file(write(tmp_path, f"{element}.xhtml", page))
        assert sections == [Section("Chapter\n\nBody text here.", None, "Chapter")], element


def test_epub_chapter_with_a_self_closed_title_is_kept(tmp_path: Path) -> None:
    import zipfile

    chapter = ('<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title/>'
               '</head><body><h1>Chapter One</h1><p>It was a bright cold day in April.</p></body></html>')
    opf = ('<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0"><metadata/>'
           '<manifest><item id="c1" href="c1.xhtml" media-type="application/xhtml+xml"/></manifest>'
           '<spine><itemref idref="c1"/></spine></package>')
    container = ('<?xml version="1.0"?><container xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
                 'version="1.0"><rootfiles><rootfile full-path="content.opf"/></rootfiles></container>')
    path = tmp_path / "book.epub"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/epub+zip")
        zf.writestr("META-INF/container.xml", container)
        zf.writestr("content.opf", opf)
        zf.writestr("c1.xhtml", chapter)
    assert texts(parse_file(str(path))) == "Chapter One\n\nIt was a bright cold day in April."


def test_web_page_saved_as_mhtml_is_read_as_the_page(tmp_path: Path) -> None:
    mhtml = ('From: <Saved by Blink>\r\nSubject: =?utf-8?Q?D=C3=A9j=C3=A0_vu_recipe?=\r\nMIME-Version: 1.0\r\n'
             'Content-Type: multipart/related; type="text/html"; boundary="B"\r\n\r\n--B\r\n'
             'Content-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
             '<html><body><h1>Cr=C3=A8me br=\r\n=C3=BBl=C3=A9e</h1><p>Whisk the yolks.</p></body></html>\r\n'
             '--B\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n'
             + "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk\r\n" * 20 + "--B--\r\n")
    for ext in ("mhtml", "mht"):
        text = texts(parse_file(write(tmp_path, f"page.{ext}", mhtml)))
        assert "Crème brûlée\n\nWhisk the yolks." in text
        assert "iVBOR" not in text and "=C3" not in text


# --- text and data files ----------------------------------------------------------------------

def test_unicode_escapes_in_json_and_properties_are_decoded(tmp_path: Path) -> None:
    data = ('{"title": "\\u0412\\u0441\\u0442\\u0440\\u0435\\u0447\\u0430 \\u0432 \\u0411\\u0435\\u0440\\u043b\\u0438'
            '\\u043d\\u0435", "city": "\\u6771\\u4eac", "emoji": "\\ud83d\\ude00", "path": "C:\\\\users\\\\u0041",'
            ' "fb": "caf\\u00c3\\u00a9", "plain": "caf\\u00e9"}')
    text = texts(parse_file(write(tmp_path, "notes.json", data)))
    assert text == ('{"title": "Встреча в Берлине", "city": "東京", "emoji": "😀", "path": "C:\\\\users\\\\u0041",'
                    ' "fb": "café", "plain": "café"}')
    props = "greeting=\\u041f\\u0440\\u0438\\u0432\\u0435\\u0442\n"
    assert texts(parse_file(write(tmp_path, "messages_ru.properties", props))) == "greeting=Привет"
    # Not in other files: a \u in C source is source.
    assert texts(parse_file(write(tmp_path, "a.c", 'char *s = "\\u00e9";'))) == 'char *s = "\\u00e9";'


# --- headings -------------------------------------------------------------------------------

def test_a_heading_followed_by_a_sub_heading_stays_searchable(tmp_path: Path) -> None:
    md = "# Zanzibar handbook\n\n## Ferries\n\nThey leave at nine.\n\n### Fares\n\n#### Adults\n\nTen dollars.\n"
    assert [(s.heading, s.text) for s in parse_file(write(tmp_path, "h.md", md))] == [
        ("Zanzibar handbook > Ferries", "Zanzibar handbook\n\nFerries\n\nThey leave at nine."),
        ("Zanzibar handbook > Ferries > Fares > Adults", "Fares\n\nAdults\n\nTen dollars.")]
    page = "<h1>Zanzibar handbook</h1><h2>Ferries</h2><p>They leave at nine.</p><h2>Empty</h2><h2>Last</h2>"
    assert [(s.heading, s.text) for s in parse_file(write(tmp_path, "h.html", page))] == [
        ("Zanzibar handbook > Ferries", "Zanzibar handbook\n\nFerries\n\nThey leave at nine."),
        ("Zanzibar handbook > Empty", "Empty"),
        ("Zanzibar handbook > Last", "Last")]


# --- HTML: what the walk keeps and joins ---------------------------------------------------

def test_html_headings_are_not_split_at_inline_tags_and_hold_no_script(tmp_path: Path) -> None:
    page = ('<h1><span class="dropcap">C</span>HAPTER <span class="sc">O</span>NE<script>var x;</script></h1>'
            '<p>It was night.</p><h2><span lang=EN-GB>Project over</span><span lang=EN-GB>view</span></h2>'
            '<p>Body.</p><h2>Java<b>Script</b><br>Guide</h2><p>Text.</p>')
    sections = parse_file(write(tmp_path, "h.html", page))
    assert [s.heading for s in sections] == [
        "CHAPTER ONE", "CHAPTER ONE > Project overview", "CHAPTER ONE > JavaScript Guide"]
    assert sections[0].text == "CHAPTER ONE\n\nIt was night."


def test_ruby_readings_do_not_split_the_word(tmp_path: Path) -> None:
    page = "<p>Japanese: <ruby>漢<rp>(</rp><rt>かん</rt><rp>)</rp>字<rp>(</rp><rt>じ</rt><rp>)</rp></ruby>を読む</p>"
    assert texts(parse_file(write(tmp_path, "r.html", page))) == "Japanese: 漢字を読む"


def test_footnote_references_are_not_glued_to_the_word_before(tmp_path: Path) -> None:
    page = ('<p>As Smith<a href="#fn1" class="footnote-ref" role="doc-noteref"><sup>1</sup></a> argued, '
            'Jones<sup><a href="#fn2">2</a></sup> too, Lee<a epub:type="noteref" href="#n3">3</a> not, '
            'and x<sup>2</sup> is a square.</p>')
    assert texts(parse_file(write(tmp_path, "f.html", page))) == \
        "As Smith 1 argued, Jones 2 too, Lee 3 not, and x2 is a square."


def test_navigation_roles_svg_titles_and_custom_elements(tmp_path: Path) -> None:
    page = ('<html><head><title>Annual report</title></head><body>'
            '<div class="related" role="navigation"><h3>Navigation</h3><a>index</a> | <a>next</a></div>'
            '<div role="Search"><h3>Quick search</h3></div>'
            '<svg><title>Search icon</title></svg><p><my-card>four</my-card><my-card>five</my-card></p>'
            '<div class="sphinxsidebar" role="navigation"><h3>This Page</h3><p>Show Source</p></div></body></html>')
    assert parse_file(write(tmp_path, "n.html", page)) == [Section("Annual report\n\nfour five", None)]
    page = "<html><body><svg><title>Search icon</title></svg><p>Body.</p></body></html>"
    assert texts(parse_file(write(tmp_path, "s.html", page))) == "Body."


def test_terminal_escape_sequences_are_removed_whole_from_logs(tmp_path: Path) -> None:
    log = ("\x1b[1;31mERROR\x1b[0m database connection refused\n"
           "\x1b[33mWARNING\x1b[39;49m retry \x1b[2K\x1b[1A\x1b(Bin 5 s\n"
           "\x1b]0;build #42\x07\x1b]8;;https://ci.example/42\x1b\\details\x1b]8;;\x1b\\ here\n")
    assert texts(parse_file(write(tmp_path, "ci.log", log))) == (
        "ERROR database connection refused\nWARNING retry in 5 s\ndetails here")


# --- Markdown and notebooks -------------------------------------------------------------------

def test_markdown_images_pasted_as_base64_are_left_out_with_their_alt_text_kept(tmp_path: Path) -> None:
    blob = "QUJD" * 50_000
    md = (f"# Trip\n\nThe lighthouse at dawn.\n\n![lighthouse](data:image/jpeg;base64,{blob})\n\n"
          f'<img alt="x" src="data:image/png;base64,{blob}">\n\nBack home.\n')
    assert parse_file(write(tmp_path, "trip.md", md)) == [
        Section("Trip\n\nThe lighthouse at dawn.\n\nlighthouse\n\nBack home.", None, "Trip")]


def test_notebook_image_tags_without_an_end_stay_linear(tmp_path: Path) -> None:
    import json

    cell = {"cell_type": "markdown", "source": "data: " + "<img " * 20_000}
    start = time.perf_counter()
    parse_file(write(tmp_path, "n.ipynb", json.dumps({"cells": [cell]})))
    assert time.perf_counter() - start < 2


def test_notebook_with_malformed_worksheets_or_cells_is_damaged(tmp_path: Path) -> None:
    import pytest

    from app.core.errors import DamagedFile

    for name, nb in (("ws.ipynb", '{"worksheets": 5}'), ("cells.ipynb", '{"worksheets": [{"cells": 7}]}')):
        with pytest.raises(DamagedFile, match="no cells"):
            parse_file(write(tmp_path, name, nb))


# --- subtitles --------------------------------------------------------------------------------

def test_subtitles_keep_hearts_cues_without_milliseconds_and_repeated_lines(tmp_path: Path) -> None:
    srt = ("1\n00:00:01,000 --> 00:00:02,000\nHello &amp; welcome <i>friends</i>\n\n"
           "2\n00:00:03 --> 00:00:04\nNo millis cue\n\n"
           "3\n00:00:05,000 --> 00:00:06,000\nNo.\n\n4\n00:00:07,000 --> 00:00:08,000\nNo.\n\n"
           "5\n00:00:09.000 --> 00:00:10.000\nI <3 you and 3 < 4 > 2\n")
    assert texts(parse_file(write(tmp_path, "a.srt", srt))) == (
        "Hello & welcome friends\nNo millis cue\nNo.\nNo.\nI <3 you and 3 < 4 > 2")
    # Auto-generated captions: the line repeated in a blink-long cue is said once.
    vtt = ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nthe blue\n\n00:00:02.000 --> 00:00:02.010\nthe blue\n\n"
           "00:00:02.010 --> 00:00:04.000\nthe blue\nshed\n")
    assert texts(parse_file(write(tmp_path, "a.vtt", vtt))) == "the blue\nshed"


def test_subtitle_line_of_many_angle_brackets_stays_linear(tmp_path: Path) -> None:
    srt = "1\n00:00:01,000 --> 00:00:02,000\n" + "a <b " * 100_000 + "\n"
    start = time.perf_counter()
    parse_file(write(tmp_path, "lt.srt", srt))
    assert time.perf_counter() - start < 2


def test_ass_and_ssa_subtitles_give_the_dialogue_only(tmp_path: Path) -> None:
    ass = ("[Script Info]\nTitle: Demo\nScriptType: v4.00+\n\n[V4+ Styles]\nFormat: Name, Fontname, Fontsize\n"
           "Style: Default,Arial,20\n\n[Events]\n"
           "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
           "Dialogue: 0,0:00:01.00,0:00:03.00,Default,,0,0,0,,{\\i1}We should meet{\\i0}\\Nnear the harbour, ok\n"
           "Comment: 0,0:00:03.00,0:00:04.00,Default,,0,0,0,,not said\n"
           "Dialogue: 0,0:00:04.00,0:00:06.00,Default,,0,0,0,,{\\an8}Bring the\\nmaps\\hplease\n")
    expected = "We should meet near the harbour, ok\nBring the maps please"
    assert texts(parse_file(write(tmp_path, "e.ass", ass))) == expected
    assert texts(parse_file(write(tmp_path, "e.ssa", ass.replace("Layer", "Marked")))) == expected


def test_html_with_an_unknown_extension_is_read_as_html(tmp_path: Path) -> None:
    from app.core.parse import sniffed_kind

    page = ("\ufeff<!-- saved by wget -->\n<!DOCTYPE html><html><head><title>Forum</title><style>p{x:1}</style>"
            "</head><body><p>Tom &amp; Jerry&hellip;</p><script>var a = 1;</script></body></html>")
    path = write(tmp_path, "viewtopic.php?t=123", page)
    assert parse_file(path) == [Section("Forum\n\nTom & Jerry…", None)]
    assert sniffed_kind(path) == "html"
    assert sniffed_kind(write(tmp_path, "notes", "<b>not a page</b>")) == "text"


def test_xml_character_references_are_decoded(tmp_path: Path) -> None:
    feed = ('<?xml version="1.0"?><rss><item><title>Caf&#233; opening in M&#xFC;nchen</title>'
            "<description>Fish &amp; chips &lt;b&gt;&hellip;</description></item></rss>")
    assert texts(parse_file(write(tmp_path, "feed.xml", feed))) == (
        '<?xml version="1.0"?><rss><item><title>Café opening in München</title>'
        "<description>Fish & chips <b>&hellip;</description></item></rss>")
    assert texts(parse_file(write(tmp_path, "feed.txt", "Caf&#233;"))) == "Caf&#233;"  # only XML files


def test_notebook_text_outputs_are_kept_images_and_html_are_not(tmp_path: Path) -> None:
    import json

    png = "iVBORw0KGgo" + "A" * 4000
    nb = {"cells": [
        {"cell_type": "markdown", "source": "# Sales"},
        {"cell_type": "code", "source": "print(total)", "outputs": [
            {"output_type": "stream", "name": "stdout", "text": ["Total revenue: ", "4821337\n"]}]},
        {"cell_type": "code", "source": "df", "outputs": [
            {"output_type": "execute_result", "data": {"text/plain": "region   sales\nNordics 120000",
                                                       "text/html": "<table><tr><td>html</td></tr></table>"}},
            {"output_type": "display_data", "data": {"image/png": png, "text/plain": "<Figure size 640x480>"}},
            {"output_type": "error", "ename": "KeyError", "evalue": "'West'", "traceback": ["\x1b[0;31mTB"]}]},
        {"cell_type": "code", "source": "train()", "outputs": [
            {"output_type": "stream", "text": "# epoch loss\n" * 10_000}]},
    ], "nbformat": 4}
    sections = parse_file(write(tmp_path, "sales.ipynb", json.dumps(nb)))
    assert [s.heading for s in sections] == ["Sales"]  # "# epoch" in an output is not a heading
    text = sections[0].text
    assert "Total revenue: 4821337" in text and "Nordics 120000" in text and "KeyError: 'West'" in text
    assert "iVBOR" not in text and "Figure" not in text and "html" not in text and "TB" not in text
    assert 100 < text.count("# epoch loss") < 200  # the first 2,000 characters of 130,000


def test_latex_accent_macros_in_bibtex_are_letters(tmp_path: Path) -> None:
    bib = ('@article{m,\n  author = {M{\\"u}ller, J\\"{o}rg and Garc{\\\'\\i}a and Dvo{\\v{r}}{\\\'a}k '
           'and \\c{C}elik},\n'
           '  title = {{\\"U}ber die Stabilit{\\"a}t von Gro{\\ss}systemen \\cite{x} \\vspace{1em}}\n}\n')
    assert texts(parse_file(write(tmp_path, "refs.bib", bib))) == (
        "@article{m,\n  author = {Müller, Jörg and García and Dvořák and Çelik},\n"
        "  title = {Über die Stabilität von Großsystemen \\cite{x} \\vspace{1em}}\n}")


def test_layout_tables_leave_no_lines_of_pipes(tmp_path: Path) -> None:
    page = ("<table><tr><td></td><td><p>Alpha</p></td><td></td><td></td></tr><tr><td></td><td></td><td></td></tr>"
            "</table><p>Beta</p><table><tr><th>Name</th><th>Age</th><td></td></tr><tr><td>Ann</td><td></td>"
            "<td>30</td></tr></table><pre>a || b</pre>")
    assert texts(parse_file(write(tmp_path, "t.html", page))) == "Alpha\n\nBeta\n\nName | Age\nAnn | 30\n\na || b"


def test_utf16_html_without_a_byte_order_mark(tmp_path: Path) -> None:
    page = "<html><head><title>Bericht</title></head><body><p>Grüße aus Köln</p></body></html>"
    assert texts(parse_file(write(tmp_path, "u.html", page.encode("utf-16-le")))) == "Bericht\n\nGrüße aus Köln"


def test_markdown_heading_titles_read_without_inline_syntax(tmp_path: Path) -> None:
    md = ("# [API](api.md) reference `parse_file()` ![badge](https://img.shields.io/badge/x.svg)\n\ntext\n\n"
          "## Using **bold**, *args and **kwargs {#usage}\n\nmore\n")
    assert [s.heading for s in parse_file(write(tmp_path, "h.md", md))] == [
        "API reference parse_file()", "API reference parse_file() > Using bold, *args and **kwargs"]


def test_markdown_indented_code_and_html_pre_blocks_hold_no_headings(tmp_path: Path) -> None:
    md = ("# Install\n\nUse pip.\n\n    indented code sample\n---\n\n<pre>\n# apt-get install nginx\n</pre>\n\n"
          "<PRE class=x>\n## not either\n</PRE>\n\n## Real heading\n\ntext\n")
    sections = parse_file(write(tmp_path, "c.md", md))
    assert [s.heading for s in sections] == ["Install", "Install > Real heading"]
    assert "# apt-get install nginx" in sections[0].text and "indented code sample\n---" in sections[0].text


def test_saved_shadow_roots_and_srcdoc_frames_are_read(tmp_path: Path) -> None:
    page = ('<html><body><product-card><template shadowrootmode="open"><h2>Espresso machine</h2>'
            "<p>Pressure 15 bar, price 299 EUR.</p></template></product-card><template><p>unused</p></template>"
            '<p>Main.</p><iframe srcdoc="&lt;p&gt;Embedded tweet: launch &amp;amp; party&lt;/p&gt;'
            '&lt;iframe srcdoc=&quot;deeper&quot;&gt;&lt;/iframe&gt;"></iframe></body></html>')
    assert parse_file(write(tmp_path, "s.html", page)) == [Section(
        "Espresso machine\n\nPressure 15 bar, price 299 EUR.\n\nMain.\n\nEmbedded tweet: launch & party",
        None, "Espresso machine")]


def test_crafted_inputs_for_the_new_patterns_stay_linear(tmp_path: Path) -> None:
    cases = {
        "h1.md": "# " + "**a " * 100_000, "h2.md": "# " + "[a](" * 100_000, "h3.md": "# " + "`a" * 100_000,
        "s.xhtml": '<?xml version="1.0"?>' + "<title " * 100_000,
        "t.html": "<template shadowrootmode " * 100_000,
        "u.json": "\\u00e9\\\\" * 200_000, "v.bib": '{\\"' * 100_000 + "\\v " * 100_000,
        "w.log": "\x1b]" * 100_000 + "\x1b[" * 100_000, "x.xml": "&#" * 200_000,
        "y.html": "<p>" + "<font>" * 100_000 + "<div>" * 6000, "z.html": "<script>" * 50_000 + "<!--" * 50_000,
    }
    for name, content in cases.items():
        start = time.perf_counter()
        parse_file(write(tmp_path, name, content))
        assert time.perf_counter() - start < 3, name
