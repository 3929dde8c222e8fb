"""Every kind of questionnaire problem is reported with the file, the question and the problem,
and all problems are reported together."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.questionnaire import (
    Problem,
    Questionnaire,
    QuestionnaireError,
    collect_problems,
    load_questionnaire,
    parse_questionnaire,
    parse_questionnaire_text,
)
from tests.questionnaire.builders import BROKEN, small_data, text


def problems(data: object) -> list[str]:
    return [str(problem) for problem in collect_problems(data, "small.yaml")]


def question(data: dict[str, Any], question_id: str) -> dict[str, Any]:
    for section in data["sections"]:
        for raw in section["questions"]:
            if raw["id"] == question_id:
                return raw  # type: ignore[no-any-return]
    raise KeyError(question_id)


def test_the_small_questionnaire_is_valid() -> None:
    assert problems(small_data()) == []
    parsed = parse_questionnaire(small_data(), "small.yaml")
    assert [q.id for q in parsed.questions] == [
        "freq",
        "impact",
        "example",
        "count",
        "measures",
        "why_c",
    ]


def test_problem_text_names_file_question_and_problem() -> None:
    assert str(Problem("formalism.yaml", "p1_freq", "duplicate question id")) == (
        "formalism.yaml: p1_freq: duplicate question id"
    )
    assert str(Problem("formalism.yaml", None, "intro: missing translation for en")) == (
        "formalism.yaml: intro: missing translation for en"
    )


# --- ids ----------------------------------------------------------------------------------


def test_duplicate_question_id() -> None:
    data = small_data()
    question(data, "example")["id"] = "impact"
    assert problems(data) == ["small.yaml: impact: duplicate question id"]


def test_duplicate_choice_id() -> None:
    data = small_data()
    question(data, "measures")["choices"][2]["id"] = "a"
    assert problems(data) == [
        "small.yaml: measures: duplicate choice id 'a'",
        "small.yaml: why_c: relevant: 'measures' has no choice 'c'",
    ]


def test_duplicate_section_id() -> None:
    data = small_data()
    data["sections"][1]["id"] = "first"
    assert problems(data) == ["small.yaml: section 'first': duplicate section id"]


@pytest.mark.parametrize(
    ("bad_id", "fragment"),
    [
        ("Impact", "'Impact' must be 1–24 characters of a–z, 0–9 and _, starting with a letter"),
        ("a" * 25, "must be 1–24 characters"),
        ("2nd", "must be 1–24 characters"),
        ("with-dash", "must be 1–24 characters"),
    ],
)
def test_question_ids_are_short_lowercase_identifiers(bad_id: str, fragment: str) -> None:
    data = small_data()
    question(data, "example")["id"] = bad_id
    found = problems(data)
    assert len(found) == 1
    assert found[0].startswith(f"small.yaml: {bad_id}: id ")
    assert fragment in found[0]


def test_choice_ids_fit_in_callback_data() -> None:
    data = small_data()
    question(data, "measures")["choices"][0]["id"] = "x" * 25
    assert problems(data) == [
        "small.yaml: measures: choices[0].id 'xxxxxxxxxxxxxxxxxxxxxxxxx' must be 1–24 "
        "characters of a–z, 0–9 and _, starting with a letter"
    ]


def test_reserved_words_cannot_be_ids() -> None:
    data = small_data()
    question(data, "example")["id"] = "answered"
    question(data, "measures")["choices"][0]["id"] = "not"
    assert problems(data) == [
        "small.yaml: answered: 'answered' is a reserved word of the condition language; rename it",
        "small.yaml: measures: choice id 'not' is a reserved word; rename it",
    ]


# --- conditions ---------------------------------------------------------------------------


def test_condition_naming_an_unknown_question() -> None:
    data = small_data()
    question(data, "impact")["relevant"] = "frequency != never"
    assert problems(data) == ["small.yaml: impact: relevant: unknown question 'frequency'"]


def test_condition_naming_a_later_question() -> None:
    data = small_data()
    question(data, "impact")["relevant"] = "count >= 3"
    assert problems(data) == [
        "small.yaml: impact: relevant: 'count' comes later; conditions may only use questions "
        "asked before"
    ]


def test_condition_naming_its_own_question() -> None:
    data = small_data()
    question(data, "impact")["relevant"] = "answered(impact)"
    assert problems(data) == ["small.yaml: impact: relevant: a question cannot depend on itself"]


def test_condition_naming_an_unknown_choice() -> None:
    data = small_data()
    question(data, "impact")["relevant"] = "freq in [often, rarely]"
    question(data, "why_c")["relevant"] = "measures has d"
    assert problems(data) == [
        "small.yaml: impact: relevant: 'freq' has no choice 'rarely'",
        "small.yaml: why_c: relevant: 'measures' has no choice 'd'",
    ]


def test_condition_comparing_a_choice_question_with_a_number() -> None:
    data = small_data()
    question(data, "impact")["relevant"] = "freq == 2"
    question(data, "example")["relevant"] = "freq >= 2"
    assert problems(data) == [
        "small.yaml: impact: relevant: 'freq' is a choice question and cannot be compared "
        "with the number 2",
        "small.yaml: example: relevant: 'freq' is a choice question; '>=' needs a scale or "
        "number question",
    ]


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("freq has often", "'has' only works on multi-choice questions; 'freq' is single"),
        ("impact == often", "'impact' is a scale question; compare it with a number, not 'often'"),
        (
            "count in [1, many]",
            "'count' is a number question; compare it with a number, not 'many'",
        ),
        ("measures == a", "'measures' is a multi-choice question; use 'measures has <choice>'"),
        ("example == x", "'example' is a text question; only answered(example) can test it"),
    ],
)
def test_condition_test_must_fit_the_question_type(condition: str, message: str) -> None:
    data = small_data()
    question(data, "why_c")["relevant"] = condition
    assert problems(data) == [f"small.yaml: why_c: relevant: {message}"]


def test_condition_syntax_error() -> None:
    data = small_data()
    question(data, "impact")["relevant"] = "freq != never and"
    assert problems(data) == [
        "small.yaml: impact: relevant: syntax error: expected a question id, 'not', "
        "'answered(…)' or '(', found the end at column 18 in 'freq != never and'"
    ]


def test_condition_on_a_broken_question_is_not_called_unknown() -> None:
    data = small_data()
    question(data, "freq")["type"] = "radio"
    # impact and example test freq: they must not also be told that freq does not exist
    assert problems(data) == [
        "small.yaml: freq: unknown type 'radio'; expected one of single, multi, scale, text, "
        "number, grid",
    ]


# --- choices, ranges, text ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["single", "multi"])
def test_empty_choices(kind: str) -> None:
    data = small_data()
    target = question(data, "measures")
    target["type"] = kind
    target.pop("max_choices")
    target["choices"] = []
    question(data, "why_c")["relevant"] = "answered(measures)"
    assert problems(data) == [f"small.yaml: measures: {kind} question has no choices"]


def test_missing_choices_is_the_same_as_empty() -> None:
    data = small_data()
    del question(data, "freq")["choices"]
    question(data, "impact")["relevant"] = "answered(freq)"
    question(data, "example")["relevant"] = "answered(freq)"
    assert problems(data) == ["small.yaml: freq: single question has no choices"]


def test_max_choices_must_fit_the_choices() -> None:
    data = small_data()
    question(data, "measures")["max_choices"] = 4
    assert problems(data) == ["small.yaml: measures: max_choices 4 is more than the 3 choices"]
    question(data, "measures")["max_choices"] = 0
    assert problems(data) == ["small.yaml: measures: max_choices must be at least 1"]


@pytest.mark.parametrize("qid", ["impact", "count"])
def test_range_with_min_above_max(qid: str) -> None:
    data = small_data()
    question(data, qid).update(min=9, max=2)
    assert problems(data) == [f"small.yaml: {qid}: range min 9 > max 2"]


def test_range_needs_both_ends() -> None:
    data = small_data()
    del question(data, "count")["max"]
    del question(data, "impact")["min"]
    assert problems(data) == [
        "small.yaml: impact: scale question needs both min and max",
        "small.yaml: count: number question needs both min and max",
    ]


def test_scale_must_fit_on_buttons() -> None:
    data = small_data()
    question(data, "impact").update(min=3, max=3)
    assert problems(data) == ["small.yaml: impact: a scale needs at least two points (min < max)"]
    question(data, "impact").update(min=0, max=11)
    assert problems(data) == [
        "small.yaml: impact: a scale of 12 points is too long; at most 11 fit"
    ]


@pytest.mark.parametrize("length", [None, 0, -5])
def test_text_without_positive_max_length(length: int | None) -> None:
    data = small_data()
    target = question(data, "example")
    if length is None:
        del target["max_length"]
    else:
        target["max_length"] = length
    assert problems(data) == ["small.yaml: example: text question needs a positive max_length"]


def test_text_max_length_fits_one_message() -> None:
    data = small_data()
    question(data, "example")["max_length"] = 5000
    assert problems(data) == ["small.yaml: example: max_length must be at most 4000 (one message)"]


def test_fields_of_another_type_are_mistakes() -> None:
    data = small_data()
    question(data, "example")["min"] = 1
    question(data, "count")["choices"] = [{"id": "x", "label": text("x")}]
    question(data, "freq")["max_length"] = 9
    assert problems(data) == [
        "small.yaml: freq: 'max_length' does not apply to single questions",
        "small.yaml: example: 'min' does not apply to text questions",
        "small.yaml: count: 'choices' does not apply to number questions",
    ]


# --- translations -------------------------------------------------------------------------


def test_missing_translation_anywhere() -> None:
    data = small_data()
    del data["title"]["en"]
    del data["sections"][1]["title"]["zh-CN"]
    del question(data, "freq")["label"]["en"]
    del question(data, "freq")["choices"][1]["label"]["en"]
    del question(data, "impact")["max_label"]["en"]
    question(data, "example")["help"] = {"zh-CN": "提示"}
    assert problems(data) == [
        "small.yaml: title: missing translation for en",
        "small.yaml: freq: label: missing translation for en",
        "small.yaml: freq: choices[1] 'sometimes' label: missing translation for en",
        "small.yaml: impact: max_label: missing translation for en",
        "small.yaml: example: help: missing translation for en",
        "small.yaml: section 'second' title: missing translation for zh-CN",
    ]


def test_empty_and_undeclared_translations() -> None:
    data = small_data()
    data["intro"]["en"] = "   "
    question(data, "count")["label"]["fr"] = "Nombre"
    assert problems(data) == [
        "small.yaml: intro: empty en text",
        "small.yaml: count: label: 'fr' is not a declared locale (zh-CN, en)",
    ]


def test_a_plain_string_is_not_a_translation_map() -> None:
    data = small_data()
    question(data, "count")["label"] = "次数"
    assert problems(data) == [
        "small.yaml: count: label must be a map of locale to text, e.g. {zh-CN: …, en: …}"
    ]


@pytest.mark.parametrize(
    ("locales", "expected"),
    [
        ([], ["locales: declare at least one locale (the first is the default)"]),
        (["zh-CN", "en", "en"], ["locales: 'en' is listed 2 times"]),
        (["zh-CN", "english"], ["locales: 'english' is not a locale code such as zh-CN or en"]),
    ],
)
def test_locales_are_checked(locales: list[str], expected: list[str]) -> None:
    data = small_data()
    data["locales"] = locales
    found = problems(data)
    assert [p.removeprefix("small.yaml: ") for p in found[: len(expected)]] == expected


# --- structure ----------------------------------------------------------------------------


def test_unknown_type() -> None:
    data = small_data()
    question(data, "count")["type"] = "date"
    assert problems(data) == [
        "small.yaml: count: unknown type 'date'; expected one of single, multi, scale, text, "
        "number, grid"
    ]


def test_unknown_keys_everywhere() -> None:
    data = small_data()
    data["author"] = "x"
    data["sections"][0]["colour"] = "red"
    question(data, "count")["mandatory"] = True
    question(data, "freq")["choices"][0]["value"] = 0
    assert problems(data) == [
        "small.yaml: unknown key 'author'",
        "small.yaml: section 'first': unknown key 'colour'",
        "small.yaml: freq: unknown key 'value' in choices[0]",
        "small.yaml: count: unknown key 'mandatory'",
    ]


def test_an_unknown_key_does_not_hide_the_other_problems_of_its_question() -> None:
    data = small_data()
    question(data, "count").update(hint=text("提示"), min=10, max=1)
    assert problems(data) == [
        "small.yaml: count: unknown key 'hint'",
        "small.yaml: count: range min 10 > max 1",
    ]


def test_wrong_value_types() -> None:
    data = small_data()
    data["version"] = 0
    question(data, "count")["required"] = "yes"
    question(data, "impact")["max"] = "5"
    found = problems(data)
    assert found == [
        "small.yaml: version: Input should be greater than or equal to 1",
        "small.yaml: impact: max: Input should be a valid integer",
        "small.yaml: count: required: Input should be a valid boolean",
    ]


def test_missing_keys_and_empty_sections() -> None:
    data = small_data()
    del data["intro"]
    del question(data, "count")["label"]
    data["sections"].append({"id": "third", "title": text("三"), "questions": []})
    assert problems(data) == [
        "small.yaml: missing 'intro'",
        "small.yaml: count: missing 'label'",
        "small.yaml: section 'third': expected a non-empty list of questions",
    ]


def test_a_question_without_an_id_is_named_by_its_position() -> None:
    data = small_data()
    del question(data, "example")["id"]
    assert problems(data) == ["small.yaml: sections[0].questions[2]: missing 'id'"]


def test_questionnaire_and_section_ids() -> None:
    data = small_data()
    data["id"] = "Formalism 2024"
    data["sections"][0]["id"] = "第一"
    assert problems(data) == [
        "small.yaml: id 'Formalism 2024' must be 1–64 characters of a–z, 0–9, _ and -, "
        "starting with a letter",
        "small.yaml: section '第一': id '第一' must be 1–24 characters of a–z, 0–9 and _, "
        "starting with a letter",
    ]


def test_top_level_must_be_a_mapping() -> None:
    assert problems(["not", "a", "mapping"]) == [
        "small.yaml: expected a mapping at the top level (id, version, locales, … sections)"
    ]
    data = small_data()
    data["sections"] = []
    assert problems(data) == ["small.yaml: sections: expected a non-empty list of sections"]


# --- all at once, files, YAML ---------------------------------------------------------------


def test_every_problem_in_a_broken_file_is_reported_in_file_order() -> None:
    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire(BROKEN / "many_problems.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "many_problems.yaml: intro: missing translation for en",
        "many_problems.yaml: freq: duplicate choice id 'often'",
        "many_problems.yaml: impact: range min 5 > max 1",
        "many_problems.yaml: impact: relevant: 'freq' has no choice 'rarely'",
        "many_problems.yaml: later: text question needs a positive max_length",
        "many_problems.yaml: later: relevant: 'notes' comes later; conditions may only use "
        "questions asked before",
        "many_problems.yaml: section 'first': duplicate section id",
        "many_problems.yaml: kind: unknown type 'radio'; expected one of single, multi, scale, "
        "text, number, grid",
        "many_problems.yaml: empty: unknown key 'colour'",
        "many_problems.yaml: empty: multi question has no choices",
        "many_problems.yaml: notes: relevant: syntax error: expected a question id, 'not', "
        "'answered(…)' or '(', found the end at column 18 in 'freq == often and'",
        "many_problems.yaml: freq: duplicate question id",
    ]
    assert str(caught.value).startswith("12 problems in questionnaire:\n")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("yaml_syntax.yaml", "YAML error at line 5, column 6: expected ',' or ']', but got ':'"),
        ("duplicate_key.yaml", "YAML error at line 15, column 9: duplicate key 'label'"),
        ("alias_bomb.yaml", "YAML error at line 3, column 8: aliases (*name) are not allowed"),
    ],
)
def test_yaml_level_problems(name: str, message: str) -> None:
    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire(BROKEN / name)
    assert [str(p) for p in caught.value.problems] == [f"{name}: {message}"]


def test_oversized_upload_is_refused_before_parsing() -> None:
    with pytest.raises(QuestionnaireError) as caught:
        parse_questionnaire_text("#" * (300 * 1024), "upload.yaml")
    assert [str(p) for p in caught.value.problems] == ["upload.yaml: file is larger than 256 KiB"]
    assert caught.value.problems[0].kind == "too_large"


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire(tmp_path / "absent.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "absent.yaml: cannot read file: No such file or directory"
    ]
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(QuestionnaireError, match=r"binary\.yaml: cannot read file"):
        load_questionnaire(binary)


def test_no_unchecked_questionnaire_can_be_built() -> None:
    data = small_data()
    question(data, "impact")["relevant"] = "count >= 3"
    with pytest.raises(QuestionnaireError) as caught:
        Questionnaire.model_validate(data)
    assert [p.question_id for p in caught.value.problems] == ["impact"]


def test_valid_questionnaire_round_trips_through_json() -> None:
    parsed = parse_questionnaire(small_data(), "small.yaml")
    again = Questionnaire.model_validate_json(parsed.model_dump_json())
    assert again.model_dump() == parsed.model_dump()
    assert again.question("why_c").condition == parsed.question("why_c").condition
