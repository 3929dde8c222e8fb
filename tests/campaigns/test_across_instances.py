"""Campaigns with several instances on one database: a campaign an admin opens on one
instance is open on the others within the cache's few seconds, and the daily maintenance's
closing step closes only open campaigns whose last day has passed (its audit entry, actor
0, is checked in tests/retention/test_maintenance.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest
from sqlalchemy import update

from bot.statuses import CampaignStatus
from storage.database import Database
from storage.repositories.campaigns import CACHE_SECONDS, CampaignRepository
from storage.tables import campaigns as campaigns_table

DAY = date(2026, 12, 2)


class Ticks:
    """A monotonic clock that moves only when the test moves it."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def databases(db_url: str) -> AsyncIterator[tuple[Database, Database]]:
    first, second = await Database.connect(db_url), await Database.connect(db_url)
    try:
        await first.upgrade()
        yield first, second
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_campaign_opened_on_one_instance_is_open_on_another_soon(
    databases: tuple[Database, Database],
) -> None:
    here_db, there_db = databases
    ticks = Ticks()
    here = CampaignRepository(here_db)
    there = CampaignRepository(there_db, monotonic=ticks)
    campaign = await here.create("第一轮", "q", 1, DAY, DAY + timedelta(days=9))
    assert await there.current(DAY) is None  # planned: nothing open, and now cached there

    assert await here.open(campaign.id)
    assert await here.current(DAY) is not None  # the writer's own cache was dropped
    ticks.now += CACHE_SECONDS / 2
    assert await there.current(DAY) is None  # still the cached read
    ticks.now += CACHE_SECONDS / 2
    found = await there.current(DAY)
    assert found is not None and found.id == campaign.id

    assert await here.close(campaign.id)
    ticks.now += CACHE_SECONDS
    assert await there.current(DAY) is None


async def test_the_daily_closing_closes_only_open_campaigns_past_their_last_day(
    databases: tuple[Database, Database],
) -> None:
    db, _ = databases
    campaigns = CampaignRepository(db)
    ended = await campaigns.create(
        "上一轮", "q", 1, DAY - timedelta(days=9), DAY - timedelta(days=1)
    )
    running = await campaigns.create("这一轮", "q", 1, DAY, DAY + timedelta(days=9))
    planned = await campaigns.create(
        "没开", "q", 1, DAY - timedelta(days=5), DAY - timedelta(days=2)
    )
    async with db.transaction() as connection:  # two rounds left open (`open` allows one)
        await connection.execute(
            update(campaigns_table)
            .where(campaigns_table.c.id.in_([ended.id, running.id]))
            .values(status=CampaignStatus.OPEN)
        )
    assert await campaigns.ended_open(DAY) == [ended.id]
    assert await campaigns.close_ended(DAY) == [ended.id]
    assert await campaigns.close_ended(DAY) == []  # once
    states = {campaign.id: campaign.status for campaign in await campaigns.list()}
    assert states == {
        ended.id: CampaignStatus.CLOSED,
        running.id: CampaignStatus.OPEN,
        planned.id: CampaignStatus.PLANNED,  # opening stays an admin's command
    }
