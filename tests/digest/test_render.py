"""Rendering: Telegram HTML parts that Telegram accepts, Markdown for robots, chart rows."""

from __future__ import annotations

import dataclasses
import re

import pytest

from bot.digest.aggregate import DigestData, ProblemFigures
from bot.digest.render import (
    TELEGRAM_LIMIT,
    chart_rows,
    digest_title,
    markdown_escape,
    pack_parts,
    render_markdown,
    render_message,
    render_plain,
    render_telegram,
    short_problem_name,
    telegram_length,
)
from bot.harness.emulator.formatting import parse_html
from bot.questionnaire import Questionnaire
from tests.digest.dataset import WEEK
from tests.digest.test_aggregate import EXPECTED

ALLOWED_TAGS = {"b", "i", "u", "s", "code", "pre", "blockquote"}
HOSTILE = "<b>粗</b> & <script>x</script> **星** [链接](http://x) `代码` #标签 _斜_"


def assert_valid_telegram_parts(parts: list[str]) -> None:
    assert parts
    for part in parts:
        assert telegram_length(part) <= TELEGRAM_LIMIT
        tags = {name.lower() for name in re.findall(r"</?([A-Za-z-]+)", part)}
        assert tags <= ALLOWED_TAGS, tags
        parsed = parse_html(part)  # raises on unbalanced or unknown tags, bad entities
        assert parsed.text.strip()


def with_examples(data: DigestData, examples: tuple[str, ...]) -> DigestData:
    return dataclasses.replace(
        data, problems=tuple(dataclasses.replace(p, examples=examples) for p in data.problems)
    )


def test_short_problem_names_come_from_the_labels(questionnaire: Questionnaire) -> None:
    names = [
        short_problem_name(questionnaire.question(f"p{n}_freq").label_for("zh-CN"))
        for n in range(1, 10)
    ]
    assert names == [
        "以会议落实会议、以文件落实文件",
        "过度留痕",
        "政绩工程、形象工程",
        "新官不理旧事",
        "门好进、脸好看、事难办",
        "不担当、不作为，把责任层层下压",
        "问责追责不科学",
        "为开会而开会",
        "检查考核多、过滥、重复",
    ]
    assert short_problem_name("Have you met “excessive paper trails”?") == "excessive paper trails"
    assert short_problem_name("Have you met unfair accountability, such as “x” or “y”?") == (
        "unfair accountability"
    )


def test_the_hand_computed_digest_reads_as_expected(questionnaire: Questionnaire) -> None:
    parts = render_telegram(EXPECTED, questionnaire)

    assert_valid_telegram_parts(parts)
    assert len(parts) == 1
    text = parse_html(parts[0]).text
    assert text.startswith("清风周报｜2026-11-23 至 2026-11-29")
    for expected in [
        "本期收到反馈 12 份。",
        "至少一类问题“经常”或“非常普遍”遇到的比例：58%",
        "2. 过度留痕（贯彻落实决策部署方面）",
        "经常或非常普遍：58%（较上期 -42 个百分点）",
        "分布：从未遇到 0（0%）；偶尔 5（42%）；经常 7（58%）；非常普遍 0（0%）",
        "平均影响：3.3 / 5（12 人作答）",
        "经常或非常普遍：（人数不足，不显示）",
        "从未遇到 0（0%）；偶尔 隐去；经常 0（0%）；非常普遍 6（50%）；未作答 隐去",
        "经常或非常普遍：0%（与上期持平）",
        "上月参加会议次数：中位数 8（至少 5 人作答）\n",  # p90 hidden: not mentioned
        "上月单位迎检次数：中位数 2，90% 分位数 2（12 人作答）",
        "精简会议和文件：9 人（75%）",
        "区直部门：5 人，至少一类问题经常遇到 0%",
        "其余各类（合并）：7 人，至少一类问题经常遇到 100%",
        "一般干部：6 人，比例隐去",
    ]:
        assert expected in text, expected
    assert "no_trace_judging" not in text and "不以留痕论成绩" not in text  # 4 < K


def test_english_locale(questionnaire: Questionnaire) -> None:
    text = render_plain(EXPECTED, questionnaire, locale="en")
    assert "Responses in this period: 12." in text
    assert "excessive paper trails (Carrying out policies and decisions)" in text
    assert digest_title(EXPECTED, locale="en") == (
        "Qingfeng weekly digest | 2026-11-23 to 2026-11-29"
    )


def test_data_is_escaped_in_html_and_markdown(questionnaire: Questionnaire) -> None:
    data = dataclasses.replace(with_examples(EXPECTED, (HOSTILE,)), campaign_id="<春季>")

    parts = render_telegram(data, questionnaire)
    markdown = render_markdown(data, questionnaire)

    assert_valid_telegram_parts(parts)
    joined = "\n".join(parts)
    assert "&lt;script&gt;x&lt;/script&gt;" in joined and "&amp;" in joined
    assert "<script>" not in joined
    assert HOSTILE in parse_html(parts[0]).text
    assert "（活动：&lt;春季&gt;）" in parts[0]
    # In Markdown the markup characters of data become harmless full-width look-alikes.
    assert markdown_escape(HOSTILE) in markdown
    assert "**星**" not in markdown and "[链接]" not in markdown and "<script>" not in markdown


def test_a_long_digest_is_split_between_lines_into_valid_parts(
    questionnaire: Questionnaire,
) -> None:
    # Every "<" becomes "&lt;": 80 characters of data can take 320 in HTML. Each problem
    # gets texts of its own (a digest quotes a text once).
    data = dataclasses.replace(
        EXPECTED,
        problems=tuple(
            dataclasses.replace(p, examples=tuple(f"{p.number}.{i}" + "<&>" * 26 for i in range(3)))
            for p in EXPECTED.problems
        ),
    )

    parts = render_telegram(data, questionnaire)

    assert len(parts) >= 2
    assert_valid_telegram_parts(parts)
    # Nothing lost or reordered: the parts hold the lines of the unsplit digest, in order.
    (whole,) = render_telegram(data, questionnaire, limit=10**9)
    lines_of_parts = [line for part in parts for line in part.split("\n") if line]
    assert lines_of_parts == [line for line in whole.split("\n") if line]
    texts = "".join(parse_html(part).text for part in parts)
    assert texts.count("<&>" * 26) == 27


def test_pack_parts_keeps_blocks_whole_when_they_fit_and_cuts_between_lines() -> None:
    blocks = [["a" * 40, "b" * 40], ["c" * 40], ["d" * 30, "e" * 30, "f" * 30]]

    parts = pack_parts(blocks, limit=100)

    assert parts == [
        "a" * 40 + "\n" + "b" * 40,
        "c" * 40,
        "d" * 30 + "\n" + "e" * 30 + "\n" + "f" * 30,
    ]
    assert pack_parts([["x" * 60, "y" * 60]], limit=100) == ["x" * 60, "y" * 60]
    with pytest.raises(ValueError):
        pack_parts([["z" * 101]], limit=100)


def test_telegram_length_counts_utf16_units() -> None:
    assert telegram_length("清风") == 2
    assert telegram_length("😀") == 2


def test_a_period_below_k_renders_the_fixed_text(questionnaire: Questionnaire) -> None:
    empty = DigestData(
        period=WEEK,
        questionnaire_id="formalism",
        k=5,
        problems=tuple(ProblemFigures(n, f"p{n}_freq", "s", impact_max=5) for n in range(1, 10)),
    )

    parts = render_telegram(empty, questionnaire)
    message = render_message(empty, questionnaire, chart_png=b"png")
    rows = chart_rows(empty, questionnaire)

    assert_valid_telegram_parts(parts)
    assert len(parts) == 1
    assert "本期收到的反馈少于 5 份" in parts[0]
    assert "本期收到的反馈少于 5 份" in message.markdown
    assert "本期收到的反馈少于 5 份" in message.plain
    assert message.title == "清风周报｜2026-11-23 至 2026-11-29"
    for body in (parts[0], message.markdown, message.plain):
        digits = re.findall(r"\d+", body.replace("2026-11-23", "").replace("2026-11-29", ""))
        assert digits == ["5"]  # K, and nothing else
    assert len(rows) == 9 and all(row.suppressed and row.share is None for row in rows)


def test_chart_rows_follow_the_shown_shares(questionnaire: Questionnaire) -> None:
    rows = chart_rows(EXPECTED, questionnaire)

    assert [row.label for row in rows][:2] == ["以会议落实会议、以文件落实文件", "过度留痕"]
    assert [row.suppressed for row in rows] == [
        False,
        False,
        True,
        False,
        True,
        False,
        False,
        False,
        False,
    ]
    assert [row.share for row in rows] == [
        7 / 12,
        7 / 12,
        None,
        7 / 12,
        None,
        0.0,
        0.0,
        5 / 12,
        6 / 12,
    ]


def test_markdown_and_plain_carry_the_same_content(questionnaire: Questionnaire) -> None:
    markdown = render_markdown(EXPECTED, questionnaire)
    plain = render_plain(EXPECTED, questionnaire)

    assert "**一、各类问题**" in markdown
    assert "- 经常或非常普遍：**58%**（较上期 -42 个百分点）" in markdown
    assert "一、各类问题" in plain and "**" not in plain
    assert "· 精简会议和文件：9 人（75%）" in plain
    # The title is not repeated in the body (robots show it separately).
    assert "清风周报" not in markdown and "清风周报" not in plain
