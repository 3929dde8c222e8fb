"""The questionnaire as data: pydantic models for the YAML format, with localized lookups.

Models are frozen and reject unknown keys, so a typo in a file is an error, not a silently
ignored field. Cross-field rules (ids, conditions, translations, ranges) live in `validate.py`
and run whenever a `Questionnaire` is validated, so no unchecked questionnaire exists at runtime.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationInfo,
    model_validator,
)

from bot.questionnaire.conditions import Condition, parse_condition

ID_MAX_LENGTH: Final = 24
ID_PATTERN: Final = rf"^[a-z][a-z0-9_]{{0,{ID_MAX_LENGTH - 1}}}$"
QUESTIONNAIRE_ID_PATTERN: Final = r"^[a-z][a-z0-9_-]{0,63}$"

Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
"""Question, choice and section ids: short because they travel in 64-byte callback data."""

LocalizedText: TypeAlias = dict[str, str]
QuestionType: TypeAlias = Literal["single", "multi", "scale", "text", "number"]
QUESTION_TYPES: Final[tuple[str, ...]] = ("single", "multi", "scale", "text", "number")
TextField: TypeAlias = Literal["label", "help", "min_label", "max_label"]

_PRIMARY_LANGUAGE = re.compile(r"[-_]")


def localized(texts: Mapping[str, str], locale: str, default_locale: str) -> str:
    """Text for `locale`, else for the same language (`en-US` → `en`), else the default."""
    if locale in texts:
        return texts[locale]
    wanted = locale.lower()
    language = _PRIMARY_LANGUAGE.split(wanted, maxsplit=1)[0]
    for key, text in texts.items():
        if key.lower() == wanted:
            return text
    for key, text in texts.items():
        if _PRIMARY_LANGUAGE.split(key.lower(), maxsplit=1)[0] == language:
            return text
    if default_locale in texts:
        return texts[default_locale]
    return next(iter(texts.values()), "")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Choice(_Frozen):
    """One option of a single/multi question."""

    id: Identifier
    label: LocalizedText


class _NotParsed:
    """Marker: the condition has not been parsed yet."""


_NOT_PARSED: Final = _NotParsed()


class Question(_Frozen):
    """One question. Which of the optional fields apply depends on `type` (see validate.py)."""

    id: Identifier
    type: QuestionType
    label: LocalizedText
    help: LocalizedText | None = None
    required: StrictBool = False
    choices: tuple[Choice, ...] = ()
    relevant: str | None = None
    min: StrictInt | None = None
    max: StrictInt | None = None
    min_label: LocalizedText | None = None
    max_label: LocalizedText | None = None
    max_length: StrictInt | None = None
    max_choices: StrictInt | None = None

    _default_locale: str = PrivateAttr(default="")
    _condition: Condition | _NotParsed | None = PrivateAttr(default=_NOT_PARSED)

    @property
    def condition(self) -> Condition | None:
        """The parsed `relevant:` expression (parsed once, on first use)."""
        if isinstance(self._condition, _NotParsed):
            self._condition = None if self.relevant is None else parse_condition(self.relevant)
        return self._condition

    @property
    def choice_ids(self) -> tuple[str, ...]:
        return tuple(choice.id for choice in self.choices)

    def text(self, field: TextField = "label", *, locale: str) -> str:
        """A localized text of this question; "" when the question has no such text."""
        if field not in ("label", "help", "min_label", "max_label"):
            raise ValueError(f"no localized field {field!r} on a question")
        texts: LocalizedText | None = getattr(self, field)
        return "" if texts is None else localized(texts, locale, self._default_locale)

    def label_for(self, locale: str) -> str:
        return self.text("label", locale=locale)

    def help_for(self, locale: str) -> str | None:
        """The help text, or None when the question has none."""
        return None if self.help is None else self.text("help", locale=locale)

    def choice_label(self, choice_id: str, locale: str) -> str:
        """Label of one choice; KeyError for an id this question does not offer."""
        for choice in self.choices:
            if choice.id == choice_id:
                return localized(choice.label, locale, self._default_locale)
        raise KeyError(f"question {self.id!r} has no choice {choice_id!r}")


class _SectionFields(_Frozen):
    id: Identifier
    title: LocalizedText


class Section(_SectionFields):
    """A titled group of questions (shown as a heading while answering and in digests)."""

    questions: tuple[Question, ...]

    _default_locale: str = PrivateAttr(default="")

    def title_for(self, locale: str) -> str:
        return localized(self.title, locale, self._default_locale)


class _QuestionnaireFields(_Frozen):
    id: Annotated[str, StringConstraints(pattern=QUESTIONNAIRE_ID_PATTERN)]
    version: StrictInt = Field(ge=1)
    locales: tuple[str, ...]
    title: LocalizedText
    intro: LocalizedText


class Questionnaire(_QuestionnaireFields):
    """A whole questionnaire; build it with `parse_questionnaire` / `load_questionnaire`."""

    sections: tuple[Section, ...]

    _questions: tuple[Question, ...] = PrivateAttr(default=())
    _by_id: dict[str, Question] = PrivateAttr(default_factory=dict)
    _section_by_question: dict[str, Section] = PrivateAttr(default_factory=dict)
    _index: dict[str, int] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        """Index questions and tell every text owner which locale to fall back to."""
        default_locale = self.locales[0] if self.locales else ""
        questions: list[Question] = []
        for section in self.sections:
            section._default_locale = default_locale
            for question in section.questions:
                question._default_locale = default_locale
                questions.append(question)
                self._by_id.setdefault(question.id, question)
                self._section_by_question.setdefault(question.id, section)
                self._index.setdefault(question.id, len(questions) - 1)
        self._questions = tuple(questions)

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> Questionnaire:
        """Run every cross-field rule; raise QuestionnaireError naming the problems."""
        context = info.context if isinstance(info.context, dict) else {}
        if context.get("checked"):
            return self
        # Imported here because validation is written in terms of these models.
        from bot.questionnaire.problems import QuestionnaireError
        from bot.questionnaire.validate import collect_problems

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
