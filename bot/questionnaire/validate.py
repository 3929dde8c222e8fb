"""Loading and validating questionnaire files, reporting every problem at once.

An admin who uploads a questionnaire gets the full list of what to fix, each line naming the
file, the question and the problem, rather than one error per attempt. Structure (types,
unknown keys) is checked by the pydantic models piece by piece, so one broken question does not
hide the problems of the others; the rules that span fields and questions are checked here.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TextIO

import yaml
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
from bot.questionnaire.model import (
    ID_MAX_LENGTH,
    QUESTION_TYPES,
    Question,
    Questionnaire,
    _QuestionnaireFields,
    _SectionFields,
)
from bot.questionnaire.problems import Problem, QuestionnaireError

MAX_FILE_BYTES: Final = 256 * 1024
#: Limits of the YAML reader, so that an uploaded file cannot exhaust the stack, the CPU or
#: the memory: a questionnaire nests about six levels and has small mappings and numbers.
MAX_DEPTH: Final = 32
MAX_MAPPING_KEYS: Final = 1000
MAX_NUMBER_DIGITS: Final = 15
MAX_TEXT_LENGTH: Final = 4000  # a Telegram message holds 4096 characters
MAX_SCALE_POINTS: Final = 11  # one button per point, 0–10 at most
_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")

# Which optional fields each question type uses; anything else set on it is a mistake.
_TYPE_FIELDS: Final[dict[str, frozenset[str]]] = {
    "single": frozenset({"choices"}),
    "multi": frozenset({"choices", "max_choices"}),
    "scale": frozenset({"min", "max", "min_label", "max_label"}),
    "number": frozenset({"min", "max"}),
    "text": frozenset({"max_length"}),
}
_OPTIONAL_FIELDS: Final = ("choices", "max_choices", "min", "max", "min_label", "max_label")
_OPTIONAL_FIELDS_ALL: Final = (*_OPTIONAL_FIELDS, "max_length")


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
        elif question.type == "scale":
            points = question.max - question.min + 1
            if points < 2:
                self.add(qid, "a scale needs at least two points (min < max)")
            elif points > MAX_SCALE_POINTS:
                self.add(qid, f"a scale of {points} points is too long; at most 11 fit")
        if question.type == "scale":
            self.check_text(question.min_label, "min_label", qid)
            self.check_text(question.max_label, "max_label", qid)

    # -- conditions --

    def check_condition(
        self, question: Question, order: Mapping[str, int], known: Mapping[str, Question]
    ) -> None:
        """Syntax, and that every test names an earlier question and fits its type."""
        if question.relevant is None:
            return
        qid = question.id
        try:
            condition = parse_condition(question.relevant)
        except ConditionSyntaxError as error:
            self.add(qid, f"relevant: syntax error: {error}")
            return
        own_index = order[qid]
        for test in tests_in(condition):
            target_id = test.question_id
            if target_id not in order:
                self.add(qid, f"relevant: unknown question {target_id!r}")
                continue
            if target_id == qid:
                self.add(qid, "relevant: a question cannot depend on itself")
                continue
            if order[target_id] > own_index:
                self.add(
                    qid,
                    f"relevant: {target_id!r} comes later; conditions may only use "
                    "questions asked before",
                )
                continue
            target = known.get(target_id)
            if target is not None:
                for message in _test_mismatches(test, target):
                    self.add(qid, f"relevant: {message}")


def _test_mismatches(test: Test, target: Question) -> Iterable[str]:
    """Why a test does not fit the type of the question it reads (nothing if it fits)."""
    if isinstance(test, Answered):
        return
    name = target.id
    kind = target.type
    if kind == "text":
        yield f"{name!r} is a text question; only answered({name}) can test it"
        return
    if isinstance(test, Contains):
        if kind != "multi":
            yield f"'has' only works on multi-choice questions; {name!r} is {kind}"
        elif test.choice_id not in target.choice_ids:
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
        elif kind == "single" and value not in target.choice_ids:
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
            elif question.relevant is not None:
                # A duplicate: its position is ambiguous, so check syntax only.
                out.check_condition(question, {**order, question.id: position - 1}, known)
    return out.problems


def parse_questionnaire(data: object, source: str) -> Questionnaire:
    """Validate raw data (e.g. from YAML) into a Questionnaire, or raise QuestionnaireError."""
    problems = collect_problems(data, source)
    if problems:
        raise QuestionnaireError(problems)
    return Questionnaire.model_validate(data, context={"source": source, "checked": True})


class _LimitExceeded(yaml.MarkedYAMLError):
    """A limit of `_StrictLoader` was exceeded; `kind` says which (see `LIMIT_KINDS`)."""

    def __init__(self, kind: str, problem: str, mark: yaml.Mark | None) -> None:
        super().__init__(None, None, problem, mark)
        self.kind = kind


def _digits(text: str) -> int:
    return sum(char.isdigit() for char in text)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys (YAML would keep the last one silently),
    aliases (so an uploaded file cannot expand into gigabytes), nesting deeper than
    `MAX_DEPTH` (checked while composing, before recursion could get deep), mappings with
    more than `MAX_MAPPING_KEYS` keys and numbers with more than `MAX_NUMBER_DIGITS` digits
    (checked before Python converts them: a 100,000-digit integer costs seconds)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed", event.start_mark
            )
        if isinstance(parent, yaml.MappingNode) and len(parent.value) >= MAX_MAPPING_KEYS:
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise _LimitExceeded(
                "too_many_keys",
                f"more than {MAX_MAPPING_KEYS} keys in one mapping",
                event.start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise _LimitExceeded(
                    "too_deep", f"nested more than {MAX_DEPTH} levels deep", event.start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def _check_number(self, node: yaml.ScalarNode) -> None:
        if _digits(str(node.value)) > MAX_NUMBER_DIGITS:
            raise _LimitExceeded(
                "number_too_large",
                f"a number with {_digits(str(node.value))} digits (at most {MAX_NUMBER_DIGITS})",
                node.start_mark,
            )

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        self._check_number(node)
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        self._check_number(node)
        return super().construct_yaml_float(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int | float | bool) and key in keys:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            keys.add(key)
        return super().construct_mapping(node, deep=deep)


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)
_StrictLoader.add_constructor("tag:yaml.org,2002:float", _StrictLoader.construct_yaml_float)


def parse_questionnaire_text(text: str, source: str) -> Questionnaire:
    """Parse YAML text (a file, or one uploaded by an admin) into a Questionnaire.

    CPU-bound for a large file: callers on the event loop run it in a thread
    (`bot.questionnaire_versions.add_version` does)."""
    if len(text.encode("utf-8", errors="replace")) > MAX_FILE_BYTES:
        raise QuestionnaireError(
            [
                Problem(
                    source,
                    None,
                    f"file is larger than {MAX_FILE_BYTES // 1024} KiB",
                    kind="too_large",
                )
            ]
        )
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = error.problem or error.context or "invalid YAML"
        kind = error.kind if isinstance(error, _LimitExceeded) else "yaml_syntax"
        line = mark.line + 1 if mark else None
        raise QuestionnaireError(
            [Problem(source, None, f"YAML error{where}: {reason}", kind=kind, line=line)]
        ) from None
    except yaml.YAMLError as error:
        raise QuestionnaireError(
            [Problem(source, None, f"YAML error: {error}", kind="yaml_syntax")]
        ) from None
    return parse_questionnaire(data, source)


def load_questionnaire(path: Path) -> Questionnaire:
    """Read and validate a questionnaire file; problems name the file by its base name."""
    source = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise QuestionnaireError([Problem(source, None, f"cannot read file: {reason}")]) from None
    return parse_questionnaire_text(text, source)


def summarize(questionnaire: Questionnaire) -> list[str]:
    """A few lines describing a valid questionnaire (for the CLI and the admin upload)."""
    questions = questionnaire.questions
    by_type: Counter[str] = Counter(q.type for q in questions)
    types = ", ".join(f"{kind} {by_type[kind]}" for kind in QUESTION_TYPES if by_type[kind])
    locales = ", ".join(questionnaire.locales)
    required = sum(q.required for q in questions)
    conditional = sum(q.relevant is not None for q in questions)
    return [
        f"questionnaire {questionnaire.id!r} version {questionnaire.version}: "
        f"{questionnaire.title_for(questionnaire.default_locale)}",
        f"locales: {locales} (default {questionnaire.default_locale})",
        f"sections: {len(questionnaire.sections)} "
        f"({', '.join(section.id for section in questionnaire.sections)})",
        f"questions: {len(questions)} ({types}); required {required}; conditional {conditional}",
    ]


def validate_command(path: Path, out: TextIO) -> int:
    """`python -m bot questionnaire validate FILE`: 0 and a summary, or 2 and every problem."""
    try:
        questionnaire = load_questionnaire(path)
    except QuestionnaireError as error:
        for problem in error.problems:
            print(problem, file=out)
        count = len(error.problems)
        print(f"{path.name}: {count} problem{'s' if count != 1 else ''}", file=out)
        return 2
    print(f"{path.name}: OK", file=out)
    for line in summarize(questionnaire):
        print(line, file=out)
    return 0
