"""The cross-field rules of a questionnaire, reporting every problem at once.

An admin who uploads a questionnaire gets the full list of what to fix, each line naming the
file, the question and the problem, rather than one error per attempt. Structure (types,
unknown keys) is checked by the pydantic models of `parts.py` piece by piece, so one broken
question does not hide the problems of the others; the rules that span fields and questions
are checked here, on raw data, before (and whenever) a `Questionnaire` is built.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from bot.questionnaire.conditions import (
    KEYWORDS,
    Answered,
    Comparison,
    ConditionSyntaxError,
    Contains,
    Membership,
    Test,
    parse_condition,
    tests_in,
)
from bot.questionnaire.parts import (
    ID_MAX_LENGTH,
    QUESTION_TYPES,
    Question,
    _QuestionnaireFields,
    _SectionFields,
    row_key,
)
from bot.questionnaire.problems import Problem

MAX_FILE_BYTES: Final = 256 * 1024
#: Limits of the YAML reader, so that an uploaded file cannot exhaust the stack, the CPU or
#: the memory: a questionnaire nests about six levels and has small mappings and numbers.
MAX_DEPTH: Final = 32
MAX_MAPPING_KEYS: Final = 1000
MAX_NUMBER_DIGITS: Final = 15
MAX_TEXT_LENGTH: Final = 4000  # a Telegram message holds 4096 characters
MAX_SCALE_POINTS: Final = 11  # one button per point, 0–10 at most
#: Telegram: at most 100 buttons on one message, callback data of at most 64 bytes. A grid's
#: screen holds every cell plus up to six navigation buttons (fill, Done, Back, Skip, …); a
#: cell's callback data is "s:cell:<grid>.<row>:<value>".
MAX_BUTTONS: Final = 100
GRID_NAVIGATION_BUTTONS: Final = 6
MAX_CALLBACK_BYTES: Final = 64
CELL_CALLBACK_PREFIX: Final = "s:cell:"
_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")

# Which optional fields each question type uses; anything else set on it is a mistake.
_TYPE_FIELDS: Final[dict[str, frozenset[str]]] = {
    "single": frozenset({"choices"}),
    "multi": frozenset({"choices", "max_choices"}),
    "scale": frozenset({"min", "max", "min_label", "max_label"}),
    "number": frozenset({"min", "max"}),
    "text": frozenset({"max_length"}),
    "grid": frozenset({"rows", "fill", "choices", "min", "max", "min_label", "max_label"}),
}
_OPTIONAL_FIELDS: Final = ("choices", "max_choices", "min", "max", "min_label", "max_label")
_OPTIONAL_FIELDS_ALL: Final = (*_OPTIONAL_FIELDS, "max_length", "rows", "fill")


def _short(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _format_loc(loc: Sequence[int | str]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


_ID_RULE: Final = f"1–{ID_MAX_LENGTH} characters of a–z, 0–9 and _, starting with a letter"
_QUESTIONNAIRE_ID_RULE: Final = "1–64 characters of a–z, 0–9, _ and -, starting with a letter"


def _describe(error: ErrorDetails, id_rule: str = _ID_RULE) -> str:
    """Turn one pydantic error into a sentence an admin understands."""
    loc = error["loc"]
    path = _format_loc(loc)
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        parent = _format_loc(loc[:-1])
        return f"unknown key {loc[-1]!r}" + (f" in {parent}" if parent else "")
    if kind == "missing":
        return f"missing {path!r}"
    if kind == "literal_error" and loc == ("type",):
        return f"unknown type {_short(value)}; expected one of {', '.join(QUESTION_TYPES)}"
    if kind == "string_pattern_mismatch" and loc and loc[-1] == "id":
        return f"{path} {_short(value)} must be {id_rule if len(loc) == 1 else _ID_RULE}"
    if kind == "dict_type":
        return f"{path} must be a map of locale to text, e.g. {{zh-CN: …, en: …}}"
    return f"{path}: {error['msg']}"


class _Collector:
    """Accumulates problems for one source, in file order."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self.locales: tuple[str, ...] = ()

    def add(self, question_id: str | None, message: str) -> None:
        self.problems.append(Problem(self.source, question_id, message))

    def add_validation_error(
        self,
        error: ValidationError,
        question_id: str | None,
        prefix: str = "",
        id_rule: str = _ID_RULE,
    ) -> None:
        for detail in error.errors():
            self.add(question_id, prefix + _describe(detail, id_rule))

    # -- locales and texts --

    def check_locales(self, raw: object) -> None:
        if not isinstance(raw, list | tuple) or not all(isinstance(x, str) for x in raw):
            return  # the structural check reports it
        if not raw:
            self.add(None, "locales: declare at least one locale (the first is the default)")
            return
        for locale in raw:
            if not _LOCALE.match(locale):
                self.add(None, f"locales: {locale!r} is not a locale code such as zh-CN or en")
        for locale, count in Counter(raw).items():
            if count > 1:
                self.add(None, f"locales: {locale!r} is listed {count} times")
        self.locales = tuple(dict.fromkeys(raw))

    def check_text(self, raw: object, what: str, question_id: str | None) -> None:
        """Every declared locale present and non-empty, and no undeclared locale."""
        if not isinstance(raw, Mapping) or not self.locales:
            return
        for locale in self.locales:
            text = raw.get(locale)
            if text is None:
                self.add(question_id, f"{what}: missing translation for {locale}")
            elif isinstance(text, str) and not text.strip():
                self.add(question_id, f"{what}: empty {locale} text")
        for key in raw:
            if key not in self.locales:
                declared = ", ".join(self.locales)
                self.add(question_id, f"{what}: {key!r} is not a declared locale ({declared})")

    # -- one question --

    def check_question(self, question: Question) -> None:
        qid = question.id
        if qid in KEYWORDS:
            self.add(qid, f"{qid!r} is a reserved word of the condition language; rename it")
        self.check_text(question.label, "label", qid)
        self.check_text(question.help, "help", qid)
        allowed = _TYPE_FIELDS[question.type]
        for field in _OPTIONAL_FIELDS_ALL:
            value = getattr(question, field)
            if field not in allowed and value not in (None, ()):
                self.add(qid, f"{field!r} does not apply to {question.type} questions")
        if question.type in ("single", "multi"):
            self._check_choices(question)
        elif question.type in ("scale", "number"):
            self._check_range(question)
        elif question.type == "grid":
            self._check_grid(question)
        elif question.type == "text":
            if question.max_length is None or question.max_length <= 0:
                self.add(qid, "text question needs a positive max_length")
            elif question.max_length > MAX_TEXT_LENGTH:
                self.add(qid, f"max_length must be at most {MAX_TEXT_LENGTH} (one message)")

    def _check_choices(self, question: Question) -> None:
        qid = question.id
        if not question.choices:
            self.add(qid, f"{question.type} question has no choices")
        for index, choice in enumerate(question.choices):
            self.check_text(choice.label, f"choices[{index}] {choice.id!r} label", qid)
            if choice.id in KEYWORDS:
                self.add(qid, f"choice id {choice.id!r} is a reserved word; rename it")
        for choice_id, count in Counter(question.choice_ids).items():
            if count > 1:
                self.add(qid, f"duplicate choice id {choice_id!r}")
        if question.max_choices is not None:
            if question.max_choices < 1:
                self.add(qid, "max_choices must be at least 1")
            elif question.choices and question.max_choices > len(question.choices):
                self.add(
                    qid,
                    f"max_choices {question.max_choices} is more than the "
                    f"{len(question.choices)} choices",
                )

    def _check_range(self, question: Question) -> None:
        qid = question.id
        if question.min is None or question.max is None:
            self.add(qid, f"{question.type} question needs both min and max")
            return
        if question.min > question.max:
            self.add(qid, f"range min {question.min} > max {question.max}")
        elif question.type in ("scale", "grid"):
            points = question.max - question.min + 1
            if points < 2:
                self.add(qid, "a scale needs at least two points (min < max)")
            elif points > MAX_SCALE_POINTS:
                self.add(qid, f"a scale of {points} points is too long; at most 11 fit")
        if question.type in ("scale", "grid"):
            self.check_text(question.min_label, "min_label", qid)
            self.check_text(question.max_label, "max_label", qid)

    def _check_grid(self, question: Question) -> None:
        """Rows, one kind of cell (choices or min..max), `fill`, and what fits on Telegram."""
        qid = question.id
        has_range = question.min is not None or question.max is not None
        if not question.rows:
            self.add(qid, "grid question has no rows")
        for index, row in enumerate(question.rows):
            self.check_text(row.label, f"rows[{index}] {row.id!r} label", qid)
            if row.id in KEYWORDS:
                self.add(qid, f"row id {row.id!r} is a reserved word; rename it")
        for row_id, count in Counter(row.id for row in question.rows).items():
            if count > 1:
                self.add(qid, f"duplicate row id {row_id!r}")
        earlier = Counter(row.same_as for row in question.rows if row.same_as is not None)
        for key, count in earlier.items():
            if count > 1:
                self.add(qid, f"two rows are the same_as {key!r}; an earlier answer is one row's")
        if question.choices and has_range:
            self.add(qid, "grid question has both choices and min/max; cells are one or the other")
            return
        if not question.choices and not has_range:
            self.add(qid, "grid question needs either choices or min and max for its cells")
            return
        if question.choices:
            self._check_choices(question)
            for index, choice in enumerate(question.choices):
                if choice.relevant is not None:
                    self.add(
                        qid,
                        f"choices[{index}] {choice.id!r}: the cells of a grid cannot have a "
                        "condition; put it on the row",
                    )
            cells = [choice.id for choice in question.choices]
            if question.fill is not None and question.fill not in question.choice_ids:
                self.add(qid, f"fill {question.fill!r} is not one of the choices")
        else:
            self._check_range(question)
            if question.min is None or question.max is None or question.min > question.max:
                return
            cells = [str(number) for number in range(question.min, question.max + 1)]
            if question.fill is not None:
                self.add(qid, "fill only works on grids with choices, not on min/max grids")
        self._check_grid_screen(question, cells)

    def _check_grid_screen(self, question: Question, cells: Sequence[str]) -> None:
        """Every cell is one Telegram button carrying its row and value in callback data."""
        qid = question.id
        buttons = len(question.rows) * len(cells) + GRID_NAVIGATION_BUTTONS
        if question.rows and buttons > MAX_BUTTONS:
            self.add(
                qid,
                f"grid of {len(question.rows)} rows × {len(cells)} cells needs {buttons} "
                f"buttons with navigation; Telegram shows at most {MAX_BUTTONS}: use fewer "
                "rows or cells, or split the grid",
            )
        longest = max((len(cell.encode()) for cell in cells), default=0)
        for row in question.rows:
            size = len(CELL_CALLBACK_PREFIX) + len(row_key(qid, row.id).encode()) + 1 + longest
            if size > MAX_CALLBACK_BYTES:
                self.add(
                    qid,
                    f"row {row.id!r}: its buttons need {size} bytes of callback data; Telegram "
                    f"allows {MAX_CALLBACK_BYTES}: shorten the grid, row or choice ids",
                )

    # -- conditions --

    def check_condition(
        self, question: Question, order: Mapping[str, int], known: Mapping[str, Question]
    ) -> None:
        """The conditions of a question, of its rows and of its choices: syntax, and that
        every test names an earlier question (or a row of an earlier grid) and fits its type."""
        qid = question.id
        if question.relevant is not None:
            self._check_expression(qid, "relevant", question.relevant, order, known)
        for index, row in enumerate(question.rows):
            if row.relevant is not None:
                what = f"rows[{index}] {row.id!r} relevant"
                self._check_expression(qid, what, row.relevant, order, known)
        if question.type != "grid":
            for index, choice in enumerate(question.choices):
                if choice.relevant is not None:
                    what = f"choices[{index}] {choice.id!r} relevant"
                    self._check_expression(qid, what, choice.relevant, order, known)

    def _check_expression(
        self,
        qid: str,
        what: str,
        text: str,
        order: Mapping[str, int],
        known: Mapping[str, Question],
    ) -> None:
        try:
            condition = parse_condition(text)
        except ConditionSyntaxError as error:
            self.add(qid, f"{what}: syntax error: {error}")
            return
        own_index = order[qid]
        for test in tests_in(condition):
            reference = test.question_id
            target_id, _, row_id = reference.partition(".")
            if target_id not in order:
                self.add(qid, f"{what}: unknown question {target_id!r}")
                continue
            if target_id == qid:
                if row_id or what.startswith("rows["):
                    self.add(qid, f"{what}: a row cannot depend on its own grid")
                else:
                    self.add(qid, f"{what}: a question cannot depend on itself")
                continue
            if order[target_id] > own_index:
                self.add(
                    qid,
                    f"{what}: {target_id!r} comes later; conditions may only use "
                    "questions asked before",
                )
                continue
            target = known.get(target_id)
            if target is None:
                continue  # a broken question: its own problems are reported
            for message in _reference_mismatches(test, target, row_id):
                self.add(qid, f"{what}: {message}")


def _reference_mismatches(test: Test, target: Question, row_id: str) -> Iterable[str]:
    """Why a test does not fit what it reads: a grid is read row by row ("grid.row"), a row
    of a choice grid like a single question, a row of an integer grid like a scale."""
    if target.type != "grid":
        if row_id:
            yield (
                f"{target.id!r} is not a grid; only a row of a grid question is named "
                f"as {target.id}.<row>"
            )
            return
        yield from _test_mismatches(test, target.id, target.type, target.choice_ids)
        return
    if not row_id:
        example = row_key(target.id, target.rows[0].id) if target.rows else f"{target.id}.<row>"
        yield f"{target.id!r} is a grid; name one of its rows, e.g. {example}"
        return
    if row_id not in {row.id for row in target.rows}:
        yield f"grid {target.id!r} has no row {row_id!r}"
        return
    kind = "single" if target.choices else "scale"
    yield from _test_mismatches(test, row_key(target.id, row_id), kind, target.choice_ids)


def _test_mismatches(test: Test, name: str, kind: str, choice_ids: Sequence[str]) -> Iterable[str]:
    """Why a test does not fit the type of the question it reads (nothing if it fits)."""
    if isinstance(test, Answered):
        return
    if kind == "text":
        yield f"{name!r} is a text question; only answered({name}) can test it"
        return
    if isinstance(test, Contains):
        if kind != "multi":
            yield f"'has' only works on multi-choice questions; {name!r} is {kind}"
        elif test.choice_id not in choice_ids:
            yield f"{name!r} has no choice {test.choice_id!r}"
        return
    if kind == "multi":
        yield f"{name!r} is a multi-choice question; use '{name} has <choice>'"
        return
    if isinstance(test, Comparison) and test.op not in ("==", "!="):
        if kind == "single":
            yield f"{name!r} is a choice question; {test.op!r} needs a scale or number question"
        return
    values = test.values if isinstance(test, Membership) else (test.value,)
    for value in values:
        if kind == "single" and isinstance(value, int):
            yield f"{name!r} is a choice question and cannot be compared with the number {value}"
        elif kind == "single" and value not in choice_ids:
            yield f"{name!r} has no choice {value!r}"
        elif kind in ("scale", "number") and isinstance(value, str):
            yield f"{name!r} is a {kind} question; compare it with a number, not {value!r}"


def _raw_id(raw: object) -> str | None:
    if isinstance(raw, Mapping):
        value = raw.get("id")
        if isinstance(value, str):
            return value
    return None


def _without_unknown_keys(raw: object, error: ValidationError) -> Question | None:
    """The question minus its unknown keys, when those were its only fault, so that its
    other problems are reported in the same run."""
    details = error.errors()
    if not isinstance(raw, Mapping) or not all(
        detail["type"] == "extra_forbidden" and len(detail["loc"]) == 1 for detail in details
    ):
        return None
    unknown = {detail["loc"][0] for detail in details}
    try:
        return Question.model_validate({k: v for k, v in raw.items() if k not in unknown})
    except ValidationError:
        return None


def collect_problems(data: object, source: str) -> list[Problem]:
    """Every problem in raw questionnaire data (as loaded from YAML/JSON), in file order."""
    out = _Collector(source)
    if not isinstance(data, Mapping):
        out.add(None, "expected a mapping at the top level (id, version, locales, … sections)")
        return out.problems
    header = {key: value for key, value in data.items() if key != "sections"}
    try:
        _QuestionnaireFields.model_validate(header)
    except ValidationError as error:
        out.add_validation_error(error, None, id_rule=_QUESTIONNAIRE_ID_RULE)
    out.check_locales(data.get("locales"))
    out.check_text(data.get("title"), "title", None)
    out.check_text(data.get("intro"), "intro", None)

    sections = data.get("sections")
    if not isinstance(sections, list) or not sections:
        if "sections" in data:
            out.add(None, "sections: expected a non-empty list of sections")
        return out.problems

    # Every question id in file order, broken questions included, so that a condition on a
    # broken question is reported as broken question, not as an unknown one.
    raw_questions: list[tuple[str, object]] = []
    for s_index, section in enumerate(sections):
        questions = section.get("questions") if isinstance(section, Mapping) else None
        if isinstance(questions, list):
            for q_index, raw in enumerate(questions):
                raw_questions.append((f"sections[{s_index}].questions[{q_index}]", raw))
    order: dict[str, int] = {}
    for index, (_, raw) in enumerate(raw_questions):
        raw_id = _raw_id(raw)
        if raw_id is not None:
            order.setdefault(raw_id, index)

    known: dict[str, Question] = {}
    seen_questions: set[str] = set()
    seen_sections: set[str] = set()
    position = 0
    for s_index, section in enumerate(sections):
        where = f"sections[{s_index}]"
        if not isinstance(section, Mapping):
            out.add(None, f"{where}: expected a mapping with id, title and questions")
            continue
        section_id = _raw_id(section)
        label = f"section {section_id!r}" if section_id else where
        try:
            _SectionFields.model_validate(
                {key: value for key, value in section.items() if key != "questions"}
            )
        except ValidationError as error:
            out.add_validation_error(error, None, prefix=f"{label}: ")
        if section_id is not None:
            if section_id in seen_sections:
                out.add(None, f"{label}: duplicate section id")
            seen_sections.add(section_id)
        out.check_text(section.get("title"), f"{label} title", None)
        questions = section.get("questions")
        if not isinstance(questions, list) or not questions:
            out.add(None, f"{label}: expected a non-empty list of questions")
            continue
        for raw in questions:
            path, _ = raw_questions[position]
            position += 1
            raw_id = _raw_id(raw)
            if raw_id is not None and raw_id in seen_questions:
                out.add(raw_id, "duplicate question id")
            if raw_id is not None:
                seen_questions.add(raw_id)
            try:
                question = Question.model_validate(raw)
            except ValidationError as error:
                prefix = "" if raw_id is not None else f"{path}: "
                out.add_validation_error(error, raw_id, prefix=prefix)
                retried = _without_unknown_keys(raw, error)
                if retried is None:
                    continue
                question = retried
            known.setdefault(question.id, question)
            out.check_question(question)
            if order.get(question.id) == position - 1:
                out.check_condition(question, order, known)
            else:
                # A duplicate: its position is ambiguous, so check syntax only.
                out.check_condition(question, {**order, question.id: position - 1}, known)
    for question in known.values():
        for row in question.rows:
            if row.same_as is not None and row.same_as in order:
                out.add(
                    question.id,
                    f"row {row.id!r}: same_as {row.same_as!r} is a question of this version; "
                    "it must name an earlier version's question",
                )
    return out.problems
