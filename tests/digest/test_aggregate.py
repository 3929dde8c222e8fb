"""Aggregation against figures worked out by hand from tests/digest/dataset.py (K = 5)."""

from __future__ import annotations

import dataclasses
import random
from fractions import Fraction
from typing import Any

import pytest

from bot.anonymity.crypto import TextCipher
from bot.digest.aggregate import (
    MERGED,
    NO_ANSWER,
    Breakdown,
    Cell,
    Comparison,
    CrossGroup,
    CrossTab,
    DigestData,
    GroupFigures,
    NumberFigures,
    ProblemFigures,
    RankedChoice,
    aggregate_digest,
    nearest_rank,
    shorten_example,
    suppress_partition,
)
from bot.questionnaire import Questionnaire
from storage.database import Database
from storage.repositories import SubmissionRepository
from tests.digest import dataset
from tests.digest.dataset import PREVIOUS_WEEK, SHOWN_EXAMPLES, WEEK

K = 5


def cells(*pairs: tuple[str, int | None]) -> tuple[Cell, ...]:
    """Cells of a 12-submission period; None = hidden."""
    return tuple(
        Cell(choice, None, None) if count is None else Cell(choice, count, count / 12)
        for choice, count in pairs
    )


def freq(
    never: int | None, sometimes: int | None, often: int | None, very: int | None
) -> tuple[Cell, ...]:
    return cells(("never", never), ("sometimes", sometimes), ("often", often), ("very_often", very))


def crosstab(breakdown: str, problem: int, *groups: tuple[str, int, float | None]) -> CrossTab:
    return CrossTab(
        breakdown, problem, f"p{problem}_freq", tuple(CrossGroup(*group) for group in groups)
    )


SECTIONS = ["implementation"] * 3 + ["serving_public"] * 2 + ["duty"] * 2 + ["meetings_checks"] * 2

# Worked out by hand. Shares are of the 12 submissions; "hidden" cells follow rules 2 and 3.
EXPECTED_PROBLEMS: list[dict[str, Any]] = [
    # p1: S5 O7 → 7/12 shown, every cell ≥ 5 or 0; previous week O3 S3 → its share is hidden.
    dict(
        often_share=7 / 12,
        change_points=None,
        distribution=freq(0, 5, 7, 0),
        mean_impact=40 / 12,
        impact_answers=12,  # everyone: nothing to work out from it
    ),
    # p2: N1 S4 O5 V2 → 7/12 shown; V2 hidden and O5 with it (one hidden cell in the
    # "often" half would follow from the share); N1 S4 both hidden. Previous: all often.
    dict(
        often_share=7 / 12,
        change_points=(7 / 12 - 6 / 6) * 100,
        previous_share=1.0,
        distribution=freq(None, None, None, None),
        mean_impact=4.0,
    ),
    # p3: N8 S1 O3 → 3 meet it often: share hidden; S1 O3 hidden, sum 4 < 5 so N8 too.
    # Only 4 impact answers: no mean.
    dict(
        often_share=None,
        change_points=None,
        distribution=freq(None, None, None, 0),
        mean_impact=None,
    ),
    # p4: S5 V7 → 7/12; previous week all "sometimes" (0 %).
    dict(
        often_share=7 / 12,
        change_points=(7 / 12) * 100,
        previous_share=0.0,
        distribution=freq(0, 5, 0, 7),
        mean_impact=3.0,
        impact_answers=12,
    ),
    # p5: N5 S5 V2 → share hidden; V2 hidden, plus the smallest other non-zero cell (N5, first
    # of the tie). Impacts of s6–s12: 2,2,2,2,2,5,5 → 20/7.
    dict(
        often_share=None,
        change_points=None,
        distribution=freq(None, 5, 0, None),
        mean_impact=20 / 7,
    ),
    # p6: all never → 0 %, unchanged; nobody answered the impact question.
    dict(
        often_share=0.0,
        change_points=0.0,
        previous_share=0.0,
        distribution=freq(12, 0, 0, 0),
        mean_impact=None,
    ),
    # p7: N6 S6 → 0 %, unchanged; six impact answers of 1.
    # The 6 answers differ by 0 or 6 from every sum of shown cells (0, 6, 12): n is shown.
    dict(
        often_share=0.0,
        change_points=0.0,
        previous_share=0.0,
        distribution=freq(6, 6, 0, 0),
        mean_impact=1.0,
        impact_answers=6,
    ),
    # p8: N2 S5 O5 → 5/12; the "not often" half (7) has N2 hidden, so S5 too. Previous: all
    # often. Impacts of s3–s12: 1..5, 1..5 → 3.0.
    dict(
        often_share=5 / 12,
        change_points=(5 / 12 - 1) * 100,
        previous_share=1.0,
        distribution=freq(None, None, 5, 0),
        mean_impact=3.0,
    ),
    # p9: S5 V6, s12 did not answer → 6/12; the "not often" half S5 + unanswered 1: both hidden.
    dict(
        often_share=6 / 12,
        change_points=50.0,
        previous_share=0.0,
        distribution=(*freq(0, None, 0, 6), Cell(NO_ANSWER, None, None)),
        mean_impact=2.0,
    ),
]

EXPECTED = DigestData(
    period=WEEK,
    questionnaire_id="formalism",
    k=K,
    submissions=12,
    any_often_share=7 / 12,
    problems=tuple(
        ProblemFigures(
            number=i + 1,
            question_id=f"p{i + 1}_freq",
            section_id=SECTIONS[i],
            impact_max=5,
            **figures,
        )
        for i, figures in enumerate(EXPECTED_PROBLEMS)
    ),
    comparison=Comparison(
        "period", PREVIOUS_WEEK.key, PREVIOUS_WEEK.first_day, PREVIOUS_WEEK.last_day, 6
    ),
    # s6–s10 wrote an example, the seven others nothing: both at least 5.
    with_text_share=5 / 12,
    numbers=(
        # 11 answers 0,2,4,4,6,8,10,10,12,20,60: median = 6th = 8 (6 at or below, 6 at or
        # above); p90 = 10th = 20 but only 2 answers are ≥ 20 → hidden.
        # One of the 12 did not answer: the exact 11 would show that one, so "at least K".
        NumberFigures("meetings_month", median=8, p90=None),
        # five 1s and seven 2s: median (6th) 2, p90 (11th) 2, seven answers ≥ 2.
        NumberFigures("inspections_month", median=2, p90=2, answers=12),
    ),
    # under_10 5, 10–30 5, over_50 1, not answered 1: the two 1s (sum 2) plus under_10.
    deadline_share=cells(
        ("under_10", None),
        ("from_10_to_30", 5),
        ("from_30_to_50", 0),
        ("over_50", None),
        ("unknown", 0),
        (NO_ANSWER, None),
    ),
    # 9, 6, 4, 5, 0, 1 choices: only those chosen by at least 5, most chosen first.
    measures=(
        RankedChoice("fewer_meetings_docs", 9, 9 / 12),
        RankedChoice("fewer_inspections", 6, 6 / 12),
        RankedChoice("grassroots_research", 5, 5 / 12),
    ),
    breakdowns=(
        # district 5 (none meets a problem often: 0 %); town 3 + village 2 + not answered 2
        # merged into 7, all meeting a problem often.
        Breakdown(
            "unit_type",
            (GroupFigures("district_dept", 5, 0.0), GroupFigures(MERGED, 7, 1.0)),
        ),
        # staff 6 (1 meets), middle 5 (5 meet), other 1: "other" alone is < 5, so the
        # smallest shown group (middle) joins it: 6. Staff's share is hidden (1 of 6), and
        # then the merged share too, or it would follow from the overall 7/12.
        Breakdown("post_level", (GroupFigures("staff", 6, None), GroupFigures(MERGED, 6, None))),
    ),
    # Each problem over the same groups. p3 (3 meet it) and p5 (2) have no cross-tab: their
    # own share is hidden. By unit type p8 ([[0, 5], [5, 2]]) and p9 ([[0, 5], [6, 1]]) need
    # every cell hidden to protect the small one, so they are left out; so, by post level,
    # are p1, p2, p4 (staff: 1 of 6 meets it), p8 (the merged group: 1 does not) and p9.
    crosstabs=(
        *(crosstab("unit_type", n, ("district_dept", 5, 0.0), (MERGED, 7, 1.0)) for n in (1, 2, 4)),
        *(crosstab("unit_type", n, ("district_dept", 5, 0.0), (MERGED, 7, 0.0)) for n in (6, 7)),
        *(crosstab("post_level", n, ("staff", 6, 0.0), (MERGED, 6, 0.0)) for n in (6, 7)),
    ),
)


async def build_data(
    database: Database,
    cipher: TextCipher,
    questionnaire: Questionnaire,
    *,
    campaign_id: str | None = None,
    seed: int = 1,
) -> DigestData:
    return await aggregate_digest(
        database,
        cipher,
        questionnaire,
        WEEK,
        k=K,
        campaign_id=campaign_id,
        rng=random.Random(seed),
    )


def without_examples(data: DigestData) -> DigestData:
    return dataclasses.replace(
        data, problems=tuple(dataclasses.replace(p, examples=()) for p in data.problems)
    )


async def test_figures_match_the_hand_computed_ones(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire
) -> None:
    await dataset.store_dataset(database, cipher, questionnaire)

    data = await build_data(database, cipher, questionnaire)

    assert without_examples(data) == EXPECTED


async def test_examples_are_up_to_three_scrubbed_undated_texts_of_the_period(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire
) -> None:
    await dataset.store_dataset(database, cipher, questionnaire)

    # Each build shows three of p1's four examples, starting at a random submission id; the
    # stored ids are random too, so the builds run until all four have turned up (a handful
    # as a rule; 200 all missing the same one would need the four ids nearly on one spot).
    seen: set[str] = set()
    for seed in range(200):
        if seed >= 6 and seen == SHOWN_EXAMPLES["p1_example"]:
            break
        data = await build_data(database, cipher, questionnaire, seed=seed)
        examples = {p.question_id: p.examples for p in data.problems}
        assert len(examples["p1_freq"]) == 3
        assert set(examples["p1_freq"]) <= SHOWN_EXAMPLES["p1_example"]
        assert examples["p2_freq"] == tuple(SHOWN_EXAMPLES["p2_example"])
        assert all(not v for key, v in examples.items() if key not in ("p1_freq", "p2_freq"))
        seen |= set(examples["p1_freq"])
    # Different random picks over the builds: all four p1 examples turn up.
    assert seen == SHOWN_EXAMPLES["p1_example"]


async def test_a_campaign_filter_counts_only_its_submissions(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire
) -> None:
    await dataset.store_dataset(database, cipher, questionnaire)
    repository = SubmissionRepository(database, cipher)
    for index in range(5):
        await dataset.store(
            repository,
            questionnaire,
            dataset.current_answers(index),
            WEEK.first_day,
            campaign_id="spring",
        )
    await dataset.store(
        repository, questionnaire, dataset.current_answers(0), WEEK.last_day, campaign_id="autumn"
    )

    spring = await build_data(database, cipher, questionnaire, campaign_id="spring")
    autumn = await build_data(database, cipher, questionnaire, campaign_id="autumn")

    assert spring.submissions == 5
    assert spring.campaign_id == "spring"
    assert spring.any_often_share == 0.0  # s1–s5 meet no problem often
    assert autumn.submissions is None  # 1 < K
    assert autumn.breakdowns == () and autumn.measures == ()


@pytest.mark.parametrize("count", [1, 4])
async def test_below_k_the_data_is_the_same_as_for_an_empty_period(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire, count: int
) -> None:
    empty = await build_data(database, cipher, questionnaire)
    repository = SubmissionRepository(database, cipher)
    for index in range(count):
        await dataset.store(
            repository, questionnaire, dataset.current_answers(6 + index), WEEK.first_day
        )
    for index in range(6):  # a previous period above K changes nothing either
        await dataset.store(
            repository, questionnaire, dataset.previous_answers(index), PREVIOUS_WEEK.first_day
        )

    data = await build_data(database, cipher, questionnaire)

    assert data == empty
    assert data.submissions is None
    assert all(
        p.often_share is None
        and p.distribution == ()
        and p.examples == ()
        and p.mean_impact is None
        for p in data.problems
    )
    assert (data.numbers, data.deadline_share, data.measures, data.breakdowns) == ((), (), (), ())
    assert len(data.problems) == 9  # the chart still has its nine (suppressed) rows


async def test_digest_data_round_trips_through_json(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire
) -> None:
    await dataset.store_dataset(database, cipher, questionnaire)
    data = await build_data(database, cipher, questionnaire)

    assert DigestData.from_json(data.to_json()) == data
    assert "2026-11-23" in data.to_json()


def test_json_with_an_unknown_schema_is_refused() -> None:
    text = EXPECTED.to_json().replace('"schema": 1', '"schema": 99')
    with pytest.raises(ValueError, match="schema"):
        DigestData.from_json(text)


@pytest.mark.parametrize(
    ("counts", "hidden"),
    [
        ([5, 7, 0], set()),  # nothing small
        ([1, 9, 6], {0, 2}),  # one small cell: the smallest other non-zero cell too
        ([1, 2, 9, 8], {0, 1, 3}),  # 1 + 2 < 5: add 8, the smallest visible
        ([3, 4, 9], {0, 1}),  # 3 + 4 ≥ 5: enough
        ([0, 2, 0, 12], {1, 3}),  # zeros are never used as complements
        ([6, 6], set()),
    ],
)
def test_suppress_partition_hand_cases(counts: list[int], hidden: set[int]) -> None:
    assert suppress_partition(counts, 5) == hidden


def test_nearest_rank_percentiles() -> None:
    values = [(1, 2), (3, 1), (7, 6), (9, 1)]  # 1 1 3 7 7 7 7 7 7 9
    assert nearest_rank(values, Fraction(1, 2)) == 7  # 5th
    assert nearest_rank(values, Fraction(1, 5)) == 1  # 2nd
    assert nearest_rank(values, Fraction(3, 10)) == 3  # 3rd
    assert nearest_rank(values, Fraction(9, 10)) == 7  # 9th


def test_examples_lose_dates_times_contacts_and_length() -> None:
    assert (
        shorten_example("3月5日 18:30 在会议室，电话 13912345678")
        == "某日 某时 在会议室，电话 [手机号]"
    )
    assert shorten_example("2025-03-05 通知") == "某日 通知"
    assert shorten_example("  a \n b ") == "a b"
    assert len(shorten_example("字" * 200)) == 80
