"""Three bot instances on one PostgreSQL: the daily maintenance runs once a day across them,
again once the next day, and in another instance when the one running it dies mid-run."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import build_services
from bot.config import load_settings
from bot.maintenance import DailyMaintenanceJob, MaintenanceService, MaintenanceStep, StepRun
from storage.database import Database
from storage.repositories.job_leases import JobLeaseRepository, LeaseHolder

ZONE = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
TODAY = date(2026, 12, 2)
#: On the hand-moved clock, so it runs out only when the test says; holders renew every third
#: of it in real time (a tenth of a second), which only matters to the takeover test.
TTL = timedelta(seconds=0.3)
ROUND = 0.01  # seconds between a job's rounds (how often it checks whether the day is done)
HANG = 60.0  # only catches a hang: every wait is on a condition


class ManualClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Instances:
    clock: ManualClock
    databases: list[Database]
    jobs: list[DailyMaintenanceJob] = field(default_factory=list)
    started: list[tuple[int, date]] = field(default_factory=list)  # (instance, day) per run
    finished: list[tuple[int, date]] = field(default_factory=list)

    def make_jobs(self, step: Callable[[int], StepRun]) -> None:
        """One daily maintenance per instance: its own connection pool and holder token."""
        for index, db in enumerate(self.databases):
            holder = LeaseHolder(JobLeaseRepository(db), secrets.token_hex(16), self.clock, ttl=TTL)
            service = MaintenanceService(
                db, [MaintenanceStep("counted", step(index))], clock=self.clock
            )
            self.jobs.append(DailyMaintenanceJob(service, interval=ROUND, lease=holder, zone=ZONE))

    async def more_rounds(self, jobs: list[DailyMaintenanceJob], rounds: int) -> None:
        """Until each of `jobs` has finished `rounds` more rounds (so at least `rounds - 1`
        of them started after this call)."""
        await asyncio.gather(*(job.wait_for_runs(job.runs + rounds) for job in jobs))


@pytest.fixture
async def instances(migrated_postgres_url: str) -> AsyncIterator[Instances]:
    databases = [await Database.connect(migrated_postgres_url) for _ in range(3)]
    found = Instances(ManualClock(START), databases)
    try:
        yield found
    finally:
        for job in found.jobs:
            await job.stop()
        for db in databases:
            await db.dispose()


async def test_three_instances_run_the_daily_maintenance_once_a_day(
    instances: Instances,
) -> None:
    def step(index: int) -> StepRun:
        async def run(now: datetime, dry_run: bool) -> tuple[int, str]:
            day = now.astimezone(ZONE).date()
            instances.started.append((index, day))
            # While this instance works, the two others look more than once and keep out.
            others = [job for number, job in enumerate(instances.jobs) if number != index]
            await instances.more_rounds(others, 2)
            instances.finished.append((index, day))
            return 1, "thing(s)"

        return run

    instances.make_jobs(step)
    async with asyncio.timeout(HANG):
        for job in instances.jobs:  # at once, as three instances starting together
            job.start()
        await instances.more_rounds(instances.jobs, 3)
        assert [day for _, day in instances.started] == [TODAY]
        assert instances.finished == instances.started
        assert sum(job.worked for job in instances.jobs) == 1
        assert (
            await JobLeaseRepository(instances.databases[0]).done_day("daily-maintenance") == TODAY
        )

        instances.clock.now += timedelta(days=1)  # the next calendar day in Shanghai
        await instances.more_rounds(instances.jobs, 3)
        assert [day for _, day in instances.started] == [TODAY, TODAY + timedelta(days=1)]
        assert instances.finished == instances.started
        assert sum(job.worked for job in instances.jobs) == 2


async def test_a_run_cut_short_by_a_dying_instance_is_run_by_another_after_the_lease(
    instances: Instances,
) -> None:
    first_began = asyncio.Event()

    def step(index: int) -> StepRun:
        async def run(now: datetime, dry_run: bool) -> tuple[int, str]:
            instances.started.append((index, now.astimezone(ZONE).date()))
            if index == 0:  # the instance that dies in the middle of its run
                first_began.set()
                await asyncio.Event().wait()
            instances.finished.append((index, now.astimezone(ZONE).date()))
            return 1, "thing(s)"

        return run

    instances.make_jobs(step)
    dying, *others = instances.jobs
    async with asyncio.timeout(HANG):
        dying.start()
        await first_began.wait()
        dying.crash()  # no release, nothing written: as if the process were killed
        for job in others:
            job.start()
        await instances.more_rounds(others, 3)
        # Its lease still runs (nobody renews it, the clock has not moved): nobody runs.
        assert instances.started == [(0, TODAY)] and instances.finished == []

        instances.clock.now += TTL + timedelta(seconds=1)  # the dead instance's lease ran out
        await instances.more_rounds(others, 3)
        assert len(instances.started) == 2 and instances.started[1][0] in (1, 2)
        assert instances.finished == [instances.started[1]]  # once, by one of the others
        assert sum(job.worked for job in others) == 1
        assert (
            await JobLeaseRepository(instances.databases[1]).done_day("daily-maintenance") == TODAY
        )


async def test_a_run_whose_lease_was_taken_over_stops_and_does_not_mark_the_day(
    instances: Instances,
) -> None:
    began, stopped = asyncio.Event(), asyncio.Event()

    def step(index: int) -> StepRun:
        async def run(now: datetime, dry_run: bool) -> tuple[int, str]:
            began.set()
            try:
                await asyncio.Event().wait()
            finally:
                stopped.set()
            return 1, "thing(s)"

        return run

    instances.make_jobs(step)
    job = instances.jobs[0]
    leases = JobLeaseRepository(instances.databases[1])
    async with asyncio.timeout(HANG):
        job.start()
        await began.wait()
        # Its renewals stalled long enough for the lease to run out, and another took it.
        instances.clock.now += TTL + timedelta(seconds=1)
        assert await leases.try_acquire(
            "daily-maintenance", "another-instance", now=instances.clock(), ttl=TTL
        )
        await stopped.wait()  # its next renewal found the lease gone: the work was cancelled
        await job.wait_for_runs(1)
    assert job.worked == 0
    assert await leases.done_day("daily-maintenance") is None


async def test_two_instances_built_by_the_app_share_the_daily_job(
    migrated_postgres_url: str, tmp_path: Path
) -> None:
    settings = load_settings(
        data_dir=tmp_path / "data", database_url=migrated_postgres_url, timezone="Asia/Shanghai"
    )
    first = await build_services(settings, now=lambda: START)
    second = await build_services(settings, now=lambda: START)  # same keys, same database
    try:
        for services in (first, second):
            await services.cases.on_startup()
        jobs = [services.cases.job for services in (first, second)]
        async with asyncio.timeout(HANG):
            await asyncio.gather(*(job.wait_for_runs(1) for job in jobs if job is not None))
        assert sum(job.worked for job in jobs if job is not None) == 1
        assert [job.last_report is not None for job in jobs if job is not None].count(True) == 1
        leases = JobLeaseRepository(first.database)
        assert await leases.done_day("daily-maintenance") == TODAY
    finally:
        for services in (first, second):
            await services.cases.on_shutdown()
            await services.close()
