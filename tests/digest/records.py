"""Random submissions for property tests, their raw counts worked out in plain Python, and a
checker that a digest shows no group smaller than K (directly or by subtraction)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from bot.digest.aggregate import (
    HIGH_FREQUENCY,
    MERGED,
    NO_ANSWER,
    Cell,
    DigestData,
    DigestLayout,
    ProblemCounts,
    RawCounts,
)

UNITS = ["district_dept", "town_street", "village_community", "other", None]
POSTS = ["leadership", "middle", "staff", "other", None]
FREQUENCIES = ["never", "sometimes", "often", "very_often", None]
DEADLINES = ["under_10", "from_10_to_30", "from_30_to_50", "over_50", "unknown", None]
MEASURES = [
    "fewer_meetings_docs",
    "fewer_inspections",
    "no_trace_judging",
    "grassroots_research",
    "fair_accountability",
    "leaders_example",
    "discipline_naming",
    "other",
]


@dataclass(frozen=True)
class Record:
    """One submission of a property test. `current` False = the previous period."""

    current: bool
    unit: str | None
    post: str | None
    frequencies: tuple[str | None, ...]
    impacts: tuple[int, ...]
    meetings: int | None
    inspections: int | None
    deadline: str | None
    measures: tuple[str, ...]

    def answers(self) -> dict[str, Any]:
        given: dict[str, Any] = {}
        for number, (frequency, impact) in enumerate(
            zip(self.frequencies, self.impacts, strict=True), start=1
        ):
            if frequency is None:
                continue
            given[f"p{number}_freq"] = frequency
            if frequency != "never":
                given[f"p{number}_impact"] = impact
        optional = {
            "unit_type": self.unit,
            "post_level": self.post,
            "meetings_month": self.meetings,
            "inspections_month": self.inspections,
            "deadline_share": self.deadline,
        }
        given.update({key: value for key, value in optional.items() if value is not None})
        if self.measures:
            given["measures"] = list(self.measures)
        return given

    @property
    def meets_a_problem_often(self) -> bool:
        return any(frequency in HIGH_FREQUENCY for frequency in self.frequencies)


def records(max_size: int = 40) -> st.SearchStrategy[list[Record]]:
    record = st.builds(
        Record,
        current=st.booleans() | st.just(True),
        unit=st.sampled_from(UNITS),
        post=st.sampled_from(POSTS),
        frequencies=st.tuples(*[st.sampled_from(FREQUENCIES)] * 9),
        impacts=st.tuples(*[st.integers(1, 5)] * 9),
        meetings=st.none() | st.integers(0, 40),
        inspections=st.none() | st.integers(0, 10),
        deadline=st.sampled_from(DEADLINES),
        measures=st.lists(st.sampled_from(MEASURES), max_size=3, unique=True).map(tuple),
    )
    return st.lists(record, max_size=max_size)


def reference_raw_counts(items: list[Record]) -> RawCounts:
    """What the SQL queries must return for these records, counted the slow, obvious way."""
    current = [r for r in items if r.current]
    previous = [r for r in items if not r.current]
    crosstab: Counter[tuple[tuple[str | None, ...], bool]] = Counter(
        ((r.unit, r.post), r.meets_a_problem_often) for r in current
    )
    values: dict[str, Counter[str | int]] = defaultdict(Counter)
    for r in current:
        for question_id, value in r.answers().items():
            if isinstance(value, list):
                for choice in value:
                    values[question_id][choice] += 1
            else:
                values[question_id][value] += 1
    previous_values: dict[str, Counter[str | int]] = defaultdict(Counter)
    for r in previous:
        for number, frequency in enumerate(r.frequencies, start=1):
            if frequency is not None:
                previous_values[f"p{number}_freq"][frequency] += 1
    by_groups: dict[tuple[str | None, ...], list[Record]] = defaultdict(list)
    for r in current:
        by_groups[(r.unit, r.post)].append(r)
    by_problem = tuple(
        ProblemCounts(
            groups=key,
            reports=len(group),
            often=tuple(sum(r.frequencies[p] in HIGH_FREQUENCY for r in group) for p in range(9)),
            wrote=0,  # these records type no free text
        )
        for key, group in sorted(by_groups.items(), key=repr)
    )
    return RawCounts(
        submissions=len(current),
        previous_submissions=len(previous),
        crosstab=tuple(
            (key, hit, count) for (key, hit), count in sorted(crosstab.items(), key=repr)
        ),
        values=dict(values),
        previous_values=dict(previous_values),
        by_problem=by_problem,
    )


def normalised(raw: RawCounts, counted_ids: Iterable[str]) -> tuple[Any, ...]:
    """RawCounts in a comparable form: only the questions the digest counts; the order of
    rows and zero counts do not matter."""
    wanted = set(counted_ids)

    def clean(mapping: Any) -> dict[str, dict[Any, int]]:
        return {
            q: {v: c for v, c in counts.items() if c}
            for q, counts in mapping.items()
            if q in wanted and any(counts.values())
        }

    crosstab: Counter[Any] = Counter()
    for key, hit, count in raw.crosstab:
        crosstab[(key, hit)] += count
    return (
        raw.submissions,
        raw.previous_submissions,
        dict(crosstab),
        clean(raw.values),
        clean(raw.previous_values),
        sorted(raw.by_problem, key=repr),
    )


# ---------------------------------------------------------------------------- the checker


def _safe(count: int, k: int) -> bool:
    return count == 0 or count >= k


def _check_partition(
    shown: tuple[Cell, ...], truth: dict[str, int], subsets: list[set[str]], k: int, what: str
) -> None:
    """Every visible cell is true and safe; within each subset whose total a reader knows,
    the hidden cells are none, or at least two adding up to a safe number."""
    by_id = {cell.choice_id: cell for cell in shown}
    for choice_id, count in truth.items():
        cell = by_id.get(choice_id)
        if cell is None:
            assert choice_id == NO_ANSWER and count == 0, f"{what}: {choice_id} missing"
            continue
        if cell.count is not None:
            assert cell.count == count, f"{what}: {choice_id} shows {cell.count}, truth {count}"
            assert _safe(count, k), f"{what}: {choice_id} shows {count} < k={k}"
    for subset in subsets:
        hidden = [c for c in subset if c in by_id and by_id[c].count is None]
        if hidden:
            total = sum(truth[c] for c in hidden)
            assert len(hidden) >= 2, f"{what}: a lone hidden cell {hidden} follows by subtraction"
            assert _safe(total, k), f"{what}: hidden cells {hidden} add up to {total} < k={k}"


def assert_k_anonymous(data: DigestData, items: list[Record], layout: DigestLayout) -> None:
    """No count between 1 and K − 1 is shown or can be derived from what is shown."""
    k = data.k
    current = [r for r in items if r.current]
    previous = [r for r in items if not r.current]
    total = len(current)
    if total < k:
        assert data.submissions is None
        assert data.any_often_share is None
        assert (data.numbers, data.deadline_share, data.measures, data.breakdowns) == (
            (),
            (),
            (),
            (),
        )
        for problem in data.problems:
            assert problem.often_share is None and problem.distribution == ()
            assert problem.mean_impact is None and problem.examples == ()
        return
    assert data.submissions == total >= k

    hits = sum(r.meets_a_problem_often for r in current)
    if data.any_often_share is not None:
        assert _safe(hits, k) and _safe(total - hits, k)
        assert data.any_often_share == hits / total

    for index, problem in enumerate(data.problems):
        given = [r.frequencies[index] for r in current]
        truth = {choice: given.count(choice) for choice in FREQUENCIES if choice is not None}
        truth[NO_ANSWER] = given.count(None)
        often = truth["often"] + truth["very_often"]
        subsets = [set(truth)]
        if problem.often_share is not None:
            assert _safe(often, k) and _safe(total - often, k), f"p{index + 1} share"
            assert problem.often_share == often / total
            subsets += [{"often", "very_often"}, {"never", "sometimes", NO_ANSWER}]
        _check_partition(problem.distribution, truth, subsets, k, f"p{index + 1}")
        if problem.mean_impact is not None:
            impacts = [
                r.impacts[index] for r in current if r.frequencies[index] not in (None, "never")
            ]
            assert len(impacts) >= k
            assert abs(problem.mean_impact - sum(impacts) / len(impacts)) < 1e-9
        if problem.change_points is not None:
            before = [r.frequencies[index] for r in previous]
            before_often = sum(f in HIGH_FREQUENCY for f in before)
            assert len(previous) >= k and problem.often_share is not None
            assert _safe(before_often, k) and _safe(len(previous) - before_often, k)

    for figures in data.numbers:
        attribute = "meetings" if figures.question_id == "meetings_month" else "inspections"
        answered = [getattr(r, attribute) for r in current if getattr(r, attribute) is not None]
        for value in (figures.median, figures.p90):
            if value is not None:
                assert len(answered) >= k
                assert sum(v <= value for v in answered) >= k
                assert sum(v >= value for v in answered) >= k

    if layout.deadline is not None:
        given_deadlines = [r.deadline for r in current]
        truth = {
            choice: given_deadlines.count(choice) for choice in DEADLINES if choice is not None
        }
        truth[NO_ANSWER] = given_deadlines.count(None)
        _check_partition(data.deadline_share, truth, [set(truth)], k, "deadline")

    for item in data.measures:
        assert item.count == sum(item.choice_id in r.measures for r in current) >= k

    for breakdown in data.breakdowns:
        attribute = "unit" if breakdown.question_id == "unit_type" else "post"
        sizes = Counter(getattr(r, attribute) or NO_ANSWER for r in current)
        often_by_group = Counter(
            getattr(r, attribute) or NO_ANSWER for r in current if r.meets_a_problem_often
        )
        assert sum(g.size for g in breakdown.groups) == total
        named = [g for g in breakdown.groups if g.group_id != MERGED]
        merged = [g for g in breakdown.groups if g.group_id == MERGED]
        assert len(merged) <= 1
        for group in breakdown.groups:
            assert group.size >= k, f"{breakdown.question_id}: group of {group.size} shown"
        for group in named:
            assert group.size == sizes[group.group_id]
        merged_often = hits - sum(often_by_group[g.group_id] for g in named)
        rows = [(g, often_by_group[g.group_id]) for g in named]
        rows += [(g, merged_often) for g in merged]
        hidden_often = hidden_rest = hidden_count = 0
        for group, group_often in rows:
            if group.any_often_share is None:
                hidden_count += 1
                hidden_often += group_often
                hidden_rest += group.size - group_often
            else:
                assert _safe(group_often, k) and _safe(group.size - group_often, k)
                assert group.any_often_share == group_often / group.size
        if hidden_count == len(rows):
            # Everything hidden: the hidden sums are the overall ones, so that share is hidden
            # too unless they are safe.
            assert data.any_often_share is None or (
                _safe(hidden_often, k) and _safe(hidden_rest, k)
            )
        elif hidden_count:
            assert hidden_count >= 2, "a lone hidden share follows from the overall one"
            assert _safe(hidden_often, k) and _safe(hidden_rest, k)

    _check_crosstabs(data, current, layout)


def _check_crosstabs(data: DigestData, current: list[Record], layout: DigestLayout) -> None:
    """Every cross-tab uses the breakdown's groups (each at least K); a shown share is true
    and rests on safe counts; within each column of a table the hidden shares are none, or at
    least two whose groups' counts add up to safe numbers (nothing follows by subtraction)."""
    k = data.k
    total = len(current)
    groups_of = {b.question_id: [(g.group_id, g.size) for g in b.groups] for b in data.breakdowns}
    for table in data.crosstabs:
        assert table.breakdown_id in groups_of, "a cross-tab without its breakdown"
        assert [(g.group_id, g.size) for g in table.groups] == groups_of[table.breakdown_id]
        index = table.problem - 1
        attribute = "unit" if table.breakdown_id == "unit_type" else "post"
        often = Counter(
            getattr(r, attribute) or NO_ANSWER
            for r in current
            if r.frequencies[index] in HIGH_FREQUENCY
        )
        all_often = sum(often.values())
        assert _safe(all_often, k) and _safe(total - all_often, k), "problem share unsafe"
        named = [g.group_id for g in table.groups if g.group_id != MERGED]
        counts = [
            (
                group,
                often[group.group_id]
                if group.group_id != MERGED
                else all_often - sum(often[g] for g in named),
            )
            for group in table.groups
        ]
        hidden = [(group, hits) for group, hits in counts if group.often_share is None]
        for group, hits in counts:
            assert group.size >= k
            if group.often_share is not None:
                assert _safe(hits, k) and _safe(group.size - hits, k)
                assert group.often_share == hits / group.size
        assert len(hidden) != 1, f"p{table.problem}: a lone hidden share"
        assert len(hidden) < len(counts), "a table with every share hidden is left out"
        assert _safe(sum(h for _, h in hidden), k)
        assert _safe(sum(g.size - h for g, h in hidden), k)
