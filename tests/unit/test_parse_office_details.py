"""Office documents' less common parts, each found lost, doubled or misread by a sweep that
compared Quire's text of 178 documents with LibreOffice's and pandoc's: custom XML, equations,
moved text, text boxes in cells, SmartArt and charts, slide furniture, nested tables, and
spreadsheet values as Excel shows them."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from app.core.parse import Section, parse_file
from tests.unit.test_parse_formats import make_xlsx, odf_table

_DGM_DATA = (
    '<dgm:dataModel xmlns:dgm="http://schemas.openxmlformats.org/drawingml/2006/diagram" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><dgm:ptLst>'
    + "".join(f'<dgm:pt modelId="{i}"><dgm:t><a:bodyPr/><a:p><a:r><a:t>{t}</a:t></a:r></a:p></dgm:t></dgm:pt>'
              for i, t in enumerate(("Plan", "Build", "Ship")))
    + '<dgm:pt modelId="9" type="parTrans"><dgm:t><a:p><a:endParaRPr/></a:p></dgm:t></dgm:pt>'
    "</dgm:ptLst></dgm:dataModel>")
_DGM_RELS = ('<dgm:relIds xmlns:dgm="http://schemas.openxmlformats.org/drawingml/2006/diagram" '
             'r:dm="rIdDgm" r:lo="rIdX" r:qs="rIdX" r:cs="rIdX"/>')


def docx_with(path: Path, body: str, parts: dict[str, tuple[str, str]] | None = None,
              numbering: str = "", numbered_headings: str = "") -> str:
    """A DOCX made by python-docx whose body is ``body`` (raw WordprocessingML); ``parts``:
    relationship id -> (part name, XML) added and related from the document; ``numbering``:
    the w:num and w:abstractNum elements of numbering.xml; ``numbered_headings``: a numId
    that the Heading 1 and Heading 2 styles number their paragraphs with."""
    import docx

    buf = io.BytesIO()
    d = docx.Document()
    d.add_paragraph("MARKER")
    d.save(buf)
    with zipfile.ZipFile(buf) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "word/document.xml":
                data = re.sub(r"<w:p><w:r><w:t>MARKER</w:t></w:r></w:p>", lambda _: body, data.decode()).encode()
            elif item.filename == "word/numbering.xml" and numbering:
                data = re.sub(r"(<w:numbering [^>]*>).*(</w:numbering>)", lambda m: m.group(1) + numbering + m.group(2),
                              data.decode(), flags=re.S).encode()
            elif item.filename == "word/styles.xml" and numbered_headings:
                text = data.decode()
                for level in (0, 1):
                    text = text.replace(f'<w:outlineLvl w:val="{level}"/></w:pPr>', f'<w:outlineLvl w:val="{level}"/>'
                                        f'<w:numPr><w:ilvl w:val="{level}"/><w:numId w:val="{numbered_headings}"/>'
                                        "</w:numPr></w:pPr>", 1)
                data = text.encode()
            elif item.filename == "word/_rels/document.xml.rels" and parts:
                rels = "".join(f'<Relationship Id="{rid}" Type="http://schemas.openxmlformats.org/officeDocument/'
                               f'2006/relationships/diagramData" Target="{name}"/>'
                               for rid, (name, _) in parts.items())
                data = data.decode().replace("</Relationships>", rels + "</Relationships>").encode()
            zout.writestr(item, data)
        for name, xml in (parts or {}).values():
            zout.writestr(f"word/{name}", xml)
    return str(path)


def p(text: str, ppr: str = "") -> str:
    return f'<w:p>{ppr}<w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>'


def test_docx_text_in_wrappers_equations_and_diagrams_is_read(tmp_path: Path) -> None:
    # Lost: paragraphs in block-level custom XML (SharePoint's mapped fields), equations
    # (their text is m:t, not w:t) and SmartArt (its text is in a part of its own).
    math = ('<m:oMath><m:r><m:t>E=mc</m:t></m:r><m:sSup><m:e><m:r><m:t>x</m:t></m:r></m:e>'
            '<m:sup><m:r><m:t>2</m:t></m:r></m:sup></m:sSup></m:oMath>')
    body = (p("Before.") + '<w:customXml w:element="invoice">' + p("Inside custom XML.") + "</w:customXml>"
            + f'<w:p><w:r><w:t xml:space="preserve">Equation: </w:t></w:r>{math}</w:p>'
            + '<w:p><w:r><w:t xml:space="preserve">Diagram: </w:t></w:r>'
            + f"<w:r><w:drawing>{_DGM_RELS}</w:drawing></w:r></w:p>")
    path = docx_with(tmp_path / "a.docx", body, {"rIdDgm": ("diagrams/data1.xml", _DGM_DATA)})
    assert [s.text for s in parse_file(path)] == [
        "Before.\n\nInside custom XML.\n\nEquation: E=mcx2\n\nDiagram: Plan\nBuild\nShip"]


def test_docx_moved_text_and_text_boxes_in_cells_are_read_once(tmp_path: Path) -> None:
    # Doubled: text a tracked change moved (plain w:t under w:moveFrom), and a text box's
    # paragraphs inside a table cell (read with the anchoring paragraph, then again).
    moved = ('<w:p><w:moveFrom w:id="1" w:author="A"><w:r><w:t xml:space="preserve">cheetah </w:t></w:r></w:moveFrom>'
             '<w:r><w:t xml:space="preserve">middle </w:t></w:r>'
             '<w:moveTo w:id="2" w:author="A"><w:r><w:t>cheetah</w:t></w:r></w:moveTo></w:p>')
    box = '<w:r><w:pict><w:txbxContent>' + p("boxed walrus") + "</w:txbxContent></w:pict></w:r>"
    table = (f'<w:tbl><w:tr><w:tc><w:p><w:r><w:t xml:space="preserve">anchor </w:t></w:r>{box}</w:p></w:tc>'
             "<w:tc>" + p("second") + "<w:tbl><w:tr><w:tc>" + p("inner") + "</w:tc></w:tr></w:tbl>"
             "</w:tc></w:tr></w:tbl>")
    path = docx_with(tmp_path / "b.docx", moved + table)
    assert [s.text for s in parse_file(path)] == ["middle cheetah\n\nanchor boxed walrus | second inner"]


def test_docx_outline_level_9_is_body_text_whatever_the_style(tmp_path: Path) -> None:
    body = (p("Chapter", '<w:pPr><w:pStyle w:val="Heading1"/></w:pPr>')
            + p("Styled as a heading", '<w:pPr><w:pStyle w:val="Heading2"/><w:outlineLvl w:val="9"/></w:pPr>')
            + p("Body."))
    sections = parse_file(docx_with(tmp_path / "c.docx", body))
    assert [(s.heading, s.text) for s in sections] == [("Chapter", "Chapter\n\nStyled as a heading\n\nBody.")]


def test_pptx_chart_titles_and_smartart_are_read_and_slide_furniture_is_not(tmp_path: Path) -> None:
    # Lost: a chart's title and a SmartArt diagram's text. Indexed on every slide: the date,
    # footer and slide-number placeholders.
    from pptx import Presentation
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE
    from pptx.opc.constants import RELATIONSHIP_TYPE as RT
    from pptx.opc.package import Part
    from pptx.opc.packuri import PackURI
    from pptx.util import Inches

    prs = Presentation()
    slide = prs.slides.add_slide(prs.slide_layouts[5])
    slide.shapes.title.text = "Results"
    data = CategoryChartData()
    data.categories = ["Q1", "Q2"]
    data.add_series("Sales", (1.0, 2.0))
    chart = slide.shapes.add_chart(XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(1), Inches(1), Inches(4), Inches(3),
                                   data).chart
    chart.has_title = True
    chart.chart_title.text_frame.text = "Quarterly quail sales"
    for ph in prs.slide_layouts[5].placeholders:
        if ph.placeholder_format.type in (13, 15, 16):  # slide number, footer, date
            slide.shapes.clone_placeholder(ph)
    for shape in slide.placeholders:
        if shape.placeholder_format.type in (13, 15, 16):
            shape.text_frame.text = "Confidential footer 2026"
    part = Part(PackURI("/ppt/diagrams/data1.xml"),
                "application/vnd.openxmlformats-officedocument.drawingml.diagramData+xml", prs.part.package,
                _DGM_DATA.encode())
    rid = slide.part.relate_to(part, RT.DIAGRAM_DATA)
    frame = slide.shapes.add_table(1, 1, Inches(1), Inches(5), Inches(1), Inches(1))  # a graphic frame
    graphic_data = frame._element.graphic.graphicData
    graphic_data.set("uri", "http://schemas.openxmlformats.org/drawingml/2006/diagram")
    graphic_data.remove(graphic_data[0])
    from lxml import etree

    graphic_data.append(etree.fromstring(_DGM_RELS.replace("rIdDgm", rid).replace(
        "<dgm:relIds ", '<dgm:relIds xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" ')))
    path = tmp_path / "deck.pptx"
    prs.save(str(path))
    [section] = parse_file(str(path))
    assert section == Section("Results\n\nQuarterly quail sales\n\nPlan\nBuild\nShip", 1, "Results")


def test_odt_nested_table_is_read_once(tmp_path: Path) -> None:
    from odf.opendocument import OpenDocumentText
    from odf.table import TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentText()
    outer = odf_table((("outer",),))
    cell = outer.getElementsByType(TableCell)[0]
    cell.addElement(odf_table((("koala", "llama"),)))
    row = outer.getElementsByType(TableRow)[0]
    last = TableCell()
    last.addElement(P(text="rabbit"))
    row.addElement(last)
    doc.text.addElement(outer)
    path = tmp_path / "nested.odt"
    doc.save(str(path))
    assert [s.text for s in parse_file(str(path))] == ["outer koala | llama | rabbit"]


def test_spreadsheet_values_as_excel_shows_them(tmp_path: Path) -> None:
    # 13:45 read as 13:44 (a serial is a binary fraction); 1.5 days in [h]:mm read as 12:00;
    # 12.5% in "0%" read as 12.5%, and 0.00001 as 1e-05; a formula with no saved result
    # (openpyxl and other libraries write them) read as nothing; an empty column's name was lost.
    rows = ('<row><c t="inlineStr"><is><t>When</t></is></c><c t="inlineStr"><is><t>Took</t></is></c>'
            '<c t="inlineStr"><is><t>Share</t></is></c><c t="inlineStr"><is><t>Tiny</t></is></c>'
            '<c t="inlineStr"><is><t>Total</t></is></c><c t="inlineStr"><is><t>Remarks</t></is></c></row>'
            '<row><c s="3"><v>43832.572916666664</v></c><c s="6"><v>1.5</v></c><c s="7"><v>0.125</v></c>'
            '<c><v>1E-5</v></c><c><f>SUM(A2:B2)*2</f><v></v></c></row>')
    make_xlsx(tmp_path / "w.xlsx", {"S": rows}, [], extra_formats=("[h]:mm", "0%"))
    assert [s.text for s in parse_file(str(tmp_path / "w.xlsx"))] == [
        "When; Took; Share; Tiny; Total; Remarks\n"
        "When: 2020-01-02 13:45; Took: 36:00; Share: 13%; Tiny: 0.00001; Total: =SUM(A2:B2)*2"]


def test_xls_error_cells_read_as_shown(tmp_path: Path) -> None:
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("S")
    sheet.write(0, 0, "Name")
    sheet.write(0, 1, "Amount")
    sheet.write(1, 0, "Broken")
    sheet.row(1).set_cell_error(1, "#DIV/0!")
    book.save(str(tmp_path / "e.xls"))
    assert [s.text for s in parse_file(str(tmp_path / "e.xls"))] == ["Name: Broken; Amount: #DIV/0!"]


def _abstract(aid: int, levels: list[tuple[str, str]], legal: bool = False) -> str:
    return (f'<w:abstractNum w:abstractNumId="{aid}">' + "".join(
        f'<w:lvl w:ilvl="{i}"><w:start w:val="1"/><w:numFmt w:val="{fmt}"/>' + ("<w:isLgl/>" if legal else "")
        + f'<w:lvlText w:val="{text}"/></w:lvl>' for i, (fmt, text) in enumerate(levels)) + "</w:abstractNum>")


def test_docx_automatic_numbers_are_read_as_word_shows_them(tmp_path: Path) -> None:
    # Contracts are cited by their clause numbers ("4.2"), which Word draws from numbering.xml:
    # a search for "2.1 Termination" found nothing.
    numbering = (_abstract(1, [("decimal", "%1."), ("decimal", "%1.%2")])
                 + _abstract(2, [("lowerLetter", "(%1)"), ("lowerRoman", "%2.")])
                 + _abstract(3, [("bullet", "\u2022")])
                 + '<w:num w:numId="1"><w:abstractNumId w:val="1"/></w:num>'
                 + '<w:num w:numId="2"><w:abstractNumId w:val="2"/></w:num>'
                 + '<w:num w:numId="3"><w:abstractNumId w:val="2"/>'
                 '<w:lvlOverride w:ilvl="0"><w:startOverride w:val="1"/></w:lvlOverride></w:num>'
                 + '<w:num w:numId="4"><w:abstractNumId w:val="3"/></w:num>')

    def h(level: int, text: str) -> str:
        return p(text, f'<w:pPr><w:pStyle w:val="Heading{level}"/></w:pPr>')

    def item(num: int, level: int, text: str) -> str:
        return p(text, f'<w:pPr><w:numPr><w:ilvl w:val="{level}"/><w:numId w:val="{num}"/></w:numPr></w:pPr>')

    body = (h(1, "Definitions") + p("Words mean what they say.")
            + h(1, "Ending the lease") + h(2, "Notice") + item(2, 0, "in writing;") + item(2, 1, "signed;")
            + item(2, 1, "dated;") + item(2, 0, "delivered.") + h(2, "Termination") + item(3, 0, "A new list.")
            + item(4, 0, "A bullet.") + p("Not numbered", '<w:pPr><w:pStyle w:val="Heading1"/>'
                                              '<w:numPr><w:numId w:val="0"/></w:numPr></w:pPr>'))
    sections = parse_file(docx_with(tmp_path / "lease.docx", body, numbering=numbering, numbered_headings="1"))
    assert [(s.heading, s.text) for s in sections] == [
        ("1. Definitions", "1. Definitions\n\nWords mean what they say."),
        ("2. Ending the lease > 2.1 Notice",
         "2. Ending the lease\n\n2.1 Notice\n\n(a) in writing;\n\ni. signed;\n\nii. dated;\n\n(b) delivered."),
        ("2. Ending the lease > 2.2 Termination", "2.2 Termination\n\n(a) A new list.\n\nA bullet."),
        ("Not numbered", "Not numbered")]
