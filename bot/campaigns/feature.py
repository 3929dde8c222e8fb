"""The campaigns feature, wired: `build_campaigns` makes the service from the campaign and
questionnaire-version repositories and the audited staff actions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TypedDict

from bot.campaigns.service import CampaignService
from bot.staff.audited import AuditedActions
from storage.database import Database
from storage.repositories.campaigns import CampaignRepository
from storage.repositories.questionnaire_versions import QuestionnaireVersionRepository


class CampaignData(TypedDict):
    """What the campaign handlers receive by name."""

    campaigns: CampaignService


@dataclass(frozen=True)
class CampaignFeature:
    service: CampaignService
    versions: QuestionnaireVersionRepository

    def handler_data(self) -> CampaignData:
        return {"campaigns": self.service}

    async def on_startup(self) -> None:
        """Nothing to start: campaign reads are cached on first use."""

    async def on_shutdown(self) -> None:
        """Nothing runs in the background."""


def build_campaigns(
    database: Database, audited: AuditedActions, *, today: Callable[[], date]
) -> CampaignFeature:
    versions = QuestionnaireVersionRepository(database)
    service = CampaignService(CampaignRepository(database), versions, audited, today)
    return CampaignFeature(service=service, versions=versions)
