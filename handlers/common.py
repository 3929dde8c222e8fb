"""Help, privacy, language, subscription switch, and the polite catch-alls that come last."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.i18n import SUPPORTED_LOCALES
from bot.respondent import screens
from bot.respondent.callbacks import LanguageCallback
from storage.repositories import SubscriberRepository


async def help_command(message: Message) -> None:
    await message.answer(screens.help_text())


async def privacy_command(message: Message, settings: Settings) -> None:
    await message.answer(screens.privacy_text(settings.k_anonymity))


async def language_command(message: Message) -> None:
    screen = screens.language_screen()
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
    if not await subscribers.set_locale(query.message.chat.id, callback_data.code):
        await subscribers.subscribe(query.message.chat.id, callback_data.code)
    with i18n.use_locale(callback_data.code):
        await query.answer()
        text = _("Language set: {language}. Send /start to answer the questionnaire.")
        from bot.i18n import LANGUAGE_NAMES

        await query.message.answer(text.format(language=LANGUAGE_NAMES[callback_data.code]))


async def stop_command(message: Message, subscribers: SubscriberRepository) -> None:
    """Stop announcements; /start subscribes again."""
    await subscribers.unsubscribe(message.chat.id)
    await message.answer(
        _("You will no longer receive announcements. Send /start to subscribe again.")
    )


async def unknown_command(message: Message) -> None:
    await message.answer(_("I don't know that command.") + "\n\n" + screens.help_text())


async def stray_message(message: Message) -> None:
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
    router.message.register(stop_command, Command("stop"), F.chat.type == ChatType.PRIVATE)
    router.message.register(
        unknown_command, F.chat.type == ChatType.PRIVATE, F.text.startswith("/")
    )
    router.message.register(stray_message, F.chat.type == ChatType.PRIVATE)
    router.callback_query.register(unknown_button)
    return router
