"""The survey service: questionnaire versions, the daily limit, and the submission itself.

The draft lives in the conversation's state (`bot.conversation.core`), which the channel keeps
under a pseudonym and encrypted; it is deleted on submit and on cancel. Submitting stores the
relevant answers and their case *before* the receipt code is shown, in the same transaction
that consumes one of the day's submissions for this person under a pseudonym that changes
every day (the channel's `Cadre.daily_pseudonym`: the core never sees who the person is).

A draft is finished on the questionnaire version it was started on: the configured one, a
version stored by an admin, or one bundled in `bot/questionnaires/earlier/` (the versions
shipped before the current file), so an upgrade never strands a half-answered draft.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from bot.anonymity.receipt import new_receipt_code, receipt_hash
from bot.campaigns.service import CampaignService
from bot.clock import WallClock, utc_now
from bot.conversation.core import DRAFT_KEY
from bot.conversation.model import Cadre
from bot.conversation.ports import LimitReached, SubmitResult, Submitted
from bot.questionnaire import (
    Questionnaire,
    QuestionnaireError,
    load_questionnaire,
    parse_questionnaire_text,
)
from bot.questionnaire.engine import Draft, Engine
from storage.database import Database
from storage.repositories import NewSubmission, RateLimitRepository, SubmissionRepository
from storage.repositories.questionnaire_versions import QuestionnaireVersionRepository

LIMIT_PURPOSE = "submissions"
EARLIER_QUESTIONNAIRES: Final = Path(__file__).resolve().parents[1] / "questionnaires" / "earlier"
"""Earlier shipped versions (any *.yaml here), which drafts started on them finish on."""

__all__ = ["LimitReached", "SubmitResult", "Submitted", "SurveyService"]


class SurveyService:
    """Everything about a respondent's questionnaire that is not Telegram."""

    def __init__(
        self,
        questionnaire: Questionnaire,
        database: Database,
        submissions: SubmissionRepository,
        rate_limits: RateLimitRepository,
        receipt_secret: bytes,
        campaigns: CampaignService,
        versions: QuestionnaireVersionRepository,
        *,
        max_per_day: int,
        zone: ZoneInfo,
        now: WallClock | None = None,
        earlier: Path | None = EARLIER_QUESTIONNAIRES,
    ) -> None:
        self.questionnaire = questionnaire
        self.engine = Engine(questionnaire)
        self.database = database
        self.submissions = submissions
        self.rate_limits = rate_limits
        self.receipt_secret = receipt_secret
        self.max_per_day = max_per_day
        self.zone = zone
        self._now = now or utc_now
        self.campaigns = campaigns  # none defined: the configured questionnaire is always open
        # Stored questionnaire versions: a draft is finished on the version it was started
        # on, and a campaign may run a stored version.
        self.versions = versions
        self._engines: dict[tuple[str, int], Engine] = {
            (questionnaire.id, questionnaire.version): self.engine
        }
        self._earlier_dir = earlier
        self._earlier: dict[tuple[str, int], Questionnaire] | None = None

    def today(self) -> date:
        return self._now().astimezone(self.zone).date()

    # --- questionnaire versions -------------------------------------------------------------

    def bundled_earlier(self) -> dict[tuple[str, int], Questionnaire]:
        """The valid questionnaires in the earlier-versions folder by (id, version), read
        once; a file that does not validate is left out (the shipped ones are tested)."""
        if self._earlier is None:
            found: dict[tuple[str, int], Questionnaire] = {}
            folder = self._earlier_dir
            for path in sorted(folder.glob("*.yaml")) if folder is not None else ():
                try:
                    questionnaire = load_questionnaire(path)
                except QuestionnaireError:
                    continue
                found.setdefault((questionnaire.id, questionnaire.version), questionnaire)
            self._earlier = found
        return self._earlier

    async def engine_for(self, questionnaire_id: str, version: int) -> Engine | None:
        """The engine of a questionnaire version: the configured one, a stored version, or
        a bundled earlier one (parsed once, then cached). None when it is none of them, or
        its stored text is not valid."""
        key = (questionnaire_id, version)
        if key in self._engines:
            return self._engines[key]
        text = await self.versions.text_of(questionnaire_id, version)
        if text is None:
            bundled = self.bundled_earlier().get(key)
            if bundled is None:
                return None
            engine = self._engines[key] = Engine(bundled)
            return engine
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
        if await self.campaigns.any_defined():
            current = await self.campaigns.current(self.today())
            if current is not None:
                engine = await self.engine_for(
                    current.questionnaire_id, current.questionnaire_version
                )
                if engine is not None:
                    return engine
        return self.engine

    def engine_of(self, draft: Draft) -> Engine:
        """The engine of a draft returned by `draft_in` (its own version)."""
        return self._engines.get((draft.questionnaire_id, draft.version), self.engine)

    # --- drafts in the conversation state ------------------------------------------------

    async def draft_in(self, data: dict[str, Any]) -> Draft | None:
        """The draft in the conversation state, its questionnaire version's engine loaded;
        None if there is none, it does not parse, or its version is gone or does not fit."""
        raw = data.get(DRAFT_KEY)
        if not isinstance(raw, dict):
            return None
        try:
            draft = Draft.from_json(raw)
        except (KeyError, TypeError, ValueError):
            return None
        engine = await self.engine_for(draft.questionnaire_id, draft.version)
        return draft if engine is not None and engine.accepts(draft) else None

    # --- limits and submission ------------------------------------------------------------

    @staticmethod
    def _limit_key(cadre: Cadre, day: date) -> str:
        return cadre.daily_pseudonym(LIMIT_PURPOSE, day)

    async def limit_reached(self, cadre: Cadre) -> bool:
        day = self.today()
        used = await self.rate_limits.used(self._limit_key(cadre, day), day)
        return used >= self.max_per_day

    async def availability(self) -> tuple[bool, str | None]:
        """May a respondent start now, and in which campaign (None when none is defined)."""
        availability = await self.campaigns.availability()
        return availability.open, availability.campaign_id

    async def submit(
        self, draft: Draft, cadre: Cadre, *, campaign_id: str | None = None
    ) -> SubmitResult:
        """Store the draft's relevant answers with their case, counting one of the day's
        submissions, all in one transaction; the receipt code exists only in the result.

        `campaign_id` is the campaign the draft was started in; without it, the campaign open
        now if it runs the draft's version (a draft started in a campaign is finished in it
        even if it closed meanwhile; one on another version is not tagged with it).
        """
        day = self.today()
        if campaign_id is None:
            current = await self.campaigns.current(day)
            if current is not None and (
                current.questionnaire_id,
                current.questionnaire_version,
            ) == (
                draft.questionnaire_id,
                draft.version,
            ):
                campaign_id = current.id
        code = new_receipt_code()
        engine = self.engine_of(draft)
        questionnaire = engine.questionnaire
        new = NewSubmission(
            questionnaire_id=questionnaire.id,
            questionnaire_version=questionnaire.version,
            answers=engine.relevant_answers(draft),
            text_question_ids=questionnaire.text_question_ids,
            day=day,
            receipt_hash=receipt_hash(code, self.receipt_secret),
            campaign_id=campaign_id,
        )
        # One transaction: a submission that fails to store uses up none of the day's limit.
        async with self.database.transaction() as connection:
            limit_key = self._limit_key(cadre, day)
            if not await self.rate_limits.try_consume(
                limit_key, day, self.max_per_day, connection=connection
            ):
                return LimitReached(self.max_per_day)
            await self.submissions.store(new, connection=connection)
        return Submitted(code)
