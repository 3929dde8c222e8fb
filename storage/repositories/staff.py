"""Admins and investigators, by Telegram user id and the name Telegram gave when they
joined. Staff are identified on purpose."""

from __future__ import annotations

import builtins
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.statuses import Role
from storage.database import Database
from storage.tables import STAFF_NAME_LENGTH, staff


@dataclass(frozen=True)
class StaffMember:
    user_id: int
    role: Role
    added_day: date
    full_name: str | None = None  # None: joined before names were kept


class StaffRepository:
    """Who may read digests and follow reports up (investigators) or run the bot (admins)."""

    def __init__(self, db: Database, *, zone: tzinfo = UTC) -> None:
        self._db = db
        self._zone = zone

    async def add(
        self,
        user_id: int,
        role: Role,
        *,
        full_name: str | None = None,
        connection: AsyncConnection | None = None,
    ) -> None:
        """Add a staff member, or change the role of an existing one (in the caller's
        `connection`, i.e. transaction, when given). `full_name` (clipped to the column) is
        kept as given at joining; an existing member's stays unless a new one is given."""
        if not Role.has(role):
            raise ValueError(f"role must be one of {', '.join(Role)}")
        name = (full_name or "").strip()[:STAFF_NAME_LENGTH] or None
        statement = self._db.insert(staff).values(
            user_id=user_id,
            role=role,
            added_day=datetime.now(self._zone).date(),
            full_name=name,
        )
        changes = {"role": statement.excluded.role}
        if name is not None:
            changes["full_name"] = statement.excluded.full_name
        statement = statement.on_conflict_do_update(index_elements=[staff.c.user_id], set_=changes)
        async with self._db.transaction(connection) as connection:
            await connection.execute(statement)

    async def remove(self, user_id: int, *, connection: AsyncConnection | None = None) -> bool:
        """Remove a staff member; returns whether there was one."""
        async with self._db.transaction(connection) as connection:
            result = await connection.execute(delete(staff).where(staff.c.user_id == user_id))
        return bool(result.rowcount)

    def transaction(
        self, connection: AsyncConnection | None = None
    ) -> AbstractAsyncContextManager[AsyncConnection]:
        """Join the caller's transaction or open one (`Database.transaction`)."""
        return self._db.transaction(connection)

    async def role_of(
        self, user_id: int, *, connection: AsyncConnection | None = None
    ) -> Role | None:
        """The stored role; read through the caller's `connection` inside its transaction
        (on SQLite the pool has one connection: a second one would wait for it)."""
        query = select(staff.c.role).where(staff.c.user_id == user_id)
        if connection is not None:
            role: str | None = await connection.scalar(query)
        else:
            async with self._db.engine.connect() as fresh:
                role = await fresh.scalar(query)
        return None if role is None else Role(role)

    async def list(self) -> builtins.list[StaffMember]:
        """Everyone, admins first, then by user id."""
        async with self._db.engine.connect() as connection:
            rows = (
                await connection.execute(select(staff).order_by(staff.c.role, staff.c.user_id))
            ).all()
        return [
            StaffMember(row.user_id, Role(row.role), row.added_day, row.full_name) for row in rows
        ]
