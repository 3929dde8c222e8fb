"""Rendering of campaign digests, trends against the previous campaign, cross-tabs and the
share that wrote a text: in zh and en, in Telegram HTML, Markdown and plain text."""

from __future__ import annotations

import dataclasses
import re
from datetime import date

import pytest

from bot.digest.aggregate import (
    MERGED,
    NO_ANSWER,
    Comparison,
    CrossGroup,
    CrossTab,
    DigestData,
    ProblemFigures,
)
from bot.digest.period import Period
from bot.digest.render import (
    chart_title,
    digest_title,
    render_markdown,
    render_plain,
    render_telegram,
)
from bot.harness.emulator.formatting import parse_html
from bot.questionnaire import Questionnaire
from tests.digest.test_aggregate import EXPECTED
from tests.digest.test_render import assert_valid_telegram_parts

NOVEMBER = Period.campaign(date(2026, 11, 1), date(2026, 11, 30))
OCTOBER = Comparison("campaign", "十月<轮>", date(2026, 10, 1), date(2026, 10, 31), 10, "OCT")
SUPPRESSED = 0.123  # a share that must never be printed: 12%
PROBLEMS = (1, 2, 3, 4, 5, 6, 10, 7, 8, 9)  # the shipped grid's rows, in asking order


def campaign_data(*, title: str | None = "春季减负", examples: int = 0) -> DigestData:
    """A campaign digest of the shipped questionnaire: 10 problems × 2 groupings of
    cross-tabs (one share suppressed in each), a trend against October."""
    problems = tuple(
        ProblemFigures(
            number=n,
            question_id=f"freq.p{n}",
            section_id="problems",
            often_share=0.4,
            previous_share=0.25 if n != 2 else 0.4,
            change_points=15.0 if n != 2 else 0.0,
            impact_max=5,
            examples=tuple(f"p{n} 例{i} " + "<&>" * 20 for i in range(examples)),
        )
        for n in PROBLEMS
    )
    unit_groups = ("district_dept", "town_street", "village_community", MERGED, NO_ANSWER)
    level_groups = ("leadership", "middle", "staff", MERGED)
    crosstabs = tuple(
        CrossTab(
            breakdown,
            n,
            f"freq.p{n}",
            tuple(
                # The group sizes stay 10+; the data's hidden share is None, whatever a
                # careless renderer might compute: the suppressed marker must not leak.
                CrossGroup(group, 10 + i, None if i == 1 else 0.3 + i / 10)
                for i, group in enumerate(groups)
            ),
        )
        for breakdown, groups in (("unit_type", unit_groups), ("post_level", level_groups))
        for n in PROBLEMS
    )
    return DigestData(
        period=NOVEMBER,
        questionnaire_id="formalism",
        k=5,
        campaign_id="c7f3",
        campaign_title=title,
        submissions=50,
        any_often_share=0.6,
        problems=problems,
        crosstabs=crosstabs,
        comparison=OCTOBER,
        with_text_share=0.36,
    )


def test_a_campaign_digest_is_titled_by_the_campaign_and_its_span() -> None:
    data = campaign_data()

    assert digest_title(data) == "清风调研｜春季减负（2026-11-01 至 2026-11-30）"
    assert digest_title(data, locale="en") == (
        "Qingfeng campaign | 春季减负 (2026-11-01 to 2026-11-30)"
    )
    untitled = dataclasses.replace(data, campaign_title=None)
    assert digest_title(untitled) == "清风调研｜c7f3（2026-11-01 至 2026-11-30）"
    anonymous = dataclasses.replace(data, campaign_title=None, campaign_id=None)
    assert digest_title(anonymous) == "清风调研｜2026-11-01 至 2026-11-30"
    assert "春季减负" in chart_title(data) and "2026-11-01–2026-11-30" in chart_title(data)


def test_a_campaign_says_this_round_not_this_period(questionnaire_v2: Questionnaire) -> None:
    zh = render_plain(campaign_data(), questionnaire_v2)
    en = render_plain(campaign_data(), questionnaire_v2, locale="en")

    assert "本轮调研至今收到反馈 50 份。" in zh and "本期" not in zh
    assert "Responses in this campaign so far: 50." in en
    below_k = DigestData(period=NOVEMBER, questionnaire_id="formalism", k=5, campaign_id="c")
    text = render_plain(below_k, questionnaire_v2)
    assert "本轮调研至今收到的反馈少于 5 份" in text and "本轮不显示" in text
    assert "本期" not in text and "按固定时间发送" not in text
    assert "在反馈达到 5 份之前" in text
    digits = re.findall(r"\d+", text.replace("2026-11-01", "").replace("2026-11-30", ""))
    assert digits == ["5", "5"]  # K, and nothing that depends on what arrived
    assert "fewer than 5 responses" in render_plain(below_k, questionnaire_v2, locale="en").lower()


def test_a_period_digest_keeps_its_own_words(questionnaire: Questionnaire) -> None:
    text = render_plain(EXPECTED, questionnaire)

    assert "本期收到反馈 12 份。" in text
    assert "（较上期 -42 个百分点）" in text and "上一轮" not in text
    assert digest_title(EXPECTED) == "清风周报｜2026-11-23 至 2026-11-29"


@pytest.mark.parametrize(
    ("locale", "named", "changed", "unchanged"),
    [
        (
            "zh-CN",
            "各项变化均与上一轮调研「十月<轮>」（2026-10-01 至 2026-10-31）相比。",
            "40%（上一轮 25%，+15 个百分点）",
            "40%（上一轮 40%，持平）",
        ),
        (
            "en",
            "Changes are against the previous campaign, “十月<轮>” (2026-10-01 to 2026-10-31).",
            "40% (previous campaign 25%, +15 points)",
            "40% (previous campaign 40%, unchanged)",
        ),
    ],
)
def test_trends_against_the_previous_campaign(
    questionnaire_v2: Questionnaire, locale: str, named: str, changed: str, unchanged: str
) -> None:
    text = render_plain(campaign_data(), questionnaire_v2, locale=locale)

    assert text.count(named) == 1  # the campaign compared with is named once
    assert text.count(changed) == 9 and text.count(unchanged) == 1
    html = "\n".join(render_telegram(campaign_data(), questionnaire_v2, locale=locale))
    assert "十月&lt;轮&gt;" in html and "十月<轮>" not in html


def test_a_previous_campaign_below_k_is_named_without_figures(
    questionnaire_v2: Questionnaire,
) -> None:
    data = dataclasses.replace(
        campaign_data(),
        comparison=dataclasses.replace(OCTOBER, submissions=None),
        problems=tuple(
            dataclasses.replace(p, previous_share=None, change_points=None)
            for p in campaign_data().problems
        ),
    )

    text = render_plain(data, questionnaire_v2)

    assert "上一轮调研「十月<轮>」收到的反馈少于 5 份，为保护匿名，不作比较。" in text
    assert "上一轮 " not in text and "个百分点" not in text


def test_the_share_that_wrote_a_text(questionnaire_v2: Questionnaire) -> None:
    assert "写下具体事例或建议的占 36%" in render_plain(campaign_data(), questionnaire_v2)
    en = render_plain(campaign_data(), questionnaire_v2, locale="en")
    assert "Share who wrote an example or a suggestion: 36%" in en
    hidden = dataclasses.replace(campaign_data(), with_text_share=None)
    assert "写下具体事例" not in render_plain(hidden, questionnaire_v2)


def crosstab_section(text: str, heading: str) -> str:
    start = text.index(heading)
    return text[start : text.index("\n\n说明" if "说明" in text else "\n\nNote", start)]


def test_crosstabs_in_chinese(questionnaire_v2: Questionnaire) -> None:
    text = render_plain(campaign_data(), questionnaire_v2)

    section = crosstab_section(text, "分组交叉：各类问题“经常/几乎每天”遇到的比例")
    assert re.search(r"\n[一二三四五六七八九十]、分组交叉：", text)  # a numbered section
    assert "按单位类型：" in section and "按岗位层级：" in section
    assert (
        "· 过度留痕：区直部门 n=10 30%；镇（街道） n=11 隐去；村（社区） n=12 50%；"
        "其余各类（合并） n=13 60%；未填写 n=14 70%"
    ) in section
    assert (
        "领导班子成员 n=10 30%；中层干部 n=11 隐去；一般干部 n=12 50%；其余各类（合并） n=13 60%"
        in (section)
    )
    assert section.count("\n· ") == 20  # one line per problem and grouping question


def test_crosstabs_in_english_and_markdown(questionnaire_v2: Questionnaire) -> None:
    plain = render_plain(campaign_data(), questionnaire_v2, locale="en")
    markdown = render_markdown(campaign_data(), questionnaire_v2, locale="en")

    assert "Problems by group: share meeting each often or almost daily" in plain
    assert "By kind of unit:" in plain and "By post level:" in plain
    assert (
        "· Excessive paper trails: Member of the leadership team n=10 30%; "
        "Middle-level cadre n=11 hidden; Staff cadre n=12 50%; Others (merged) n=13 60%"
    ) in plain
    assert "Others (merged) n=13 60%; not answered n=14 70%" in plain
    assert "**Problems by group: share meeting each often or almost daily**" in markdown
    assert "- Excessive paper trails: Member of the leadership team n=10 30%; " in markdown


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_no_suppressed_crosstab_share_appears_as_a_number(
    questionnaire_v2: Questionnaire, locale: str
) -> None:
    data = campaign_data()
    hidden_word = "隐去" if locale == "zh-CN" else "hidden"

    for text in (
        render_plain(data, questionnaire_v2, locale=locale),
        render_markdown(data, questionnaire_v2, locale=locale),
        "".join(parse_html(p).text for p in render_telegram(data, questionnaire_v2, locale=locale)),
    ):
        lines = [line for line in text.split("\n") if " n=11 " in line]
        assert len(lines) == 20
        for line in lines:
            shown = re.search(r"n=11 ([^;；\s]+)", line)
            assert shown is not None and shown.group(1) == hidden_word
        assert "12%" not in text


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_a_wide_campaign_digest_packs_into_telegram_parts(
    questionnaire_v2: Questionnaire, locale: str
) -> None:
    data = campaign_data(examples=3)

    parts = render_telegram(data, questionnaire_v2, locale=locale)

    assert len(parts) >= 2
    assert_valid_telegram_parts(parts)
    (whole,) = render_telegram(data, questionnaire_v2, locale=locale, limit=10**9)
    lines_of_parts = [line for part in parts for line in part.split("\n") if line]
    assert lines_of_parts == [line for line in whole.split("\n") if line]
    cross = [line for line in lines_of_parts if " n=10 " in line]
    assert len(cross) == 20


def test_crosstab_labels_are_escaped(questionnaire_v2: Questionnaire) -> None:
    hostile = dataclasses.replace(
        campaign_data(),
        crosstabs=(CrossTab("unit_type", 1, "freq.p1", (CrossGroup("<b>x</b>", 10, 0.5),)),),
    )

    html = "\n".join(render_telegram(hostile, questionnaire_v2))
    markdown = render_markdown(hostile, questionnaire_v2)

    assert "&lt;b&gt;x&lt;/b&gt; n=10 50%" in html
    assert "＜b＞x＜/b＞ n=10 50%" in markdown
    assert_valid_telegram_parts(render_telegram(hostile, questionnaire_v2))


def test_no_crosstabs_no_section(questionnaire_v2: Questionnaire) -> None:
    data = dataclasses.replace(campaign_data(), crosstabs=())

    assert "分组交叉" not in render_plain(data, questionnaire_v2)
