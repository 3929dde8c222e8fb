"""Follow-up by receipt code, case handling for investigators, retention (issue 5).

`build_case_runtime(services)` makes everything the handlers need; `create_dispatcher` puts
`handler_data()` into `dp.workflow_data` and registers the daily retention job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.cases.followup import FollowupService
from bot.cases.retention import PurgeReport, RetentionJob, RetentionService
from storage.repositories import AuditRepository, CaseRepository

if TYPE_CHECKING:
    from bot.app import Services


@dataclass
class CaseRuntime:
    cases: CaseRepository
    audit: AuditRepository
    followup: FollowupService
    retention: RetentionService
    zone: ZoneInfo
    clock: Callable[[], datetime]
    run_retention: bool = True
    job: RetentionJob | None = field(default=None, init=False)

    def today(self) -> date:
        return self.clock().astimezone(self.zone).date()

    def handler_data(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "audit": self.audit,
            "followup": self.followup,
            "case_runtime": self,
        }

    async def on_startup(self) -> None:
        if self.run_retention and self.job is None:
            self.job = RetentionJob(self.retention)
            self.job.start()

    async def on_shutdown(self) -> None:
        job, self.job = self.job, None
        if job is not None:
            await job.stop()


def build_case_runtime(services: Services) -> CaseRuntime:
    settings = services.settings
    clock = services.digests.clock
    cases = CaseRepository(services.database, services.cipher)
    return CaseRuntime(
        cases=cases,
        audit=AuditRepository(services.database),
        followup=FollowupService(
            services.submissions,
            cases,
            services.rate_limits,
            services.pseudonymizer,
            services.keys.pseudonym_secret,
            zone=settings.zone,
            clock=clock,
        ),
        retention=RetentionService(
            services.database,
            cases,
            retention_days=settings.retention_days,
            zone=settings.zone,
            clock=clock,
        ),
        zone=settings.zone,
        clock=clock,
    )


__all__ = [
    "CaseRuntime",
    "FollowupService",
    "PurgeReport",
    "RetentionService",
    "build_case_runtime",
]
