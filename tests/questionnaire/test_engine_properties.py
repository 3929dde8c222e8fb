"""Random walks: whatever a respondent presses, the engine keeps its promises.

Each walk mixes valid and invalid answers, skips, Back, ticks, Done, edits from the review,
jumps to the review and stale buttons, and checks the invariants after every operation; then a
patient respondent finishes, and the review must be reached within a bounded number of steps.
"""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from bot.questionnaire import (
    Draft,
    Engine,
    Outcome,
    Questionnaire,
    QuestionStep,
    ReviewStep,
    load_questionnaire,
)
from tests.questionnaire.builders import (
    SHIPPED,
    WALKS,
    invalid_answer,
    questionnaires,
    valid_answer,
)

SHIPPED_QUESTIONNAIRE = load_questionnaire(SHIPPED)

ACTIONS = [
    "answer",
    "answer",
    "answer",
    "invalid",
    "skip",
    "back",
    "toggle",
    "confirm",
    "edit",
    "review",
    "stale",
]
CHANGES_CURSOR_ANSWER = {"answer", "skip", "confirm"}


def check(engine: Engine, before: Draft | None, outcome: Outcome, action: str) -> None:
    """Invariants that hold after every operation."""
    draft = outcome.draft
    questions = engine.questionnaire.questions
    relevant = list(engine.relevant_question_ids(draft.answers))

    # only relevant answers are held, and they are exactly what would be submitted
    assert draft.answers == engine.relevant_answers(draft)
    assert set(draft.answers) <= set(relevant)
    assert not set(draft.skipped) & set(draft.answers)
    assert all(not engine.questionnaire.question(q).required for q in draft.skipped)

    # the draft is a fixed point of repair and survives JSON storage
    assert engine.resume(draft).draft == draft
    assert Draft.from_json(json.loads(json.dumps(draft.to_json()))) == draft

    step = outcome.step
    assert engine.step(draft) == step
    if isinstance(step, QuestionStep):
        assert draft.cursor == step.question.id
        assert step.question.id in relevant  # never an irrelevant question
        assert 1 <= step.position <= step.total <= len(questions)
        assert step.current == draft.answers.get(step.question.id)
        assert step.can_skip is not step.question.required
        if step.question.type != "multi":
            assert step.pending == ()
    else:
        assert isinstance(step, ReviewStep)
        assert draft.cursor is None
        # exactly the relevant questions, in order, with exactly the relevant answers
        assert [q.id for q, _ in step.items] == relevant
        assert {q.id: v for q, v in step.items if v is not None} == draft.answers
        assert all(v is not None for q, v in step.items if q.required)

    if before is None:
        return
    if outcome.error is not None:
        assert draft == before  # a refusal changes nothing
        return
    # never loses a relevant answer it was not asked to change
    changed = before.cursor if action in CHANGES_CURSOR_ANSWER else None
    for question_id, value in before.answers.items():
        if question_id != changed and question_id in relevant:
            assert draft.answers.get(question_id) == value


def act(engine: Engine, outcome: Outcome, action: str, data: st.DataObject) -> Outcome:
    draft = outcome.draft
    step = outcome.step
    questions = engine.questionnaire.questions
    question = step.question if isinstance(step, QuestionStep) else None
    if action == "back":
        return engine.back(draft)
    if action == "review":
        return engine.to_review(draft)
    if action == "edit":
        target = data.draw(st.sampled_from(questions))
        return engine.edit(draft, target.id)
    if action == "stale":
        other = data.draw(st.sampled_from(questions))
        if question is not None and other.id == question.id:
            return engine.skip(draft, question_id=other.id + "_old")
        return engine.answer(draft, "x", question_id=other.id)
    if question is None:  # at the review: answering is stale, which the engine must refuse
        return engine.answer(draft, "x")
    if action == "answer":
        return engine.answer(draft, data.draw(valid_answer(question)), question_id=question.id)
    if action == "invalid":
        return engine.answer(draft, data.draw(invalid_answer(question)))
    if action == "skip":
        return engine.skip(draft, question_id=question.id)
    if action == "toggle":
        choices = [*question.choice_ids, "zz_unknown"]
        return engine.toggle(draft, data.draw(st.sampled_from(choices)))
    return engine.confirm(draft, question_id=question.id)


def finish(engine: Engine, outcome: Outcome) -> Outcome:
    """A patient respondent: answers everything plainly. Must reach the review, quickly."""
    bound = 2 * len(engine.questionnaire.questions) + 2
    for _ in range(bound):
        step = outcome.step
        if isinstance(step, ReviewStep):
            return outcome
        question = step.question
        if question.type in ("single", "multi"):
            value: object = (
                question.choice_ids[0] if question.type == "single" else [question.choice_ids[-1]]
            )
        elif question.type == "text":
            value = "例"
        else:
            value = question.max
        before = outcome.draft
        outcome = engine.answer(before, value, question_id=question.id)  # type: ignore[arg-type]
        assert outcome.error is None
        check(engine, before, outcome, "answer")
    raise AssertionError(f"no review after {bound} answers")


def random_walk(engine: Engine, data: st.DataObject, length: int) -> None:
    outcome = engine.start()
    check(engine, None, outcome, "start")
    for _ in range(length):
        action = data.draw(st.sampled_from(ACTIONS))
        before = outcome.draft
        outcome = act(engine, outcome, action, data)
        check(engine, before, outcome, action)
    outcome = finish(engine, outcome)
    # and from the review, editing anything comes back to a review
    target = data.draw(st.sampled_from([q for q, _ in outcome.step.items]))  # type: ignore[union-attr]
    edited = engine.edit(outcome.draft, target.id)
    check(engine, outcome.draft, edited, "edit")
    check_finishes(engine, edited)


def check_finishes(engine: Engine, outcome: Outcome) -> None:
    assert isinstance(finish(engine, outcome).step, ReviewStep)


@WALKS
@given(st.data())
def test_random_walks_on_the_shipped_questionnaire(data: st.DataObject) -> None:
    random_walk(Engine(SHIPPED_QUESTIONNAIRE), data, length=data.draw(st.integers(0, 40)))


@WALKS
@given(questionnaires(), st.data())
def test_random_walks_on_generated_questionnaires(
    questionnaire: Questionnaire, data: st.DataObject
) -> None:
    random_walk(Engine(questionnaire), data, length=data.draw(st.integers(0, 40)))


def forward_walk(engine: Engine, data: st.DataObject) -> None:
    """Only forward moves: the position counts the questions seen, the total never grows."""
    outcome = engine.start()
    seen = 0
    last_total = len(engine.questionnaire.questions)
    while isinstance(outcome.step, QuestionStep):
        step = outcome.step
        assert step.position == seen + 1
        assert step.total <= last_total
        last_total = step.total
        if not step.question.required and data.draw(st.booleans()):
            outcome = engine.skip(outcome.draft)
        else:
            outcome = engine.answer(outcome.draft, data.draw(valid_answer(step.question)))
        assert outcome.error is None
        seen += 1
    assert isinstance(outcome.step, ReviewStep)
    assert seen == len(outcome.step.items)


@WALKS
@given(st.data())
def test_forward_progress_on_the_shipped_questionnaire(data: st.DataObject) -> None:
    forward_walk(Engine(SHIPPED_QUESTIONNAIRE), data)


@WALKS
@given(questionnaires(), st.data())
def test_forward_progress_on_generated_questionnaires(
    questionnaire: Questionnaire, data: st.DataObject
) -> None:
    forward_walk(Engine(questionnaire), data)
