"""Cross-tabs of "often or more" by a breakdown question: the suppression rule on hand-made
tables, and the counts read from the database (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from bot.anonymity.crypto import TextCipher
from bot.digest.aggregate import NO_ANSWER, DigestLayout, ProblemType
from bot.digest.crosstab import (
    CrossRow,
    CrossTab,
    Scope,
    build_crosstabs,
    crosstabs_from_counts,
    suppress_crosstab,
)
from bot.questionnaire import Questionnaire
from storage.database import Database
from tests.digest import dataset
from tests.digest.dataset import WEEK

K = 5


def test_a_single_small_cell_gets_a_complement_in_its_row_and_its_column() -> None:
    result = suppress_crosstab([[2, 10], [10, 10], [10, 10]], K)
    # (0, 0) is below K; its row gives (0, 1), its column (1, 0), and column 1 then (1, 1).
    assert result.hidden_cells == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert result.hidden_row_totals == frozenset()
    assert result.complete


def test_a_table_without_small_figures_hides_nothing() -> None:
    result = suppress_crosstab([[5, 10], [0, 7], [6, 6]], K)
    assert result.hidden_cells == frozenset() and result.hidden_row_totals == frozenset()


def test_a_group_below_k_is_hidden_whole_and_its_size_complemented() -> None:
    result = suppress_crosstab([[1, 2], [10, 10], [10, 10]], K)
    # Row 0 (n = 3) loses its total and cells; the grand total would give its n back, so
    # another row total (row 1, the first of the two smallest) is hidden, then row 1's cells.
    assert 0 in result.hidden_row_totals
    assert result.hidden_row_totals == {0, 1}
    assert result.hidden_cells == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert result.complete


def test_complements_propagate_across_rows_and_columns_to_a_fixed_point() -> None:
    # staff [1 often, 5 not], middle [5, 0], other [1, 0] (n = 1).
    result = suppress_crosstab([[1, 5], [5, 0], [1, 0]], K)
    # Column "often" hides 1 + 1 = 2 < K, so middle's 5 goes too; middle's row then has a
    # single hidden cell and only a zero besides, so its total (5) is hidden as complement.
    assert result.hidden_cells == {(0, 0), (0, 1), (1, 0), (2, 0), (2, 1)}
    assert result.hidden_row_totals == {1, 2}
    assert result.complete


def test_a_zero_is_hidden_as_a_complement_only_when_nothing_else_is_left() -> None:
    result = suppress_crosstab([[0, 3, 9], [0, 9, 9]], K)
    assert (0, 0) not in result.hidden_cells and (1, 0) not in result.hidden_cells


def test_a_forced_row_total_is_complemented_like_any_other() -> None:
    result = suppress_crosstab([[6, 6], [7, 7], [8, 8]], K, hide_row_totals=frozenset({2}))
    assert result.hidden_row_totals == {0, 2}  # the grand total needs a second hidden n
    assert {(0, 0), (2, 0)} <= result.hidden_cells  # each hidden n needs a hidden cell


def test_a_single_row_cannot_be_protected() -> None:
    assert not suppress_crosstab([[2, 9]], K).complete
    assert suppress_crosstab([[6, 9]], K).complete


def test_invalid_tables_are_refused() -> None:
    with pytest.raises(ValueError):
        suppress_crosstab([[1, 2], [3]], K)
    with pytest.raises(ValueError):
        suppress_crosstab([[-1, 2]], K)
    with pytest.raises(ValueError):
        suppress_crosstab([[1, 2]], 0)


def _layout(problems: int = 1) -> DigestLayout:
    """A layout with `problems` problems and one breakdown (groups a, b, c)."""
    return DigestLayout(
        questionnaire_id="q",
        problems=tuple(
            ProblemType(n, f"p{n}_freq", "s", ("never", "often"), None, None, None)
            for n in range(1, problems + 1)
        ),
        breakdowns=(("unit", ("a", "b", "c")),),
        numbers=(),
        deadline=None,
        measures=None,
    )


def test_a_group_size_hidden_for_one_problem_is_hidden_for_every_problem() -> None:
    # Groups a (10), b (10), c (10); problem 1 is small in a, problem 2 in nothing.
    fetched = [(("a",), 10, (2, 5)), (("b",), 10, (5, 5)), (("c",), 10, (6, 5))]
    tabs = crosstabs_from_counts(_layout(2), fetched, K)
    assert [tab.problem for tab in tabs] == [1, 2]
    sizes = [[row.n for row in tab.rows] for tab in tabs]
    assert sizes[0] == sizes[1]
    second = tabs[1]
    assert all(row.share == 0.5 for row in second.rows)


def test_shares_only_for_shown_groups_of_at_least_k() -> None:
    fetched = [(("a",), 10, (5,)), (("b",), 10, (5,)), (("c",), 3, (3,)), ((None,), 7, (0,))]
    (tab,) = crosstabs_from_counts(_layout(), fetched, K)
    by_group = {row.group_id: row for row in tab.rows}
    assert tab.total == 30
    assert by_group["c"] == CrossRow("c", None, None, None)
    assert [row.group_id for row in tab.rows] == ["a", "b", "c", NO_ANSWER]
    for row in tab.rows:
        if row.share is not None:
            assert row.n is not None and row.often is not None and row.n >= K
            assert row.share == row.often / row.n


def test_below_k_submissions_or_an_unsafe_overall_count_gives_no_crosstab() -> None:
    assert crosstabs_from_counts(_layout(), [(("a",), 4, (2,))], K) == ()
    # Overall "often" is 3 (< K): the published column total is unsafe.
    assert crosstabs_from_counts(_layout(), [(("a",), 10, (3,)), (("b",), 10, (0,))], K) == ()


async def test_crosstabs_from_the_database(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire
) -> None:
    await dataset.store_dataset(database, cipher, questionnaire)
    layout = DigestLayout.from_questionnaire(questionnaire)
    scope = Scope(questionnaire.id, WEEK.first_day, WEEK.last_day)
    async with database.engine.connect() as connection:
        tabs = await build_crosstabs(connection, layout, scope, k=K)
        one_day = Scope(questionnaire.id, WEEK.first_day, WEEK.first_day + timedelta(days=0))
        assert await build_crosstabs(connection, layout, one_day, k=K) == ()
        other = Scope(questionnaire.id, WEEK.first_day, WEEK.last_day, campaign_id="none")
        assert await build_crosstabs(connection, layout, other, k=K) == ()
    found = {(tab.problem, tab.breakdown_id): tab for tab in tabs}
    # p1: s1–s5 (district_dept) "sometimes", s6–s12 "often"; town_street 3, village 2,
    # unit not given 2: those groups are below K and hidden whole. p9's cross-tab hides
    # district_dept's n as a complement (its "not often" column: 0 + 0 + 1 hidden), so
    # p1's does too, and with it one cell of that row.
    assert found[(1, "unit_type")] == CrossTab(
        problem=1,
        question_key="p1_freq",
        breakdown_id="unit_type",
        rows=(
            CrossRow("district_dept", None, 0, None),
            CrossRow("town_street", None, None, None),
            CrossRow("village_community", None, None, None),
            CrossRow("other", 0, 0, None),
            CrossRow(NO_ANSWER, None, None, None),
        ),
        total=12,
    )
    # Counted for p1 alone, district_dept is shown; post_level: staff 6 (1 often), middle 5
    # (5 often), other 1 (1 often): the column "often" hides 1 + 1 < K, so middle's 5 goes,
    # and middle's row has nothing but a zero left, so its n goes too.
    alone = dataclasses.replace(layout, problems=layout.problems[:1])
    async with database.engine.connect() as connection:
        first = {
            tab.breakdown_id: tab for tab in await build_crosstabs(connection, alone, scope, k=K)
        }
    assert first["unit_type"].rows[0] == CrossRow("district_dept", 5, 0, 0.0)
    assert first["unit_type"].rows[1:] == found[(1, "unit_type")].rows[1:]
    assert first["post_level"].rows == (
        CrossRow("leadership", 0, 0, None),
        CrossRow("middle", None, None, None),
        CrossRow("staff", 6, None, None),
        CrossRow("other", None, None, None),
    )
    # p6 is never met often: its overall "often" is 0, every shown group shares 0.
    assert all(row.share in (None, 0.0) for row in found[(6, "unit_type")].rows)
    # p3 is met often by 3 (< K) overall: no cross-tab.
    assert (3, "unit_type") not in found
    for tab in tabs:
        assert tab.total == 12
        for row in tab.rows:
            assert row.n is None or row.n == 0 or row.n >= K
            assert row.often is None or row.often == 0 or row.often >= K
