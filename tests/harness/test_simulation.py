"""The simulated cadre's temperament on grids and multiple choices, and that Telegram and the
web page show it the same grid, so one seed makes the same presses in both channels."""

from __future__ import annotations

import random

import pytest

from bot.config import DEFAULT_QUESTIONNAIRE
from bot.conversation import screens
from bot.conversation.model import Channel
from bot.harness.simulation import (
    Behaviour,
    GridLine,
    Temperament,
    grid_lines,
    web_grid_lines,
)
from bot.harness.web_client import Bubble
from bot.questionnaire import Questionnaire, load_questionnaire, row_key
from bot.questionnaire.engine import QuestionStep, RowStep
from bot.respondent.callbacks import SurveyCallback
from bot.web.render import screen_json
from handlers.telegram_render import render

VALUES = ("never", "sometimes", "often", "very_often")


@pytest.fixture(scope="module")
def questionnaire() -> Questionnaire:
    return load_questionnaire(DEFAULT_QUESTIONNAIRE)


def lines(required: bool, chosen: dict[int, str] | None = None) -> list[GridLine]:
    chosen = chosen or {}
    return [GridLine(f"g.r{n}", VALUES, required, chosen.get(n)) for n in range(10)]


@pytest.mark.parametrize("behaviour", list(Behaviour))
def test_every_open_required_row_gets_a_cell_or_the_rest_button(behaviour: Behaviour) -> None:
    fills = 0
    for seed in range(200):
        plan = Temperament(behaviour, random.Random(seed)).grid(
            lines(True, {3: "often"}), fill_offered=True
        )
        pressed = [key for key, _ in plan.presses]
        assert "g.r3" not in pressed  # answered before: left as it is
        assert len(pressed) == len(set(pressed))
        assert all(value in VALUES for _, value in plan.presses)
        if plan.fill:
            fills += 1
        else:
            assert sorted(pressed) == sorted(f"g.r{n}" for n in range(10) if n != 3)
    assert 0 < fills < 200  # now and then the rest at once, not always


def test_without_the_rest_button_every_required_row_is_pressed() -> None:
    for seed in range(50):
        plan = Temperament(Behaviour.STRAIGHT, random.Random(seed)).grid(lines(True), False)
        assert not plan.fill
        assert [key for key, _ in plan.presses] == [f"g.r{n}" for n in range(10)]


def test_a_hurried_cadre_leaves_optional_rows_empty_and_others_answer_most() -> None:
    hurried = Temperament(Behaviour.HURRIED, random.Random(1)).grid(lines(False), False)
    assert hurried.presses == ()
    answered = [
        len(Temperament(Behaviour.STRAIGHT, random.Random(seed)).grid(lines(False), False).presses)
        for seed in range(50)
    ]
    assert min(answered) > 0 and max(answered) <= 10 and sum(answered) > 250


def test_a_multiple_choice_picks_only_among_the_choices_offered() -> None:
    mind = Temperament(Behaviour.STRAIGHT, random.Random(4))
    for _ in range(50):
        assert mind.picks(["p3"], None) == ["p3"]
        picked = mind.picks(["a", "b", "c", "d", "e"], 2)
        assert 1 <= len(picked) <= 2 and set(picked) <= {"a", "b", "c", "d", "e"}
    assert mind.picks([], 3) == []


@pytest.mark.parametrize("grid", ["freq", "impact"])
def test_telegram_and_the_page_show_the_cadre_the_same_grid(
    questionnaire: Questionnaire, grid: str
) -> None:
    question = questionnaire.question(grid)
    values = [c.id for c in question.choices] or [str(n) for n in range(1, 6)]
    rows = tuple(
        RowStep(
            row,
            row_key(grid, row.id),
            (values[n % len(values)] if question.cells_are_choices else n % 5 + 1)
            if n % 3
            else None,
            question.row_required(row),
        )
        for n, row in enumerate(question.rows)
    )
    step = QuestionStep(question, 2, 9, None, (), True, True, rows=rows, can_finish=False)
    telegram = screens.question_screen(step, questionnaire, "zh-CN")
    markup = render(telegram).markup
    assert markup is not None
    cells = [
        (button.text, data)
        for row in markup.inline_keyboard
        for button in row
        if (data := SurveyCallback.unpack(button.callback_data or "")).a == "cell"
    ]
    web = screens.question_screen(step, questionnaire, "zh-CN", channel=Channel.WEB)
    seen = grid_lines(question, cells)
    assert seen == web_grid_lines(Bubble(1, screen_json(web), True))
    assert [line.chosen is not None for line in seen] == [bool(n % 3) for n in range(10)]
    assert {line.required for line in seen} == {grid == "freq"}
    plan = Temperament(Behaviour.STRAIGHT, random.Random(7)).grid(seen, grid == "freq")
    again = Temperament(Behaviour.STRAIGHT, random.Random(7)).grid(
        web_grid_lines(Bubble(1, screen_json(web), True)), grid == "freq"
    )
    assert plan == again
