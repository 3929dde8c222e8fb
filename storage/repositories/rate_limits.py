"""Per-person daily counters, keyed by a daily pseudonym and purged after the day."""

from __future__ import annotations

from datetime import date

from sqlalchemy import bindparam, case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import Database
from storage.tables import rate_counters


class RateLimitRepository:
    """Counts uses per (pseudonymous) key and day; nothing else is recorded."""

    def __init__(self, db: Database) -> None:
        self._db = db
        # Built once, every value bound: building and hashing a fresh upsert cost more than
        # running it, and a submit pays for it.
        table = rate_counters
        today = bindparam("today", type_=table.c.day.type)
        upsert = db.insert(table)
        self._consume = upsert.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={"count": case((table.c.day == today, table.c.count + 1), else_=1), "day": today},
            where=(table.c.day != today) | (table.c.count < bindparam("limit")),
        ).returning(table.c.count)
        self._used = select(table.c.count).where(
            table.c.key == bindparam("key"), table.c.day == today
        )

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
        async with self._db.transaction(connection) as connection:
            counted = (
                await connection.execute(
                    self._consume,
                    {"key": key, "day": day, "count": 1, "today": day, "limit": limit},
                )
            ).first()
        return counted is not None

    async def used(self, key: str, day: date) -> int:
        """How many uses were counted for `key` on `day`."""
        async with self._db.engine.connect() as connection:
            count = await connection.scalar(self._used, {"key": key, "today": day})
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
