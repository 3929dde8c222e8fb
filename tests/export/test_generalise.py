"""Generalisation of (unit type, post level, week): after it, no group is smaller than K;
and publication over time: a month group waits for its month, and once shown a group never
changes."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.export.generalise import (
    OTHER,
    GroupKey,
    RawKey,
    Span,
    generalise,
    month_closed,
    week_of,
)
from bot.export.submissions import ExportPlan, plan_rows

MONDAY = date(2026, 11, 2)
UNITS = [None, "other", "district_dept", "town_street", "village_community"]
LEVELS = [None, "other", "leadership", "middle", "staff"]

raw_keys = st.tuples(
    st.sampled_from(UNITS),
    st.sampled_from(LEVELS),
    st.integers(min_value=0, max_value=9).map(lambda weeks: MONDAY + timedelta(weeks=weeks)),
)


def _is_coarsening(raw: RawKey, group: GroupKey) -> bool:
    """The group generalises the raw combination: same value or OTHER, same week or its
    month."""
    unit, level, monday = raw
    plain = {None: OTHER, "other": OTHER}
    unit_ok = group.unit in (plain.get(unit, unit), OTHER)
    level_ok = group.level in (plain.get(level, level), OTHER)
    span_ok = group.span in (Span.week(monday), Span.week(monday).widened())
    return unit_ok and level_ok and span_ok


@settings(max_examples=300, deadline=None)
@given(
    counts=st.dictionaries(raw_keys, st.integers(min_value=1, max_value=12), max_size=40),
    k=st.integers(min_value=2, max_value=8),
)
def test_no_group_is_smaller_than_k(counts: dict[RawKey, int], k: int) -> None:
    result = generalise(counts, k)
    sizes = result.sizes(counts)
    assert all(size >= k for size in sizes.values())
    for raw, group in result.groups.items():
        if group is not None:
            assert _is_coarsening(raw, group)
    # Rows are dropped only when even the coarsest group of their month stays below K.
    dropped = Counter(
        Span.week(raw[2]).widened() for raw, group in result.groups.items() if group is None
    )
    for month in dropped:
        assert sizes[GroupKey(OTHER, OTHER, month)] == 0
    kept = sum(counts[raw] for raw, group in result.groups.items() if group is not None)
    assert kept + sum(counts[raw] for raw, group in result.groups.items() if group is None) == sum(
        counts.values()
    )


def test_the_order_is_level_then_unit_then_month_then_drop() -> None:
    week1, week2, week3 = MONDAY, MONDAY + timedelta(weeks=1), MONDAY + timedelta(weeks=2)
    december = date(2026, 12, 7)
    counts: dict[RawKey, int] = {
        ("district_dept", "staff", week1): 5,  # big enough: kept as it is
        ("district_dept", "middle", week1): 3,  # level merged: joins the 2 below
        ("district_dept", None, week1): 2,
        ("town_street", "middle", week1): 1,  # level then unit merged, then the month
        ("village_community", "staff", week2): 2,  # ditto, same month
        ("town_street", "leadership", week3): 2,  # ditto
        ("village_community", "middle", december): 1,  # alone in its month: dropped
    }
    result = generalise(counts, 5)
    november = Span(date(2026, 11, 1), "month")
    assert result.groups == {
        ("district_dept", "staff", week1): GroupKey("district_dept", "staff", Span(week1)),
        ("district_dept", "middle", week1): GroupKey("district_dept", OTHER, Span(week1)),
        ("district_dept", None, week1): GroupKey("district_dept", OTHER, Span(week1)),
        ("town_street", "middle", week1): GroupKey(OTHER, OTHER, november),
        ("village_community", "staff", week2): GroupKey(OTHER, OTHER, november),
        ("town_street", "leadership", week3): GroupKey(OTHER, OTHER, november),
        ("village_community", "middle", december): None,
    }
    assert november.label() == "2026-11" and Span(week1).label() == week1


def test_week_is_the_monday() -> None:
    assert week_of(date(2026, 11, 29)) == date(2026, 11, 23)  # a Sunday
    assert week_of(date(2026, 11, 23)) == date(2026, 11, 23)


# ------------------------------------------------------------ months and publication


@pytest.mark.parametrize(
    ("month", "last_monday"),
    [
        (date(2026, 6, 1), date(2026, 6, 29)),
        (date(2026, 11, 1), date(2026, 11, 30)),
        (date(2026, 8, 1), date(2026, 8, 31)),
        (date(2026, 5, 1), date(2026, 5, 25)),  # June begins on a Monday
        (date(2027, 2, 1), date(2027, 2, 22)),  # so does March 2027
        (date(2026, 12, 1), date(2026, 12, 28)),  # its last week ends in January
    ],
)
def test_a_month_closes_with_the_week_of_its_last_monday(month: date, last_monday: date) -> None:
    after = last_monday + timedelta(weeks=1)
    assert after.month != month.month  # last_monday really is the month's last Monday
    assert not month_closed(month, last_monday - timedelta(weeks=1))
    assert not month_closed(month, last_monday)  # the week of its last Monday still runs
    assert month_closed(month, after)
    assert month_closed(month, after + timedelta(weeks=5))
    assert month_closed(month, None)  # --include-today: everything counts as closed


def test_a_week_spanning_two_months_belongs_to_the_month_of_its_monday() -> None:
    assert Span.week(date(2026, 12, 3)).widened() == Span(date(2026, 11, 1), "month")
    assert Span.week(date(2027, 1, 2)).widened() == Span(date(2026, 12, 1), "month")
    counts: dict[RawKey, int] = {
        ("town_street", "staff", date(2026, 11, 9)): 4,
        ("village_community", None, date(2026, 11, 30)): 1,  # Monday 30th: days into December
    }
    november = GroupKey(OTHER, OTHER, Span(date(2026, 11, 1), "month"))
    held = generalise(counts, 5, closed_before=date(2026, 11, 30))
    assert held.pending == frozenset(counts) and set(held.groups.values()) == {None}
    shown = generalise(counts, 5, closed_before=date(2026, 12, 7))
    assert shown.pending == frozenset() and set(shown.groups.values()) == {november}


FIRST_MONDAY = date(2026, 10, 19)  # ten weeks over October, November (30th) and December
submission_lists = st.lists(
    st.tuples(
        st.sampled_from(UNITS[:3]),
        st.sampled_from(LEVELS[:3]),
        st.integers(min_value=0, max_value=69).map(lambda n: FIRST_MONDAY + timedelta(days=n)),
    ),
    max_size=90,
)


def published_on(
    stored: list[tuple[str | None, str | None, date]], k: int, today: date
) -> tuple[dict[GroupKey, frozenset[str]], ExportPlan]:
    """What an export made on `today` shows: each group with the submissions in it. Only
    submissions stored by then exist (their day is at most today)."""
    existing: dict[str, RawKey] = {
        f"s{index}": (unit, level, week_of(day))
        for index, (unit, level, day) in enumerate(stored)
        if day <= today
    }
    plan = plan_rows(existing, k, until=today)
    members: dict[GroupKey, set[str]] = {}
    for submission_id, group in plan.rows:
        members.setdefault(group, set()).add(submission_id)
        assert existing[submission_id][2] < week_of(today)  # closed weeks only
    return {group: frozenset(ids) for group, ids in members.items()}, plan


@settings(max_examples=300, deadline=None)
@given(
    stored=submission_lists,
    k=st.integers(min_value=2, max_value=6),
    first=st.integers(min_value=0, max_value=80),
    gap=st.integers(min_value=1, max_value=40),
)
def test_publication_is_monotone_and_stable(
    stored: list[tuple[str | None, str | None, date]], k: int, first: int, gap: int
) -> None:
    """Whatever arrives in between, a group published on d1 is published on any later d2
    with exactly the same submissions; every group holds at least K. So two exports differ
    only by whole new groups of at least K reports each."""
    d1 = FIRST_MONDAY + timedelta(days=first)
    d2 = d1 + timedelta(days=gap)
    earlier, plan1 = published_on(stored, k, d1)
    later, _plan2 = published_on(stored, k, d2)
    for groups in (earlier, later):
        assert all(len(ids) >= k for ids in groups.values())
    for group, ids in earlier.items():
        assert later.get(group) == ids
    shown_earlier = set().union(*earlier.values())
    for group in later.keys() - earlier.keys():
        assert not later[group] & shown_earlier  # a new group holds only new rows
    if week_of(d1) == week_of(d2):
        assert later == earlier
    closed = sum(1 for _unit, _level, day in stored if day < week_of(d1))
    assert len(plan1.rows) + plan1.suppressed + plan1.pending == closed
