"""Job leases: one holder at a time, taken over only once the lease has run out, renewed
only by its holder; a daily job's day is marked once, and only by the holder."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from storage.database import Database
from storage.repositories.job_leases import JobLeaseRepository

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
TTL = timedelta(seconds=30)
JOB = "daily-maintenance"


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    db = await Database.connect(db_url)
    try:
        await db.upgrade()
        yield db
    finally:
        await db.dispose()


async def test_one_holder_until_the_lease_runs_out(database: Database) -> None:
    leases = JobLeaseRepository(database)
    first, second = secrets.token_hex(16), secrets.token_hex(16)

    assert await leases.try_acquire(JOB, first, now=NOW, ttl=TTL)
    assert not await leases.try_acquire(JOB, second, now=NOW + TTL / 2, ttl=TTL)
    assert await leases.try_acquire(JOB, first, now=NOW + TTL / 2, ttl=TTL)  # its own: kept
    assert await leases.holder_of(JOB, now=NOW) == first
    assert not await leases.renew(JOB, second, now=NOW, ttl=TTL)
    assert await leases.renew(JOB, first, now=NOW + TTL, ttl=TTL)  # until NOW + 2 TTL
    assert not await leases.try_acquire(JOB, second, now=NOW + TTL * 1.5, ttl=TTL)

    later = NOW + TTL * 2 + timedelta(seconds=1)  # the holder stopped renewing: it ran out
    assert await leases.holder_of(JOB, now=later) is None
    assert await leases.try_acquire(JOB, second, now=later, ttl=TTL)
    assert not await leases.renew(JOB, first, now=later, ttl=TTL)  # the first one lost it
    await leases.release(JOB, first)  # not its lease: nothing happens
    assert await leases.holder_of(JOB, now=later) == second
    await leases.release(JOB, second)
    assert await leases.holder_of(JOB, now=later) is None
    assert await leases.try_acquire(JOB, first, now=later, ttl=TTL)  # free again at once


async def test_a_day_is_marked_done_once_and_only_by_the_holder(database: Database) -> None:
    leases = JobLeaseRepository(database)
    holder, other = secrets.token_hex(16), secrets.token_hex(16)
    today = date(2026, 12, 2)
    assert await leases.done_day(JOB) is None
    assert await leases.try_acquire(JOB, holder, now=NOW, ttl=TTL)

    assert not await leases.mark_done(JOB, other, today)  # not the holder
    assert await leases.mark_done(JOB, holder, today)
    assert not await leases.mark_done(JOB, holder, today)  # that day is done already
    assert not await leases.mark_done(JOB, holder, today - timedelta(days=1))
    assert await leases.done_day(JOB) == today
    assert await leases.mark_done(JOB, holder, today + timedelta(days=1))
    await leases.forget(JOB)
    assert await leases.done_day(JOB) is None


async def test_instances_racing_for_a_free_lease_give_it_to_exactly_one(db_url: str) -> None:
    databases = [await Database.connect(db_url) for _ in range(3)]
    try:
        await databases[0].upgrade()
        holders = [secrets.token_hex(16) for _ in databases]
        for round_ in range(10):
            job = f"broadcast:{round_}"
            won = await asyncio.gather(
                *(
                    JobLeaseRepository(db).try_acquire(job, holder, now=NOW, ttl=TTL)
                    for db, holder in zip(databases, holders, strict=True)
                )
            )
            assert sum(won) == 1, won
            winner = holders[won.index(True)]
            assert await JobLeaseRepository(databases[0]).holder_of(job, now=NOW) == winner
    finally:
        for db in databases:
            await db.dispose()
