"""Job leases: every background job runs in one process at a time, however many bot
instances share the database, and another instance takes it over when that one dies.

A process takes a job's lease (`job_leases`, one row per job) for a short time and renews it
while it works; a process that dies stops renewing, the lease runs out, and any other
process may take it. On PostgreSQL the row is read with `SELECT … FOR UPDATE SKIP LOCKED`
in the acquiring transaction, so two instances deciding at the same moment never both win
(the loser skips the locked row and does not wait); on SQLite, one process with one writer,
the same statements run without the lock clause. Daily jobs also keep the last day they
*finished* (`mark_done`): an instance that starts later that day does not run them again,
and one that died mid-run never marked the day, so another runs it once the lease is free.

The holder is a random token made once per process (`secrets.token_hex(16)`), never a host
name or a pid. Times are the processes' UTC wall clocks (keep them in sync, as for the
digest outbox's leases).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, or_, select, update

from bot.clock import WallClock
from storage.database import Database
from storage.tables import job_leases

logger = logging.getLogger(__name__)

DEFAULT_TTL = timedelta(seconds=30)


def _naive(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("pass an aware datetime")
    return moment.astimezone(UTC).replace(tzinfo=None)


class JobLeaseRepository:
    """The rows of `job_leases`; every change names the holder it is made for."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def try_acquire(self, job: str, holder: str, *, now: datetime, ttl: timedelta) -> bool:
        """Take (or keep) `job`'s lease for `holder` until `now + ttl`; False while another
        holder's lease runs, or while another process is taking it at this very moment."""
        async with self._db.engine.begin() as connection:
            await connection.execute(
                self._db.insert(job_leases)
                .values(job=job)
                .on_conflict_do_nothing(index_elements=[job_leases.c.job])
            )
            row = (
                await connection.execute(
                    select(job_leases.c.holder, job_leases.c.lease_until)
                    .where(job_leases.c.job == job)
                    .with_for_update(skip_locked=True)
                )
            ).first()
            if row is None:
                return False  # locked by a process deciding right now: it wins
            taken = row.holder is not None and row.holder != holder
            if taken and row.lease_until is not None and row.lease_until > _naive(now):
                return False
            await connection.execute(
                update(job_leases)
                .where(job_leases.c.job == job)
                .values(holder=holder, lease_until=_naive(now + ttl))
            )
        return True

    async def renew(self, job: str, holder: str, *, now: datetime, ttl: timedelta) -> bool:
        """Extend `holder`'s lease to `now + ttl`; False if it is no longer theirs."""
        async with self._db.engine.begin() as connection:
            result = await connection.execute(
                update(job_leases)
                .where(job_leases.c.job == job, job_leases.c.holder == holder)
                .values(lease_until=_naive(now + ttl))
            )
        return result.rowcount == 1

    async def release(self, job: str, holder: str) -> None:
        """Give the lease up at once (a clean stop), if `holder` still has it."""
        async with self._db.engine.begin() as connection:
            await connection.execute(
                update(job_leases)
                .where(job_leases.c.job == job, job_leases.c.holder == holder)
                .values(holder=None, lease_until=None)
            )

    async def forget(self, job: str) -> None:
        """Delete the row of a job that will never run again (a finished broadcast)."""
        async with self._db.engine.begin() as connection:
            await connection.execute(delete(job_leases).where(job_leases.c.job == job))

    async def holder_of(self, job: str, *, now: datetime) -> str | None:
        """Who holds a running lease on `job` (None: nobody, or it ran out)."""
        async with self._db.engine.connect() as connection:
            row = (
                await connection.execute(
                    select(job_leases.c.holder, job_leases.c.lease_until).where(
                        job_leases.c.job == job
                    )
                )
            ).first()
        if row is None or row.holder is None or row.lease_until is None:
            return None
        return str(row.holder) if row.lease_until > _naive(now) else None

    async def done_day(self, job: str) -> date | None:
        """The last day the daily job `job` finished (None: never)."""
        async with self._db.engine.connect() as connection:
            day: date | None = await connection.scalar(
                select(job_leases.c.last_done_day).where(job_leases.c.job == job)
            )
        return day

    async def mark_done(self, job: str, holder: str, day: date) -> bool:
        """Record that `holder` finished `job` for `day`; True only if the day was not
        recorded yet (by anyone) and `holder` still holds the lease."""
        async with self._db.engine.begin() as connection:
            result = await connection.execute(
                update(job_leases)
                .where(
                    job_leases.c.job == job,
                    job_leases.c.holder == holder,
                    or_(job_leases.c.last_done_day.is_(None), job_leases.c.last_done_day < day),
                )
                .values(last_done_day=day)
            )
        return result.rowcount == 1


class LeaseLost(Exception):
    """The lease ran out and another process may have taken the job: the work stopped."""


@dataclass(frozen=True)
class LeaseHolder:
    """This process's hand on `job_leases`: one random `holder` token, the wall clock and
    how long a lease lasts unrenewed (`ttl`; renewed every third of it while held)."""

    repository: JobLeaseRepository
    holder: str
    clock: WallClock
    ttl: timedelta = DEFAULT_TTL

    @property
    def renew_every(self) -> float:
        return self.ttl.total_seconds() / 3

    async def acquire(self, job: str) -> bool:
        return await self.repository.try_acquire(job, self.holder, now=self.clock(), ttl=self.ttl)

    async def renew(self, job: str) -> bool:
        return await self.repository.renew(job, self.holder, now=self.clock(), ttl=self.ttl)

    async def release(self, job: str) -> None:
        await self.repository.release(job, self.holder)

    @contextlib.asynccontextmanager
    async def kept(self, job: str, on_lost: Callable[[], None]) -> AsyncIterator[None]:
        """Renew the (already acquired) lease on `job` in the background while the block
        runs; `on_lost()` is called once if a renewal finds that the lease is no longer this
        process's. A renewal that fails (the database away for a moment) is retried at the
        next turn: the work goes on, and learns at the next successful renewal whether
        another process took over meanwhile. Nothing is released here."""
        renewer = asyncio.create_task(self._keep(job, on_lost), name=f"lease:{job}")
        try:
            yield
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

    async def _keep(self, job: str, on_lost: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(self.renew_every)
            try:
                kept = await self.renew(job)
            except Exception as exc:
                logger.warning("lease renewal of a job failed: %s", type(exc).__name__)
                continue
            if not kept:
                logger.warning("a job's lease was lost; it stops here")
                on_lost()
                return
