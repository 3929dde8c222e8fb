"""Rate limits: atomic under concurrency on both dialects, per key and per day, purgeable."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest

from bot.anonymity.pseudonym import Pseudonymizer
from storage.database import Database
from storage.repositories import RateLimitRepository

DAY = date(2024, 11, 29)


@pytest.fixture
def limits(database: Database) -> RateLimitRepository:
    return RateLimitRepository(database)


async def test_limit_is_respected_one_by_one(limits: RateLimitRepository) -> None:
    results = [await limits.try_consume("k", DAY, 3) for _ in range(5)]
    assert results == [True, True, True, False, False]
    assert await limits.used("k", DAY) == 3


async def test_limit_is_respected_under_concurrency(limits: RateLimitRepository) -> None:
    results = await asyncio.gather(*(limits.try_consume("busy", DAY, 5) for _ in range(25)))
    assert results.count(True) == 5
    assert await limits.used("busy", DAY) == 5


async def test_keys_are_independent(limits: RateLimitRepository) -> None:
    assert await limits.try_consume("one", DAY, 1)
    assert not await limits.try_consume("one", DAY, 1)
    assert await limits.try_consume("two", DAY, 1)
    assert await limits.used("three", DAY) == 0


async def test_daily_pseudonyms_start_afresh_each_day(
    limits: RateLimitRepository, pseudonymizer: Pseudonymizer
) -> None:
    tomorrow = DAY + timedelta(days=1)
    today_key = pseudonymizer.daily("submissions", DAY, 42)
    tomorrow_key = pseudonymizer.daily("submissions", tomorrow, 42)
    assert today_key != tomorrow_key
    assert await limits.try_consume(today_key, DAY, 1)
    assert not await limits.try_consume(today_key, DAY, 1)
    assert await limits.try_consume(tomorrow_key, tomorrow, 1)


async def test_a_stale_row_for_the_same_key_restarts_on_a_new_day(
    limits: RateLimitRepository,
) -> None:
    assert await limits.try_consume("stable", DAY, 1)
    next_day = DAY + timedelta(days=1)
    assert await limits.try_consume("stable", next_day, 1)
    assert await limits.used("stable", next_day) == 1
    assert await limits.used("stable", DAY) == 0


async def test_purge_removes_only_earlier_days(limits: RateLimitRepository) -> None:
    for offset in range(3):
        await limits.try_consume(f"k{offset}", DAY + timedelta(days=offset), 5)
    assert await limits.purge_before(DAY + timedelta(days=2)) == 2
    assert await limits.used("k0", DAY) == 0
    assert await limits.used("k2", DAY + timedelta(days=2)) == 1


async def test_a_zero_limit_allows_nothing(limits: RateLimitRepository) -> None:
    assert not await limits.try_consume("k", DAY, 0)
    assert await limits.used("k", DAY) == 0
