"""Questionnaire data for tests: a small valid questionnaire to break on purpose, and
hypothesis strategies for generated questionnaires with branches and for respondents' input."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from bot.questionnaire import Question, Questionnaire, parse_questionnaire

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "bot" / "questionnaires" / "formalism.yaml"
SHIPPED_V1 = REPO / "bot" / "questionnaires" / "earlier" / "formalism-v1.yaml"
"""Version 1 of the shipped questionnaire (one question per problem, no grids), kept verbatim."""
BROKEN = REPO / "tests" / "data" / "questionnaires"

# Deterministic and bounded, so a failure reproduces and the suite stays fast.
WALKS = settings(
    derandomize=True,
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


def text(zh: str, en: str | None = None) -> dict[str, str]:
    return {"zh-CN": zh, "en": en if en is not None else zh}


FREQUENCY = [
    {"id": "never", "label": text("从未遇到", "Never")},
    {"id": "sometimes", "label": text("偶尔", "Sometimes")},
    {"id": "often", "label": text("经常", "Often")},
]


def small_data() -> dict[str, Any]:
    """A valid questionnaire with every question type and a branch; tests mutate a copy."""
    return copy.deepcopy(
        {
            "id": "small",
            "version": 1,
            "locales": ["zh-CN", "en"],
            "title": text("小问卷", "Small"),
            "intro": text("说明", "Intro"),
            "sections": [
                {
                    "id": "first",
                    "title": text("第一部分", "First"),
                    "questions": [
                        {
                            "id": "freq",
                            "type": "single",
                            "required": True,
                            "label": text("频率", "How often"),
                            "choices": FREQUENCY,
                        },
                        {
                            "id": "impact",
                            "type": "scale",
                            "required": True,
                            "relevant": "freq != never",
                            "label": text("影响", "Impact"),
                            "min": 1,
                            "max": 5,
                            "min_label": text("小", "Low"),
                            "max_label": text("大", "High"),
                        },
                        {
                            "id": "example",
                            "type": "text",
                            "relevant": "freq != never",
                            "max_length": 20,
                            "label": text("例子", "Example"),
                        },
                    ],
                },
                {
                    "id": "second",
                    "title": text("第二部分", "Second"),
                    "questions": [
                        {
                            "id": "count",
                            "type": "number",
                            "min": 0,
                            "max": 200,
                            "label": text("次数", "Count"),
                        },
                        {
                            "id": "measures",
                            "type": "multi",
                            "max_choices": 2,
                            "label": text("措施", "Measures"),
                            "choices": [
                                {"id": "a", "label": text("甲", "A")},
                                {"id": "b", "label": text("乙", "B")},
                                {"id": "c", "label": text("丙", "C")},
                            ],
                        },
                        {
                            "id": "why_c",
                            "type": "text",
                            "required": True,
                            "relevant": "measures has c and count >= 3",
                            "max_length": 50,
                            "label": text("为什么选丙", "Why C"),
                        },
                    ],
                },
            ],
        }
    )


def small() -> Questionnaire:
    return parse_questionnaire(small_data(), "small.yaml")


PROBLEMS = ("p1", "p2", "p3")


def grid_data() -> dict[str, Any]:
    """A valid questionnaire with both kinds of grid, row conditions and choice conditions.

    problems: freq (choice grid, required, fill never; rows p1 p2 and p3, p3 optional) →
    impact (1–5 grid, optional, row pN asked when freq.pN == often);
    details: examples (multi, choice pN offered when freq.pN != never) → worst (text, when
    impact.p1 >= 4) → count (number 0–10)."""
    return copy.deepcopy(
        {
            "id": "grids",
            "version": 1,
            "locales": ["zh-CN", "en"],
            "title": text("表格问卷", "Grids"),
            "intro": text("说明", "Intro"),
            "sections": [
                {
                    "id": "problems",
                    "title": text("问题", "Problems"),
                    "questions": [
                        {
                            "id": "freq",
                            "type": "grid",
                            "required": True,
                            "fill": "never",
                            "label": text("遇到得多吗", "How often"),
                            "choices": FREQUENCY,
                            "rows": [
                                {"id": "p1", "label": text("文山会海", "Meetings")},
                                {"id": "p2", "label": text("过度留痕", "Paperwork")},
                                {
                                    "id": "p3",
                                    "label": text("检查过多", "Inspections"),
                                    "required": False,
                                },
                            ],
                        },
                        {
                            "id": "impact",
                            "type": "grid",
                            "label": text("影响多大", "Impact"),
                            "min": 1,
                            "max": 5,
                            "min_label": text("小", "Low"),
                            "max_label": text("大", "High"),
                            "rows": [
                                {
                                    "id": problem,
                                    "label": text(f"问题{problem}", f"Problem {problem}"),
                                    "relevant": f"freq.{problem} == often",
                                }
                                for problem in PROBLEMS
                            ],
                        },
                    ],
                },
                {
                    "id": "details",
                    "title": text("细节", "Details"),
                    "questions": [
                        {
                            "id": "examples",
                            "type": "multi",
                            "label": text("举例", "Examples"),
                            "choices": [
                                {
                                    "id": problem,
                                    "label": text(f"问题{problem}", f"Problem {problem}"),
                                    "relevant": f"freq.{problem} != never",
                                }
                                for problem in PROBLEMS
                            ],
                        },
                        {
                            "id": "worst",
                            "type": "text",
                            "relevant": "impact.p1 >= 4",
                            "max_length": 20,
                            "label": text("最严重的", "Worst"),
                        },
                        {
                            "id": "count",
                            "type": "number",
                            "min": 0,
                            "max": 10,
                            "label": text("次数", "Count"),
                        },
                    ],
                },
            ],
        }
    )


def grids() -> Questionnaire:
    return parse_questionnaire(grid_data(), "grids.yaml")


# --- generated questionnaires ---------------------------------------------------------------


def _row_target(draw: st.DrawFn, grid: dict[str, Any]) -> dict[str, Any]:
    """One row of a generated grid, seen by a condition as the single or scale it acts as."""
    row = draw(st.sampled_from(grid["rows"]))
    target: dict[str, Any] = {"id": f"{grid['id']}.{row['id']}"}
    if "choices" in grid:
        target.update(type="single", choices=grid["choices"])
    else:
        target.update(type="scale", min=grid["min"], max=grid["max"])
    return target


@st.composite
def _test_on(draw: st.DrawFn, target: dict[str, Any]) -> str:
    """One condition test that fits the type of `target` (a grid: one of its rows)."""
    if target["type"] == "grid":
        target = _row_target(draw, target)
    qid = target["id"]
    kind = target["type"]
    if kind == "text" or draw(st.integers(0, 5)) == 0:
        return f"answered({qid})"
    if kind == "single":
        ids = [c["id"] for c in target["choices"]]
        op = draw(st.sampled_from(["==", "!=", "in", "not in"]))
        if op in ("in", "not in"):
            values = draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3))
            return f"{qid} {op} [{', '.join(values)}]"
        return f"{qid} {op} {draw(st.sampled_from(ids))}"
    if kind == "multi":
        return f"{qid} has {draw(st.sampled_from([c['id'] for c in target['choices']]))}"
    op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
    return f"{qid} {op} {draw(st.integers(target['min'], target['max']))}"


@st.composite
def _condition_on(draw: st.DrawFn, earlier: list[dict[str, Any]], depth: int = 0) -> str:
    shape = draw(st.integers(0, 4 if depth < 2 else 1))
    if shape <= 1:
        return draw(_test_on(draw(st.sampled_from(earlier))))
    if shape == 2:
        return f"not ({draw(_condition_on(earlier, depth + 1))})"
    joiner = " and " if shape == 3 else " or "
    parts = draw(st.lists(_condition_on(earlier, depth + 1), min_size=2, max_size=3))
    return joiner.join(f"({part})" for part in parts)


def _maybe_condition(draw: st.DrawFn, earlier: list[dict[str, Any]], odds: int) -> str | None:
    """A condition on earlier questions, one time in `odds` (never without earlier ones)."""
    if earlier and draw(st.integers(0, odds - 1)) == 0:
        return draw(_condition_on(earlier))
    return None


def _choices(draw: st.DrawFn, count: int, earlier: list[dict[str, Any]]) -> list[dict[str, Any]]:
    choices: list[dict[str, Any]] = []
    for n in range(count):
        choice: dict[str, Any] = {"id": f"c{n}", "label": text(f"选项{n}", f"Choice {n}")}
        condition = _maybe_condition(draw, earlier, 4)
        if condition is not None:
            choice["relevant"] = condition
        choices.append(choice)
    return choices


def _grid(draw: st.DrawFn, question: dict[str, Any], earlier: list[dict[str, Any]]) -> None:
    """Rows (some conditional, some with their own `required`) and one kind of cell."""
    if draw(st.booleans()):
        count = draw(st.integers(1, 3))
        question["choices"] = [
            {"id": f"c{n}", "label": text(f"选项{n}", f"Choice {n}")} for n in range(count)
        ]
        if draw(st.booleans()):
            question["fill"] = f"c{draw(st.integers(0, count - 1))}"
    else:
        low = draw(st.integers(0, 1))
        question.update(min=low, max=low + draw(st.integers(1, 4)))
    rows: list[dict[str, Any]] = []
    for n in range(draw(st.integers(1, 4))):
        row: dict[str, Any] = {"id": f"r{n}", "label": text(f"行{n}", f"Row {n}")}
        condition = _maybe_condition(draw, earlier, 2)
        if condition is not None:
            row["relevant"] = condition
        required = draw(st.sampled_from([None, None, True, False]))
        if required is not None:
            row["required"] = required
        rows.append(row)
    question["rows"] = rows


@st.composite
def _question(
    draw: st.DrawFn, index: int, earlier: list[dict[str, Any]], with_grids: bool
) -> dict[str, Any]:
    kinds = ["single", "single", "multi", "scale", "text", "number"]
    kind = draw(st.sampled_from([*kinds, "grid", "grid"] if with_grids else kinds))
    question: dict[str, Any] = {
        "id": f"q{index}",
        "type": kind,
        "required": draw(st.booleans()),
        "label": text(f"问题{index}", f"Question {index}"),
    }
    if kind in ("single", "multi"):
        count = draw(st.integers(1, 4))
        question["choices"] = (
            _choices(draw, count, earlier)
            if with_grids
            else [{"id": f"c{n}", "label": text(f"选项{n}", f"Choice {n}")} for n in range(count)]
        )
        if kind == "multi" and draw(st.booleans()):
            question["max_choices"] = draw(st.integers(1, count))
    elif kind == "grid":
        _grid(draw, question, earlier)
    elif kind == "scale":
        low = draw(st.integers(0, 1))
        question.update(min=low, max=low + draw(st.integers(1, 6)))
    elif kind == "number":
        low = draw(st.integers(-5, 5))
        question.update(min=low, max=low + draw(st.integers(0, 50)))
    else:
        question["max_length"] = draw(st.integers(1, 30))
    if earlier and draw(st.integers(0, 2)) > 0:
        question["relevant"] = draw(_condition_on(earlier))
    return question


@st.composite
def questionnaires(draw: st.DrawFn, *, with_grids: bool = False) -> Questionnaire:
    """A random valid questionnaire of 2–10 questions, most of them behind conditions; with
    grids, also grids with conditional rows and choices with conditions."""
    count = draw(st.integers(2, 10))
    questions: list[dict[str, Any]] = []
    for index in range(count):
        questions.append(draw(_question(index, list(questions), with_grids)))
    cuts = sorted(draw(st.lists(st.integers(1, count), min_size=1, max_size=2)))
    bounds = [0, *cuts, count]
    sections = [
        {"id": f"s{n + 1}", "title": text(f"第{n + 1}部分", f"Part {n + 1}"), "questions": part}
        for n, part in enumerate(questions[a:b] for a, b in itertools.pairwise(bounds))
    ]
    data = small_data()
    data["sections"] = [s for s in sections if s["questions"]]
    return parse_questionnaire(data, "generated.yaml")


# --- respondents' input ---------------------------------------------------------------------

FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")


@st.composite
def valid_answer(draw: st.DrawFn, question: Question) -> Any:
    """An input the engine must accept for `question` (raw strings included)."""
    kind = question.type
    if kind == "single":
        return draw(st.sampled_from(question.choice_ids))
    if kind == "multi":
        limit = question.max_choices or len(question.choices)
        return draw(
            st.lists(st.sampled_from(question.choice_ids), min_size=1, max_size=limit, unique=True)
        )
    if kind in ("scale", "number"):
        assert question.min is not None and question.max is not None
        number = draw(st.integers(question.min, question.max))
        form = draw(st.sampled_from(["int", "str", "full_width", "padded"]))
        if form == "int":
            return number
        if form == "str":
            return str(number)
        if form == "full_width":
            return str(number).translate(FULL_WIDTH)
        return f"  {number} "
    assert question.max_length is not None
    body = draw(
        st.text(
            alphabet=st.sampled_from("形式主义abc 12，。\n"),
            min_size=1,
            max_size=question.max_length,
        ).filter(lambda s: s.strip())
    )
    return body


@st.composite
def valid_cell(draw: st.DrawFn, question: Question) -> str | int:
    """A cell of a grid the engine must accept (integers sometimes as typed digits)."""
    if question.cells_are_choices:
        return draw(st.sampled_from(question.choice_ids))
    assert question.min is not None and question.max is not None
    number = draw(st.integers(question.min, question.max))
    forms: list[str | int] = [number, str(number), str(number).translate(FULL_WIDTH)]
    return draw(st.sampled_from(forms))


@st.composite
def invalid_cell(draw: st.DrawFn, question: Question) -> str | int:
    """A cell of a grid the engine must refuse."""
    refused: list[str | int]
    if question.cells_are_choices:
        refused = ["zz_not_a_choice", 1, ""]
    else:
        assert question.min is not None and question.max is not None
        refused = [question.max + 1, str(question.min - 1), "x", True]
    return draw(st.sampled_from(refused))


@st.composite
def invalid_answer(draw: st.DrawFn, question: Question) -> Any:
    """An input the engine must refuse for `question`."""
    kind = question.type
    if kind == "single":
        return draw(st.sampled_from(["zz_not_a_choice", "", 3]))
    if kind == "multi":
        too_many = (
            list(question.choice_ids)
            if question.max_choices is not None and question.max_choices < len(question.choices)
            else ["zz_not_a_choice"]
        )
        return draw(st.sampled_from([too_many, ["zz_not_a_choice"], "c0"]))
    if kind in ("scale", "number"):
        assert question.min is not None and question.max is not None
        return draw(
            st.sampled_from(
                [question.max + 1, str(question.min - 1), "abc", "1.5", "", "1_0", True]
            )
        )
    assert question.max_length is not None
    return draw(st.sampled_from(["", "   \n ", "长" * (question.max_length + 1), 7]))
