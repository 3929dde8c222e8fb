"""Admin arguments as typed on a Chinese phone keyboard: full-width separators and digits,
Chinese dates, ids with spaces and capitals (`bot.staff.admin_input`)."""

from __future__ import annotations

from datetime import date

import pytest

from bot.staff.admin_input import compact, leading_fields, parse_day, parse_user_id, split_fields

TODAY = date(2026, 11, 28)


@pytest.mark.parametrize(
    ("typed", "fields"),
    [
        ("第一轮 | 2026-12-01 | 2026-12-31", ["第一轮", "2026-12-01", "2026-12-31"]),
        ("第一轮｜2026-12-01｜2026-12-31", ["第一轮", "2026-12-01", "2026-12-31"]),
        ("第一轮 ｜ 12月1日 | 12月31日", ["第一轮", "12月1日", "12月31日"]),
        ("第一轮，12月1日，12月31日", ["第一轮", "12月1日", "12月31日"]),
        ("第一轮, 12月1日 ,12月31日", ["第一轮", "12月1日", "12月31日"]),
        # With a bar typed, commas belong to the fields.
        ("减负，第一轮 | 12月1日 | 12月31日", ["减负，第一轮", "12月1日", "12月31日"]),
        ("  只有一项\u3000", ["只有一项"]),
    ],
)
def test_fields_are_split_on_bars_of_either_width_or_else_on_commas(
    typed: str, fields: list[str]
) -> None:
    assert split_fields(typed) == fields


def test_leading_fields_keep_the_separators_as_typed() -> None:
    assert leading_fields("减负，第一轮，12月1日，12月31日", 2) == "减负，第一轮"
    assert leading_fields("A | B｜12月1日 | 12月31日", 2) == "A | B"
    assert leading_fields("第一轮 | 12月1日 | 12月31日", 1) == "第一轮"
    assert leading_fields("第一轮", 1) == "第一轮"
    assert leading_fields("第一轮 | x", 0) == ""


@pytest.mark.parametrize(
    "typed",
    [
        "2026-12-01",
        "2026-12-1",
        "2026/12/1",
        "2026/12/01",
        "2026.12.1",
        "2026年12月1日",
        "2026年12月1号",
        "2026 年 12 月 1 日",
        "２０２６年１２月１日",
        "２０２６－１２－０１",
        "12月1日",
        "12月1号",
        "12月1",
        "１２月１日",
        " 12月1日\u3000",
    ],
)
def test_every_written_form_of_a_day_reads_as_that_day(typed: str) -> None:
    assert parse_day(typed, today=TODAY) == date(2026, 12, 1)


def test_a_day_without_a_year_is_in_the_current_year() -> None:
    assert parse_day("3月5日", today=date(2027, 8, 1)) == date(2027, 3, 5)


def test_a_closing_day_without_a_year_before_the_opening_day_is_next_year() -> None:
    opens = parse_day("12月1日", today=TODAY)
    assert parse_day("1月31日", today=TODAY, not_before=opens) == date(2027, 1, 31)
    assert parse_day("12月31日", today=TODAY, not_before=opens) == date(2026, 12, 31)
    # A written year is taken as written, even before the opening day.
    assert parse_day("2026年1月31日", today=TODAY, not_before=opens) == date(2026, 1, 31)


@pytest.mark.parametrize(
    "typed",
    ["", "明天", "2026-13-01", "2026年2月30日", "2月30日", "26-12-01", "2026-12", "12/1", "12月"],
)
def test_anything_else_is_not_a_day(typed: str) -> None:
    with pytest.raises(ValueError):
        parse_day(typed, today=TODAY)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("2741", "2741"), (" 27 41 ", "2741"), ("２７４１", "2741"), ("AB12cd34", "ab12cd34")],
)
def test_ids_are_compacted_to_their_stored_form(typed: str, stored: str) -> None:
    assert compact(typed) == stored


@pytest.mark.parametrize(("typed", "user_id"), [("610030", 610030), (" ６１００３０ ", 610030)])
def test_user_ids_may_be_typed_in_full_width_digits(typed: str, user_id: int) -> None:
    assert parse_user_id(typed) == user_id


@pytest.mark.parametrize("typed", ["", "abc", "-5", "61 00 3x", "٣٤"])
def test_anything_else_is_not_a_user_id(typed: str) -> None:
    with pytest.raises(ValueError):
        parse_user_id(typed)
