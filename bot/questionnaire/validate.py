"""Loading and validating questionnaire files: a YAML reader within limits, parsing into a
`Questionnaire` with every problem reported at once (the rules are in `checks.py`), and the
`questionnaire validate` command.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, TextIO

import yaml

from bot.questionnaire.checks import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_MAPPING_KEYS,
    MAX_NUMBER_DIGITS,
    MAX_SCALE_POINTS,
    MAX_TEXT_LENGTH,
    collect_problems,
)
from bot.questionnaire.model import Questionnaire
from bot.questionnaire.parts import QUESTION_TYPES
from bot.questionnaire.problems import Problem, QuestionnaireError

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_MAPPING_KEYS",
    "MAX_NUMBER_DIGITS",
    "MAX_SCALE_POINTS",
    "MAX_TEXT_LENGTH",
    "collect_problems",
    "load_questionnaire",
    "parse_questionnaire",
    "parse_questionnaire_text",
    "summarize",
    "validate_command",
]


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
