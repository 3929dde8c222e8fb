"""The parts of a questionnaire as data: pydantic models for the YAML format (questions,
choices, sections, the questionnaire's own fields), with localized lookups.

Models are frozen and reject unknown keys, so a typo in a file is an error, not a silently
ignored field. The whole `Questionnaire` (`model.py`) is built from these parts and checked
by the cross-field rules of `checks.py`, which are written in terms of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Final, Literal, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StrictInt,
    StringConstraints,
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
