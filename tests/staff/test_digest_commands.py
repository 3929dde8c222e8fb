"""/digest and /export through the real bot and the emulator: staff only, protected content."""

from __future__ import annotations

import re

from aiogram.utils.i18n import gettext

from bot.emulator import ChatMessage, EmulatedUser
from bot.i18n import make_i18n
from bot.offline import OfflineBot

from .conftest import CONFIGURED_ADMIN

WAIT = 10.0
CODE = re.compile(r"\b[0-9A-Z]{4}(?:-[0-9A-Z]{4}){3}\b")


def translated(msgid: str) -> str:
    i18n = make_i18n()
    with i18n.context(), i18n.use_locale("zh-CN"):
        return str(gettext(msgid))


STAFF_ONLY = translated("This command is for investigators.")


async def _investigator(offline: OfflineBot, user_id: int) -> EmulatedUser:
    admin = offline.new_user(user_id=CONFIGURED_ADMIN)
    sent = await admin.send_command("/invite")
    invite = await admin.wait_for_message(after=sent, timeout=WAIT)
    match = CODE.search(invite.text or "")
    assert match
    user = offline.new_user(user_id=user_id)
    sent = await user.send_command("/join", match.group(0))
    await user.wait_for_message(after=sent, timeout=WAIT)
    return user


async def _until_photo(user: EmulatedUser, after: ChatMessage) -> list[ChatMessage]:
    await user.wait_for_message(where=lambda m: m.kind == "photo", after=after, timeout=WAIT)
    return [m for m in user.bot_messages if m.message_id > after.message_id]


async def test_an_investigator_gets_the_current_period_so_far(offline: OfflineBot) -> None:
    investigator = await _investigator(offline, 630_001)
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


async def test_an_investigator_exports_a_protected_xlsx(offline: OfflineBot) -> None:
    investigator = await _investigator(offline, 630_002)
    sent = await investigator.send_command("/export")
    document = await investigator.wait_for_message(
        where=lambda m: m.kind == "document", after=sent, timeout=WAIT
    )
    assert document.raw.get("has_protected_content") is True
    assert (document.file_name or "").endswith(".xlsx")
    assert investigator.download(document).startswith(b"PK")  # an XLSX is a zip
    assert offline.services is not None
    leftovers = [p for p in offline.services.settings.data_dir.rglob("*.xlsx*")]
    assert leftovers == []  # the temporary file is gone


async def test_strangers_get_neither(offline: OfflineBot) -> None:
    stranger = offline.new_user(user_id=630_003)
    for command in ("/digest", "/export"):
        sent = await stranger.send_command(command)
        reply = await stranger.wait_for_message(after=sent, timeout=WAIT)
        assert reply.kind == "text" and reply.text == STAFF_ONLY
    assert all(m.kind == "text" for m in stranger.bot_messages)


async def test_export_of_one_campaign(offline: OfflineBot) -> None:
    from datetime import date

    from storage.repositories import NewSubmission

    assert offline.services is not None
    services = offline.services
    assert services.survey.campaigns is not None
    questionnaire = services.questionnaire
    day = date(2026, 11, 29)
    chosen = await services.survey.campaigns.create(
        "一轮", questionnaire.id, questionnaire.version, day, day
    )
    for campaign_id, tag in ((chosen.id, "a"), (None, "b"), (None, "c")):
        await services.submissions.store(
            NewSubmission(
                questionnaire.id,
                questionnaire.version,
                {},
                frozenset(),
                day,
                tag * 64,
                campaign_id=campaign_id,
            )
        )
    investigator = await _investigator(offline, 630_004)
    counts = []
    for argument in (chosen.id, None):
        sent = await investigator.send_command("/export", argument)
        document = await investigator.wait_for_message(
            where=lambda m: m.kind == "document", after=sent, timeout=WAIT
        )
        counts.append(document.text)
    caption = translated("Submissions: {count}")
    assert counts == [caption.format(count=1), caption.format(count=3)]
    sent = await investigator.send_command("/export", "nosuch")
    reply = await investigator.wait_for_message(after=sent, timeout=WAIT)
    assert reply.text == translated("No campaign {id}.").format(id="nosuch")


async def test_digest_of_one_campaign(offline: OfflineBot) -> None:
    from datetime import date

    assert offline.services is not None
    campaigns = offline.services.survey.campaigns
    assert campaigns is not None
    questionnaire = offline.services.questionnaire
    day = date(2026, 11, 29)
    chosen = await campaigns.create("一轮", questionnaire.id, questionnaire.version, day, day)
    investigator = await _investigator(offline, 630_005)
    sent = await investigator.send_command("/digest", "nosuch")
    reply = await investigator.wait_for_message(after=sent, timeout=WAIT)
    assert reply.text == translated("No campaign {id}.").format(id="nosuch")
    sent = await investigator.send_command("/digest", chosen.id)
    note, *digest = await _until_photo(investigator, sent)
    assert translated("Campaign {id} only.").format(id=chosen.id) in (note.text or "")
    assert [m.kind for m in digest][-1] == "photo"
