"""Campaigns end to end: with none defined the questionnaire is open (as before); once one
exists, cadres answer only while it is open, and their submissions record it."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from bot.offline import OfflineBot
from bot.respondent.callbacks import Act
from storage.tables import audit_log, submissions
from tests.e2e.conftest import StartOffline
from tests.e2e.driver import (
    WAIT,
    active,
    answer_until_review,
    start_questionnaire,
    submit,
    survey_buttons,
)

ADMIN = 5_580_001


async def campaign(admin_text: str, offline: OfflineBot) -> str:
    admin = offline.emulator.user(user_id=ADMIN, language_code="en")
    sent = await admin.send_command("/campaign", admin_text)
    reply = await admin.wait_for_message(after=sent, timeout=WAIT)
    return reply.text or ""


async def test_campaign_gates_the_questionnaire_and_tags_submissions(
    start_offline: StartOffline,
) -> None:
    offline = await start_offline(admin_ids=[ADMIN])
    today = date.today()
    span = f"{(today - timedelta(days=2)).isoformat()} | {(today + timedelta(days=2)).isoformat()}"
    created = await campaign(f"new 第一轮 | {span}", offline)
    assert "Campaign created" in created
    listing = await campaign("list", offline)
    campaign_id = listing.split("\n")[1].split()[0]

    cadre = offline.new_user(language_code="en")
    await start_questionnaire(cadre)
    polite = await cadre.wait_for_message("No survey is open", timeout=WAIT, after=0)
    assert all(data.a == Act.CONSENT for _, data in survey_buttons(active(cadre)))
    assert polite.message_id > active(cadre).message_id

    assert "open" in await campaign(f"open {campaign_id}", offline)
    second = offline.new_user()
    await start_questionnaire(second)
    await answer_until_review(second)
    await submit(second)

    assert offline.services is not None
    async with offline.services.database.engine.connect() as connection:
        tagged = (await connection.execute(select(submissions.c.campaign_id))).scalars().all()
        actions = (await connection.execute(select(audit_log.c.action))).scalars().all()
    assert tagged == [campaign_id]
    assert {"campaign.create", "campaign.open"} <= set(actions)

    assert "closed" in await campaign(f"close {campaign_id}", offline)
    third = offline.new_user(language_code="en")
    await start_questionnaire(third)
    await third.wait_for_message("No survey is open", timeout=WAIT, after=0)


async def test_non_admins_cannot_manage_campaigns(start_offline: StartOffline) -> None:
    offline = await start_offline(admin_ids=[ADMIN])
    intruder = offline.new_user(language_code="en")
    sent = await intruder.send_command("/campaign", "new x | 2026-01-01 | 2026-12-31")
    reply = await intruder.wait_for_message(after=sent, timeout=WAIT)
    assert "Only administrators" in (reply.text or "")
    assert "No campaigns yet" in await campaign("list", offline)
