"""A grid question on the web page, through the HTTP API as the page speaks it: the rows come
as numbered lines of chips (not as a list in the body), a chip redraws the table in place,
"the rest: …" fills the open rows, Done moves on, and the rows are stored like any answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.config import DEFAULT_QUESTIONNAIRE
from bot.harness.offline import OfflineBot
from bot.harness.web_client import Bubble, WebCadre
from bot.questionnaire import load_questionnaire
from tests.web.test_web_flow import (
    acts,
    answer_until,
    begin,
    body_text,
    press,
    question_of,
    submission_of,
    submit,
)

PROBLEMS = ["p1", "p2", "p3", "p4", "p5", "p6", "p10", "p7", "p8", "p9"]
FREQUENCIES = ["never", "sometimes", "often", "very_often"]


def chosen(bubble: Bubble) -> dict[str, str | None]:
    """Each row's key and the value of its selected chip (None: open)."""
    picked: dict[str, str | None] = {}
    for line in bubble.grid:
        key = line["options"][0]["action"]["q"]
        selected = [o["action"]["v"] for o in line["options"] if o["selected"]]
        assert len(selected) <= 1 and line["answered"] == bool(selected), line
        picked[key] = selected[0] if selected else None
    return picked


def navigation_acts(bubble: Bubble) -> list[str]:
    return [o["action"]["a"] for row in bubble.screen["rows"] for o in row]


def fraction(bubble: Bubble) -> float:
    value = bubble.screen["progress"]["fraction"]
    assert isinstance(value, float) and 0.0 <= value <= 1.0
    return value


async def test_a_grid_comes_as_numbered_rows_of_chips_with_the_navigation_below(
    new_cadre: Callable[..., WebCadre],
) -> None:
    cadre = new_cadre()
    await begin(cadre)
    await answer_until(cadre, "freq")
    grid = cadre.current()
    questionnaire = load_questionnaire(DEFAULT_QUESTIONNAIRE)
    freq = questionnaire.question("freq")

    lines = grid.grid
    assert [line["number"] for line in lines] == list(range(1, 11))
    assert [line["label"] for line in lines] == [freq.row_label(row, "zh-CN") for row in PROBLEMS]
    assert all(line["required"] and not line["answered"] for line in lines)
    for line, row in zip(lines, PROBLEMS, strict=True):
        assert [
            (o["action"]["a"], o["action"]["q"], o["action"]["v"]) for o in line["options"]
        ] == [("cell", f"freq.{row}", value) for value in FREQUENCIES]
        assert [o["label"] for o in line["options"]] == ["从未遇到", "偶尔", "经常", "几乎每天"]
        assert [o["selected"] for o in line["options"]] == [False] * 4
    # The page shows each row's label beside its chips: the body does not list them again.
    assert freq.row_label("p10", "zh-CN") not in body_text(grid.screen)
    assert "cell" not in navigation_acts(grid)
    assert "fill" in navigation_acts(grid) and "done" not in navigation_acts(grid)
    # The cells come first among the options, as `Screen.options` has them.
    assert [a for a, _q, _v in acts(grid)][:40] == ["cell"] * 40
    assert grid.screen["progress"]["label"] == "第 2/5 部分"
    assert 0.0 < fraction(grid) < 1.0


async def test_chips_redraw_the_grid_in_place_and_its_rows_are_stored_like_answers(
    web_bot: OfflineBot, new_cadre: Callable[..., WebCadre]
) -> None:
    cadre = new_cadre()
    await begin(cadre)
    await answer_until(cadre, "freq")
    grid = cadre.current()
    seen = fraction(grid)

    answer: dict[str, Any] = await press(cadre, "cell", "freq.p3", "often")
    assert [(op["op"], op["ref"]) for op in answer["ops"]] == [("replace", grid.ref)]
    assert chosen(cadre.current()) == {
        f"freq.{row}": "often" if row == "p3" else None for row in PROBLEMS
    }
    await press(cadre, "cell", "freq.p3", "very_often")  # a different chip: the row changes
    await press(cadre, "cell", "freq.p10", "sometimes")
    assert chosen(cadre.current())["freq.p3"] == "very_often"
    assert fraction(cadre.current()) >= seen

    filled = await press(cadre, "fill", "freq")
    assert [(op["op"], op["ref"]) for op in filled["ops"]] == [("replace", grid.ref)]
    after = cadre.current()
    assert chosen(after) == {
        f"freq.{row}": {"p3": "very_often", "p10": "sometimes"}.get(row, "never")
        for row in PROBLEMS
    }
    assert "fill" not in navigation_acts(after) and "done" in navigation_acts(after)

    await press(cadre, "done", "freq")
    impact = cadre.current()
    assert question_of(impact) == "impact"
    [line] = impact.grid  # only the problem met often or more
    assert line["number"] == 1 and not line["required"]
    assert [o["action"]["v"] for o in line["options"]] == ["1", "2", "3", "4", "5"]
    assert "skip" in navigation_acts(impact)
    await press(cadre, "cell", "impact.p3", "2")
    await press(cadre, "cell", "impact.p3", "2")  # the chosen chip again: an optional row clears
    assert chosen(cadre.current()) == {"impact.p3": None}
    await press(cadre, "cell", "impact.p3", "4")
    await press(cadre, "done", "impact")

    examples = cadre.current()
    assert question_of(examples) == "examples"
    assert [v for a, _q, v in acts(examples) if a == "tog"] == ["p3"]  # the choices offered now
    await answer_until(cadre)
    stored = (await submission_of(web_bot, await submit(cadre))).answers
    assert stored["freq.p3"] == "very_often" and stored["freq.p10"] == "sometimes"
    assert stored["freq.p1"] == "never" and stored["impact.p3"] == 4
    assert "impact.p1" not in stored
