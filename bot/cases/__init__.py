"""Follow-up by receipt code, case handling for investigators, retention.

`build_case_runtime` makes everything the handlers need, the follow-up session store
included (memory, or Redis with `FSM_STORAGE=redis`); the app merges `handler_data()` into
the dispatcher's handler data and registers the start-up and shutdown hooks (the daily
retention job, the session store's clean-up).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import date
from typing import TypedDict
from zoneinfo import ZoneInfo

from sqlalchemy import delete

from bot.anonymity.crypto import TextCipher
from bot.anonymity.pseudonym import Pseudonymizer
from bot.cases.actions import CaseActions
from bot.cases.followup import FollowupService
from bot.cases.retention import PurgeReport, RetentionJob, RetentionService
from bot.cases.sessions import FollowupSessions, MemorySessions, RedisSessions
from bot.clock import WallClock
from bot.config import Settings
from bot.maintenance import StoredDigests
from storage.database import Database
from storage.repositories import (
    AuditRepository,
    CaseRepository,
    RateLimitRepository,
    SubmissionRepository,
)
from storage.repositories.job_leases import LeaseHolder
from storage.tables import fsm_entries

SWEEP_SECONDS = 60.0  # how often idle follow-up sessions are swept out of memory


class CaseData(TypedDict):
    """What the follow-up and case handlers receive by name."""

    cases: CaseRepository
    audit: AuditRepository
    followup: FollowupService
    followup_sessions: FollowupSessions
    case_actions: CaseActions
    case_runtime: CaseRuntime


@dataclass
class CaseRuntime:
    cases: CaseRepository
    audit: AuditRepository
    followup: FollowupService
    sessions: FollowupSessions
    actions: CaseActions
    retention: RetentionService
    database: Database
    zone: ZoneInfo
    clock: WallClock
    run_retention: bool = True
    leases: LeaseHolder | None = None  # several instances: the daily job runs once a day
    job: RetentionJob | None = field(default=None, init=False)
    _sweeper: asyncio.Task[None] | None = field(default=None, init=False)

    def today(self) -> date:
        return self.clock().astimezone(self.zone).date()

    def handler_data(self) -> CaseData:
        return {
            "cases": self.cases,
            "audit": self.audit,
            "followup": self.followup,
            "followup_sessions": self.sessions,
            "case_actions": self.actions,
            "case_runtime": self,
        }

    async def on_startup(self) -> None:
        await self.sessions.start()
        await self._drop_sql_followup_states()
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep(self.sessions))
        if self.run_retention and self.job is None:
            self.job = RetentionJob(self.retention, lease=self.leases)
            self.job.start()

    async def on_shutdown(self) -> None:
        job, self.job = self.job, None
        if job is not None:
            await job.stop()
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        await self.sessions.close()

    async def _drop_sql_followup_states(self) -> None:
        """Follow-ups once kept their step and receipt hash in `fsm_entries`; such rows from
        an older version are deleted, not left to expire."""
        async with self.database.transaction() as connection:
            await connection.execute(
                delete(fsm_entries).where(fsm_entries.c.state.like("FollowUp:%"))
            )

    @property
    def sweeping(self) -> bool:
        """Whether the loop that deletes idle follow-up sessions is running."""
        return self._sweeper is not None and not self._sweeper.done()

    @staticmethod
    async def _sweep(sessions: FollowupSessions) -> None:
        """Abandoned sessions go within a minute of their timeout, even if nobody touches
        the store again."""
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            with contextlib.suppress(Exception):  # Redis away for a moment: next round
                await sessions.sweep()


def build_case_runtime(
    settings: Settings,
    *,
    database: Database,
    cipher: TextCipher,
    pseudonymizer: Pseudonymizer,
    receipt_secret: bytes,
    submissions: SubmissionRepository,
    rate_limits: RateLimitRepository,
    audit: AuditRepository,
    digests: StoredDigests,
    clock: WallClock,
    run_retention: bool = True,
    leases: LeaseHolder | None = None,
) -> CaseRuntime:
    """Wire follow-ups, case handling and retention from the process's shared pieces."""
    cases = CaseRepository(database, cipher)
    sessions: FollowupSessions
    if settings.fsm_storage == "redis":
        sessions = RedisSessions.from_url(settings.redis_url, pseudonymizer, cipher, clock=clock)
    else:
        sessions = MemorySessions(pseudonymizer, clock=clock)
    return CaseRuntime(
        cases=cases,
        audit=audit,
        followup=FollowupService(
            submissions,
            cases,
            rate_limits,
            receipt_secret,
            zone=settings.zone,
            clock=clock,
        ),
        sessions=sessions,
        actions=CaseActions(database, cases, audit),
        retention=RetentionService(
            database,
            cases,
            retention_days=settings.retention_days,
            zone=settings.zone,
            clock=clock,
            digests=digests,
        ),
        database=database,
        zone=settings.zone,
        clock=clock,
        run_retention=run_retention,
        leases=leases,
    )


__all__ = [
    "CaseData",
    "CaseRuntime",
    "FollowupService",
    "PurgeReport",
    "RetentionService",
    "build_case_runtime",
]
