"""The cadre's questionnaire on Telegram: updates become conversation events, effects
become Bot API calls (`handlers.conversation_bridge`). The flow itself is the conversation
core's (`bot.conversation`); nothing here decides anything but routing.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command as CommandFilter
from aiogram.filters import CommandObject, CommandStart, StateFilter
from aiogram.types import CallbackQuery, InaccessibleMessage, Message
from aiogram.utils.i18n import gettext as _

from bot.conversation import screens
from bot.conversation.core import SURVEY_ACTS
from bot.conversation.model import Act, Action, Command, Edit, Start, Text
from bot.respondent.callbacks import ClearChatCallback, ReceiptSavedCallback, SurveyCallback
from bot.staff.filters import IsAdmin, PrivateChat, restricted
from handlers.conversation_bridge import Survey, TelegramChat, media_event, serve_cadres
from storage.repositories import SubscriberRepository

PREVIEW_COMMAND = "questionnaire_preview"

# --- commands ---------------------------------------------------------------------------


async def start(
    message: Message, telegram_chat: TelegramChat, subscribers: SubscriberRepository
) -> None:
    """Welcome (or offer to resume). Subscribes nobody: announcements are a button."""
    subscribed = await subscribers.is_active(message.chat.id)
    await telegram_chat.handle(Start(message.message_id, subscribed=subscribed))


async def cancel_command(message: Message, telegram_chat: TelegramChat) -> None:
    await telegram_chat.handle(Command("cancel", "", message.message_id))


async def preview_command(
    message: Message, command: CommandObject, telegram_chat: TelegramChat
) -> None:
    """`/questionnaire_preview QID vN` (admins; the router's `IsAdmin` let it through): walk
    a stored version; nothing is stored."""
    await telegram_chat.handle(Command(PREVIEW_COMMAND, command.args or "", message.message_id))


async def refuse_preview(message: Message) -> None:
    await message.answer(_("Only administrators can do this."))


# --- buttons ----------------------------------------------------------------------------


async def survey_button(
    query: CallbackQuery, callback_data: SurveyCallback, telegram_chat: TelegramChat
) -> None:
    if callback_data.a in SURVEY_ACTS and isinstance(query.message, InaccessibleMessage):
        await query.answer(screens.expired_button_text())  # too old to be edited
        return
    if query.message is None:
        await query.answer(screens.expired_button_text())
        return
    action = Action(callback_data.a, callback_data.q, callback_data.v)
    await telegram_chat.press(action, query, query.message.message_id)


async def receipt_saved(
    query: CallbackQuery, callback_data: ReceiptSavedCallback, telegram_chat: TelegramChat
) -> None:
    """ "I have saved it": the receipt message goes; the clear-chat button stays offered."""
    if query.message is None or query.message.chat.type != ChatType.PRIVATE:
        await query.answer(screens.expired_button_text())
        return
    action = Action(Act.RECEIPT_SAVED, value=str(callback_data.first))
    await telegram_chat.press(action, query, query.message.message_id)


async def clear_chat(
    query: CallbackQuery, callback_data: ClearChatCallback, telegram_chat: TelegramChat
) -> None:
    """Delete this session's messages, the user's and the bot's, as far as Telegram allows."""
    if query.message is None or query.message.chat.type != ChatType.PRIVATE:
        await query.answer(screens.expired_button_text())
        return
    action = Action(Act.CLEAR_CHAT, value=str(callback_data.first))
    await telegram_chat.press(action, query, query.message.message_id)


# --- typed input, media and edits while answering -----------------------------------------


async def typed_answer(message: Message, telegram_chat: TelegramChat) -> None:
    await telegram_chat.handle(Text(message.text or "", message.message_id))


async def media_while_answering(message: Message, telegram_chat: TelegramChat) -> None:
    await telegram_chat.handle(media_event(message))


async def edited_message(message: Message, telegram_chat: TelegramChat) -> None:
    body = message.text or message.caption or ""
    await telegram_chat.handle(Edit(body, message.message_id, text=message.text is not None))


def create_router() -> Router:
    """A fresh Router (a Router can belong to one Dispatcher only): the admins' preview, its
    polite refusal for everyone else, then the cadre's questionnaire."""
    preview = restricted("respondent.preview", IsAdmin(), messages=CommandFilter(PREVIEW_COMMAND))
    preview.message.register(preview_command, CommandFilter(PREVIEW_COMMAND))
    serve_cadres(preview)
    refusals = Router(name="respondent.refusals")
    refusals.message.register(refuse_preview, CommandFilter(PREVIEW_COMMAND), PrivateChat())

    survey = Router(name="respondent.survey")
    survey.message.filter(F.chat.type == ChatType.PRIVATE)
    survey.message.register(start, CommandStart())
    survey.message.register(cancel_command, CommandFilter("cancel"))
    survey.message.register(media_while_answering, StateFilter(Survey.answering), ~F.text)
    survey.edited_message.filter(F.chat.type == ChatType.PRIVATE)
    survey.edited_message.register(edited_message, StateFilter(Survey.answering, None))
    serve_cadres(survey)
    router = Router(name="respondent")
    router.include_routers(preview, refusals, survey)
    return router


def create_answer_router() -> Router:
    """The cadre's buttons and typed answers, on a router of their own that goes first: they
    are nearly every update, and they need not pass every other router's filters first.

    No other router claims the buttons' prefixes (`s`, `clr`, `rcpt`): one prefix check
    decides for all three. A message that is not a command, from a private chat answering
    the questionnaire, is a typed answer; the other routers take such text only in other
    states (a case note, a broadcast being written), and one written during a follow-up
    reaches the core's follow-up as it would through the follow-up router."""
    answers = Router(name="respondent.answers")
    answers.message.register(
        typed_answer,
        StateFilter(Survey.answering),
        F.text,
        ~F.text.startswith("/"),
        F.chat.type == ChatType.PRIVATE,
    )
    answers.callback_query.filter(F.data.func(_is_cadre_press))
    pressable = {Act.CONSENT, Act.RESUME, Act.RESTART, *SURVEY_ACTS}
    answers.callback_query.register(survey_button, SurveyCallback.filter(F.a.in_(pressable)))
    answers.callback_query.register(clear_chat, ClearChatCallback.filter())
    answers.callback_query.register(receipt_saved, ReceiptSavedCallback.filter())
    serve_cadres(answers)
    return answers


_PRESS_PREFIXES = tuple(
    f"{data.__prefix__}:" for data in (SurveyCallback, ClearChatCallback, ReceiptSavedCallback)
)


def _is_cadre_press(data: str | None) -> bool:
    return data is not None and data.startswith(_PRESS_PREFIXES)
