"""/staff names each member as Telegram gave it at joining (escaped), beside the id; removing
a member asks first, and only the confirmation removes (with its audit entry)."""

from __future__ import annotations

import pytest
from aiogram.utils.i18n import gettext
from sqlalchemy import select

from bot.harness.emulator import ChatMessage, EmulatedUser
from bot.harness.offline import OfflineBot
from bot.i18n import make_i18n
from bot.staff import InviteService, JoinResult, StaffRoles
from bot.staff.callbacks import (
    RevokeCallback,
    RevokeCancelCallback,
    RevokeConfirmCallback,
    StaffPageCallback,
)
from bot.statuses import Role
from storage.repositories import StaffRepository
from storage.tables import audit_log

from .conftest import CONFIGURED_ADMIN, INVITE_CODE

WAIT = 10.0
BIGGEST_USER_ID = 2**63 - 1


def translated(msgid: str) -> str:
    i18n = make_i18n()
    with i18n.context(), i18n.use_locale("zh-CN"):
        return str(gettext(msgid))


CONFIRM = translated("Yes, remove")
CANCEL = translated("Cancel")
REFUSAL = translated("Only administrators can do this.")


async def _command(user: EmulatedUser, command: str, args: str | None = None) -> ChatMessage:
    sent = await user.send_command(command, args)
    return await user.wait_for_message(after=sent, timeout=WAIT)


async def _join(offline: OfflineBot, user: EmulatedUser) -> None:
    admin = offline.new_user(user_id=CONFIGURED_ADMIN)
    invite = await _command(admin, "/invite")
    match = INVITE_CODE.search(invite.text or "")
    assert match
    await _command(user, "/join", match.group(0))


async def _role(offline: OfflineBot, user_id: int) -> str | None:
    assert offline.services is not None
    return await offline.services.staff.roles.role_of(user_id)


async def _audit_actions(offline: OfflineBot) -> list[str]:
    assert offline.services is not None
    async with offline.services.database.engine.connect() as connection:
        return list((await connection.execute(select(audit_log.c.action))).scalars())


async def test_staff_shows_the_name_given_at_joining_escaped_beside_the_id(
    offline: OfflineBot,
) -> None:
    member = offline.new_user(user_id=620_001, first_name="<b>张</b>", last_name="三 & 四")
    await _join(offline, member)
    admin = offline.new_user(user_id=CONFIGURED_ADMIN)
    listing = await _command(admin, "/staff")
    text = listing.text or ""
    # Shown as typed: had it not been escaped, the tags would be formatting, not text.
    assert f"<b>张</b> 三 & 四 ({member.id})" in text
    bold = [
        text[e["offset"] : e["offset"] + e["length"]]
        for e in listing.entities
        if e["type"] == "bold"
    ]
    assert "张" not in "".join(bold)
    # The id stays a tappable mention of that user.
    mentions = [e for e in listing.entities if e["type"] == "text_mention"]
    assert member.id in {e["user"]["id"] for e in mentions}


async def test_the_name_is_kept_as_given_at_joining(
    invites: InviteService, staff_repository: StaffRepository, roles: StaffRoles
) -> None:
    invite = await invites.create(CONFIGURED_ADMIN)
    assert await invites.redeem(invite.code, 620_010, full_name=" 李四 ") is JoinResult.JOINED
    [member] = [m for m in await roles.members() if m.user_id == 620_010]
    assert member.full_name == "李四"
    # A later role change without a name keeps the stored one; a longer name is clipped.
    await staff_repository.add(620_010, Role.ADMIN)
    assert [m.full_name for m in await staff_repository.list()] == ["李四"]
    await staff_repository.add(620_011, Role.INVESTIGATOR, full_name="长" * 300)
    names = {m.user_id: m.full_name for m in await staff_repository.list()}
    assert names[620_011] == "长" * 129
    await staff_repository.add(620_012, Role.INVESTIGATOR, full_name="  ")
    assert {m.user_id: m.full_name for m in await staff_repository.list()}[620_012] is None


async def test_removing_asks_first_and_cancel_keeps_the_member(offline: OfflineBot) -> None:
    member = offline.new_user(user_id=620_020, first_name="王五")
    await _join(offline, member)
    admin = offline.new_user(user_id=CONFIGURED_ADMIN)
    listing = await _command(admin, "/staff")
    press = await admin.press(lambda b: b.text.endswith(str(member.id)), listing)
    await press.wait_answered(WAIT)
    question = admin.message(listing.message_id)
    assert question is not None
    assert "王五" in (question.text or "") and str(member.id) in (question.text or "")
    assert question.button_texts == [CONFIRM, CANCEL]
    assert await _role(offline, member.id) == "investigator"

    press = await admin.press(CANCEL, question)
    answer = await press.wait_answered(WAIT)
    assert answer.text == translated("Nobody was removed.")
    assert await _role(offline, member.id) == "investigator"
    back = admin.message(listing.message_id)
    assert back is not None and any(str(member.id) in t for t in back.button_texts)
    assert "staff.revoke" not in await _audit_actions(offline)

    question = await _command(admin, "/revoke", "６２０ ０２０")  # full-width, with a space
    assert "王五" in (question.text or "")
    press = await admin.press(CONFIRM, question)
    await press.wait_answered(WAIT)
    assert await _role(offline, member.id) is None
    assert (await _audit_actions(offline)).count("staff.revoke") == 1


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (CONFIGURED_ADMIN, "You cannot remove yourself."),
        (620_099, "{user_id} is not on the staff."),
    ],
)
async def test_who_cannot_be_removed_is_told_so_without_a_question(
    offline: OfflineBot, target: int, expected: str
) -> None:
    admin = offline.new_user(user_id=CONFIGURED_ADMIN)
    reply = await _command(admin, "/revoke", str(target))
    assert reply.text == translated(expected).format(user_id=target)
    assert not reply.buttons


async def test_forged_confirm_and_cancel_data_from_a_non_admin_is_refused(
    offline: OfflineBot,
) -> None:
    member = offline.new_user(user_id=620_030)
    stranger = offline.new_user(user_id=620_031)
    await _join(offline, member)
    for data in (
        RevokeConfirmCallback(user_id=member.id).pack(),
        RevokeCancelCallback().pack(),
    ):
        for presser in (member, stranger):
            press = await presser.press_data(data)
            answer = await press.wait_answered(WAIT)
            assert answer.show_alert and REFUSAL in (answer.text or "")
    assert await _role(offline, member.id) == "investigator"


def test_every_staff_button_fits_telegrams_64_bytes() -> None:
    for data in (
        RevokeCallback(user_id=BIGGEST_USER_ID, page=999_999),
        RevokeConfirmCallback(user_id=BIGGEST_USER_ID, page=999_999),
        RevokeCancelCallback(page=999_999),
        StaffPageCallback(page=999_999),
    ):
        assert len(data.pack().encode()) <= 64
