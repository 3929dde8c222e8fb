"""The pure questionnaire engine: a draft goes in, a new draft and the next screen come out.

No I/O and no Telegram here, so every path a respondent can take is testable in isolation and
the handlers stay thin. A `Draft` is the whole in-progress state and is JSON-safe, so it can
live in FSM storage (keyed by a pseudonym, never by a Telegram id).

Rules the engine keeps after every operation:

* Relevance is recomputed from scratch. Answers (and skips) of questions that are no longer
  relevant are dropped at once, so a branch the respondent left can never leak into a
  submission (the classic GlobaLeaks #2506 failure). The same holds one level down: a grid
  row or a choice whose condition no longer holds is not offered, and its answer or pick is
  dropped; a grid with no row offered, or a choice question with no choice offered, is not
  asked at all.
* A question is *seen* once it is answered or explicitly skipped; a grid once it is confirmed
  with Done (`Draft.done`) or skipped. The review is shown only when every relevant question
  is seen, so a branch that opens up during an edit is asked before the respondent gets back
  to the review (a seen grid that gains an unanswered row is asked again, too).
* Required questions (and grids with a required row offered) cannot be skipped; a draft can
  never hold an irrelevant question as cursor.

`history` is the stack of screens that led to the current one (question ids, and
`REVIEW_MARK` for the review) and drives Back. When it runs dry Back falls back to the
previous relevant question in asking order, which is where a plain forward walk came from.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Final, TypeAlias

from bot.questionnaire.conditions import (
    AnswerValue,
    Condition,
    Evaluator,
    compile_condition,
    referenced_questions,
)
from bot.questionnaire.model import Question, Questionnaire, Row, Section, row_key

REVIEW_MARK: Final = "*review"
"""History entry for the review screen; cannot clash with a question id ([a-z][a-z0-9_]*)."""

DRAFT_FORMAT: Final = 1

_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
# Control characters are invisible on a phone and break exports; keep newlines and tabs.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_MEMO_SIZE: Final = 4
_ROW_STEPS_KEPT: Final = 10_000

JsonObject: TypeAlias = dict[str, object]
_MemoKey: TypeAlias = tuple[tuple[str, ...], tuple[type, ...], tuple[object, ...]]
# One guarded part of a question (a row of a grid, a choice): its condition (compiled; None
# when it has none) and what it reads.
_Part: TypeAlias = tuple[Evaluator | None, frozenset[str]]
_NOTHING_OPEN: Final[frozenset[str]] = frozenset()

# Seconds a typical respondent spends on one question of each type (see estimated_minutes).
_SECONDS: Final[dict[str, float]] = {"single": 6, "scale": 6, "multi": 10, "number": 10}
_GRID_SECONDS: Final = 4.0
_REQUIRED_TEXT_SECONDS: Final = 60.0


class DraftMismatchError(ValueError):
    """The draft belongs to another questionnaire or version; start over instead."""


@dataclass(frozen=True)
class Draft:
    """Everything about one respondent's unfinished questionnaire, and nothing about them.

    A grid's row answers live in `answers` under their row keys ("grid.row")."""

    questionnaire_id: str
    version: int
    answers: dict[str, AnswerValue] = field(default_factory=dict)
    cursor: str | None = None  # question being asked; None = the review
    history: tuple[str, ...] = ()  # screens that led here (for Back)
    editing: bool = False  # came from the review: once answered, return to the review
    pending: tuple[str, ...] = ()  # multi-choice selections not yet confirmed
    skipped: tuple[str, ...] = ()  # optional questions explicitly skipped, in asking order
    done: tuple[str, ...] = ()  # grids confirmed with Done, in asking order

    def to_json(self) -> JsonObject:
        """Plain JSON types only (json.dumps-able), for FSM storage."""
        return {
            "format": DRAFT_FORMAT,
            "questionnaire": self.questionnaire_id,
            "version": self.version,
            "answers": {
                qid: list(value) if isinstance(value, list) else value
                for qid, value in self.answers.items()
            },
            "cursor": self.cursor,
            "history": list(self.history),
            "editing": self.editing,
            "pending": list(self.pending),
            "skipped": list(self.skipped),
            "done": list(self.done),
        }

    @classmethod
    def from_json(cls, data: object) -> Draft:
        """Rebuild a draft from `to_json` output; ValueError (naming no values) if malformed.

        A draft stored before grids existed has no "done" and reads as none confirmed."""
        if not isinstance(data, Mapping) or data.get("format") != DRAFT_FORMAT:
            raise ValueError("malformed draft: not a draft of a known format")
        questionnaire_id = data.get("questionnaire")
        version = data.get("version")
        if not isinstance(questionnaire_id, str):
            raise ValueError("malformed draft: questionnaire")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ValueError("malformed draft: version")
        raw_answers = data.get("answers")
        if not isinstance(raw_answers, Mapping):
            raise ValueError("malformed draft: answers")
        answers: dict[str, AnswerValue] = {}
        for qid, value in raw_answers.items():
            kind = value.__class__
            if (kind is str or kind is int) and qid.__class__ is str:  # most, without a call
                answers[qid] = value
                continue
            if not isinstance(qid, str) or not _is_answer_value(value):
                raise ValueError("malformed draft: answers")
            answers[qid] = list(value) if isinstance(value, list) else value
        cursor = data.get("cursor")
        if cursor is not None and not isinstance(cursor, str):
            raise ValueError("malformed draft: cursor")
        editing = data.get("editing")
        if not isinstance(editing, bool):
            raise ValueError("malformed draft: editing")
        return cls(
            questionnaire_id=questionnaire_id,
            version=version,
            answers=answers,
            cursor=cursor,
            history=_string_tuple(data.get("history"), "history"),
            editing=editing,
            pending=_string_tuple(data.get("pending"), "pending"),
            skipped=_string_tuple(data.get("skipped"), "skipped"),
            done=_string_tuple(data.get("done", []), "done"),
        )


_DRAFT_FIELDS: Final = frozenset(f.name for f in fields(Draft))


def _changed(draft: Draft, **changes: Any) -> Draft:
    """`dataclasses.replace(draft, **changes)` for the engine's own moves, four times
    cheaper (a press makes several): the same fields, copied, without `__init__`."""
    if not changes.keys() <= _DRAFT_FIELDS:
        raise TypeError(f"Draft has no field {sorted(changes.keys() - _DRAFT_FIELDS)}")
    new = object.__new__(Draft)
    state = draft.__dict__.copy()
    state.update(changes)
    object.__setattr__(new, "__dict__", state)
    return new


def _is_answer_value(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (str, int)):  # a tuple: a union would be built on every call
        return True
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _string_tuple(value: object, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"malformed draft: {name}")
    return tuple(value)


@dataclass(frozen=True)
class RowStep:
    """One offered row of the grid being asked, with its answer so far."""

    row: Row
    key: str  # the answer key, "grid.row"
    current: AnswerValue | None
    required: bool


@dataclass(frozen=True)
class QuestionStep:
    """Ask `question`. `position` of `total` counts relevant questions (see `Engine`);
    `section_position` of `section_total` counts the sections holding such questions, and
    `fraction` is the share of them already seen."""

    question: Question
    position: int
    total: int
    current: AnswerValue | None  # the answer already given, to pre-select or show
    pending: tuple[str, ...]  # multi: selections ticked but not confirmed
    can_skip: bool
    can_go_back: bool
    editing: bool = False  # came from the review (offer "back to review")
    section_position: int = 1
    section_total: int = 1
    fraction: float = 0.0
    rows: tuple[RowStep, ...] = ()  # grid: the offered rows, in order
    can_finish: bool = True  # grid: every offered required row is answered
    offered: tuple[str, ...] = ()  # single/multi: the choices offered now, in order


@dataclass(frozen=True)
class ReviewItem:
    """One line of the review: a question, or one offered row of a grid (`row` set, `key`
    "grid.row"). `value` None means not answered (skipped)."""

    section: Section
    question: Question
    row: Row | None
    key: str
    value: AnswerValue | None


@dataclass(frozen=True)
class ReviewStep:
    """Every asked question (grids: every offered row) in order with its answer."""

    items: tuple[ReviewItem, ...]

    @property
    def sections(self) -> tuple[tuple[Section, tuple[ReviewItem, ...]], ...]:
        """The same items grouped by section, sections in order, empty ones left out."""
        groups: dict[str, tuple[Section, list[ReviewItem]]] = {}
        for item in self.items:
            groups.setdefault(item.section.id, (item.section, []))[1].append(item)
        return tuple((section, tuple(items)) for section, items in groups.values())


Step: TypeAlias = QuestionStep | ReviewStep


@dataclass(frozen=True)
class InputError:
    """Why an input was refused. `params` hold limits only, never the respondent's text.

    Codes: not_a_choice, invalid, not_an_integer, out_of_range (min, max), too_long (max,
    length), empty, required, too_many_choices (max), stale, incomplete (remaining),
    no_previous.
    """

    code: str
    params: dict[str, int | str] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """The draft after an operation, the screen to show, and the refusal, if any.

    On a refusal the draft is unchanged (apart from normalisation) and the step repeats.
    """

    draft: Draft
    step: Step
    error: InputError | None = None


@dataclass(frozen=True)
class _Walk:
    """One relevance pass: per question whether it is asked and what it offers (row ids of a
    grid, choice ids of a single/multi), and the answers that stand, in asking order."""

    relevant: tuple[bool, ...]
    offered: tuple[tuple[str, ...], ...]
    kept: dict[str, AnswerValue]


def parse_integer(raw: str) -> int | None:
    """An integer typed on a phone: full-width digits and signs are accepted (NFKC)."""
    text = unicodedata.normalize("NFKC", raw).strip()
    text = text.replace("\u2212", "-")  # the minus sign some keyboards produce
    if not _INTEGER.fullmatch(text):
        return None
    return int(text)


def clean_text(raw: str) -> str:
    """Strip surrounding whitespace and invisible control characters; unify newlines."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text).strip()


def _possible(
    condition: Evaluator | None,
    references: frozenset[str],
    answers: Mapping[str, AnswerValue],
    open_keys: set[str],
) -> bool:
    """Whether a guarded part holds, or may still hold once the open questions are seen."""
    if condition is None:
        return True
    result = condition(answers, open_keys)
    return result is True or (result is None and not references.isdisjoint(open_keys))


def _compiled(condition: Condition | None) -> Evaluator | None:
    return None if condition is None else compile_condition(condition)


class Engine:
    """Walks one questionnaire. All state is in the `Draft` passed in and out (the engine only
    remembers its last relevance computations, a pure function of the answers), so one engine
    serves every respondent.

    Progress: `total` counts the questions known to be relevant plus those whose relevance
    still hangs on a question not yet seen (e.g. the follow-ups of an unanswered frequency
    question; the rows of a grid not yet confirmed count as not seen). So in a forward walk
    the total never grows — answering 从未遇到 takes the follow-ups off it — which reads as
    progress rather than as a moving goal.
    """

    def __init__(self, questionnaire: Questionnaire) -> None:
        self.questionnaire = questionnaire
        self._questions = questionnaire.questions
        self._index = {q.id: i for i, q in enumerate(self._questions)}
        self._sections = tuple(questionnaire.section_of(q.id) for q in self._questions)
        # Compiled once here: the engine evaluates them on every operation.
        self._conditions = tuple(_compiled(q.condition) for q in self._questions)
        self._references = tuple(
            frozenset() if q.condition is None else referenced_questions(q.condition)
            for q in self._questions
        )
        self._parts = tuple(self._guarded_parts(q) for q in self._questions)
        # The ids of a grid's rows or a choice question's choices, and whether any is guarded
        # (most are not: then all are offered whenever the question is).
        self._part_ids = tuple(
            tuple(row.id for row in q.rows) if q.type == "grid" else tuple(q.choice_ids)
            for q in self._questions
        )
        self._parts_guarded = tuple(
            any(evaluator is not None for evaluator, _ in parts) for parts in self._parts
        )
        self._rows = tuple({row.id: row for row in q.rows} for q in self._questions)
        # A grid's answer keys by row id, its choice ids as a set: looked up on every walk.
        self._row_keys = tuple(
            {row.id: row_key(q.id, row.id) for row in q.rows} for q in self._questions
        )
        self._choice_sets = tuple(frozenset(q.choice_ids) for q in self._questions)
        self._grid_of_row = {
            key: question.id for question in self._questions for key in question.row_keys
        }
        self._history_limit = 2 * len(self._questions) + 2
        self._memo: dict[_MemoKey, _Walk] = {}
        self._row_steps: dict[tuple[str, type, str | int | None, bool], RowStep] = {}
        self._progress_memo: dict[tuple[_MemoKey, frozenset[str]], list[str]] = {}

    @staticmethod
    def _guarded_parts(question: Question) -> tuple[_Part, ...]:
        """The rows of a grid or the choices of a single/multi, each with its condition."""
        if question.type == "grid":
            conditions = [row.condition for row in question.rows]
        elif question.type in ("single", "multi"):
            conditions = [choice.condition for choice in question.choices]
        else:
            return ()
        return tuple(
            (_compiled(c), frozenset() if c is None else referenced_questions(c))
            for c in conditions
        )

    # -- public API -------------------------------------------------------------------------

    def accepts(self, draft: Draft) -> bool:
        """Whether the draft was made for this questionnaire and version."""
        return (
            draft.questionnaire_id == self.questionnaire.id
            and draft.version == self.questionnaire.version
        )

    def start(self) -> Outcome:
        """A fresh draft at the first question."""
        empty = Draft(self.questionnaire.id, self.questionnaire.version)
        walk = self._walk({})
        first = self._next_relevant(walk.relevant, -1)
        if first is None:  # cannot happen for a validated questionnaire; be safe anyway
            return self._outcome(self._enter_review(empty))
        return self._outcome(self._goto(empty, first, history=(), editing=False))

    def resume(self, draft: Draft) -> Outcome:
        """Continue a stored draft, repairing anything inconsistent (e.g. hand-edited JSON)."""
        return self._outcome(self._settle(self._own(draft)))

    def step(self, draft: Draft) -> Step:
        """The screen for a draft."""
        return self._step(self._settle(self._own(draft)))

    def answer(
        self, draft: Draft, value: AnswerValue, *, question_id: str | None = None
    ) -> Outcome:
        """Answer the current question. Raw text is accepted for number, scale and text.

        A grid is answered row by row (`answer_cell`), never as a whole."""
        draft = self._settle(self._own(draft))
        question = self._guard(draft, question_id)
        if question is None:
            return self._outcome(draft, InputError("stale"))
        parsed = self._parse(question, value, self._offered(draft, question))
        if isinstance(parsed, InputError):
            return self._outcome(draft, parsed)
        return self._record(draft, question, parsed)

    def toggle(self, draft: Draft, choice_id: str, *, question_id: str | None = None) -> Outcome:
        """Tick or untick one choice of a multi question (kept in `pending` until confirmed)."""
        draft = self._settle(self._own(draft))
        question = self._guard(draft, question_id)
        if question is None or question.type != "multi":
            return self._outcome(draft, InputError("stale"))
        offered = self._offered(draft, question)
        if choice_id not in offered:
            return self._outcome(draft, InputError("not_a_choice"))
        if choice_id in draft.pending:
            chosen = set(draft.pending) - {choice_id}
        else:
            limit = question.max_choices
            if limit is not None and len(draft.pending) >= limit:
                return self._outcome(draft, InputError("too_many_choices", {"max": limit}))
            chosen = {*draft.pending, choice_id}
        pending = tuple(cid for cid in offered if cid in chosen)
        return self._outcome(_changed(draft, pending=pending))

    def confirm(self, draft: Draft, *, question_id: str | None = None) -> Outcome:
        """Done on a multi question (nothing ticked skips it, unless it is required) or on a
        grid (refused with "incomplete" while a required offered row is unanswered)."""
        draft = self._settle(self._own(draft))
        question = self._guard(draft, question_id)
        if question is not None and question.type == "grid":
            remaining = self._remaining_rows(draft, question)
            if remaining:
                return self._outcome(draft, InputError("incomplete", {"remaining": remaining}))
            done = {*draft.done, question.id}
            skipped = set(draft.skipped) - {question.id}
            return self._move_on(draft, question, dict(draft.answers), skipped, done)
        if question is None or question.type != "multi":
            return self._outcome(draft, InputError("stale"))
        if not draft.pending:
            if question.required:
                return self._outcome(draft, InputError("required"))
            return self._record(draft, question, None)
        return self._record(draft, question, list(draft.pending))

    def skip(self, draft: Draft, *, question_id: str | None = None) -> Outcome:
        """Skip an optional question; skipping one already answered clears that answer.

        A grid can be skipped while none of its offered rows is required; its rows are cleared."""
        draft = self._settle(self._own(draft))
        question = self._guard(draft, question_id)
        if question is None:
            return self._outcome(draft, InputError("stale"))
        if question.type == "grid":
            if any(required for _, _, required in self._offered_rows(draft, question)):
                return self._outcome(draft, InputError("required"))
            keys = set(question.row_keys)
            answers = {k: v for k, v in draft.answers.items() if k not in keys}
            skipped = {*draft.skipped, question.id}
            done = set(draft.done) - {question.id}
            return self._move_on(draft, question, answers, skipped, done)
        if question.required:
            return self._outcome(draft, InputError("required"))
        return self._record(draft, question, None)

    def answer_cell(
        self, draft: Draft, key: str, value: str | int, *, question_id: str | None = None
    ) -> Outcome:
        """Answer one row ("grid.row") of the grid being asked; the grid stays on screen.

        Pressing the cell already chosen in an optional row clears that row."""
        draft = self._settle(self._own(draft))
        question = self._guard(draft, question_id)
        if question is None or question.type != "grid" or self._grid_of_row.get(key) != question.id:
            return self._outcome(draft, InputError("stale"))
        row = next((r for r, k, _ in self._offered_rows(draft, question) if k == key), None)
        if row is None:
            return self._outcome(draft, InputError("stale"))
        parsed = self._parse_cell(question, value)
        if isinstance(parsed, InputError):
            return self._outcome(draft, parsed)
        answers = dict(draft.answers)
        if answers.get(key) == parsed and not question.row_required(row):
            del answers[key]
        else:
            answers[key] = parsed
        return self._stay(draft, question, answers)

    def fill(self, draft: Draft, *, question_id: str | None = None) -> Outcome:
        """ "The rest: <fill choice>": answer every unanswered offered row of the grid being
        asked with the grid's `fill` choice; the grid stays on screen."""
        draft = self._settle(self._own(draft))
        question = self._guard(draft, question_id)
        if question is None or question.type != "grid" or question.fill is None:
            return self._outcome(draft, InputError("stale"))
        answers = dict(draft.answers)
        for _, key, _ in self._offered_rows(draft, question):
            answers.setdefault(key, question.fill)
        return self._stay(draft, question, answers)

    def back(self, draft: Draft) -> Outcome:
        """Return to the previous screen; the answers stay as they are."""
        draft = self._settle(self._own(draft))
        target = self._back_target(draft)
        if target is None:
            return self._outcome(draft, InputError("no_previous"))
        return self._outcome(target)

    def edit(self, draft: Draft, question_id: str) -> Outcome:
        """Change one answer (normally from the review); answering it returns to the review.

        A row key ("grid.row", as in `ReviewItem.key`) edits its grid."""
        draft = self._settle(self._own(draft))
        question_id = self._grid_of_row.get(question_id, question_id)
        walk = self._walk(draft.answers)
        if question_id not in self._index or not walk.relevant[self._index[question_id]]:
            return self._outcome(draft, InputError("stale"))
        came_from = REVIEW_MARK if draft.cursor is None else draft.cursor
        history = self._push(draft.history, came_from)
        return self._outcome(self._goto(draft, question_id, history=history, editing=True))

    def to_review(self, draft: Draft) -> Outcome:
        """Go to the review; refused with "incomplete" while relevant questions are unseen."""
        draft = self._settle(self._own(draft))
        unseen = self._unseen(draft)
        if unseen:
            return self._outcome(draft, InputError("incomplete", {"remaining": len(unseen)}))
        return self._outcome(self._enter_review(draft))

    def relevant_answers(self, draft: Draft) -> dict[str, AnswerValue]:
        """Exactly what gets submitted: answers of relevant questions and offered grid rows
        (under "grid.row"), in asking order.

        Submit only from a `ReviewStep`: only then has every relevant question been seen.
        """
        answers = self._walk(self._own(draft).answers).kept
        return {qid: list(v) if isinstance(v, list) else v for qid, v in answers.items()}

    def relevant_question_ids(self, answers: Mapping[str, AnswerValue]) -> tuple[str, ...]:
        """Ids of every question asked given these answers, in asking order."""
        walk = self._walk(answers)
        return tuple(q.id for q, keep in zip(self._questions, walk.relevant, strict=True) if keep)

    def is_relevant(self, question_id: str, answers: Mapping[str, AnswerValue]) -> bool:
        """Whether a question is asked given these answers (irrelevant branches ignored)."""
        walk = self._walk(answers)
        return walk.relevant[self._index[self.questionnaire.question(question_id).id]]

    def estimated_minutes(self) -> int:
        """How long a typical walk takes, rounded up, at least 1 (for the welcome screen).

        Single and scale 6 s, multi and number 10 s, a grid 4 s plus 4 s a row, optional text
        0 s (most leave it), required text 60 s; conditional questions, rows and questions
        whose every choice is conditional count at half weight."""
        seconds = 0.0
        for question in self._questions:
            if question.type == "grid":
                cost = _GRID_SECONDS + sum(
                    _GRID_SECONDS * (0.5 if row.relevant is not None else 1.0)
                    for row in question.rows
                )
            elif question.type == "text":
                cost = _REQUIRED_TEXT_SECONDS if question.required else 0.0
            else:
                cost = _SECONDS[question.type]
            conditional = question.relevant is not None or (
                question.type in ("single", "multi")
                and all(choice.relevant is not None for choice in question.choices)
            )
            seconds += cost * (0.5 if conditional else 1.0)
        return max(1, math.ceil(seconds / 60))

    # -- relevance and progress -------------------------------------------------------------

    def _walk(self, answers: Mapping[str, AnswerValue]) -> _Walk:
        """One forward pass: which questions, rows and choices are offered, and which answers
        stand.

        Conditions (of questions, rows and choices) only read earlier questions, so judging
        each on the answers kept so far is exact, and an answer in a dead branch can never
        keep a later branch alive. One operation asks this several times for the same
        answers, so the last few results are remembered (a pure function of the answers;
        shared, so callers copy `kept` before handing it out).
        """
        key = self._answers_key(answers)
        memo = self._memo.get(key)
        if memo is not None:
            return memo
        relevant: list[bool] = []
        offered_all: list[tuple[str, ...]] = []
        kept: dict[str, AnswerValue] = {}
        for index, question in enumerate(self._questions):
            condition = self._conditions[index]
            is_relevant = condition is None or condition(kept, _NOTHING_OPEN) is True
            offered: tuple[str, ...] = ()
            if question.type in ("grid", "single", "multi"):
                if is_relevant:
                    offered = self._part_ids[index]
                    if self._parts_guarded[index]:
                        offered = tuple(
                            part_id
                            for part_id, (guard, _) in zip(offered, self._parts[index], strict=True)
                            if guard is None or guard(kept, _NOTHING_OPEN) is True
                        )
                is_relevant = is_relevant and bool(offered)
            relevant.append(is_relevant)
            offered_all.append(offered)
            if not is_relevant:
                continue
            if question.type == "grid":
                row_keys = self._row_keys[index]
                for row_id in offered:
                    answer_key = row_keys[row_id]
                    cell = answers.get(answer_key)
                    if cell is not None and self._valid_cell(index, question, cell):
                        kept[answer_key] = cell
                continue
            value = answers.get(question.id)
            if value is not None:
                value = self._stored(question, value, offered)
            if value is not None:
                kept[question.id] = value
        walk = _Walk(tuple(relevant), tuple(offered_all), kept)
        if len(self._memo) >= _MEMO_SIZE:
            self._memo.pop(next(iter(self._memo)))
        self._memo[key] = walk
        return walk

    @staticmethod
    def _answers_key(answers: Mapping[str, AnswerValue]) -> _MemoKey:
        """The answers as a hashable key: ids, values (a list as a tuple) and their types
        (1, True and "1" are different answers)."""
        return (
            tuple(answers),
            tuple(map(type, answers.values())),
            tuple([tuple(v) if v.__class__ is list else v for v in answers.values()]),
        )

    def _seen(self, draft: Draft) -> set[str]:
        """Question ids seen: answered or skipped; a grid when done or skipped."""
        seen = set(draft.skipped) | set(draft.done)
        seen.update(qid for qid in draft.answers if qid in self._index)
        return seen

    def _progress(self, draft: Draft) -> tuple[list[str], set[str]]:
        """Questions counted for "n of total", and which questions are seen (remembered like
        `_walk`: a pure function of the answers, skips and Dones)."""
        seen = self._seen(draft)
        key = (self._answers_key(draft.answers), frozenset(seen))
        remembered = self._progress_memo.get(key)
        if remembered is not None:
            return remembered, seen
        open_keys: set[str] = set()
        counted: list[str] = []
        for index, question in enumerate(self._questions):
            count = _possible(
                self._conditions[index], self._references[index], draft.answers, open_keys
            )
            parts = self._parts[index]
            if count and parts:
                count = any(
                    _possible(condition, references, draft.answers, open_keys)
                    for condition, references in parts
                )
            if count:
                counted.append(question.id)
                if question.id not in seen:
                    open_keys.add(question.id)
                    open_keys.update(self._row_keys[index].values())
        if len(self._progress_memo) >= _MEMO_SIZE:
            self._progress_memo.pop(next(iter(self._progress_memo)))
        self._progress_memo[key] = counted
        return counted, seen

    def _unseen(self, draft: Draft) -> list[str]:
        walk = self._walk(draft.answers)
        seen = self._seen(draft)
        return [
            q.id
            for q, is_relevant in zip(self._questions, walk.relevant, strict=True)
            if is_relevant and q.id not in seen
        ]

    def _offered(self, draft: Draft, question: Question) -> tuple[str, ...]:
        """Row ids (grid) or choice ids (single/multi) offered now; () for other types."""
        return self._walk(draft.answers).offered[self._index[question.id]]

    def _offered_rows(self, draft: Draft, question: Question) -> list[tuple[Row, str, bool]]:
        """The offered rows of a grid: the row, its answer key, whether it is required."""
        rows = []
        index = self._index[question.id]
        by_id, keys = self._rows[index], self._row_keys[index]
        for row_id in self._walk(draft.answers).offered[index]:
            row = by_id[row_id]
            rows.append((row, keys[row_id], question.row_required(row)))
        return rows

    def _remaining_rows(self, draft: Draft, question: Question) -> int:
        """How many required offered rows of a grid are still unanswered."""
        return sum(
            1
            for _, key, required in self._offered_rows(draft, question)
            if required and key not in draft.answers
        )

    def _marks(
        self, walk: _Walk, skipped: set[str] | Sequence[str], done: set[str] | Sequence[str]
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The skips and Dones that still stand, in asking order.

        A skip stands for an optional question without an answer, or a grid with no
        required row offered and no row answered; a Done for a grid with every offered
        required row answered."""
        skipped_before, done_before = set(skipped), set(done)
        kept_skipped: list[str] = []
        kept_done: list[str] = []
        for index, question in enumerate(self._questions):
            if not walk.relevant[index]:
                continue
            qid = question.id
            if question.type != "grid":
                if qid in skipped_before and not question.required and qid not in walk.kept:
                    kept_skipped.append(qid)
                continue
            rows = [self._rows[index][row_id] for row_id in walk.offered[index]]
            keys = [self._row_keys[index][row_id] for row_id in walk.offered[index]]
            if qid in done_before:
                if all(
                    key in walk.kept or not question.row_required(row)
                    for row, key in zip(rows, keys, strict=True)
                ):
                    kept_done.append(qid)
            elif (
                qid in skipped_before
                and not any(question.row_required(row) for row in rows)
                and not any(key in walk.kept for key in keys)
            ):
                kept_skipped.append(qid)
        return tuple(kept_skipped), tuple(kept_done)

    # -- state transitions ------------------------------------------------------------------

    def _own(self, draft: Draft) -> Draft:
        if not self.accepts(draft):
            raise DraftMismatchError(
                f"draft is for {draft.questionnaire_id!r} v{draft.version}, "
                f"not {self.questionnaire.id!r} v{self.questionnaire.version}"
            )
        return draft

    def _settle(self, draft: Draft) -> Draft:
        """Normalise a draft: prune dead branches, keep the cursor on a relevant question.

        Identity for every draft the engine itself returns; repairs stored drafts.
        """
        walk = self._walk(draft.answers)
        skipped, done = self._marks(walk, draft.skipped, draft.done)
        history = tuple(
            entry for entry in draft.history if entry == REVIEW_MARK or entry in self._index
        )[-self._history_limit :]
        settled = _changed(
            draft, answers=dict(walk.kept), skipped=skipped, done=done, history=history
        )
        cursor = draft.cursor
        if cursor is not None and cursor in self._index and walk.relevant[self._index[cursor]]:
            index = self._index[cursor]
            question = self._questions[index]
            pending = self._clean_pending(question, draft.pending, walk.offered[index])
            return _changed(settled, pending=pending) if pending != draft.pending else settled
        if cursor is not None and cursor in self._index:
            # The cursor's question left the walk: carry on with the next relevant one.
            following = self._next_relevant(walk.relevant, self._index[cursor])
            if following is not None:
                return self._goto(settled, following, history=history, editing=draft.editing)
        return self._enter_review(settled)

    def _clean_pending(
        self, question: Question, pending: tuple[str, ...], offered: tuple[str, ...]
    ) -> tuple[str, ...]:
        if question.type != "multi":
            return ()
        chosen = set(pending)
        cleaned = tuple(cid for cid in offered if cid in chosen)
        limit = question.max_choices
        return cleaned if limit is None else cleaned[:limit]

    def _next_relevant(
        self, relevant: Sequence[bool], after: int, skip_seen: set[str] | None = None
    ) -> str | None:
        for index in range(after + 1, len(self._questions)):
            question_id = self._questions[index].id
            if relevant[index] and (skip_seen is None or question_id not in skip_seen):
                return question_id
        return None

    def _goto(
        self, draft: Draft, question_id: str, *, history: tuple[str, ...], editing: bool
    ) -> Draft:
        question = self._questions[self._index[question_id]]
        current = draft.answers.get(question_id)
        pending = tuple(current) if question.type == "multi" and isinstance(current, list) else ()
        return _changed(
            draft, cursor=question_id, history=history, editing=editing, pending=pending
        )

    def _enter_review(self, draft: Draft) -> Draft:
        """The review when complete; otherwise the first unseen question, then the review."""
        unseen = self._unseen(draft)
        if unseen:
            history = draft.history
            if draft.cursor is None:
                history = self._push(history, REVIEW_MARK)
            return self._goto(draft, unseen[0], history=history, editing=True)
        return _changed(draft, cursor=None, history=(), editing=False, pending=())

    def _push(self, history: tuple[str, ...], entry: str) -> tuple[str, ...]:
        return (*history, entry)[-self._history_limit :]

    def _apply(
        self,
        draft: Draft,
        answers: dict[str, AnswerValue],
        skipped: set[str],
        done: set[str],
    ) -> tuple[_Walk, Draft]:
        """New answers and marks, with dead branches dropped.

        A seen grid that gains an unanswered row (an earlier answer opened it) is unseen
        again, so that the new row is asked before the review."""
        before = self._walk(draft.answers)
        after = self._walk(answers)
        for index, question in enumerate(self._questions):
            if question.id not in done and question.id not in skipped:
                continue
            gained = set(after.offered[index]) - set(before.offered[index])
            keys = self._row_keys[index]  # empty for a choice question: any gain counts
            if any(keys.get(part_id) not in after.kept for part_id in gained):
                done.discard(question.id)
                skipped.discard(question.id)
        kept_skipped, kept_done = self._marks(after, skipped, done)
        return after, _changed(
            draft, answers=dict(after.kept), skipped=kept_skipped, done=kept_done
        )

    def _record(self, draft: Draft, question: Question, value: AnswerValue | None) -> Outcome:
        """Store an answer (None = skip), drop dead branches, and move on."""
        answers = dict(draft.answers)
        skipped = set(draft.skipped)
        if value is None:
            answers.pop(question.id, None)
            skipped.add(question.id)
        else:
            answers[question.id] = value
            skipped.discard(question.id)
        return self._move_on(draft, question, answers, skipped, set(draft.done))

    def _move_on(
        self,
        draft: Draft,
        question: Question,
        answers: dict[str, AnswerValue],
        skipped: set[str],
        done: set[str],
    ) -> Outcome:
        """Apply the change and go to the next question (editing: the next unseen one)."""
        walk, moved = self._apply(draft, answers, skipped, done)
        history = self._push(draft.history, question.id)
        moved = _changed(moved, history=history)
        seen = self._seen(moved)
        following = self._next_relevant(
            walk.relevant, self._index[question.id], skip_seen=seen if draft.editing else None
        )
        if following is None:
            return self._outcome(self._enter_review(moved))
        return self._outcome(self._goto(moved, following, history=history, editing=draft.editing))

    def _stay(self, draft: Draft, question: Question, answers: dict[str, AnswerValue]) -> Outcome:
        """Apply a change to the rows of the grid being asked; the cursor stays on it."""
        _, moved = self._apply(draft, answers, set(draft.skipped) - {question.id}, set(draft.done))
        return self._outcome(moved)

    def _back_target(self, draft: Draft) -> Draft | None:
        """Where Back leads, or None at the very first question."""
        relevant = self._walk(draft.answers).relevant
        history = list(draft.history)
        while history:
            entry = history.pop()
            if entry == REVIEW_MARK:
                if draft.cursor is None:
                    continue
                # Back to the review; while a question is still unseen, that is where it leads.
                target = self._enter_review(_changed(draft, history=tuple(history)))
                if target.cursor != draft.cursor:
                    return target
                continue
            if entry != draft.cursor and entry in self._index and relevant[self._index[entry]]:
                editing = draft.editing and draft.cursor is not None
                return self._goto(draft, entry, history=tuple(history), editing=editing)
        if draft.cursor is None:
            last = self._previous_relevant(relevant, len(self._questions))
            if last is None:
                return None
            return self._goto(draft, last, history=(), editing=False)
        if draft.editing:
            target = self._enter_review(_changed(draft, history=()))
            if target.cursor != draft.cursor:
                return target
        previous = self._previous_relevant(relevant, self._index[draft.cursor])
        if previous is None:
            return None
        return self._goto(draft, previous, history=(), editing=False)

    def _previous_relevant(self, relevant: Sequence[bool], before: int) -> str | None:
        for index in range(before - 1, -1, -1):
            if relevant[index]:
                return self._questions[index].id
        return None

    # -- steps ------------------------------------------------------------------------------

    def _outcome(self, draft: Draft, error: InputError | None = None) -> Outcome:
        return Outcome(draft, self._step(draft), error)

    def _step(self, draft: Draft) -> Step:
        walk = self._walk(draft.answers)
        if draft.cursor is None:
            return ReviewStep(self._review_items(walk))
        index = self._index[draft.cursor]
        question = self._questions[index]
        counted, seen = self._progress(draft)
        sections = list(dict.fromkeys(self._sections[self._index[qid]].id for qid in counted))
        section_id = self._sections[index].id
        rows: tuple[RowStep, ...] = ()
        can_skip = not question.required
        can_finish = True
        if question.type == "grid":
            rows = tuple(
                self._row_step(row, key, draft.answers.get(key), required)
                for row, key, required in self._offered_rows(draft, question)
            )
            can_skip = not any(row.required for row in rows)
            can_finish = all(row.current is not None or not row.required for row in rows)
        return QuestionStep(
            question=question,
            position=counted.index(question.id) + 1,
            total=len(counted),
            current=draft.answers.get(question.id),
            pending=draft.pending,
            can_skip=can_skip,
            can_go_back=self._back_target(draft) is not None,
            editing=draft.editing,
            section_position=sections.index(section_id) + 1,
            section_total=len(sections),
            fraction=sum(1 for qid in counted if qid in seen) / len(counted),
            rows=rows,
            can_finish=can_finish,
            offered=() if question.type == "grid" else walk.offered[index],
        )

    def _row_step(self, row: Row, key: str, current: AnswerValue | None, required: bool) -> RowStep:
        """A grid row as asked, one object per row and answer (a grid press shows ten; there
        are only rows times choices of them, and none says whose)."""
        memo_key = (key, current.__class__, current, required)
        step = self._row_steps.get(memo_key)  # type: ignore[arg-type]
        if step is None or step.row is not row:
            step = RowStep(row, key, current, required)
            if len(self._row_steps) >= _ROW_STEPS_KEPT:  # a wide integer grid, say
                self._row_steps.clear()
            self._row_steps[memo_key] = step  # type: ignore[index]
        return step

    def _review_items(self, walk: _Walk) -> tuple[ReviewItem, ...]:
        items: list[ReviewItem] = []
        for index, question in enumerate(self._questions):
            if not walk.relevant[index]:
                continue
            section = self._sections[index]
            if question.type != "grid":
                value = walk.kept.get(question.id)
                items.append(ReviewItem(section, question, None, question.id, value))
                continue
            for row_id in walk.offered[index]:
                key = self._row_keys[index][row_id]
                row = self._rows[index][row_id]
                items.append(ReviewItem(section, question, row, key, walk.kept.get(key)))
        return tuple(items)

    def _guard(self, draft: Draft, question_id: str | None) -> Question | None:
        """The question being asked, or None if there is none or the button is stale."""
        if draft.cursor is None or (question_id is not None and question_id != draft.cursor):
            return None
        return self._questions[self._index[draft.cursor]]

    # -- input parsing ----------------------------------------------------------------------

    def _parse(
        self, question: Question, value: object, offered: tuple[str, ...]
    ) -> AnswerValue | InputError | None:
        """Validate an input for a question; None means "recorded as skipped"."""
        kind = question.type
        if kind == "single":
            if not isinstance(value, str):
                return InputError("invalid")
            choice = value.strip()
            return choice if choice in offered else InputError("not_a_choice")
        if kind == "multi":
            return self._parse_multi(question, value, offered)
        if kind in ("scale", "number"):
            return self._parse_integer(question, value)
        if kind == "grid" or not isinstance(value, str):
            return InputError("invalid")
        text = clean_text(value)
        if not text:
            return InputError("empty")
        limit = question.max_length or 0
        if len(text) > limit:
            return InputError("too_long", {"max": limit, "length": len(text)})
        return text

    def _parse_multi(
        self, question: Question, value: object, offered: tuple[str, ...]
    ) -> list[str] | InputError | None:
        if not isinstance(value, (list, tuple)) or not all(  # a tuple, as above
            isinstance(v, str) for v in value
        ):
            return InputError("invalid")
        chosen = set(value)
        if not chosen <= set(offered):
            return InputError("not_a_choice")
        if question.max_choices is not None and len(chosen) > question.max_choices:
            return InputError("too_many_choices", {"max": question.max_choices})
        if not chosen:
            return InputError("required") if question.required else None
        return [cid for cid in offered if cid in chosen]

    def _parse_integer(self, question: Question, value: object) -> int | InputError:
        if isinstance(value, bool):
            return InputError("invalid")
        if isinstance(value, str):
            number = parse_integer(value)
            if number is None:
                return InputError("not_an_integer")
        elif isinstance(value, int):
            number = value
        else:
            return InputError("invalid")
        low = question.min if question.min is not None else number
        high = question.max if question.max is not None else number
        if not low <= number <= high:
            return InputError("out_of_range", {"min": low, "max": high})
        return number

    def _parse_cell(self, question: Question, value: object) -> str | int | InputError:
        """One cell of a grid: a choice id, or an integer (or its digits) within min..max."""
        if question.cells_are_choices:
            if isinstance(value, str) and value.strip() in question.choice_ids:
                return value.strip()
            return InputError("not_a_choice")
        return self._parse_integer(question, value)

    def _valid_cell(self, index: int, question: Question, value: AnswerValue) -> bool:
        """Whether a stored row answer still fits its grid (the question at `index`; guards
        hand-edited drafts)."""
        if question.choices:  # a grid's cells are its choices
            return isinstance(value, str) and value in self._choice_sets[index]
        return isinstance(value, int) and self._parse_integer(question, value) == value

    def _stored(
        self, question: Question, value: AnswerValue, offered: tuple[str, ...]
    ) -> AnswerValue | None:
        """A stored answer as it still stands: None when it no longer fits its question
        (hand-edited drafts); a multi answer loses the picks no longer offered."""
        if isinstance(value, bool):
            return None
        if question.type == "multi":
            if not isinstance(value, list):
                return None
            kept = [cid for cid in value if cid in offered]
            if len(kept) != len(value) and set(value) <= set(question.choice_ids):
                value = kept
            if not value:
                return None
            return value if self._parse_multi(question, value, offered) == value else None
        if isinstance(value, list):
            return None
        if question.type == "text":
            valid = isinstance(value, str) and self._parse(question, value, offered) == value
        elif question.type in ("scale", "number"):
            valid = isinstance(value, int) and self._parse(question, value, offered) == value
        else:
            valid = question.type == "single" and self._parse(question, value, offered) == value
        return value if valid else None
