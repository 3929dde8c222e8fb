"""`/campaign new` as an admin types it on a Chinese phone: ｜ or commas between the parts,
days written 2026年12月1日, 2026/12/1 or 12月1日, and a title that holds commas itself."""

from __future__ import annotations

from datetime import date

import pytest

from bot.campaigns import NewCampaign, parse_new_campaign

TODAY = date(2026, 11, 28)
ROUND = NewCampaign("第一轮", date(2026, 12, 1), date(2026, 12, 31), None)


@pytest.mark.parametrize(
    "typed",
    [
        "第一轮 | 2026-12-01 | 2026-12-31",
        "第一轮｜2026-12-01｜2026-12-31",
        "第一轮 ｜ 2026/12/1 ｜ 2026/12/31",
        "第一轮|2026年12月1日|2026年12月31日",
        "第一轮，2026年12月1日，2026年12月31日",
        "第一轮, 12月1日, 12月31日",
        "第一轮，１２月１日，１２月３１日",
    ],
)
def test_every_typed_form_gives_the_same_campaign(typed: str) -> None:
    assert parse_new_campaign(typed, today=TODAY) == ROUND


def test_a_stored_version_may_follow_after_a_full_width_bar() -> None:
    parsed = parse_new_campaign("第二轮｜12月1日｜12月31日｜formalism v2", today=TODAY)
    assert parsed.title == "第二轮" and parsed.version == ("formalism", 2)
    comma = parse_new_campaign("第二轮，12月1日，12月31日，formalism ｖ２", today=TODAY)
    assert comma.version == ("formalism", 2)


def test_a_title_keeps_its_own_commas_and_bars() -> None:
    commas = parse_new_campaign("基层减负，第一轮，12月1日，12月31日", today=TODAY)
    assert commas.title == "基层减负，第一轮" and commas.opens_day == date(2026, 12, 1)
    with_bar = parse_new_campaign("基层减负，第一轮 | 12月1日 | 12月31日", today=TODAY)
    assert with_bar.title == "基层减负，第一轮"


def test_a_round_over_the_new_year_closes_next_year() -> None:
    parsed = parse_new_campaign("跨年｜12月15日｜1月15日", today=TODAY)
    assert (parsed.opens_day, parsed.closes_day) == (date(2026, 12, 15), date(2027, 1, 15))


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "第一轮",
        "第一轮 | 2026-12-01",
        " | 2026-12-01 | 2026-12-31",
        "第一轮 | 2026-12-31 | 2026-12-01",  # closes before it opens
        "第一轮 | 明天 | 2026-12-31",
        "第一轮 | 2026-12-01 | 2026-12-31 | formalism vX",
        "第一轮 | 2026-12-01 | 2026-12-31 | formalism v0",
    ],
)
def test_anything_else_is_refused(typed: str) -> None:
    with pytest.raises(ValueError):
        parse_new_campaign(typed, today=TODAY)
