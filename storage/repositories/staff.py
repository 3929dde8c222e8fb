"""Admins and investigators, by Telegram user id. Staff are identified on purpose."""

from __future__ import annotations

import builtins
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.statuses import Role
from storage.database import Database
from storage.tables import staff


@dataclass(frozen=True)
class StaffMember:
    user_id: int
    role: Role
    added_day: date


class StaffRepository:
    """Who may read digests and follow reports up (investigators) or run the bot (admins)."""

    def __init__(self, db: Database, *, zone: tzinfo = UTC) -> None:
        self._db = db
        self._zone = zone

    async def add(
        self, user_id: int, role: Role, *, connection: AsyncConnection | None = None
    ) -> None:
        """Add a staff member, or change the role of an existing one (in the caller's
        `connection`, i.e. transaction, when given)."""
        if not Role.has(role):
            raise ValueError(f"role must be one of {', '.join(Role)}")
        statement = self._db.insert(staff).values(
            user_id=user_id, role=role, added_day=datetime.now(self._zone).date()
        )
        statement = statement.on_conflict_do_update(
            index_elements=[staff.c.user_id], set_={"role": statement.excluded.role}
        )
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
        return [StaffMember(row.user_id, Role(row.role), row.added_day) for row in rows]
