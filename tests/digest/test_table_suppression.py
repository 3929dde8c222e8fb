"""Complementary suppression of a table with published margins, checked by brute force.

For random small tables, every completion of the hidden cells that agrees with the shown
cells and the row, column and grand totals is enumerated; each hidden cell must take at
least two values among them (so nothing published determines it), and in every row and
column the hidden cells must be none, or at least two adding up to 0 or at least K.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.digest.aggregate import is_safe_count, suppress_table

Table = list[list[int]]


def completions(
    table: Sequence[Sequence[int]], hidden: frozenset[tuple[int, int]]
) -> Iterator[Table]:
    """Every table of non-negative integers with the same shown cells and the same row and
    column totals as `table` (the grand total follows from them)."""
    rows, columns = len(table), len(table[0])
    row_totals = [sum(row) for row in table]
    column_totals = [sum(table[i][j] for i in range(rows)) for j in range(columns)]

    def fill(i: int, room: list[int], done: list[list[int]]) -> Iterator[Table]:
        if i == rows:
            if all(left == 0 for left in room):
                yield [list(row) for row in done]
            return
        open_cells = [j for j in range(columns) if (i, j) in hidden]
        shown = [table[i][j] for j in range(columns) if (i, j) not in hidden]
        left = row_totals[i] - sum(shown)
        for values in _compositions(left, len(open_cells)):
            row = [table[i][j] for j in range(columns)]
            for j, value in zip(open_cells, values, strict=True):
                row[j] = value
            rest = [room[j] - row[j] for j in range(columns)]
            if min(rest) < 0:
                continue
            yield from fill(i + 1, rest, [*done, row])

    yield from fill(0, list(column_totals), [])


def _compositions(total: int, parts: int) -> Iterator[tuple[int, ...]]:
    if parts == 0:
        if total == 0:
            yield ()
        return
    for cut in itertools.combinations(range(total + parts - 1), parts - 1):
        bounds = (-1, *cut, total + parts - 1)
        yield tuple(bounds[n + 1] - bounds[n] - 1 for n in range(parts))


def determined_cells(
    table: Sequence[Sequence[int]], hidden: frozenset[tuple[int, int]]
) -> set[tuple[int, int]]:
    """Hidden cells that take one value only across all consistent completions."""
    seen: dict[tuple[int, int], set[int]] = {cell: set() for cell in hidden}
    for completion in completions(table, hidden):
        for i, j in hidden:
            seen[(i, j)].add(completion[i][j])
        if all(len(values) >= 2 for values in seen.values()):
            return set()
    return {cell for cell, values in seen.items() if len(values) < 2}


def margins_safe(table: Sequence[Sequence[int]], k: int) -> bool:
    rows = [sum(row) for row in table]
    columns = [sum(column) for column in zip(*table, strict=True)]
    return all(is_safe_count(total, k) for total in (*rows, *columns))


tables = st.integers(2, 4).flatmap(
    lambda rows: st.integers(2, 3).flatmap(
        lambda columns: st.lists(
            st.lists(st.integers(0, 7), min_size=columns, max_size=columns),
            min_size=rows,
            max_size=rows,
        )
    )
)


@settings(max_examples=400, deadline=None)
@given(table=tables, k=st.integers(2, 5))
def test_no_hidden_cell_follows_from_the_published_cells_and_totals(table: Table, k: int) -> None:
    result = suppress_table(table, k)
    cells = {(i, j) for i in range(len(table)) for j in range(len(table[0]))}

    # Every shown cell is 0 or at least K.
    for i, j in cells - result.hidden:
        assert is_safe_count(table[i][j], k), f"cell {(i, j)} = {table[i][j]} shown"

    if not result.complete:
        # Only a published total below K can defeat it, and then everything is hidden.
        assert result.hidden == cells
        assert not margins_safe(table, k)
        return

    lines = [[(i, j) for j in range(len(table[0]))] for i in range(len(table))]
    lines += [[(i, j) for i in range(len(table))] for j in range(len(table[0]))]
    for line in lines:
        inside = [cell for cell in line if cell in result.hidden]
        if inside:
            assert len(inside) >= 2, f"a lone hidden cell {inside} in line {line}"
            assert is_safe_count(sum(table[i][j] for i, j in inside), k)

    assert determined_cells(table, result.hidden) == set()


@settings(max_examples=200, deadline=None)
@given(table=tables, k=st.integers(2, 5))
def test_with_safe_totals_the_suppression_always_holds(table: Table, k: int) -> None:
    if margins_safe(table, k):
        assert suppress_table(table, k).complete


def test_a_hand_worked_table() -> None:
    # Groups × (meets a problem often, does not), K = 5: staff 1/5 and the merged group 6/0.
    # The 1 is hidden; its row partner 5, then the other row's 6 (the column) and its 0.
    result = suppress_table([[1, 5], [6, 0]], 5)
    assert result.complete
    assert result.hidden == {(0, 0), (0, 1), (1, 0), (1, 1)}
    # Nothing small: nothing hidden.
    assert suppress_table([[0, 5], [7, 0]], 5).hidden == frozenset()
    # 2 and 3 in one column: each row takes its smallest other cell (5, 6), which closes a
    # cycle of four hidden cells; the third row stays visible.
    result = suppress_table([[2, 9, 5], [3, 8, 6], [9, 9, 9]], 5)
    assert result.hidden == {(0, 0), (0, 2), (1, 0), (1, 2)}


def test_completions_are_enumerated_correctly() -> None:
    # 2 × 2 with everything hidden: the totals (3, 3 | 3, 3) allow (a, 3 − a / 3 − a, a).
    found = list(completions([[1, 2], [2, 1]], frozenset({(0, 0), (0, 1), (1, 0), (1, 1)})))
    assert sorted(row[0][0] for row in found) == [0, 1, 2, 3]
    assert determined_cells([[1, 2], [2, 1]], frozenset({(0, 1), (1, 0)})) == {(0, 1), (1, 0)}
