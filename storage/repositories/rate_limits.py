"""Per-person daily counters, keyed by a daily pseudonym and purged after the day."""

from __future__ import annotations

from datetime import date

from sqlalchemy import case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import Database
from storage.tables import rate_counters


class RateLimitRepository:
    """Counts uses per (pseudonymous) key and day; nothing else is recorded."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def try_consume(
        self, key: str, day: date, limit: int, *, connection: AsyncConnection | None = None
    ) -> bool:
        """Count one use if fewer than `limit` were counted for `key` on `day` (in the
        caller's `connection` when given, so that it commits with what it limits).

        A single INSERT … ON CONFLICT DO UPDATE … WHERE count < limit: the check and the
        increment are one atomic statement on both SQLite and PostgreSQL, so concurrent
        requests can never together exceed the limit. A row left from an earlier day is
        restarted at 1.
        """
        if limit <= 0:
            return False
        table = rate_counters
        statement = (
            self._db.insert(table)
            .values(key=key, day=day, count=1)
            .on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    "count": case((table.c.day == day, table.c.count + 1), else_=1),
                    "day": day,
                },
                where=(table.c.day != day) | (table.c.count < limit),
            )
            .returning(table.c.count)
        )
        async with self._db.transaction(connection) as connection:
            counted = (await connection.execute(statement)).first()
        return counted is not None

    async def used(self, key: str, day: date) -> int:
        """How many uses were counted for `key` on `day`."""
        async with self._db.engine.connect() as connection:
            count = await connection.scalar(
                select(rate_counters.c.count).where(
                    rate_counters.c.key == key, rate_counters.c.day == day
                )
            )
        return int(count or 0)

    async def purge_before(self, day: date, *, dry_run: bool = False) -> int:
        """Delete counters of days before `day` (a past day's limit has done its work, and
        its pseudonyms would only show who was active when); returns how many rows went —
        or, with `dry_run`, would."""
        past = rate_counters.c.day < day
        if dry_run:
            async with self._db.engine.connect() as connection:
                count = await connection.scalar(
                    select(func.count()).select_from(rate_counters).where(past)
                )
            return int(count or 0)
        async with self._db.engine.begin() as connection:
            result = await connection.execute(delete(rate_counters).where(past))
        return int(result.rowcount or 0)
