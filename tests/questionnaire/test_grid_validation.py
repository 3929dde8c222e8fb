"""Every rule for grids, rows and choice conditions is reported with the file, the question and
what to fix; the rules questions already follow apply to rows and choices too."""

from __future__ import annotations

from typing import Any

from bot.questionnaire import collect_problems, parse_questionnaire
from tests.questionnaire.builders import grid_data, text


def problems(data: object) -> list[str]:
    return [str(problem) for problem in collect_problems(data, "grids.yaml")]


def question(data: dict[str, Any], question_id: str) -> dict[str, Any]:
    for section in data["sections"]:
        for raw in section["questions"]:
            if raw["id"] == question_id:
                return raw  # type: ignore[no-any-return]
    raise KeyError(question_id)


def rows_of(count: int) -> list[dict[str, Any]]:
    """Rows p1…p<count> (the conditions of grid_data name p1–p3)."""
    return [{"id": f"p{n}", "label": text(f"行{n}", f"Row {n}")} for n in range(1, count + 1)]


def test_the_grid_questionnaire_is_valid() -> None:
    assert problems(grid_data()) == []
    parsed = parse_questionnaire(grid_data(), "grids.yaml")
    assert parsed.question("freq").type == "grid"


# --- the grid itself ------------------------------------------------------------------------


def test_grid_without_rows() -> None:
    data = grid_data()
    question(data, "freq")["rows"] = []
    assert "grids.yaml: freq: grid question has no rows" in problems(data)


def test_duplicate_row_ids() -> None:
    data = grid_data()
    question(data, "freq")["rows"][2]["id"] = "p1"
    assert "grids.yaml: freq: duplicate row id 'p1'" in problems(data)


def test_row_label_missing_a_locale() -> None:
    data = grid_data()
    del question(data, "freq")["rows"][1]["label"]["en"]
    assert problems(data) == ["grids.yaml: freq: rows[1] 'p2' label: missing translation for en"]


def test_row_id_that_is_a_keyword() -> None:
    data = grid_data()
    question(data, "freq")["rows"][0]["id"] = "answered"
    assert "grids.yaml: freq: row id 'answered' is a reserved word; rename it" in problems(data)


def test_grid_with_both_choices_and_a_range() -> None:
    data = grid_data()
    question(data, "freq").update(min=1, max=5)
    assert problems(data) == [
        "grids.yaml: freq: grid question has both choices and min/max; cells are one or the other"
    ]


def test_grid_with_neither_choices_nor_a_range() -> None:
    data = grid_data()
    impact = question(data, "impact")
    for key in ("min", "max", "min_label", "max_label"):
        del impact[key]
    assert problems(data) == [
        "grids.yaml: impact: grid question needs either choices or min and max for its cells"
    ]


def test_fill_that_is_not_a_choice() -> None:
    data = grid_data()
    question(data, "freq")["fill"] = "rarely"
    assert problems(data) == ["grids.yaml: freq: fill 'rarely' is not one of the choices"]


def test_fill_on_an_integer_grid() -> None:
    data = grid_data()
    question(data, "impact")["fill"] = "never"
    assert problems(data) == [
        "grids.yaml: impact: fill only works on grids with choices, not on min/max grids"
    ]


def test_integer_grid_follows_the_scale_rules() -> None:
    data = grid_data()
    question(data, "impact").update(min=0, max=11)
    del question(data, "impact")["max_label"]["en"]
    assert problems(data) == [
        "grids.yaml: impact: a scale of 12 points is too long; at most 11 fit",
        "grids.yaml: impact: max_label: missing translation for en",
    ]


def test_cells_of_a_grid_cannot_have_conditions() -> None:
    data = grid_data()
    question(data, "freq")["choices"][0]["relevant"] = "answered(count)"
    assert problems(data) == [
        "grids.yaml: freq: choices[0] 'never': the cells of a grid cannot have a condition; "
        "put it on the row"
    ]


def test_grid_choices_follow_the_choice_rules() -> None:
    data = grid_data()
    question(data, "freq")["choices"][1]["id"] = "never"
    del question(data, "freq")["choices"][2]["label"]["en"]
    assert problems(data)[:2] == [
        "grids.yaml: freq: choices[2] 'often' label: missing translation for en",
        "grids.yaml: freq: duplicate choice id 'never'",
    ]


def test_rows_and_fill_do_not_apply_to_other_types() -> None:
    data = grid_data()
    question(data, "count").update(rows=rows_of(2), fill="never")
    assert problems(data) == [
        "grids.yaml: count: 'rows' does not apply to number questions",
        "grids.yaml: count: 'fill' does not apply to number questions",
    ]


def test_more_buttons_than_telegram_shows() -> None:
    data = grid_data()
    question(data, "freq")["rows"] = rows_of(32)  # 32 × 3 + 6 = 102
    assert problems(data) == [
        "grids.yaml: freq: grid of 32 rows × 3 cells needs 102 buttons with navigation; "
        "Telegram shows at most 100: use fewer rows or cells, or split the grid"
    ]
    question(data, "freq")["rows"] = rows_of(31)  # 99
    assert problems(data) == []


def test_callback_data_over_64_bytes() -> None:
    data = grid_data()
    grid = question(data, "freq")
    grid["choices"][1]["id"] = "sometimes_but_rarely_yes"  # the longest cell: 24 bytes
    grid["rows"].append({"id": "r" * 24, "label": text("长", "Long")})
    # s:cell: (7) + freq (4) + . (1) + the row (24) + : (1) + the cell (24) = 61
    assert problems(data) == []
    grid["id"] = "frequency"  # 66
    for raw in [*question(data, "impact")["rows"], *question(data, "examples")["choices"]]:
        raw["relevant"] = raw["relevant"].replace("freq.", "frequency.")
    assert problems(data) == [
        f"grids.yaml: frequency: row {'r' * 24!r}: its buttons need 66 bytes of callback data; "
        "Telegram allows 64: shorten the grid, row or choice ids"
    ]


# --- conditions naming rows -----------------------------------------------------------------


def test_condition_naming_an_unknown_row() -> None:
    data = grid_data()
    question(data, "count")["relevant"] = "freq.p99 == often"
    assert problems(data) == ["grids.yaml: count: relevant: grid 'freq' has no row 'p99'"]


def test_condition_naming_an_unknown_choice_of_a_row() -> None:
    data = grid_data()
    question(data, "count")["relevant"] = "freq.p3 == sometimez"
    assert problems(data) == ["grids.yaml: count: relevant: 'freq.p3' has no choice 'sometimez'"]


def test_condition_on_a_row_fits_the_kind_of_cell() -> None:
    data = grid_data()
    question(data, "count")["relevant"] = "freq.p1 >= 2 or impact.p1 == often or freq.p2 has x"
    assert problems(data) == [
        "grids.yaml: count: relevant: 'freq.p1' is a choice question; '>=' needs a scale or "
        "number question",
        "grids.yaml: count: relevant: 'impact.p1' is a scale question; compare it with a "
        "number, not 'often'",
        "grids.yaml: count: relevant: 'has' only works on multi-choice questions; 'freq.p2' is "
        "single",
    ]


def test_row_references_work_in_every_form() -> None:
    data = grid_data()
    question(data, "count")["relevant"] = (
        "freq.p3 in [often, sometimes] or freq.p3 != never or answered(freq.p3) "
        "or impact.p3 >= 4 or not answered(impact.p2)"
    )
    assert problems(data) == []


def test_condition_naming_a_grid_without_a_row() -> None:
    data = grid_data()
    question(data, "count")["relevant"] = "answered(freq)"
    assert problems(data) == [
        "grids.yaml: count: relevant: 'freq' is a grid; name one of its rows, e.g. freq.p1"
    ]


def test_row_reference_to_a_question_that_is_not_a_grid() -> None:
    data = grid_data()
    question(data, "count")["relevant"] = "examples.p1 == often"
    assert problems(data) == [
        "grids.yaml: count: relevant: 'examples' is not a grid; only a row of a grid question "
        "is named as examples.<row>"
    ]


def test_condition_naming_a_row_of_an_unknown_question() -> None:
    data = grid_data()
    question(data, "count")["relevant"] = "ghost.p1 == often"
    assert problems(data) == ["grids.yaml: count: relevant: unknown question 'ghost'"]


def test_row_condition_naming_its_own_grid() -> None:
    data = grid_data()
    question(data, "freq")["rows"][2]["relevant"] = "freq.p1 == often"
    assert problems(data) == [
        "grids.yaml: freq: rows[2] 'p3' relevant: a row cannot depend on its own grid"
    ]


def test_row_condition_naming_a_later_question() -> None:
    data = grid_data()
    question(data, "impact")["rows"][0]["relevant"] = "count >= 2"
    assert problems(data) == [
        "grids.yaml: impact: rows[0] 'p1' relevant: 'count' comes later; conditions may only "
        "use questions asked before"
    ]


def test_row_condition_syntax_error() -> None:
    data = grid_data()
    question(data, "impact")["rows"][0]["relevant"] = "freq.p1 = often"
    assert problems(data) == [
        "grids.yaml: impact: rows[0] 'p1' relevant: syntax error: unexpected character '=' "
        "(did you mean '=='?) at column 9 in 'freq.p1 = often'"
    ]


# --- choice conditions ----------------------------------------------------------------------


def test_choice_condition_naming_a_later_question() -> None:
    data = grid_data()
    question(data, "examples")["choices"][0]["relevant"] = "count >= 1"
    assert problems(data) == [
        "grids.yaml: examples: choices[0] 'p1' relevant: 'count' comes later; conditions may "
        "only use questions asked before"
    ]


def test_choice_condition_naming_its_own_question() -> None:
    data = grid_data()
    question(data, "examples")["choices"][0]["relevant"] = "examples has p2"
    assert problems(data) == [
        "grids.yaml: examples: choices[0] 'p1' relevant: a question cannot depend on itself"
    ]


def test_choice_condition_naming_an_unknown_question_or_choice() -> None:
    data = grid_data()
    question(data, "examples")["choices"][0]["relevant"] = "ghost == x"
    question(data, "examples")["choices"][1]["relevant"] = "freq.p2 == rarely"
    assert problems(data) == [
        "grids.yaml: examples: choices[0] 'p1' relevant: unknown question 'ghost'",
        "grids.yaml: examples: choices[1] 'p2' relevant: 'freq.p2' has no choice 'rarely'",
    ]


def test_dotted_names_are_not_choice_values() -> None:
    data = grid_data()
    question(data, "count")["relevant"] = "freq.p1 == freq.p2"
    assert problems(data) == [
        "grids.yaml: count: relevant: syntax error: expected a choice id or an integer after "
        "'==', found 'freq.p2' at column 12 in 'freq.p1 == freq.p2'"
    ]


def test_two_rows_cannot_be_the_same_earlier_answer() -> None:
    data = grid_data()
    rows = question(data, "freq")["rows"]
    rows[0]["same_as"] = "p1_freq"
    rows[1]["same_as"] = "p1_freq"
    assert (
        "grids.yaml: freq: two rows are the same_as 'p1_freq'; an earlier answer is one row's"
        in problems(data)
    )


def test_same_as_must_name_an_earlier_version_not_this_one() -> None:
    data = grid_data()
    question(data, "freq")["rows"][0]["same_as"] = "freq"
    assert any("same_as 'freq' is a question of this version" in p for p in problems(data))


def test_a_row_may_name_the_earlier_question_it_continues() -> None:
    data = grid_data()
    question(data, "freq")["rows"][0]["same_as"] = "p1_freq"
    assert problems(data) == []
    parsed = parse_questionnaire(data, "grids.yaml")
    assert parsed.answer_field("freq.p1").same_as == "p1_freq"
    assert parsed.answer_field("freq.p2").same_as is None
