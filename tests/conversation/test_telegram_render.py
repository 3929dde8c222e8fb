"""The Telegram renderer: every option of the seed questionnaire fits Telegram's 64 bytes of
callback data in the formats old buttons carry, and screens read as they always did."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
from aiogram.filters.callback_data import CallbackData

from bot.cases.callbacks import FollowupAct, FollowupCallback
from bot.config import DEFAULT_QUESTIONNAIRE
from bot.conversation import followup_screens, screens
from bot.conversation.model import Act, Action, Option, Progress, Screen
from bot.questionnaire import Questionnaire, load_questionnaire
from bot.questionnaire.engine import Engine, QuestionStep, ReviewStep
from bot.respondent.callbacks import (
    AnnouncementsCallback,
    ClearChatCallback,
    ReceiptSavedCallback,
    SurveyCallback,
)
from handlers.telegram_render import CALLBACK_DATA_LIMIT, FOLLOWUP_ACTIONS, callback_data, render

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


def _every_screen(questionnaire: Questionnaire, locale: str) -> Iterator[Screen]:
    """Each question with every option it can show (all choices ticked, back, skip, back to
    review), the review of every question, and the screens around them."""
    total = len(questionnaire.questions)
    for position, question in enumerate(questionnaire.questions, start=1):
        step = QuestionStep(
            question=question,
            position=position,
            total=total,
            current=None,
            pending=tuple(choice.id for choice in question.choices),
            can_skip=True,
            can_go_back=True,
            editing=True,
        )
        yield screens.question_screen(step, questionnaire, locale, notice="n")
    review = ReviewStep(items=tuple((q, None) for q in questionnaire.questions))
    yield screens.review_screen(review, locale)
    yield screens.welcome_screen(questionnaire, locale, 5, BIG_MESSAGE_ID, subscribed=False)
    yield screens.welcome_screen(questionnaire, locale, 5, BIG_MESSAGE_ID, subscribed=True)
    yield screens.resume_screen(Engine(questionnaire).start().step)
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
