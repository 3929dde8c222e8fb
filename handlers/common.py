"""Help, privacy, language, the announcements switch, and the polite catch-alls that come last.

Announcements are off until the cadre presses the button; nothing here subscribes anyone
on the side (choosing a language is kept in memory for a chat that is not subscribed).
"""

from __future__ import annotations

from contextlib import suppress

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InaccessibleMessage, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.anonymity.receipt import contains_receipt
from bot.config import Settings
from bot.conversation import screens
from bot.i18n import LANGUAGE_NAMES, SUPPORTED_LOCALES
from bot.respondent.callbacks import AnnouncementsCallback, LanguageCallback
from handlers import telegram_render
from storage.repositories import SubscriberRepository


async def help_command(message: Message) -> None:
    await message.answer(screens.help_text())


async def privacy_command(
    message: Message, settings: Settings, subscribers: SubscriberRepository
) -> None:
    subscribed = await subscribers.is_active(message.chat.id)
    switch = telegram_render.announcements_button(subscribed)
    markup = InlineKeyboardMarkup(inline_keyboard=[[switch]])
    await message.answer(screens.privacy_text(settings.k_anonymity), reply_markup=markup)


async def language_command(message: Message) -> None:
    screen = telegram_render.language_message()
    await message.answer(screen.text, reply_markup=screen.markup)


async def language_chosen(
    query: CallbackQuery,
    callback_data: LanguageCallback,
    subscribers: SubscriberRepository,
    i18n: I18n,
) -> None:
    if callback_data.code not in SUPPORTED_LOCALES or query.message is None:
        await query.answer(screens.expired_button_text())
        return
    stored = await subscribers.set_locale(query.message.chat.id, callback_data.code)
    with i18n.use_locale(callback_data.code):
        await query.answer()
        text = _("Language set: {language}. Send /start to answer the questionnaire.").format(
            language=LANGUAGE_NAMES[callback_data.code]
        )
        if not stored:
            text += "\n" + _(
                "You have not turned on announcements, so this choice is not stored; the bot "
                "may forget it when it restarts."
            )
        await query.message.answer(text)


async def announcements_button(
    query: CallbackQuery,
    callback_data: AnnouncementsCallback,
    subscribers: SubscriberRepository,
    bot: Bot,
    locale: str,
) -> None:
    """The cadre's own choice: on subscribes (in this language), off deletes the row."""
    message = query.message
    if message is None or isinstance(message, InaccessibleMessage):
        await query.answer(screens.expired_button_text())
        return
    if message.chat.type != ChatType.PRIVATE:
        await query.answer(screens.expired_button_text())
        return
    chat_id = message.chat.id
    if callback_data.on:
        changed = not await subscribers.is_active(chat_id)
        if changed:
            await subscribers.subscribe(chat_id, locale)
        await query.answer(None if changed else screens.already_subscribed_text())
        confirmation = screens.announcements_on_text() if changed else None
    else:
        changed = await subscribers.unsubscribe(chat_id)
        await query.answer(None if changed else screens.not_subscribed_text())
        confirmation = screens.announcements_off_text() if changed else None
    # The switch on the pressed message first, then the confirmation below it.
    markup = telegram_render.with_announcements_switch(message.reply_markup, callback_data.on)
    if markup is not None and markup != message.reply_markup:
        with suppress(TelegramBadRequest):
            await message.edit_reply_markup(reply_markup=markup)
    if confirmation is not None:
        await bot.send_message(chat_id, confirmation)


async def stop_command(message: Message, subscribers: SubscriberRepository) -> None:
    """Stop announcements: the subscriber row is deleted, not flagged."""
    if await subscribers.unsubscribe(message.chat.id):
        await message.answer(screens.announcements_off_text())
    else:
        await message.answer(screens.not_subscribed_text())


async def _delete_receipt(message: Message, bot: Bot) -> bool:
    """A receipt code typed outside the follow-up: deleted at once, and where to use it."""
    if not contains_receipt(message.text or message.caption or ""):
        return False
    with suppress(TelegramBadRequest):
        await bot.delete_message(message.chat.id, message.message_id)
    await message.answer(screens.receipt_in_idle_chat_text())
    return True


async def unknown_command(message: Message, bot: Bot) -> None:
    if await _delete_receipt(message, bot):
        return
    await message.answer(_("I don't know that command.") + "\n\n" + screens.help_text())


async def stray_message(message: Message, bot: Bot) -> None:
    if await _delete_receipt(message, bot):
        return
    await message.answer(screens.stray_text_reply())


async def unknown_button(query: CallbackQuery) -> None:
    """Old, forged or garbled callback data: a friendly answer, nothing else."""
    await query.answer(screens.expired_button_text())


def create_router() -> Router:
    """A fresh Router (a Router can belong to one Dispatcher only)."""
    router = Router(name="common")
    router.message.register(help_command, Command("help"), F.chat.type == ChatType.PRIVATE)
    router.message.register(privacy_command, Command("privacy"), F.chat.type == ChatType.PRIVATE)
    router.message.register(language_command, Command("language"), F.chat.type == ChatType.PRIVATE)
    router.callback_query.register(language_chosen, LanguageCallback.filter())
    router.callback_query.register(announcements_button, AnnouncementsCallback.filter())
    router.message.register(stop_command, Command("stop"), F.chat.type == ChatType.PRIVATE)
    router.message.register(
        unknown_command, F.chat.type == ChatType.PRIVATE, F.text.startswith("/")
    )
    router.message.register(stray_message, F.chat.type == ChatType.PRIVATE)
    router.callback_query.register(unknown_button)
    return router
