"""The report model: sections in order, problems under the seed's four areas, figures only
as `DigestData` gives them, marked quotes only, and a below-K campaign with nothing at all."""

from __future__ import annotations

import dataclasses

from bot.digest.aggregate import ProblemFigures
from bot.questionnaire import Questionnaire
from bot.report.content import (
    HIDDEN,
    Chart,
    Heading,
    Paragraph,
    Report,
    Table,
    build_report,
)
from storage.repositories.submissions import QuotableText

from .sample import CAMPAIGN, TODAY, below_k_data, campaign_data

METHOD = "附：方法与匿名保护说明"


def _headings(report: Report, level: int) -> list[str]:
    return [e.text for e in report.elements if isinstance(e, Heading) and e.level == level]


def _text(report: Report) -> str:
    parts: list[str] = [report.title]
    for element in report.elements:
        if isinstance(element, Heading | Paragraph):
            parts.append(element.text)
        elif isinstance(element, Table):
            parts += [*element.header, *(cell for row in element.rows for cell in row)]
    return "\n".join(parts)


def _after(report: Report, heading: str) -> list[object]:
    """The elements from `heading` up to the next heading of the same or a higher level."""
    elements = list(report.elements)
    start = next(i for i, e in enumerate(elements) if isinstance(e, Heading) and e.text == heading)
    level = elements[start].level  # type: ignore[union-attr]
    found: list[object] = []
    for element in elements[start + 1 :]:
        if isinstance(element, Heading) and element.level <= level:
            break
        found.append(element)
    return found


def test_the_sections_and_the_areas_in_order(questionnaire_v2: Questionnaire) -> None:
    report = build_report(campaign_data(), questionnaire_v2, CAMPAIGN, as_of=TODAY)

    assert report.title == "关于十一月专项调研形式主义、官僚主义问题匿名调研情况的报告（初稿）"
    assert _headings(report, 1) == [
        "一、调研基本情况",
        "二、形式主义、官僚主义的具体表现",
        "三、意见建议",
        "附：方法与匿名保护说明",
    ]
    assert _headings(report, 2) == [
        "（一）在贯彻落实党的路线方针政策、中央重大决策部署方面",
        "（二）在联系群众服务群众方面",
        "（三）在履职尽责、服务经济社会发展方面",
        "（四）在学风会风文风及检查调研方面",
        "（五）负担从哪里来，集中整治以来有何变化",
    ]
    third = [e.text for e in _after(report, _headings(report, 2)[2]) if isinstance(e, Heading)]
    assert third == ["6. 本单位不担当、不作为", "7. 上级把责任层层下压", "8. 问责追责不科学"]
    assert len(report.charts) == 1 and report.charts[0].rows[2].suppressed is not False


def test_a_problem_in_no_area_goes_under_other(questionnaire_v2: Questionnaire) -> None:
    data = campaign_data()
    extra = ProblemFigures(11, "freq.p11", "problems", often_share=0.3)
    report = build_report(
        dataclasses.replace(data, problems=(*data.problems, extra)),
        questionnaire_v2,
        CAMPAIGN,
        as_of=TODAY,
    )
    assert "（五）其他" in _headings(report, 2)
    under = [e.text for e in _after(report, "（五）其他") if isinstance(e, Heading)]
    assert under == ["11. freq.p11"]


def test_version_1_puts_p6_in_the_third_area(questionnaire_v1: Questionnaire) -> None:
    data = campaign_data()
    problems = tuple(
        ProblemFigures(n, f"p{n}_freq", "problems", often_share=0.2) for n in range(1, 10)
    )
    report = build_report(
        dataclasses.replace(data, problems=problems, crosstabs=()),
        questionnaire_v1,
        CAMPAIGN,
        as_of=TODAY,
    )
    under = _after(report, "（三）在履职尽责、服务经济社会发展方面")
    names = [e.text for e in under if isinstance(e, Heading)]
    assert names == ["6. 不担当、不作为，把责任层层下压", "7. 问责追责不科学"]
    assert "其他" not in "".join(_headings(report, 2))


def test_figures_as_the_data_gives_them(questionnaire_v2: Questionnaire) -> None:
    report = build_report(campaign_data(), questionnaire_v2, CAMPAIGN, as_of=TODAY)
    text = _text(report)

    assert "共收到匿名反馈 20 份。" in text
    assert "开展时间为 2026-11-01 至 2026-11-30，数据截至 2026-11-20" in text
    assert "经常或几乎每天遇到的比例：60%" in text
    assert "上一轮“十月轮”为 50%，变化 +10 个百分点。" in text
    assert "平均影响程度：3.2 / 5（12 份作答）" in text
    assert "平均影响程度：4.0 / 5（至少 5 份作答）" in text
    p3 = [e for e in _after(report, "3. 政绩工程、形象工程") if isinstance(e, Paragraph)]
    assert [p.text for p in p3] == ["经常或几乎每天遇到的比例：人数不足，不显示"]
    assert "有所减轻 隐去" in text and "区县级 8（40%）" in text

    p1_tables = [
        e for e in _after(report, "1. 以会议落实会议、以文件落实文件") if isinstance(e, Table)
    ]
    assert len(p1_tables) == 1
    assert p1_tables[0].header[:2] == ("分组", "份数")
    assert p1_tables[0].rows == (
        ("镇（街道）", "10", "70%"),
        ("未填写", "5", HIDDEN),
        ("其余各类（合并）", "5", HIDDEN),
    )
    measures = [e for e in _after(report, "三、意见建议") if isinstance(e, Table)]
    assert measures[0].rows[0] == ("1", "精简会议和文件", "12", "60%")


def test_only_marked_quotes_without_anything_about_their_author(
    questionnaire_v2: Questionnaire,
) -> None:
    data = campaign_data()
    data = dataclasses.replace(
        data,
        problems=tuple(dataclasses.replace(p, examples=("随机抽取的事例",)) for p in data.problems),
        measures_other=("随机抽取的其他",),
    )
    quotes = [
        QuotableText("p1_example", "文件层层转发，2026年11月3日连夜下文，电话13912345678"),
        QuotableText("p1_example", "文件层层转发，2026年11月3日连夜下文，电话13912345678"),
        QuotableText("suggestion", "少开会"),
        QuotableText("measures_other", "把时间还给群众"),
        QuotableText("p10_example", "x" * 500),
    ]
    report = build_report(data, questionnaire_v2, CAMPAIGN, as_of=TODAY, quotes=quotes)
    cited = [e.text for e in report.elements if isinstance(e, Paragraph) and e.kind == "quote"]

    assert "随机抽取的事例" not in _text(report) and "随机抽取的其他" not in _text(report)
    assert cited[0] == "“文件层层转发，某日连夜下文，电话[手机号]”"  # scrubbed, dated, once
    assert len(cited) == 4
    assert max(len(text) for text in cited) <= 302
    p1 = _after(report, "1. 以会议落实会议、以文件落实文件")
    assert Paragraph(cited[0], "quote") in p1
    suggestions = [e for e in _after(report, "三、意见建议") if isinstance(e, Paragraph)]
    assert Paragraph("“少开会”", "quote") in suggestions
    assert Paragraph("“把时间还给群众”", "quote") in suggestions


def test_below_k_no_figure_no_group_no_quote(questionnaire_v2: Questionnaire) -> None:
    quotes = [QuotableText("suggestion", "少开会")]
    report = build_report(below_k_data(), questionnaire_v2, CAMPAIGN, as_of=TODAY, quotes=quotes)
    text = _text(report)

    assert "本次调研收到的反馈少于 5 份" in text
    assert "少开会" not in text
    before_annex = _text(
        dataclasses.replace(
            report, elements=report.elements[: report.elements.index(Heading(METHOD, 1))]
        )
    )
    assert "%" not in before_annex
    assert report == build_report(below_k_data(), questionnaire_v2, CAMPAIGN, as_of=TODAY)
    assert not report.charts
    assert not any(isinstance(e, Table) for e in report.elements)
    assert "二、形式主义、官僚主义的具体表现" not in _headings(report, 1)
    assert "附：方法与匿名保护说明" in _headings(report, 1)


def test_english(questionnaire_v2: Questionnaire) -> None:
    report = build_report(campaign_data(), questionnaire_v2, CAMPAIGN, as_of=TODAY, locale="en")
    text = _text(report)
    assert report.title.startswith("Report on the anonymous survey")
    assert "Anonymous reports received: 20. Share meeting" in text
    assert "Town or sub-district" in text and "镇（街道）" not in text
    assert _headings(report, 1)[0] == "1. The survey"
    assert isinstance(report.charts[0], Chart) and report.charts[0].locale == "en"
