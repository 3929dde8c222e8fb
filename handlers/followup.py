"""The cadre's `/followup` on Telegram: updates become conversation events; the flow is the
conversation core's (`bot.conversation`).

A message holding a receipt code is deleted at once wherever it is typed in a follow-up
(`/followup CODE` included, which then goes on with that code); the code is never echoed,
logged or kept. The open session lives only in the follow-up session store (process memory,
or Redis with a short TTL), never in the FSM storage or the database. Everything sent in a
follow-up has link previews off.
"""

from __future__ import annotations

from contextlib import suppress

from aiogram import Bot, F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command as CommandFilter
from aiogram.filters import CommandObject, Filter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, TelegramObject

from bot.anonymity.pseudonym import Pseudonymizer
from bot.anonymity.receipt import contains_receipt
from bot.cases.callbacks import FollowupCallback
from bot.conversation import followup_screens
from bot.conversation.core import Conversation
from bot.conversation.model import Action, Command, Text
from handlers.conversation_bridge import (
    TelegramChat,
    conversation_key,
    media_event,
    serve_cadres,
)
from handlers.telegram_render import FOLLOWUP_ACTIONS


class InFollowup(Filter):
    """Passes while this chat has a follow-up open."""

    async def __call__(
        self,
        event: TelegramObject,
        state: FSMContext,
        conversation: Conversation,
        pseudonymizer: Pseudonymizer,
    ) -> bool:
        return await conversation.followup_open(conversation_key(pseudonymizer, state)) is not None


async def followup_command(
    message: Message, command: CommandObject, telegram_chat: TelegramChat
) -> None:
    await telegram_chat.handle(Command("followup", command.args or "", message.message_id))


async def cancel_followup(message: Message, telegram_chat: TelegramChat) -> None:
    await telegram_chat.handle(Command("cancel", "", message.message_id))


async def text_in_followup(message: Message, telegram_chat: TelegramChat) -> None:
    """The receipt code, or the cadre's answer to the investigators."""
    await telegram_chat.handle(Text(message.text or "", message.message_id))


async def media_in_followup(message: Message, telegram_chat: TelegramChat) -> None:
    await telegram_chat.handle(media_event(message))


async def followup_button(
    query: CallbackQuery, callback_data: FollowupCallback, telegram_chat: TelegramChat
) -> None:
    if query.message is None:
        await query.answer(followup_screens.session_ended_text(), show_alert=True)
        return
    action = Action(FOLLOWUP_ACTIONS[callback_data.a])
    await telegram_chat.press(action, query, query.message.message_id)


async def code_in_command(message: Message, bot: Bot) -> None:
    """A receipt code after some other command goes too; the command is still handled."""
    with suppress(TelegramBadRequest):
        await bot.delete_message(message.chat.id, message.message_id)
    raise SkipHandler


def create_router() -> Router:
    """A fresh Router (a Router can belong to one Dispatcher only)."""
    router = Router(name="followup")
    router.message.filter(F.chat.type == ChatType.PRIVATE)
    router.message.register(followup_command, CommandFilter("followup"))
    has_code = F.text.func(contains_receipt)
    # Cheap filters first: the session store is asked only when the rest already matched.
    router.message.register(code_in_command, F.text.startswith("/"), has_code, InFollowup())
    router.message.register(cancel_followup, CommandFilter("cancel"), InFollowup())
    router.message.register(text_in_followup, F.text, ~F.text.startswith("/"), InFollowup())
    router.message.register(media_in_followup, ~F.text, InFollowup())
    router.callback_query.register(followup_button, FollowupCallback.filter())
    return serve_cadres(router)
