"""The respondent feature, built once per process: the survey service the conversation core
asks about drafts, questionnaire versions, daily limits and submissions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from bot.campaigns.feature import CampaignFeature
from bot.clock import WallClock
from bot.config import Settings
from bot.questionnaire import Questionnaire
from bot.respondent.survey import SurveyService
from storage.database import Database
from storage.repositories import RateLimitRepository, SubmissionRepository


class RespondentData(TypedDict):
    """What the cadre's questionnaire handlers receive by name."""

    survey: SurveyService


@dataclass(frozen=True)
class RespondentFeature:
    """The cadre's questionnaire: drafts, campaigns' versions, submissions."""

    survey: SurveyService

    def handler_data(self) -> RespondentData:
        return {"survey": self.survey}

    async def on_startup(self) -> None:
        """Nothing to start: engines of stored versions are loaded on first use."""

    async def on_shutdown(self) -> None:
        """Nothing runs in the background."""


def build_respondent(
    settings: Settings,
    questionnaire: Questionnaire,
    *,
    database: Database,
    submissions: SubmissionRepository,
    rate_limits: RateLimitRepository,
    receipt_secret: bytes,
    campaigns: CampaignFeature,
    clock: WallClock,
) -> RespondentFeature:
    return RespondentFeature(
        SurveyService(
            questionnaire,
            database,
            submissions,
            rate_limits,
            receipt_secret,
            campaigns.service,
            campaigns.versions,
            max_per_day=settings.max_submissions_per_day,
            zone=settings.zone,
            now=clock,
        )
    )
