"""Loading what a campaign report needs: the campaign, the one before it, its questionnaire
version, the released digest data (never a fresh build: two reports must not differ by
fewer than K reports) and, only when the campaign reached K, the quotes staff marked."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

from bot.anonymity.crypto import DecryptionError
from bot.campaigns import CampaignService
from bot.digest.scheduler import DigestService
from bot.questionnaire import Questionnaire
from bot.report.content import Report, build_report
from bot.respondent.survey import SurveyService
from storage.repositories import SubmissionRepository
from storage.repositories.campaigns import Campaign
from storage.repositories.submissions import QuotableText

logger = logging.getLogger(__name__)


class ReportService:
    """Builds the report model of one campaign from the services that own its parts."""

    def __init__(
        self,
        digests: DigestService,
        campaigns: CampaignService,
        survey: SurveyService,
        submissions: SubmissionRepository,
        questionnaire: Questionnaire,
        *,
        today: Callable[[], date],
    ) -> None:
        self._digests = digests
        self._campaigns = campaigns
        self._survey = survey
        self._submissions = submissions
        self._questionnaire = questionnaire
        self._today = today

    async def campaign(self, campaign_id: str) -> Campaign | None:
        """The campaign as an admin typed its id (None: there is none)."""
        return await self._campaigns.get(campaign_id)

    async def report(self, campaign: Campaign, *, locale: str = "zh-CN") -> Report:
        """The report of `campaign` as staff may see it now (the last released step)."""
        engine = await self._survey.engine_for(
            campaign.questionnaire_id, campaign.questionnaire_version
        )
        questionnaire = self._questionnaire if engine is None else engine.questionnaire
        built = await self._digests.campaign_released(
            campaign,
            questionnaire=questionnaire,
            previous=await self._campaigns.previous(campaign),
        )
        data = built.data
        quotes: list[QuotableText] = []
        if data.enough:
            try:
                quotes = await self._submissions.quotable_texts(
                    data.questionnaire_id,
                    campaign_id=campaign.id,
                    first_day=campaign.opens_day,
                    last_day=campaign.closes_day,
                )
            except DecryptionError:
                # No id, no question: the report goes on without quotes.
                logger.warning("report: a marked text could not be decrypted, quotes left out")
        return build_report(
            data, questionnaire, campaign, as_of=self._today(), quotes=quotes, locale=locale
        )
