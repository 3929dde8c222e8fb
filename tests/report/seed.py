"""Seeding a campaign on a real database: submissions of version 2 with free texts, some of
them marked quotable by staff, as `/cases` would mark them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from bot.anonymity.crypto import TextCipher
from bot.questionnaire import Questionnaire
from storage.database import Database
from storage.repositories import CaseRepository, NewSubmission, SubmissionRepository
from storage.repositories.campaigns import Campaign, CampaignRepository

FIRST = date(2026, 11, 1)
LAST = date(2026, 11, 30)
MARKED_EXAMPLE = "文件层层转发，一周三个会"
MARKED_SUGGESTION = "把时间还给群众"
UNMARKED = "这句没有标记，不能出现"
SMALL_GROUP = "village_community"


@dataclass(frozen=True)
class SeededCampaign:
    campaign: Campaign
    submissions: int


async def add_report(
    repository: SubmissionRepository,
    questionnaire: Questionnaire,
    campaign_id: str,
    answers: dict[str, Any],
    day: date = FIRST,
) -> str:
    """One more submission of the campaign."""
    return await repository.store(
        NewSubmission(
            questionnaire.id,
            questionnaire.version,
            answers,
            questionnaire.text_question_ids & frozenset(answers),
            day,
            secrets.token_hex(32),
            campaign_id=campaign_id,
        )
    )


async def seed_campaign(
    database: Database,
    cipher: TextCipher,
    questionnaire: Questionnaire,
    *,
    title: str = "十一月专项调研",
    reports: int = 12,
) -> SeededCampaign:
    """`reports` submissions (two of them from a unit type nobody else chose), every one with
    an example of p1 and a suggestion; only the first report's texts are marked quotable."""
    campaign = await CampaignRepository(database).create(
        title, questionnaire.id, questionnaire.version, FIRST, LAST
    )
    submissions = SubmissionRepository(database, cipher)
    cases = CaseRepository(database, cipher)
    for index in range(reports):
        answers: dict[str, Any] = {
            "unit_type": SMALL_GROUP if index < 2 else "town_street",
            "post_level": "staff",
            "freq.p1": "often" if index < 7 else "never",
            "freq.p2": "sometimes",
            "change_since": "no_change",
            "measures": ["fewer_meetings_docs"],
        }
        if index < 7:
            answers["examples"] = ["p1"]
            answers["p1_example"] = MARKED_EXAMPLE if index == 0 else f"{UNMARKED}（例{index}）"
        answers["suggestion"] = MARKED_SUGGESTION if index == 0 else f"{UNMARKED}（议{index}）"
        day = FIRST + timedelta(days=1 + index % 9)
        stored = await add_report(submissions, questionnaire, campaign.id, answers, day)
        if index == 0:
            for question_id in ("p1_example", "suggestion"):
                assert await cases.set_quotable(stored, question_id, 0, True)
    return SeededCampaign(campaign, reports)
