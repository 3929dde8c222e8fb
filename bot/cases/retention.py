"""Retention: a report, with its answers, follow-ups, notes, history and receipt hash, is
deleted RETENTION_DAYS after its last activity. Aggregates already sent in digests remain.

The purge is one step of the bot's daily maintenance (`bot.maintenance`): `RetentionJob` runs
every step once per calendar day (under a job lease: in one instance of several);
`python -m bot retention purge [--dry-run]` runs them by hand. On SQLite `secure_delete`
zeroes the freed pages and a WAL checkpoint afterwards keeps old page images from lingering.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from bot.clock import WallClock
from bot.maintenance import INTERVAL_SECONDS, DailyMaintenanceJob, MaintenanceService, StoredDigests
from storage.database import Database
from storage.repositories import CaseRepository
from storage.repositories.job_leases import LeaseHolder

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PurgeReport:
    cutoff: date  # reports whose last activity was before this day are (or would be) deleted
    count: int
    dry_run: bool


class RetentionService:
    """Deletes reports past RETENTION_DAYS; also carries what the daily maintenance around it
    needs (the database, the zone and clock, and the digests whose retention it enforces)."""

    def __init__(
        self,
        database: Database,
        cases: CaseRepository,
        *,
        retention_days: int,
        zone: ZoneInfo,
        clock: WallClock,
        digests: StoredDigests,
    ) -> None:
        self.database = database
        self._cases = cases
        self.retention_days = retention_days
        self.zone = zone
        self.clock = clock
        self.digests = digests

    def today(self) -> date:
        return self.clock().astimezone(self.zone).date()

    def cutoff(self, today: date | None = None) -> date:
        day = today if today is not None else self.today()
        return day - timedelta(days=self.retention_days)

    async def purge(self, *, dry_run: bool = False, today: date | None = None) -> PurgeReport:
        cutoff = self.cutoff(today)
        await self._cases.ensure_cases()
        if dry_run:
            return PurgeReport(cutoff, await self._cases.count_expired(cutoff), True)
        count = await self._cases.purge_expired(cutoff)
        if count:
            await self.database.checkpoint()
        logger.info("Retention purge removed %d report(s)", count)
        return PurgeReport(cutoff, count, False)


class RetentionJob(DailyMaintenanceJob):
    """The bot's daily maintenance job, built around the case runtime's `RetentionService`:
    every step of `bot.maintenance.daily_steps` at start-up, then every `interval` seconds,
    until stopped (the name and the start/stop contract are what `CaseRuntime` relies on).
    With `lease`, once per calendar day (TIMEZONE) across every instance on the database."""

    def __init__(
        self,
        service: RetentionService,
        *,
        interval: float = INTERVAL_SECONDS,
        lease: LeaseHolder | None = None,
    ) -> None:
        super().__init__(
            MaintenanceService.around(service), interval=interval, lease=lease, zone=service.zone
        )
