"""Grids, row conditions and choice conditions in the engine, one behaviour at a time.

grids: freq (choice grid, required, fill never; rows p1 p2 required, p3 optional) → impact
(1–5 grid, optional, row pN when freq.pN == often) | examples (multi, choice pN when
freq.pN != never) → worst (text, when impact.p1 >= 4) → count (number 0–10).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.questionnaire import (
    Draft,
    Engine,
    InputError,
    Outcome,
    QuestionStep,
    ReviewStep,
    parse_questionnaire,
    row_key,
)
from tests.questionnaire.builders import grid_data, grids


@pytest.fixture
def engine() -> Engine:
    return Engine(grids())


def ask(outcome: Outcome) -> QuestionStep:
    assert outcome.error is None, outcome.error
    assert isinstance(outcome.step, QuestionStep)
    return outcome.step


def asked_id(outcome: Outcome) -> str:
    return ask(outcome).question.id


def rows(outcome: Outcome) -> dict[str, Any]:
    """The rows on screen: key → current answer."""
    return {row.key: row.current for row in ask(outcome).rows}


def review(outcome: Outcome) -> dict[str, Any]:
    assert outcome.error is None, outcome.error
    assert isinstance(outcome.step, ReviewStep)
    return {item.key: item.value for item in outcome.step.items}


def refused(outcome: Outcome, before: Draft, code: str) -> InputError:
    assert outcome.error is not None
    assert outcome.error.code == code
    assert outcome.draft == before
    return outcome.error


def cells(engine: Engine, draft: Draft, **values: str | int) -> Outcome:
    """Answer rows of the grid on screen (row id → value), asserting each is accepted."""
    current = engine.resume(draft)
    for row_id, value in values.items():
        question = ask(current).question
        current = engine.answer_cell(current.draft, row_key(question.id, row_id), value)
        assert current.error is None, current.error
    return current


def at_impact(engine: Engine, p1: str = "often", p2: str = "sometimes", p3: str = "often") -> Draft:
    o = cells(engine, engine.start().draft, p1=p1, p2=p2, p3=p3)
    o = engine.confirm(o.draft, question_id="freq")
    assert asked_id(o) == "impact"
    return o.draft


def to_review(engine: Engine) -> Outcome:
    """freq p1 often, p2 sometimes, p3 often; impact p1 4, p3 skipped; examples [p1];
    worst "会多"; count 2."""
    o = cells(engine, at_impact(engine), p1=4)
    o = engine.confirm(o.draft)
    o = engine.confirm(engine.toggle(o.draft, "p1").draft)
    o = engine.answer(o.draft, "会多")
    return engine.answer(o.draft, 2)


# --- one grid -------------------------------------------------------------------------------


def test_a_grid_shows_its_rows_and_needs_every_required_row(engine: Engine) -> None:
    step = ask(engine.start())
    assert step.question.id == "freq"
    assert [(row.key, row.current, row.required) for row in step.rows] == [
        ("freq.p1", None, True),
        ("freq.p2", None, True),
        ("freq.p3", None, False),
    ]
    assert (step.can_finish, step.can_skip, step.current, step.offered) == (False, False, None, ())


def test_answer_cell_records_a_row_and_stays_on_the_grid(engine: Engine) -> None:
    start = engine.start().draft
    o = engine.answer_cell(start, "freq.p2", "often", question_id="freq")
    assert asked_id(o) == "freq"
    assert rows(o) == {"freq.p1": None, "freq.p2": "often", "freq.p3": None}
    assert o.draft.answers == {"freq.p2": "often"}
    assert o.draft.history == ()
    o = engine.answer_cell(o.draft, "freq.p2", "never")  # another cell replaces the answer
    assert o.draft.answers == {"freq.p2": "never"}


def test_answer_cell_refuses_what_is_not_on_screen(engine: Engine) -> None:
    start = engine.start().draft
    refused(engine.answer_cell(start, "impact.p1", 3), start, "stale")
    refused(engine.answer_cell(start, "freq.p9", "often"), start, "stale")
    refused(engine.answer_cell(start, "freq.p1", "often", question_id="impact"), start, "stale")
    refused(engine.answer_cell(start, "freq", "often"), start, "stale")
    refused(engine.answer_cell(start, "freq.p1", "daily"), start, "not_a_choice")
    refused(engine.answer_cell(start, "freq.p1", 2), start, "not_a_choice")


def test_an_integer_grid_takes_numbers_and_digits_within_range(engine: Engine) -> None:
    draft = at_impact(engine)
    o = engine.answer_cell(draft, "impact.p1", "４")
    assert o.draft.answers["impact.p1"] == 4
    refused(engine.answer_cell(draft, "impact.p1", 6), draft, "out_of_range")
    assert refused(engine.answer_cell(draft, "impact.p1", "0"), draft, "out_of_range").params == {
        "min": 1,
        "max": 5,
    }
    refused(engine.answer_cell(draft, "impact.p1", "many"), draft, "not_an_integer")
    refused(engine.answer_cell(draft, "impact.p2", 3), draft, "stale")  # p2 is not offered


def test_pressing_the_chosen_cell_clears_an_optional_row_only(engine: Engine) -> None:
    o = cells(engine, engine.start().draft, p1="often", p3="sometimes")
    o = engine.answer_cell(o.draft, "freq.p3", "sometimes")
    assert rows(o)["freq.p3"] is None
    assert "freq.p3" not in o.draft.answers
    o = engine.answer_cell(o.draft, "freq.p1", "often")  # a required row keeps its answer
    assert rows(o)["freq.p1"] == "often"


def test_fill_answers_every_unanswered_row_with_the_fill_choice(engine: Engine) -> None:
    o = cells(engine, engine.start().draft, p2="often")
    o = engine.fill(o.draft, question_id="freq")
    assert asked_id(o) == "freq"
    assert rows(o) == {"freq.p1": "never", "freq.p2": "often", "freq.p3": "never"}
    assert ask(o).can_finish


def test_fill_is_stale_without_a_fill_choice(engine: Engine) -> None:
    draft = at_impact(engine)
    refused(engine.fill(draft), draft, "stale")
    refused(engine.fill(engine.start().draft, question_id="impact"), engine.start().draft, "stale")


def test_done_on_an_incomplete_grid_says_how_many_rows_are_left(engine: Engine) -> None:
    o = cells(engine, engine.start().draft, p1="often")
    error = refused(engine.confirm(o.draft, question_id="freq"), o.draft, "incomplete")
    assert error.params == {"remaining": 1}  # p2; p3 is optional


def test_done_on_a_complete_grid_moves_on_and_marks_it_done(engine: Engine) -> None:
    o = cells(engine, engine.start().draft, p1="often", p2="never")
    o = engine.confirm(o.draft, question_id="freq")
    assert asked_id(o) == "impact"
    assert o.draft.done == ("freq",)
    assert o.draft.history == ("freq",)
    assert [row.key for row in ask(o).rows] == ["impact.p1"]  # only problems met often


def test_a_grid_with_a_required_row_cannot_be_skipped(engine: Engine) -> None:
    start = engine.start().draft
    refused(engine.skip(start), start, "required")


def test_skipping_a_grid_drops_its_rows_and_moves_on(engine: Engine) -> None:
    o = cells(engine, at_impact(engine), p1=5)
    assert ask(o).can_skip
    o = engine.skip(o.draft, question_id="impact")
    assert asked_id(o) == "examples"
    assert "impact.p1" not in o.draft.answers
    assert o.draft.skipped == ("impact",)


def test_an_optional_grid_is_done_with_no_row_answered(engine: Engine) -> None:
    o = engine.confirm(at_impact(engine))
    assert asked_id(o) == "examples"
    assert o.draft.done == ("freq", "impact")


def test_answer_and_toggle_do_not_apply_to_a_grid(engine: Engine) -> None:
    start = engine.start().draft
    refused(engine.answer(start, "often"), start, "invalid")
    refused(engine.toggle(start, "often"), start, "stale")


# --- relevance of rows and choices ----------------------------------------------------------


def test_a_grid_with_no_row_offered_and_a_multi_with_no_choice_offered_are_not_asked(
    engine: Engine,
) -> None:
    o = engine.fill(engine.start().draft)
    o = engine.confirm(o.draft)
    assert asked_id(o) == "count"
    assert engine.relevant_question_ids(o.draft.answers) == ("freq", "count")


def test_only_the_choices_whose_condition_holds_are_offered(engine: Engine) -> None:
    o = engine.confirm(at_impact(engine, p2="never"))
    assert asked_id(o) == "examples"
    assert ask(o).offered == ("p1", "p3")
    refused(engine.toggle(o.draft, "p2"), o.draft, "not_a_choice")
    refused(engine.answer(o.draft, ["p2"]), o.draft, "not_a_choice")


def test_a_single_question_drops_a_pick_no_longer_offered() -> None:
    data = grid_data()
    examples = data["sections"][1]["questions"][0]
    examples["type"] = "single"
    engine = Engine(parse_questionnaire(data, "single.yaml"))
    o = engine.answer(engine.confirm(at_impact(engine)).draft, "p3")
    assert o.draft.answers["examples"] == "p3"
    o = engine.edit(o.draft, "freq")
    o = engine.answer_cell(o.draft, "freq.p3", "never")
    assert "examples" not in o.draft.answers  # the pick is gone at once
    o = engine.confirm(o.draft)
    assert asked_id(o) == "examples"  # and the question is asked again
    assert ask(o).offered == ("p1", "p2")


def test_a_frequency_change_drops_the_dead_rows_and_picks_at_once(engine: Engine) -> None:
    o = to_review(engine)
    assert review(o)["impact.p1"] == 4
    o = engine.edit(o.draft, "freq.p1")
    assert (asked_id(o), ask(o).editing) == ("freq", True)
    o = engine.answer_cell(o.draft, "freq.p1", "never")
    assert "impact.p1" not in o.draft.answers
    assert "worst" not in o.draft.answers  # it hung on impact.p1
    assert "examples" not in o.draft.answers  # its only pick, p1, is no longer offered
    assert engine.relevant_answers(o.draft) == {
        "freq.p1": "never",
        "freq.p2": "sometimes",
        "freq.p3": "often",
        "count": 2,
    }


def test_an_edit_that_opens_a_row_asks_the_grid_again_before_the_review(engine: Engine) -> None:
    o = engine.edit(to_review(engine).draft, "freq")
    o = engine.answer_cell(o.draft, "freq.p2", "often")
    o = engine.confirm(o.draft)
    assert asked_id(o) == "impact"  # a new row, impact.p2, is waiting
    assert rows(o) == {"impact.p1": 4, "impact.p2": None, "impact.p3": None}
    o = engine.confirm(o.draft)
    assert review(o)["impact.p2"] is None


def test_an_edit_that_changes_nothing_returns_to_the_review(engine: Engine) -> None:
    o = engine.edit(to_review(engine).draft, "impact")
    o = engine.answer_cell(o.draft, "impact.p3", 2)
    o = engine.confirm(o.draft)
    assert review(o)["impact.p3"] == 2


# --- back, review, progress ----------------------------------------------------------------


def test_back_into_a_grid_returns_to_it_with_its_row_answers(engine: Engine) -> None:
    draft = at_impact(engine)
    o = engine.back(cells(engine, draft, p1=3).draft)
    assert asked_id(o) == "freq"
    assert rows(o) == {"freq.p1": "often", "freq.p2": "sometimes", "freq.p3": "often"}
    o = engine.confirm(o.draft)
    assert rows(o) == {"impact.p1": 3, "impact.p3": None}  # kept while Back went elsewhere


def test_the_review_lists_every_offered_row_and_question_by_section(engine: Engine) -> None:
    o = to_review(engine)
    assert isinstance(o.step, ReviewStep)
    assert review(o) == {
        "freq.p1": "often",
        "freq.p2": "sometimes",
        "freq.p3": "often",
        "impact.p1": 4,
        "impact.p3": None,
        "examples": ["p1"],
        "worst": "会多",
        "count": 2,
    }
    first = o.step.items[0]
    assert (first.section.id, first.question.id, first.row and first.row.id) == (
        "problems",
        "freq",
        "p1",
    )
    assert o.step.items[5].row is None
    assert [(s.id, [i.key for i in items]) for s, items in o.step.sections] == [
        ("problems", ["freq.p1", "freq.p2", "freq.p3", "impact.p1", "impact.p3"]),
        ("details", ["examples", "worst", "count"]),
    ]
    assert list(engine.relevant_answers(o.draft)) == [
        "freq.p1",
        "freq.p2",
        "freq.p3",
        "impact.p1",
        "examples",
        "worst",
        "count",
    ]


def test_progress_counts_sections_and_the_share_seen(engine: Engine) -> None:
    step = ask(engine.start())
    assert (step.position, step.total, step.section_position, step.section_total) == (1, 5, 1, 2)
    assert step.fraction == 0.0
    o = engine.confirm(engine.fill(engine.start().draft).draft)  # nothing met: 2 questions left
    step = ask(o)
    assert (step.question.id, step.position, step.total) == ("count", 2, 2)
    assert (step.section_position, step.section_total, step.fraction) == (2, 2, 0.5)
    o = engine.confirm(at_impact(engine))
    step = ask(o)
    assert (step.question.id, step.position, step.section_position) == ("examples", 3, 2)
    assert step.fraction == pytest.approx(2 / step.total)


def test_row_answers_before_done_do_not_change_the_count(engine: Engine) -> None:
    start = ask(engine.start())
    o = cells(engine, engine.start().draft, p1="never", p2="never", p3="never")
    assert (ask(o).total, ask(o).fraction) == (start.total, start.fraction)


# --- drafts and estimates -------------------------------------------------------------------


def test_a_draft_with_grids_round_trips_through_json(engine: Engine) -> None:
    o = cells(engine, at_impact(engine), p1=2)
    stored = json.loads(json.dumps(o.draft.to_json()))
    assert stored["done"] == ["freq"]
    assert stored["answers"]["impact.p1"] == 2
    restored = Draft.from_json(stored)
    assert restored == o.draft
    assert engine.step(restored) == o.step


def test_a_draft_stored_before_grids_reads_as_none_done() -> None:
    stored = Draft("small", 1, answers={"freq": "often"}, cursor="impact").to_json()
    del stored["done"]
    assert Draft.from_json(stored).done == ()
    with pytest.raises(ValueError, match="malformed draft: done"):
        Draft.from_json({**stored, "done": "freq"})


def test_resume_repairs_grid_answers_and_marks(engine: Engine) -> None:
    broken = Draft(
        "grids",
        1,
        answers={"freq.p1": "often", "freq.p2": "daily", "freq.p9": "often", "impact.p1": 9},
        cursor="impact",
        done=("freq", "impact"),
        skipped=("freq",),
    )
    o = engine.resume(broken)
    assert o.draft.answers == {"freq.p1": "often"}
    assert o.draft.done == ("impact",)  # not freq: its required row p2 is now unanswered
    assert o.draft.skipped == ()  # a grid with required rows cannot stay skipped
    assert asked_id(o) == "impact"
    assert engine.resume(o.draft).draft == o.draft


def test_estimated_minutes_is_at_least_one_and_grows_with_the_work() -> None:
    assert Engine(grids()).estimated_minutes() == 1
    data = grid_data()
    data["sections"][1]["questions"][1].update(required=True, relevant=None)
    data["sections"][1]["questions"].append(
        {
            "id": "story",
            "type": "text",
            "required": True,
            "max_length": 100,
            "label": {"zh-CN": "经过", "en": "Story"},
        }
    )
    # freq 4 + 3 × 4, impact 4 + 3 × 2 (conditional rows), examples 10 / 2 (every choice
    # conditional), worst 60, story 60, count 10: 161 s
    assert Engine(parse_questionnaire(data, "long.yaml")).estimated_minutes() == 3
