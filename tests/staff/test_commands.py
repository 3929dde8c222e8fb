"""Staff commands through the real bot and the emulator: /invite, /join, /staff, /revoke,
revoke buttons (forged ones included) and /digest_here."""

from __future__ import annotations

import re

import pytest
from aiogram.utils.i18n import gettext
from sqlalchemy import func, select

from bot.harness.emulator import ChatMessage, EmulatedUser
from bot.harness.offline import OfflineBot
from bot.i18n import make_i18n
from bot.staff.callbacks import RevokeCallback, StaffPageCallback
from bot.statuses import Role
from storage.tables import staff_invites
from tests.e2e.driver import same_button

from .conftest import CONFIGURED_ADMIN

WAIT = 10.0
CODE = re.compile(r"\b[0-9A-Z]{4}(?:-[0-9A-Z]{4}){3}\b")


def translated(msgid: str, locale: str = "zh-CN") -> str:
    """What the bot says for `msgid` in `locale` (the English text until it is translated)."""
    i18n = make_i18n()
    with i18n.context(), i18n.use_locale(locale):
        return str(gettext(msgid))


REFUSAL = translated("Only administrators can do this.")
CONFIRM = translated("Yes, remove")
CANCEL = translated("Cancel")


async def _command(user: EmulatedUser, command: str, args: str | None = None) -> ChatMessage:
    sent = await user.send_command(command, args)
    return await user.wait_for_message(after=sent, timeout=WAIT)


async def _invite_code(admin: EmulatedUser) -> str:
    reply = await _command(admin, "/invite")
    match = CODE.search(reply.text or "")
    assert match, reply.text
    return match.group(0)


async def _role(offline: OfflineBot, user_id: int) -> str | None:
    assert offline.services is not None
    return await offline.services.staff.roles.role_of(user_id)


async def _invite_rows(offline: OfflineBot) -> int:
    assert offline.services is not None
    async with offline.services.database.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(staff_invites)) or 0)


async def test_an_invited_user_joins_as_investigator(offline: OfflineBot) -> None:
    admin = offline.new_user(user_id=CONFIGURED_ADMIN)
    newcomer = offline.new_user(user_id=610_001)
    latecomer = offline.new_user(user_id=610_002)
    code = await _invite_code(admin)
    assert await _role(offline, newcomer.id) is None

    welcome = await _command(newcomer, "/join", code)
    assert "/digest" in (welcome.text or "")
    assert await _role(offline, newcomer.id) == "investigator"

    refused = await _command(latecomer, "/join", code)  # single use
    assert "/digest" not in (refused.text or "")
    assert await _role(offline, latecomer.id) is None


async def test_join_without_a_code_asks_for_one(offline: OfflineBot) -> None:
    user = offline.new_user(user_id=610_003)
    reply = await _command(user, "/join")
    assert "/join" in (reply.text or "")
    assert await _role(offline, user.id) is None


@pytest.mark.parametrize(
    ("command", "args"),
    [("/invite", None), ("/staff", None), ("/revoke", None), ("/revoke", str(CONFIGURED_ADMIN))],
)
async def test_non_admins_are_refused_every_admin_command(
    offline: OfflineBot, command: str, args: str | None
) -> None:
    admin = offline.new_user(user_id=CONFIGURED_ADMIN)
    investigator = offline.new_user(user_id=610_010)
    stranger = offline.new_user(user_id=610_011)
    await _command(investigator, "/join", await _invite_code(admin))
    rows_before = await _invite_rows(offline)
    for user in (investigator, stranger):
        reply = await _command(user, command, args)
        assert REFUSAL in (reply.text or ""), reply.text
        assert not reply.buttons
    assert await _invite_rows(offline) == rows_before
    assert await _role(offline, CONFIGURED_ADMIN) == "admin"
    assert await _role(offline, investigator.id) == "investigator"


async def test_staff_lists_members_with_revoke_buttons(offline: OfflineBot) -> None:
    admin = offline.new_user(user_id=CONFIGURED_ADMIN)
    investigator = offline.new_user(user_id=610_020)
    await _command(investigator, "/join", await _invite_code(admin))
    listing = await _command(admin, "/staff")
    text = listing.text or ""
    assert str(CONFIGURED_ADMIN) in text and str(investigator.id) in text
    data = [b.callback_data for row in listing.buttons for b in row]
    assert data == [RevokeCallback(user_id=investigator.id).pack()]  # never self or ADMIN_IDS


async def test_an_admin_revokes_with_a_button(offline: OfflineBot) -> None:
    admin = offline.new_user(user_id=CONFIGURED_ADMIN)
    investigator = offline.new_user(user_id=610_030)
    await _command(investigator, "/join", await _invite_code(admin))
    offer = await _command(admin, "/revoke")
    press = await admin.press(lambda b: str(investigator.id) in b.text, offer)
    answer = await press.wait_answered(WAIT)
    assert not answer.show_alert
    assert await _role(offline, investigator.id) == "investigator"  # asked, not removed yet
    question = admin.message(offer.message_id)
    assert question is not None and question.button_texts == [CONFIRM, CANCEL]
    press = await admin.press(CONFIRM, question)
    answer = await press.wait_answered(WAIT)
    assert not answer.show_alert
    assert await _role(offline, investigator.id) is None
    # The revoked investigator can no longer use staff commands.
    reply = await _command(investigator, "/staff")
    assert REFUSAL in (reply.text or "")


async def test_revoke_by_id(offline: OfflineBot) -> None:
    admin = offline.new_user(user_id=CONFIGURED_ADMIN)
    investigator = offline.new_user(user_id=610_031)
    await _command(investigator, "/join", await _invite_code(admin))
    question = await _command(admin, "/revoke", str(investigator.id))
    assert str(investigator.id) in (question.text or "")
    assert await _role(offline, investigator.id) == "investigator"  # asked, not removed yet
    press = await admin.press(CONFIRM, question)
    await press.wait_answered(WAIT)
    assert await _role(offline, investigator.id) is None


async def test_forged_revoke_data_from_a_non_admin_is_refused(offline: OfflineBot) -> None:
    admin = offline.new_user(user_id=CONFIGURED_ADMIN)
    first = offline.new_user(user_id=610_040)
    second = offline.new_user(user_id=610_041)
    stranger = offline.new_user(user_id=610_042)
    await _command(first, "/join", await _invite_code(admin))
    await _command(second, "/join", await _invite_code(admin))
    for presser, target in ((first, second.id), (stranger, first.id), (stranger, CONFIGURED_ADMIN)):
        press = await presser.press_data(RevokeCallback(user_id=target).pack())
        answer = await press.wait_answered(WAIT)
        assert answer.show_alert and REFUSAL in (answer.text or "")
    assert await _role(offline, first.id) == "investigator"
    assert await _role(offline, second.id) == "investigator"
    assert await _role(offline, CONFIGURED_ADMIN) == "admin"
    # Paging the staff list is admin-only too: forged page data shows a stranger nothing.
    shown_before = len(stranger.messages)
    press = await stranger.press_data(StaffPageCallback(page=0).pack())
    answer = await press.wait_answered(WAIT)
    assert answer.show_alert and REFUSAL in (answer.text or "")
    assert len(stranger.messages) == shown_before


async def test_digest_groups_are_registered_only_by_admins(offline: OfflineBot) -> None:
    admin = offline.new_user(user_id=CONFIGURED_ADMIN)
    member = offline.new_user(user_id=610_050)
    group = offline.emulator.group(chat_id=-100_555_0001, members=[admin, member])
    assert offline.services is not None
    groups = offline.services.digests.groups

    sent = await group.send_command(member, "/digest_here", mention_bot=True)
    refusal = await group.wait_for_message(after=sent, timeout=WAIT)
    assert REFUSAL in (refusal.text or "")
    assert await groups.list() == []

    sent = await group.send_command(admin, "/digest_here", mention_bot=True)
    await group.wait_for_message(after=sent, timeout=WAIT)
    assert await groups.list() == [group.chat_id]

    sent = await group.send_command(member, "/digest_off")
    await group.wait_for_message(after=sent, timeout=WAIT)
    assert await groups.list() == [group.chat_id]

    sent = await group.send_command(admin, "/digest_off")
    await group.wait_for_message(after=sent, timeout=WAIT)
    assert await groups.list() == []


async def test_a_long_staff_list_is_paged_within_telegrams_limits(offline: OfflineBot) -> None:
    assert offline.services is not None
    admin = offline.new_user(user_id=CONFIGURED_ADMIN)
    members = [610_100 + i for i in range(45)]
    for user_id in members:
        await offline.services.staff.repository.add(user_id, Role.INVESTIGATOR)
    first = await _command(admin, "/staff")
    assert "（46 人）" in (first.text or "")  # the count covers everyone, ADMIN_IDS included
    seen: set[int] = set()
    page = first
    for _ in range(3):
        buttons = [b for row in page.buttons for b in row]
        assert len(buttons) <= 25 and len(page.text or "") < 4096
        seen |= {m for m in members if str(m) in (page.text or "")}
        forward = next((b for b in buttons if b.text == "▶"), None)
        if forward is None:
            break
        press = await admin.press(same_button(forward), page)
        await press.wait_answered(WAIT)
        page = admin.message(page.message_id) or page
    assert seen == set(members), "every member is on some page"
    # A removal from page 3 leaves the list on page 3.
    target = next(m for m in members if str(m) in (page.text or ""))
    press = await admin.press(lambda b: b.text.endswith(str(target)), page)
    await press.wait_answered(WAIT)
    question = admin.message(page.message_id)
    assert question is not None
    press = await admin.press(CONFIRM, question)
    await press.wait_answered(WAIT)
    after = admin.message(page.message_id)
    assert after is not None and "3/3" in [b.text for row in after.buttons for b in row]
    assert await _role(offline, target) is None


def _menu(user: EmulatedUser) -> set[str]:
    return {command for command, _ in user.command_menu}


async def test_each_role_sees_its_own_command_menu(offline: OfflineBot) -> None:
    admin = offline.new_user(user_id=CONFIGURED_ADMIN)
    investigator = offline.new_user(user_id=610_200)
    respondent = offline.new_user(user_id=610_201)
    assert "broadcast" not in _menu(admin)  # ADMIN_IDS had not opened the bot at start-up
    await _command(admin, "/help")
    assert {"broadcast", "campaign", "invite", "cases", "export", "start"} <= _menu(admin)
    assert "cases" not in _menu(respondent) and "start" in _menu(respondent)

    await _command(investigator, "/join", await _invite_code(admin))
    assert {"cases", "digest", "report", "start"} <= _menu(investigator)
    assert "broadcast" not in _menu(investigator)
    assert "export" not in _menu(investigator)  # admins only
    # Descriptions follow the member's language.
    assert ("cases", "反映与追问") in investigator.command_menu
    assert ("report", "调研报告（Word）") in investigator.command_menu

    question = await _command(admin, "/revoke", str(investigator.id))
    await (await admin.press(CONFIRM, question)).wait_answered(WAIT)
    assert "cases" not in _menu(investigator) and "start" in _menu(investigator)
    assert "cases" not in _menu(respondent)


async def test_staff_menus_are_set_again_at_start_up(offline: OfflineBot) -> None:
    admin = offline.new_user(user_id=CONFIGURED_ADMIN)
    investigator = offline.new_user(user_id=610_210)
    await _command(investigator, "/join", await _invite_code(admin))
    offline.emulator.world.bot().commands.clear()  # as if the menus had been lost
    await offline.restart_bot()
    assert "broadcast" in _menu(admin)  # now the chat exists: set at start-up
    assert "cases" in _menu(investigator) and "broadcast" not in _menu(investigator)
