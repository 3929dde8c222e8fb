"""The report as a Word document (python-docx): A4, headings, real tables, embedded charts.

Chinese text is set in 宋体 (headings 黑体), fonts every copy of Word and WPS has; the ASCII
font stays the style's. Tables are Word tables with a header row that repeats on a new page;
the chart is scaled to the page's writing width. Text that XML cannot hold (control
characters) is dropped, never written.
"""

from __future__ import annotations

import re
from io import BytesIO
from typing import Final

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.styles.style import ParagraphStyle
from docx.table import Table as DocxTable

from bot.report.content import Chart, Heading, Paragraph, Report, Table

PAGE_WIDTH: Final = Mm(210)

PAGE_HEIGHT: Final = Mm(297)
MARGIN: Final = Mm(25)
BODY_FONT: Final = "宋体"
HEADING_FONT: Final = "黑体"
AUTHOR: Final = "清风 Qingfeng"
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def _east_asian(style: ParagraphStyle, font: str) -> None:
    """Set the style's East Asian font (python-docx sets only the ASCII one)."""
    properties = style.element.get_or_add_rPr()
    fonts = properties.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        properties.append(fonts)
    fonts.set(qn("w:eastAsia"), font)
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        if fonts.get(qn(theme)) is not None:
            del fonts.attrib[qn(theme)]


def _setup(document: DocumentObject) -> None:
    section = document.sections[0]
    section.page_width, section.page_height = PAGE_WIDTH, PAGE_HEIGHT
    section.left_margin = section.right_margin = MARGIN
    section.top_margin = section.bottom_margin = MARGIN
    normal = document.styles["Normal"]
    assert isinstance(normal, ParagraphStyle)
    normal.font.size = Pt(12)
    _east_asian(normal, BODY_FONT)
    for name in ("Title", "Heading 1", "Heading 2", "Heading 3"):
        style = document.styles[name]
        assert isinstance(style, ParagraphStyle)
        _east_asian(style, HEADING_FONT)


def _repeat_header(table: DocxTable) -> None:
    """Mark the first row as the header row (repeated on every page the table spans)."""
    row_properties = table.rows[0]._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    row_properties.append(header)


def _table(document: DocumentObject, element: Table) -> None:
    if element.caption:
        caption = document.add_paragraph()
        caption.add_run(_clean(element.caption)).bold = True
    table = document.add_table(rows=1, cols=len(element.header))
    table.style = document.styles["Table Grid"]
    for cell, text in zip(table.rows[0].cells, element.header, strict=True):
        cell.paragraphs[0].add_run(_clean(text)).bold = True
    for row in element.rows:
        cells = table.add_row().cells
        for cell, text in zip(cells, row, strict=True):
            cell.text = _clean(text)
    _repeat_header(table)
    document.add_paragraph()


def write_docx(report: Report) -> bytes:
    """The .docx bytes of the report (charts are drawn here: CPU-bound, use a thread)."""
    document = Document()
    _setup(document)
    properties = document.core_properties
    properties.title = _clean(report.title)
    properties.author = properties.last_modified_by = AUTHOR
    properties.comments = properties.keywords = properties.subject = ""
    width = PAGE_WIDTH - 2 * MARGIN
    title = document.add_heading(_clean(report.title), level=0)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for element in report.elements:
        if isinstance(element, Heading):
            document.add_heading(_clean(element.text), level=element.level)
        elif isinstance(element, Paragraph):
            _paragraph(document, element)
        elif isinstance(element, Table):
            _table(document, element)
        elif isinstance(element, Chart):
            document.add_picture(BytesIO(element.png()), width=width)
            document.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
    buffer = BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _paragraph(document: DocumentObject, element: Paragraph) -> None:
    text = _clean(element.text)
    if element.kind == "item":
        document.add_paragraph(text, style="List Bullet")
    elif element.kind == "quote":
        document.add_paragraph(text, style="Quote")
    elif element.kind == "note":
        document.add_paragraph().add_run(text).italic = True
    else:
        document.add_paragraph(text)
