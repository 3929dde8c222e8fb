"""The "/" command menu: respondents see theirs, each staff member also sees their own tools.

Telegram resolves a menu by scope (this chat, then all private chats) and language. Everyone
gets the respondent menu for all private chats; a staff member's own chat gets a longer one
for their role, set when they join or at start-up and removed when they are revoked, so a
revoked investigator is not left with buttons that only say "not allowed".
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    Message,
    TelegramObject,
)
from aiogram.utils.i18n import gettext as _

from bot.i18n import SUPPORTED_LOCALES, make_i18n
from bot.staff.roles import StaffRoles
from bot.statuses import Role

logger = logging.getLogger(__name__)


def _respondent_commands() -> list[BotCommand]:
    return [
        BotCommand(command="start", description=_("Answer the questionnaire")),
        BotCommand(command="followup", description=_("Read replies with your receipt code")),
        BotCommand(command="privacy", description=_("What is stored, what is not")),
        BotCommand(command="language", description=_("Language: 中文 / English")),
        BotCommand(command="cancel", description=_("Stop and delete unfinished answers")),
        BotCommand(command="help", description=_("Help")),
    ]


def _investigator_commands() -> list[BotCommand]:
    return [
        BotCommand(command="cases", description=_("Reports and follow-ups")),
        BotCommand(command="digest", description=_("The current period so far")),
        BotCommand(command="report", description=_("A campaign's report (Word)")),
    ]


def _admin_commands() -> list[BotCommand]:
    return [
        BotCommand(command="export", description=_("Download the answers (Excel, CSV or SPSS)")),
        BotCommand(command="campaign", description=_("Survey rounds")),
        BotCommand(command="broadcast", description=_("Message every subscriber")),
        BotCommand(command="invite", description=_("Invite code for a new investigator")),
        BotCommand(command="staff", description=_("Staff and digest groups")),
        BotCommand(command="revoke", description=_("Remove a staff member")),
        BotCommand(command="audit", description=_("What staff did with reports")),
    ]


def command_list(locale: str, role: Role | None = None) -> list[BotCommand]:
    """The private-chat menu in one language for a respondent (`role` None) or a staff role."""
    i18n = make_i18n()
    with i18n.context(), i18n.use_locale(locale):
        commands = []
        if role is not None:
            commands += _investigator_commands()
        if role == Role.ADMIN:
            commands += _admin_commands()
        return commands + _respondent_commands()


class CommandMenus:
    """Sets and removes the menus; failures are logged (without ids) and never raised."""

    def __init__(self, default_locale: str) -> None:
        self.default_locale = default_locale
        self._shown: set[int] = set()  # staff chats whose menu is set (this process)

    def _languages(self) -> list[tuple[str, str | None]]:
        """(locale, Telegram language code): the code-less fallback in the default locale,
        then one per supported language."""
        codes = [(locale, locale.split("-")[0]) for locale in SUPPORTED_LOCALES]
        return [(self.default_locale, None), *codes]

    async def register(self, bot: Bot, staff: StaffRoles) -> None:
        """At start-up: everyone's menu, then each staff member's."""
        await self.register_respondent_menu(bot)
        for entry in await staff.members():
            await self.show_staff_menu(bot, entry.user_id, entry.role)

    async def register_respondent_menu(self, bot: Bot) -> None:
        scope = BotCommandScopeAllPrivateChats()
        for locale, code in self._languages():
            await bot.set_my_commands(command_list(locale), scope=scope, language_code=code)

    async def show_staff_menu(self, bot: Bot, user_id: int, role: Role) -> None:
        scope = BotCommandScopeChat(chat_id=user_id)
        try:
            for locale, code in self._languages():
                commands = command_list(locale, role)
                await bot.set_my_commands(commands, scope=scope, language_code=code)
        except TelegramAPIError as exc:  # e.g. an ADMIN_IDS entry who never opened the bot
            logger.info("Could not set a staff menu: %s", type(exc).__name__)
        else:
            self._shown.add(user_id)

    def shown(self, user_id: int) -> bool:
        return user_id in self._shown

    async def hide_staff_menu(self, bot: Bot, user_id: int) -> None:
        scope = BotCommandScopeChat(chat_id=user_id)
        try:
            for _locale, code in self._languages():
                await bot.delete_my_commands(scope=scope, language_code=code)
        except TelegramAPIError as exc:
            logger.info("Could not remove a staff menu: %s", type(exc).__name__)
        self._shown.discard(user_id)


class AdminMenuOnFirstContact(BaseMiddleware):
    """Outer message middleware: an ADMIN_IDS admin who had never opened the bot when it
    started gets the admin menu with their first message (an in-memory check, no query)."""

    def __init__(self, menus: CommandMenus, staff: StaffRoles) -> None:
        self.menus = menus
        self.staff = staff

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user = getattr(event, "from_user", None)
        bot = data.get("bot")
        if (
            isinstance(event, Message)
            and event.chat.type == ChatType.PRIVATE
            and user is not None
            and bot is not None
            and self.staff.is_configured_admin(user.id)
            and not self.menus.shown(user.id)
        ):
            await self.menus.show_staff_menu(bot, user.id, Role.ADMIN)
        return await handler(event, data)
