"""Jupyter notebooks (.ipynb): the cells' source and their text outputs.

Markdown cells and code cells (fenced) are joined into one Markdown document and read
by the Markdown reader, so markdown headings give the heading path and '#' comments
in code cells stay code. A code cell's printed text, plain-text results and error names
follow it (fenced, the first few KB); images, HTML, widgets and JavaScript outputs and
images pasted into cells (base64) are left out.
"""

from __future__ import annotations

import json
import re
from typing import Any

from app.core.errors import DamagedFile
from app.core.parse import Section
from app.core.parse._common import describe
from app.core.parse.markdown import open_fence, parse_text, without_data_images
from app.core.parse.text import decode_text_file


def parse(path: str) -> list[Section]:
    with open(path, "rb") as f:
        data = f.read()
    try:
        nb = json.loads(decode_text_file(data))
    except (ValueError, RecursionError) as exc:
        raise DamagedFile(f"damaged notebook (not valid JSON): {describe(exc)}") from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if cells is None and isinstance(nb, dict):  # nbformat 3 kept cells inside worksheets
        sheets = nb.get("worksheets")
        if not isinstance(sheets, list) or not all(isinstance(ws.get("cells", []), list)
                                                    for ws in sheets if isinstance(ws, dict)):
            raise DamagedFile("damaged notebook: no cells")
        cells = [c for ws in sheets if isinstance(ws, dict) for c in ws.get("cells") or []]
    if not isinstance(cells, list):
        raise DamagedFile("damaged notebook: no cells")
    parts: list[str] = []
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        source = cell.get("source", cell.get("input", ""))
        if isinstance(source, list):
            text = "".join(s for s in source if isinstance(s, str))
        else:
            text = str(source or "")
        if not text.strip():
            continue
        kind = cell.get("cell_type")
        if kind == "markdown":
            text = without_data_images(text)  # pasted images, base64
            # Jupyter renders each cell alone: a fence left open must not swallow later cells.
            fence = open_fence(text)
            parts.append(f"{text}\n{fence}" if fence else text)
        elif kind == "code":
            parts.append(_fenced(text))
            if output := _output_text(cell):
                parts.append(_fenced(output))
        elif kind == "heading":  # nbformat 3
            level = cell.get("level")
            level = level if isinstance(level, int) and 1 <= level <= 6 else 1
            parts.append("#" * level + " " + " ".join(text.split()))
        else:  # raw cells
            parts.append(text)
    return parse_text("\n\n".join(parts))


_BACKTICKS = re.compile(r"`{3,}")
# A cell's outputs kept: enough for "Total revenue: 4821337" or a small table, not a
# training log of 10,000 lines.
MAX_OUTPUT_CHARS = 2000


def _fenced(text: str) -> str:
    fence = "`" * max(3, 1 + max(map(len, _BACKTICKS.findall(text)), default=0))
    return f"{fence}\n{text}\n{fence}"


def _output_text(cell: dict[str, Any]) -> str:
    """The text a code cell printed or returned (nbformat 4, and 3's names), capped."""
    outputs = cell.get("outputs")
    if not isinstance(outputs, list):
        return ""
    pieces: list[str] = []
    for out in outputs:
        if not isinstance(out, dict):
            continue
        kind = out.get("output_type")
        if kind == "stream":
            text = _joined(out.get("text"))
        elif kind in ("execute_result", "display_data", "pyout"):
            data = out.get("data")
            if isinstance(data, dict) and any(k.startswith("image/") for k in data):
                continue  # a figure: its text is only "<Figure size 640x480 with 1 Axes>"
            text = _joined(data.get("text/plain") if isinstance(data, dict) else out.get("text"))
        elif kind in ("error", "pyerr"):
            text = f"{_joined(out.get('ename'))}: {_joined(out.get('evalue'))}"
        else:
            continue
        if text.strip():
            pieces.append(text.rstrip("\n"))
    return "\n".join(pieces)[:MAX_OUTPUT_CHARS]


def _joined(value: object) -> str:
    """A notebook string field: a string or a list of lines."""
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else ""
