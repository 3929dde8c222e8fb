"""Digests of version 2 of the questionnaire, whose problems are the rows of one frequency
grid: the same figures and the same k-anonymity as version 1's one question per problem,
named in the scale's own words; and the burden questions as counted cells."""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.anonymity.crypto import TextCipher
from bot.digest.aggregate import (
    NO_ANSWER,
    Cell,
    DigestData,
    DigestLayout,
    RankedChoice,
    RawCounts,
    aggregate_digest,
    summarise,
)
from bot.digest.build import placeholder_data
from bot.digest.chart import build_problem_figure
from bot.digest.render import chart_axis, chart_rows, chart_title, render_plain, render_telegram
from bot.harness.emulator.formatting import parse_html
from bot.questionnaire import Questionnaire
from storage.database import Database
from storage.repositories import SubmissionRepository
from tests.digest import dataset, v2
from tests.digest.dataset import SHOWN_EXAMPLES, WEEK
from tests.digest.records import Record, records, reference_raw_counts
from tests.digest.test_aggregate import EXPECTED, K
from tests.digest.test_anonymity_properties import scan_text_counts


def test_the_layout_reads_problems_from_grid_rows(
    questionnaire: Questionnaire, questionnaire_v2: Questionnaire
) -> None:
    layout = DigestLayout.from_questionnaire(questionnaire_v2)
    assert [p.question_id for p in layout.problems] == [f"freq.{row}" for row in v2.ROWS]
    assert [p.number for p in layout.problems] == [1, 2, 3, 4, 5, 6, 10, 7, 8, 9]
    assert [p.impact_id for p in layout.problems] == [f"impact.{row}" for row in v2.ROWS]
    assert [p.example_id for p in layout.problems] == [f"{row}_example" for row in v2.ROWS]
    assert {(p.section_id, p.impact_max) for p in layout.problems} == {("problems", 5)}
    assert layout.problems[0].choice_ids == ("never", "sometimes", "often", "very_often")
    assert layout.burden == ("burden_source", ("city", "county", "town", "own_unit", "line_dept"))
    assert layout.change is not None and layout.change[0] == "change_since"
    assert {"freq.p10", "impact.p10", "burden_source", "change_since"} <= set(layout.counted_ids)

    earlier = DigestLayout.from_questionnaire(questionnaire)
    assert [p.question_id for p in earlier.problems] == [f"p{n}_freq" for n in range(1, 10)]
    assert [p.impact_id for p in earlier.problems] == [f"p{n}_impact" for n in range(1, 10)]
    assert (earlier.burden, earlier.change) == (None, None)


async def aggregated(
    database: Database, cipher: TextCipher, questionnaire_v2: Questionnaire
) -> DigestData:
    await v2.store_dataset(database, cipher, questionnaire_v2)
    return await aggregate_digest(
        database, cipher, questionnaire_v2, WEEK, k=K, rng=random.Random(1)
    )


async def test_grid_rows_give_the_figures_version_1_gave(
    database: Database, cipher: TextCipher, questionnaire_v2: Questionnaire
) -> None:
    data = await aggregated(database, cipher, questionnaire_v2)

    assert data.submissions == 12 and data.any_often_share == EXPECTED.any_often_share
    by_number = {p.number: p for p in data.problems}
    for before in EXPECTED.problems:
        after = by_number[before.number]
        assert after.question_id == f"freq.p{before.number}"
        assert after.distribution == before.distribution, before.number
        assert (after.often_share, after.change_points) == (
            before.often_share,
            before.change_points,
        )
    # p10 did not exist: every submission is "not answered", shown as 12 (≥ K).
    assert by_number[10].distribution == (
        *(Cell(c, 0, 0.0) for c in ("never", "sometimes", "often", "very_often")),
        Cell(NO_ANSWER, 12, 1.0),
    )
    # Impact is asked only when met often or more: p1 of s6–s12 (1, 2, 3, 4, 5, 5, 5).
    assert by_number[1].mean_impact == 25 / 7
    assert by_number[3].mean_impact is None  # 3 answers < K
    assert set(by_number[1].examples) <= SHOWN_EXAMPLES["p1_example"]
    assert len(by_number[1].examples) == 3
    assert set(by_number[2].examples) == SHOWN_EXAMPLES["p2_example"]


async def test_burden_questions_are_counted_cells_under_the_k_rules(
    database: Database, cipher: TextCipher, questionnaire_v2: Questionnaire
) -> None:
    data = await aggregated(database, cipher, questionnaire_v2)

    # county 8, town 3 (< K: not listed).
    assert data.burden_sources == (RankedChoice("county", 8, 8 / 12),)
    # somewhat 5, no change 6, heavier 1: the 1 is hidden, and the smallest other (5) with it.
    assert data.change_since == (
        Cell("much_lighter", 0, 0.0),
        Cell("somewhat_lighter", None, None),
        Cell("no_change", 6, 0.5),
        Cell("changed_form", 0, 0.0),
        Cell("heavier", None, None),
    )
    assert DigestData.from_json(data.to_json()) == data


async def test_the_v2_digest_reads_in_the_scales_own_words(
    database: Database, cipher: TextCipher, questionnaire_v2: Questionnaire
) -> None:
    data = await aggregated(database, cipher, questionnaire_v2)

    (part,) = render_telegram(data, questionnaire_v2)
    text = parse_html(part).text
    for expected in [
        "至少一类问题“经常”或“几乎每天”遇到的比例：58%",
        "一、各类问题",
        "1. 以会议落实会议、以文件落实文件\n",  # one section for all: not named each time
        "7. 上级把责任层层下压\n",
        "经常或几乎每天：58%（较上期 -42 个百分点）",
        "分布：从未遇到 0（0%）；偶尔 5（42%）；经常 7（58%）；几乎每天 0（0%）",
        "二、负担从哪里来",
        "主要来自（可多选，少于 5 人的不列出）：区县级 8（67%）",
        "集中整治以来负担的变化：明显减轻 0（0%）；有所减轻 隐去；没有变化 6（50%）；"
        "换了形式（变异） 0（0%）；加重 隐去",
        "三、几个数字",
        "四、最希望采取的措施",
        "五、分组情况",
    ]:
        assert expected in text, expected
    assert "非常普遍" not in text and "（遇到的问题）" not in text and "镇街" not in text
    scan_text_counts(text, K)

    english = render_plain(data, questionnaire_v2, locale="en")
    assert "Share meeting at least one problem often or almost daily: 58%" in english
    assert "Often or almost daily: 58%" in english
    assert "Mainly from (several allowed; fewer than 5 not listed): District or county" in english


async def test_the_chart_names_the_rows_and_the_scales_words(
    database: Database, cipher: TextCipher, questionnaire_v2: Questionnaire
) -> None:
    data = await aggregated(database, cipher, questionnaire_v2)

    rows = chart_rows(data, questionnaire_v2)
    assert [row.label for row in rows][:3] == [
        "以会议落实会议、以文件落实文件",
        "过度留痕",
        "政绩工程、形象工程",
    ]
    assert rows[6].label == "上级把责任层层下压"
    assert chart_axis(data, questionnaire_v2) == "经常或几乎每天遇到的受访者比例"
    assert chart_axis(data, questionnaire_v2, locale="en") == (
        "Share of respondents meeting it often or almost daily"
    )
    title = chart_title(data, questionnaire=questionnaire_v2)
    assert title.startswith("各类问题“经常/几乎每天”遇到的比例｜")
    figure = build_problem_figure(
        rows, title=title, axis=chart_axis(data, questionnaire_v2), footnote="f"
    )
    assert figure.axes[0].get_xlabel() == "经常或几乎每天遇到的受访者比例"


def test_the_v1_chart_axis_uses_v1_words(questionnaire: Questionnaire) -> None:
    assert chart_axis(EXPECTED, questionnaire) == "经常或非常普遍遇到的受访者比例"


def test_below_k_a_v2_digest_is_fixed(questionnaire_v2: Questionnaire) -> None:
    data = placeholder_data(questionnaire_v2, WEEK, k=K)
    assert data.submissions is None and data.burden_sources == () and data.change_since == ()
    assert len(data.problems) == 10
    assert all(p.distribution == () and p.often_share is None for p in data.problems)


def _renamed(raw: RawCounts) -> RawCounts:
    """Version 1 raw counts under version 2's keys (impacts left out: v2 asks fewer)."""

    def rename(values: dict[str, dict[str | int, int]]) -> dict[str, dict[str | int, int]]:
        renamed = {}
        for key, counts in values.items():
            if key.endswith("_freq"):
                renamed[f"freq.{key.removesuffix('_freq')}"] = counts
            elif not key.endswith("_impact"):
                renamed[key] = counts
        return renamed

    # Version 2 lists p10 (nobody answered it here) between p6 and p7.
    return dataclasses.replace(
        raw,
        values=rename({k: dict(v) for k, v in raw.values.items()}),
        previous_values=rename({k: dict(v) for k, v in raw.previous_values.items()}),
        by_problem=tuple(
            dataclasses.replace(row, often=(*row.often[:6], 0, *row.often[6:]))
            for row in raw.by_problem
        ),
    )


@settings(max_examples=150, deadline=None)
@given(items=records(max_size=50), k=st.integers(2, 8))
def test_grid_rows_follow_the_same_disclosure_rules(
    questionnaire: Questionnaire, questionnaire_v2: Questionnaire, items: list[Record], k: int
) -> None:
    raw = reference_raw_counts(items)
    before = summarise(DigestLayout.from_questionnaire(questionnaire), WEEK, raw, k=k)
    after = summarise(DigestLayout.from_questionnaire(questionnaire_v2), WEEK, _renamed(raw), k=k)

    assert (after.submissions, after.any_often_share) == (
        before.submissions,
        before.any_often_share,
    )
    by_number = {p.number: p for p in after.problems}
    for problem in before.problems:
        row = by_number[problem.number]
        assert (row.distribution, row.often_share, row.change_points) == (
            problem.distribution,
            problem.often_share,
            problem.change_points,
        )
    assert after.breakdowns == before.breakdowns
    assert [
        (t.breakdown_id, t.problem, t.groups) for t in after.crosstabs if t.problem != 10
    ] == sorted(
        ((t.breakdown_id, t.problem, t.groups) for t in before.crosstabs),
        key=lambda t: (t[0] != "unit_type", [1, 2, 3, 4, 5, 6, 10, 7, 8, 9].index(t[1])),
    )
    scan_text_counts(render_plain(after, questionnaire_v2), k)


async def test_a_week_on_version_1_before_a_week_on_version_2_keeps_the_trend(
    database: Database,
    cipher: TextCipher,
    questionnaire: Questionnaire,
    questionnaire_v2: Questionnaire,
) -> None:
    """The rows that continue a version 1 question (`same_as`) are compared with it: the
    change since the week before is the one an all-version-1 digest gives. Problem 6 was
    split in two, so neither half claims its old answers."""
    repository = SubmissionRepository(database, cipher)
    for index in range(12):
        day = WEEK.first_day + timedelta(days=index % 7)
        await dataset.store(repository, questionnaire_v2, v2.current_answers(index), day)
    for index in range(6):
        day = dataset.PREVIOUS_WEEK.first_day + timedelta(days=index)
        await dataset.store(repository, questionnaire, dataset.previous_answers(index), day)

    data = await aggregate_digest(
        database, cipher, questionnaire_v2, WEEK, k=K, rng=random.Random(1)
    )

    by_number = {p.number: p for p in data.problems}
    continued = [before for before in EXPECTED.problems if before.number != 6]
    assert len(continued) == 8
    for before in continued:
        after = by_number[before.number]
        assert after.often_share == before.often_share, before.number
        assert after.change_points == before.change_points, before.number
    assert any(before.change_points is not None for before in continued)
    layout = DigestLayout.from_questionnaire(questionnaire_v2)
    assert layout.earlier_keys == {f"p{n}_freq": f"freq.p{n}" for n in (1, 2, 3, 4, 5, 7, 8, 9)}
