"""Role checks are router filters: staff routers let only staff (or admins) through, for
commands and buttons alike, everyone else gets the polite refusal, and a cadre's ordinary
messages never cost a staff look-up (each router claims its updates before asking the role)."""

from __future__ import annotations

import pytest

from bot.harness.offline import OfflineBot
from bot.staff.callbacks import StaffPageCallback
from storage.repositories import StaffRepository

from .conftest import CONFIGURED_ADMIN, join_as_investigator
from .test_commands import REFUSAL, translated

WAIT = 10.0


async def test_a_cadres_messages_ask_nobody_for_a_role(
    offline: OfflineBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[int] = []
    original = StaffRepository.role_of

    async def counting(self: StaffRepository, user_id: int, **kwargs: object) -> str | None:
        looked_up.append(user_id)
        return await original(self, user_id, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(StaffRepository, "role_of", counting)
    cadre = offline.new_user()
    for command in ("/start", "/help", "/nosuchcommand"):
        sent = await cadre.send_command(command)
        await cadre.wait_for_message(after=sent, timeout=WAIT)
    sent = await cadre.send_text("你好")
    await cadre.wait_for_message(after=sent, timeout=WAIT)
    assert looked_up == []

    sent = await cadre.send_command("/staff")  # a staff command: now the role is asked
    reply = await cadre.wait_for_message(after=sent, timeout=WAIT)
    assert reply.text == REFUSAL
    assert looked_up == [cadre.id]


async def test_an_investigator_is_refused_the_admin_routers(offline: OfflineBot) -> None:
    investigator = await join_as_investigator(offline, 640_001)
    admin_only = ("/invite", "/staff", "/revoke", "/broadcast", "/campaign", "/audit")
    for command in (*admin_only, "/questionnaire_preview"):
        sent = await investigator.send_command(command)
        reply = await investigator.wait_for_message(after=sent, timeout=WAIT)
        assert reply.text == REFUSAL, command
    press = await investigator.press_data(StaffPageCallback(page=0).pack())
    answer = await press.wait_answered(WAIT)
    assert answer.text == REFUSAL and answer.show_alert
    sent = await investigator.send_command("/cases")  # the staff router lets them in
    reply = await investigator.wait_for_message(after=sent, timeout=WAIT)
    assert reply.text != translated("This command is for investigators.")


async def test_an_admin_passes_the_same_filter_for_commands_and_buttons(
    offline: OfflineBot,
) -> None:
    admin = offline.new_user(user_id=CONFIGURED_ADMIN)
    sent = await admin.send_command("/staff")
    listing = await admin.wait_for_message(after=sent, timeout=WAIT)
    assert listing.text != REFUSAL
    press = await admin.press_data(StaffPageCallback(page=0).pack(), listing.message_id)
    answer = await press.wait_answered(WAIT)
    assert answer.text != REFUSAL
