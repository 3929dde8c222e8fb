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
from bot.questionnaire import Questionnaire, QuestionnaireError, parse_questionnaire_text
from bot.questionnaire.engine import Draft, Engine
from storage.repositories import NewSubmission, RateLimitRepository, SubmissionRepository
from storage.repositories.campaigns import CampaignRepository
from storage.repositories.questionnaire_versions import QuestionnaireVersionRepository

DRAFT_KEY = "draft"
MESSAGE_KEY = "msg"
FIRST_KEY = "first"
CAMPAIGN_KEY = "campaign"  # the campaign the draft was started in (issue 6)
PREVIEW_KEY = "preview"  # an admin's preview walk: Submit stores nothing (issue 6)
# The last typed answer while it is still the current one: the cadre's message id, the
# question, and the draft as it was before that answer (so an edit can be applied instead).
TYPED_KEY = "typed"


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
        # Stored questionnaire versions (issue 6), set by the app: a draft is finished on the
        # version it was started on, and a campaign may run a stored version.
        self.versions: QuestionnaireVersionRepository | None = None
        self._engines: dict[tuple[str, int], Engine] = {
            (questionnaire.id, questionnaire.version): self.engine
        }

    def today(self) -> date:
        return self._now().astimezone(self.zone).date()

    # --- questionnaire versions -------------------------------------------------------------

    async def engine_for(self, questionnaire_id: str, version: int) -> Engine | None:
        """The engine of a questionnaire version: the configured one, or a stored version
        (parsed once, then cached). None when it is neither stored nor valid."""
        key = (questionnaire_id, version)
        if key in self._engines:
            return self._engines[key]
        if self.versions is None:
            return None
        text = await self.versions.text_of(questionnaire_id, version)
        if text is None:
            return None
        try:
            questionnaire = parse_questionnaire_text(text, f"{questionnaire_id} v{version}")
        except QuestionnaireError:
            return None
        if (questionnaire.id, questionnaire.version) != key:
            return None
        engine = self._engines[key] = Engine(questionnaire)
        return engine

    async def engine_now(self) -> Engine:
        """The engine new respondents get: the open campaign's version, else the configured."""
        if self.campaigns is not None and await self.campaigns.any_defined():
            current = await self.campaigns.current(self.today())
            if current is not None:
                engine = await self.engine_for(
                    current.questionnaire_id, current.questionnaire_version
                )
                if engine is not None:
                    return engine
        return self.engine

    async def prepare(self, data: dict[str, Any]) -> None:
        """Load the engine of the draft in FSM data (if any) so `load_draft` accepts it."""
        raw = data.get(DRAFT_KEY)
        if not isinstance(raw, dict):
            return
        try:
            draft = Draft.from_json(raw)
        except (KeyError, TypeError, ValueError):
            return
        await self.engine_for(draft.questionnaire_id, draft.version)

    def engine_of(self, draft: Draft) -> Engine:
        """The engine of a draft returned by `load_draft` (its own version)."""
        return self._engines.get((draft.questionnaire_id, draft.version), self.engine)

    # --- drafts in FSM data -------------------------------------------------------------

    async def draft_in(self, data: dict[str, Any]) -> Draft | None:
        """The draft in FSM data, with its questionnaire version's engine made ready."""
        await self.prepare(data)
        return self.load_draft(data)

    def load_draft(self, data: dict[str, Any]) -> Draft | None:
        """The draft in FSM data, or None if there is none or its version is unknown (call
        `prepare` first so a stored version's engine is loaded)."""
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
        """Whether the draft's version has a loaded engine (it can be resumed)."""
        engine = self._engines.get((draft.questionnaire_id, draft.version))
        return engine is not None and engine.accepts(draft)

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
        now if it runs the draft's version (a draft started in a campaign is finished in it
        even if it closed meanwhile; one on another version is not tagged with it).
        """
        day = self.today()
        if campaign_id is None and self.campaigns is not None:
            current = await self.campaigns.current(day)
            if current is not None and (
                current.questionnaire_id,
                current.questionnaire_version,
            ) == (
                draft.questionnaire_id,
                draft.version,
            ):
                campaign_id = current.id
        if not await self.rate_limits.try_consume(
            self._limit_key(user_id, day), day, self.max_per_day
        ):
            return LimitReached(self.max_per_day)
        code = new_receipt_code()
        engine = self.engine_of(draft)
        questionnaire = engine.questionnaire
        await self.submissions.store(
            NewSubmission(
                questionnaire_id=questionnaire.id,
                questionnaire_version=questionnaire.version,
                answers=engine.relevant_answers(draft),
                text_question_ids=questionnaire.text_question_ids,
                day=day,
                receipt_hash=receipt_hash(code, self.receipt_secret),
                campaign_id=campaign_id,
            )
        )
        return Submitted(code)
