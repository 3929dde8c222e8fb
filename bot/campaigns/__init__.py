"""Campaigns: survey rounds that open a questionnaire version between two days, and the
questionnaire versions admins upload for them."""

from bot.campaigns.feature import CampaignData, CampaignFeature, build_campaigns
from bot.campaigns.service import (
    Availability,
    CampaignService,
    NewCampaign,
    parse_new_campaign,
    parse_version_key,
)

__all__ = [
    "Availability",
    "CampaignData",
    "CampaignFeature",
    "CampaignService",
    "NewCampaign",
    "build_campaigns",
    "parse_new_campaign",
    "parse_version_key",
]
