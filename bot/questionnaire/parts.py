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
QuestionType: TypeAlias = Literal["single", "multi", "scale", "text", "number", "grid"]
QUESTION_TYPES: Final[tuple[str, ...]] = ("single", "multi", "scale", "text", "number", "grid")
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


def row_key(question_id: str, row_id: str) -> str:
    """The answer key of one row of a grid: "grid.row" (ids never contain a dot)."""
    return f"{question_id}.{row_id}"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _NotParsed:
    """Marker: the condition has not been parsed yet."""


_NOT_PARSED: Final = _NotParsed()


def _parsed_once(owner: Choice | Row | Question) -> Condition | None:
    """The owner's `relevant:` expression, parsed on first use and kept."""
    cached = owner._condition
    if isinstance(cached, _NotParsed):
        cached = None if owner.relevant is None else parse_condition(owner.relevant)
        owner._condition = cached
    return cached


class Choice(_Frozen):
    """One option of a single/multi question (or one cell of a choice grid). A choice with a
    `relevant:` condition is offered only while it holds."""

    id: Identifier
    label: LocalizedText
    relevant: str | None = None

    _condition: Condition | _NotParsed | None = PrivateAttr(default=_NOT_PARSED)

    @property
    def condition(self) -> Condition | None:
        """The parsed `relevant:` expression (parsed once, on first use)."""
        return _parsed_once(self)


class Row(_Frozen):
    """One row of a grid question: answered like a `single` (choice grid) or a `scale`
    (integer grid). `required` None means the grid's own `required`.

    `same_as`: the answer key under which an earlier version of the questionnaire asked the
    same thing with the same choice ids (e.g. `p1_freq`), so that a digest counts both
    together and its trend does not break when the version changes."""

    id: Identifier
    label: LocalizedText
    relevant: str | None = None
    required: StrictBool | None = None
    same_as: Identifier | None = None

    _default_locale: str = PrivateAttr(default="")
    _condition: Condition | _NotParsed | None = PrivateAttr(default=_NOT_PARSED)

    @property
    def condition(self) -> Condition | None:
        """The parsed `relevant:` expression (parsed once, on first use)."""
        return _parsed_once(self)

    def label_for(self, locale: str) -> str:
        return localized(self.label, locale, self._default_locale)


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
    rows: tuple[Row, ...] = ()
    fill: Identifier | None = None

    _default_locale: str = PrivateAttr(default="")
    _condition: Condition | _NotParsed | None = PrivateAttr(default=_NOT_PARSED)

    @property
    def condition(self) -> Condition | None:
        """The parsed `relevant:` expression (parsed once, on first use)."""
        return _parsed_once(self)

    @property
    def choice_ids(self) -> tuple[str, ...]:
        return tuple(choice.id for choice in self.choices)

    @property
    def row_keys(self) -> tuple[str, ...]:
        """Answer keys of the rows of a grid ("grid.row"), in row order; () for other types."""
        return tuple(row_key(self.id, row.id) for row in self.rows)

    @property
    def cells_are_choices(self) -> bool:
        """A grid whose cells are its choices (else integers min..max)."""
        return self.type == "grid" and bool(self.choices)

    def row(self, row_id: str) -> Row:
        """The row with this id; KeyError for an id this question does not have."""
        for row in self.rows:
            if row.id == row_id:
                return row
        raise KeyError(f"question {self.id!r} has no row {row_id!r}")

    def row_label(self, row_id: str, locale: str) -> str:
        return self.row(row_id).label_for(locale)

    def row_required(self, row: Row) -> bool:
        """Whether this row must be answered: its own `required`, else the grid's."""
        return self.required if row.required is None else row.required

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
