"""/broadcast end to end through the real bot and the emulator: compose, preview, audience,
confirm, progress, report; pause, resume and cancel; resume after a restart and after a crash;
and nothing of it reachable by a non-admin, forged callback data included."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy import select

from bot.app import FeatureOptions
from bot.broadcast.callbacks import BroadcastAction, BroadcastCallback
from bot.broadcast.runtime import BroadcastRuntime
from bot.harness.emulator import EmulatedUser
from bot.harness.offline import OfflineBot
from bot.statuses import BroadcastStatus
from storage.tables import audit_log
from tests.e2e.conftest import StartOffline
from tests.e2e.driver import opt_in

# Scheduled digests stay off: they would land in the admin's chat mid-test.
pytestmark = pytest.mark.usefixtures("manual_digests")

ADMIN = 5_570_001
WAIT = 60.0  # only catches hangs: every wait below is on a condition
NOTICE = "第二轮调研下周开始"


async def subscribe(
    offline: OfflineBot, count: int, language: str = "zh-hans"
) -> list[EmulatedUser]:
    """Cadres who opted in to announcements (the button on the welcome)."""
    users = []
    for _ in range(count):
        user = offline.new_user(language_code=language)
        await opt_in(user)
        users.append(user)
    return users


async def until(predicate: Callable[[], bool]) -> None:
    """Poll `predicate` (a condition on emulator state) until it holds; the guard only
    catches a hang, so a slow machine never fails it."""
    async with asyncio.timeout(WAIT):
        while not predicate():  # noqa: ASYNC110 - the state spans many chats
            await asyncio.sleep(0.01)


def copies(user: EmulatedUser, text: str = NOTICE) -> int:
    return sum(1 for m in user.messages if m.from_bot and text in (m.text or ""))


def runtime(offline: OfflineBot) -> BroadcastRuntime:
    assert offline.dispatcher is not None
    found = offline.dispatcher.workflow_data["broadcasts"]
    assert isinstance(found, BroadcastRuntime)
    return found


async def compose_and_send(admin: EmulatedUser, audience: str = "All subscribers") -> None:
    sent = await admin.send_command("/broadcast")
    await admin.wait_for_message("Send the broadcast", after=sent, timeout=WAIT)
    sent = await admin.send_text(NOTICE)
    await admin.wait_for_message(NOTICE, after=sent, timeout=WAIT)  # the preview
    question = await admin.wait_for_message("Who should receive it?", after=sent, timeout=WAIT)
    press = await admin.press(lambda b: b.text.startswith(audience), question)
    await press.wait_answered(WAIT)
    confirm = await admin.wait_for_message("Send the preview above", after=question, timeout=WAIT)
    press = await admin.press("Send", confirm)
    await press.wait_answered(WAIT)


async def start_admin_bot(start_offline: StartOffline, **overrides: object) -> OfflineBot:
    return await start_offline(
        admin_ids=[ADMIN], options=FeatureOptions(broadcast_progress_interval=0.3), **overrides
    )


async def test_admin_broadcasts_to_every_subscriber_once(start_offline: StartOffline) -> None:
    offline = await start_admin_bot(start_offline)
    users = await subscribe(offline, 5)
    stopped = users[4]
    sent = await stopped.send_command("/stop")
    await stopped.wait_for_message(after=sent, timeout=WAIT)
    admin = offline.emulator.user(user_id=ADMIN, language_code="en")

    await compose_and_send(admin)
    report = await admin.wait_for_message("report", timeout=WAIT, after=0)
    assert "Delivered: 4" in (report.text or "")
    [progress] = [m for m in admin.messages if m.from_bot and "Remaining:" in (m.text or "")]
    assert "finished" in (progress.text or "") and "Sent: 4" in (progress.text or "")
    assert not progress.buttons  # no pause/cancel once it has ended
    assert [copies(u) for u in users] == [1, 1, 1, 1, 0]
    assert offline.services is not None
    async with offline.services.database.engine.connect() as connection:
        actions = (await connection.execute(select(audit_log.c.action))).scalars().all()
    assert "broadcast.start" in actions
    assert offline.emulator.unanswered_callbacks() == []


async def test_language_audience(start_offline: StartOffline) -> None:
    offline = await start_admin_bot(start_offline)
    chinese = await subscribe(offline, 2, "zh-hans")
    english = await subscribe(offline, 2, "en")
    admin = offline.emulator.user(user_id=ADMIN, language_code="en")
    await compose_and_send(admin, audience="English only")
    await admin.wait_for_message("report", timeout=WAIT, after=0)
    assert [copies(u) for u in chinese + english] == [0, 0, 1, 1]


async def test_pause_resume_and_restart_resume_exactly_once(
    start_offline: StartOffline,
) -> None:
    offline = await start_admin_bot(start_offline, broadcast_rate=2)
    users = await subscribe(offline, 12)
    admin = offline.emulator.user(user_id=ADMIN, language_code="en")
    await compose_and_send(admin)
    progress = await admin.wait_for_message(
        "Broadcast", timeout=WAIT, where=lambda m: "⏸" in str(m.buttons)
    )
    await until(lambda: not (sum(copies(u) for u in users) < 2))
    press = await admin.press(lambda b: "Pause" in b.text, progress)
    answer = await press.wait_answered(WAIT)
    assert answer.text == "Paused."  # answered once the sender task has ended
    paused_at = sum(copies(u) for u in users)
    job = runtime(offline).repository
    [job_id] = await job.ids_with_status(BroadcastStatus.PAUSED)
    assert not runtime(offline).is_active(job_id)  # nothing left that could send more
    assert sum(copies(u) for u in users) == paused_at

    press = await admin.press_data(BroadcastCallback(a=BroadcastAction.RESUME, job=job_id).pack())
    await press.wait_answered(WAIT)
    await until(lambda: not (sum(copies(u) for u in users) < paused_at + 2))
    await offline.restart_bot()  # SIGTERM-like stop in the middle; the job resumes on start
    await until(lambda: not (sum(copies(u) for u in users) < paused_at + 4))
    sender = runtime(offline).task(job_id)
    assert sender is not None
    runtime(offline).crash(job_id)  # and now a crash
    async with asyncio.timeout(WAIT):
        await asyncio.wait([sender])
    await offline.restart_bot()
    await admin.wait_for_message("report", timeout=WAIT, after=0)
    counts = await runtime(offline).repository.counts(job_id)
    per_user = [copies(u) for u in users]
    assert max(per_user) == 1
    assert counts["sent"] + counts["unknown"] == 12
    assert per_user.count(0) <= counts["unknown"]


async def test_cancel_stops_and_reports(start_offline: StartOffline) -> None:
    offline = await start_admin_bot(start_offline, broadcast_rate=1)
    users = await subscribe(offline, 10)
    admin = offline.emulator.user(user_id=ADMIN, language_code="en")
    await compose_and_send(admin)
    progress = await admin.wait_for_message(
        "Broadcast", timeout=WAIT, where=lambda m: "✖" in str(m.buttons)
    )
    await until(lambda: not (sum(copies(u) for u in users) < 1))
    press = await admin.press(lambda b: "Cancel" in b.text, progress)
    answer = await press.wait_answered(WAIT)
    assert answer.text == "Cancelled."  # answered once the sender task has ended
    report = await admin.wait_for_message("cancelled", timeout=WAIT, after=progress)
    [job_id] = await runtime(offline).repository.ids_with_status(BroadcastStatus.CANCELLED)
    assert not runtime(offline).is_active(job_id)  # nothing left that could send more
    counts = await runtime(offline).repository.counts(job_id)
    assert sum(copies(u) for u in users) == counts["sent"] < 10
    assert sum(counts.values()) == 10  # every recipient accounted for: sent or skipped
    assert "Skipped" in (report.text or "")


async def test_non_admins_reach_nothing(start_offline: StartOffline) -> None:
    offline = await start_admin_bot(start_offline, broadcast_rate=2)
    users = await subscribe(offline, 4)
    admin = offline.emulator.user(user_id=ADMIN, language_code="en")
    await compose_and_send(admin)
    await admin.wait_for_message("Broadcast", timeout=WAIT, where=lambda m: "✖" in str(m.buttons))
    [job_id] = await runtime(offline).repository.ids_with_status(BroadcastStatus.RUNNING)

    intruder = offline.new_user(language_code="en")
    sent = await intruder.send_command("/broadcast")
    reply = await intruder.wait_for_message(after=sent, timeout=WAIT)
    assert "Only administrators" in (reply.text or "")
    sent = await intruder.send_text("给所有人的消息")  # not in the compose state: nothing sent
    await intruder.wait_for_message(after=sent, timeout=WAIT)  # handled (a polite catch-all)
    for action in BroadcastAction:
        data = BroadcastCallback(a=action, job=job_id).pack()
        handle = await intruder.press_data(data)
        answer = await handle.wait_answered(WAIT)
        assert "Only administrators" in (answer.text or "")
    # Not paused or cancelled (it may have finished meanwhile on its own): all four get it.
    assert await runtime(offline).repository.status_of(job_id) in ("running", "done")
    await admin.wait_for_message("report", timeout=WAIT, after=0)
    assert [copies(u) for u in users] == [1, 1, 1, 1]
    assert all(copies(u, "给所有人的消息") == 0 for u in users)


async def test_photo_broadcast_preview_is_what_recipients_get(start_offline: StartOffline) -> None:
    offline = await start_admin_bot(start_offline)
    users = await subscribe(offline, 2)
    admin = offline.emulator.user(user_id=ADMIN, language_code="en")
    sent = await admin.send_command("/broadcast")
    await admin.wait_for_message("Send the broadcast", after=sent, timeout=WAIT)
    sent = await admin.send_photo(caption=NOTICE)
    preview = await admin.wait_for_message(NOTICE, after=sent, timeout=WAIT)
    assert preview.file_id is not None
    question = await admin.wait_for_message("Who should receive it?", after=sent, timeout=WAIT)
    await (
        await admin.press(lambda b: b.text.startswith("All subscribers"), question)
    ).wait_answered(WAIT)
    confirm = await admin.wait_for_message("Send the preview above", after=question, timeout=WAIT)
    await (await admin.press("Send", confirm)).wait_answered(WAIT)
    await admin.wait_for_message("report", timeout=WAIT, after=0)
    for user in users:
        [got] = [m for m in user.messages if m.from_bot and m.text == NOTICE]
        assert got.file_id is not None
        assert user.download(got) == admin.download(preview)
