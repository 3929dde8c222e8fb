"""The cadre's side of a follow-up: open a report with the receipt code, read, answer.

Nothing here learns who the cadre is: the conversation core keeps the open report's receipt
*hash* in the follow-up session store (`bot.cases.sessions`: memory or Redis, never the
database), for as long as the cadre is reading or answering. A wrong code costs exactly what
a right one costs: the same hashing, the same query, and the answer is padded to a fixed
minimum latency, so timing tells nothing. Each person gets `max_tries` code attempts a day,
counted under a pseudonym that changes daily (the channel's `Cadre.daily_pseudonym`).
"""

from __future__ import annotations

import asyncio
import time
from datetime import date
from zoneinfo import ZoneInfo

from bot.anonymity.receipt import contains_receipt, normalize_receipt, receipt_hash
from bot.anonymity.scrubber import scrub
from bot.clock import WallClock
from bot.conversation.model import Cadre
from bot.conversation.ports import (
    Answered,
    AnswerResult,
    Opened,
    OpenResult,
    ReceiptRefused,
    Report,
    ReportGone,
    TooManyTries,
    WrongCode,
)
from bot.statuses import FollowupOrigin
from storage.repositories import CaseRepository, RateLimitRepository
from storage.repositories.submissions import SubmissionRepository

MAX_TRIES_PER_DAY = 5
MIN_SECONDS = 0.3  # every code check, right or wrong, takes at least this long
_DUMMY_CODE = "0000-0000-0000-0000-0000"  # hashed when the input is not even code-shaped
TRIES_PURPOSE = "followup"

__all__ = [
    "AnswerResult",
    "Answered",
    "FollowupService",
    "OpenResult",
    "Opened",
    "ReceiptRefused",
    "Report",
    "ReportGone",
    "TooManyTries",
    "WrongCode",
]


class FollowupService:
    def __init__(
        self,
        submissions: SubmissionRepository,
        cases: CaseRepository,
        rate_limits: RateLimitRepository,
        receipt_secret: bytes,
        *,
        zone: ZoneInfo,
        clock: WallClock,
        max_tries: int = MAX_TRIES_PER_DAY,
        min_seconds: float = MIN_SECONDS,
    ) -> None:
        self._submissions = submissions
        self._cases = cases
        self._rate_limits = rate_limits
        self._secret = receipt_secret
        self._zone = zone
        self._clock = clock
        self.max_tries = max_tries
        self.min_seconds = min_seconds

    def today(self) -> date:
        return self._clock().astimezone(self._zone).date()

    async def open(self, cadre: Cadre, text: str) -> OpenResult:
        """Check a typed code; the same work and (at least) the same time, right or wrong."""
        started = time.monotonic()
        try:
            day = self.today()
            allowed = await self._rate_limits.try_consume(
                cadre.daily_pseudonym(TRIES_PURPOSE, day), day, self.max_tries
            )
            normalised = normalize_receipt(text)
            hashed = receipt_hash(normalised or _DUMMY_CODE, self._secret)
            found = await self._submissions.find_by_receipt(hashed)
            if not allowed:
                return TooManyTries(self.max_tries)
            if normalised is None or found is None:
                return WrongCode()
            return Opened(hashed)
        finally:
            remaining = self.min_seconds - (time.monotonic() - started)
            if remaining > 0:
                await asyncio.sleep(remaining)

    async def _submission_id(self, hashed: str) -> str | None:
        return await self._submissions.find_by_receipt(hashed)

    async def report(self, hashed: str) -> Report | None:
        """The report's status and thread, or None once it is gone (retention)."""
        submission_id = await self._submission_id(hashed)
        if submission_id is None:
            return None
        summary = await self._cases.by_submission(submission_id)
        if summary is None:
            await self._cases.ensure_cases()
            summary = await self._cases.by_submission(submission_id)
            if summary is None:
                return None
        return Report(summary, await self._cases.thread(submission_id))

    async def answer(self, hashed: str, text: str) -> AnswerResult:
        """Add the cadre's answer (scrubbed; a receipt code in it is refused)."""
        if contains_receipt(text):
            return ReceiptRefused()
        submission_id = await self._submission_id(hashed)
        if submission_id is None:
            return ReportGone()
        if await self._cases.by_submission(submission_id) is None:
            await self._cases.ensure_cases()
        scrubbed = scrub(text)
        await self._cases.add_message(
            submission_id, FollowupOrigin.CADRE, scrubbed.text, self.today()
        )
        return Answered(scrubbed.masked)
