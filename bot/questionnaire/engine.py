"""The pure questionnaire engine: a draft goes in, a new draft and the next screen come out.

No I/O and no Telegram here, so every path a respondent can take is testable in isolation and
the handlers stay thin. A `Draft` is the whole in-progress state and is JSON-safe, so it can
live in FSM storage (keyed by a pseudonym, never by a Telegram id).

Rules the engine keeps after every operation:

* Relevance is recomputed from scratch. Answers (and skips) of questions that are no longer
  relevant are dropped at once, so a branch the respondent left can never leak into a
  submission (the classic GlobaLeaks #2506 failure).
* A question is *seen* once it is answered or explicitly skipped. The review is shown only
  when every relevant question is seen, so a branch that opens up during an edit is asked
  before the respondent gets back to the review.
* Required questions cannot be skipped; a draft can never hold an irrelevant question as cursor.

`history` is the stack of screens that led to the current one (question ids, and
`REVIEW_MARK` for the review) and drives Back. When it runs dry Back falls back to the
previous relevant question in asking order, which is where a plain forward walk came from.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, TypeAlias

from bot.questionnaire.conditions import AnswerValue, evaluate, holds, referenced_questions
from bot.questionnaire.model import Question, Questionnaire

REVIEW_MARK: Final = "*review"
"""History entry for the review screen; cannot clash with a question id ([a-z][a-z0-9_]*)."""

DRAFT_FORMAT: Final = 1

_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
# Control characters are invisible on a phone and break exports; keep newlines and tabs.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")

JsonObject: TypeAlias = dict[str, object]
_RelevanceMemo: TypeAlias = tuple[
    tuple[tuple[str, str, object], ...], tuple[bool, ...], dict[str, AnswerValue]
]


class DraftMismatchError(ValueError):
    """The draft belongs to another questionnaire or version; start over instead."""


@dataclass(frozen=True)
class Draft:
    """Everything about one respondent's unfinished questionnaire, and nothing about them."""

    questionnaire_id: str
    version: int
    answers: dict[str, AnswerValue] = field(default_factory=dict)
    cursor: str | None = None  # question being asked; None = the review
    history: tuple[str, ...] = ()  # screens that led here (for Back)
    editing: bool = False  # came from the review: once answered, return to the review
    pending: tuple[str, ...] = ()  # multi-choice selections not yet confirmed
    skipped: tuple[str, ...] = ()  # optional questions explicitly skipped, in asking order

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
        }

    @classmethod
    def from_json(cls, data: object) -> Draft:
        """Rebuild a draft from `to_json` output; ValueError (naming no values) if malformed."""
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
        )


def _is_answer_value(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, str | int):
        return True
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _string_tuple(value: object, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"malformed draft: {name}")
    return tuple(value)


@dataclass(frozen=True)
class QuestionStep:
    """Ask `question`. `position` of `total` counts relevant questions (see `Engine`)."""

    question: Question
    position: int
    total: int
    current: AnswerValue | None  # the answer already given, to pre-select or show
    pending: tuple[str, ...]  # multi: selections ticked but not confirmed
    can_skip: bool
    can_go_back: bool
    editing: bool = False  # came from the review (offer "back to review")


@dataclass(frozen=True)
class ReviewStep:
    """Every relevant question in order with its answer; None means skipped."""

    items: tuple[tuple[Question, AnswerValue | None], ...]


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


class Engine:
    """Walks one questionnaire. All state is in the `Draft` passed in and out (the engine only
    remembers its last relevance computation, a pure function of the answers), so one engine
    serves every respondent.

    Progress: `total` counts the questions known to be relevant plus those whose relevance
    still hangs on a question not yet reached (e.g. the follow-ups of an unanswered
    frequency question). So in a forward walk the total never grows — answering 从未遇到
    takes the two follow-ups off it — which reads as progress rather than as a moving goal.
    """

    def __init__(self, questionnaire: Questionnaire) -> None:
        self.questionnaire = questionnaire
        self._questions = questionnaire.questions
        self._index = {q.id: i for i, q in enumerate(self._questions)}
        # Parsed once here: the engine evaluates them on every operation.
        self._conditions = tuple(q.condition for q in self._questions)
        self._references = tuple(
            frozenset() if c is None else referenced_questions(c) for c in self._conditions
        )
        self._history_limit = 2 * len(self._questions) + 2
        self._memo: _RelevanceMemo | None = None

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
        relevant, _ = self._relevance({})
        first = self._next_relevant(relevant, -1)
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
        """Answer the current question. Raw text is accepted for number, scale and text."""
        draft = self._settle(self._own(draft))
        question = self._guard(draft, question_id)
        if question is None:
            return self._outcome(draft, InputError("stale"))
        parsed = self._parse(question, value)
        if isinstance(parsed, InputError):
            return self._outcome(draft, parsed)
        return self._record(draft, question, parsed)

    def toggle(self, draft: Draft, choice_id: str, *, question_id: str | None = None) -> Outcome:
        """Tick or untick one choice of a multi question (kept in `pending` until confirmed)."""
        draft = self._settle(self._own(draft))
        question = self._guard(draft, question_id)
        if question is None or question.type != "multi":
            return self._outcome(draft, InputError("stale"))
        if choice_id not in question.choice_ids:
            return self._outcome(draft, InputError("not_a_choice"))
        if choice_id in draft.pending:
            chosen = set(draft.pending) - {choice_id}
        else:
            limit = question.max_choices
            if limit is not None and len(draft.pending) >= limit:
                return self._outcome(draft, InputError("too_many_choices", {"max": limit}))
            chosen = {*draft.pending, choice_id}
        pending = tuple(cid for cid in question.choice_ids if cid in chosen)
        return self._outcome(replace(draft, pending=pending))

    def confirm(self, draft: Draft, *, question_id: str | None = None) -> Outcome:
        """Done on a multi question: nothing ticked skips it, unless it is required."""
        draft = self._settle(self._own(draft))
        question = self._guard(draft, question_id)
        if question is None or question.type != "multi":
            return self._outcome(draft, InputError("stale"))
        if not draft.pending:
            if question.required:
                return self._outcome(draft, InputError("required"))
            return self._record(draft, question, None)
        return self._record(draft, question, list(draft.pending))

    def skip(self, draft: Draft, *, question_id: str | None = None) -> Outcome:
        """Skip an optional question; skipping one already answered clears that answer."""
        draft = self._settle(self._own(draft))
        question = self._guard(draft, question_id)
        if question is None:
            return self._outcome(draft, InputError("stale"))
        if question.required:
            return self._outcome(draft, InputError("required"))
        return self._record(draft, question, None)

    def back(self, draft: Draft) -> Outcome:
        """Return to the previous screen; the answers stay as they are."""
        draft = self._settle(self._own(draft))
        target = self._back_target(draft)
        if target is None:
            return self._outcome(draft, InputError("no_previous"))
        return self._outcome(target)

    def edit(self, draft: Draft, question_id: str) -> Outcome:
        """Change one answer (normally from the review); answering it returns to the review."""
        draft = self._settle(self._own(draft))
        relevant, _ = self._relevance(draft.answers)
        if question_id not in self._index or not relevant[self._index[question_id]]:
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
        """Exactly what gets submitted: answers of relevant questions, in asking order.

        Submit only from a `ReviewStep`: only then has every relevant question been seen.
        """
        _, answers = self._relevance(self._own(draft).answers)
        return {qid: list(v) if isinstance(v, list) else v for qid, v in answers.items()}

    def relevant_question_ids(self, answers: Mapping[str, AnswerValue]) -> tuple[str, ...]:
        """Ids of every question asked given these answers, in asking order."""
        relevant, _ = self._relevance(answers)
        return tuple(q.id for q, keep in zip(self._questions, relevant, strict=True) if keep)

    def is_relevant(self, question_id: str, answers: Mapping[str, AnswerValue]) -> bool:
        """Whether a question is asked given these answers (irrelevant branches ignored)."""
        relevant, _ = self._relevance(answers)
        return relevant[self._index[self.questionnaire.question(question_id).id]]

    # -- relevance and progress -------------------------------------------------------------

    def _relevance(
        self, answers: Mapping[str, AnswerValue]
    ) -> tuple[tuple[bool, ...], dict[str, AnswerValue]]:
        """One forward pass: which questions are relevant, and their valid answers.

        Conditions only read earlier questions, so judging each question on the answers kept
        so far is exact, and an answer in a dead branch can never keep a later branch alive.
        One operation asks this several times for the same answers, so the last result is
        remembered (a pure function of the answers; the kept dict is copied on the way out).
        """
        key = tuple(
            (qid, type(value).__name__, tuple(value) if isinstance(value, list) else value)
            for qid, value in answers.items()
        )
        memo = self._memo
        if memo is not None and memo[0] == key:
            return memo[1], dict(memo[2])
        relevant: list[bool] = []
        kept: dict[str, AnswerValue] = {}
        for question, condition in zip(self._questions, self._conditions, strict=True):
            is_relevant = holds(condition, kept)
            relevant.append(is_relevant)
            value = answers.get(question.id)
            if is_relevant and value is not None and self._valid_stored(question, value):
                kept[question.id] = value
        self._memo = (key, tuple(relevant), kept)
        return tuple(relevant), dict(kept)

    def _progress(self, draft: Draft) -> tuple[list[str], set[str]]:
        """Questions counted for "n of total", and which of them may still be answered."""
        seen = set(draft.answers) | set(draft.skipped)
        open_questions: set[str] = set()
        counted: list[str] = []
        for index, question in enumerate(self._questions):
            condition = self._conditions[index]
            if condition is None:
                count = True
            else:
                result = evaluate(condition, draft.answers, open_questions)
                count = result is True or (
                    result is None and not self._references[index].isdisjoint(open_questions)
                )
            if count:
                counted.append(question.id)
                if question.id not in seen:
                    open_questions.add(question.id)
        return counted, open_questions

    def _unseen(self, draft: Draft) -> list[str]:
        relevant, _ = self._relevance(draft.answers)
        seen = set(draft.answers) | set(draft.skipped)
        return [
            q.id
            for q, is_relevant in zip(self._questions, relevant, strict=True)
            if is_relevant and q.id not in seen
        ]

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
        relevant, answers = self._relevance(draft.answers)
        skipped_before = set(draft.skipped)
        skipped = tuple(
            q.id
            for q, is_relevant in zip(self._questions, relevant, strict=True)
            if is_relevant and q.id in skipped_before and not q.required and q.id not in answers
        )
        history = tuple(
            entry for entry in draft.history if entry == REVIEW_MARK or entry in self._index
        )[-self._history_limit :]
        settled = replace(draft, answers=answers, skipped=skipped, history=history)
        cursor = draft.cursor
        if cursor is not None and cursor in self._index and relevant[self._index[cursor]]:
            question = self._questions[self._index[cursor]]
            pending = self._clean_pending(question, draft.pending)
            return replace(settled, pending=pending) if pending != draft.pending else settled
        if cursor is not None and cursor in self._index:
            # The cursor's question left the walk: carry on with the next relevant one.
            following = self._next_relevant(relevant, self._index[cursor])
            if following is not None:
                return self._goto(settled, following, history=history, editing=draft.editing)
        return self._enter_review(settled)

    def _clean_pending(self, question: Question, pending: tuple[str, ...]) -> tuple[str, ...]:
        if question.type != "multi":
            return ()
        chosen = set(pending)
        cleaned = tuple(cid for cid in question.choice_ids if cid in chosen)
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
        return replace(draft, cursor=question_id, history=history, editing=editing, pending=pending)

    def _enter_review(self, draft: Draft) -> Draft:
        """The review when complete; otherwise the first unseen question, then the review."""
        unseen = self._unseen(draft)
        if unseen:
            history = draft.history
            if draft.cursor is None:
                history = self._push(history, REVIEW_MARK)
            return self._goto(draft, unseen[0], history=history, editing=True)
        return replace(draft, cursor=None, history=(), editing=False, pending=())

    def _push(self, history: tuple[str, ...], entry: str) -> tuple[str, ...]:
        return (*history, entry)[-self._history_limit :]

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
        relevant, answers = self._relevance(answers)
        skipped_in_order = tuple(
            q.id
            for q, is_relevant in zip(self._questions, relevant, strict=True)
            if is_relevant and q.id in skipped and q.id not in answers
        )
        history = self._push(draft.history, question.id)
        moved = replace(draft, answers=answers, skipped=skipped_in_order, history=history)
        seen = set(answers) | set(skipped_in_order)
        following = self._next_relevant(
            relevant, self._index[question.id], skip_seen=seen if draft.editing else None
        )
        if following is None:
            return self._outcome(self._enter_review(moved))
        return self._outcome(self._goto(moved, following, history=history, editing=draft.editing))

    def _back_target(self, draft: Draft) -> Draft | None:
        """Where Back leads, or None at the very first question."""
        relevant, _ = self._relevance(draft.answers)
        history = list(draft.history)
        while history:
            entry = history.pop()
            if entry == REVIEW_MARK:
                if draft.cursor is None:
                    continue
                # Back to the review; while a question is still unseen, that is where it leads.
                target = self._enter_review(replace(draft, history=tuple(history)))
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
            target = self._enter_review(replace(draft, history=()))
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
        if draft.cursor is None:
            relevant, answers = self._relevance(draft.answers)
            items = tuple(
                (q, answers.get(q.id))
                for q, is_relevant in zip(self._questions, relevant, strict=True)
                if is_relevant
            )
            return ReviewStep(items)
        question = self._questions[self._index[draft.cursor]]
        counted, _ = self._progress(draft)
        return QuestionStep(
            question=question,
            position=counted.index(question.id) + 1,
            total=len(counted),
            current=draft.answers.get(question.id),
            pending=draft.pending,
            can_skip=not question.required,
            can_go_back=self._back_target(draft) is not None,
            editing=draft.editing,
        )

    def _guard(self, draft: Draft, question_id: str | None) -> Question | None:
        """The question being asked, or None if there is none or the button is stale."""
        if draft.cursor is None or (question_id is not None and question_id != draft.cursor):
            return None
        return self._questions[self._index[draft.cursor]]

    # -- input parsing ----------------------------------------------------------------------

    def _parse(self, question: Question, value: object) -> AnswerValue | InputError | None:
        """Validate an input for a question; None means "recorded as skipped"."""
        kind = question.type
        if kind == "single":
            if not isinstance(value, str):
                return InputError("invalid")
            choice = value.strip()
            return choice if choice in question.choice_ids else InputError("not_a_choice")
        if kind == "multi":
            return self._parse_multi(question, value)
        if kind in ("scale", "number"):
            return self._parse_integer(question, value)
        if not isinstance(value, str):
            return InputError("invalid")
        text = clean_text(value)
        if not text:
            return InputError("empty")
        limit = question.max_length or 0
        if len(text) > limit:
            return InputError("too_long", {"max": limit, "length": len(text)})
        return text

    def _parse_multi(self, question: Question, value: object) -> list[str] | InputError | None:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            return InputError("invalid")
        chosen = set(value)
        if not chosen <= set(question.choice_ids):
            return InputError("not_a_choice")
        if question.max_choices is not None and len(chosen) > question.max_choices:
            return InputError("too_many_choices", {"max": question.max_choices})
        if not chosen:
            return InputError("required") if question.required else None
        return [cid for cid in question.choice_ids if cid in chosen]

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

    def _valid_stored(self, question: Question, value: AnswerValue) -> bool:
        """Whether a stored answer still fits its question (guards hand-edited drafts)."""
        if isinstance(value, list):
            return question.type == "multi" and self._parse(question, value) == value
        if isinstance(value, bool):
            return False
        if question.type == "text":
            return isinstance(value, str) and self._parse(question, value) == value
        if question.type in ("scale", "number"):
            return isinstance(value, int) and self._parse(question, value) == value
        return question.type == "single" and self._parse(question, value) == value
