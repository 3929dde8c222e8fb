"""The engine, one behaviour at a time, on the small questionnaire and the shipped one.

small: freq (single, required) → impact (scale 1–5, required) and example (text ≤ 20) if
freq != never → count (number 0–200) → measures (multi, ≤ 2 of a/b/c) → why_c (text,
required) if measures has c and count >= 3.
"""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError, replace
from typing import Any

import pytest

from bot.questionnaire import (
    AnswerValue,
    Draft,
    DraftMismatchError,
    Engine,
    InputError,
    Outcome,
    QuestionStep,
    ReviewStep,
    load_questionnaire,
    parse_questionnaire,
)
from bot.questionnaire.engine import REVIEW_MARK, _changed, clean_text, parse_integer
from tests.questionnaire.builders import SHIPPED_V1, small, small_data, text


@pytest.fixture
def engine() -> Engine:
    return Engine(small())


def ask(outcome: Outcome) -> QuestionStep:
    assert outcome.error is None, outcome.error
    assert isinstance(outcome.step, QuestionStep)
    return outcome.step


def asked_id(outcome: Outcome) -> str:
    return ask(outcome).question.id


def review(outcome: Outcome) -> dict[str, Any]:
    assert outcome.error is None, outcome.error
    assert isinstance(outcome.step, ReviewStep)
    return {item.key: item.value for item in outcome.step.items}


def refused(outcome: Outcome, before: Draft, code: str) -> InputError:
    assert outcome.error is not None
    assert outcome.error.code == code
    assert outcome.draft == before
    return outcome.error


def walk_to_review(engine: Engine) -> Outcome:
    """freq=often, impact=4, example skipped, count=5, measures=[a], → review."""
    o = engine.answer(engine.start().draft, "often")
    o = engine.answer(o.draft, 4)
    o = engine.skip(o.draft)
    o = engine.answer(o.draft, "5")
    o = engine.toggle(o.draft, "a")
    return engine.confirm(o.draft)


# --- start, progress, back ------------------------------------------------------------------


def test_start_asks_the_first_question(engine: Engine) -> None:
    outcome = engine.start()
    step = ask(outcome)
    assert step.question.id == "freq"
    assert (step.position, step.current, step.pending) == (1, None, ())
    assert (step.can_skip, step.can_go_back, step.editing) == (False, False, False)
    assert outcome.draft == Draft("small", 1, cursor="freq")


def test_total_counts_follow_ups_still_possible_and_only_shrinks(engine: Engine) -> None:
    # freq, impact?, example?, count, measures, why_c? — all may still be asked
    assert ask(engine.start()).total == 6
    o = engine.answer(engine.start().draft, "never")
    assert (ask(o).question.id, ask(o).position, ask(o).total) == ("count", 2, 4)
    o = engine.answer(o.draft, 1)  # count < 3: why_c can no longer be asked
    assert (ask(o).question.id, ask(o).position, ask(o).total) == ("measures", 3, 3)


def test_back_at_the_first_question_is_refused(engine: Engine) -> None:
    start = engine.start().draft
    refused(engine.back(start), start, "no_previous")


def test_back_keeps_the_answer_and_shows_it(engine: Engine) -> None:
    o = engine.answer(engine.start().draft, "sometimes")
    o = engine.back(o.draft)
    step = ask(o)
    assert (step.question.id, step.current) == ("freq", "sometimes")
    assert o.draft.answers == {"freq": "sometimes"}
    assert asked_id(engine.answer(o.draft, "sometimes")) == "impact"


def test_back_skips_questions_that_are_no_longer_asked(engine: Engine) -> None:
    o = engine.answer(engine.start().draft, "never")
    assert asked_id(o) == "count"
    assert asked_id(engine.back(o.draft)) == "freq"


# --- required, skip -------------------------------------------------------------------------


def test_required_question_cannot_be_skipped(engine: Engine) -> None:
    draft = engine.start().draft
    refused(engine.skip(draft), draft, "required")


def test_skip_moves_on_and_is_shown_as_skipped(engine: Engine) -> None:
    o = walk_to_review(engine)
    items = review(o)
    assert items == {"freq": "often", "impact": 4, "example": None, "count": 5, "measures": ["a"]}
    assert o.draft.skipped == ("example",)


def test_skipping_an_answered_question_clears_the_answer(engine: Engine) -> None:
    o = engine.answer(engine.start().draft, "often")
    o = engine.answer(o.draft, 2)
    o = engine.answer(o.draft, "写了例子")
    assert o.draft.answers["example"] == "写了例子"
    o = engine.back(o.draft)
    assert ask(o).current == "写了例子"
    o = engine.skip(o.draft)
    assert "example" not in o.draft.answers
    assert "example" in o.draft.skipped


# --- branches -------------------------------------------------------------------------------


def test_leaving_a_branch_drops_its_answers(engine: Engine) -> None:
    o = engine.answer(engine.start().draft, "often")
    o = engine.answer(o.draft, 5)
    o = engine.answer(o.draft, "例子")
    assert set(o.draft.answers) == {"freq", "impact", "example"}
    o = engine.back(engine.back(engine.back(o.draft).draft).draft)
    assert asked_id(o) == "freq"
    o = engine.answer(o.draft, "never")
    assert o.draft.answers == {"freq": "never"}
    assert asked_id(o) == "count"
    assert engine.relevant_answers(o.draft) == {"freq": "never"}


def test_a_stale_answer_never_keeps_a_later_branch_alive() -> None:
    """GlobaLeaks #2506: an answer left in a dead branch must not make its dependants relevant."""
    data = small_data()
    data["sections"][0]["questions"].append(
        {
            "id": "impact_more",
            "type": "text",
            "relevant": "impact >= 4",
            "max_length": 10,
            "label": text("多说", "More"),
        }
    )
    engine = Engine(parse_questionnaire(data, "chain.yaml"))
    stale: dict[str, AnswerValue] = {"freq": "never", "impact": 5, "impact_more": "x"}
    assert not engine.is_relevant("impact", stale)
    assert not engine.is_relevant("impact_more", stale)
    assert engine.is_relevant("impact_more", {"freq": "often", "impact": 5})
    assert engine.relevant_answers(Draft("small", 1, answers=stale)) == {"freq": "never"}


def test_branch_on_multi_and_number(engine: Engine) -> None:
    o = engine.answer(engine.start().draft, "never")
    o = engine.answer(o.draft, "3")
    o = engine.toggle(o.draft, "c")
    o = engine.confirm(o.draft)
    assert asked_id(o) == "why_c"
    o = engine.back(engine.back(o.draft).draft)
    assert asked_id(o) == "count"
    o = engine.answer(o.draft, 2)  # why_c no longer relevant, measures kept
    assert asked_id(o) == "measures"
    assert ask(o).pending == ("c",)
    o = engine.confirm(o.draft)
    assert review(o) == {"freq": "never", "count": 2, "measures": ["c"]}


# --- multi ----------------------------------------------------------------------------------


def at_measures(engine: Engine) -> Draft:
    o = engine.answer(engine.start().draft, "never")
    o = engine.answer(o.draft, 0)
    assert asked_id(o) == "measures"
    return o.draft


def test_toggle_and_confirm_keep_declared_order(engine: Engine) -> None:
    draft = at_measures(engine)
    o = engine.toggle(draft, "c", question_id="measures")
    o = engine.toggle(o.draft, "a", question_id="measures")
    assert ask(o).pending == ("a", "c")
    assert "measures" not in o.draft.answers  # nothing is recorded before Done
    o = engine.confirm(o.draft, question_id="measures")
    assert review(o)["measures"] == ["a", "c"]


def test_toggle_twice_unticks(engine: Engine) -> None:
    o = engine.toggle(at_measures(engine), "b")
    o = engine.toggle(o.draft, "b")
    assert ask(o).pending == ()


def test_max_choices_is_enforced(engine: Engine) -> None:
    o = engine.toggle(at_measures(engine), "a")
    o = engine.toggle(o.draft, "b")
    error = refused(engine.toggle(o.draft, "c"), o.draft, "too_many_choices")
    assert error.params == {"max": 2}
    refused(engine.answer(o.draft, ["a", "b", "c"]), o.draft, "too_many_choices")


def test_toggle_refuses_unknown_choices_and_non_multi_questions(engine: Engine) -> None:
    draft = at_measures(engine)
    refused(engine.toggle(draft, "zz"), draft, "not_a_choice")
    start = engine.start().draft
    refused(engine.toggle(start, "never"), start, "stale")
    refused(engine.confirm(start), start, "stale")


def test_confirm_with_nothing_ticked(engine: Engine) -> None:
    o = engine.confirm(at_measures(engine))
    assert review(o)["measures"] is None
    data = small_data()
    data["sections"][1]["questions"][1]["required"] = True
    strict = Engine(parse_questionnaire(data, "strict.yaml"))
    draft = at_measures(strict)
    refused(strict.confirm(draft), draft, "required")
    refused(strict.answer(draft, []), draft, "required")


def test_returning_to_a_multi_question_preselects_its_answer(engine: Engine) -> None:
    o = engine.confirm(engine.toggle(at_measures(engine), "b").draft)
    o = engine.back(o.draft)
    assert ask(o).pending == ("b",)
    assert ask(o).current == ["b"]


def test_answer_accepts_a_whole_selection(engine: Engine) -> None:
    o = engine.answer(at_measures(engine), ["c", "a", "c"])
    assert review(o)["measures"] == ["a", "c"]


# --- stale buttons --------------------------------------------------------------------------


def test_stale_question_id_is_refused_without_change(engine: Engine) -> None:
    o = engine.answer(engine.start().draft, "often")
    draft = o.draft
    for outcome in (
        engine.answer(draft, "never", question_id="freq"),
        engine.skip(draft, question_id="freq"),
        engine.toggle(draft, "a", question_id="measures"),
        engine.confirm(draft, question_id="measures"),
    ):
        refused(outcome, draft, "stale")
        assert asked_id(Outcome(outcome.draft, outcome.step)) == "impact"
    assert asked_id(engine.answer(draft, 3, question_id="impact")) == "example"


def test_answers_at_the_review_are_stale(engine: Engine) -> None:
    draft = walk_to_review(engine).draft
    refused(engine.answer(draft, "often"), draft, "stale")
    refused(engine.skip(draft), draft, "stale")
    refused(engine.edit(draft, "why_c"), draft, "stale")  # not relevant: cannot be edited
    refused(engine.edit(draft, "nonexistent"), draft, "stale")


# --- numbers, scales, text ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12", 12),
        ("１２", 12),
        ("  7\n", 7),
        ("０", 0),
        ("－３", -3),
        ("\u22123", -3),
        ("+4", 4),
        ("1.5", None),
        ("1_000", None),
        ("一", None),
        ("", None),
        ("3 4", None),
        ("9" * 19, None),
    ],
)
def test_parse_integer(raw: str, expected: int | None) -> None:
    assert parse_integer(raw) == expected


def test_number_answers(engine: Engine) -> None:
    draft = engine.answer(engine.start().draft, "never").draft
    assert engine.answer(draft, "１２").draft.answers["count"] == 12
    assert engine.answer(draft, 200).draft.answers["count"] == 200
    error = refused(engine.answer(draft, "201"), draft, "out_of_range")
    assert error.params == {"min": 0, "max": 200}
    refused(engine.answer(draft, -1), draft, "out_of_range")
    refused(engine.answer(draft, "twelve"), draft, "not_an_integer")
    refused(engine.answer(draft, True), draft, "invalid")
    refused(engine.answer(draft, ["1"]), draft, "invalid")


def test_scale_answers(engine: Engine) -> None:
    draft = engine.answer(engine.start().draft, "often").draft
    assert engine.answer(draft, "５").draft.answers["impact"] == 5
    error = refused(engine.answer(draft, "６"), draft, "out_of_range")
    assert error.params == {"min": 1, "max": 5}
    refused(engine.answer(draft, 0), draft, "out_of_range")


def test_single_answers(engine: Engine) -> None:
    draft = engine.start().draft
    refused(engine.answer(draft, "always"), draft, "not_a_choice")
    refused(engine.answer(draft, 1), draft, "invalid")
    assert engine.answer(draft, " often ").draft.answers["freq"] == "often"


def test_text_answers(engine: Engine) -> None:
    draft = engine.answer(engine.answer(engine.start().draft, "often").draft, 3).draft
    assert engine.answer(draft, "  会太多 \r\n ").draft.answers["example"] == "会太多"
    assert engine.answer(draft, "a\u200bb\x00c").draft.answers["example"] == "abc"
    assert engine.answer(draft, "字" * 20).draft.answers["example"] == "字" * 20
    error = refused(engine.answer(draft, "字" * 21), draft, "too_long")
    assert error.params == {"max": 20, "length": 21}
    refused(engine.answer(draft, "   \n "), draft, "empty")
    refused(engine.answer(draft, ""), draft, "empty")


def test_clean_text_keeps_inner_newlines() -> None:
    assert clean_text(" 第一行\r\n第二行\t完 ") == "第一行\n第二行\t完"


# --- review and edit ------------------------------------------------------------------------


def test_edit_from_review_returns_to_review(engine: Engine) -> None:
    at_review = walk_to_review(engine)
    o = engine.edit(at_review.draft, "count")
    step = ask(o)
    assert (step.question.id, step.current, step.editing, step.can_go_back) == (
        "count",
        5,
        True,
        True,
    )
    o = engine.answer(o.draft, 9)
    assert review(o)["count"] == 9  # straight back: measures is not asked again
    assert o.draft.editing is False
    assert o.draft.history == ()


def test_back_from_an_edit_returns_to_review_unchanged(engine: Engine) -> None:
    at_review = walk_to_review(engine)
    o = engine.edit(at_review.draft, "freq")
    assert o.draft.history == (REVIEW_MARK,)
    o = engine.back(o.draft)
    assert review(o) == review(at_review)
    assert o.draft == at_review.draft


def test_an_edit_that_opens_a_branch_asks_it_before_the_review(engine: Engine) -> None:
    o = engine.answer(engine.start().draft, "never")
    o = engine.answer(o.draft, 8)
    o = engine.answer(o.draft, ["a"])
    assert review(o) == {"freq": "never", "count": 8, "measures": ["a"]}
    o = engine.edit(o.draft, "freq")
    o = engine.answer(o.draft, "often")
    assert asked_id(o) == "impact"
    assert ask(o).editing
    o = engine.answer(o.draft, 2)
    assert asked_id(o) == "example"
    o = engine.skip(o.draft)
    assert review(o) == {
        "freq": "often",
        "impact": 2,
        "example": None,
        "count": 8,
        "measures": ["a"],
    }


def test_back_within_an_edit_then_back_to_review(engine: Engine) -> None:
    o = engine.answer(engine.start().draft, "never")
    o = engine.answer(o.draft, 8)
    at_review = engine.answer(o.draft, ["a"])
    assert isinstance(at_review.step, ReviewStep)
    o = engine.edit(at_review.draft, "freq")
    o = engine.answer(o.draft, "often")
    assert asked_id(o) == "impact"
    o = engine.back(o.draft)
    assert (asked_id(o), ask(o).current) == ("freq", "often")
    # impact is relevant and unanswered, so "back to the review" must ask it first
    o = engine.back(o.draft)
    assert asked_id(o) == "impact"
    assert ask(o).editing


def test_an_edit_that_closes_a_branch_drops_it_from_the_review(engine: Engine) -> None:
    o = engine.edit(walk_to_review(engine).draft, "freq")
    o = engine.answer(o.draft, "never")
    assert review(o) == {"freq": "never", "count": 5, "measures": ["a"]}
    assert o.draft.skipped == ()
    assert engine.relevant_answers(o.draft) == {"freq": "never", "count": 5, "measures": ["a"]}


def test_edit_of_a_multi_question_starts_from_its_answer(engine: Engine) -> None:
    o = engine.edit(walk_to_review(engine).draft, "measures")
    assert ask(o).pending == ("a",)
    o = engine.toggle(o.draft, "b")
    o = engine.confirm(o.draft)
    assert review(o)["measures"] == ["a", "b"]


def test_back_from_review_goes_to_the_last_question(engine: Engine) -> None:
    at_review = walk_to_review(engine)
    o = engine.back(at_review.draft)
    assert asked_id(o) == "measures"
    assert review(engine.confirm(o.draft)) == review(at_review)


def test_to_review_is_refused_while_questions_are_left(engine: Engine) -> None:
    draft = engine.answer(engine.start().draft, "never").draft
    error = refused(engine.to_review(draft), draft, "incomplete")
    assert error.params == {"remaining": 2}  # count and measures
    at_review = walk_to_review(engine)
    assert review(engine.to_review(at_review.draft)) == review(at_review)


def test_review_holds_every_relevant_question_in_order(engine: Engine) -> None:
    o = walk_to_review(engine)
    assert isinstance(o.step, ReviewStep)
    assert [item.key for item in o.step.items] == ["freq", "impact", "example", "count", "measures"]


# --- drafts ---------------------------------------------------------------------------------


def test_draft_round_trips_through_json(engine: Engine) -> None:
    o = engine.toggle(at_measures(engine), "c")
    stored = json.dumps(o.draft.to_json())
    restored = Draft.from_json(json.loads(stored))
    assert restored == o.draft
    assert engine.step(restored) == o.step


@pytest.mark.parametrize(
    "corrupt",
    [
        None,
        [],
        {"format": 2},
        {"version": True},
        {"version": "1"},
        {"questionnaire": 5},
        {"answers": {"freq": True}},
        {"answers": {"freq": ["a", 1]}},
        {"answers": {"freq": {"x": 1}}},
        {"answers": []},
        {"cursor": 3},
        {"editing": "no"},
        {"history": "freq"},
        {"pending": [1]},
        {"skipped": None},
    ],
)
def test_malformed_drafts_are_refused_without_echoing_values(corrupt: Any) -> None:
    good = Draft("small", 1, answers={"freq": "秘密"}, cursor="impact").to_json()
    data = {**good, **corrupt} if isinstance(corrupt, dict) else corrupt
    with pytest.raises(ValueError, match="malformed draft") as caught:
        Draft.from_json(data)
    assert "秘密" not in str(caught.value)


def test_a_draft_from_another_version_is_detected(engine: Engine) -> None:
    old = Draft("small", 0, cursor="freq")
    other = Draft("formalism", 1, cursor="p1_freq")
    assert not engine.accepts(old)
    assert not engine.accepts(other)
    assert engine.accepts(engine.start().draft)
    with pytest.raises(DraftMismatchError):
        engine.answer(old, "often")
    with pytest.raises(DraftMismatchError):
        engine.step(other)


def test_resume_repairs_a_hand_edited_draft(engine: Engine) -> None:
    broken = Draft(
        "small",
        1,
        answers={"freq": "never", "impact": 5, "count": "lots", "ghost": "x", "measures": []},
        cursor="impact",
        history=("freq", "ghost"),
        pending=("a",),
        skipped=("freq", "example"),
    )
    o = engine.resume(broken)
    assert o.draft.answers == {"freq": "never"}
    assert o.draft.skipped == ()
    assert o.draft.cursor == "count"
    assert o.draft.history == ("freq",)
    assert o.draft.pending == ()
    assert engine.resume(o.draft).draft == o.draft


def test_resume_of_an_incomplete_review_asks_what_is_missing(engine: Engine) -> None:
    o = engine.resume(Draft("small", 1, answers={"freq": "never"}, cursor=None))
    assert asked_id(o) == "count"
    assert o.draft.editing


# --- the shipped questionnaire --------------------------------------------------------------


def test_shipped_walk_never_everywhere_is_short() -> None:
    engine = Engine(load_questionnaire(SHIPPED_V1))
    o = engine.start()
    positions = []
    while isinstance(o.step, QuestionStep):
        step = o.step
        positions.append((step.position, step.total))
        if step.question.id.endswith("_freq"):
            o = engine.answer(o.draft, "never", question_id=step.question.id)
        elif step.question.type == "multi":
            o = engine.confirm(engine.toggle(o.draft, "fewer_inspections").draft)
        else:
            o = engine.skip(o.draft, question_id=step.question.id)
        assert o.error is None
    assert positions[0] == (1, 34)
    assert positions[-1] == (16, 16)
    assert [p for p, _ in positions] == list(range(1, 17))
    answers = engine.relevant_answers(o.draft)
    assert answers == {
        **{f"p{n}_freq": "never" for n in range(1, 10)},
        "measures": ["fewer_inspections"],
    }


def test_shipped_follow_ups_only_when_the_problem_was_met() -> None:
    engine = Engine(load_questionnaire(SHIPPED_V1))
    draft = engine.skip(engine.skip(engine.start().draft).draft).draft
    o = engine.answer(draft, "often")
    assert asked_id(o) == "p1_impact"
    assert (ask(o).position, ask(o).total) == (4, 34)
    o = engine.answer(o.draft, "４")
    o = engine.answer(o.draft, "每周三个会，传达同一份文件")
    assert asked_id(o) == "p2_freq"
    o = engine.answer(o.draft, "never")
    assert (asked_id(o), ask(o).position, ask(o).total) == ("p3_freq", 7, 32)


def test_a_changed_draft_is_a_copy_like_replace_and_refuses_unknown_fields() -> None:
    draft = Draft("q", 1, {"a": "x"}, cursor="a", history=("start",))
    moved = _changed(draft, cursor="b", history=("start", "a"))
    assert moved == replace(draft, cursor="b", history=("start", "a"))
    assert (draft.cursor, draft.history) == ("a", ("start",))  # the original is untouched
    with pytest.raises(FrozenInstanceError):
        moved.cursor = "c"  # type: ignore[misc]
    with pytest.raises(TypeError, match="cursr"):
        _changed(draft, cursr="b")
