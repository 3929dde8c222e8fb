"""Campaigns end to end: with none defined the questionnaire is open (as before); once one
exists, cadres answer only while it is open, and their submissions record it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot.config import DEFAULT_QUESTIONNAIRE
from bot.harness.emulator import EmulatedUser
from bot.harness.offline import OfflineBot
from bot.respondent.callbacks import Act
from storage.tables import audit_log, submissions
from tests.e2e.conftest import StartOffline
from tests.e2e.driver import (
    WAIT,
    active,
    answer_until_review,
    opt_in,
    start_questionnaire,
    submit,
    survey_buttons,
)

# Scheduled digests stay off: they would land in the admin's chat mid-test.
pytestmark = pytest.mark.usefixtures("manual_digests")

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


async def test_a_campaign_runs_a_stored_version_and_old_drafts_finish_on_theirs(
    start_offline: StartOffline,
) -> None:
    offline = await start_offline(admin_ids=[ADMIN])
    admin = offline.emulator.user(user_id=ADMIN, language_code="en")
    shipped = DEFAULT_QUESTIONNAIRE.read_text(encoding="utf-8")
    assert "\nversion: 2\n" in shipped
    newer = shipped.replace("\nversion: 2\n", "\nversion: 3\n", 1)
    sent = await admin.send_document(newer.encode(), file_name="formalism-v3.yaml")
    assert "Stored as a new version" in (
        (await admin.wait_for_message(after=sent, timeout=WAIT)).text or ""
    )

    early = offline.new_user()  # no campaign yet: the configured version 2
    await start_questionnaire(early)

    today = date.today()
    span = f"{(today - timedelta(days=1)).isoformat()} | {(today + timedelta(days=1)).isoformat()}"
    assert "No stored questionnaire" in await campaign(
        f"new 第二轮 | {span} | formalism v9", offline
    )
    assert "Usage" in await campaign(f"new 第二轮 | {span} | formalism", offline)
    created = await campaign(f"new 第二轮 | {span} | formalism v3", offline)
    assert "Campaign created" in created and "formalism v3" in created
    listing = await campaign("list", offline)
    campaign_id = listing.split("\n")[1].split()[0]
    assert "open" in await campaign(f"open {campaign_id}", offline)

    late = offline.new_user()  # gets the open campaign's version 3
    await start_questionnaire(late)
    await answer_until_review(late)
    await submit(late)

    await answer_until_review(early)  # the draft on version 2 is finished on version 2
    await submit(early)

    assert offline.services is not None
    async with offline.services.database.engine.connect() as connection:
        versions = (await connection.execute(select(submissions.c.questionnaire_version))).scalars()
        assert sorted(versions) == [2, 3]
        tags = dict(
            (
                await connection.execute(
                    select(submissions.c.questionnaire_version, submissions.c.campaign_id)
                )
            ).all()
        )
    assert tags == {2: None, 3: campaign_id}  # the version-2 draft is not tagged with it


async def _send_drafted_broadcast(admin: EmulatedUser, after: int) -> None:
    """Accept the drafted announcement: everyone, then Send."""
    question = await admin.wait_for_message("Who should receive it?", after=after, timeout=WAIT)
    press = await admin.press(lambda b: b.text.startswith("All subscribers"), question)
    await press.wait_answered(WAIT)
    confirm = await admin.wait_for_message("Send the preview above", after=question, timeout=WAIT)
    press = await admin.press("Send", confirm)
    await press.wait_answered(WAIT)


def _received(user: EmulatedUser, words: str) -> int:
    return sum(1 for m in user.messages if m.from_bot and words in (m.text or ""))


async def test_an_admin_runs_a_campaign_from_announcement_to_close(
    start_offline: StartOffline,
) -> None:
    offline = await start_offline(admin_ids=[ADMIN])
    admin = offline.emulator.user(user_id=ADMIN, language_code="en")
    subscribers = []
    for _ in range(3):
        user = offline.new_user()
        await opt_in(user)  # announcements are the cadre's choice
        subscribers.append(user)
    today = date.today()
    closes = (today + timedelta(days=2)).isoformat()
    await campaign(
        f"new 第二轮 <春季> | {(today - timedelta(days=1)).isoformat()} | {closes}", offline
    )
    campaign_id = (await campaign("list", offline)).split("\n")[1].split()[0]
    assert "not open" in await campaign(f"announce {campaign_id}", offline)

    opened = await campaign(f"open {campaign_id}", offline)
    assert f"/campaign announce {campaign_id}" in opened
    sent = await admin.send_command("/campaign", f"announce {campaign_id}")
    preview = await admin.wait_for_message("第二轮 <春季>", after=sent, timeout=WAIT)
    # An English-speaking admin drafts for the cadres: in their language (DEFAULT_LOCALE).
    assert "调研组" in (preview.text or "") and closes in (preview.text or "")
    await _send_drafted_broadcast(admin, sent.message_id)
    for user in subscribers:
        await user.wait_for(lambda u: _received(u, "第二轮 <春季>") == 1, WAIT)

    cadre = offline.new_user()  # opts in to announcements, then answers
    await opt_in(cadre)
    await start_questionnaire(cadre)
    await answer_until_review(cadre)
    await submit(cadre)

    sent = await admin.send_command("/campaign", f"remind {campaign_id}")
    await admin.wait_for_message("将于", after=sent, timeout=WAIT)
    await _send_drafted_broadcast(admin, sent.message_id)
    # Everyone is reminded, the one who answered too: the bot cannot know who did.
    for user in [*subscribers, cadre]:
        await user.wait_for(lambda u: _received(u, "结束") == 1, WAIT)
    assert all(_received(user, "第二轮 <春季>") == 2 for user in subscribers)

    assert "closed" in await campaign(f"close {campaign_id}", offline)
    assert "not open" in await campaign(f"remind {campaign_id}", offline)
    assert offline.services is not None
    async with offline.services.database.engine.connect() as connection:
        actions = (await connection.execute(select(audit_log.c.action))).scalars().all()
    assert {"campaign.open", "broadcast.start", "campaign.close"} <= set(actions)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("id: x\nsections: " + "[" * 5000 + "]" * 5000, "Line 2: nested too deeply"),
        ("id: x\nversion: " + "9" * 100_000, "Line 2: a number is too large"),
        ("".join(f"k{i}: 1\n" for i in range(20_000)), "too many keys in one mapping"),
        ("id: x\nsections: [a, b\nversion: 1\n", "YAML syntax error at line 3"),
        ("#" * (300 * 1024), "The file is too large: a questionnaire may have at most 256 KB."),
    ],
    ids=["deep", "number", "keys", "syntax", "size"],
)
async def test_a_bad_questionnaire_upload_is_told_exactly_what_is_wrong(
    start_offline: StartOffline, content: str, expected: str
) -> None:
    offline = await start_offline(admin_ids=[ADMIN])
    admin = offline.emulator.user(user_id=ADMIN, language_code="en")
    sent = await admin.send_document(content.encode(), file_name="bad.yaml")
    reply = (await admin.wait_for_message(after=sent, timeout=WAIT)).text or ""
    assert expected in reply
    assert "something went wrong" not in reply
    assert offline.services is not None
    assert await offline.services.survey.versions.list() == []
