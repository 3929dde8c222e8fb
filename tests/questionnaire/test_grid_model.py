"""The grid parts of the model: rows, their keys and labels, and the answer fields that
digests and exports iterate over."""

from __future__ import annotations

import pytest

from bot.questionnaire import AnswerField, parse_questionnaire, row_key
from tests.questionnaire.builders import grid_data, grids, small


def test_row_key_joins_grid_and_row_with_a_dot() -> None:
    assert row_key("freq", "p3") == "freq.p3"


def test_a_grid_knows_its_rows() -> None:
    freq = grids().question("freq")
    assert freq.row_keys == ("freq.p1", "freq.p2", "freq.p3")
    assert freq.row("p2").id == "p2"
    assert freq.row_label("p1", "en") == "Meetings"
    assert freq.row_label("p1", "zh-CN") == "文山会海"
    assert freq.row_label("p1", "fr") == "文山会海"  # the default locale
    assert [freq.row_required(row) for row in freq.rows] == [True, True, False]
    assert freq.cells_are_choices
    assert not grids().question("impact").cells_are_choices
    assert not grids().question("examples").cells_are_choices
    assert grids().question("count").row_keys == ()
    with pytest.raises(KeyError):
        freq.row("p9")


def test_row_and_choice_conditions_are_parsed_once() -> None:
    questionnaire = grids()
    row = questionnaire.question("impact").row("p1")
    assert row.condition is row.condition
    assert row.condition is not None
    choice = questionnaire.question("examples").choices[0]
    assert choice.condition is not None and choice.condition is choice.condition
    assert questionnaire.question("freq").row("p1").condition is None


def test_answer_fields_list_every_stored_key_in_asking_order() -> None:
    questionnaire = grids()
    fields = questionnaire.answer_fields
    assert [f.key for f in fields] == [
        "freq.p1",
        "freq.p2",
        "freq.p3",
        "impact.p1",
        "impact.p2",
        "impact.p3",
        "examples",
        "worst",
        "count",
    ]
    assert [f.type for f in fields] == [
        *["single"] * 3,
        *["scale"] * 3,
        "multi",
        "text",
        "number",
    ]
    assert questionnaire.text_question_ids == {"worst"}


def test_an_answer_field_of_a_row_reads_like_its_question() -> None:
    questionnaire = grids()
    row = questionnaire.answer_field("freq.p1")
    assert isinstance(row, AnswerField)
    assert (row.question.id, row.row and row.row.id, row.section.id) == ("freq", "p1", "problems")
    assert row.label_for("en") == "Meetings"
    assert row.choice_ids == ("never", "sometimes", "often")
    assert row.choice_label("often", "en") == "Often"
    scale = questionnaire.answer_field("impact.p2")
    assert (scale.min, scale.max, scale.label_for("en")) == (1, 5, "Problem p2")
    plain = questionnaire.answer_field("count")
    assert (plain.row, plain.label_for("en"), plain.min, plain.max) == (None, "Count", 0, 10)
    assert plain.section.id == "details"


def test_has_answer_field_and_unknown_keys() -> None:
    questionnaire = grids()
    assert questionnaire.has_answer_field("impact.p3")
    assert not questionnaire.has_answer_field("freq")  # a grid itself holds no answer
    assert not questionnaire.has_answer_field("freq.p9")
    with pytest.raises(KeyError, match="no answer field"):
        questionnaire.answer_field("freq")


def test_a_questionnaire_without_grids_has_one_field_per_question() -> None:
    questionnaire = small()
    assert [f.key for f in questionnaire.answer_fields] == [q.id for q in questionnaire.questions]
    assert all(f.row is None for f in questionnaire.answer_fields)


def test_a_grid_round_trips_through_its_data() -> None:
    parsed = grids()
    dumped = parsed.model_dump(mode="json", exclude_none=True)
    again = parse_questionnaire(dumped, "again.yaml")
    assert again.model_dump(mode="json", exclude_none=True) == dumped
    assert again.question("freq").fill == grid_data()["sections"][0]["questions"][0]["fill"]
    assert again.question("impact").row("p2").relevant == "freq.p2 == often"
