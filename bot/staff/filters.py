"""Role checks as router filters, for messages and button presses alike.

A role-filtered router runs only for staff (`IsStaff`) or admins (`IsAdmin`); each role is
asked afresh on every update, so a revocation takes effect at once and a button shown
earlier grants nothing. The feature's refusal router, registered right after it, answers
everyone else politely. A router passes the cheap `claims` filter (its commands, states and
callback prefixes) before the role, so a cadre's answers never cost a staff look-up.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.enums import ChatType
from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message, TelegramObject

from bot.staff.roles import StaffRoles

GROUP_CHATS = frozenset({ChatType.GROUP, ChatType.SUPERGROUP})


def _chat_type(event: TelegramObject) -> str | None:
    if isinstance(event, Message):
        return event.chat.type
    if isinstance(event, CallbackQuery) and event.message is not None:
        return event.message.chat.type  # also an inaccessible (old) message's chat
    return None


def _user_id(event: TelegramObject) -> int | None:
    user = getattr(event, "from_user", None)
    return None if user is None else int(user.id)


class PrivateChat(Filter):
    """A message in, or a button under a message in, a private chat with the bot."""

    async def __call__(self, event: TelegramObject) -> bool:
        return _chat_type(event) == ChatType.PRIVATE


class GroupChat(Filter):
    """A message in, or a button under a message in, a group or supergroup."""

    async def __call__(self, event: TelegramObject) -> bool:
        return _chat_type(event) in GROUP_CHATS


class IsStaff(Filter):
    """The sender is an admin or an investigator."""

    async def __call__(self, event: TelegramObject, staff_roles: StaffRoles) -> bool:
        user_id = _user_id(event)
        return user_id is not None and await staff_roles.is_staff(user_id)


class IsAdmin(Filter):
    """The sender is an admin (ADMIN_IDS or the staff table)."""

    async def __call__(self, event: TelegramObject, staff_roles: StaffRoles) -> bool:
        user_id = _user_id(event)
        return user_id is not None and await staff_roles.is_admin(user_id)


def restricted(
    name: str,
    role: Filter,
    *,
    chat: Filter | None = None,
    messages: Filter | None = None,
    callbacks: Filter | None = None,
) -> Router:
    """A router whose messages and callback queries pass `chat` (private by default), then
    the cheap `messages` / `callbacks` claim, then `role` — once, for every handler in it.
    An observer without a claim takes nothing."""
    router = Router(name=name)
    where = chat or PrivateChat()
    router.message.filter(*((_Never(),) if messages is None else (where, messages, role)))
    router.callback_query.filter(*((_Never(),) if callbacks is None else (where, callbacks, role)))
    return router


class _Never(Filter):
    """Closes an observer the router has no handlers for."""

    async def __call__(self, event: TelegramObject) -> bool:
        return False
