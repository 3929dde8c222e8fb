"""The Telegram renderer: every option of the seed questionnaire fits Telegram's 64 bytes of
callback data in the formats old buttons carry, and screens read as they always did."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton
from pydantic import ValidationError

from bot.cases.callbacks import FollowupAct, FollowupCallback
from bot.config import DEFAULT_QUESTIONNAIRE
from bot.conversation import followup_screens, screens
from bot.conversation.model import Act, Action, GridRow, Option, Progress, Screen
from bot.questionnaire import Question, Questionnaire, load_questionnaire, row_key
from bot.questionnaire.engine import Engine, QuestionStep, ReviewItem, ReviewStep, RowStep
from bot.respondent.callbacks import (
    AnnouncementsCallback,
    ClearChatCallback,
    ReceiptSavedCallback,
    SurveyCallback,
)
from handlers.telegram_render import (
    BUTTON_LIMIT,
    CALLBACK_DATA_LIMIT,
    FOLLOWUP_ACTIONS,
    callback_data,
    render,
)

BIG_MESSAGE_ID = 2**31 - 1  # message ids are 32-bit in private chats
DAY = date(2026, 11, 2)


@dataclass(frozen=True)
class Summary:
    day: date
    status: str


@dataclass(frozen=True)
class Entry:
    origin: str
    day: date
    text: str


@pytest.fixture(scope="module")
def questionnaire() -> Questionnaire:
    return load_questionnaire(DEFAULT_QUESTIONNAIRE)


def _step(question: Question, position: int, total: int) -> QuestionStep:
    """The question with every option it can show: all choices offered and ticked, a grid's
    rows all open (so "the rest" shows) and finishable (so Done shows), back, skip, back to
    the review."""
    rows = tuple(
        RowStep(row, row_key(question.id, row.id), None, question.row_required(row))
        for row in question.rows
    )
    choices = tuple(choice.id for choice in question.choices)
    return QuestionStep(
        question=question,
        position=position,
        total=total,
        current=None,
        pending=choices,
        can_skip=True,
        can_go_back=True,
        editing=True,
        rows=rows,
        offered=choices if question.type in ("single", "multi") else (),
    )


def _review(questionnaire: Questionnaire) -> ReviewStep:
    items = []
    for question in questionnaire.questions:
        section = questionnaire.section_of(question.id)
        if question.type == "grid":
            items += [
                ReviewItem(section, question, row, row_key(question.id, row.id), None)
                for row in question.rows
            ]
        else:
            items.append(ReviewItem(section, question, None, question.id, None))
    return ReviewStep(items=tuple(items))


def _every_screen(questionnaire: Questionnaire, locale: str) -> Iterator[Screen]:
    """Each question with every option it can show, the review of every question, and the
    screens around them."""
    total = len(questionnaire.questions)
    for position, question in enumerate(questionnaire.questions, start=1):
        step = _step(question, position, total)
        yield screens.question_screen(step, questionnaire, locale, notice="n")
    yield screens.review_screen(_review(questionnaire), locale)
    yield screens.welcome_screen(questionnaire, locale, 5, BIG_MESSAGE_ID, subscribed=False)
    yield screens.welcome_screen(questionnaire, locale, 5, BIG_MESSAGE_ID, subscribed=True)
    yield screens.resume_screen(Engine(questionnaire).start().step)
    yield screens.cancel_confirm_screen()
    yield screens.cancelled_screen()
    yield screens.receipt_screen("ABCD-EFGH-JKMN-PQRS-TVWX", BIG_MESSAGE_ID)
    yield screens.receipt_deleted_screen(BIG_MESSAGE_ID)
    yield followup_screens.session_ended_screen(BIG_MESSAGE_ID)
    yield followup_screens.write_answer_screen(BIG_MESSAGE_ID)
    thread = [Entry("investigator", DAY, "请看 example.com")]
    yield followup_screens.cadre_report_screen(Summary(DAY, "new"), thread, BIG_MESSAGE_ID)


def _parsed(data: str) -> CallbackData:
    prefix = data.split(":", 1)[0]
    kinds: dict[str, type[CallbackData]] = {
        "s": SurveyCallback,
        "clr": ClearChatCallback,
        "rcpt": ReceiptSavedCallback,
        "ann": AnnouncementsCallback,
        "fu": FollowupCallback,
    }
    return kinds[prefix].unpack(data)


def _action_of(parsed: CallbackData) -> Action:
    """What the Telegram handlers turn each kind of callback data back into."""
    match parsed:
        case SurveyCallback():
            return Action(parsed.a, parsed.q, parsed.v)
        case ClearChatCallback():
            return Action(Act.CLEAR_CHAT, value=str(parsed.first))
        case ReceiptSavedCallback():
            return Action(Act.RECEIPT_SAVED, value=str(parsed.first))
        case AnnouncementsCallback():
            return Action(Act.ANNOUNCEMENTS, value="on" if parsed.on else "off")
        case FollowupCallback():
            return Action(FOLLOWUP_ACTIONS[parsed.a])
    raise AssertionError(parsed)


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_option_fits_and_comes_back_as_its_action(
    questionnaire: Questionnaire, locale: str
) -> None:
    seen: set[Act] = set()
    for screen in _every_screen(questionnaire, locale):
        for option in screen.options:
            data = callback_data(option.action).pack()
            assert len(data.encode()) <= CALLBACK_DATA_LIMIT, data
            assert _action_of(_parsed(data)) == option.action
            seen.add(option.action.act)
    assert seen == set(Act)


def test_the_formats_of_buttons_already_in_chats() -> None:
    assert callback_data(Action(Act.ANSWER, "p9_freq", "very_often")).pack() == (
        "s:ans:p9_freq:very_often"
    )
    assert callback_data(Action(Act.CONSENT, value="17")).pack() == "s:go::17"
    assert callback_data(Action(Act.CLEAR_CHAT, value="17")).pack() == "clr:17"
    assert callback_data(Action(Act.RECEIPT_SAVED, value="17")).pack() == "rcpt:17"
    assert callback_data(Action(Act.ANNOUNCEMENTS, value="on")).pack() == "ann:1"
    followup = callback_data(Action(Act.FOLLOWUP_END)).pack()
    assert followup == FollowupCallback(a=FollowupAct.END).pack() == "fu:end"


def test_a_screen_reads_notices_title_progress_then_body() -> None:
    screen = Screen(
        body="<b>Label</b>",
        rows=((Option("A & B", Action(Act.ANSWER, "q", "a")),),),
        title="Section <1>",
        progress=Progress(3, 9, "Question 3 of 9"),
        notices=("Please use the buttons.",),
    )
    message = render(screen)
    assert message.text == (
        "Please use the buttons.\n\n<b>Section &lt;1&gt;</b>\nQuestion 3 of 9\n\n<b>Label</b>"
    )
    assert message.markup is not None
    [[button]] = message.markup.inline_keyboard
    assert button.text == "A & B" and button.callback_data == "s:ans:q:a"
    assert render(Screen("Just a line.")).markup is None


FREQUENCIES = (
    ("never", "从未遇到"),
    ("sometimes", "偶尔"),
    ("often", "经常"),
    ("very_often", "几乎每天"),
)
PROBLEMS = ("p1", "p2", "p3", "p4", "p5", "p6", "p10", "p7", "p8", "p9")


def _grid_row(
    grid: str, number: int, row: str, cells: list[tuple[str, str]], chosen: str | None
) -> GridRow:
    return GridRow(
        number=number,
        label=f"问题 {row}",
        options=tuple(
            Option(label, Action(Act.CELL, f"{grid}.{row}", value), selected=value == chosen)
            for value, label in cells
        ),
        required=True,
        answered=chosen is not None,
    )


def _grid_screen(grid: str, cells: list[tuple[str, str]], chosen: dict[str, str]) -> Screen:
    """A grid of the ten problems as the core shows it: the rows, then fill, Done and the
    navigation."""
    rows = tuple(
        _grid_row(grid, number, row, cells, chosen.get(row))
        for number, row in enumerate(PROBLEMS, start=1)
    )
    navigation = (
        (Option("其余都是：从未遇到", Action(Act.FILL, grid)),),
        (Option("完成", Action(Act.DONE, grid)),),
        (
            Option("⬅️ 上一题", Action(Act.BACK, grid)),
            Option("跳过", Action(Act.SKIP, grid)),
            Option("✖️ 取消", Action(Act.CANCEL)),
        ),
    )
    return Screen("1. 问题 p1\n2. 问题 p2", rows=navigation, grid=rows)


def _keyboard(screen: Screen) -> list[list[InlineKeyboardButton]]:
    markup = render(screen).markup
    assert markup is not None
    return markup.inline_keyboard


def _within_telegram_limits(keyboard: list[list[InlineKeyboardButton]]) -> None:
    buttons = [button for row in keyboard for button in row]
    assert len(buttons) <= BUTTON_LIMIT
    for button in buttons:
        assert button.callback_data is not None
        assert len(button.callback_data.encode()) <= CALLBACK_DATA_LIMIT, button.callback_data


def test_a_grid_is_one_keyboard_row_per_row_then_the_navigation() -> None:
    screen = _grid_screen("freq", list(FREQUENCIES), {"p3": "often", "p10": "never"})
    keyboard = _keyboard(screen)
    _within_telegram_limits(keyboard)
    assert len(keyboard) == len(PROBLEMS) + 3
    cells = keyboard[: len(PROBLEMS)]
    assert [[b.callback_data for b in row] for row in cells] == [
        [f"s:cell:freq.{row}:{value}" for value, _ in FREQUENCIES] for row in PROBLEMS
    ]
    assert [b.text for b in cells[0]] == ["1 从未遇到", "偶尔", "经常", "几乎每天"]
    assert [b.text for b in cells[2]] == ["3 从未遇到", "偶尔", "🔘 经常", "几乎每天"]
    assert [b.text for b in cells[6]] == ["7 🔘 从未遇到", "偶尔", "经常", "几乎每天"]
    assert [[b.callback_data for b in row] for row in keyboard[len(PROBLEMS) :]] == [
        ["s:fill:freq:"],
        ["s:done:freq:"],
        ["s:back:freq:", "s:skip:freq:", "s:cxl::"],
    ]
    assert render(screen).text == screen.body


def test_an_integer_grid_of_ten_rows_keeps_the_row_number_apart_from_the_first_cell() -> None:
    scale = [(str(n), str(n)) for n in range(1, 6)]
    keyboard = _keyboard(_grid_screen("impact", scale, {"p1": "1", "p2": "4"}))
    _within_telegram_limits(keyboard)
    assert [len(row) for row in keyboard[: len(PROBLEMS)]] == [5] * len(PROBLEMS)
    assert [b.text for b in keyboard[0]] == ["1 · 🔘1", "2", "3", "4", "5"]
    assert [b.text for b in keyboard[1]] == ["2 · 1", "2", "3", "🔘4", "5"]
    assert [b.text for b in keyboard[9]] == ["10 · 1", "2", "3", "4", "5"]
    assert keyboard[1][3].callback_data == "s:cell:impact.p2:4"


def test_the_largest_grid_the_questionnaire_checks_allow_fits_telegram() -> None:
    """The checks allow rows × cells + 6 navigation buttons up to 100 and callback data up to
    64 bytes: such a grid renders within both of Telegram's limits."""
    grid = "g" * 20
    long_value = "v" * (CALLBACK_DATA_LIMIT - len("s:cell:") - len(grid) - 1 - len("r9") - 1)
    cells = [(long_value, "长")] + [(f"c{n}", f"选项{n}") for n in range(1, 9)]
    rows = tuple(
        _grid_row(grid, number, f"r{number}", cells, long_value if number == 5 else None)
        for number in range(1, 10)
    )
    navigation = tuple((Option(f"nav {n}", Action(Act.DONE, grid)),) for n in range(6))
    keyboard = _keyboard(Screen("body", rows=navigation, grid=rows))
    assert sum(len(row) for row in keyboard) == 9 * 9 + 6
    _within_telegram_limits(keyboard)
    assert max(len((b.callback_data or "").encode()) for row in keyboard for b in row) == 64
    assert keyboard[4][0].text == "5 🔘 长"


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_the_shipped_grids_are_a_keyboard_row_per_row_within_telegram_limits(
    questionnaire: Questionnaire, locale: str
) -> None:
    grids = [q for q in questionnaire.questions if q.type == "grid"]
    assert [q.id for q in grids] == ["freq", "impact"]
    for position, question in enumerate(grids, start=1):
        screen = screens.question_screen(_step(question, position, 9), questionnaire, locale)
        keyboard = _keyboard(screen)
        _within_telegram_limits(keyboard)
        cells = keyboard[: len(question.rows)]
        for number, (row, buttons) in enumerate(zip(question.rows, cells, strict=True), start=1):
            assert {b.callback_data for b in buttons} == {
                f"s:cell:{question.id}.{row.id}:{option.action.value}"
                for option in screen.grid[number - 1].options
            }
            assert buttons[0].text.startswith(f"{number} ")
            assert not any(b.text.startswith(f"{number} ") for b in buttons[1:])
        navigation = [b.callback_data for row in keyboard[len(question.rows) :] for b in row]
        assert f"s:done:{question.id}:" in navigation
        assert not any((data or "").startswith("s:cell:") for data in navigation)


def test_a_survey_button_is_parsed_once_frozen_and_bad_data_is_still_refused() -> None:
    data = SurveyCallback(a=Act.CELL, q="freq.p1", v="often").pack()
    first = SurveyCallback.unpack(data)
    assert (first.a, first.q, first.v) == (Act.CELL, "freq.p1", "often")
    assert SurveyCallback.unpack(data) is first  # the same press again: parsed once
    with pytest.raises(ValidationError):
        first.v = "never"  # type: ignore[misc]  # shared, so it cannot change
    for _ in range(2):  # refused every time, not remembered as something
        with pytest.raises((TypeError, ValueError)):
            SurveyCallback.unpack("s:cell:freq.p1")
        with pytest.raises((TypeError, ValueError)):
            SurveyCallback.unpack("s:nonsense::")
