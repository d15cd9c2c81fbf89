"""Write the smoke test's documents: the sample notes plus a PDF, a DOCX, an XLSX, a Chinese
note, Office 97 files from tests/data (a .doc Word saved, a .ppt PowerPoint saved, an .xls),
an e-mail with a PDF attached, an Outlook .msg and a gzipped note.

    python3 packaging/make_smoke_docs.py <folder>

Standard library only (the smoke test runs where Quire's own Python may be absent). The PDF,
DOCX and XLSX prove the frozen parsers (PDFium, python-docx/lxml) load in the parse workers;
the Chinese note proves LanceDB's ICU word splitting works in the frozen build; the Office 97
files prove olefile and xlrd, the e-mail's attachment the mail reader's temporary files, the
.txt.gz the decompressors. Each holds words the smoke test searches for.
"""

from __future__ import annotations

import gzip
import shutil
import sys
import zipfile
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PDF_TEXT = "The lighthouse keeper logs the fog horn hours in the blue ledger."
DOCX_TEXT = "The violin workshop varnishes each instrument seven times before stringing it."


def write_pdf(path: Path, text: str) -> None:
    """A one-page PDF with a real text layer (Helvetica), with a correct xref table."""
    stream = f"BT /F1 14 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    path.write_bytes(bytes(out))


def write_docx(path: Path, text: str) -> None:
    ct = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
          '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          '<Override PartName="/word/document.xml" '
          'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
          '</Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="word/document.xml"/></Relationships>')
    doc = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
           '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
           '<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Workshop notes</w:t></w:r></w:p>'
           f'<w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", ct)
        z.writestr("_rels/.rels", rels)
        z.writestr("word/document.xml", doc)


XLSX_ROWS = [("Day", "High tide", "Note"), ("Monday", "06:40", "The ferry skips Gull Island on spring tides.")]
ZH_TEXT = "龙井茶的采摘在清明节之前最好。茶园的泥土需要每年春天翻一次。"


def write_xlsx(path: Path, rows: list[tuple[str, ...]]) -> None:
    """A one-sheet workbook of inline strings, as a spreadsheet program writes one."""
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    cells = "".join(
        f'<row r="{i}">' + "".join(f'<c r="{chr(65 + j)}{i}" t="inlineStr"><is><t>{v}</t></is></c>'
                                   for j, v in enumerate(row)) + "</row>"
        for i, row in enumerate(rows, 1))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("_rels/.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                   f'relationships"><Relationship Id="rId1" Type="{rel}/officeDocument" '
                   'Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", f'<workbook xmlns="{ns}" xmlns:r="{rel}"><sheets>'
                   '<sheet name="Tides" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/'
                   f'package/2006/relationships"><Relationship Id="rId1" Type="{rel}/worksheet" '
                   'Target="worksheets/sheet1.xml"/></Relationships>')
        z.writestr("xl/worksheets/sheet1.xml", f'<worksheet xmlns="{ns}"><sheetData>{cells}</sheetData></worksheet>')


MAIL_TEXT = "The orchard co-op invoice for pruning the quince trees is attached."
MAIL_PDF_TEXT = "Pruning of twelve quince trees and hauling the branches to the chipper."
GZ_TEXT = "The observatory dome motor needs new brushes every nine hundred rotations."
MSG_TEXT = "The kiln in the pottery shed must cool for two days before it is opened."


def write_msg(path: Path) -> None:
    """An Outlook .msg, written by the tests' compound-file writer (standard library only)."""
    sys.path.insert(0, str(ROOT))
    from tests.helpers.cfb import outlook_message

    path.write_bytes(outlook_message({0x0037: "Kiln firing", 0x0C1A: "Pottery club", 0x1000: MSG_TEXT}))


def write_mail(path: Path) -> None:
    msg = EmailMessage()
    msg["From"] = "Orchard Co-op <coop@example.org>"
    msg["To"] = "members@example.org"
    msg["Subject"] = "Invoice: quince pruning"
    msg.set_content(MAIL_TEXT)
    pdf = path.with_suffix(".tmp.pdf")
    write_pdf(pdf, MAIL_PDF_TEXT)
    msg.add_attachment(pdf.read_bytes(), maintype="application", subtype="pdf", filename="invoice.pdf")
    pdf.unlink()
    path.write_bytes(bytes(msg))


def main(folder: str) -> None:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for f in sorted((ROOT / "resources" / "samples").glob("*")):
        if f.is_file():
            shutil.copy2(f, out / f.name)
    write_pdf(out / "lighthouse.pdf", PDF_TEXT)
    write_docx(out / "workshop.docx", DOCX_TEXT)
    write_xlsx(out / "harbour-tides.xlsx", XLSX_ROWS)
    (out / "tea-garden-zh.txt").write_text(ZH_TEXT, encoding="utf-8")
    shutil.copy2(ROOT / "tests" / "data" / "word97-saved-by-word.doc", out / "ole-test.doc")
    shutil.copy2(ROOT / "tests" / "data" / "beehives-xlwt.xls", out / "beehives.xls")
    shutil.copy2(ROOT / "tests" / "data" / "powerpoint-2007-as-ppt.ppt", out / "embedded-objects.ppt")
    write_mail(out / "quince-invoice.eml")
    (out / "observatory.txt.gz").write_bytes(gzip.compress(GZ_TEXT.encode()))
    write_msg(out / "kiln.msg")


if __name__ == "__main__":
    main(sys.argv[1])
