"""`/report ID` through the real bot and the emulator: staff get the Word file (protected,
audited first), others a polite refusal; a missing or unknown id gets a friendly answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from aiogram.utils.i18n import gettext
from docx import Document

from bot.harness.emulator import ChatMessage, EmulatedUser, Limits
from bot.harness.offline import OfflineBot
from bot.i18n import make_i18n
from storage.repositories import AuditRepository

from .seed import MARKED_EXAMPLE, MARKED_SUGGESTION, UNMARKED, seed_campaign

WAIT = 10.0
ADMIN = 910_001
NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)


def translated(msgid: str) -> str:
    i18n = make_i18n()
    with i18n.context(), i18n.use_locale("zh-CN"):
        return str(gettext(msgid))


@pytest.fixture
async def offline(tmp_path: Path, manual_digests: None) -> AsyncIterator[OfflineBot]:
    running = await OfflineBot.start(
        tmp_path / "data", limits=Limits.unlimited(), admin_ids=[ADMIN], now=lambda: NOW
    )
    try:
        yield running
    finally:
        await running.close()


async def _reply(user: EmulatedUser, *args: str) -> ChatMessage:
    sent = await user.send_command("/report", *args)
    return await user.wait_for_message(after=sent, timeout=WAIT)


async def _actions(offline: OfflineBot) -> list[tuple[int, str, str]]:
    assert offline.services is not None
    entries = await AuditRepository(offline.services.database).recent(200)
    return [(e.actor_user_id, e.action, e.subject) for e in entries]


async def test_staff_get_the_word_report(offline: OfflineBot) -> None:
    assert offline.services is not None
    services = offline.services
    seeded = await seed_campaign(services.database, services.cipher, services.questionnaire)
    admin = offline.new_user(user_id=ADMIN)

    sent = await admin.send_command("/report", seeded.campaign.id)
    document = await admin.wait_for_message(
        where=lambda m: m.kind == "document", after=sent, timeout=WAIT
    )

    assert document.file_name == f"report-{seeded.campaign.id}.docx"
    assert document.raw.get("has_protected_content") is True
    assert "十一月专项调研" in (document.text or "")
    word = Document(BytesIO(admin.download(document)))
    text = "\n".join(p.text for p in word.paragraphs)
    assert word.paragraphs[0].text.startswith("关于十一月专项调研")
    assert MARKED_EXAMPLE in text and MARKED_SUGGESTION in text and UNMARKED not in text
    assert word.tables and list(word.inline_shapes)
    assert await _actions(offline) == [(ADMIN, "report.view", seeded.campaign.id)]


async def test_usage_unknown_campaign_and_strangers(offline: OfflineBot) -> None:
    assert offline.services is not None
    services = offline.services
    seeded = await seed_campaign(services.database, services.cipher, services.questionnaire)
    admin = offline.new_user(user_id=ADMIN)

    usage = await _reply(admin)
    assert usage.text == translated("Usage: /report ID (the campaign's id, see /campaign).")
    unknown = await _reply(admin, "9999")
    assert unknown.text == translated("No campaign {id}.").format(id="9999")

    stranger = offline.new_user(user_id=910_002)
    refused = await _reply(stranger, seeded.campaign.id)
    assert refused.text == translated("This command is for investigators.")
    assert all(m.kind == "text" for m in stranger.bot_messages)
    assert await _actions(offline) == []
