"""Role checks as router filters: a handler behind `IsAdmin()` runs only for admins, and a
second registration without the filter answers everyone else politely."""

from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message

from bot.staff.roles import StaffRoles


class IsAdmin(Filter):
    """True when the sender is an admin (ADMIN_IDS or the staff table, asked afresh)."""

    async def __call__(self, event: Message | CallbackQuery, staff_roles: StaffRoles) -> bool:
        user = event.from_user
        return user is not None and await staff_roles.is_admin(user.id)
