"""Digests end to end, through the real bot and the emulator: an investigator enrolled by
invite receives the scheduled digest with its chart; a failed robot makes the admins hear of
it; the loop starts with the dispatcher and stops with it. The schedule is driven by a hand-
moved clock: `tick()` is what the background loop calls every minute."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.digest.scheduler import DigestScheduler
from bot.harness.emulator import ChatMessage, EmulatedUser, Limits
from bot.harness.offline import OfflineBot
from tests.delivery.fake_robots import FakeRobots
from tests.e2e.driver import answer_until_review, start_questionnaire, submit

ADMIN = 5_560_001
INVESTIGATOR = 5_560_002
RESPONDENT = 5_560_003
WAIT = 10.0
CODE = re.compile(r"\b[0-9A-Z]{4}(?:-[0-9A-Z]{4}){3}\b")
PNG = b"\x89PNG\r\n\x1a\n"


class ManualClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 28, 1, 0, tzinfo=UTC))  # 09:00 in Shanghai


@pytest.fixture
async def robots() -> AsyncIterator[FakeRobots]:
    fake = FakeRobots()
    await fake.start()
    yield fake
    await fake.close()


async def start(tmp_path: Path, clock: ManualClock, **overrides: Any) -> OfflineBot:
    return await OfflineBot.start(
        tmp_path / "data",
        limits=Limits.unlimited(),
        now=clock,
        admin_ids=[ADMIN],
        digest_schedule="daily 09:00",
        timezone="Asia/Shanghai",
        **overrides,
    )


def scheduler_of(offline: OfflineBot) -> DigestScheduler:
    assert offline.services is not None and offline.bot is not None
    return offline.services.digests.make_scheduler(offline.bot)


async def command(user: EmulatedUser, text: str, args: str | None = None) -> ChatMessage:
    sent = await user.send_command(text, args)
    return await user.wait_for_message(after=sent, timeout=WAIT)


def digests_in(messages: list[ChatMessage], after: int) -> list[ChatMessage]:
    return [m for m in messages if m.from_bot and m.message_id > after]


async def test_an_invited_investigator_receives_the_scheduled_digest_with_its_chart(
    tmp_path: Path, clock: ManualClock, manual_digests: pytest.MonkeyPatch
) -> None:
    offline = await start(tmp_path, clock)
    try:
        admin = offline.new_user(user_id=ADMIN)
        investigator = offline.new_user(user_id=INVESTIGATOR)
        respondent = offline.new_user(user_id=RESPONDENT)

        invite = await command(admin, "/invite")
        match = CODE.search(invite.text or "")
        assert match, invite.text
        joined = await command(investigator, "/join", match.group(0))
        assert "/digest" in (joined.text or "")

        # A report comes in: nobody on the staff hears of it when it happens.
        staff_seen = (len(admin.messages), len(investigator.messages))
        await start_questionnaire(respondent)
        await answer_until_review(respondent, frequency="often")
        await submit(respondent)
        assert (len(admin.messages), len(investigator.messages)) == staff_seen

        scheduler = scheduler_of(offline)
        last_seen = investigator.messages[-1].message_id
        first = await scheduler.tick()  # 09:00 on the 28th: the 27th is due
        assert first.queued == ["daily:2026-11-27"] and first.delivery.sent == 2

        clock.now += timedelta(days=1)  # 09:00 on the 29th: the 28th (with the report) is due
        second = await scheduler.tick()
        assert second.queued == ["daily:2026-11-28"] and second.delivery.sent == 2
        assert (await scheduler.tick()).delivery.sent == 0  # nothing twice

        received = digests_in(investigator.messages, last_seen)
        photos = [m for m in received if m.kind == "photo"]
        texts = [m for m in received if m.kind == "text"]
        assert len(photos) == 2 and texts
        assert received[-1].kind == "photo"  # the chart follows its digest's text
        assert all(investigator.download(photo).startswith(PNG) for photo in photos)
        assert all(0 < len(m.text or "") <= 4096 for m in texts)
        assert all(m.raw.get("has_protected_content") is True for m in received)
        assert any("2026-11-28" in (m.text or "") for m in texts)
        # The admin got the same two digests.
        assert len([m for m in admin.messages if m.from_bot and m.kind == "photo"]) == 2
    finally:
        await offline.close()


async def test_admins_hear_when_a_robot_refuses_a_digest(
    tmp_path: Path, clock: ManualClock, manual_digests: pytest.MonkeyPatch, robots: FakeRobots
) -> None:
    target = robots.target("wecom")
    bad = target.model_copy(update={"url": target.url.replace("key=", "key=revoked-")})
    offline = await start(tmp_path, clock, digest_webhooks=[bad])
    try:
        admin = offline.new_user(user_id=ADMIN)
        await command(admin, "/staff")  # the admin has talked to the bot
        report = await scheduler_of(offline).tick()
        assert (report.delivery.sent, report.delivery.failed) == (1, 1)
        alert = await admin.wait_for_message(
            where=lambda m: "daily:2026-11-27" in (m.text or "") and "93000" in (m.text or ""),
            after=0,
            timeout=WAIT,
        )
        assert "revoked-" not in (alert.text or "") and "key=" not in (alert.text or "")
    finally:
        await offline.close()


async def test_the_loop_starts_and_stops_with_the_dispatcher(
    tmp_path: Path, clock: ManualClock, manual_digests: pytest.MonkeyPatch
) -> None:
    offline = await start(tmp_path, clock)
    try:
        admin = offline.emulator.user(user_id=ADMIN, started=True)
        manual_digests.undo()  # from now on the app runs its own loop
        await offline.restart_bot()
        assert offline.services is not None
        runtime = offline.services.digests
        # The first tick runs at start-up: the due digest arrives with no tick from the test.
        await admin.wait_for_message(where=lambda m: m.kind == "photo", after=0, timeout=WAIT)
        loop = runtime.scheduler
        assert loop is not None and loop.running
        await offline.stop_bot()
        assert not loop.running and runtime.scheduler is None
    finally:
        await offline.close()
