"""/campaign as a Chinese admin types it, end to end: Chinese commas and dates to create one,
a short number as its id, found again with spaces and full-width digits by /campaign and
/digest."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from bot.harness.emulator import EmulatedUser
from tests.e2e.conftest import StartOffline
from tests.e2e.driver import WAIT

pytestmark = pytest.mark.usefixtures("manual_digests")

ADMIN = 5_580_201
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


async def _reply(admin: EmulatedUser, command: str, args: str) -> str:
    sent = await admin.send_command(command, args)
    return (await admin.wait_for_message(after=sent, timeout=WAIT)).text or ""


async def test_an_admin_creates_and_opens_a_campaign_as_typed_on_a_chinese_keyboard(
    start_offline: StartOffline,
) -> None:
    offline = await start_offline(admin_ids=[ADMIN], web_public_url="https://qf.example.org")
    admin = offline.emulator.user(user_id=ADMIN, language_code="zh-hans")
    opens, closes = date.today() - timedelta(days=1), date.today() + timedelta(days=5)
    typed = (
        f"新建 基层减负，第一轮，{opens.year}年{opens.month}月{opens.day}日，"
        f"{closes.month}月{closes.day}日"
    )
    created = await _reply(admin, "/campaign", typed.replace("新建", "new", 1))
    match = re.search(r"\b(\d{4}) 基层减负，第一轮", created)
    assert match, created
    campaign_id = match.group(1)
    assert f"{opens.isoformat()} … {closes.isoformat()}" in created

    spaced = f"{campaign_id[:2]} {campaign_id[2:]}".translate(FULL_WIDTH)
    opened = await _reply(admin, "/campaign", f"open {spaced}")
    assert f"/campaign link {campaign_id}" in opened  # the stored id, as it should be typed
    assert offline.services is not None
    current = await offline.services.campaigns.service.current()
    assert current is not None and current.id == campaign_id

    sent = await admin.send_command("/digest", spaced)
    # The campaign digest is titled with the campaign's title, not its id.
    await admin.wait_for_message(
        f"清风调研｜基层减负，第一轮（{opens.isoformat()} 至 {closes.isoformat()}）",
        after=sent,
        timeout=WAIT,
    )
    sent = await admin.send_command("/campaign", "close 0000")
    await admin.wait_for_message("0000", after=sent, timeout=WAIT)
    assert (await offline.services.campaigns.service.current()) is not None
