"""The staff feature, wired: roles, invite codes, the audited staff actions, exports and the
"/" menus.

`build_staff` makes it from the process's shared pieces; the app merges `handler_data()` into
the dispatcher's handler data and registers `on_startup` (every staff member's menu) and
`on_shutdown`. The digest feature takes `roles` from here (who receives digests and alerts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TypedDict

from aiogram import Bot

from bot.anonymity.crypto import TextCipher
from bot.clock import WallClock
from bot.config import Settings
from bot.staff.audited import AuditedActions
from bot.staff.exports import StaffExports
from bot.staff.invites import InviteService
from bot.staff.menus import CommandMenus
from bot.staff.roles import StaffRoles
from storage.database import Database
from storage.repositories import AuditRepository, InviteRepository, StaffRepository


class StaffData(TypedDict):
    """What staff handlers receive by name."""

    staff_roles: StaffRoles
    invites: InviteService
    audited: AuditedActions
    command_menus: CommandMenus
    exports: StaffExports


@dataclass(frozen=True)
class StaffFeature:
    repository: StaffRepository
    roles: StaffRoles
    invites: InviteService
    audited: AuditedActions
    menus: CommandMenus
    exports: StaffExports

    def handler_data(self) -> StaffData:
        return {
            "staff_roles": self.roles,
            "invites": self.invites,
            "audited": self.audited,
            "command_menus": self.menus,
            "exports": self.exports,
        }

    async def on_startup(self, bot: Bot) -> None:
        """Everyone's menu, then each staff member's own."""
        await self.menus.register(bot, self.roles)

    async def on_shutdown(self) -> None:
        """Nothing runs in the background."""


def build_staff(
    settings: Settings,
    database: Database,
    cipher: TextCipher,
    audit: AuditRepository,
    *,
    clock: WallClock,
    today: Callable[[], date],
) -> StaffFeature:
    repository = StaffRepository(database, zone=settings.zone)
    roles = StaffRoles(repository, settings.admin_ids)
    audited = AuditedActions(database, audit, today)
    return StaffFeature(
        repository=repository,
        roles=roles,
        invites=InviteService(InviteRepository(database), repository, roles, clock=clock),
        audited=audited,
        menus=CommandMenus(settings.default_locale),
        exports=StaffExports(settings, database, cipher, audited, clock),
    )
