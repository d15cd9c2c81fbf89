"""HTML, XHTML, Markdown, subtitles, notebooks and text/data files: what a sweep of these
readers found lost, glued or mangled (each test fails on the reader as it was)."""

from __future__ import annotations

import time
from pathlib import Path

from app.core.parse import Section, parse_file


def write(tmp_path: Path, name: str, content: str | bytes) -> str:
    p = tmp_path / name
    p.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return str(p)


def texts(sections: list[Section]) -> str:
    return "\n".join(s.text for s in sections)


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
