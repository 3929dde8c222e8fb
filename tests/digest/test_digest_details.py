"""What investigators asked of the digest: how many answers a figure rests on, a chart sorted
by share with its n and whole labels, no quote twice, the texts typed for "other", and a
campaign digest titled by the campaign's title."""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta
from typing import Any

import pytest
from matplotlib.patches import Rectangle

from bot.anonymity.crypto import TextCipher
from bot.digest.aggregate import (
    DigestData,
    DigestLayout,
    RawCounts,
    aggregate_digest,
    count_is_safe_beside,
    shorten_example,
    summarise,
)
from bot.digest.build import build_placeholder
from bot.digest.chart import build_problem_figure, wrap_label
from bot.digest.render import (
    chart_rows,
    chart_title,
    digest_title,
    render_plain,
    render_telegram,
    short_problem_name,
)
from bot.harness.emulator.formatting import parse_html
from bot.questionnaire import Questionnaire
from storage.database import Database
from storage.repositories import SubmissionRepository
from tests.digest import dataset
from tests.digest.dataset import WEEK
from tests.digest.test_aggregate import EXPECTED, K
from tests.digest.test_snapshots import add, make_service


def v2_raw(impact_answers: int) -> RawCounts:
    """12 submissions on version 2: p1 met sometimes by 5 and often by 7; `impact_answers`
    of those 7 gave p1 an impact of 4 (the impact is asked of the often ones only)."""
    return RawCounts(
        submissions=12,
        crosstab=(((None, None), True, 7), ((None, None), False, 5)),
        values={"freq.p1": {"sometimes": 5, "often": 7}, "impact.p1": {4: impact_answers}},
    )


def first_problem_text(questionnaire: Questionnaire, data: DigestData) -> str:
    return render_plain(data, questionnaire).split("2. ")[0]


def test_a_mean_impact_says_how_many_answers_it_rests_on(
    questionnaire_v2: Questionnaire,
) -> None:
    layout = DigestLayout.from_questionnaire(questionnaire_v2)

    everyone = summarise(layout, WEEK, v2_raw(7), k=K)
    one_skipped = summarise(layout, WEEK, v2_raw(6), k=K)
    too_few = summarise(layout, WEEK, v2_raw(4), k=K)

    assert everyone.problems[0].impact_answers == 7
    assert "平均影响：4.0 / 5（7 人作答）" in first_problem_text(questionnaire_v2, everyone)
    # 6 of the 7 who met it often: the exact 6 would show the one who left it empty.
    assert one_skipped.problems[0].mean_impact == 4.0
    assert one_skipped.problems[0].impact_answers is None
    assert "平均影响：4.0 / 5（至少 5 人作答）" in first_problem_text(questionnaire_v2, one_skipped)
    assert "6 人作答" not in render_plain(one_skipped, questionnaire_v2)
    # Fewer than K answers: no mean at all, and no count either.
    assert too_few.problems[0].mean_impact is None and too_few.problems[0].impact_answers is None
    assert "平均影响" not in first_problem_text(questionnaire_v2, too_few)
    assert "Mean impact: 4.0 / 5 (7 answers)" in render_plain(
        everyone, questionnaire_v2, locale="en"
    )


def test_the_count_beside_a_partition_leaves_no_small_remainder() -> None:
    assert count_is_safe_beside(7, [0, 5, 7, 0], 5)  # all 7 often ones answered
    assert count_is_safe_beside(12, [0, 5, 7, 0], 5)  # everyone answered
    assert not count_is_safe_beside(6, [0, 5, 7, 0], 5)  # one of the 7 did not
    assert not count_is_safe_beside(11, [1, 4, 7], 5)  # 12 − 11: the one "never"
    assert count_is_safe_beside(6, [6, 6, 0, 0], 5)


def test_numbers_say_how_many_answers_they_rest_on(questionnaire: Questionnaire) -> None:
    text = render_plain(EXPECTED, questionnaire)
    english = render_plain(EXPECTED, questionnaire, locale="en")

    assert "上月单位迎检次数：中位数 2，90% 分位数 2（12 人作答）" in text
    # 11 of 12 answered: the exact count would point at the one who did not.
    assert "上月参加会议次数：中位数 8（至少 5 人作答）" in text
    assert "median 2, 90th percentile 2 (12 answers)" in english
    below_k = dataclasses.replace(
        EXPECTED,
        numbers=tuple(dataclasses.replace(n, median=None, p90=None) for n in EXPECTED.numbers),
    )
    number_lines = [
        line for line in render_plain(below_k, questionnaire).split("\n") if "上月" in line
    ]
    assert number_lines == [
        "· 上月参加会议次数：人数不足，不显示",
        "· 上月单位迎检次数：人数不足，不显示",
    ]


def test_the_chart_gets_whole_english_labels_and_wraps_them(
    questionnaire_v2: Questionnaire,
) -> None:
    layout = DigestLayout.from_questionnaire(questionnaire_v2)
    data = summarise(layout, WEEK, v2_raw(7), k=K)
    label = questionnaire_v2.answer_field("freq.p1").label_for("en")
    whole = short_problem_name(label, None)
    assert len(whole) > 40  # the digest's headings cut it; the chart must not

    rows = chart_rows(data, questionnaire_v2, locale="en")
    figure = build_problem_figure(
        rows, title=chart_title(data, locale="en", questionnaire=questionnaire_v2), locale="en"
    )

    assert rows[0].label == whole and "…" not in whole
    ticks = [tick.get_text() for tick in figure.axes[0].get_yticklabels()]
    first = next(tick for tick in ticks if tick.startswith(whole.split()[0]))
    assert "\n" in first and "…" not in first
    assert first.replace("\n", " ") == whole
    assert first == wrap_label(whole)
    title = figure.axes[0].get_title(loc="left")
    assert "\n" in title and title.replace("\n", " | ") == chart_title(
        data, locale="en", questionnaire=questionnaire_v2
    )


def test_the_chart_is_sorted_by_share_and_each_bar_carries_its_n(
    questionnaire: Questionnaire,
) -> None:
    rows = chart_rows(EXPECTED, questionnaire)
    figure = build_problem_figure(rows, title="t")
    (axes,) = figure.axes

    bars = [patch for patch in axes.patches if isinstance(patch, Rectangle)]
    shares = [bar.get_width() for bar in bars if bar.get_gid() == "value"]
    assert shares == sorted(shares, reverse=True)
    values = [text.get_text() for text in axes.texts if text.get_text() != "样本不足"]
    assert values[0] == "58%（12 人）" and all(value.endswith("（12 人）") for value in values)


async def test_a_period_below_k_has_an_empty_chart_saying_so(
    questionnaire: Questionnaire,
) -> None:
    built = await build_placeholder(questionnaire, WEEK, k=K)
    rows = chart_rows(built.data, questionnaire)
    figure = build_problem_figure(rows, title="t")

    assert [text.get_text() for text in figure.axes[0].texts] == ["本期暂无数据"]
    assert not figure.axes[0].patches
    assert built.message.chart_png is not None


def test_a_quote_appears_once_in_a_digest(questionnaire: Questionnaire) -> None:
    repeated = dataclasses.replace(
        EXPECTED,
        problems=tuple(
            dataclasses.replace(p, examples=("同一句话", "同一句话", f"第{p.number}条"))
            for p in EXPECTED.problems
        ),
    )

    text = "".join(parse_html(part).text for part in render_telegram(repeated, questionnaire))

    assert text.count("同一句话") == 1
    assert all(text.count(f"第{n}条") == 1 for n in range(1, 10))
    assert text.count("事例：") == 9


async def store_v2(
    db: Database, cipher: TextCipher, questionnaire: Questionnaire, answers: list[dict[str, Any]]
) -> None:
    repository = SubmissionRepository(db, cipher)
    for index, given in enumerate(answers):
        day = WEEK.first_day + timedelta(days=index % 7)
        await dataset.store(repository, questionnaire, given, day)


async def test_identical_stored_examples_are_quoted_once(
    database: Database, cipher: TextCipher, questionnaire_v2: Questionnaire
) -> None:
    same = "会议太多，  一天三场"
    answers: list[dict[str, Any]] = [
        {"freq.p1": "often", "examples": ["p1", "p2"], "p1_example": same, "p2_example": same}
        for _ in range(3)
    ]
    answers.append({"freq.p1": "often", "examples": ["p1"], "p1_example": "另一件事"})
    answers += [{"freq.p1": "never"} for _ in range(K)]
    await store_v2(database, cipher, questionnaire_v2, answers)

    data = await aggregate_digest(
        database, cipher, questionnaire_v2, WEEK, k=K, rng=random.Random(3)
    )

    quoted = [text for problem in data.problems for text in problem.examples]
    assert sorted(quoted) == sorted([shorten_example(same), "另一件事"])


OTHER_TEXTS = ["取消周末的视频会，电话13800138000", "少填表", "少填表", "x" * 120, "合并检查"]


@pytest.mark.parametrize("chose_other", [K, K - 1])
async def test_texts_typed_for_other_appear_only_when_k_chose_it(
    database: Database, cipher: TextCipher, questionnaire_v2: Questionnaire, chose_other: int
) -> None:
    answers: list[dict[str, Any]] = [
        {"measures": ["other"], "measures_other": text} for text in OTHER_TEXTS[:chose_other]
    ]
    answers += [{"measures": ["fewer_meetings_docs"]} for _ in range(K + 1 - chose_other)]
    await store_v2(database, cipher, questionnaire_v2, answers)

    data = await aggregate_digest(
        database, cipher, questionnaire_v2, WEEK, k=K, rng=random.Random(1)
    )
    text = render_plain(data, questionnaire_v2)

    if chose_other < K:
        assert data.measures_other == ()
        assert "其他" not in text.split("最希望采取的措施")[1].split("说明")[0]
        assert all(typed[:4] not in text for typed in OTHER_TEXTS)
        return
    typed = {shorten_example(t) for t in OTHER_TEXTS}
    assert len(data.measures_other) == 3
    assert set(data.measures_other) <= typed and len(set(data.measures_other)) == 3
    assert all("13800138000" not in t and len(t) <= 80 for t in data.measures_other)
    assert "选“其他”的人写了这些（举例）：" in text
    assert all(f"「{t}」" in text for t in data.measures_other)


def test_a_campaign_digest_is_titled_by_the_campaign_title(questionnaire: Questionnaire) -> None:
    titled = dataclasses.replace(EXPECTED, campaign_id="c7f3", campaign_title="春季减负专项")
    untitled = dataclasses.replace(EXPECTED, campaign_id="c7f3")

    assert digest_title(titled) == "清风周报｜2026-11-23 至 2026-11-29（活动：春季减负专项）"
    assert "c7f3" not in render_telegram(titled, questionnaire)[0]
    assert digest_title(untitled).endswith("（活动：c7f3）")
    assert DigestData.from_json(titled.to_json()) == titled


async def test_the_placeholder_of_a_campaign_carries_its_title(
    questionnaire: Questionnaire,
) -> None:
    built = await build_placeholder(
        questionnaire, WEEK, k=K, campaign_id="c7f3", campaign_title="春季减负专项"
    )
    assert built.title.endswith("（活动：春季减负专项）")
    assert "春季减负专项" in built.telegram_parts[0]


async def test_a_campaign_view_is_titled_by_the_campaign_title_below_and_above_k(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire
) -> None:
    service = make_service(database, cipher, questionnaire)
    before = await service.released(WEEK, campaign_id="spring", campaign_title="春季减负专项")
    await add(database, cipher, questionnaire, K, campaign_id="spring")
    after = await service.released(WEEK, campaign_id="spring", campaign_title="春季减负专项")

    for built in (before, after):
        assert built.title.endswith("（活动：春季减负专项）")
        assert "spring" not in built.telegram_parts[0]
    assert after.data.submissions == K
