"""Forty days later, nothing keyed by the cadre is left.

A cadre submits through the real conversation, opens a follow-up with the receipt code and
walks away. The bot is restarted on the same database with its clock 40 days ahead, and the
daily maintenance job runs at start-up. Then every column of every table is scanned for every
pseudonym the code derives from the cadre's Telegram ids — the FSM key and the daily rate-limit
keys of every day in between — computed with the real `Pseudonymizer` and the bot's own
secret; none may be left, and no rate counter of a past day may exist. The report itself stays
(RETENTION_DAYS is 365): the purge removed what was keyed by the person, not the report.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from aiogram.fsm.storage.base import DEFAULT_DESTINY, StorageKey
from sqlalchemy import MetaData, func, select

from bot.anonymity.pseudonym import Pseudonymizer
from bot.cases import CaseRuntime
from bot.harness.emulator import Limits
from bot.harness.offline import OfflineBot
from storage.fsm import storage_key_pseudonym
from storage.tables import rate_counters, submissions
from tests.followup.flow import open_followup, submit_report

USER_ID = 918_273_640
LATER = timedelta(days=40)


class ManualClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def _cells(offline: OfflineBot) -> list[tuple[str, str, str]]:
    """(table, column, value as text) for every cell of every table in the database."""
    assert offline.services is not None
    found: list[tuple[str, str, str]] = []
    async with offline.services.database.engine.connect() as connection:
        meta = MetaData()
        await connection.run_sync(meta.reflect)
        for name, table in meta.tables.items():
            for row in (await connection.execute(select(table))).all():
                for column, value in row._mapping.items():
                    if isinstance(value, bytes | memoryview):
                        value = bytes(value).hex()
                    found.append((name, str(column), str(value)))
    return found


async def _daily_job_ran(runtime: CaseRuntime) -> None:
    """Until the job started by the dispatcher's start-up has finished its first run."""
    for _ in range(1200):
        if runtime.job is not None:
            break
        await asyncio.sleep(0.05)
    assert runtime.job is not None, "the daily job did not start"
    await runtime.job.wait_for_runs(1)


def _cadre_pseudonyms(
    pseudonymizer: Pseudonymizer, bot_id: int, first: date, last: date
) -> dict[str, str]:
    """Every pseudonym the bot derives from the cadre's ids (the subscriber's aside)."""
    keys = {
        "fsm key": storage_key_pseudonym(
            pseudonymizer,
            StorageKey(bot_id=bot_id, chat_id=USER_ID, user_id=USER_ID, destiny=DEFAULT_DESTINY),
        )
    }
    day = first
    while day <= last:
        for purpose in ("submissions", "followup"):
            keys[f"{purpose} limit {day}"] = pseudonymizer.daily(purpose, day, USER_ID)
        day += timedelta(days=1)
    return keys


async def test_forty_days_later_nothing_is_keyed_by_the_cadre(
    db_url: str, tmp_path: Path, manual_digests: None
) -> None:
    clock = ManualClock(datetime.now(UTC))
    offline = await OfflineBot.start(
        tmp_path / "data", limits=Limits.unlimited(), now=clock, database_url=db_url
    )
    try:
        assert offline.services is not None and offline.bot is not None
        zone = offline.services.settings.zone
        first_day = clock().astimezone(zone).date()
        cadre = offline.new_user(user_id=USER_ID, first_name="赵走开")
        code = await submit_report(cadre)
        await open_followup(cadre, code)  # ... and walks away without ending it

        pseudonymizer = Pseudonymizer(offline.services.keys.pseudonym_secret)
        bot_id = offline.bot.id
        before = {value for _, _, value in await _cells(offline)}
        today_limit = pseudonymizer.daily("submissions", first_day, USER_ID)
        assert today_limit in before  # the scan finds the cadre's keys while they are live

        clock.now += LATER
        await offline.restart_bot()
        assert offline.dispatcher is not None
        runtime = offline.dispatcher.workflow_data["case_runtime"]
        assert isinstance(runtime, CaseRuntime)
        await asyncio.wait_for(_daily_job_ran(runtime), timeout=60)

        today = clock().astimezone(zone).date()
        needles = _cadre_pseudonyms(pseudonymizer, bot_id, first_day - timedelta(days=1), today)
        subscriber = pseudonymizer.of("subscriber", USER_ID)
        cells = await _cells(offline)
        left = [
            (label, table, column)
            for table, column, value in cells
            for label, needle in needles.items()
            if needle in value
        ]
        assert left == []
        # A subscriber row exists only if the cadre opted in to announcements, and only there.
        assert {table for table, _, value in cells if subscriber in value} <= {
            "subscribers",
            "broadcast_recipients",
        }
        assert offline.services is not None
        async with offline.services.database.engine.connect() as connection:
            past_counters = await connection.scalar(
                select(func.count()).select_from(rate_counters).where(rate_counters.c.day < today)
            )
            reports = await connection.scalar(select(func.count()).select_from(submissions))
        assert past_counters == 0
        assert reports == 1  # the report stays until RETENTION_DAYS
    finally:
        await offline.close()
