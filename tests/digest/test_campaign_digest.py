"""A campaign's digest: its whole span so far, compared with the campaign before it."""

from __future__ import annotations

import random
import secrets
from datetime import date
from typing import Any

from bot.anonymity.crypto import TextCipher
from bot.digest.aggregate import Comparison, aggregate_digest
from bot.digest.period import Period
from bot.digest.scheduler import campaign_comparison, campaign_period
from bot.questionnaire import Questionnaire
from bot.statuses import CampaignStatus
from storage.database import Database
from storage.repositories import SubmissionRepository
from storage.repositories.campaigns import Campaign, CampaignRepository
from storage.repositories.submissions import NewSubmission

K = 5
NOVEMBER = Period.campaign(date(2026, 11, 1), date(2026, 11, 30))


async def _store(
    repository: SubmissionRepository,
    questionnaire: Questionnaire,
    answers: dict[str, Any],
    day: date,
    campaign_id: str | None,
    count: int,
) -> None:
    for _ in range(count):
        await repository.store(
            NewSubmission(
                questionnaire.id,
                questionnaire.version,
                answers,
                frozenset(),
                day,
                secrets.token_hex(32),
                campaign_id=campaign_id,
            )
        )


async def test_the_whole_span_counts_and_the_previous_campaign_is_the_trend(
    database: Database, cipher: TextCipher, questionnaire_v2: Questionnaire
) -> None:
    repository = SubmissionRepository(database, cipher)
    often = {"freq.p1": "often", "freq.p2": "never", "unit_type": "town_street"}
    never = {"freq.p1": "never", "freq.p2": "never", "unit_type": "town_street"}
    # November: 10 often on the 2nd, 5 never on the 28th (other weeks), 3 outside it.
    await _store(repository, questionnaire_v2, often, date(2026, 11, 2), "NOV", 10)
    await _store(repository, questionnaire_v2, never, date(2026, 11, 28), "NOV", 5)
    await _store(repository, questionnaire_v2, often, date(2026, 11, 28), None, 3)
    # October's campaign: 5 of 10 met p1 often.
    await _store(repository, questionnaire_v2, often, date(2026, 10, 10), "OCT", 5)
    await _store(repository, questionnaire_v2, never, date(2026, 10, 11), "OCT", 5)
    october = Comparison("campaign", "十月轮", date(2026, 10, 1), date(2026, 10, 31), None, "OCT")

    data = await aggregate_digest(
        database,
        cipher,
        questionnaire_v2,
        NOVEMBER,
        k=K,
        campaign_id="NOV",
        compare_with=october,
        rng=random.Random(1),
    )

    assert data.submissions == 15  # both weeks of the campaign, nothing outside it
    p1 = next(p for p in data.problems if p.number == 1)
    assert p1.often_share == 10 / 15
    assert p1.previous_share == 0.5
    assert p1.change_points is not None and round(p1.change_points) == 17
    assert data.comparison is not None and data.comparison.submissions == 10
    assert data.comparison.label == "十月轮"
    # A campaign digest carries breakdowns and cross-tabs, here of the one group answered.
    p1_by_unit = next(t for t in data.crosstabs if (t.breakdown_id, t.problem) == ("unit_type", 1))
    assert [(g.group_id, g.size, g.often_share) for g in p1_by_unit.groups] == [
        ("town_street", 15, 10 / 15)
    ]
    assert data.with_text_share == 0.0  # nobody wrote anything

    alone = await aggregate_digest(
        database, cipher, questionnaire_v2, NOVEMBER, k=K, campaign_id="NOV"
    )
    assert alone.comparison is None  # a campaign compares only with a campaign named for it
    assert all(p.change_points is None and p.previous_share is None for p in alone.problems)


async def test_a_previous_campaign_below_k_gives_no_trend(
    database: Database, cipher: TextCipher, questionnaire_v2: Questionnaire
) -> None:
    repository = SubmissionRepository(database, cipher)
    often = {"freq.p1": "often"}
    await _store(repository, questionnaire_v2, often, date(2026, 11, 2), "NOV", K)
    await _store(repository, questionnaire_v2, often, date(2026, 10, 2), "OCT", K - 1)
    october = Comparison("campaign", "十月轮", date(2026, 10, 1), date(2026, 10, 31), None, "OCT")

    data = await aggregate_digest(
        database, cipher, questionnaire_v2, NOVEMBER, k=K, campaign_id="NOV", compare_with=october
    )

    assert data.comparison is not None and data.comparison.submissions is None
    assert all(p.previous_share is None and p.change_points is None for p in data.problems)


async def test_the_previous_campaign_is_the_one_that_closed_last_before_this_opened(
    database: Database,
) -> None:
    campaigns = CampaignRepository(database)
    september = await campaigns.create("九月", "formalism", 2, date(2026, 9, 1), date(2026, 9, 30))
    october = await campaigns.create("十月", "formalism", 2, date(2026, 10, 1), date(2026, 10, 31))
    november = await campaigns.create(
        "十一月", "formalism", 2, date(2026, 11, 1), date(2026, 11, 30)
    )
    await campaigns.create("别的问卷", "other", 1, date(2026, 10, 5), date(2026, 10, 20))
    overlapping = await campaigns.create(
        "重叠", "formalism", 2, date(2026, 10, 20), date(2026, 11, 5)
    )
    for campaign in (september, october, november, overlapping):
        await campaigns.close(campaign.id)
    planned = await campaigns.create(
        "计划中", "formalism", 2, date(2026, 10, 25), date(2026, 10, 28)
    )

    found = await campaigns.previous(november)
    assert found is not None and found.id == october.id  # not the overlapping one, not planned
    assert planned.status == CampaignStatus.PLANNED
    first = await campaigns.previous(september)
    assert first is None


def test_a_campaign_period_and_its_comparison() -> None:
    october = Campaign(
        "1234", "十月", "formalism", 2, date(2026, 10, 1), date(2026, 10, 31), CampaignStatus.CLOSED
    )
    assert campaign_period(october) == Period.campaign(date(2026, 10, 1), date(2026, 10, 31))
    assert campaign_comparison(october) == Comparison(
        "campaign", "十月", date(2026, 10, 1), date(2026, 10, 31), None, "1234"
    )
