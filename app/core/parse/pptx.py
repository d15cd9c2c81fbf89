"""PowerPoint PPTX through python-pptx: one section per slide, page = slide number.

The slide title is the section heading (and its first line); then the text of every
text frame, table and grouped shape in the slide's order, then the speaker notes.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from app.core.errors import DamagedFile, EncryptedFile
from app.core.parse import Section
from app.core.parse._common import (
    DIAGRAM_RELS,
    OLE_MAGIC,
    RELS_NS,
    clean_prose,
    describe,
    diagram_lines,
    ole_kind,
    open_zip,
)

MAX_GROUP_DEPTH = 50


def parse(path: str) -> list[Section]:
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(OLE_MAGIC):
        # An OLE container with a .pptx name: a .ppt renamed, or a password-protected PPTX
        # (Office encrypts the package into an OLE file).
        from app.core.parse import ppt

        if ole_kind(path) == "ppt":
            return ppt.parse(path)
        raise EncryptedFile("password-protected PowerPoint file",
                            "Remove the password (save a copy without it) to have it indexed.")
    open_zip(io.BytesIO(data), "PPTX")
    from pptx.exc import PackageNotFoundError
    from pptx.package import Package

    try:
        # Not Presentation(): it refuses slide shows (.ppsx, .ppsm) and templates (.potx, .potm),
        # whose main part python-pptx reads all the same.
        _accept_powerpoint_variants()
        prs = Package.open(io.BytesIO(data)).main_document_part.presentation
    except PackageNotFoundError:
        raise DamagedFile("damaged PPTX: no presentation inside the package") from None
    except Exception as exc:  # KeyError, ValueError, lxml errors... on bad parts
        raise DamagedFile(f"damaged or truncated PPTX: {describe(exc)}") from None
    sections: list[Section] = []
    try:
        slides = list(prs.slides)
    except Exception as exc:
        raise DamagedFile(f"damaged PPTX: {describe(exc)}") from None
    for number, slide in enumerate(slides, start=1):
        try:
            section = _slide(slide, number)
        except Exception:  # one bad slide costs that slide, not the deck
            continue
        if section is not None:
            sections.append(section)
    return sections


# Macro-enabled slide shows and templates: python-pptx maps the other variants itself.
_POWERPOINT_VARIANTS = (
    "application/vnd.ms-powerpoint.slideshow.macroEnabled.main+xml",
    "application/vnd.ms-powerpoint.template.macroEnabled.main+xml",
)


def _accept_powerpoint_variants() -> None:
    from pptx.opc.package import PartFactory
    from pptx.parts.presentation import PresentationPart

    for ct in _POWERPOINT_VARIANTS:
        PartFactory.part_type_for.setdefault(ct, PresentationPart)


def _slide(slide: Any, number: int) -> Section | None:
    title_shape = slide.shapes.title
    title = " ".join(title_shape.text_frame.text.split()) if title_shape is not None else ""
    title_id = title_shape.shape_id if title_shape is not None else None
    parts = [title] if title else []
    for shape in _shapes(slide.shapes):
        if shape.shape_id == title_id and title_id is not None or _furniture(shape):
            continue
        parts.extend(_shape_text(shape))
    if slide.has_notes_slide:
        frame = slide.notes_slide.notes_text_frame
        notes = frame.text.strip() if frame is not None else ""
        if notes:
            parts.append(f"Notes: {notes}")
    text = clean_prose("\n\n".join(parts))
    return Section(text, number, title) if text else None


def _shapes(shapes: Any, depth: int = 0) -> Iterator[Any]:
    for shape in shapes:
        if getattr(shape, "shape_type", None) == 6 and depth < MAX_GROUP_DEPTH:  # MSO_SHAPE_TYPE.GROUP
            yield from _shapes(shape.shapes, depth + 1)
        else:
            yield shape


# The date, footer and slide-number boxes repeat on every slide (the ODP reader skips them
# too), told by the type of the slide layout's box they take their place from.
_FURNITURE = frozenset({"dt", "ftr", "sldNum"})
_PH = "{http://schemas.openxmlformats.org/presentationml/2006/main}ph"


def _furniture(shape: Any) -> bool:
    element = getattr(shape, "_element", None)
    ph = element.find(f".//{_PH}") if element is not None else None
    return ph is not None and ph.get("type", "") in _FURNITURE


def _shape_text(shape: Any) -> list[str]:
    out = _chart_text(shape) + _diagram_text(shape)
    if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        text = shape.text_frame.text
        if text.strip():
            out.append(text)
    if getattr(shape, "has_table", False) and shape.has_table:
        rows = []
        for row in shape.table.rows:
            cells = [" ".join(cell.text.split()) for cell in row.cells]
            if any(cells):
                rows.append(" | ".join(cells))
        if rows:
            out.append("\n".join(rows))
    return out


def _chart_text(shape: Any) -> list[str]:
    """A chart's title and axis titles (its numbers are not text anyone searches for)."""
    if not getattr(shape, "has_chart", False):
        return []
    chart = shape.chart
    titles = []
    try:
        if chart.has_title and chart.chart_title.has_text_frame:
            titles.append(chart.chart_title.text_frame.text)
    except (ValueError, AttributeError, KeyError):
        pass
    for axis in ("category_axis", "value_axis"):
        try:
            ax = getattr(chart, axis)
            if ax.has_title and ax.axis_title.has_text_frame:
                titles.append(ax.axis_title.text_frame.text)
        except (ValueError, AttributeError, KeyError):  # a pie chart has no axes
            pass
    return [t for t in titles if t.strip()]


def _diagram_text(shape: Any) -> list[str]:
    """A SmartArt diagram's text, from the data part its graphic frame points to."""
    element = getattr(shape, "_element", None)
    if element is None:
        return []
    lines: list[str] = []
    for rel in element.iter(DIAGRAM_RELS):
        rid = rel.get(RELS_NS + "dm")
        try:
            lines += diagram_lines(shape.part.related_part(rid).blob) if rid else []
        except (KeyError, AttributeError, ValueError):
            continue
    return ["\n".join(lines)] if lines else []
