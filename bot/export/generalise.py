"""Generalising the quasi-identifiers of an export until no combination is smaller than K.

The quasi-identifiers are the two grouping questions (unit type, post level) and the week of
the submission. Every (unit type, post level, week) combination that holds fewer than K rows
is coarsened, in this fixed order, and the sizes are counted again after each step:

1. its post level becomes "其他/未填" (rank is the finer attribute inside a unit);
2. if still smaller than K, its unit type becomes "其他/未填" too;
3. if still smaller than K (it is now "其他/未填, 其他/未填, week"), the week widens to the
   calendar month of its Monday;
4. whatever is still smaller than K is left out of the export (and counted).

Two exports made at different times must not differ by fewer than K reports, so an export
covers **closed weeks only** (the caller passes the Monday of the running week as
`closed_before`) and a month group is published only once **every week of that month** is
closed: until then its rows are held back (counted as pending) rather than shown in a group
that would grow week by week. Each week's groups depend on that week's rows alone and each
month group on that month's leftovers alone, so once published a group never changes (except
when retention deletes old reports).

The choice "other" and "not answered" are one value from the start ("其他/未填"): an export
never tells them apart, so merging into that group never creates a new small one. Each step
only moves rows *into* the coarser groups, so a group that already had K rows keeps them;
the result is checked by a property test (`tests/export/test_generalise.py`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Final, Literal

OTHER: Final = "其他/未填"
#: Choice ids that an export shows as OTHER before any coarsening.
OTHER_CHOICES: Final = frozenset({"other"})


def week_of(day: date) -> date:
    """The Monday of the week that holds `day`."""
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True, order=True)
class Span:
    """A week (starting on `first_day`, a Monday) or the calendar month starting on it."""

    first_day: date
    kind: Literal["week", "month"] = "week"

    @classmethod
    def week(cls, day: date) -> Span:
        return cls(week_of(day), "week")

    def widened(self) -> Span:
        return Span(self.first_day.replace(day=1), "month")

    def label(self) -> date | str:
        """What the export's period column shows: the Monday's date, or "YYYY-MM"."""
        return self.first_day if self.kind == "week" else self.first_day.strftime("%Y-%m")


@dataclass(frozen=True, order=True)
class GroupKey:
    """A generalised combination; `unit` and `level` are choice ids or OTHER."""

    unit: str
    level: str
    span: Span


#: A raw combination as stored: unit choice, post-level choice (None: not answered), day's
#: Monday.
RawKey = tuple[str | None, str | None, date]


def _plain(choice: str | None) -> str:
    return OTHER if choice is None or choice in OTHER_CHOICES else choice


def _drop_level(key: GroupKey) -> GroupKey:
    return replace(key, level=OTHER)


def _drop_unit(key: GroupKey) -> GroupKey:
    return replace(key, unit=OTHER)


def _widen(key: GroupKey) -> GroupKey:
    return replace(key, span=key.span.widened())


_STEPS: Final[tuple[Callable[[GroupKey], GroupKey], ...]] = (_drop_level, _drop_unit, _widen)


def month_closed(first_day: date, closed_before: date | None) -> bool:
    """Whether every week whose Monday falls in the month starting on `first_day` has closed
    (weeks starting before `closed_before`, a Monday, are closed; None: everything is)."""
    if closed_before is None:
        return True
    next_month = (first_day.replace(day=28) + timedelta(days=4)).replace(day=1)
    first_monday_after = next_month + timedelta(days=(7 - next_month.weekday()) % 7)
    return first_monday_after <= closed_before


@dataclass(frozen=True)
class Generalisation:
    """Where each raw combination goes; None: left out (its group stayed below K) or, for
    the combinations in `pending`, held back until their month has closed."""

    groups: dict[RawKey, GroupKey | None]
    pending: frozenset[RawKey] = frozenset()

    def sizes(self, counts: Mapping[RawKey, int]) -> Counter[GroupKey]:
        sizes: Counter[GroupKey] = Counter()
        for raw, count in counts.items():
            target = self.groups.get(raw)
            if target is not None:
                sizes[target] += count
        return sizes


def generalise(
    counts: Mapping[RawKey, int], k: int, *, closed_before: date | None = None
) -> Generalisation:
    """Coarsen the combinations in `counts` (rows per raw combination) until every group of
    the result holds at least `k` rows; see the module docstring for the order. Month groups
    of a month not yet closed by `closed_before` are held back (`pending`)."""
    if k < 1:
        raise ValueError("k must be at least 1")
    keys = {
        raw: GroupKey(_plain(raw[0]), _plain(raw[1]), Span.week(raw[2]))
        for raw, count in counts.items()
        if count > 0
    }

    def sizes() -> Counter[GroupKey]:
        total: Counter[GroupKey] = Counter()
        for raw, key in keys.items():
            total[key] += counts[raw]
        return total

    for step in _STEPS:
        current = sizes()
        keys = {raw: step(key) if current[key] < k else key for raw, key in keys.items()}
    final = sizes()
    pending = frozenset(
        raw
        for raw, key in keys.items()
        if key.span.kind == "month" and not month_closed(key.span.first_day, closed_before)
    )
    groups: dict[RawKey, GroupKey | None] = {
        raw: key if final[key] >= k and raw not in pending else None for raw, key in keys.items()
    }
    return Generalisation(groups, pending)
