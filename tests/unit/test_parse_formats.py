"""The format parsers on small files generated here (offline, no shared corpus needed)."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest

from app.core.errors import DamagedFile, EncryptedFile, NoTextLayer, UnreadableFile, UnsupportedFile
from app.core.parse import SUPPORTED_KINDS, Section, kind_of, parse_file
from app.core.parse._common import MAX_SECTION_CHARS

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, name: str, content: str | bytes) -> str:
    p = tmp_path / name
    p.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return str(p)


def texts(sections: list[Section]) -> str:
    return "\n".join(s.text for s in sections)


# --- the interface ---------------------------------------------------------------------

def test_kind_of_by_extension_only() -> None:
    assert kind_of("/nowhere/a.PDF") == "pdf"
    assert kind_of("x.docx") == "docx"
    assert kind_of("x.pptx") == "pptx"
    assert kind_of("x.odt") == "odt"
    assert kind_of("x.epub") == "epub"
    assert kind_of("x.rtf") == "rtf"
    assert kind_of("x.csv") == "csv" and kind_of("x.tsv") == "csv"
    assert kind_of("x.html") == "html" and kind_of("x.htm") == "html" and kind_of("x.xhtml") == "html"
    assert kind_of("x.md") == "markdown"
    for ext in ("txt", "py", "rs", "json", "yaml", "toml", "xml", "ipynb", "tex", "rst", "log", "ts"):
        assert kind_of(f"x.{ext}") == "text", ext
    assert kind_of("x.xlsx") == "xlsx" and kind_of("x.xlsm") == "xlsx"
    assert kind_of("x.ods") == "ods" and kind_of("x.fods") == "ods"
    for ext in ("png", "jpg", "zip", "gz", "mp3", "mp4", "exe", "so", "ttf", "xlsb", "numbers", "sqlite"):
        assert kind_of(f"x.{ext}") is None, ext
    assert kind_of("archive.tar.gz") is None
    assert kind_of("Makefile") == "text?"
    assert kind_of(".bashrc") == "text?"
    assert kind_of("notes.weird-ext") == "text?"
    assert kind_of("x.eml") == "email" and kind_of("x.mbox") == "email" and kind_of("1.emlx") == "email"
    assert {"pdf", "docx", "pptx", "odt", "epub", "rtf", "csv", "xlsx", "ods", "html", "markdown",
            "text", "email", "doc", "xls", "ppt", "odp"} == SUPPORTED_KINDS


def test_extension_table_is_consistent() -> None:
    from app.core import parse

    assert not set(parse._EXTENSIONS) & set(parse._BINARY_REASONS)
    assert {kind for kind, _ in parse._EXTENSIONS.values()} == SUPPORTED_KINDS
    for _, target in parse._EXTENSIONS.values():  # every parser named in the table exists
        module, func = target.split(":")
        assert callable(getattr(__import__(f"app.core.parse.{module}", fromlist=[func]), func))


def test_section_pickles_for_worker_processes() -> None:
    s = Section("text", 3, "A > B")
    assert pickle.loads(pickle.dumps(s)) == s


def test_text_parsing_imports_no_heavy_library(tmp_path: Path) -> None:
    path = write(tmp_path, "a.txt", "hello")
    code = (
        "import sys; from app.core.parse import parse_file; parse_file(sys.argv[1]);"
        "heavy = {'pypdfium2', 'pypdf', 'docx', 'pptx', 'lxml', 'selectolax', 'striprtf', 'odf',"
        " 'charset_normalizer'} & {m.split('.')[0] for m in sys.modules}; print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code, path], cwd=REPO, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


# --- failures the caller records -------------------------------------------------------

def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile):
        parse_file(str(tmp_path / "nope.txt"))


def test_dangling_symlink_is_unreadable(tmp_path: Path) -> None:
    link = tmp_path / "link.md"
    link.symlink_to(tmp_path / "gone.md")
    with pytest.raises(UnreadableFile, match="dangling symlink"):
        parse_file(str(link))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read anything")
def test_permission_denied_is_unreadable(tmp_path: Path) -> None:
    path = write(tmp_path, "secret.txt", "hidden")
    os.chmod(path, 0)
    try:
        with pytest.raises(UnreadableFile, match="permission denied"):
            parse_file(path)
    finally:
        os.chmod(path, 0o600)


@pytest.mark.parametrize(("error", "message"), [
    (PermissionError(13, "Permission denied"), "permission denied"),
    (FileNotFoundError(2, "No such file or directory"), "file disappeared while reading"),
    (OSError(5, "Input/output error"), "Input/output error"),
])
def test_read_errors_mid_parse_are_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              error: OSError, message: str) -> None:
    """What a worker sees when the file is locked or deleted between stat and read
    (simulated: this also runs as root, where chmod 000 does not stop reads)."""
    from app.core.parse import text

    path = write(tmp_path, "a.txt", "hello")

    def failing_open(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(text, "open", failing_open, raising=False)
    with pytest.raises(UnreadableFile, match=message):
        parse_file(path)


def test_folder_and_fifo_are_unsupported_without_blocking(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFile):
        parse_file(str(tmp_path))
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe.txt"
        os.mkfifo(fifo)
        with pytest.raises(UnsupportedFile, match="not a regular file"):
            parse_file(str(fifo))


def test_known_binary_extension_is_unsupported(tmp_path: Path) -> None:
    path = write(tmp_path, "photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    with pytest.raises(UnsupportedFile, match="image"):
        parse_file(path)


def test_binary_with_unknown_extension_is_unsupported(tmp_path: Path) -> None:
    data = bytes(range(256)) * 64
    with pytest.raises(UnsupportedFile, match="binary"):
        parse_file(write(tmp_path, "blob.dat7", data))
    with pytest.raises(UnsupportedFile, match="binary"):
        parse_file(write(tmp_path, "noext", data))
    with pytest.raises(UnsupportedFile, match="binary"):  # a .txt that is not text
        parse_file(write(tmp_path, "lies.txt", data))
    with pytest.raises(UnsupportedFile, match="image"):  # magic number wins over the name
        parse_file(write(tmp_path, "README", b"\x89PNG\r\n\x1a\n" + bytes(100)))


def test_empty_files_are_empty(tmp_path: Path) -> None:
    for name in ("empty.txt", "empty.md", "empty.pdf", "empty.docx", "noext"):
        assert parse_file(write(tmp_path, name, b"")) == []
    assert parse_file(write(tmp_path, "blank.txt", "  \n\n\t\n")) == []


def test_crafted_inputs_stay_linear(tmp_path: Path) -> None:
    """Inputs that make naive regexes, csv.Sniffer or lexbor quadratic. Each takes well
    under a second here; the bound is loose so a loaded CI machine does not flake."""
    import time

    cases = {
        "deep.html": "<div>" * 200_000 + "deep &amp; text" + "</div>" * 200_000,  # lexbor: minutes
        "quotes.csv": '"a,' * 200_000,  # csv.Sniffer: ~15 s on 60 KB of this
        "spaces.md": "#" + " " * 300_000 + "x" + " " * 300_000 + "y",
        "spaces.py": " " * 300_000 + "x" + " " * 300_000 + "\n",
        "lt.html": "<" * 300_000,
        "fields.rtf": "{\\rtf1\\ansi " + '{\\field{\\*\\fldinst{HYPERLINK "x"}}{\\fldrslt{a}}} t ' * 5_000
                      + "}",
    }
    for name, content in cases.items():
        start = time.perf_counter()
        parse_file(write(tmp_path, name, content))
        assert time.perf_counter() - start < 10, name
    assert parse_file(str(tmp_path / "deep.html")) == [Section("deep & text", None)]


def test_whitespace_clean_up_equals_the_plain_regex_pipeline() -> None:
    """clean_prose / clean_code skip each rewrite where it would change nothing; the result
    must be exactly what running every rewrite gives, whatever the mix of breaks and spaces."""
    import random

    from app.core.parse import _common as c

    def prose(text: str) -> str:
        for rx, repl in ((c._NEWLINES, "\n"), (c._ANSI, ""), (c._JUNK, ""), (c._HSPACE, " "),
                         (c._SPACE_NL, "\n"), (c._BLANKS, "\n\n")):
            text = rx.sub(repl, text)
        return text.strip()

    def code(text: str) -> str:
        text = c._JUNK.sub("", c._ANSI.sub("", c._NEWLINES.sub("\n", text)))
        text = "\n".join(line.rstrip() for line in text.split("\n"))
        return c._BLANKS.sub("\n\n", text).strip("\n")

    rng = random.Random(7)
    alphabet = "ab. \t\n\r\x0b\x0c\x85\u2028\u2029\x00\x07\u200b\u00ad\ufeff\u00a0\u3000\u2003é"
    samples = ["", "plain text", "a  b", "a \n b", "a\r\n\r\n\r\nb", "x\u2028y", "tab\there", "\n\n\n",
               "\x1b[1;31mERROR\x1b[0m  x", "\x1b]0;title\x07a \n b"]
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14))) for _ in range(20_000)]
    for s in samples:
        assert c.clean_prose(s) == prose(s), repr(s)
        assert c.clean_code(s) == code(s), repr(s)


# --- text and encodings ----------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    ("Café crème brûlée, naïve façade. £5".encode("latin-1"), "Café crème brûlée, naïve façade. £5"),
    ("“Smart quotes” – €5 … café".encode("cp1252"), "“Smart quotes” – €5 … café"),
    ("Grüße aus Köln — 日本語".encode("utf-16"), "Grüße aus Köln — 日本語"),  # with BOM
    ("\ufeffUTF-8 with BOM: Zürich".encode(), "UTF-8 with BOM: Zürich"),
    ("UTF-16 without BOM: Grüße".encode("utf-16-le"), "UTF-16 without BOM: Grüße"),
    ("plain UTF-8: ŝi ĉu €".encode(), "plain UTF-8: ŝi ĉu €"),
])
def test_text_encodings(tmp_path: Path, raw: bytes, expected: str) -> None:
    sections = parse_file(write(tmp_path, "t.txt", raw))
    assert [s.text for s in sections] == [expected]
    assert sections[0].page is None and sections[0].heading == ""


# Text in the legacy code pages of other languages (written for these tests). Western text
# must stay cp1252; charset-normalizer alone reads German as cp1250 and Hungarian as cp1252.
LEGACY_TEXTS = [
    ("cp1251", "Договор аренды квартиры. Арендатор обязан вносить плату не позднее пятого числа каждого "
               "месяца. При досрочном расторжении договора стороны уведомляют друг друга за два месяца."),
    ("koi8_r", "Счёт на оплату выставлен девятого января. Просим оплатить его в течение десяти рабочих дней, "
               "иначе поставка будет отложена до поступления денег на расчётный счёт."),
    ("cp1253", "Η συνάντηση της επιτροπής θα γίνει την Τρίτη στις δέκα το πρωί. Παρακαλούμε να φέρετε τα "
               "έγγραφα του προϋπολογισμού και τις προτάσεις σας για το νέο έτος."),
    ("cp1255", "הפגישה תתקיים ביום שלישי בשעה עשר בבוקר. נא להביא את מסמכי התקציב ואת ההצעות שלכם לשנה החדשה."),
    ("cp1250", "Umowa najmu mieszkania. Najemca zobowiązuje się płacić czynsz do piątego dnia każdego miesiąca. "
               "Wypowiedzenie umowy następuje z zachowaniem dwumiesięcznego okresu, zaś kaucja zostanie zwrócona."),
    ("iso8859_2", "Nájemní smlouva. Nájemce se zavazuje platit nájemné vždy do pátého dne v měsíci. Výpověď "
                  "smlouvy je možná s dvouměsíční lhůtou, přičemž kauce bude vrácena do třiceti dnů."),
    ("iso8859_2", "Bérleti szerződés. A bérlő vállalja, hogy a bérleti díjat minden hónap ötödik napjáig "
                  "megfizeti. A szerződés felmondási ideje két hónap, a kauciót harminc napon belül visszafizetik."),
    ("cp1254", "Kira sözleşmesi. Kiracı, kira bedelini her ayın beşinci gününe kadar ödemeyi kabul eder. "
               "Sözleşmenin feshi için iki aylık bildirim süresi gereklidir; depozito otuz gün içinde iade edilir."),
    ("cp1252", "Der Mieter verpflichtet sich, die Miete bis zum fünften Tag jedes Monats zu zahlen. Die "
               "Kündigung des Vertrags erfordert eine Frist von zwei Monaten; die Kaution wird zurückgezahlt."),
    ("cp1252", "Lejeren forpligter sig til at betale huslejen før den femte i hver måned. Opsigelse kræver to "
               "måneders varsel, og depositummet tilbagebetales inden for tredive dage. Ærø og Ålborg."),
    ("cp1252", "The tenant’s deposit – £1,150 – is returned within thirty days… “Notice” means written "
               "notice given two months before the end of the tenancy, naïve as that may sound. 30° in the shade."),
    ("cp932", "賃貸借契約書。借主は毎月五日までに家賃を支払うものとする。解約の際は二か月前までに書面で通知すること。"),
    ("gb18030", "租赁合同。承租人应于每月五日前支付租金。解除合同须提前两个月书面通知，押金将在三十日内退还。"),
    ("cp949", "임대차 계약서. 임차인은 매월 5일까지 임대료를 지급한다. "
              "계약 해지 시 두 달 전에 서면으로 통지해야 한다."),
]


@pytest.mark.parametrize(("encoding", "text"), LEGACY_TEXTS, ids=[f"{e}-{t[:8]}" for e, t in LEGACY_TEXTS])
def test_legacy_code_pages_of_other_languages(tmp_path: Path, encoding: str, text: str) -> None:
    for body in (text, "\n\n".join([text] * 3)):
        assert [s.text for s in parse_file(write(tmp_path, "t.txt", body.encode(encoding)))] == [body]


@pytest.mark.parametrize("word", ["déjà", "naïve", "Zürich", "façade", "¿Qué tal? ¡Olé!", "nº 5, 1ª vez"])
def test_a_few_accented_letters_are_read_as_cp1252(tmp_path: Path, word: str) -> None:
    # charset-normalizer alone calls most of these UTF-16, Farsi or Cyrillic.
    assert parse_file(write(tmp_path, "w.txt", word.encode("cp1252")))[0].text == word


def test_encodings_without_a_byte_order_mark_or_in_7_bits(tmp_path: Path) -> None:
    text = "DateTime,Bid,Ask\n07/19/2015 21:00,1.08,1.09\n"
    for enc in ("utf-32-le", "utf-32-be"):
        assert parse_file(write(tmp_path, "t.txt", text.encode(enc)))[0].text == text.strip()
    jp = "会議は火曜日です。資料を持ってきてください。"
    assert parse_file(write(tmp_path, "mail.txt", jp.encode("iso2022_jp")))[0].text == jp
    kr = "회의는 화요일입니다. 자료를 가져오세요."
    assert parse_file(write(tmp_path, "kr.txt", kr.encode("iso2022_kr")))[0].text == kr


def test_markup_read_as_text_keeps_its_declared_charset(tmp_path: Path) -> None:
    jp = "相手がまともに読めない字"
    page = f'<?xml version="1.0" encoding="x-sjis"?>\n<note>{jp}</note>\n'.encode("cp932")
    assert jp in parse_file(write(tmp_path, "note.xml", page))[0].text
    html = f'<html><head><meta charset="x-sjis"></head><body><p>{jp}</p></body></html>'.encode("cp932")
    assert jp in " ".join(s.text for s in parse_file(write(tmp_path, "page.html", html)))


def test_longer_cp1252_text_and_unknown_extension(tmp_path: Path) -> None:
    para = "Le cœur a ses raisons que la raison ne connaît point. Déjà vu, naïveté, «guillemets»."
    path = write(tmp_path, "notes.weird", ("\n".join([para] * 40)).encode("cp1252"))
    assert parse_file(path)[0].text.startswith(para)


def test_utf8_with_a_stray_latin1_byte_stays_utf8(tmp_path: Path) -> None:
    raw = ("Grüße, schöne Äpfel. " * 20).encode() + b"caf\xe9"
    text = parse_file(write(tmp_path, "mixed.log", raw))[0].text
    assert text.startswith("Grüße, schöne Äpfel.")


def test_source_code_keeps_indentation(tmp_path: Path) -> None:
    code = "def f(x):\r\n    if x:\r\n        return 1   \r\n\r\n\r\n\r\n    return 2\r\n"
    [section] = parse_file(write(tmp_path, "f.py", code))
    assert section.text == "def f(x):\n    if x:\n        return 1\n\n    return 2"


def test_huge_text_is_split_into_bounded_sections(tmp_path: Path) -> None:
    line = "lorem ipsum dolor sit amet " * 4
    path = write(tmp_path, "big.log", "\n".join(f"{i} {line}" for i in range(30_000)))
    sections = parse_file(path)
    assert len(sections) > 1
    assert all(len(s.text) <= MAX_SECTION_CHARS for s in sections)
    assert sections[0].text.startswith("0 lorem") and sections[-1].text.endswith(line.strip())


def test_notebook_cells(tmp_path: Path) -> None:
    import json

    nb = {"cells": [
        {"cell_type": "markdown", "source": ["# Analysis\n", "Intro."]},
        {"cell_type": "code", "source": "# a comment, not a heading\nprint(1)", "outputs": [{"text": "1"}]},
        {"cell_type": "markdown", "source": "## Results\nAll good."},
    ], "nbformat": 4}
    sections = parse_file(write(tmp_path, "nb.ipynb", json.dumps(nb)))
    assert [s.heading for s in sections] == ["Analysis", "Analysis > Results"]
    assert "# a comment, not a heading" in sections[0].text



def test_notebook_images_fences_and_old_heading_cells(tmp_path: Path) -> None:
    import json

    png = "iVBORw0KGgo" + "A" * 4000
    nb = {"worksheets": [{"cells": [
        {"cell_type": "heading", "level": 1, "source": "Analysis"},  # nbformat 3
        {"cell_type": "markdown", "source": f"Setup: ![the plot](data:image/png;base64,{png})\n"
                                            f'<img src="data:image/png;base64,{png}">\n```bash\npip install foo'},
        {"cell_type": "code", "input": 's = """\n````\n"""'},
        {"cell_type": "heading", "level": 2, "source": "Results"},
        {"cell_type": "markdown", "source": "All good."},
    ]}], "nbformat": 3}
    sections = parse_file(write(tmp_path, "nb.ipynb", json.dumps(nb)))
    # Before: ~8 KB of base64 indexed, the open fence swallowed every later cell, and the
    # heading cells were plain text.
    assert [s.heading for s in sections] == ["Analysis", "Analysis > Results"]
    assert "iVBOR" not in sections[0].text and "the plot" in sections[0].text
    assert '````\n"""' in sections[0].text and sections[1].text == "Results\n\nAll good."


def test_markdown_list_before_a_rule_is_not_a_heading(tmp_path: Path) -> None:
    md = "# Release History\n\n## 2.32.3\n\n- Fixed a bug\n- Added a flag\n---\n\n## 2.32.2\n\n- Faster\n"
    sections = parse_file(write(tmp_path, "HISTORY.md", md))
    assert [s.heading for s in sections] == ["Release History > 2.32.3", "Release History > 2.32.2"]


def test_markdown_comments_and_a_leading_rule_hide_no_headings(tmp_path: Path) -> None:
    # "#" lines in an HTML comment became headings; a document opening with a rule had every
    # heading up to its next rule taken for front matter.
    md = "# A\n\n<!--\n# Draft heading\n-->\nText a.\n"
    assert [s.heading for s in parse_file(write(tmp_path, "c.md", md))] == ["A"]
    md = "---\nA rule first.\n\n# Real heading\n\nText.\n\n---\n\nMore.\n"
    assert [s.heading for s in parse_file(write(tmp_path, "r.md", md))] == ["", "Real heading"]
    md = "---\n# a YAML comment\ntitle: x\n---\n# H\n\nbody\n"
    assert [s.heading for s in parse_file(write(tmp_path, "f.md", md))] == ["", "H"]

# --- markdown --------------------------------------------------------------------------

MARKDOWN = """\
---
title: Front matter
---
Intro paragraph.

# Install

General notes.

## On Linux ##

```bash
# a shell comment, not a heading
apt install quire
```

~~~
## still code
~~~

Linux body.

Setext Top
==========

Top body.

Setext Sub
----------

Sub body with a #hashtag.

### Deep

Deep body.
"""


def test_markdown_heading_path_and_fences(tmp_path: Path) -> None:
    sections = parse_file(write(tmp_path, "doc.md", MARKDOWN))
    assert [s.heading for s in sections] == [
        "", "Install", "Install > On Linux", "Setext Top", "Setext Top > Setext Sub",
        "Setext Top > Setext Sub > Deep"]
    assert sections[0].text.startswith("---\ntitle: Front matter\n---")  # front matter kept
    linux = sections[2].text
    assert linux.startswith("On Linux\n\n")
    assert "# a shell comment, not a heading" in linux and "## still code" in linux
    assert all(s.page is None for s in sections)


def test_markdown_title_only_document(tmp_path: Path) -> None:
    sections = parse_file(write(tmp_path, "t.md", "# Only a title\n"))
    assert sections == [Section("Only a title", None, "Only a title")]


# --- HTML ------------------------------------------------------------------------------

HTML = """<!DOCTYPE html><html><head><meta charset="windows-1252"><title>The Page</title>
<style>body { color: red }</style><script>var secret = "SCRIPT";</script></head>
<body><nav>Home | About</nav><p>Intro <b>bold</b> text.</p>
<h1>Install</h1><p>General\n install.</p><noscript>NOSCRIPT</noscript>
<h2>On <em>Linux</em></h2><ul><li>one</li><li>two</li></ul>
<table><tr><th>Name</th><th>Value</th></tr><tr><td>a</td><td>1</td></tr></table>
<template><p>TEMPLATE</p></template><svg><text>SVGTEXT</text></svg>
<h1>Other ¶</h1><p>caf\xe9</p><script>more()</script></body></html>"""


def test_html_visible_text_and_headings(tmp_path: Path) -> None:
    sections = parse_file(write(tmp_path, "p.html", HTML.encode("cp1252")))
    assert [s.heading for s in sections] == ["", "Install", "Install > On Linux", "Other"]
    all_text = texts(sections)
    for hidden in ("SCRIPT", "color: red", "NOSCRIPT", "TEMPLATE", "SVGTEXT", "more()", "Home | About"):
        assert hidden not in all_text
    assert sections[0].text == "The Page\n\nIntro bold text."
    assert sections[1].text == "Install\n\nGeneral install."
    assert "one\ntwo" in sections[2].text and "Name | Value\na | 1" in sections[2].text
    assert sections[3].text == "Other\n\ncafé"


# --- CSV -------------------------------------------------------------------------------

def test_csv_rows_become_header_value_lines(tmp_path: Path) -> None:
    rows = ["id,name,city"] + [f'{i},"Name {i}, Jr.",Köln' for i in range(1, 121)] + [",,"]
    sections = parse_file(write(tmp_path, "people.csv", "\r\n".join(rows)))
    assert len(sections) == 3  # 50 + 50 + 20 rows
    first = sections[0].text.split("\n")
    assert first[0] == "id: 1; name: Name 1, Jr.; city: Köln"
    assert len(first) == 50
    assert sections[2].text.split("\n")[-1].startswith("id: 120;")


def test_tsv_and_semicolon_csv(tmp_path: Path) -> None:
    assert parse_file(write(tmp_path, "a.tsv", "a\tb\n1\t2\n"))[0].text == "a: 1; b: 2"
    assert parse_file(write(tmp_path, "b.csv", "x;y\n1;2\n3;\n"))[0].text == "x: 1; y: 2\nx: 3"



def test_html_with_php_or_processing_instructions(tmp_path: Path) -> None:
    # A template with <?php ... ?> in its body made the reader raise TypeError.
    page = "<html><body><?php include 'nav.php'; ?><h1>Orders</h1><p>Shipped on Monday.</p><?pi x?></body></html>"
    assert [(s.heading, s.text) for s in parse_file(write(tmp_path, "t.html", page))] == [
        ("Orders", "Orders\n\nShipped on Monday.")]


def test_html_title_kept_when_a_heading_comes_first_and_frames_fallback_left_out(tmp_path: Path) -> None:
    page = ("<html><head><title>Debian Policy Manual</title></head><body><h1>Contents</h1><p>Scope.</p>"
            "<noframes><H2>Frame Alert</H2><P>This document is designed for frames.</noframes></body></html>")
    [section] = parse_file(write(tmp_path, "p.html", page))
    assert section.text == "Contents\n\nDebian Policy Manual\n\nScope."  # the title was lost, the markup kept
    same = "<html><head><title>Install</title></head><body><h1>Install</h1><p>Run it.</p></body></html>"
    assert parse_file(write(tmp_path, "i.html", same))[0].text == "Install\n\nRun it."


def test_csv_dialect_from_records_preamble_and_excel_hints(tmp_path: Path) -> None:
    # A quoted header with tabs and line breaks made the tab the delimiter (lines were counted,
    # not records); a comma tie beat the tab in a .tsv; "# comment" lines and Excel's "sep=;"
    # became the header every row was labelled with.
    quoted = 'start\tend,b,c\n"line one\n\tline two",e,f\n'
    assert parse_file(write(tmp_path, "q.csv", '"' + quoted.replace(",", '",', 1)))[0].text.endswith("b: e; c: f")
    tsv = "Name (Last, First)\tScore\nSmith, John\t93\nDoe, Jane\t88\n"
    assert parse_file(write(tmp_path, "t.tsv", tsv))[0].text.startswith("Name (Last, First): Smith, John; Score: 93")
    commented = "# exported 2024-05-01\n# by the payroll tool\nname,amount\nAnna,31\nBob,45\n"
    assert [s.text for s in parse_file(write(tmp_path, "c.csv", commented))] == [
        "# exported 2024-05-01\n# by the payroll tool", "name: Anna; amount: 31\nname: Bob; amount: 45"]
    assert parse_file(write(tmp_path, "e.csv", "sep=;\nName;City\nAnna;Berlin\n"))[0].text == "Name: Anna; City: Berlin"
    # A spreadsheet's export pads the title with commas: it has all the fields, one filled.
    padded = "Payments over 1000 GBP,,\n,,\nSupplier,Description,Amount\nACME,Hire,7296.75\n"
    assert [s.text for s in parse_file(write(tmp_path, "p.csv", padded))] == [
        "Payments over 1000 GBP", "Supplier: ACME; Description: Hire; Amount: 7296.75"]
    # ...but pandas' header of a one-column frame (",a") is a header, and a column of rows
    # with one field filled is a table.
    assert parse_file(write(tmp_path, "i.csv", ",a\n0,1.5\n"))[0].text == "column 1: 0; a: 1.5"
    assert parse_file(write(tmp_path, "x.csv", "x,\ny,\nz,\n"))[0].text == "x: y\nx: z"
    rows = "".join(f"{i};naïve value;crème;façade München;Ærø\n" for i in range(300))
    latin1 = parse_file(write(tmp_path, "l.csv", ("id;name;city;note;place\n" + rows).encode("latin-1")))
    assert latin1[0].text.startswith("id: 0; name: naïve value; city: crème; note: façade München; place: Ærø")


def test_contacts_and_calendars_read_as_what_a_person_looks_for(tmp_path: Path) -> None:
    # As plain text: folded lines split words, quoted-printable hid names, photos were base64.
    vcf = ("BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=BCrgen;;;\r\n"
           "FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:J=C3=BCrgen M=C3=BC=\r\nller\r\nTEL;CELL:+49 30 1234567\r\n"
           "EMAIL:jm@example.org\r\nPHOTO;ENCODING=BASE64;TYPE=JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJ\r\n"
           " CQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/\r\n"
           "ORG:Acme GmbH;Plumbing\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nFN:Anna Berg\r\n"
           "NOTE:Met at the boiler fair\\, 2023\\nAsk about the heat pump.\r\nEND:VCARD\r\n")
    [section] = parse_file(write(tmp_path, "contacts.vcf", vcf))
    assert section.text == ("Name: Jürgen Müller\nOrganization: Acme GmbH, Plumbing\nPhone: +49 30 1234567\n"
                            "Email: jm@example.org\n\nName: Anna Berg\nNote: Met at the boiler fair, 2023\n"
                            "Ask about the heat pump.")
    ics = ("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//x//y//EN\nBEGIN:VTIMEZONE\nTZID:Europe/Berlin\nEND:VTIMEZONE\n"
           "BEGIN:VEVENT\nUID:1\nDTSTAMP:20240101T000000Z\nSUMMARY:Boiler service\nDTSTART;TZID=Europe/Berlin:"
           "20240105T100000\nLOCATION:Flat 3B\nORGANIZER;CN=Marguerite Olsen:mailto:mo@example.org\n"
           "DESCRIPTION:Use th\n e side door.\nATTACH;ENCODING=BASE64;VALUE=BINARY:iVBORw0KGgoAAAANSUhEUg\n"
           "END:VEVENT\nEND:VCALENDAR\n")
    [event] = parse_file(write(tmp_path, "cal.ics", ics))
    assert event.text == ("Event: Boiler service\nLocation: Flat 3B\nStarts: 2024-01-05 10:00\n"
                          "Organizer: Marguerite Olsen <mo@example.org>\nDescription: Use the side door.")


def test_subtitles_keep_what_is_said(tmp_path: Path) -> None:
    srt = ("1\n00:00:01,000 --> 00:00:03,000\n<i>Where is the</i> hose?\n\n"
           "2\n00:00:03,500 --> 00:00:05,000\nIn the shed.\n")
    assert parse_file(write(tmp_path, "a.srt", srt))[0].text == "Where is the hose?\nIn the shed."
    vtt = ("WEBVTT\nKind: captions\n\nSTYLE\n::cue { color: lime }\n\nNOTE a comment\n\n"
           "00:01.000 --> 00:02.000 align:start\nthe blue\n\n"
           "00:02.000 --> 00:03.000 align:start\nthe blue\n<c.colorE5E5E5>shed<00:02.5><c> by</c></c> the greenhouse\n"
           "00:03.000 --> 00:04.000\n2 &lt; 3\n")
    assert parse_file(write(tmp_path, "a.vtt", vtt))[0].text == "the blue\nshed by the greenhouse\n2 < 3"

# --- RTF -------------------------------------------------------------------------------

def test_rtf_codepage_escapes(tmp_path: Path) -> None:
    rtf = (r"{\rtf1\ansi\ansicpg1251\deff0{\fonttbl{\f0 Arial;}}"
           r"{\pict\pngblip\picw10 89504e470d0a1a0a0000}"
           r"\f0 \'cf\'f0\'e8\'e2\'e5\'f2, \u8364? euro\par Second {\b bold} para\par}")
    [section] = parse_file(write(tmp_path, "a.rtf", rtf))
    assert section.text == "Привет, € euro\nSecond bold para"



def test_rtf_code_pages_of_old_mac_and_dos_documents(tmp_path: Path) -> None:
    # A Mac Japanese font (\\fcharset78) made the whole document "damaged"; \\pc (DOS) and
    # \\ansicpg10000 (Mac Roman) were read as cp1252.
    sjis = "".join(f"\\'{b:02x}" for b in "お読みください".encode("cp932"))
    mac_jp = r"{\rtf1\ansi{\fonttbl{\f0\fnil\fcharset78 Osaka;}}\f0 " + sjis + r"\par}"
    assert parse_file(write(tmp_path, "jp.rtf", mac_jp))[0].text == "お読みください"
    assert parse_file(write(tmp_path, "dos.rtf", r"{\rtf1\pc \'f1 or \'f3\par}"))[0].text == "± or ≤"
    assert parse_file(write(tmp_path, "mac.rtf", r"{\rtf1\ansi\ansicpg10000 caf\'8e\par}"))[0].text == "café"
    # \\uc without its count raised TypeError; a UTF-8 byte-order mark was read as text.
    assert parse_file(write(tmp_path, "uc.rtf", r"{\rtf1\ansi\uc \u233? caf\u233?\par}"))[0].text == "é café"
    bom = b"\xef\xbb\xbf" + rb"{\rtf1\ansi Hello.\par}"
    assert parse_file(write(tmp_path, "bom.rtf", bom))[0].text == "Hello."


def test_rtf_footnotes_comments_and_text_boxes_are_kept(tmp_path: Path) -> None:
    # striprtf drops these groups whole; they are text a reader searches for. A \u beyond
    # Unicode made the whole document "damaged"; rows and cells with no text left bare "|".
    rtf = (r"{\rtf1\ansi\deff0{\fonttbl{\f0 Times;}}"
           r"\pard The claim is old.{\super\chftn}{\footnote\pard\plain{\super\chftn} Smith, Origins, 1901.}"
           r" It holds.{\*\atnid JS}{\*\annotation{\*\atndate 1}\pard A reviewer's remark.}\par "
           r"{\shp{\*\shpinst\shpleft0{\sp{\sn shapeType}{\sv 202}}{\shptxt \pard Boxed aside\par}}"
           r"{\shprslt{\*\do\dobxcolumn{\dptxbx{\dptxbxtext\pard Boxed aside\par}}}}}"
           r"\pard Odd \u2000000? char.\par "
           r"\trowd\cellx1\cellx2\cellx3 \intbl A\cell \cell C\cell\row "
           r"\trowd\cellx1\cellx2\cellx3 \intbl \cell \cell \cell\row "
           r"\trowd\cellx1\cellx2\cellx3 \intbl \cell B2\cell C2\cell\row}")
    [section] = parse_file(write(tmp_path, "notes.rtf", rtf))
    assert section.text == ("The claim is old. It holds.\nOdd \ufffd char.\nA | C\nB2 | C2\n\n"
                            "Smith, Origins, 1901.\nA reviewer's remark.\nBoxed aside")

# --- DOCX ------------------------------------------------------------------------------

def make_docx(path: Path) -> None:
    import docx

    d = docx.Document()
    d.add_heading("Handbook", level=0)  # the Title style
    d.add_paragraph("Preface text.")
    d.add_heading("Install", level=1)
    d.add_paragraph("Install text.")
    d.add_heading("On Linux", level=2)
    d.add_paragraph("Use apt.")
    table = d.add_table(rows=2, cols=2)
    for r, values in enumerate((("Name", "Value"), ("a", "1"))):
        for c, v in enumerate(values):
            table.cell(r, c).text = v
    d.add_paragraph("After the table.")
    d.add_heading("Usage", level=1)
    d.add_paragraph("Run it.")
    d.save(str(path))


def test_docx_headings_tables_and_order(tmp_path: Path) -> None:
    path = tmp_path / "h.docx"
    make_docx(path)
    sections = parse_file(str(path))
    assert [s.heading for s in sections] == [
        "Handbook", "Handbook > Install", "Handbook > Install > On Linux", "Handbook > Usage"]
    assert sections[2].text == "On Linux\n\nUse apt.\n\nName | Value\na | 1\n\nAfter the table."
    assert all(s.page is None for s in sections)


def test_truncated_docx_is_damaged(tmp_path: Path) -> None:
    path = tmp_path / "h.docx"
    make_docx(path)
    data = path.read_bytes()
    broken = write(tmp_path, "broken.docx", data[: len(data) // 2])
    with pytest.raises(DamagedFile, match="DOCX"):
        parse_file(broken)
    with pytest.raises(DamagedFile, match="DOCX"):
        parse_file(write(tmp_path, "text.docx", "this is not a zip file"))


def test_zip_bomb_is_refused_before_decompressing(tmp_path: Path) -> None:
    import struct

    from app.core.errors import FileTooLarge

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", "<w:document/>")
    data = bytearray(buf.getvalue())
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 3_000_000_000)  # claimed uncompressed size
    for name in ("bomb.docx", "bomb.odt", "bomb.epub", "bomb.pptx"):
        with pytest.raises(FileTooLarge):
            parse_file(write(tmp_path, name, bytes(data)))


# --- PPTX ------------------------------------------------------------------------------

def test_pptx_one_section_per_slide(tmp_path: Path) -> None:
    from pptx import Presentation
    from pptx.util import Inches

    prs = Presentation()
    s1 = prs.slides.add_slide(prs.slide_layouts[1])  # title and content
    s1.shapes.title.text = "Welcome"
    s1.placeholders[1].text = "First point\nSecond point"
    s1.notes_slide.notes_text_frame.text = "Say hello."
    prs.slides.add_slide(prs.slide_layouts[6])  # blank: no text, no section
    s3 = prs.slides.add_slide(prs.slide_layouts[5])  # title only
    s3.shapes.title.text = "Numbers"
    table = s3.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1)).table
    for r, values in enumerate((("Year", "Sales"), ("2024", "12"))):
        for c, v in enumerate(values):
            table.cell(r, c).text = v
    group = s3.shapes.add_group_shape()
    group.shapes.add_textbox(Inches(1), Inches(4), Inches(2), Inches(1)).text_frame.text = "Grouped box"
    path = tmp_path / "deck.pptx"
    prs.save(str(path))

    sections = parse_file(str(path))
    assert [(s.page, s.heading) for s in sections] == [(1, "Welcome"), (3, "Numbers")]
    assert sections[0].text == "Welcome\n\nFirst point\nSecond point\n\nNotes: Say hello."
    assert "Year | Sales\n2024 | 12" in sections[1].text and "Grouped box" in sections[1].text


def odf_table(rows: tuple[tuple[str, ...], ...]) -> object:
    """An OpenDocument table of text cells (odfpy), for the ODT and ODP tests."""
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    table = Table()
    for values in rows:
        row = TableRow()
        for v in values:
            cell = TableCell()
            cell.addElement(P(text=v))
            row.addElement(cell)
        table.addElement(row)
    return table


def _as_variant(src: Path, dest: Path, main_part: str, content_type: str) -> None:
    """Copy an Office package, giving its main part another content type (what Word and
    PowerPoint write for macro-enabled files, templates and slide shows)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "[Content_Types].xml":
                text = data.decode()
                start = text.index(f'PartName="{main_part}"')
                end = text.index("/>", start)
                old = text[start:end]
                data = text.replace(old, old[:old.index("ContentType=")] + f'ContentType="{content_type}"').encode()
            zout.writestr(item, data)


def test_macro_enabled_files_templates_and_slide_shows_are_read(tmp_path: Path) -> None:
    # python-docx and python-pptx refuse them by content type: they were "damaged" (.docm,
    # .dotx, .dotm, .ppsx, .ppsm, .potx, .potm).
    from pptx import Presentation

    make_docx(tmp_path / "plain.docx")
    for ext, ct in (("docm", "application/vnd.ms-word.document.macroEnabled.main+xml"),
                    ("dotx", "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml"),
                    ("dotm", "application/vnd.ms-word.template.macroEnabledTemplate.main+xml")):
        _as_variant(tmp_path / "plain.docx", tmp_path / f"variant.{ext}", "/word/document.xml", ct)
        assert kind_of(f"x.{ext}") == "docx"
        assert "Use apt." in texts(parse_file(str(tmp_path / f"variant.{ext}"))), ext
    prs = Presentation()
    slide = prs.slides.add_slide(prs.slide_layouts[5])
    slide.shapes.title.text = "Kickoff"
    prs.save(str(tmp_path / "plain.pptx"))
    for ext, ct in (("ppsx", "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml"),
                    ("ppsm", "application/vnd.ms-powerpoint.slideshow.macroEnabled.main+xml"),
                    ("potx", "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml"),
                    ("potm", "application/vnd.ms-powerpoint.template.macroEnabled.main+xml")):
        _as_variant(tmp_path / "plain.pptx", tmp_path / f"variant.{ext}", "/ppt/presentation.xml", ct)
        assert kind_of(f"x.{ext}") == "pptx"
        assert [s.heading for s in parse_file(str(tmp_path / f"variant.{ext}"))] == ["Kickoff"], ext


# --- ODT -------------------------------------------------------------------------------

def test_odt_headings_paragraphs_tables(tmp_path: Path) -> None:
    from odf.opendocument import OpenDocumentText
    from odf.table import TableColumn
    from odf.text import H, P, S, Tab

    doc = OpenDocumentText()
    doc.text.addElement(H(outlinelevel=1, text="Chapter"))
    p = P(text="Name")
    p.addElement(Tab())
    p.addText("value")
    p.addElement(S(c=3))
    p.addText("end")
    doc.text.addElement(p)
    doc.text.addElement(H(outlinelevel=2, text="Part"))
    table = odf_table((("A", "B"), ("C", "D")))
    table.insertBefore(TableColumn(numbercolumnsrepeated=2), table.firstChild)
    doc.text.addElement(table)
    path = tmp_path / "doc.odt"
    doc.save(str(path))

    sections = parse_file(str(path))
    assert [s.heading for s in sections] == ["Chapter", "Chapter > Part"]
    assert sections[0].text == "Chapter\n\nName value end"
    assert sections[1].text == "Part\n\nA | B\nC | D"


# --- XLSX ------------------------------------------------------------------------------

_SS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def make_xlsx(path: Path, sheets: dict[str, str], shared: list[str], *, date1904: bool = False,
              hidden: str = "", extra_formats: tuple[str, ...] = ()) -> None:
    """A workbook as Excel writes one: workbook, relationships, shared strings, styles (xf 1 is a
    date, 2 a time, 3 a custom "dd/mm/yyyy hh:mm", 4 a scientific number, 5 a percentage, then
    xf 6, 7... in ``extra_formats``) and sheets."""
    rels = "".join(f'<Relationship Id="rId{i}" Type="{_R}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                   for i in range(1, len(sheets) + 1))
    rels += (f'<Relationship Id="rIdS" Type="{_R}/sharedStrings" Target="sharedStrings.xml"/>'
             f'<Relationship Id="rIdT" Type="{_R}/styles" Target="styles.xml"/>')
    entries = "".join(f'<sheet name="{name}" sheetId="{i}" r:id="rId{i}"'
                      + (' state="hidden"' if name == hidden else "") + "/>"
                      for i, name in enumerate(sheets, 1))
    pr = '<workbookPr date1904="1"/>' if date1904 else ""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("_rels/.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                   f'relationships"><Relationship Id="rId1" Type="{_R}/officeDocument" '
                   'Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", f'<workbook xmlns="{_SS}" xmlns:r="{_R}">{pr}<sheets>{entries}'
                   "</sheets></workbook>")
        z.writestr("xl/_rels/workbook.xml.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/'
                   f'package/2006/relationships">{rels}</Relationships>')
        z.writestr("xl/sharedStrings.xml", f'<sst xmlns="{_SS}">' + "".join(shared) + "</sst>")
        extra = "".join(f'<numFmt numFmtId="{166 + i}" formatCode="{code}"/>' for i, code in enumerate(extra_formats))
        z.writestr("xl/styles.xml", f'<styleSheet xmlns="{_SS}"><numFmts>'
                   r'<numFmt numFmtId="164" formatCode="dd/mm/yyyy\ hh:mm"/>'
                   f'<numFmt numFmtId="165" formatCode="0.00E+00"/>{extra}</numFmts><cellXfs>'
                   '<xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="20"/><xf numFmtId="164"/>'
                   '<xf numFmtId="165"/><xf numFmtId="10"/>'
                   + "".join(f'<xf numFmtId="{166 + i}"/>' for i in range(len(extra_formats)))
                   + "</cellXfs></styleSheet>")
        for i, rows in enumerate(sheets.values(), 1):
            z.writestr(f"xl/worksheets/sheet{i}.xml", f'<worksheet xmlns="{_SS}"><sheetData>{rows}'
                       "</sheetData></worksheet>")


def test_xlsx_sheets_read_like_csv_with_values_as_excel_shows_them(tmp_path: Path) -> None:
    shared = ["<si><t>Item</t></si>", "<si><t>Due</t></si>", "<si><t>Amount</t></si>",
              "<si><t>Paid</t></si>",
              # rich text in runs, and a phonetic (furigana) run that must not be repeated
              '<si><r><t>Rent </t></r><r><rPr><b/></rPr><t>March</t></r><rPh sb="0" eb="1"><t>x</t></rPh></si>',
              "<si><t>名前</t></si>", "<si><t>山田</t></si>"]
    budget = (
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c>'
        '<c r="D1" t="s"><v>3</v></c></row>'
        # a date, a formula's cached result, a boolean
        '<row r="2"><c r="A2" t="s"><v>4</v></c><c r="B2" s="1"><v>45352</v></c>'
        '<c r="C2"><f>1000+250.5</f><v>1250.5</v></c><c r="D2" t="b"><v>1</v></c></row>'
        # a gap (no B), an inline string, a date with a time, scientific, a time of day
        '<row r="4"><c r="A4" t="inlineStr"><is><t>Power</t></is></c><c r="C4" s="4"><v>1.23E-4</v></c>'
        '<c r="D4" t="b"><v>0</v></c><c r="E4" s="3"><v>45366.5</v></c><c r="F4" s="2"><v>0.75</v></c></row>'
        '<row r="5"><c r="A5" s="1"/></row>'  # a styled, empty cell: no row
        '<row r="6"><c r="A6" t="inlineStr"><is><t>Rate</t></is></c><c r="C6" s="5"><v>0.2534</v></c></row>')
    make_xlsx(tmp_path / "budget.xlsx", {"Budget 2024": budget, "Names": '<row r="1"><c r="A1" t="s"><v>5</v>'
              '</c></row><row r="2"><c r="A2" t="s"><v>6</v></c></row>'}, shared, hidden="Names")
    sections = parse_file(str(tmp_path / "budget.xlsx"))
    assert [s.heading for s in sections] == ["Budget 2024", "Names"]  # a hidden sheet is read too
    assert sections[0].text == (
        "Item: Rent March; Due: 2024-03-01; Amount: 1250.5; Paid: TRUE\n"
        "Item: Power; Amount: 0.000123; Paid: FALSE; column 5: 2024-03-15 12:00; column 6: 18:00\n"
        "Item: Rate; Amount: 25.34%")
    assert sections[1].text == "名前: 山田"


def test_xlsx_1904_dates_encrypted_and_damaged_workbooks(tmp_path: Path) -> None:
    make_xlsx(tmp_path / "mac.xlsx", {"S": '<row><c t="inlineStr"><is><t>When</t></is></c></row>'
              '<row><c s="1"><v>0</v></c></row>'}, [], date1904=True)
    assert texts(parse_file(str(tmp_path / "mac.xlsx"))) == "When: 1904-01-01"
    ole = write(tmp_path, "locked.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    with pytest.raises(EncryptedFile, match="password-protected"):
        parse_file(ole)
    make_xlsx(tmp_path / "ok.xlsx", {"S": '<row><c t="inlineStr"><is><t>x</t></is></c></row>'}, [])
    data = (tmp_path / "ok.xlsx").read_bytes()
    with pytest.raises(DamagedFile):
        parse_file(write(tmp_path, "cut.xlsx", data[: len(data) // 2]))
    bad = tmp_path / "bad.xlsx"
    with zipfile.ZipFile(tmp_path / "ok.xlsx") as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            body = src.read(item)
            dst.writestr(item, body[:40] if item.filename.endswith("sheet1.xml") else body)
    with pytest.raises(DamagedFile, match="damaged or truncated XLSX"):
        parse_file(str(bad))


def test_ods_sheets_with_repeated_rows_and_columns(tmp_path: Path) -> None:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    def row(table: Table, *cells: tuple[str, int], repeat: int = 1) -> None:
        r = TableRow(numberrowsrepeated=repeat) if repeat > 1 else TableRow()
        for text, n in cells:
            c = TableCell(numbercolumnsrepeated=n) if n > 1 else TableCell()
            if text:
                c.addElement(P(text=text))
            r.addElement(c)
        table.addElement(r)

    doc = OpenDocumentSpreadsheet()
    budget = Table(name="Budget 2024")
    row(budget, ("Item", 1), ("Due", 1), ("Amount", 1))
    row(budget, ("Rent", 1), ("01/03/2024", 1), ("1,250.50", 1))
    row(budget, ("", 1024), repeat=1_048_000)  # how LibreOffice stores the empty rest of a sheet
    row(budget, ("", 2), ("far", 1), ("", 500))
    row(budget, ("same", 1), repeat=2)
    doc.spreadsheet.addElement(budget)
    names = Table(name="Names")
    row(names, ("名前", 1))
    row(names, ("山田", 1))
    doc.spreadsheet.addElement(names)
    doc.save(str(tmp_path / "book.ods"))

    sections = parse_file(str(tmp_path / "book.ods"))
    assert [s.heading for s in sections] == ["Budget 2024", "Names"]
    assert sections[0].text == "Item: Rent; Due: 01/03/2024; Amount: 1,250.50\nAmount: far\nItem: same\nItem: same"
    assert sections[1].text == "名前: 山田"
    with zipfile.ZipFile(tmp_path / "book.ods") as z:  # a flat .fods is the same XML, not zipped
        assert parse_file(write(tmp_path, "flat.fods", z.read("content.xml"))) == sections
    with pytest.raises(DamagedFile):
        parse_file(write(tmp_path, "cut.ods", (tmp_path / "book.ods").read_bytes()[:900]))


@pytest.mark.parametrize("name, message", [("locked.odt", "password-protected ODT document"),
                                           ("locked.ods", "password-protected ODS spreadsheet")])
def test_encrypted_opendocument_files_say_so(tmp_path: Path, name: str, message: str) -> None:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as z:  # as LibreOffice saves with a password: the parts encrypted
        z.writestr("META-INF/manifest.xml", '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:'
                   'opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path="content.xml">'
                   '<manifest:encryption-data/></manifest:file-entry></manifest:manifest>')
        z.writestr("content.xml", os.urandom(64))
    with pytest.raises(EncryptedFile, match=message):
        parse_file(str(path))


# --- EPUB ------------------------------------------------------------------------------

def make_epub(path: Path, encrypted: bool = False, metadata: str = "") -> None:
    chapter = ('<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
               "<head><title>Book title</title></head><body><h1>{h}</h1><p>{p}</p></body></html>")
    opf = """<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">
""" + metadata + """<manifest><item id="c1" href="text/one.xhtml" media-type="application/xhtml+xml"/>
<item id="c2" href="text/two%20b.xhtml" media-type="application/xhtml+xml"/>
<item id="css" href="style.css" media-type="text/css"/></manifest>
<spine><itemref idref="c2"/><itemref idref="c1"/></spine></package>"""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/container.xml", '<?xml version="1.0"?><container version="1.0" '
                   'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
                   '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
                   "</rootfiles></container>")
        z.writestr("OEBPS/content.opf", opf)
        z.writestr("OEBPS/style.css", "h1 { color: red }")
        z.writestr("OEBPS/text/one.xhtml", chapter.format(h="Chapter One", p="Spine says I come second."))
        z.writestr("OEBPS/text/two b.xhtml", chapter.format(h="Chapter Two", p="Spine says I come first."))
        if encrypted:
            z.writestr("META-INF/encryption.xml",
                       '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container"'
                       ' xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData><enc:CipherData>'
                       '<enc:CipherReference URI="OEBPS/text/one.xhtml"/></enc:CipherData>'
                       "</enc:EncryptedData></encryption>")


def test_epub_spine_order_and_headings(tmp_path: Path) -> None:
    from app.core.errors import EncryptedFile

    path = tmp_path / "book.epub"
    make_epub(path)
    sections = parse_file(str(path))
    assert [s.heading for s in sections] == ["Chapter Two", "Chapter One"]
    assert sections[0].text == "Chapter Two\n\nSpine says I come first."
    assert "Book title" not in texts(sections)
    drm = tmp_path / "drm.epub"
    make_epub(drm, encrypted=True)
    with pytest.raises(EncryptedFile):
        parse_file(str(drm))


def test_epub_catalogue_card_from_the_package_metadata(tmp_path: Path) -> None:
    # The blurb, often in no page of the book, was not indexed; nor were the authors.
    dc = ('<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>The Glass Orchard</dc:title>'
          "<dc:creator>Ines Varga</dc:creator><dc:creator>Tom Lind</dc:creator><dc:language>en</dc:language>"
          "<dc:description>&lt;p&gt;A &lt;b&gt;quiet&lt;/b&gt; novel about apple growers.&lt;/p&gt;</dc:description>"
          "<dc:subject>Fiction</dc:subject><dc:subject>Farming</dc:subject></metadata>")
    make_epub(tmp_path / "card.epub", metadata=dc)
    sections = parse_file(str(tmp_path / "card.epub"))
    assert sections[0] == Section("The Glass Orchard\nInes Varga, Tom Lind\n\n"
                                  "A quiet novel about apple growers.\n\nFiction, Farming", None)
    assert [s.heading for s in sections[1:]] == ["Chapter Two", "Chapter One"]
    # A card that would only repeat the opening page is left out.
    make_epub(tmp_path / "same.epub", metadata=dc.split("<dc:creator>")[0].replace("The Glass Orchard", "Chapter Two")
              + "</metadata>")
    assert [s.heading for s in parse_file(str(tmp_path / "same.epub"))] == ["Chapter Two", "Chapter One"]


# --- FB2 -------------------------------------------------------------------------------

def test_fb2_sections_without_binary(tmp_path: Path) -> None:
    fb2 = """<?xml version="1.0" encoding="UTF-8"?>
<FictionBook xmlns="http://www.gribuser.ru/xml/fictionbook/2.0"><description><title-info>
<book-title>Tale</book-title></title-info></description><body><title><p>Tale</p></title>
<section><title><p>One</p></title><p>First text.</p></section></body>
<binary id="i" content-type="image/png">QUJDREVGR0g=</binary></FictionBook>"""
    sections = parse_file(write(tmp_path, "t.fb2", fb2))
    assert sections == [Section("Tale\n\nOne\n\nFirst text.", None, "Tale > One")]


def test_fb2_catalogue_card_comes_first(tmp_path: Path) -> None:
    # The book's authors and blurb were left out with the rest of the <description>.
    fb2 = """<?xml version="1.0" encoding="UTF-8"?>
<FictionBook xmlns="http://www.gribuser.ru/xml/fictionbook/2.0"><description><title-info>
<genre>sf</genre><author><first-name>Arkady</first-name><last-name>Strugatsky</last-name></author>
<author><nickname>B.S.</nickname></author><book-title>Roadside Picnic</book-title>
<annotation><p>Aliens came and left.</p><p>The Zone remains.</p></annotation><keywords>zone, stalker</keywords>
<lang>en</lang></title-info><document-info><program-used>x</program-used></document-info></description>
<body><section><p>Text.</p></section></body></FictionBook>"""
    sections = parse_file(write(tmp_path, "p.fb2", fb2))
    assert [s.text for s in sections] == [
        "Roadside Picnic\nArkady Strugatsky, B.S.\n\nAliens came and left.\n\nThe Zone remains.\n\nzone, stalker",
        "Text."]



def test_fb2_with_a_reference_to_half_an_emoji(tmp_path: Path) -> None:
    # lxml keeps such references in recover mode, then cannot return the text: it raised.
    fb2 = ('<?xml version="1.0" encoding="UTF-8"?><FictionBook><body><section><p>Smile &#xD83D;&#xDE00; '
           'and half &#xD83D; here.</p></section></body></FictionBook>')
    assert parse_file(write(tmp_path, "e.fb2", fb2))[0].text == "Smile \U0001F600 and half \ufffd here."

# --- PDF (generated; the corpus PDFs are in test_parse_corpus.py) ----------------------

def make_pdf(pages: list[str]) -> bytes:
    """A minimal valid PDF with one line of Helvetica text per page ("" = blank page)."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for text in pages:
        ops = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1") if text else b""
        data = zlib.compress(ops)
        objs.append(b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(data), data))
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                    b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % len(objs))
        kids.append(len(objs))
    return pdf_file(objs, kids)


def pdf_file(objs: list[bytes], kids: list[int]) -> bytes:
    """The objects as a PDF file: object 2 becomes the page tree of ``kids``; then the
    cross-reference table and the trailer."""
    objs[1] = b"<< /Type /Pages /Count %d /Kids [%s] >>" % (len(kids), b" ".join(b"%d 0 R" % k for k in kids))
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (i, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % o for o in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref))
    return out.getvalue()


def test_pdf_pages_numbered_from_one_blank_pages_skipped(tmp_path: Path) -> None:
    pdf = make_pdf(["The first page talks about apples.", "", "The third page is about pears."])
    sections = parse_file(write(tmp_path, "fruit.pdf", pdf))
    assert [(s.page, s.text) for s in sections] == [
        (1, "The first page talks about apples."), (3, "The third page is about pears.")]


def raw_pdf(pages: list[bytes], rotate: int = 0, image: bool = False) -> bytes:
    """A PDF of content streams ``pages`` (Helvetica as /F1); ``image``: each page also draws a
    1x1 grey image (/Im1) stretched over the whole page, as a scanner's PDF does."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            b"<< /Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace /DeviceGray "
            b"/BitsPerComponent 8 /Length 1 >>\nstream\n\x80\nendstream"]
    kids = []
    for ops in pages:
        ops = (b"q 612 0 0 792 0 0 cm /Im1 Do Q " if image else b"") + ops
        objs.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(ops), ops))
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Rotate %d "
                    b"/Resources << /Font << /F1 3 0 R >> /XObject << /Im1 4 0 R >> >> /Contents %d 0 R >>"
                    % (rotate, len(objs)))
        kids.append(len(objs))
    return pdf_file(objs, kids)


def test_pdf_little_text_is_read_unless_the_pages_are_scans(tmp_path: Path) -> None:
    # Short slides, a page of text among blank pages, a rule line before the text: all were
    # refused as "no text layer" and their text lost (the bar was 10 characters a page on
    # average, and a one-page file was judged on its first 40 characters).
    slides = make_pdf(["Q3 plan", "Risks", "Next steps"])
    assert [s.text for s in parse_file(write(tmp_path, "slides.pdf", slides))] == ["Q3 plan", "Risks", "Next steps"]
    blanks = make_pdf(["The only page of text in this report, about the budget."] + [""] * 29)
    assert [s.page for s in parse_file(write(tmp_path, "blanks.pdf", blanks))] == [1]
    rule = make_pdf(["=" * 60 + " Quarterly report"])
    assert parse_file(write(tmp_path, "rule.pdf", rule))[0].text.endswith("Quarterly report")
    # Scans with a stray label on each page are still what they are.
    scans = raw_pdf([b"BT /F1 9 Tf 20 20 Td (p. %d) Tj ET" % i for i in range(1, 5)], image=True)
    with pytest.raises(NoTextLayer):
        parse_file(write(tmp_path, "scan.pdf", scans))


def test_pdf_running_headers_and_page_numbers_are_kept_once(tmp_path: Path) -> None:
    # The title line on every page matched every page for a word of the title (Debian Policy's
    # 159 of 193 pages), pushing down the passages that are about it; page numbers are noise.
    def page(i: int, body: str) -> bytes:
        return (b"BT /F1 10 Tf 72 760 Td (ACME Corp Confidential Report) Tj 0 -40 Td (%s) Tj "
                b"0 -640 Td (Page %d of 5) Tj ET" % (body.encode(), i))

    bodies = ["Revenue grew in every region.", "Costs fell by a tenth.", "The board approved the budget.",
              "Hiring resumes in spring.", "Paragraph 5 opens this page."]
    sections = parse_file(write(tmp_path, "report.pdf", raw_pdf([page(i, b) for i, b in enumerate(bodies, 1)])))
    assert [s.text for s in sections] == [
        "ACME Corp Confidential Report\nRevenue grew in every region.\nPage 1 of 5", *bodies[1:]]
    # Lines that differ by more than a number are text, however alike ("Slide 2 title").
    slides = raw_pdf([b"BT /F1 10 Tf 72 760 Td (Slide %d title) Tj 0 -40 Td (Point %d.) Tj ET" % (i, i)
                      for i in range(1, 6)])
    assert [s.text for s in parse_file(write(tmp_path, "deck.pdf", slides))] == [
        f"Slide {i} title\nPoint {i}." for i in range(1, 6)]


def test_pdf_private_use_characters_are_not_indexed() -> None:
    # Symbol fonts' bullets and big brackets' pieces come as private-use characters.
    from app.core.parse.pdf import _NOT_TEXT

    assert _NOT_TEXT.sub(" ", "smiley \uf04a then \ufffd then bracket \uf8eb end").split() == [
        "smiley", "then", "then", "bracket", "end"]


def test_pdf_rotated_page_reads_in_order(tmp_path: Path) -> None:
    # A page turned by /Rotate 90 gave its lines last first.
    ops = b"BT /F1 12 Tf 72 720 Td (Line one of three.) Tj 0 -16 Td (Line two of three.) Tj " \
          b"0 -16 Td (Line three of three.) Tj ET"
    [section] = parse_file(write(tmp_path, "turned.pdf", raw_pdf([ops], rotate=90)))
    assert section.text == "Line one of three.\nLine two of three.\nLine three of three."


def test_pdf_without_extension_is_sniffed(tmp_path: Path) -> None:
    sections = parse_file(write(tmp_path, "scan0001", make_pdf(["Sniffed by its magic number."])))
    assert sections == [Section("Sniffed by its magic number.", 1, "")]


def test_pdf_without_text_and_truncated_pdf(tmp_path: Path) -> None:
    with pytest.raises(NoTextLayer):
        parse_file(write(tmp_path, "blank.pdf", make_pdf(["", "", ""])))
    pdf = make_pdf(["Some text here."] * 3)
    with pytest.raises(DamagedFile, match="PDF"):
        parse_file(write(tmp_path, "cut.pdf", pdf[: len(pdf) // 3]))
    with pytest.raises(DamagedFile):
        parse_file(write(tmp_path, "fake.pdf", b"%PDF-1.4\nnot really a pdf at all\n"))


def test_pdf_with_broken_xref_is_recovered(tmp_path: Path) -> None:
    pdf = make_pdf(["Recovered despite a wrong xref offset."])
    broken = pdf[: pdf.rindex(b"startxref")] + b"startxref\n999\n%%EOF\n"
    assert parse_file(write(tmp_path, "xref.pdf", broken))[0].text == "Recovered despite a wrong xref offset."


def test_one_compressed_document_is_read_as_that_document(tmp_path: Path, monkeypatch) -> None:
    import bz2
    import gzip
    import lzma

    from app.core.errors import FileTooLarge
    from app.core.parse import compressed

    assert kind_of("policy.txt.gz") == "text" and kind_of("notes.md.bz2") == "markdown"
    assert kind_of("report.pdf.xz") == "pdf" and kind_of("table.csv.gz") == "csv"
    for name in ("backup.tar.gz", "data.gz", "syslog.2.gz", "x.tgz"):
        assert kind_of(name) is None, name  # archives, or nothing says what is inside
    txt = parse_file(write(tmp_path, "policy.txt.gz", gzip.compress(b"Packages must not modify conffiles.")))
    assert texts(txt) == "Packages must not modify conffiles."
    md = parse_file(write(tmp_path, "notes.md.bz2", bz2.compress(b"# Deposit\n\nTwo months of rent.\n")))
    assert md[0].heading == "Deposit" and "Two months of rent." in md[0].text
    pdf = parse_file(write(tmp_path, "report.pdf.xz", lzma.compress(make_pdf(["First page", "Second page"]))))
    assert [(s.page, s.text) for s in pdf] == [(1, "First page"), (2, "Second page")]

    with pytest.raises(DamagedFile, match="damaged"):
        parse_file(write(tmp_path, "bad.txt.gz", b"\x1f\x8b\x08\x00 this is not deflate data at all"))
    with pytest.raises(DamagedFile, match="damaged"):
        parse_file(write(tmp_path, "cut.txt.gz", gzip.compress(b" ".join(b"%d" % i for i in range(50_000)))[:2000]))
    # Saved decompressed under the compressed name (browsers do that with Content-Encoding: gzip).
    assert texts(parse_file(write(tmp_path, "plain.txt.gz", b"not compressed at all"))) == "not compressed at all"
    monkeypatch.setattr(compressed, "MAX_DECOMPRESSED", 1 << 20)  # a bomb: 10 KB that unpack to 8 MB
    with pytest.raises(FileTooLarge, match="decompresses to more than 1 MB"):
        parse_file(write(tmp_path, "bomb.txt.gz", gzip.compress(b"\0" * (8 << 20))))


def test_xls_workbooks_read_like_xlsx_and_exports_that_are_not_really_xls(tmp_path: Path) -> None:
    import datetime

    import xlwt

    assert kind_of("x.xls") == "xls" and kind_of("x.xlt") == "xls"
    wb = xlwt.Workbook()
    ws = wb.add_sheet("Budget 2024")
    for col, name in enumerate(("Item", "Amount", "Due", "Share", "Paid")):
        ws.write(0, col, name)
    ws.write(1, 0, "Rent")
    ws.write(1, 1, 1150)
    ws.write(1, 2, datetime.date(2024, 3, 1), xlwt.easyxf(num_format_str="YYYY-MM-DD"))
    ws.write(1, 3, 0.25, xlwt.easyxf(num_format_str="0%"))
    ws.write(1, 4, True)
    ws.write(2, 0, "Boiler repair")
    ws.write(2, 1, 349.5)
    ws.write(2, 2, datetime.time(14, 30), xlwt.easyxf(num_format_str="hh:mm"))
    ws.write(2, 3, xlwt.Formula("B3*2"))
    wb.add_sheet("Empty")
    wb.add_sheet("Notes").write(0, 0, "Landlord: Marguerite Olsen")
    path = tmp_path / "budget.xls"
    wb.save(str(path))
    sections = parse_file(str(path))
    assert [s.heading for s in sections] == ["Budget 2024", "Notes"]
    assert sections[0].text.splitlines() == [
        "Item: Rent; Amount: 1150; Due: 2024-03-01; Share: 25%; Paid: TRUE",
        "Item: Boiler repair; Amount: 349.5; Due: 14:30",  # xlwt saves no formula results: empty
    ]
    assert sections[1].text == "Landlord: Marguerite Olsen"

    # "Export to Excel" from a web application: an HTML table or tab-separated text named .xls.
    html_xls = write(tmp_path, "report.xls", "<html><body><table><tr><th>Name</th><th>Hours</th></tr>"
                                             "<tr><td>Ana</td><td>37.5</td></tr></table></body></html>")
    assert "Ana | 37.5" in texts(parse_file(html_xls))
    tsv_xls = write(tmp_path, "export.xls", "Name\tHours\nAna\t37.5\nBo\t12\n")
    assert texts(parse_file(tsv_xls)) == "Name: Ana; Hours: 37.5\nName: Bo; Hours: 12"
    with pytest.raises(DamagedFile):
        parse_file(write(tmp_path, "cut.xls", path.read_bytes()[:1500]))
    # A workbook with a password: its stream starts with a BOF and a FILEPASS record.
    import struct

    from tests.helpers.cfb import compound_file

    bof = struct.pack("<HH", 0x0809, 16) + struct.pack("<HHHHII", 0x0600, 0x0005, 0x1FD5, 1996, 0, 6)
    filepass = struct.pack("<HH", 0x002F, 6) + struct.pack("<HHH", 1, 1, 1)
    with pytest.raises(EncryptedFile, match="password-protected Excel workbook"):
        parse_file(write(tmp_path, "secret.xls", compound_file({"Workbook": bof + filepass})))
    # ...and one without its extension is sniffed.
    bare = write(tmp_path, "BUDGET", path.read_bytes())
    assert kind_of(bare) == "text?" and "Item: Rent" in texts(parse_file(bare))


def test_odp_slides_titles_frames_tables_and_notes(tmp_path: Path) -> None:
    from odf.draw import Frame, G, Page, TextBox
    from odf.namespaces import PRESENTATIONNS
    from odf.opendocument import OpenDocumentPresentation
    from odf.presentation import Notes
    from odf.style import MasterPage, PageLayout
    from odf.text import P

    doc = OpenDocumentPresentation()
    layout = PageLayout(name="PL")
    doc.automaticstyles.addElement(layout)
    master = MasterPage(name="Default", pagelayoutname=layout)
    doc.masterstyles.addElement(master)

    def frame(text: str, kind: str = "") -> Frame:
        f = Frame(width="20cm", height="3cm", x="1cm", y="1cm")
        if kind:
            f.setAttrNS(PRESENTATIONNS, "class", kind)
        box = TextBox()
        for line in text.split("\n"):
            box.addElement(P(text=line))
        f.addElement(box)
        return f

    p1 = Page(masterpagename=master, name="one")
    p1.addElement(frame("Quarterly results", "title"))
    p1.addElement(frame("Revenue grew 12%\nCosts fell", "outline"))
    p1.addElement(frame("7", "page-number"))
    group = G()
    group.addElement(frame("Source: finance team"))
    p1.addElement(group)
    notes = Notes()
    notes.addElement(frame("Mention the office in Lyon.", "notes"))
    p1.addElement(notes)
    doc.presentation.addElement(p1)
    doc.presentation.addElement(Page(masterpagename=master, name="blank"))
    p3 = Page(masterpagename=master, name="three")
    p3.addElement(frame("Numbers", "title"))
    tf = Frame(width="10cm", height="3cm", x="1cm", y="5cm")
    tf.addElement(odf_table((("Year", "Sales"), ("2024", "12"))))
    p3.addElement(tf)
    doc.presentation.addElement(p3)
    path = tmp_path / "deck.odp"
    doc.save(str(path))

    assert kind_of("x.odp") == "odp" and kind_of("x.otp") == "odp" and kind_of("x.fodp") == "odp"
    sections = parse_file(str(path))
    assert [(s.page, s.heading) for s in sections] == [(1, "Quarterly results"), (3, "Numbers")]
    assert sections[0].text == ("Quarterly results\n\nRevenue grew 12%\nCosts fell\n\nSource: finance team"
                                "\n\nNotes: Mention the office in Lyon.")
    assert sections[1].text == "Numbers\n\nYear | Sales\n2024 | 12"
    # Flat XML (.fodp): the same body in one XML file.
    with zipfile.ZipFile(path) as zf:
        flat = write(tmp_path, "deck.fodp", zf.read("content.xml").replace(b"document-content", b"document"))
    assert [(s.page, s.heading) for s in parse_file(flat)] == [(1, "Quarterly results"), (3, "Numbers")]


def test_a_zip_container_packed_oddly_or_encrypted_is_refused_with_its_reason(tmp_path: Path) -> None:
    # Deflate64 (method 9, Windows Explorer's zip for large files) and ZIP-level encryption used
    # to surface from deep inside a reader as an unexpected error.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    plain = buf.getvalue()

    def patched(method: int | None = None, flags: int | None = None) -> bytes:
        data = bytearray(plain)
        for sig, m_at, f_at in ((b"PK\x03\x04", 8, 6), (b"PK\x01\x02", 10, 8)):
            pos = data.find(sig)
            while pos != -1:
                if method is not None:
                    data[pos + m_at:pos + m_at + 2] = method.to_bytes(2, "little")
                if flags is not None:
                    data[pos + f_at:pos + f_at + 2] = flags.to_bytes(2, "little")
                pos = data.find(sig, pos + 4)
        return bytes(data)

    with pytest.raises(UnsupportedFile, match="compression method Python cannot read"):
        parse_file(write(tmp_path, "deflate64.xlsx", patched(method=9)))
    with pytest.raises(EncryptedFile, match="password-protected XLSX"):
        parse_file(write(tmp_path, "locked.xlsx", patched(flags=1)))
