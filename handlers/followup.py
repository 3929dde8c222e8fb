"""The cadre's `/followup`: receipt code in, the report's status and thread out, answers back.

A message holding a receipt code is deleted at once wherever it is typed in a follow-up
(`/followup CODE` included, which then goes on with that code); the code is never echoed,
logged or kept. The open session — its step and the receipt hash — lives only in the
follow-up session store (process memory, or Redis with a short TTL), never in the FSM
storage or the database, and goes on Finish, /cancel, "clear this chat", idle timeout and
restart. Everything sent here has link previews off.
"""

from __future__ import annotations

from contextlib import suppress

from aiogram import Bot, F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject, CommandStart, Filter
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    TelegramObject,
)

from bot.anonymity.receipt import contains_receipt
from bot.cases import screens
from bot.cases.callbacks import FollowupAct, FollowupCallback
from bot.cases.followup import (
    Answered,
    FollowupService,
    Opened,
    ReceiptRefused,
    TooManyTries,
)
from bot.cases.sessions import FollowupSession, FollowupSessions, Step
from bot.respondent.callbacks import ClearChatCallback
from bot.respondent.survey import DRAFT_KEY

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class InFollowup(Filter):
    """Passes while this chat has an open follow-up (at one of `steps`, if given), and hands
    the handler the `session`."""

    def __init__(self, *steps: Step) -> None:
        self._steps = frozenset(steps)

    async def __call__(
        self, event: TelegramObject, state: FSMContext, followup_sessions: FollowupSessions
    ) -> bool | dict[str, FollowupSession]:
        session = await followup_sessions.get(state.key)
        if session is None or (self._steps and session.step not in self._steps):
            return False
        return {"session": session}


async def _send(
    bot: Bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None
) -> Message:
    return await bot.send_message(
        chat_id, text, reply_markup=markup, link_preview_options=NO_PREVIEW
    )


async def _delete(bot: Bot, message: Message) -> None:
    with suppress(TelegramBadRequest):
        await bot.delete_message(message.chat.id, message.message_id)


async def _end(
    bot: Bot, chat_id: int, state: FSMContext, sessions: FollowupSessions, first: int
) -> None:
    await sessions.drop(state.key)
    screen = screens.session_ended_screen(first)
    await _send(bot, chat_id, screen.text, screen.markup)


async def _show_report(
    bot: Bot,
    chat_id: int,
    state: FSMContext,
    followup: FollowupService,
    sessions: FollowupSessions,
    session: FollowupSession,
) -> None:
    report = None if session.receipt_hash is None else await followup.report(session.receipt_hash)
    if report is None:
        await sessions.drop(state.key)
        await _send(bot, chat_id, screens.report_gone_text())
        return
    await sessions.put(state.key, session)
    screen = screens.cadre_report_screen(report.summary, report.thread, session.first_message_id)
    await _send(bot, chat_id, screen.text, screen.markup)


async def _open(
    message: Message,
    code: str,
    state: FSMContext,
    bot: Bot,
    followup: FollowupService,
    sessions: FollowupSessions,
    first: int,
) -> None:
    if message.from_user is None:
        return
    result = await followup.open(message.from_user.id, code)
    if isinstance(result, TooManyTries):
        await sessions.drop(state.key)
        await _send(bot, message.chat.id, screens.too_many_tries_text(result.limit))
        return
    if not isinstance(result, Opened):
        await sessions.put(state.key, FollowupSession(Step.CODE, first))
        await _send(bot, message.chat.id, screens.wrong_code_text())
        return
    session = FollowupSession(Step.READING, first, result.receipt_hash)
    await _show_report(bot, message.chat.id, state, followup, sessions, session)


async def followup_command(
    message: Message,
    command: CommandObject,
    state: FSMContext,
    bot: Bot,
    followup: FollowupService,
    followup_sessions: FollowupSessions,
) -> None:
    code = (command.args or "").strip()
    if code:
        await _delete(bot, message)  # the code must not stay in the chat
    data = await state.get_data()
    if data.get(DRAFT_KEY):
        await _send(bot, message.chat.id, screens.finish_survey_first_text())
        return
    await followup_sessions.drop(state.key)
    first = message.message_id
    if code:
        await _open(message, code, state, bot, followup, followup_sessions, first)
        return
    await followup_sessions.put(state.key, FollowupSession(Step.CODE, first))
    await _send(bot, message.chat.id, screens.ask_code_text())


async def code_received(
    message: Message,
    state: FSMContext,
    bot: Bot,
    followup: FollowupService,
    followup_sessions: FollowupSessions,
    session: FollowupSession,
) -> None:
    await _delete(bot, message)  # the code must not stay in the chat
    await _open(
        message,
        message.text or "",
        state,
        bot,
        followup,
        followup_sessions,
        session.first_message_id,
    )


async def followup_button(
    query: CallbackQuery,
    callback_data: FollowupCallback,
    state: FSMContext,
    bot: Bot,
    followup: FollowupService,
    followup_sessions: FollowupSessions,
) -> None:
    session = await followup_sessions.get(state.key)
    message = query.message
    if session is None or session.receipt_hash is None or message is None:
        await query.answer(screens.session_ended_text(), show_alert=True)
        return
    with suppress(TelegramBadRequest):
        await bot.edit_message_reply_markup(chat_id=message.chat.id, message_id=message.message_id)
    await query.answer()
    chat_id = message.chat.id
    if callback_data.a == FollowupAct.END:
        await _end(bot, chat_id, state, followup_sessions, session.first_message_id)
    elif callback_data.a == FollowupAct.ANSWER:
        writing = FollowupSession(Step.WRITING, session.first_message_id, session.receipt_hash)
        await followup_sessions.put(state.key, writing)
        clear = InlineKeyboardMarkup(
            inline_keyboard=[[screens.clear_chat_button(session.first_message_id)]]
        )
        await _send(bot, chat_id, screens.write_answer_text(), clear)
    else:
        reading = FollowupSession(Step.READING, session.first_message_id, session.receipt_hash)
        await _show_report(bot, chat_id, state, followup, followup_sessions, reading)


async def answer_received(
    message: Message,
    state: FSMContext,
    bot: Bot,
    followup: FollowupService,
    followup_sessions: FollowupSessions,
    session: FollowupSession,
) -> None:
    text = message.text or ""
    if contains_receipt(text):
        await _delete(bot, message)  # the code must not stay in the chat
        await followup_sessions.put(state.key, session)
        await _send(bot, message.chat.id, screens.receipt_in_followup_text())
        return
    if session.receipt_hash is None:
        await _end(bot, message.chat.id, state, followup_sessions, session.first_message_id)
        return
    result = await followup.answer(session.receipt_hash, text)
    if isinstance(result, ReceiptRefused):  # a code the quick check above did not see
        await _delete(bot, message)
        await followup_sessions.put(state.key, session)
        await _send(bot, message.chat.id, screens.receipt_in_followup_text())
        return
    if not isinstance(result, Answered):
        await followup_sessions.drop(state.key)
        await _send(bot, message.chat.id, screens.report_gone_text())
        return
    await _send(bot, message.chat.id, screens.answer_saved_text(result.masked))
    reading = FollowupSession(Step.READING, session.first_message_id, session.receipt_hash)
    await _show_report(bot, message.chat.id, state, followup, followup_sessions, reading)


async def cancel_followup(
    message: Message,
    state: FSMContext,
    bot: Bot,
    followup_sessions: FollowupSessions,
    session: FollowupSession,
) -> None:
    await _end(bot, message.chat.id, state, followup_sessions, session.first_message_id)


async def code_in_command(message: Message, bot: Bot) -> None:
    """A receipt code after some other command goes too; the command is still handled."""
    await _delete(bot, message)
    raise SkipHandler


async def start_ends_followup(
    message: Message, state: FSMContext, followup_sessions: FollowupSessions
) -> None:
    """/start leaves the follow-up (its session goes) and then does what it always does."""
    await followup_sessions.drop(state.key)
    raise SkipHandler


async def clear_ends_followup(
    query: CallbackQuery, state: FSMContext, followup_sessions: FollowupSessions
) -> None:
    """ "Clear this chat" during a follow-up closes it first; the respondent flow's own
    handler then deletes the messages."""
    await followup_sessions.drop(state.key)
    raise SkipHandler


async def media_in_followup(
    message: Message,
    state: FSMContext,
    bot: Bot,
    followup_sessions: FollowupSessions,
    session: FollowupSession,
) -> None:
    await followup_sessions.put(state.key, session)
    await _send(bot, message.chat.id, screens.text_only_text())


def create_router() -> Router:
    """A fresh Router (a Router can belong to one Dispatcher only)."""
    router = Router(name="followup")
    router.message.filter(F.chat.type == ChatType.PRIVATE)
    router.message.register(followup_command, Command("followup"))
    has_code = F.text.func(contains_receipt)
    # Cheap filters first: the session store is asked only when the rest already matched.
    router.message.register(code_in_command, F.text.startswith("/"), has_code, InFollowup())
    router.message.register(cancel_followup, Command("cancel"), InFollowup())
    router.message.register(start_ends_followup, CommandStart(), InFollowup())
    not_command = ~F.text.startswith("/")
    router.message.register(code_received, F.text, not_command, InFollowup(Step.CODE))
    router.message.register(
        answer_received, F.text, not_command, InFollowup(Step.READING, Step.WRITING)
    )
    router.message.register(media_in_followup, ~F.text, InFollowup())
    router.callback_query.register(followup_button, FollowupCallback.filter())
    router.callback_query.register(clear_ends_followup, ClearChatCallback.filter(), InFollowup())
    return router
