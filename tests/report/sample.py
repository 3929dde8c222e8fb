"""Hand-built digest data of one campaign (K = 5), as `campaign_released` would give it."""

from __future__ import annotations

import dataclasses
from datetime import date

from bot.digest.aggregate import (
    MERGED,
    NO_ANSWER,
    Breakdown,
    Cell,
    Comparison,
    CrossGroup,
    CrossTab,
    DigestData,
    GroupFigures,
    ProblemFigures,
    RankedChoice,
)
from bot.digest.period import Period
from bot.statuses import CampaignStatus
from storage.repositories.campaigns import Campaign

K = 5
ROWS = ("p1", "p2", "p3", "p4", "p5", "p6", "p10", "p7", "p8", "p9")
CAMPAIGN = Campaign(
    "4821",
    "十一月专项调研",
    "formalism",
    2,
    date(2026, 11, 1),
    date(2026, 11, 30),
    CampaignStatus.OPEN,
)
PERIOD = Period.campaign(CAMPAIGN.opens_day, CAMPAIGN.closes_day)
TODAY = date(2026, 11, 20)


def problem(row: str, share: float | None) -> ProblemFigures:
    return ProblemFigures(int(row[1:]), f"freq.{row}", "problems", often_share=share, impact_max=5)


def campaign_data() -> DigestData:
    problems = [problem(row, 0.2) for row in ROWS]
    problems[0] = dataclasses.replace(
        problem("p1", 0.6),
        previous_share=0.5,
        change_points=10.0,
        mean_impact=3.25,
        impact_answers=12,
    )
    problems[1] = dataclasses.replace(problem("p2", 0.4), mean_impact=4.0, impact_answers=None)
    problems[2] = problem("p3", None)
    return DigestData(
        period=PERIOD,
        questionnaire_id="formalism",
        k=K,
        campaign_id=CAMPAIGN.id,
        campaign_title=CAMPAIGN.title,
        submissions=20,
        any_often_share=0.75,
        problems=tuple(problems),
        measures=(
            RankedChoice("fewer_meetings_docs", 12, 0.6),
            RankedChoice("fewer_inspections", 7, 0.35),
        ),
        burden_sources=(RankedChoice("county", 8, 0.4),),
        change_since=(Cell("no_change", 10, 0.5), Cell("somewhat_lighter", None, None)),
        breakdowns=(
            Breakdown(
                "unit_type",
                (
                    GroupFigures("town_street", 10, 0.8),
                    GroupFigures(NO_ANSWER, 5, None),
                    GroupFigures(MERGED, 5, None),
                ),
            ),
        ),
        crosstabs=(
            CrossTab(
                "unit_type",
                1,
                "freq.p1",
                (
                    CrossGroup("town_street", 10, 0.7),
                    CrossGroup(NO_ANSWER, 5, None),
                    CrossGroup(MERGED, 5, None),
                ),
            ),
        ),
        comparison=Comparison(
            "campaign", "十月轮", date(2026, 10, 1), date(2026, 10, 31), 10, "3310"
        ),
    )


def below_k_data() -> DigestData:
    return DigestData(
        period=PERIOD,
        questionnaire_id="formalism",
        k=K,
        campaign_id=CAMPAIGN.id,
        campaign_title=CAMPAIGN.title,
        problems=tuple(ProblemFigures(int(r[1:]), f"freq.{r}", "problems") for r in ROWS),
    )
