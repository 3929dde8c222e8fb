"""The condition language of `relevant:` — parsed once into a small AST, never `eval`-ed.

Grammar (`not` binds tighter than `and`, which binds tighter than `or`)::

    condition  := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" or_expr ")" | "answered" "(" KEY ")" | test
    test       := KEY ("==" | "!=") value
                | KEY ["not"] "in" "[" value ("," value)* "]"
                | KEY "has" ID
                | KEY ("<" | "<=" | ">" | ">=") INTEGER
    value      := ID | INTEGER
    KEY        := ID | ID "." ID       (a question, or one row of a grid: freq.p3)

Evaluation uses Kleene's three-valued logic: a test on a question that has no answer (skipped,
not yet asked, or no longer relevant) is *unknown*, `not unknown` is still unknown, and a
condition that ends up unknown does not hold. So a follow-up is only asked once the answer it
depends on exists; `answered(q)` is the one test that is never unknown, which makes
`not answered(q)` the way to ask something *because* a question was skipped.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

AnswerValue: TypeAlias = str | int | list[str]
"""single: a choice id; multi: choice ids in declared order; scale/number: int; text: str."""

Literal_: TypeAlias = str | int
ComparisonOp: TypeAlias = Literal["==", "!=", "<", "<=", ">", ">="]

KEYWORDS: Final = frozenset({"and", "or", "not", "in", "has", "answered"})
MAX_CONDITION_LENGTH: Final = 1000
MAX_NESTING: Final = 32


class ConditionSyntaxError(ValueError):
    """A condition that cannot be parsed; the message says what was expected and where."""

    def __init__(self, message: str, text: str, column: int) -> None:
        self.reason = message
        self.text = text
        self.column = column
        super().__init__(f"{message} at column {column} in {text!r}")


@dataclass(frozen=True, slots=True)
class Answered:
    """`answered(q)`: true when q has an answer (a skip is not an answer)."""

    question_id: str


@dataclass(frozen=True, slots=True)
class Comparison:
    """`q == v`, `q != v`, or an ordering test on a scale/number answer."""

    question_id: str
    op: ComparisonOp
    value: Literal_


@dataclass(frozen=True, slots=True)
class Membership:
    """`q in [a, b]` or `q not in [a, b]`."""

    question_id: str
    values: tuple[Literal_, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Contains:
    """`q has x`: the multi-choice answer q includes choice x."""

    question_id: str
    choice_id: str


@dataclass(frozen=True, slots=True)
class Not:
    operand: Condition


@dataclass(frozen=True, slots=True)
class All:
    """Conjunction (`and`) of two or more operands."""

    operands: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    """Disjunction (`or`) of two or more operands."""

    operands: tuple[Condition, ...]


Test: TypeAlias = Answered | Comparison | Membership | Contains
Condition: TypeAlias = Test | Not | All | AnyOf


# --- tokenizer ---------------------------------------------------------------------------

TokenKind: TypeAlias = Literal["id", "int", "op", "end"]


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str
    column: int  # 1-based, for error messages


_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<int>-?[0-9]+)"
    r"|(?P<id>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)"
    r"|(?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,)"
)


_TOKEN_KINDS: Final[dict[str, TokenKind]] = {"id": "id", "int": "int", "op": "op"}
# Answers a comparison with a single value never matches (a tuple: cheaper to test than a
# `list | bool` union, which the compiled tests would build on every call).
_NOT_A_SINGLE_VALUE: Final = (list, bool)


def tokenize(text: str) -> list[Token]:
    """Split a condition into tokens, ending with an `end` token."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            char = text[pos]
            hint = " (did you mean '=='?)" if char == "=" else ""
            hint = " (did you mean '!='?)" if char == "!" else hint
            raise ConditionSyntaxError(f"unexpected character {char!r}{hint}", text, pos + 1)
        kind = match.lastgroup
        if kind == "id" or kind == "int" or kind == "op":
            tokens.append(Token(_TOKEN_KINDS[kind], match.group(), pos + 1))
        pos = match.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


# --- parser ------------------------------------------------------------------------------


def _describe(token: Token) -> str:
    if token.kind == "end":
        return "the end"
    return repr(token.text)


class _Parser:
    """Recursive descent over the token list; one method per grammar rule."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def _advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def _is(self, text: str) -> bool:
        token = self.current
        return token.kind in ("op", "id") and token.text == text

    def _fail(self, expected: str, token: Token | None = None) -> ConditionSyntaxError:
        token = token or self.current
        return ConditionSyntaxError(
            f"expected {expected}, found {_describe(token)}", self.text, token.column
        )

    def _expect(self, text: str, expected: str | None = None) -> Token:
        if not self._is(text):
            raise self._fail(expected or repr(text))
        return self._advance()

    def parse(self) -> Condition:
        condition = self._or()
        if self.current.kind != "end":
            raise self._fail("'and', 'or' or the end of the condition")
        return condition

    def _or(self) -> Condition:
        operands = [self._and()]
        while self._is("or"):
            self._advance()
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else AnyOf(tuple(operands))

    def _and(self) -> Condition:
        operands = [self._not()]
        while self._is("and"):
            self._advance()
            operands.append(self._not())
        return operands[0] if len(operands) == 1 else All(tuple(operands))

    def _not(self) -> Condition:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ConditionSyntaxError(
                f"nested more than {MAX_NESTING} levels deep", self.text, self.current.column
            )
        try:
            if self._is("not"):
                self._advance()
                return Not(self._not())
            if self._is("("):
                self._advance()
                inner = self._or()
                self._expect(")", "')'")
                return inner
            if self._is("answered") and self.tokens[self.index + 1].text == "(":
                self._advance()
                self._advance()
                question_id = self._key("a question id inside answered(…)")
                self._expect(")", "')' after the question id")
                return Answered(question_id)
            return self._test()
        finally:
            self.depth -= 1

    def _identifier(self, expected: str) -> str:
        """A plain id (a choice): no keyword, no dot."""
        token = self.current
        if token.kind != "id" or token.text in KEYWORDS or "." in token.text:
            raise self._fail(expected)
        return self._advance().text

    def _key(self, expected: str) -> str:
        """What a test reads: a question id, or a grid row as "grid.row"."""
        token = self.current
        if token.kind != "id" or any(part in KEYWORDS for part in token.text.split(".")):
            raise self._fail(expected)
        return self._advance().text

    def _value(self, after: str) -> Literal_:
        token = self.current
        if token.kind == "int":
            self._advance()
            return int(token.text)
        if token.kind == "id" and token.text not in KEYWORDS and "." not in token.text:
            self._advance()
            return token.text
        raise self._fail(f"a choice id or an integer after {after!r}")

    def _test(self) -> Test:
        question_id = self._key("a question id, 'not', 'answered(…)' or '('")
        token = self.current
        if token.text in ("==", "!=") and token.kind == "op":
            self._advance()
            op: ComparisonOp = "==" if token.text == "==" else "!="
            return Comparison(question_id, op, self._value(token.text))
        if token.kind == "op" and token.text in ("<", "<=", ">", ">="):
            self._advance()
            number = self.current
            if number.kind != "int":
                raise self._fail(f"an integer after {token.text!r}")
            self._advance()
            ordering: dict[str, ComparisonOp] = {"<": "<", "<=": "<=", ">": ">", ">=": ">="}
            return Comparison(question_id, ordering[token.text], int(number.text))
        if self._is("has"):
            self._advance()
            return Contains(question_id, self._identifier("a choice id after 'has'"))
        negated = False
        if self._is("not"):
            self._advance()
            negated = True
            if not self._is("in"):
                raise self._fail(f"'in' after '{question_id} not'")
        if self._is("in"):
            self._advance()
            return Membership(question_id, self._list(), negated)
        raise self._fail(
            f"'==', '!=', 'in', 'not in', 'has', '<', '<=', '>' or '>=' after {question_id!r}",
            token,
        )

    def _list(self) -> tuple[Literal_, ...]:
        self._expect("[", "'[' to start the list")
        values = [self._value("[")]
        while self._is(","):
            self._advance()
            values.append(self._value(","))
        self._expect("]", "',' or ']' in the list")
        return tuple(values)


def parse_condition(text: str) -> Condition:
    """Parse a `relevant:` expression; raises ConditionSyntaxError with a column number."""
    if len(text) > MAX_CONDITION_LENGTH:
        raise ConditionSyntaxError(
            f"longer than {MAX_CONDITION_LENGTH} characters", text[:40] + "…", 1
        )
    if not text.strip():
        raise ConditionSyntaxError("empty condition", text, 1)
    return _Parser(text).parse()


# --- evaluation --------------------------------------------------------------------------


def _matches(answer: AnswerValue, value: Literal_) -> bool | None:
    """Equality between an answer and a literal; unknown when the kinds differ."""
    if isinstance(answer, _NOT_A_SINGLE_VALUE):
        return None
    if isinstance(answer, int) != isinstance(value, int):
        return None
    return answer == value


def _test_value(
    test: Test, answers: Mapping[str, AnswerValue], open_questions: AbstractSet[str]
) -> bool | None:
    if test.question_id in open_questions:
        return None
    if isinstance(test, Answered):
        return test.question_id in answers
    answer = answers.get(test.question_id)
    if answer is None:
        return None
    if isinstance(test, Contains):
        return test.choice_id in answer if isinstance(answer, list) else None
    if isinstance(test, Membership):
        results = [_matches(answer, value) for value in test.values]
        if None in results:
            return None
        return any(results) != test.negated
    if test.op in ("==", "!="):
        equal = _matches(answer, test.value)
        return None if equal is None else equal == (test.op == "==")
    if isinstance(answer, bool) or not isinstance(answer, int) or isinstance(test.value, str):
        return None
    ordered = {
        "<": answer < test.value,
        "<=": answer <= test.value,
        ">": answer > test.value,
        ">=": answer >= test.value,
    }
    return ordered[test.op]


def evaluate(
    condition: Condition,
    answers: Mapping[str, AnswerValue],
    open_questions: AbstractSet[str] = frozenset(),
) -> bool | None:
    """Kleene evaluation: True, False, or None for unknown.

    A test on a question in `open_questions` (one that may still be answered) is unknown even
    for `answered(q)`; the engine uses this to estimate how many questions lie ahead.
    """
    if isinstance(condition, Not):
        inner = evaluate(condition.operand, answers, open_questions)
        return None if inner is None else not inner
    if isinstance(condition, All):
        results = [evaluate(op, answers, open_questions) for op in condition.operands]
        if False in results:
            return False
        return None if None in results else True
    if isinstance(condition, AnyOf):
        results = [evaluate(op, answers, open_questions) for op in condition.operands]
        if True in results:
            return True
        return None if None in results else False
    return _test_value(condition, answers, open_questions)


def holds(condition: Condition | None, answers: Mapping[str, AnswerValue]) -> bool:
    """Whether a question guarded by `condition` is relevant; unknown counts as no."""
    return condition is None or evaluate(condition, answers) is True


Evaluator: TypeAlias = Callable[[Mapping[str, AnswerValue], AbstractSet[str]], "bool | None"]
"""A condition compiled to a closure: `evaluate(condition, answers, open_questions)`."""


def compile_condition(condition: Condition) -> Evaluator:
    """`evaluate` of this one condition as a closure, built once: the engine asks every
    condition of the questionnaire several times per press, and walking the tree (its type
    tests, the literals' kinds) each time was most of that. Same Kleene results, always."""
    if isinstance(condition, Not):
        inner = compile_condition(condition.operand)

        def negation(answers: Mapping[str, AnswerValue], open_: AbstractSet[str]) -> bool | None:
            result = inner(answers, open_)
            return None if result is None else not result

        return negation
    if isinstance(condition, All | AnyOf):
        parts = tuple(compile_condition(operand) for operand in condition.operands)
        decisive = isinstance(condition, AnyOf)  # True decides an `or`, False an `and`

        def junction(answers: Mapping[str, AnswerValue], open_: AbstractSet[str]) -> bool | None:
            unknown = False
            for part in parts:
                result = part(answers, open_)
                if result is decisive:
                    return decisive
                if result is None:
                    unknown = True
            return None if unknown else not decisive

        return junction
    return _compile_test(condition)


def _compile_test(test: Test) -> Evaluator:
    key = test.question_id
    if isinstance(test, Answered):

        def answered(answers: Mapping[str, AnswerValue], open_: AbstractSet[str]) -> bool | None:
            return None if key in open_ else key in answers

        return answered
    if isinstance(test, Contains):
        choice = test.choice_id

        def contains(answers: Mapping[str, AnswerValue], open_: AbstractSet[str]) -> bool | None:
            answer = answers.get(key)
            if answer is None or key in open_ or not isinstance(answer, list):
                return None
            return choice in answer

        return contains
    if isinstance(test, Membership):
        values = frozenset(test.values)
        has_int = any(isinstance(value, int) for value in test.values)
        has_str = any(isinstance(value, str) for value in test.values)
        negated = test.negated

        def member(answers: Mapping[str, AnswerValue], open_: AbstractSet[str]) -> bool | None:
            answer = answers.get(key)
            if answer is None or key in open_ or isinstance(answer, _NOT_A_SINGLE_VALUE):
                return None
            if has_str if isinstance(answer, int) else has_int:  # a literal of the other kind
                return None
            return (answer in values) != negated

        return member
    value = test.value
    literal_is_int = isinstance(value, int)
    if test.op in ("==", "!="):
        wanted = test.op == "=="

        def equality(answers: Mapping[str, AnswerValue], open_: AbstractSet[str]) -> bool | None:
            answer = answers.get(key)
            if answer is None or key in open_ or isinstance(answer, _NOT_A_SINGLE_VALUE):
                return None
            if isinstance(answer, int) != literal_is_int:
                return None
            return (answer == value) == wanted

        return equality
    compare = _ORDERINGS[test.op]

    def ordering(answers: Mapping[str, AnswerValue], open_: AbstractSet[str]) -> bool | None:
        answer = answers.get(key)
        if answer is None or key in open_:
            return None
        if isinstance(answer, bool) or not isinstance(answer, int) or not literal_is_int:
            return None
        return compare(answer, value)

    return ordering


_ORDERINGS: Final[dict[str, Callable[[int, Literal_], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def tests_in(condition: Condition) -> Iterator[Test]:
    """Every leaf test, left to right (for validation and dependency tracking)."""
    if isinstance(condition, Not):
        yield from tests_in(condition.operand)
    elif isinstance(condition, All | AnyOf):
        for operand in condition.operands:
            yield from tests_in(operand)
    else:
        yield condition


def referenced_questions(condition: Condition) -> frozenset[str]:
    """Every key the condition reads, as written: question ids and grid rows ("freq.p3")."""
    return frozenset(test.question_id for test in tests_in(condition))


def _format_value(value: Literal_) -> str:
    return str(value)


def format_condition(condition: Condition) -> str:
    """Canonical text for a condition; `parse_condition(format_condition(c)) == c`."""
    if isinstance(condition, Not):
        return f"not {_format_operand(condition.operand)}"
    if isinstance(condition, All):
        return " and ".join(_format_operand(op) for op in condition.operands)
    if isinstance(condition, AnyOf):
        return " or ".join(_format_operand(op) for op in condition.operands)
    if isinstance(condition, Answered):
        return f"answered({condition.question_id})"
    if isinstance(condition, Contains):
        return f"{condition.question_id} has {condition.choice_id}"
    if isinstance(condition, Membership):
        keyword = "not in" if condition.negated else "in"
        values = ", ".join(_format_value(v) for v in condition.values)
        return f"{condition.question_id} {keyword} [{values}]"
    return f"{condition.question_id} {condition.op} {_format_value(condition.value)}"


def _format_operand(condition: Condition) -> str:
    text = format_condition(condition)
    return f"({text})" if isinstance(condition, All | AnyOf | Not) else text
