"""Properties of `suppress_crosstab` on random tables and K: what a reader holding the shown
cells and the published margins can work out by subtracting along one row or column."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.digest.aggregate import is_safe_count
from bot.digest.crosstab import CrossTabSuppression, suppress_crosstab

Entry = tuple[int, int]


def derived_by_subtraction(
    table: Sequence[Sequence[int]], result: CrossTabSuppression
) -> dict[Entry, int]:
    """Hidden entries a reader can compute, repeating single subtractions until none helps.

    The reader knows every shown cell, every shown row total (column `columns`), every
    column total and the grand total; each row says cells − total = 0, each column says its
    cells add up to its total, the row totals add up to the grand total.
    """
    rows, columns = len(table), len(table[0])
    value = {(i, j): table[i][j] for i in range(rows) for j in range(columns)}
    value.update({(i, columns): sum(table[i]) for i in range(rows)})
    hidden = set(result.hidden_cells) | {(i, columns) for i in result.hidden_row_totals}
    known = {entry: count for entry, count in value.items() if entry not in hidden}
    equations: list[tuple[dict[Entry, int], int]] = []
    for i in range(rows):
        coefficients = {(i, j): 1 for j in range(columns)}
        coefficients[(i, columns)] = -1
        equations.append((coefficients, 0))
    for j in range(columns + 1):
        equations.append(
            ({(i, j): 1 for i in range(rows)}, sum(value[(i, j)] for i in range(rows)))
        )
    derived: dict[Entry, int] = {}
    progress = True
    while progress:
        progress = False
        for coefficients, right in equations:
            unknown = [entry for entry in coefficients if entry not in known]
            if len(unknown) != 1:
                continue
            (entry,) = unknown
            rest = sum(c * known[e] for e, c in coefficients.items() if e != entry)
            known[entry] = derived[entry] = (right - rest) // coefficients[entry]
            progress = True
    return derived


tables = st.integers(1, 5).flatmap(
    lambda rows: st.integers(1, 4).flatmap(
        lambda columns: st.lists(
            st.lists(st.integers(0, 14), min_size=columns, max_size=columns),
            min_size=rows,
            max_size=rows,
        )
    )
)


@settings(max_examples=500)
@given(table=tables, k=st.integers(1, 7))
def test_no_hidden_entry_follows_from_one_line_and_every_shown_figure_is_safe(
    table: list[list[int]], k: int
) -> None:
    result = suppress_crosstab(table, k)
    rows, columns = len(table), len(table[0])
    column_totals = [sum(table[i][j] for i in range(rows)) for j in range(columns)]
    grand = sum(column_totals)
    margins_safe = all(is_safe_count(total, k) for total in (*column_totals, grand))
    if rows >= 2 and margins_safe:
        assert result.complete
    if not result.complete:
        return
    assert derived_by_subtraction(table, result) == {}
    for i, row in enumerate(table):
        n = sum(row)
        if i not in result.hidden_row_totals:
            assert is_safe_count(n, k)
        for j, count in enumerate(row):
            if (i, j) not in result.hidden_cells:
                assert is_safe_count(count, k)
                assert n == 0 or n >= k  # every shown cell rests on a group of at least K
    # What one subtraction gives — a line's hidden sum, where its total is shown — is safe.
    for j in range(columns):
        hidden_sum = sum(table[i][j] for i in range(rows) if (i, j) in result.hidden_cells)
        assert is_safe_count(hidden_sum, k)
    for i, row in enumerate(table):
        if i not in result.hidden_row_totals:
            hidden_sum = sum(c for j, c in enumerate(row) if (i, j) in result.hidden_cells)
            assert is_safe_count(hidden_sum, k)
    hidden_sizes = sum(sum(table[i]) for i in result.hidden_row_totals)
    assert is_safe_count(hidden_sizes, k)


@settings(max_examples=200)
@given(table=tables, k=st.integers(1, 7), forced=st.frozensets(st.integers(0, 4)))
def test_forced_row_totals_stay_hidden_and_are_protected(
    table: list[list[int]], k: int, forced: frozenset[int]
) -> None:
    forced = frozenset(i for i in forced if i < len(table))
    result = suppress_crosstab(table, k, hide_row_totals=forced)
    assert forced <= result.hidden_row_totals
    if result.complete:
        assert derived_by_subtraction(table, result) == {}


def test_the_reader_model_finds_what_one_subtraction_gives() -> None:
    """The checker above is not blind: a lone hidden cell, or a hidden row with one hidden
    row total, is found."""
    lone = CrossTabSuppression(frozenset({(0, 0)}), frozenset(), True)
    assert derived_by_subtraction([[2, 10], [10, 10]], lone) == {(0, 0): 2}
    row = CrossTabSuppression(frozenset({(0, 0), (0, 1)}), frozenset({0}), True)
    assert derived_by_subtraction([[2, 10], [10, 10]], row) == {(0, 0): 2, (0, 1): 10, (0, 2): 12}
