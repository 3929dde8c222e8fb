"""Random walks: whatever a respondent presses, the engine keeps its promises.

Each walk mixes valid and invalid answers, skips, Back, ticks, Done, grid cells (and pressing
a chosen cell again), "the rest", edits from the review, jumps to the review and stale
buttons, and checks the invariants after every operation; then a patient respondent finishes,
and the review must be reached within a bounded number of steps. Generated questionnaires
include grids with conditional rows and choices with conditions.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Mapping

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.questionnaire import (
    AnswerValue,
    Draft,
    Engine,
    Outcome,
    Question,
    Questionnaire,
    QuestionStep,
    ReviewStep,
    load_questionnaire,
    row_key,
)
from bot.questionnaire.conditions import holds
from tests.questionnaire.builders import (
    SHIPPED,
    SHIPPED_V1,
    WALKS,
    invalid_answer,
    invalid_cell,
    questionnaires,
    valid_answer,
    valid_cell,
)

SHIPPED_QUESTIONNAIRE = load_questionnaire(SHIPPED)
SHIPPED_V1_QUESTIONNAIRE = load_questionnaire(SHIPPED_V1)

ACTIONS = [
    "answer",
    "answer",
    "answer",
    "invalid",
    "skip",
    "back",
    "toggle",
    "confirm",
    "cell",
    "cell",
    "clear",
    "fill",
    "edit",
    "review",
    "stale",
]


# --- what the questionnaire says, computed independently of the engine ----------------------


class Oracle:
    """What the questionnaire says is offered, computed from its conditions alone (parsed
    once per questionnaire; conditions read only earlier answers, so the kept answers of a
    draft decide every one of them exactly)."""

    def __init__(self, questionnaire: Questionnaire) -> None:
        self.conditions = {q.id: q.condition for q in questionnaire.questions}
        self.rows = {
            q.id: [(row_key(q.id, r.id), r.condition) for r in q.rows]
            for q in questionnaire.questions
        }
        self.choices = {
            q.id: [(c.id, c.condition) for c in q.choices] for q in questionnaire.questions
        }

    def offered_rows(self, question: Question, answers: Mapping[str, AnswerValue]) -> list[str]:
        return [key for key, condition in self.rows[question.id] if holds(condition, answers)]

    def offered_choices(self, question: Question, answers: Mapping[str, AnswerValue]) -> list[str]:
        return [cid for cid, condition in self.choices[question.id] if holds(condition, answers)]

    def asked(self, question: Question, answers: Mapping[str, AnswerValue]) -> bool:
        """Whether the question is asked: its condition holds and it offers something."""
        if not holds(self.conditions[question.id], answers):
            return False
        if question.type == "grid":
            return bool(self.offered_rows(question, answers))
        if question.type in ("single", "multi"):
            return bool(self.offered_choices(question, answers))
        return True


_ORACLES: weakref.WeakKeyDictionary[Engine, Oracle] = weakref.WeakKeyDictionary()


def oracle(engine: Engine) -> Oracle:
    if engine not in _ORACLES:
        _ORACLES[engine] = Oracle(engine.questionnaire)
    return _ORACLES[engine]


def grid_of(key: str) -> str:
    return key.split(".", 1)[0]


def check(engine: Engine, before: Draft | None, outcome: Outcome, action: str) -> None:
    """Invariants that hold after every operation."""
    draft = outcome.draft
    questionnaire = engine.questionnaire
    questions = questionnaire.questions
    relevant = list(engine.relevant_question_ids(draft.answers))
    answers = draft.answers
    said = oracle(engine)

    # relevance follows the conditions of questions, rows and choices
    assert relevant == [q.id for q in questions if said.asked(q, answers)]
    # only relevant answers are held, and they are exactly what would be submitted
    assert answers == engine.relevant_answers(draft)
    assert {grid_of(key) for key in answers} <= set(relevant)
    for key, value in answers.items():
        question = questionnaire.question(grid_of(key))
        if question.type == "grid":
            assert key in said.offered_rows(question, answers)
        elif question.type == "single":
            assert value in said.offered_choices(question, answers)
        elif question.type == "multi":
            assert isinstance(value, list) and set(value) <= set(
                said.offered_choices(question, answers)
            )
    assert not set(draft.skipped) & set(answers)
    assert not set(draft.skipped) & set(draft.done)
    for question_id in draft.skipped:
        question = questionnaire.question(question_id)
        if question.type == "grid":
            assert not any(grid_of(key) == question_id for key in answers)
            assert not any(
                question.row_required(question.row(key.split(".")[1]))
                for key in said.offered_rows(question, answers)
            )
        else:
            assert not question.required
    assert all(questionnaire.question(qid).type == "grid" for qid in draft.done)
    assert set(draft.done) <= set(relevant)

    # the draft is a fixed point of repair and survives JSON storage
    assert engine.resume(draft).draft == draft
    assert Draft.from_json(json.loads(json.dumps(draft.to_json()))) == draft

    step = outcome.step
    assert engine.step(draft) == step
    if isinstance(step, QuestionStep):
        question = step.question
        assert draft.cursor == question.id
        assert question.id in relevant  # never an irrelevant question
        assert 1 <= step.position <= step.total <= len(questions)
        assert 1 <= step.section_position <= step.section_total <= len(questionnaire.sections)
        assert 0.0 <= step.fraction <= 1.0
        assert step.current == answers.get(question.id)
        if question.type == "grid":
            assert [row.key for row in step.rows] == said.offered_rows(question, answers)
            assert all(row.current == answers.get(row.key) for row in step.rows)
            assert step.can_skip is not any(row.required for row in step.rows)
            assert step.can_finish is all(
                row.current is not None or not row.required for row in step.rows
            )
            assert step.offered == ()
        else:
            assert step.rows == ()
            assert step.can_skip is not question.required
            if question.type in ("single", "multi"):
                assert list(step.offered) == said.offered_choices(question, answers)
            assert set(step.pending) <= set(step.offered)
        if question.type != "multi":
            assert step.pending == ()
    else:
        assert isinstance(step, ReviewStep)
        assert draft.cursor is None
        # exactly the relevant questions and offered rows, in order, with the relevant answers
        assert list(dict.fromkeys(item.question.id for item in step.items)) == relevant
        expected_keys = [
            key
            for question in questions
            if question.id in relevant
            for key in (
                said.offered_rows(question, answers) if question.type == "grid" else [question.id]
            )
        ]
        assert [item.key for item in step.items] == expected_keys
        assert {item.key: item.value for item in step.items if item.value is not None} == answers
        for item in step.items:
            required = (
                item.question.required if item.row is None else item.question.row_required(item.row)
            )
            assert item.value is not None or not required
        grouped = [item for _, items in step.sections for item in items]
        assert grouped == list(step.items)

    if before is None:
        return
    if outcome.error is not None:
        assert draft == before  # a refusal changes nothing
        return
    check_kept(engine, before, draft, action)


def check_kept(engine: Engine, before: Draft, draft: Draft, action: str) -> None:
    """Never loses an answer it was not asked to change, unless its question, row or choice
    stopped being offered (then it is gone, or a multi answer keeps its offered picks)."""
    questionnaire = engine.questionnaire
    cursor = before.cursor
    changed: set[str] = set()
    if cursor is not None and action in ("answer", "skip", "confirm", "cell", "clear", "fill"):
        changed = {cursor, *questionnaire.question(cursor).row_keys}
    answers = draft.answers
    said = oracle(engine)
    for key, value in before.answers.items():
        question = questionnaire.question(grid_of(key))
        if key in changed or not said.asked(question, answers):
            continue
        if question.type == "grid":
            if key in said.offered_rows(question, answers):
                assert answers.get(key) == value
            continue
        if question.type == "multi" and isinstance(value, list):
            picks = [c for c in value if c in said.offered_choices(question, answers)]
            assert answers.get(key) == (picks or None)
        elif question.type == "single" and value not in said.offered_choices(question, answers):
            assert key not in answers
        else:
            assert answers.get(key) == value


# --- the respondent -------------------------------------------------------------------------


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
        keys = [target.id, *target.row_keys]
        return engine.edit(draft, data.draw(st.sampled_from(keys)))
    if action == "stale":
        other = data.draw(st.sampled_from(questions))
        current_id = None if question is None else question.id
        if other.type == "grid" and other.id != current_id:
            key = data.draw(st.sampled_from(other.row_keys))
            return engine.answer_cell(draft, key, data.draw(valid_cell(other)))
        if question is not None and other.id == question.id:
            return engine.skip(draft, question_id=other.id + "_old")
        return engine.answer(draft, "x", question_id=other.id)
    if question is None:  # at the review: answering is stale, which the engine must refuse
        return engine.answer(draft, "x")
    if question.type == "grid":
        return act_on_grid(engine, outcome, question, action, data)
    if action == "answer":
        return engine.answer(draft, data.draw(valid_answer(question)), question_id=question.id)
    if action == "invalid":
        return engine.answer(draft, data.draw(invalid_answer(question)))
    if action == "skip":
        return engine.skip(draft, question_id=question.id)
    if action == "toggle":
        choices = [*question.choice_ids, "zz_unknown"]
        return engine.toggle(draft, data.draw(st.sampled_from(choices)))
    if action in ("cell", "clear"):
        return engine.answer_cell(draft, f"{question.id}.r0", 1)
    if action == "fill":
        return engine.fill(draft)
    return engine.confirm(draft, question_id=question.id)


def act_on_grid(
    engine: Engine, outcome: Outcome, question: Question, action: str, data: st.DataObject
) -> Outcome:
    draft = outcome.draft
    step = outcome.step
    assert isinstance(step, QuestionStep)
    row = data.draw(st.sampled_from(step.rows))
    if action in ("answer", "cell"):
        return engine.answer_cell(draft, row.key, data.draw(valid_cell(question)))
    if action == "clear":
        current = row.current if row.current is not None else data.draw(valid_cell(question))
        assert not isinstance(current, list)
        return engine.answer_cell(draft, row.key, current, question_id=question.id)
    if action == "invalid":
        return engine.answer_cell(draft, row.key, data.draw(invalid_cell(question)))
    if action == "toggle":
        return engine.toggle(draft, "c0")
    if action == "skip":
        return engine.skip(draft, question_id=question.id)
    if action == "fill":
        return engine.fill(draft, question_id=question.id)
    return engine.confirm(draft, question_id=question.id)


def plain_answer(question: Question) -> AnswerValue:
    if question.type == "single":
        return question.choice_ids[0]
    if question.type == "multi":
        return [question.choice_ids[-1]]
    if question.type == "text":
        return "例"
    assert question.max is not None
    return question.max


def finish(engine: Engine, outcome: Outcome) -> Outcome:
    """A patient respondent: answers everything plainly. Must reach the review, quickly."""
    bound = 2 * len(engine.questionnaire.questions) + 2
    for _ in range(bound):
        step = outcome.step
        if isinstance(step, ReviewStep):
            return outcome
        question = step.question
        before = outcome.draft
        if question.type == "grid":
            for row in step.rows:
                if row.current is None:
                    cell = question.choice_ids[0] if question.choice_ids else question.min
                    assert cell is not None
                    answered = engine.answer_cell(outcome.draft, row.key, cell)
                    assert answered.error is None
                    check(engine, outcome.draft, answered, "cell")
                    outcome = answered
            before = outcome.draft
            outcome = engine.confirm(before, question_id=question.id)
            assert outcome.error is None
            check(engine, before, outcome, "confirm")
            continue
        if question.type in ("single", "multi"):
            offered = list(step.offered)
            value: AnswerValue = offered[0] if question.type == "single" else [offered[-1]]
        else:
            value = plain_answer(question)
        outcome = engine.answer(before, value, question_id=question.id)
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
    assert isinstance(outcome.step, ReviewStep)
    target = data.draw(st.sampled_from(outcome.step.items))
    edited = engine.edit(outcome.draft, target.key)
    check(engine, outcome.draft, edited, "edit")
    assert isinstance(finish(engine, edited).step, ReviewStep)


@WALKS
@given(st.data())
def test_random_walks_on_the_shipped_questionnaire(data: st.DataObject) -> None:
    random_walk(Engine(SHIPPED_QUESTIONNAIRE), data, length=data.draw(st.integers(0, 40)))


@settings(WALKS, max_examples=80)
@given(st.data())
def test_random_walks_on_version_1_of_the_shipped_questionnaire(data: st.DataObject) -> None:
    random_walk(Engine(SHIPPED_V1_QUESTIONNAIRE), data, length=data.draw(st.integers(0, 30)))


@WALKS
@given(questionnaires(with_grids=True), st.data())
def test_random_walks_on_generated_questionnaires(
    questionnaire: Questionnaire, data: st.DataObject
) -> None:
    random_walk(Engine(questionnaire), data, length=data.draw(st.integers(0, 40)))


# --- forward progress -----------------------------------------------------------------------


class Progress:
    """The progress shown so far in a forward walk: totals never grow, the rest never shrinks."""

    def __init__(self, engine: Engine) -> None:
        self.total = len(engine.questionnaire.questions)
        self.section_total = len(engine.questionnaire.sections)
        self.section_position = 1
        self.fraction = 0.0

    def see(self, step: QuestionStep) -> None:
        assert step.total <= self.total
        assert step.section_total <= self.section_total
        assert step.section_position >= self.section_position
        assert step.fraction >= self.fraction
        self.total, self.section_total = step.total, step.section_total
        self.section_position, self.fraction = step.section_position, step.fraction


def forward_on_grid(
    engine: Engine, outcome: Outcome, progress: Progress, data: st.DataObject
) -> Outcome:
    """Presses on one grid (cells, clearing, the rest), then Done or Skip."""
    question = outcome.step.question  # type: ignore[union-attr]
    for _ in range(data.draw(st.integers(0, 4))):
        step = outcome.step
        assert isinstance(step, QuestionStep)
        if question.fill is not None and data.draw(st.integers(0, 3)) == 0:
            outcome = engine.fill(outcome.draft)
        else:
            row = data.draw(st.sampled_from(step.rows))
            outcome = engine.answer_cell(outcome.draft, row.key, data.draw(valid_cell(question)))
        assert outcome.error is None
        assert isinstance(outcome.step, QuestionStep)
        assert outcome.step.question.id == question.id
        assert outcome.step.position == step.position
        progress.see(outcome.step)
    step = outcome.step
    assert isinstance(step, QuestionStep)
    if step.can_skip and data.draw(st.booleans()):
        return engine.skip(outcome.draft)
    for row in step.rows:
        if row.required and row.current is None:
            outcome = engine.answer_cell(outcome.draft, row.key, data.draw(valid_cell(question)))
            assert outcome.error is None
            progress.see(outcome.step)  # type: ignore[arg-type]
    return engine.confirm(outcome.draft)


def forward_walk(engine: Engine, data: st.DataObject) -> None:
    """Only forward moves: the position counts the questions seen; the totals never grow,
    and the section and the share seen never go back."""
    outcome = engine.start()
    progress = Progress(engine)
    seen = 0
    while isinstance(outcome.step, QuestionStep):
        step = outcome.step
        assert step.position == seen + 1
        progress.see(step)
        question = step.question
        if question.type == "grid":
            outcome = forward_on_grid(engine, outcome, progress, data)
        elif not question.required and data.draw(st.booleans()):
            outcome = engine.skip(outcome.draft)
        elif question.type in ("single", "multi"):
            offered = list(step.offered)
            if question.type == "single":
                outcome = engine.answer(outcome.draft, data.draw(st.sampled_from(offered)))
            else:
                limit = question.max_choices or len(offered)
                picks = data.draw(
                    st.lists(st.sampled_from(offered), min_size=1, max_size=limit, unique=True)
                )
                outcome = engine.answer(outcome.draft, picks)
        else:
            outcome = engine.answer(outcome.draft, data.draw(valid_answer(question)))
        assert outcome.error is None
        seen += 1
    assert isinstance(outcome.step, ReviewStep)
    assert seen == len({item.question.id for item in outcome.step.items})


@WALKS
@given(st.data())
def test_forward_progress_on_the_shipped_questionnaire(data: st.DataObject) -> None:
    forward_walk(Engine(SHIPPED_QUESTIONNAIRE), data)


@WALKS
@given(questionnaires(with_grids=True), st.data())
def test_forward_progress_on_generated_questionnaires(
    questionnaire: Questionnaire, data: st.DataObject
) -> None:
    forward_walk(Engine(questionnaire), data)
