"""The columns of an export and the codebook that describes them.

Answers go out as codes so that they can be analysed: a single choice (or a row of a choice
grid) as its choice id, a multiple choice as one 0/1 column per option ("measures.<choice>":
1 ticked, 0 answered but not ticked, empty not answered), numbers as numbers. The grouping
questions stay words, as generalised (see `bot.export.generalise`). The codebook gives, for
every column, its question, its wording in both locales, its type and its codes with labels
in both locales, and the integer each choice has in an SPSS file (1..n in choice order).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from bot.export.generalise import OTHER
from bot.questionnaire import AnswerField, Questionnaire

ColumnKind: TypeAlias = Literal["row", "week", "group", "single", "option", "number", "text"]

LOCALE: Final = "zh-CN"
LOCALES: Final = ("zh-CN", "en")
ROW_HEADER: Final = "row"
WEEK_HEADER: Final = "week"
#: The grouping questions of `bot/questionnaires/formalism.yaml` (quasi-identifiers).
UNIT_QUESTION: Final = "unit_type"
LEVEL_QUESTION: Final = "post_level"
GROUPING: Final = frozenset({UNIT_QUESTION, LEVEL_QUESTION})
OTHER_EN: Final = "Other or not given"
TICKED: Final = {0: ("未选", "Not ticked"), 1: ("已选", "Ticked")}
CODEBOOK_HEADER: Final = (
    "column",
    "question",
    "wording (zh-CN)",
    "wording (en)",
    "type",
    "codes",
)


@dataclass(frozen=True)
class Column:
    """An export column: its answer key (a question id or "grid.row"; None for the row
    number and the week), its header, what it holds, and for an option column its choice."""

    question_id: str | None
    header: str
    kind: ColumnKind = "text"
    answer_field: AnswerField | None = None
    choice_id: str | None = None

    def spss_codes(self) -> dict[str, int]:
        """A single choice's ids numbered 1..n in choice order (the SPSS value labels)."""
        if self.kind != "single" or self.answer_field is None:
            return {}
        return {choice: index for index, choice in enumerate(self.answer_field.choice_ids, 1)}


def exported_fields(questionnaire: Questionnaire, with_text: bool) -> list[AnswerField]:
    return [
        answer_field
        for answer_field in questionnaire.answer_fields
        if with_text or answer_field.type != "text"
    ]


def _kind(answer_field: AnswerField) -> ColumnKind:
    if answer_field.key in GROUPING:
        return "group"
    if answer_field.type in ("single", "text"):
        return "single" if answer_field.type == "single" else "text"
    return "number"  # scale, number, and the rows of an integer grid


def export_columns(questionnaire: Questionnaire, *, with_text: bool = False) -> list[Column]:
    """Row number, week, then every answer field in asking order (free-text questions only
    `with_text`); a multiple choice as one column per option, headed "key.choice"."""
    columns = [Column(None, ROW_HEADER, "row"), Column(None, WEEK_HEADER, "week")]
    for answer_field in exported_fields(questionnaire, with_text):
        key = answer_field.key
        if answer_field.type == "multi":
            columns += [
                Column(key, f"{key}.{choice}", "option", answer_field, choice)
                for choice in answer_field.choice_ids
            ]
        else:
            columns.append(Column(key, key, _kind(answer_field), answer_field))
    return columns


def wording(column: Column, locale: str) -> str:
    """The question's wording; a grid row as "question — row", an option with its label."""
    answer_field = column.answer_field
    if answer_field is None:
        if column.kind == "row":
            return "序号" if locale == LOCALE else "Row number in this export"
        return (
            "周（周一日期，或合并后的月份）" if locale == LOCALE else "Week (its Monday, or month)"
        )
    text = answer_field.question.label_for(locale)
    if answer_field.row is not None:
        text += " — " + answer_field.label_for(locale)
    if column.choice_id is not None:
        text += " — " + answer_field.choice_label(column.choice_id, locale)
    return text


def _codes(column: Column) -> str:
    answer_field = column.answer_field
    if answer_field is None:
        return ""
    if column.kind == "option":
        return "; ".join(f"{code} = {zh} / {en}" for code, (zh, en) in TICKED.items())
    if column.kind == "group":
        labels = [
            " / ".join(answer_field.choice_label(choice, locale) for locale in LOCALES)
            for choice in answer_field.choice_ids
            if choice != "other"
        ]
        return "; ".join([*labels, f"{OTHER} / {OTHER_EN}"])
    if column.kind == "single":
        return "; ".join(
            f"{choice} ({number}) = {answer_field.choice_label(choice, 'zh-CN')}"
            f" / {answer_field.choice_label(choice, 'en')}"
            for choice, number in column.spss_codes().items()
        )
    if column.kind == "number" and answer_field.min is not None and answer_field.max is not None:
        return f"{answer_field.min}–{answer_field.max}"
    return ""


def _type(column: Column) -> str:
    if column.answer_field is None:
        return column.kind
    if column.kind == "option":
        return "multi (0/1)"
    if column.kind == "group":
        return "single (generalised to K)"
    return column.answer_field.type


def codebook_rows(columns: list[Column]) -> list[list[str]]:
    """One row per column of the answers: name, question id, wording zh-CN and en, type,
    codes ("code (SPSS number) = zh-CN / en; …")."""
    return [
        [
            column.header,
            column.question_id or "",
            wording(column, "zh-CN"),
            wording(column, "en"),
            _type(column),
            _codes(column),
        ]
        for column in columns
    ]
