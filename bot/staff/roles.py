"""Who is staff, and the permission checks for staff commands.

Admins are the Telegram ids in ADMIN_IDS plus `staff` rows with role admin; investigators
are `staff` rows with role investigator. Every check asks the database afresh, so a
revocation takes effect on the very next command or button press — a button shown earlier
grants nothing by itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.statuses import Role
from storage.repositories import StaffRepository


class NotAllowed(Exception):
    """The acting user lacks the role the operation needs."""


class RevokeResult(StrEnum):
    REVOKED = "revoked"
    NOT_ADMIN = "not_admin"  # the actor is not an admin: nothing happens
    SELF = "self"  # admins do not remove themselves (no accidental lock-out)
    CONFIGURED = "configured"  # in ADMIN_IDS: only the configuration can remove them
    NOT_STAFF = "not_staff"


@dataclass(frozen=True)
class StaffEntry:
    """A staff member for listings; `configured` admins come from ADMIN_IDS."""

    user_id: int
    role: Role
    added_day: date | None
    configured: bool
    full_name: str | None = None  # as Telegram gave it at joining; None when not known


class StaffRoles:
    """Role look-ups over ADMIN_IDS and the `staff` table."""

    def __init__(self, repository: StaffRepository, configured_admins: Iterable[int]) -> None:
        self._repository = repository
        self._configured = frozenset(configured_admins)

    def is_configured_admin(self, user_id: int) -> bool:
        return user_id in self._configured

    async def role_of(
        self, user_id: int, *, connection: AsyncConnection | None = None
    ) -> Role | None:
        """`connection`: read inside the caller's transaction (see `StaffRepository`)."""
        if user_id in self._configured:
            return Role.ADMIN
        return await self._repository.role_of(user_id, connection=connection)

    async def is_admin(self, user_id: int, *, connection: AsyncConnection | None = None) -> bool:
        return await self.role_of(user_id, connection=connection) == Role.ADMIN

    async def is_staff(self, user_id: int, *, connection: AsyncConnection | None = None) -> bool:
        """Admins and investigators: both read digests and cases (exports: admins only)."""
        return await self.role_of(user_id, connection=connection) is not None

    async def require_admin(
        self, user_id: int, *, connection: AsyncConnection | None = None
    ) -> None:
        if not await self.is_admin(user_id, connection=connection):
            raise NotAllowed("admin role required")

    async def members(self) -> list[StaffEntry]:
        """Everyone: admins first (configured ones included), then investigators, by id."""
        stored = await self._repository.list()
        entries = {
            member.user_id: StaffEntry(
                member.user_id,
                Role.ADMIN if member.user_id in self._configured else member.role,
                member.added_day,
                member.user_id in self._configured,
                member.full_name,
            )
            for member in stored
        }
        for user_id in self._configured - entries.keys():
            entries[user_id] = StaffEntry(user_id, Role.ADMIN, None, True)
        return sorted(entries.values(), key=lambda e: (e.role != Role.ADMIN, e.user_id))

    async def admin_ids(self) -> list[int]:
        """Who is told when a digest could not be delivered."""
        return [entry.user_id for entry in await self.members() if entry.role == Role.ADMIN]

    async def revoke(
        self, actor_id: int, target_id: int, *, connection: AsyncConnection | None = None
    ) -> RevokeResult:
        """Remove `target_id` from staff if `actor_id` is an admin (checked here, every time);
        in the caller's `connection` (with its audit entry) when given."""
        if not await self.is_admin(actor_id, connection=connection):
            return RevokeResult.NOT_ADMIN
        if target_id == actor_id:
            return RevokeResult.SELF
        if target_id in self._configured:
            return RevokeResult.CONFIGURED
        removed = await self._repository.remove(target_id, connection=connection)
        return RevokeResult.REVOKED if removed else RevokeResult.NOT_STAFF
