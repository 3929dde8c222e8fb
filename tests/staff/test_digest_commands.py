"""/digest through the real bot and the emulator: staff only, protected content."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from aiogram.utils.i18n import gettext

from bot.harness.emulator import ChatMessage, EmulatedUser, Limits
from bot.harness.offline import OfflineBot
from bot.i18n import make_i18n
from storage.repositories import AuditRepository, NewSubmission

from .conftest import CONFIGURED_ADMIN, ManualClock, join_as_investigator

WAIT = 10.0


def translated(msgid: str) -> str:
    i18n = make_i18n()
    with i18n.context(), i18n.use_locale("zh-CN"):
        return str(gettext(msgid))


STAFF_ONLY = translated("This command is for investigators.")


async def _until_photo(user: EmulatedUser, after: ChatMessage) -> list[ChatMessage]:
    await user.wait_for_message(where=lambda m: m.kind == "photo", after=after, timeout=WAIT)
    return [m for m in user.bot_messages if m.message_id > after.message_id]


async def test_an_investigator_gets_the_current_period_so_far(offline: OfflineBot) -> None:
    investigator = await join_as_investigator(offline, 630_001)
    sent = await investigator.send_command("/digest")
    replies = await _until_photo(investigator, sent)
    note, *digest = replies
    assert note.kind == "text"
    assert [m.kind for m in digest][-1] == "photo" and len(digest) >= 2
    assert all(m.raw.get("has_protected_content") is True for m in digest)
    assert all(0 < len(m.text or "") <= 4096 for m in digest if m.kind == "text")
    # Sent directly: nothing was stored or queued for delivery.
    assert offline.services is not None
    assert await offline.services.digests.outbox.list() == []


async def test_strangers_get_no_digest(offline: OfflineBot) -> None:
    """(/export is for admins only: `test_export_command.py`.)"""
    stranger = offline.new_user(user_id=630_003)
    for command in ("/digest",):
        sent = await stranger.send_command(command)
        reply = await stranger.wait_for_message(after=sent, timeout=WAIT)
        assert reply.kind == "text" and reply.text == STAFF_ONLY
    assert all(m.kind == "text" for m in stranger.bot_messages)


async def test_digest_of_one_campaign(offline: OfflineBot) -> None:
    from datetime import date

    assert offline.services is not None
    campaigns = offline.services.campaigns.service.repository
    questionnaire = offline.services.questionnaire
    day = date(2026, 11, 29)
    chosen = await campaigns.create("一轮", questionnaire.id, questionnaire.version, day, day)
    investigator = await join_as_investigator(offline, 630_005)
    sent = await investigator.send_command("/digest", "nosuch")
    reply = await investigator.wait_for_message(after=sent, timeout=WAIT)
    assert reply.text == translated("No campaign {id}.").format(id="nosuch")
    sent = await investigator.send_command("/digest", chosen.id)
    note, *digest = await _until_photo(investigator, sent)
    assert "2026-11-29 至 2026-11-29" in (note.text or "")  # the campaign's whole span
    assert [m.kind for m in digest][-1] == "photo"


# ---------------------------------------------------------------------------- the step rule


@pytest.fixture
async def offline_at(
    tmp_path: Path, manual_digests: None, clock: ManualClock
) -> AsyncIterator[OfflineBot]:
    """The real bot on a hand-moved clock (10:00 UTC on 2026-11-28), weekly digests."""
    running = await OfflineBot.start(
        tmp_path / "data",
        limits=Limits.unlimited(),
        admin_ids=[CONFIGURED_ADMIN],
        now=clock,
        digest_schedule="weekly mon 09:00",
    )
    try:
        yield running
    finally:
        await running.close()


async def _digest_texts(user: EmulatedUser, *args: str) -> list[str]:
    """What one `/digest` shows: the texts of the digest's messages (after the note)."""
    sent = await user.send_command("/digest", *args)
    _note, *digest = await _until_photo(user, sent)
    return [m.text or "" for m in digest if m.kind == "text"]


async def _submit(offline: OfflineBot, count: int, clock: ManualClock) -> None:
    assert offline.services is not None
    services = offline.services
    questionnaire = services.questionnaire
    today = services.digests.service.schedule.today(clock())
    for _ in range(count):
        await services.submissions.store(
            NewSubmission(
                questionnaire.id,
                questionnaire.version,
                {"p1_freq": "often", "unit_type": "town_street"},
                frozenset(),
                today,
                secrets.token_hex(32),
            )
        )


async def test_one_report_between_two_digest_views_changes_nothing_visible(
    offline_at: OfflineBot, clock: ManualClock
) -> None:
    admin = offline_at.new_user(user_id=CONFIGURED_ADMIN)
    k = offline_at.settings.k_anonymity

    # A fresh period with fewer than K: no figures, and no case counts either.
    await _submit(offline_at, k - 1, clock)
    nothing = await _digest_texts(admin)
    assert any(f"本期收到的反馈少于 {k} 份" in text for text in nothing)
    assert not any("待处理" in text for text in nothing)

    await _submit(offline_at, 2, clock)  # K + 1 now: the first step
    first = await _digest_texts(admin)
    assert any(f"本期收到反馈 {k + 1} 份" in text for text in first)
    assert any("待处理" in text for text in first)  # now the counts are there

    await _submit(offline_at, 1, clock)
    assert await _digest_texts(admin) == first  # one more report: nothing visible moves

    await _submit(offline_at, k - 1, clock)  # K since the step
    moved = await _digest_texts(admin)
    assert moved != first
    assert any(f"本期收到反馈 {2 * k + 1} 份" in text for text in moved)

    # Every view is in the audit log, naming the period, never a report.
    assert offline_at.services is not None
    audit = AuditRepository(offline_at.services.database)
    entries = [e for e in await audit.recent() if e.action == "digest.view"]
    assert len(entries) == 4
    assert {(e.actor_user_id, e.subject) for e in entries} == {
        (CONFIGURED_ADMIN, "weekly:2026-11-23")
    }


async def test_a_campaign_digest_covers_the_whole_campaign_in_steps_of_k(
    offline_at: OfflineBot, clock: ManualClock
) -> None:
    assert offline_at.services is not None
    services = offline_at.services
    questionnaire = services.questionnaire
    k = offline_at.settings.k_anonymity
    campaign = await services.campaigns.service.repository.create(
        "十一月调研", questionnaire.id, questionnaire.version, date(2026, 11, 1), date(2026, 11, 30)
    )

    async def submit(count: int, day: date) -> None:
        for _ in range(count):
            await services.submissions.store(
                NewSubmission(
                    questionnaire.id,
                    questionnaire.version,
                    {"freq.p1": "often", "unit_type": "town_street"},
                    frozenset(),
                    day,
                    secrets.token_hex(32),
                    campaign_id=campaign.id,
                )
            )

    admin = offline_at.new_user(user_id=CONFIGURED_ADMIN)
    await submit(k, date(2026, 11, 2))  # three weeks before today (2026-11-28)
    await submit(k, date(2026, 11, 28))
    first = await _digest_texts(admin, campaign.id)
    assert any(f"收到反馈 {2 * k} 份" in text for text in first)
    assert any("十一月调研" in text for text in first)  # titled by its title

    await submit(1, date(2026, 11, 28))
    assert await _digest_texts(admin, campaign.id) == first  # one more: nothing moves

    audit = AuditRepository(services.database)
    subjects = {e.subject for e in await audit.recent() if e.action == "digest.view"}
    assert subjects == {f"campaign:2026-11-01..2026-11-30@{campaign.id}"}


async def test_the_view_says_that_its_figures_move_in_steps(offline_at: OfflineBot) -> None:
    admin = offline_at.new_user(user_id=CONFIGURED_ADMIN)
    sent = await admin.send_command("/digest")
    note, *_rest = await _until_photo(admin, sent)
    k = offline_at.settings.k_anonymity
    assert f"每新增至少 {k} 份反馈才更新一次" in (note.text or "")
    assert "2026-11-23 至 2026-11-29" in (note.text or "")
