"""The Word and Markdown writers, read back: python-docx sees the sections in order, real
tables with a header row, the chart as an image sized to A4; Markdown refers to PNG files and
neutralises markup typed into a quote."""

from __future__ import annotations

from io import BytesIO

from docx import Document
from docx.oxml.ns import qn
from docx.shared import Mm

from bot.questionnaire import Questionnaire
from bot.report import build_report, write_docx, write_markdown
from storage.repositories.submissions import QuotableText

from .sample import CAMPAIGN, TODAY, below_k_data, campaign_data

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
QUOTES = [
    QuotableText("p1_example", "文件层层转发"),
    QuotableText("suggestion", "少开会 <b>*粗体*</b> [链接](http://x) | 竖线\x07"),
]


def test_docx_sections_tables_and_chart(questionnaire_v2: Questionnaire) -> None:
    report = build_report(campaign_data(), questionnaire_v2, CAMPAIGN, as_of=TODAY, quotes=QUOTES)
    document = Document(BytesIO(write_docx(report)))

    styled = [(p.style.name if p.style else "", p.text) for p in document.paragraphs]
    assert styled[0] == ("Title", report.title)
    sections = [text for style, text in styled if style == "Heading 1"]
    assert sections == [
        "一、调研基本情况",
        "二、形式主义、官僚主义的具体表现",
        "三、意见建议",
        "附：方法与匿名保护说明",
    ]
    areas = [text for style, text in styled if style == "Heading 2"]
    assert areas[0].startswith("（一）在贯彻落实") and areas[3].startswith("（四）在学风会风")
    order = [text for style, text in styled if style.startswith("Heading")]
    assert order.index("（二）在联系群众服务群众方面") < order.index("4. 新官不理旧事")
    assert order.index("4. 新官不理旧事") < order.index("（三）在履职尽责、服务经济社会发展方面")

    # breakdown by unit type, p1 by unit type, the measures
    assert len(document.tables) == 3
    for table in document.tables:
        header = table.rows[0]
        properties = header._tr.trPr
        assert properties is not None and properties.find(qn("w:tblHeader")) is not None
        assert all(run.bold for cell in header.cells for run in cell.paragraphs[0].runs)
    assert [c.text for c in document.tables[1].rows[1].cells] == ["镇（街道）", "10", "70%"]
    assert [c.text for c in document.tables[1].rows[2].cells] == ["未填写", "5", "—"]

    (shape,) = document.inline_shapes
    assert abs(shape.width - Mm(160)) < Mm(1)
    (image,) = [r for r in document.part.rels.values() if "image" in r.reltype]
    assert image.target_part.blob.startswith(PNG_MAGIC)
    section = document.sections[0]
    assert section.page_width is not None and section.page_height is not None
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    quotes = [p.text for p in document.paragraphs if p.style and p.style.name == "Quote"]
    assert quotes[0] == "“文件层层转发”"
    assert "\x07" not in "".join(quotes)


def test_docx_below_k_has_no_table_and_no_image(questionnaire_v2: Questionnaire) -> None:
    report = build_report(below_k_data(), questionnaire_v2, CAMPAIGN, as_of=TODAY, quotes=QUOTES)
    document = Document(BytesIO(write_docx(report)))
    assert document.tables == [] and list(document.inline_shapes) == []
    assert "少开会" not in "\n".join(p.text for p in document.paragraphs)


def test_markdown_with_the_chart_beside_it(questionnaire_v2: Questionnaire) -> None:
    report = build_report(campaign_data(), questionnaire_v2, CAMPAIGN, as_of=TODAY, quotes=QUOTES)
    written = write_markdown(report, "report-4821")

    lines = written.text.splitlines()
    assert lines[0] == f"# {report.title}"
    headings = [line for line in lines if line.startswith("## ")]
    assert headings == [
        "## 一、调研基本情况",
        "## 二、形式主义、官僚主义的具体表现",
        "## 三、意见建议",
        "## 附：方法与匿名保护说明",
    ]
    assert [name for name, _png in written.images] == ["report-4821-1.png"]
    assert written.images[0][1].startswith(PNG_MAGIC)
    assert any(line.startswith("![") and line.endswith("(report-4821-1.png)") for line in lines)
    assert "| 分组 | 份数 | 经常或几乎每天遇到的比例 |" in lines
    assert "| 镇（街道） | 10 | 70% |" in lines
    (suggestion,) = [line for line in lines if line.startswith("> “少开会")]
    for markup in ("<", "*", "[", "](", "|"):
        assert markup not in suggestion.removeprefix("> ")


def test_markdown_below_k(questionnaire_v2: Questionnaire) -> None:
    written = write_markdown(
        build_report(below_k_data(), questionnaire_v2, CAMPAIGN, as_of=TODAY, quotes=QUOTES),
        "r",
    )
    assert written.images == ()
    assert "少开会" not in written.text and "|" not in written.text
