"""The survey service: drafts in FSM data, and the submission itself.

The draft lives in the FSM storage, which keys it by an HMAC pseudonym and encrypts it; it is
deleted on submit and on cancel. Submitting stores the relevant answers in one transaction
*before* the receipt code is shown, and consumes one of the day's submissions for this person
under a pseudonym that changes every day.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.anonymity.pseudonym import Pseudonymizer
from bot.anonymity.receipt import new_receipt_code, receipt_hash
from bot.questionnaire import Questionnaire
from bot.questionnaire.engine import Draft, Engine
from storage.repositories import NewSubmission, RateLimitRepository, SubmissionRepository
from storage.repositories.campaigns import CampaignRepository

DRAFT_KEY = "draft"
MESSAGE_KEY = "msg"
FIRST_KEY = "first"
CAMPAIGN_KEY = "campaign"  # the campaign the draft was started in (issue 6)


@dataclass(frozen=True)
class Submitted:
    receipt_code: str


@dataclass(frozen=True)
class LimitReached:
    limit: int


SubmitResult = Submitted | LimitReached


class SurveyService:
    """Everything about a respondent's questionnaire that is not Telegram."""

    def __init__(
        self,
        questionnaire: Questionnaire,
        submissions: SubmissionRepository,
        rate_limits: RateLimitRepository,
        pseudonymizer: Pseudonymizer,
        receipt_secret: bytes,
        *,
        max_per_day: int,
        zone: ZoneInfo,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.questionnaire = questionnaire
        self.engine = Engine(questionnaire)
        self.submissions = submissions
        self.rate_limits = rate_limits
        self.pseudonymizer = pseudonymizer
        self.receipt_secret = receipt_secret
        self.max_per_day = max_per_day
        self.zone = zone
        self._now = now or (lambda: datetime.now(tz=zone))
        # Campaigns (issue 6), set by the app; None or no campaign defined: always open.
        self.campaigns: CampaignRepository | None = None

    def today(self) -> date:
        return self._now().astimezone(self.zone).date()

    # --- drafts in FSM data -------------------------------------------------------------

    def load_draft(self, data: dict[str, Any]) -> Draft | None:
        """The draft in FSM data, or None if there is none or it is for another version."""
        raw = data.get(DRAFT_KEY)
        if not isinstance(raw, dict):
            return None
        try:
            draft = Draft.from_json(raw)
        except (KeyError, TypeError, ValueError):
            return None
        if not self.is_current(draft):
            return None
        return draft

    def has_foreign_draft(self, data: dict[str, Any]) -> bool:
        """A draft exists but for another questionnaire version (it cannot be resumed)."""
        raw = data.get(DRAFT_KEY)
        return isinstance(raw, dict) and self.load_draft(data) is None

    def is_current(self, draft: Draft) -> bool:
        return self.engine.accepts(draft)

    @staticmethod
    def draft_data(draft: Draft, message_id: int, first_message_id: int) -> dict[str, Any]:
        return {
            DRAFT_KEY: draft.to_json(),
            MESSAGE_KEY: message_id,
            FIRST_KEY: first_message_id,
        }

    # --- limits and submission ------------------------------------------------------------

    def _limit_key(self, user_id: int, day: date) -> str:
        return self.pseudonymizer.daily("submissions", day, user_id)

    async def limit_reached(self, user_id: int) -> bool:
        day = self.today()
        used = await self.rate_limits.used(self._limit_key(user_id, day), day)
        return used >= self.max_per_day

    async def availability(self) -> tuple[bool, str | None]:
        """May a respondent start now, and in which campaign (None when none is defined)."""
        if self.campaigns is None or not await self.campaigns.any_defined():
            return True, None
        current = await self.campaigns.current(self.today())
        return current is not None, None if current is None else current.id

    async def submit(
        self, draft: Draft, user_id: int, *, campaign_id: str | None = None
    ) -> SubmitResult:
        """Store the draft's relevant answers; the receipt code exists only in the result.

        `campaign_id` is the campaign the draft was started in; without it, the campaign open
        now (a draft started in a campaign is finished in it even if it closed meanwhile).
        """
        day = self.today()
        if campaign_id is None:
            _, campaign_id = await self.availability()
        if not await self.rate_limits.try_consume(
            self._limit_key(user_id, day), day, self.max_per_day
        ):
            return LimitReached(self.max_per_day)
        code = new_receipt_code()
        await self.submissions.store(
            NewSubmission(
                questionnaire_id=self.questionnaire.id,
                questionnaire_version=self.questionnaire.version,
                answers=self.engine.relevant_answers(draft),
                text_question_ids=self.questionnaire.text_question_ids,
                day=day,
                receipt_hash=receipt_hash(code, self.receipt_secret),
                campaign_id=campaign_id,
            )
        )
        return Submitted(code)
