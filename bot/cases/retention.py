"""Retention: a report, with its answers, follow-ups, notes, history and receipt hash, is
deleted RETENTION_DAYS after its last activity. Aggregates already sent in digests remain.

`RetentionJob` runs the purge once at start-up and then daily while the bot runs;
`python -m bot retention purge [--dry-run]` runs it by hand. On SQLite `secure_delete` zeroes
the freed pages and a WAL checkpoint afterwards keeps old page images from lingering.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from storage.database import Database
from storage.repositories import CaseRepository

logger = logging.getLogger(__name__)

INTERVAL_SECONDS = 24 * 60 * 60


@dataclass(frozen=True)
class PurgeReport:
    cutoff: date  # reports whose last activity was before this day are (or would be) deleted
    count: int
    dry_run: bool


class RetentionService:
    def __init__(
        self,
        database: Database,
        cases: CaseRepository,
        *,
        retention_days: int,
        zone: ZoneInfo,
        clock: Callable[[], datetime],
    ) -> None:
        self._database = database
        self._cases = cases
        self.retention_days = retention_days
        self._zone = zone
        self._clock = clock

    def cutoff(self, today: date | None = None) -> date:
        day = today if today is not None else self._clock().astimezone(self._zone).date()
        return day - timedelta(days=self.retention_days)

    async def purge(self, *, dry_run: bool = False, today: date | None = None) -> PurgeReport:
        cutoff = self.cutoff(today)
        await self._cases.ensure_cases()
        if dry_run:
            return PurgeReport(cutoff, await self._cases.count_expired(cutoff), True)
        count = await self._cases.purge_expired(cutoff)
        if count:
            await self._database.checkpoint()
        logger.info("Retention purge removed %d report(s)", count)
        return PurgeReport(cutoff, count, False)


class RetentionJob:
    """Purge at start-up, then every `interval` seconds, until stopped."""

    def __init__(self, service: RetentionService, *, interval: float = INTERVAL_SECONDS) -> None:
        self._service = service
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self.running:
            return
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="retention")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self._service.purge()
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed run is retried at the next interval
                logger.exception("Retention purge failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self._interval)
