"""The condition language: parsing, precedence, error messages and three-valued evaluation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.questionnaire import Questionnaire
from bot.questionnaire.conditions import (
    All,
    Answered,
    AnswerValue,
    AnyOf,
    Comparison,
    Condition,
    ConditionSyntaxError,
    Contains,
    Membership,
    Not,
    compile_condition,
    evaluate,
    format_condition,
    holds,
    parse_condition,
    referenced_questions,
)
from tests.questionnaire.builders import WALKS, questionnaires


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("p1_freq != never", Comparison("p1_freq", "!=", "never")),
        ("p1_freq == often", Comparison("p1_freq", "==", "often")),
        ("q in [often, very_often]", Membership("q", ("often", "very_often"))),
        ("q not in [never]", Membership("q", ("never",), negated=True)),
        ("answered(q)", Answered("q")),
        ("not answered(q)", Not(Answered("q"))),
        ("measures has other", Contains("measures", "other")),
        ("impact >= 3", Comparison("impact", ">=", 3)),
        ("impact < -2", Comparison("impact", "<", -2)),
        ("count == 0", Comparison("count", "==", 0)),
        ("count in [1, 2]", Membership("count", (1, 2))),
        ("  (  a == x  )  ", Comparison("a", "==", "x")),
    ],
)
def test_parses_each_form(text: str, expected: object) -> None:
    assert parse_condition(text) == expected


def test_not_binds_tighter_than_and_which_binds_tighter_than_or() -> None:
    a, b, c = (Comparison(q, "==", "x") for q in "abc")
    assert parse_condition("a == x or b == x and c == x") == AnyOf((a, All((b, c))))
    assert parse_condition("a == x and b == x or c == x") == AnyOf((All((a, b)), c))
    assert parse_condition("not a == x and b == x") == All((Not(a), b))
    assert parse_condition("not (a == x and b == x)") == Not(All((a, b)))
    assert parse_condition("(a == x or b == x) and c == x") == All((AnyOf((a, b)), c))


def test_chains_flatten_into_one_node() -> None:
    parsed = parse_condition("answered(a) and answered(b) and answered(c)")
    assert parsed == All((Answered("a"), Answered("b"), Answered("c")))


@pytest.mark.parametrize(
    ("text", "reason", "column"),
    [
        ("", "empty condition", 1),
        ("q = often", "did you mean '=='?", 3),
        ("q == ", "expected a choice id or an integer after '=='", 6),
        ("q often", "expected '==', '!=', 'in', 'not in', 'has'", 3),
        ("q == often and", "expected a question id, 'not', 'answered(…)' or '('", 15),
        ("(q == often", "expected ')'", 12),
        ("q in [a, b", "expected ',' or ']' in the list", 11),
        ("q in a", "expected '[' to start the list", 6),
        ("q not often", "expected 'in' after 'q not'", 7),
        ("q >= high", "expected an integer after '>='", 6),
        ("answered(1)", "expected a question id inside answered(…)", 10),
        ("q has", "expected a choice id after 'has'", 6),
        ("q == a b == c", "expected 'and', 'or' or the end of the condition", 8),
        ("and == x", "expected a question id", 1),
        ("q == x ; drop", "unexpected character ';'", 8),
        ("q == 'x'", 'unexpected character "\'"', 6),
    ],
)
def test_syntax_errors_say_what_was_expected_and_where(text: str, reason: str, column: int) -> None:
    with pytest.raises(ConditionSyntaxError) as caught:
        parse_condition(text)
    assert reason in str(caught.value)
    assert caught.value.column == column
    assert f"at column {column}" in str(caught.value)


def test_deep_nesting_is_refused_not_a_crash() -> None:
    with pytest.raises(ConditionSyntaxError, match="nested more than"):
        parse_condition("(" * 200 + "answered(q)" + ")" * 200)
    with pytest.raises(ConditionSyntaxError, match="nested more than"):
        parse_condition("not " * 200 + "answered(q)")


def test_overlong_condition_is_refused() -> None:
    with pytest.raises(ConditionSyntaxError, match="longer than"):
        parse_condition(" or ".join(["answered(q)"] * 200))


def test_no_python_is_evaluated() -> None:
    with pytest.raises(ConditionSyntaxError):
        parse_condition("__import__('os').system('true')")


ANSWERS: dict[str, AnswerValue] = {
    "freq": "often",
    "impact": 4,
    "measures": ["a", "c"],
    "note": "文字",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("freq == often", True),
        ("freq != often", False),
        ("freq in [sometimes, often]", True),
        ("freq not in [sometimes, often]", False),
        ("impact >= 4", True),
        ("impact > 4", False),
        ("impact <= 3", False),
        ("impact < 5", True),
        ("impact == 4", True),
        ("impact in [1, 2]", False),
        ("measures has c", True),
        ("measures has b", False),
        ("answered(note)", True),
        ("freq == often and impact < 3", False),
        ("freq == never or measures has a", True),
        ("not (freq == never)", True),
    ],
)
def test_evaluates_against_answers(text: str, expected: bool) -> None:
    assert evaluate(parse_condition(text), ANSWERS) is expected


@pytest.mark.parametrize(
    "text",
    [
        "missing == often",
        "missing != often",
        "missing in [a]",
        "missing not in [a]",
        "missing >= 1",
        "missing has a",
        "answered(missing)",
        "not (missing == often)",
        "not (missing != often)",
        "missing == a and freq == often",
    ],
)
def test_a_test_on_an_unanswered_question_never_holds(text: str) -> None:
    assert holds(parse_condition(text), ANSWERS) is False


def test_not_answered_is_how_to_branch_on_a_skip() -> None:
    assert holds(parse_condition("not answered(missing)"), ANSWERS) is True
    assert holds(parse_condition("not answered(freq)"), ANSWERS) is False


def test_kleene_logic_keeps_known_results() -> None:
    # unknown or true is true; unknown and false is false; otherwise unknown stays unknown
    assert evaluate(parse_condition("missing == a or freq == often"), ANSWERS) is True
    assert evaluate(parse_condition("missing == a and freq == never"), ANSWERS) is False
    assert evaluate(parse_condition("missing == a or freq == never"), ANSWERS) is None


def test_open_questions_are_unknown_even_for_answered() -> None:
    condition = parse_condition("answered(freq)")
    assert evaluate(condition, ANSWERS) is True
    assert evaluate(condition, ANSWERS, open_questions={"freq"}) is None


def test_mismatched_answer_kinds_are_unknown_not_errors() -> None:
    # A stored answer of the wrong kind (hand-edited draft) must not make a branch relevant.
    assert evaluate(parse_condition("impact == often"), ANSWERS) is None
    assert evaluate(parse_condition("freq >= 3"), ANSWERS) is None
    assert evaluate(parse_condition("freq has a"), ANSWERS) is None
    assert evaluate(parse_condition("measures == a"), ANSWERS) is None


def test_referenced_questions() -> None:
    condition = parse_condition("a == x or (not answered(b) and c has y)")
    assert referenced_questions(condition) == {"a", "b", "c"}


@WALKS
@given(questionnaires(with_grids=True))
def test_format_round_trips_generated_conditions(questionnaire: Questionnaire) -> None:
    for question in questionnaire.questions:
        conditions = [
            question.condition,
            *(row.condition for row in question.rows),
            *(choice.condition for choice in question.choices),
        ]
        for condition in conditions:
            if condition is not None:
                text = format_condition(condition)
                assert parse_condition(text) == condition
                assert format_condition(parse_condition(text)) == text


@WALKS
@given(
    st.recursive(
        st.sampled_from(
            [
                Answered("a"),
                Comparison("a", "==", "x"),
                Comparison("b", ">=", 2),
                Membership("a", ("x", "y"), negated=True),
                Contains("c", "z"),
            ]
        ),
        lambda inner: st.one_of(
            inner.map(Not),
            st.lists(inner, min_size=2, max_size=3).map(lambda xs: All(tuple(xs))),
            st.lists(inner, min_size=2, max_size=3).map(lambda xs: AnyOf(tuple(xs))),
        ),
        max_leaves=8,
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "a": st.sampled_from(["x", "y", "w"]),
            "b": st.integers(0, 4),
            "c": st.lists(st.sampled_from(["z", "v"]), min_size=1, unique=True),
        },
    ),
)
def test_negation_flips_known_results_and_format_round_trips(
    condition: Condition, answers: dict[str, AnswerValue]
) -> None:
    plain = evaluate(condition, answers)
    assert evaluate(Not(condition), answers) == (None if plain is None else not plain)
    # format_condition parenthesises every nested group, so the exact tree comes back
    assert parse_condition(format_condition(condition)) == condition


_KEYS = ("a", "b", "c")
_LEAVES = st.one_of(
    st.sampled_from(_KEYS).map(Answered),
    st.builds(
        Comparison,
        st.sampled_from(_KEYS),
        st.sampled_from(["==", "!=", "<", "<=", ">", ">="]),
        st.one_of(st.sampled_from(["x", "y"]), st.integers(0, 4)),
    ),
    st.builds(
        Membership,
        st.sampled_from(_KEYS),
        st.lists(
            st.one_of(st.sampled_from(["x", "y", "w"]), st.integers(0, 4)), min_size=1, max_size=3
        ).map(tuple),
        st.booleans(),
    ),
    st.builds(Contains, st.sampled_from(_KEYS), st.sampled_from(["z", "v", "x"])),
)
_ANY_ANSWER = st.one_of(
    st.sampled_from(["x", "y", "w"]),
    st.integers(0, 4),
    st.booleans(),
    st.lists(st.sampled_from(["z", "v", "x"]), max_size=3, unique=True),
)


@WALKS
@given(
    st.recursive(
        _LEAVES,
        lambda inner: st.one_of(
            inner.map(Not),
            st.lists(inner, min_size=2, max_size=3).map(lambda xs: All(tuple(xs))),
            st.lists(inner, min_size=2, max_size=3).map(lambda xs: AnyOf(tuple(xs))),
        ),
        max_leaves=8,
    ),
    st.dictionaries(st.sampled_from(_KEYS), _ANY_ANSWER),
    st.frozensets(st.sampled_from(_KEYS)),
)
def test_a_compiled_condition_gives_what_evaluation_gives(
    condition: Condition, answers: dict[str, AnswerValue], open_questions: frozenset[str]
) -> None:
    """Every kind of answer against every kind of literal, mixed lists, open questions."""
    compiled = compile_condition(condition)
    assert compiled(answers, open_questions) == evaluate(condition, answers, open_questions)
    assert compiled(answers, frozenset()) == evaluate(condition, answers)


# --- grid rows ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("freq.p3 in [often, very_often]", Membership("freq.p3", ("often", "very_often"))),
        ("freq.p3 != never", Comparison("freq.p3", "!=", "never")),
        ("answered(freq.p3)", Answered("freq.p3")),
        ("impact.p3 >= 4", Comparison("impact.p3", ">=", 4)),
    ],
)
def test_a_grid_row_is_named_like_a_question(text: str, expected: Condition) -> None:
    assert parse_condition(text) == expected
    assert format_condition(expected) == text
    assert referenced_questions(expected) == {expected.question_id}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "reason", "column"),
    [
        ("freq.p3.x == a", "unexpected character '.'", 8),
        ("freq. == a", "unexpected character '.'", 5),
        ("freq.and == a", "expected a question id", 1),
        ("q has a.b", "expected a choice id after 'has'", 7),
        ("q in [a.b]", "expected a choice id or an integer after '['", 7),
    ],
)
def test_a_dot_belongs_only_between_a_grid_and_its_row(text: str, reason: str, column: int) -> None:
    with pytest.raises(ConditionSyntaxError) as caught:
        parse_condition(text)
    assert reason in str(caught.value)
    assert caught.value.column == column


def test_row_answers_are_read_under_their_row_key() -> None:
    answers: dict[str, AnswerValue] = {"freq.p3": "often", "impact.p3": 2}
    assert evaluate(parse_condition("freq.p3 in [often, very_often]"), answers) is True
    assert evaluate(parse_condition("impact.p3 >= 4"), answers) is False
    assert evaluate(parse_condition("answered(freq.p1)"), answers) is False
    assert evaluate(parse_condition("answered(freq.p3)"), answers, {"freq.p3"}) is None
