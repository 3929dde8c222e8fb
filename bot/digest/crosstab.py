"""Cross-tabulations of "meets problem N often or more" by a breakdown question, with
complementary suppression against published margins.

A cross-tab is a table of counts: rows are the groups of a breakdown (the choices of
unit_type or post_level, and "not answered"), columns partition each group (for a problem:
meets it often or very often / does not). Its column totals and grand total are published
(they are the digest's overall figures); a row total (the group's n) is published unless
it is hidden here.

The rule (`suppress_crosstab`, K = K_ANONYMITY). Think of the row totals as one more column,
so that every line of the widened table is an equation a reader knows: a row's cells add up
to its total (right-hand side 0 when the total is hidden: cells − total = 0), a column's
cells add up to its published total, and the row totals add up to the grand total.

1. **Small groups.** A row whose n is between 1 and K − 1 is hidden whole: its total and
   every cell. So every shown count and share rests on a group of at least K reports.
2. **Small cells.** A cell between 1 and K − 1 is hidden.
3. **Complements.** While some line has exactly one hidden entry, or (when its right-hand
   side is published) hidden entries adding up to 1 … K − 1, the smallest visible non-zero
   entry of that line is hidden too (a visible zero when it has none). Each round hides one
   more entry, so this reaches a fixed point; a row total hidden as a complement is then
   complemented within its row like any other entry.
4. A share is shown only for a row whose n is at least K and whose count is shown.

What it guarantees: at the fixed point no line has exactly one hidden entry, so no hidden
cell or row total can be worked out by subtracting shown figures from one published total
(one row or one column); and what such a subtraction does give — the sum of a line's hidden
entries — is 0 or at least K.

What it does not guarantee: a reader who combines several lines (solving the equations
together, or bounding each hidden cell by linear programming over all the margins) may
narrow a hidden cell to an interval, and in unlucky tables to a single value; in
particular, hidden entries of a line that add up to 0 are each 0 (counts are not
negative). This rule enumerates no completions; `bot.digest.aggregate.suppress_table`
checks more (every hidden cell can move along a cycle of hidden cells). When a published
column total or the grand total is itself between 1 and K − 1, or the table has a single
row (its cells are then the column totals), nothing here can protect it and `complete`
may be False: the caller must not publish such a table. The same group sizes appear in
the cross-tab of every problem, so `crosstabs_from_counts` hides a group's n in all of
them when any of them hides it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, case, exists, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.digest.aggregate import (
    HIGH_FREQUENCY,
    NO_ANSWER,
    DigestLayout,
    is_safe_count,
    submissions_in_scope,
    with_breakdown_answers,
)
from storage.tables import answers, submissions

Entry = tuple[int, int]
"""(row, column) of the widened table; column == number of columns is the row's total."""


@dataclass(frozen=True)
class CrossTabSuppression:
    """What `suppress_crosstab` hides."""

    hidden_cells: frozenset[tuple[int, int]]
    hidden_row_totals: frozenset[int]
    complete: bool
    """False when a line still had a single hidden entry, or hidden entries adding up to
    1 … K − 1, and nothing left to hide in it (a single-row table, or an unsafe column or
    grand total): the table must not be published."""


def _lines(rows: int, columns: int) -> list[tuple[list[Entry], bool]]:
    """Every line of the widened table, and whether its right-hand side is a figure a reader
    has (column lines always; a row line only while its total is shown, see `_exposed`)."""
    lines: list[tuple[list[Entry], bool]] = [
        ([(i, j) for j in range(columns + 1)], False) for i in range(rows)
    ]
    lines += [([(i, j) for i in range(rows)], True) for j in range(columns + 1)]
    return lines


def suppress_crosstab(
    table: Sequence[Sequence[int]], k: int, *, hide_row_totals: frozenset[int] = frozenset()
) -> CrossTabSuppression:
    """Cells and row totals to hide in `table` (rows = groups, columns partition each group)
    when its column totals and grand total are published. `hide_row_totals` forces some row
    totals hidden (for group sizes another table hides). Pure and deterministic."""
    if k < 1:
        raise ValueError("k must be at least 1")
    if not table or not table[0]:
        return CrossTabSuppression(frozenset(), frozenset(), True)
    columns = len(table[0])
    if any(len(row) != columns for row in table):
        raise ValueError("every row of the table needs the same number of cells")
    if any(count < 0 for row in table for count in row):
        raise ValueError("counts cannot be negative")
    rows = len(table)
    value = {(i, j): table[i][j] for i in range(rows) for j in range(columns)}
    value.update({(i, columns): sum(table[i]) for i in range(rows)})

    hidden: set[Entry] = {(i, columns) for i in hide_row_totals if 0 <= i < rows}
    for i in range(rows):
        if 0 < value[(i, columns)] < k:
            hidden.update((i, j) for j in range(columns + 1))
    hidden.update(cell for cell in value if cell[1] < columns and 0 < value[cell] < k)

    lines = _lines(rows, columns)

    def exposed(line: list[Entry], column_line: bool) -> bool:
        inside = [entry for entry in line if entry in hidden]
        if not inside:
            return False
        if len(inside) == 1:
            return True
        # A row line's sum is known only while its total is shown; then the hidden cells
        # add up to the total minus the shown cells.
        known = column_line or (line[-1] not in hidden)
        return known and not is_safe_count(sum(value[entry] for entry in inside), k)

    complete = True
    while True:
        problem = next((line for line, col in lines if exposed(line, col)), None)
        if problem is None:
            break
        visible = [entry for entry in problem if entry not in hidden]
        nonzero = [entry for entry in visible if value[entry] > 0]
        pool = nonzero or visible
        if not pool:
            complete = False
            break
        hidden.add(min(pool, key=lambda entry: (value[entry], entry)))
    return CrossTabSuppression(
        hidden_cells=frozenset(entry for entry in hidden if entry[1] < columns),
        hidden_row_totals=frozenset(entry[0] for entry in hidden if entry[1] == columns),
        complete=complete,
    )


# ---------------------------------------------------------------------------- from the database


@dataclass(frozen=True)
class CrossRow:
    """One group: `n` (its size), `often` (how many of it meet the problem often or more)
    and `share` (often / n), each None when hidden."""

    group_id: str
    n: int | None
    often: int | None
    share: float | None


@dataclass(frozen=True)
class CrossTab:
    """Problem `problem` ("often or more", answer key `question_key`) by the breakdown
    question `breakdown_id`. `total` is the scope's number of submissions."""

    problem: int
    question_key: str
    breakdown_id: str
    rows: tuple[CrossRow, ...]
    total: int


@dataclass(frozen=True)
class Scope:
    """Which submissions a cross-tab counts."""

    questionnaire_id: str
    first_day: date
    last_day: date
    campaign_id: str | None = None


def crosstab_query(layout: DigestLayout, scope: Scope) -> Select[Any]:
    """One query: submissions counted by (answer to each breakdown question), with, per
    problem, how many of them meet it often or more. At most (choices + 1)² rows."""
    condition = submissions_in_scope(
        scope.questionnaire_id, scope.first_day, scope.last_day, scope.campaign_id
    )
    joined, columns = with_breakdown_answers(layout)
    for index, problem in enumerate(layout.problems):
        often = answers.alias(f"often_{index}")
        meets = exists().where(
            often.c.submission_id == submissions.c.id,
            often.c.question_id.in_((problem.question_id, *problem.earlier_ids)),
            often.c.choice.in_(HIGH_FREQUENCY),
        )
        columns.append(case((meets, 1), else_=0).label(f"often_{index}"))
    inner = select(*columns).select_from(joined).where(condition).subquery("per_submission")
    keys = [inner.c[f"group_{i}"] for i in range(len(layout.breakdowns))]
    sums = [
        func.coalesce(func.sum(inner.c[f"often_{i}"]), 0).label(f"often_{i}")
        for i in range(len(layout.problems))
    ]
    return select(*keys, func.count().label("n"), *sums).group_by(*keys)


def _tabulate(
    layout: DigestLayout, fetched: Sequence[tuple[tuple[str | None, ...], int, tuple[int, ...]]]
) -> list[tuple[list[str], list[int], list[list[int]]]]:
    """Per breakdown: its group ids, their sizes, and per problem the often counts per group."""
    result: list[tuple[list[str], list[int], list[list[int]]]] = []
    for index, (_question_id, choices) in enumerate(layout.breakdowns):
        order = [*choices, NO_ANSWER]
        sizes: dict[str, int] = dict.fromkeys(order, 0)
        often = [dict.fromkeys(order, 0) for _ in layout.problems]
        for groups, n, hits in fetched:
            answer = groups[index]
            group = answer if answer is not None and answer in choices else NO_ANSWER
            sizes[group] += n
            for p, hit in enumerate(hits):
                often[p][group] += hit
        kept = [g for g in order if g != NO_ANSWER or sizes[g] > 0]
        result.append(
            (kept, [sizes[g] for g in kept], [[counts[g] for g in kept] for counts in often])
        )
    return result


def crosstabs_from_counts(
    layout: DigestLayout,
    fetched: Sequence[tuple[tuple[str | None, ...], int, tuple[int, ...]]],
    k: int,
) -> tuple[CrossTab, ...]:
    """Apply `suppress_crosstab` to the counted rows (pure). Below K submissions, or for a
    problem whose overall counts are unsafe, no cross-tab is returned for it. A group size
    hidden in one problem's cross-tab is hidden in the others of its breakdown too."""
    total = sum(n for _, n, _ in fetched)
    if total < k:
        return ()
    made: list[CrossTab] = []
    for (question_id, _choices), (groups, sizes, per_problem) in zip(
        layout.breakdowns, _tabulate(layout, fetched), strict=True
    ):
        tables = {
            p: [[often, size - often] for often, size in zip(counts, sizes, strict=True)]
            for p, counts in enumerate(per_problem)
            if is_safe_count(sum(counts), k) and is_safe_count(total - sum(counts), k)
        }
        forced: frozenset[int] = frozenset()
        while True:
            results = {
                p: suppress_crosstab(t, k, hide_row_totals=forced) for p, t in tables.items()
            }
            union = frozenset().union(*(r.hidden_row_totals for r in results.values()))
            if union == forced:
                break
            forced = union
        for p, result in results.items():
            if not result.complete:
                continue
            problem = layout.problems[p]
            rows = []
            for i, group in enumerate(groups):
                n = None if i in result.hidden_row_totals else sizes[i]
                often = None if (i, 0) in result.hidden_cells else tables[p][i][0]
                share = often / n if n is not None and often is not None and n >= k else None
                rows.append(CrossRow(group, n, often, share))
            made.append(
                CrossTab(problem.number, problem.question_id, question_id, tuple(rows), total)
            )
    return tuple(made)


async def build_crosstabs(
    connection: AsyncConnection, layout: DigestLayout, scope: Scope, *, k: int
) -> tuple[CrossTab, ...]:
    """Every problem's cross-tab by every breakdown question for `scope`, read in one query."""
    width = len(layout.breakdowns)
    fetched: list[tuple[tuple[str | None, ...], int, tuple[int, ...]]] = []
    for item in await connection.execute(crosstab_query(layout, scope)):
        fetched.append(
            (
                tuple(item[:width]),
                int(item[width]),
                tuple(int(hit) for hit in item[width + 1 :]),
            )
        )
    return crosstabs_from_counts(layout, fetched, k)
