"""The questionnaire as data: pydantic models for the YAML format, with localized lookups.

Models are frozen and reject unknown keys, so a typo in a file is an error, not a silently
ignored field. Cross-field rules (ids, conditions, translations, ranges) live in `checks.py`
and run whenever a `Questionnaire` is validated, so no unchecked questionnaire exists at runtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import PrivateAttr, ValidationInfo, model_validator

from bot.questionnaire.checks import collect_problems
from bot.questionnaire.parts import (
    ID_MAX_LENGTH,
    ID_PATTERN,
    QUESTION_TYPES,
    QUESTIONNAIRE_ID_PATTERN,
    Choice,
    Identifier,
    LocalizedText,
    Question,
    QuestionType,
    Row,
    Section,
    TextField,
    _QuestionnaireFields,
    localized,
    row_key,
)
from bot.questionnaire.problems import QuestionnaireError

__all__ = [
    "ID_MAX_LENGTH",
    "ID_PATTERN",
    "QUESTIONNAIRE_ID_PATTERN",
    "QUESTION_TYPES",
    "AnswerField",
    "Choice",
    "Identifier",
    "LocalizedText",
    "Question",
    "QuestionType",
    "Questionnaire",
    "Row",
    "Section",
    "TextField",
    "localized",
    "row_key",
]


@dataclass(frozen=True)
class AnswerField:
    """One key a submission may hold: a question, or one row of a grid ("grid.row").

    What digests and exports iterate over, so that a grid row reads like the single or
    scale question it is answered as."""

    key: str
    question: Question
    row: Row | None
    section: Section

    @property
    def type(self) -> str:
        """ "single" for a row of a choice grid, "scale" for a row of an integer grid."""
        if self.row is None:
            return self.question.type
        return "single" if self.question.cells_are_choices else "scale"

    @property
    def choice_ids(self) -> tuple[str, ...]:
        return self.question.choice_ids

    @property
    def same_as(self) -> str | None:
        """An earlier version's key for the same answer (a grid row's `same_as`), or None."""
        return None if self.row is None else self.row.same_as

    @property
    def min(self) -> int | None:
        return self.question.min

    @property
    def max(self) -> int | None:
        return self.question.max

    def label_for(self, locale: str) -> str:
        """The row's label for a grid row, else the question's."""
        return self.question.label_for(locale) if self.row is None else self.row.label_for(locale)

    def choice_label(self, choice_id: str, locale: str) -> str:
        """Label of one choice; KeyError for an id the question does not offer."""
        return self.question.choice_label(choice_id, locale)


class Questionnaire(_QuestionnaireFields):
    """A whole questionnaire; build it with `parse_questionnaire` / `load_questionnaire`."""

    sections: tuple[Section, ...]

    _questions: tuple[Question, ...] = PrivateAttr(default=())
    _by_id: dict[str, Question] = PrivateAttr(default_factory=dict)
    _section_by_question: dict[str, Section] = PrivateAttr(default_factory=dict)
    _index: dict[str, int] = PrivateAttr(default_factory=dict)
    _fields: tuple[AnswerField, ...] = PrivateAttr(default=())
    _field_by_key: dict[str, AnswerField] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        """Index questions and tell every text owner which locale to fall back to."""
        default_locale = self.locales[0] if self.locales else ""
        questions: list[Question] = []
        fields: list[AnswerField] = []
        for section in self.sections:
            section._default_locale = default_locale
            for question in section.questions:
                question._default_locale = default_locale
                questions.append(question)
                self._by_id.setdefault(question.id, question)
                self._section_by_question.setdefault(question.id, section)
                self._index.setdefault(question.id, len(questions) - 1)
                if question.type != "grid":
                    fields.append(AnswerField(question.id, question, None, section))
                for row in question.rows:
                    row._default_locale = default_locale
                    fields.append(AnswerField(row_key(question.id, row.id), question, row, section))
        self._questions = tuple(questions)
        self._fields = tuple(fields)
        for answer_field in fields:
            self._field_by_key.setdefault(answer_field.key, answer_field)

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> Questionnaire:
        """Run every cross-field rule; raise QuestionnaireError naming the problems."""
        context = info.context if isinstance(info.context, dict) else {}
        if context.get("checked"):
            return self
        source = str(context.get("source", f"questionnaire {self.id}"))
        problems = collect_problems(self.model_dump(mode="json", exclude_none=True), source)
        if problems:
            raise QuestionnaireError(problems)
        return self

    @property
    def default_locale(self) -> str:
        return self.locales[0]

    @property
    def questions(self) -> tuple[Question, ...]:
        """Every question, flattened in the order it is asked."""
        return self._questions

    @property
    def text_question_ids(self) -> frozenset[str]:
        """Questions holding free text (to be scrubbed and encrypted, never shown raw)."""
        return frozenset(q.id for q in self._questions if q.type == "text")

    @property
    def answer_fields(self) -> tuple[AnswerField, ...]:
        """Every key a submission may hold, in asking order (a grid's rows in row order; a
        grid question itself holds no answer)."""
        return self._fields

    def answer_field(self, key: str) -> AnswerField:
        """The field stored under this key; KeyError if there is none."""
        try:
            return self._field_by_key[key]
        except KeyError:
            raise KeyError(f"questionnaire {self.id!r} has no answer field {key!r}") from None

    def has_answer_field(self, key: str) -> bool:
        return key in self._field_by_key

    def question(self, question_id: str) -> Question:
        """The question with this id; KeyError if there is none."""
        try:
            return self._by_id[question_id]
        except KeyError:
            raise KeyError(f"questionnaire {self.id!r} has no question {question_id!r}") from None

    def has_question(self, question_id: str) -> bool:
        return question_id in self._by_id

    def index_of(self, question_id: str) -> int:
        """0-based position of a question in asking order; KeyError if unknown."""
        self.question(question_id)
        return self._index[question_id]

    def section_of(self, question_id: str) -> Section:
        """The section a question belongs to; KeyError if unknown."""
        self.question(question_id)
        return self._section_by_question[question_id]

    def title_for(self, locale: str) -> str:
        return localized(self.title, locale, self.default_locale)

    def intro_for(self, locale: str) -> str:
        return localized(self.intro, locale, self.default_locale)
