"""Between Telegram and the conversation core: who is talking, where their state is kept,
and how effects become Bot API calls.

The conversation key is the HMAC pseudonym of aiogram's `StorageKey` (what the FSM storage
keys rows by), and the daily pseudonyms are `Pseudonymizer.daily` of the user id as before,
so rate limits and follow-up sessions stored by earlier versions still match. The core sees
neither id. Its state is the FSM data; the FSM state `Survey:answering` is set alongside
while a questionnaire is in progress, so the routers can send typed text there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware, Bot, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, LinkPreviewOptions, Message, TelegramObject

from bot.anonymity.pseudonym import Pseudonymizer
from bot.conversation.core import Conversation
from bot.conversation.model import (
    Action,
    AnswerPress,
    Cadre,
    ConversationKey,
    DeleteMessage,
    DeleteSession,
    Effect,
    Event,
    Media,
    Press,
    Replace,
    Retire,
    Show,
)
from handlers.telegram_render import render
from storage.fsm import storage_key_pseudonym

CLEAR_WINDOW = 1000  # at most this many messages back are deleted on "clear this chat"
DELETE_BATCH = 100  # deleteMessages takes at most 100 ids
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class Survey(StatesGroup):
    answering = State()


class FsmState:
    """The core's `ConversationState` in aiogram's FSM storage (pseudonymous, encrypted,
    expiring on every backend)."""

    def __init__(self, state: FSMContext, raw_state: str | None) -> None:
        self._state = state
        self._raw_state = raw_state  # as aiogram's FSM middleware read it for this update

    async def load(self) -> dict[str, Any]:
        return await self._state.get_data()

    async def save(self, data: dict[str, Any]) -> None:
        if self._raw_state != Survey.answering.state:
            await self._state.set_state(Survey.answering)
            self._raw_state = Survey.answering.state
        await self._state.set_data(data)

    async def clear(self) -> None:
        await self._state.clear()
        self._raw_state = None


def conversation_key(pseudonymizer: Pseudonymizer, state: FSMContext) -> ConversationKey:
    return ConversationKey(storage_key_pseudonym(pseudonymizer, state.key))


def cadre_of(
    state: FSMContext,
    raw_state: str | None,
    pseudonymizer: Pseudonymizer,
    user_id: int,
    locale: str,
) -> Cadre:
    """The core's view of this chat: a pseudonym, a locale, the FSM state; the user id stays
    here, inside the daily pseudonym. Roles are not the core's business: a staff command
    reaches it only through a role-filtered router (`handlers.respondent`)."""

    def daily(purpose: str, day: Any) -> str:
        return pseudonymizer.daily(purpose, day, user_id)

    return Cadre(
        key=conversation_key(pseudonymizer, state),
        locale=locale,
        state=FsmState(state, raw_state),
        daily_pseudonym=daily,
    )


async def carry_out(
    effects: list[Effect],
    *,
    bot: Bot,
    chat_id: int,
    message_id: int,
    conversation: Conversation,
    cadre: Cadre,
    query: CallbackQuery | None = None,
) -> None:
    """Do what the core said, in order. `message_id` is the message of the event (the
    cadre's, or the one pressed on). Telegram refusing an edit or a delete (too old, not
    modified, already gone) changes nothing."""
    for effect in effects:
        match effect:
            case Show():
                shown = render(effect.screen)
                options: dict[str, Any] = {}
                if effect.protect:
                    options["protect_content"] = True
                if not effect.link_previews:
                    options["link_preview_options"] = NO_PREVIEW
                sent = await bot.send_message(
                    chat_id, shown.text, reply_markup=shown.markup, **options
                )
                if effect.current:
                    await conversation.screen_shown(cadre, sent.message_id)
            case Replace():
                shown = render(effect.screen)
                with suppress(TelegramBadRequest):  # "message is not modified" after a double tap
                    await bot.edit_message_text(
                        shown.text,
                        chat_id=chat_id,
                        message_id=message_id,
                        reply_markup=shown.markup,
                    )
            case Retire():
                with suppress(TelegramBadRequest):
                    await bot.edit_message_reply_markup(chat_id=chat_id, message_id=effect.ref)
            case DeleteMessage():
                with suppress(TelegramBadRequest):
                    await bot.delete_message(chat_id, message_id)
            case DeleteSession():
                await _delete_range(bot, chat_id, effect.first, message_id)
            case AnswerPress():
                if query is not None:
                    if effect.alert:
                        await query.answer(effect.text, show_alert=True)
                    else:
                        await query.answer(effect.text)


async def _delete_range(bot: Bot, chat_id: int, first: int, last: int) -> None:
    """Delete the messages from `first` to `last`, as far as Telegram allows (48 hours in
    private chats), at most `CLEAR_WINDOW` of them."""
    ids = list(range(max(first, last - CLEAR_WINDOW + 1, 1), last + 1))
    for start_at in range(0, len(ids), DELETE_BATCH):
        batch = ids[start_at : start_at + DELETE_BATCH]
        with suppress(TelegramBadRequest):
            await bot.delete_messages(chat_id=chat_id, message_ids=batch)


@dataclass(frozen=True)
class TelegramChat:
    """One private chat's way into the conversation core, built for each update by
    `TelegramChatMiddleware`: a handler only says which event arrived."""

    bot: Bot
    conversation: Conversation
    cadre: Cadre
    chat_id: int

    async def handle(self, event: Event, query: CallbackQuery | None = None) -> None:
        """`event` through the core, and its effects as Bot API calls. The event's `ref` is
        the message it came with (the cadre's, or the one pressed on)."""
        effects = await self.conversation.handle(event, self.cadre)
        await carry_out(
            effects,
            bot=self.bot,
            chat_id=self.chat_id,
            message_id=event.ref,
            conversation=self.conversation,
            cadre=self.cadre,
            query=query,
        )

    async def press(self, action: Action, query: CallbackQuery, message_id: int) -> None:
        """A button pressed on the message `message_id`."""
        await self.handle(Press(action, message_id), query)


class TelegramChatMiddleware(BaseMiddleware):
    """Inner middleware of the cadre's routers: hands their handlers `telegram_chat`. An
    update without a sender (a channel post, say) is not a cadre's and is dropped."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user = data.get("event_from_user")
        if user is None:
            return None
        chat = data.get("event_chat")
        conversation: Conversation = data["conversation"]
        data["telegram_chat"] = TelegramChat(
            bot=data["bot"],
            conversation=conversation,
            cadre=cadre_of(
                data["state"],
                data.get("raw_state"),
                data["pseudonymizer"],
                user.id,
                data["locale"],
            ),
            chat_id=user.id if chat is None else chat.id,  # a private chat's id is the user's
        )
        return await handler(event, data)


def media_event(message: Message) -> Media:
    """A voice message, photo, file, sticker… as the core's `Media` event."""
    kind = message.content_type
    return Media(getattr(kind, "value", str(kind)), message.message_id)


def serve_cadres(router: Router) -> Router:
    """Give `router`'s message, edit and button handlers their `telegram_chat`."""
    middleware = TelegramChatMiddleware()
    router.message.middleware(middleware)
    router.edited_message.middleware(middleware)
    router.callback_query.middleware(middleware)
    return router
