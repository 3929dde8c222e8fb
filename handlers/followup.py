"""The cadre's `/followup`: receipt code in, the report's status and thread out, answers back.

The message holding the code is deleted as soon as it is read (where Telegram allows); the
code is never echoed, logged or kept: the session holds only its hash, in the pseudonymous,
encrypted and expiring FSM data, and the hash is dropped when the session ends.
"""

from __future__ import annotations

from contextlib import suppress

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot.cases import screens
from bot.cases.callbacks import FollowupAct, FollowupCallback
from bot.cases.followup import (
    SESSION_KEY,
    Answered,
    FollowupService,
    Opened,
    ReceiptRefused,
    TooManyTries,
)
from bot.respondent.survey import DRAFT_KEY


class FollowUp(StatesGroup):
    code = State()  # waiting for the receipt code
    reading = State()  # a report is open
    writing = State()  # the next text is the cadre's answer


async def _delete(bot: Bot, message: Message) -> None:
    with suppress(TelegramBadRequest):
        await bot.delete_message(message.chat.id, message.message_id)


async def _show_report(
    bot: Bot, chat_id: int, state: FSMContext, followup: FollowupService, hashed: str
) -> None:
    report = await followup.report(hashed)
    if report is None:
        await state.clear()
        await bot.send_message(chat_id, screens.report_gone_text())
        return
    screen = screens.cadre_report_screen(report.summary, report.thread)
    await bot.send_message(chat_id, screen.text, reply_markup=screen.markup)


async def followup_command(message: Message, state: FSMContext) -> None:
    data = await state.get_data()
    if data.get(DRAFT_KEY):
        await message.answer(screens.finish_survey_first_text())
        return
    await state.clear()
    await state.set_state(FollowUp.code)
    await message.answer(screens.ask_code_text())


async def code_received(
    message: Message, state: FSMContext, bot: Bot, followup: FollowupService
) -> None:
    text = message.text or ""
    await _delete(bot, message)  # the code must not stay in the chat
    if message.from_user is None:
        return
    result = await followup.open(message.from_user.id, text)
    if isinstance(result, TooManyTries):
        await state.clear()
        await message.answer(screens.too_many_tries_text(result.limit))
        return
    if not isinstance(result, Opened):
        await message.answer(screens.wrong_code_text())
        return
    await state.set_state(FollowUp.reading)
    await state.set_data({SESSION_KEY: result.receipt_hash})
    await _show_report(bot, message.chat.id, state, followup, result.receipt_hash)


async def followup_button(
    query: CallbackQuery,
    callback_data: FollowupCallback,
    state: FSMContext,
    bot: Bot,
    followup: FollowupService,
) -> None:
    data = await state.get_data()
    hashed = data.get(SESSION_KEY)
    message = query.message
    if not isinstance(hashed, str) or message is None:
        await query.answer(screens.session_ended_text(), show_alert=True)
        return
    with suppress(TelegramBadRequest):
        await bot.edit_message_reply_markup(chat_id=message.chat.id, message_id=message.message_id)
    await query.answer()
    if callback_data.a == FollowupAct.END:
        await state.clear()
        await bot.send_message(message.chat.id, screens.session_ended_text())
    elif callback_data.a == FollowupAct.ANSWER:
        await state.set_state(FollowUp.writing)
        await bot.send_message(message.chat.id, screens.write_answer_text())
    else:
        await _show_report(bot, message.chat.id, state, followup, hashed)


async def answer_received(
    message: Message, state: FSMContext, bot: Bot, followup: FollowupService
) -> None:
    data = await state.get_data()
    hashed = data.get(SESSION_KEY)
    if not isinstance(hashed, str):
        await state.clear()
        await message.answer(screens.session_ended_text())
        return
    result = await followup.answer(hashed, message.text or "")
    if isinstance(result, ReceiptRefused):
        await _delete(bot, message)
        await message.answer(screens.receipt_in_followup_text())
        return
    if not isinstance(result, Answered):
        await state.clear()
        await message.answer(screens.report_gone_text())
        return
    await state.set_state(FollowUp.reading)
    await message.answer(screens.answer_saved_text(result.masked))
    await _show_report(bot, message.chat.id, state, followup, hashed)


async def cancel_followup(message: Message, state: FSMContext) -> None:
    await state.clear()  # the receipt hash goes with the session
    await message.answer(screens.session_ended_text())


async def media_in_followup(message: Message) -> None:
    await message.answer(screens.text_only_text())


def create_router() -> Router:
    """A fresh Router (a Router can belong to one Dispatcher only)."""
    router = Router(name="followup")
    router.message.filter(F.chat.type == ChatType.PRIVATE)
    router.message.register(followup_command, Command("followup"))
    not_command = ~F.text.startswith("/")
    router.message.register(code_received, StateFilter(FollowUp.code), F.text, not_command)
    router.message.register(
        cancel_followup,
        Command("cancel"),
        StateFilter(FollowUp.code, FollowUp.writing, FollowUp.reading),
    )
    router.message.register(
        answer_received, StateFilter(FollowUp.writing, FollowUp.reading), F.text, not_command
    )
    router.message.register(
        media_in_followup, StateFilter(FollowUp.code, FollowUp.writing, FollowUp.reading), ~F.text
    )
    router.callback_query.register(followup_button, FollowupCallback.filter())
    return router
