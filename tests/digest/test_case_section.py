"""The digest's case section counts the period's own cases and obeys the K rule."""

from __future__ import annotations

import random
from datetime import date, timedelta

from bot.anonymity.crypto import TextCipher
from bot.cases.digest_section import CaseFigures, case_counts, render_case_section
from bot.digest.build import build_digest
from bot.digest.period import Period
from bot.questionnaire import Questionnaire
from bot.statuses import CaseStatus, FollowupOrigin
from storage.database import Database
from storage.repositories import CaseRepository, SubmissionRepository
from tests.digest import dataset
from tests.digest.dataset import PREVIOUS_WEEK, WEEK
from tests.digest.test_snapshots import add, make_service, shown

K = 5


async def _store(
    database: Database,
    cipher: TextCipher,
    questionnaire: Questionnaire,
    day: date,
    count: int,
    **options: str,
) -> list[str]:
    repository = SubmissionRepository(database, cipher)
    return [
        await dataset.store(repository, questionnaire, dataset.current_answers(i), day, **options)
        for i in range(count)
    ]


async def test_only_the_periods_own_cases_and_follow_ups_are_counted(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire
) -> None:
    this_week = await _store(database, cipher, questionnaire, WEEK.first_day, 6)
    earlier = await _store(database, cipher, questionnaire, PREVIOUS_WEEK.first_day, 9)
    await _store(database, cipher, questionnaire, WEEK.first_day, 3, questionnaire_id="other")
    await _store(database, cipher, questionnaire, WEEK.last_day, 2, campaign_id="spring")
    cases = CaseRepository(database, cipher)
    for submission_id in earlier[:5]:
        await cases.set_status(submission_id, CaseStatus.CLOSED, WEEK.first_day)
        # in the week
        await cases.add_message(submission_id, FollowupOrigin.CADRE, "补充", WEEK.first_day)
    # before the week
    await cases.add_message(this_week[0], FollowupOrigin.CADRE, "补充", PREVIOUS_WEEK.first_day)
    # not the cadre's
    await cases.add_message(this_week[1], FollowupOrigin.INVESTIGATOR, "请问", WEEK.first_day)

    figures = await case_counts(database, WEEK, questionnaire_id=questionnaire.id)
    # 6 + 2 (the campaign's) of this week; the 9 earlier ones and the other questionnaire's
    # are not this period's cases, however they were handled.
    assert figures.by_status == {
        "new": 8,
        "verifying": 0,
        "verified": 0,
        "closed": 0,
        "rejected": 0,
    }
    assert figures.followups_answered == 5  # cadre answers written during the week
    spring = await case_counts(
        database, WEEK, questionnaire_id=questionnaire.id, campaign_id="spring"
    )
    assert spring.by_status["new"] == 2 and spring.followups_answered == 0


def test_counts_below_k_are_not_written_as_numbers() -> None:
    figures = CaseFigures({"new": 7, "closed": 3, "verifying": 0}, 2)
    assert render_case_section(figures, k=K) == [
        "本期反映办理情况：待处理 7 件，核实中 少于 5 件，已核实 少于 5 件，已办结 少于 5 件，"
        "不予采纳 少于 5 件",
        "回访答复（本期）：少于 5 件",
    ]
    assert render_case_section(figures, k=K, locale="en") == [
        "This period's reports: new 7, checking fewer than 5, verified fewer than 5, "
        "closed fewer than 5, not taken up fewer than 5",
        "Follow-up answers this period: fewer than 5",
    ]
    assert render_case_section(None, k=K) == [
        "本期反映办理情况：本期反馈少于 5 份，为保护匿名不显示。"
    ]


async def test_a_campaign_digest_counts_this_campaigns_cases_as_this_round(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire
) -> None:
    campaign = Period.campaign(WEEK.first_day, WEEK.last_day)
    await _store(database, cipher, questionnaire, WEEK.first_day, 6, campaign_id="spring")

    built = await build_digest(database, cipher, questionnaire, campaign, k=K, campaign_id="spring")

    assert "本轮反映办理情况：待处理 6 件" in built.message.plain
    assert "回访答复（本轮）：少于 5 件" in built.message.plain
    assert "本期" not in "\n".join(render_case_section(None, k=K, campaign=True))
    assert render_case_section(None, k=K, locale="en", campaign=True) == [
        "This campaign's reports: fewer than 5 responses this campaign: not shown, "
        "to protect anonymity."
    ]


async def test_a_digest_below_k_hides_the_case_counts_too(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire
) -> None:
    empty = await build_digest(database, cipher, questionnaire, WEEK, k=K)
    ids = await _store(database, cipher, questionnaire, WEEK.first_day, K - 1)
    cases = CaseRepository(database, cipher)
    await cases.set_status(ids[0], CaseStatus.CLOSED, WEEK.first_day)
    await cases.add_message(ids[1], FollowupOrigin.CADRE, "补充", WEEK.first_day)

    small = await build_digest(database, cipher, questionnaire, WEEK, k=K)

    assert small.telegram_parts == empty.telegram_parts
    assert small.message.plain == empty.message.plain
    assert "待处理" not in small.message.plain
    assert "本期反馈少于 5 份，为保护匿名不显示" in small.message.plain


async def test_a_running_periods_case_counts_move_only_with_the_step(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire
) -> None:
    service = make_service(database, cipher, questionnaire)
    await add(database, cipher, questionnaire, 6)
    first = await service.released(WEEK)
    assert "待处理 6 件" in first.message.plain

    cases = CaseRepository(database, cipher)
    summaries, _total = await cases.list_by_status(CaseStatus.NEW, limit=10)
    for summary in summaries[:5]:
        await cases.set_status(summary.submission_id, CaseStatus.VERIFYING, WEEK.first_day)
        await cases.add_message(summary.submission_id, FollowupOrigin.CADRE, "补充", WEEK.first_day)
    assert shown(await service.released(WEEK)) == shown(first)

    await add(database, cipher, questionnaire, K, start=6)
    moved = await service.released(WEEK)
    assert "待处理 6 件" in moved.message.plain and "核实中 5 件" in moved.message.plain
    assert "回访答复（本期）：5 件" in moved.message.plain


async def test_the_scheduled_digest_of_a_week_counts_its_own_cases(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire
) -> None:
    await dataset.store_dataset(database, cipher, questionnaire)
    await _store(database, cipher, questionnaire, WEEK.last_day + timedelta(days=3), 7)
    built = await build_digest(database, cipher, questionnaire, WEEK, k=K, rng=random.Random(1))
    assert "待处理 12 件" in built.message.plain
