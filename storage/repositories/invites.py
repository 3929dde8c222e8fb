"""One-time invite codes for investigators, stored only as hashes.

The code is shown once to the admin who made it; the table keeps its SHA-256 and an expiry.
Redeeming deletes the row in the same statement that checks it, so a code works once even
when two people send it at the same moment.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import Database
from storage.tables import staff_invites


def _naive_utc(moment: datetime) -> datetime:
    """The naive-UTC form the DateTime columns store (they carry no time zone)."""
    if moment.tzinfo is None:
        raise ValueError("pass an aware datetime")
    return moment.astimezone(UTC).replace(tzinfo=None)


class InviteRepository:
    """Hashes of unused, unexpired invite codes."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        code_hash: str,
        *,
        expires_at: datetime,
        now: datetime,
        connection: AsyncConnection | None = None,
    ) -> None:
        """Store a new code's hash, and drop codes that expired by `now` (housekeeping);
        in the caller's `connection` (transaction) when given."""
        async with self._db.transaction(connection) as connection:
            await connection.execute(
                delete(staff_invites).where(staff_invites.c.expires_at <= _naive_utc(now))
            )
            await connection.execute(
                staff_invites.insert().values(
                    code_hash=code_hash, expires_at=_naive_utc(expires_at)
                )
            )

    async def consume(
        self, code_hash: str, *, now: datetime, connection: AsyncConnection | None = None
    ) -> bool:
        """Use a code up: True only for the one caller that deleted a live row."""
        async with self._db.transaction(connection) as connection:
            result = await connection.execute(
                delete(staff_invites).where(
                    staff_invites.c.code_hash == code_hash,
                    staff_invites.c.expires_at > _naive_utc(now),
                )
            )
        return result.rowcount == 1

    async def purge_expired(self, *, now: datetime, dry_run: bool = False) -> int:
        """Delete codes that expired by `now`; returns how many (or, with `dry_run`, how many
        would go). Used codes need no purge: `consume` deletes them."""
        expired = staff_invites.c.expires_at <= _naive_utc(now)
        if dry_run:
            async with self._db.engine.connect() as connection:
                count = await connection.scalar(
                    select(func.count()).select_from(staff_invites).where(expired)
                )
            return int(count or 0)
        async with self._db.engine.begin() as connection:
            result = await connection.execute(delete(staff_invites).where(expired))
        return int(result.rowcount)
