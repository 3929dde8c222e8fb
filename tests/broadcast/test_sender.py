"""The broadcast sender against the emulator, with Telegram's real limits on the emulator's
virtual clock (the sender's pacing moves it instead of sleeping, so a broadcast that takes
Telegram minutes runs in seconds): 429 storms pause everything, blocked users become inactive,
5xx bursts are retried, and a crash never makes anyone receive the message twice. `make load`
sends the storms and the crash to 2,000 recipients; `make test` to a few hundred."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from bot.broadcast import BroadcastSender, Pacer
from bot.harness.emulator import EmulatedUser, Limits
from storage.repositories import BroadcastContent
from tests.broadcast.conftest import BroadcastWorld

RATE = 25.0  # BROADCAST_RATE's default
TEXT = "<b>通知</b>：第二轮调研将于下周开始。"
#: Only guards against a hang: every pace in these tests is measured on the virtual clock.
HANG = 120.0
#: `make test`'s big broadcasts claim a second of sending at a time instead of the default
#: 0.2 s: a fifth of the database round trips, the same behaviour. `make load` uses 0.2 s.
TEST_WINDOW = 1.0
#: `make test`'s big broadcasts: several windows, storms and pauses, a crash in the middle.
TEST_RECIPIENTS = 300
DEFAULT_WINDOW = 0.2


def make_sender(world: BroadcastWorld, job: str, **options: object) -> BroadcastSender:
    """A sender whose pacing runs on the emulator's virtual clock (retries on real time)."""
    options.setdefault("rate", RATE)
    options.setdefault("base_delay", 0.05)
    options.setdefault("max_delay", 0.2)
    sender = BroadcastSender(
        world.broadcasts,
        world.sender_bot(),
        job,
        BroadcastContent(TEXT),
        clock=world.time.now,
        **options,  # type: ignore[arg-type]
    )
    sender.pacer = Pacer(sender.rate, clock=world.time.now, sleep=world.time.sleep)
    return sender


async def statuses(world: BroadcastWorld, job: str, users: list[EmulatedUser]) -> dict[int, str]:
    from sqlalchemy import select

    from storage.tables import broadcast_recipients as r

    async with world.db.engine.connect() as connection:
        rows = (
            await connection.execute(
                select(r.c.chat_hash, r.c.status).where(r.c.broadcast_id == job)
            )
        ).all()
    by_hash = {row.chat_hash: row.status for row in rows}
    return {user.id: by_hash[world.hash_of(user)] for user in users}


async def wait_sent(world: BroadcastWorld, sent: int) -> None:
    await world.emu.calls.wait_for(
        lambda calls: calls.count("sendMessage", status=200) >= sent, timeout=HANG
    )


def storm_marks(recipients: int) -> tuple[int, int, int]:
    """When the storms start: after 15%, 35% and 55% of the recipients have been sent to."""
    return recipients * 15 // 100, recipients * 35 // 100, recipients * 55 // 100


async def storms_blocked_users_and_5xx(
    world: BroadcastWorld, recipients: int, window: float
) -> None:
    users = await world.add_users(recipients)
    blocked = users[::97]  # 1 in 97 users blocked the bot
    for user in blocked:
        user.block()
    job = await world.broadcasts.create(BroadcastContent(TEXT))
    sender = make_sender(world, job, window=window)
    faults = world.emu.faults

    first, second, third = storm_marks(recipients)

    async def storms() -> None:
        await wait_sent(world, first)
        faults.too_many_requests(retry_after=1, method="sendMessage", times=3)
        await wait_sent(world, second)
        faults.server_error(502, method="sendMessage", times=25)
        await wait_sent(world, third)
        faults.too_many_requests(retry_after=1, method="sendMessage", times=2)
        faults.server_error(500, method="sendMessage", times=10)

    storm = asyncio.create_task(storms())
    report = await asyncio.wait_for(sender.run(), timeout=HANG)
    await storm
    assert report.finished

    copies = world.copies(users)
    blocked_ids = {user.id for user in blocked}
    assert all(copies[uid] == 0 for uid in blocked_ids)
    assert all(copies[user.id] == 1 for user in users if user.id not in blocked_ids)
    counts = report.counts
    assert counts["sent"] == recipients - len(blocked)
    assert counts["blocked"] == len(blocked)
    assert counts["failed"] == counts["unknown"] == counts["pending"] == counts["sending"] == 0
    assert report.pauses >= 2
    for user in blocked:
        assert not await world.subscribers.is_active(user.id)
    assert await world.subscribers.count_active() == recipients - len(blocked)
    assert await world.broadcasts.status_of(job) == "done"

    # A 429 pauses *all* sending for retry_after: nothing was dispatched inside a pause.
    log = world.send_log
    assert len(log.told_to_wait) == world.emu.calls.count("sendMessage", status=429) >= 1
    for told, retry_after in log.told_to_wait:
        inside = [t for t in log.dispatched if told < t < told + retry_after]
        assert inside == [], "a message went out during a 429 pause"
    # Paced under Telegram's ceiling: the emulator refused nothing but the injected 429s, and
    # the whole broadcast took at least as long as the rate says, in Telegram's time.
    assert world.emu.calls.count("sendMessage", status=429) == 5
    assert report.elapsed >= (recipients - Limits().global_burst) / RATE


async def test_storms_blocked_users_and_5xx(world: BroadcastWorld) -> None:
    await storms_blocked_users_and_5xx(world, TEST_RECIPIENTS, TEST_WINDOW)


@pytest.mark.load
@pytest.mark.timeout(600)
async def test_two_thousand_with_storms_blocked_users_and_5xx(world: BroadcastWorld) -> None:
    await storms_blocked_users_and_5xx(world, 2000, DEFAULT_WINDOW)


async def crash_mid_broadcast_and_restart(
    world: BroadcastWorld, recipients: int, window: float
) -> None:
    users = await world.add_users(recipients)
    job = await world.broadcasts.create(BroadcastContent(TEXT))
    first = asyncio.create_task(make_sender(world, job, window=window).run())
    await wait_sent(world, recipients * 2 // 5)
    first.cancel()  # abrupt: nothing is written after this point
    with pytest.raises(asyncio.CancelledError):
        await first
    interrupted = (await world.broadcasts.counts(job))["sending"]

    report = await asyncio.wait_for(make_sender(world, job, window=window).run(), timeout=HANG)
    assert report.finished
    assert report.recovered_unknown == interrupted
    assert interrupted <= 2 * RATE * window + 100  # one window plus what was in flight

    copies = world.copies(users)
    state = await statuses(world, job, users)
    assert max(copies.values()) == 1, "somebody got the message twice"
    # Nobody is silently lost: whoever got nothing is reported as unknown.
    assert all(state[uid] == "unknown" for uid, n in copies.items() if n == 0)
    assert all(copies[uid] == 1 for uid, s in state.items() if s == "sent")
    counts = report.counts
    assert counts["sent"] + counts["unknown"] == recipients
    assert counts["unknown"] == interrupted
    assert sum(copies.values()) >= recipients - interrupted


async def test_crash_mid_broadcast_and_restart_never_duplicates(world: BroadcastWorld) -> None:
    await crash_mid_broadcast_and_restart(world, TEST_RECIPIENTS, TEST_WINDOW)


@pytest.mark.load
@pytest.mark.timeout(600)
async def test_crash_mid_broadcast_of_two_thousand_and_restart_never_duplicates(
    world: BroadcastWorld,
) -> None:
    await crash_mid_broadcast_and_restart(world, 2000, DEFAULT_WINDOW)


async def test_crash_during_a_429_pause_loses_nobody(world: BroadcastWorld) -> None:
    users = await world.add_users(TEST_RECIPIENTS)
    job = await world.broadcasts.create(BroadcastContent(TEXT))
    sender = make_sender(world, job, window=TEST_WINDOW)
    in_pause = asyncio.Event()

    async def sleep_but_stay_in_a_pause(seconds: float) -> None:
        """The clock stops inside the 429 pause, so the crash surely comes during it."""
        if sender.pacer.paused_until > world.time.now():
            in_pause.set()
            await asyncio.Event().wait()
        await world.time.sleep(seconds)

    sender.pacer = Pacer(sender.rate, clock=world.time.now, sleep=sleep_but_stay_in_a_pause)
    first = asyncio.create_task(sender.run())
    await wait_sent(world, 100)
    world.emu.faults.too_many_requests(retry_after=3, method="sendMessage", times=1)
    async with asyncio.timeout(HANG):
        await in_pause.wait()
        # Claimed-but-unsent rows are handed back at once; wait for the requests in flight.
        while True:
            if not (await world.broadcasts.counts(job))["sending"]:
                break
            await asyncio.sleep(0.005)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first

    report = await asyncio.wait_for(make_sender(world, job, window=TEST_WINDOW).run(), timeout=HANG)
    assert report.finished and report.recovered_unknown == 0
    assert Counter(world.copies(users).values()) == Counter({1: TEST_RECIPIENTS})
    assert report.counts["sent"] == TEST_RECIPIENTS


async def test_bad_requests_fail_with_reason_and_stops_are_skipped(world: BroadcastWorld) -> None:
    users = await world.add_users(20)
    await world.subscribers.subscribe(999_999_001, "zh-CN")  # a chat Telegram does not know
    job = await world.broadcasts.create(BroadcastContent(TEXT))
    await world.subscribers.unsubscribe(users[0].id)  # /stop after the job was created
    report = await make_sender(world, job).run()
    counts = report.counts
    assert counts["sent"] == 19 and counts["failed"] == 1 and counts["skipped"] == 1
    assert await world.broadcasts.errors(job) == [("Bad Request: chat not found", 1)]
    assert world.copies(users[:1]) == {users[0].id: 0}


async def test_ambiguous_network_errors_are_not_resent(world: BroadcastWorld) -> None:
    users = await world.add_users(30)
    job = await world.broadcasts.create(BroadcastContent(TEXT))
    world.emu.faults.drop_connection(method="sendMessage", times=2, after_processing=True)
    report = await make_sender(world, job).run()
    assert report.counts["unknown"] == 2 and report.counts["sent"] == 28
    assert Counter(world.copies(users).values()) == Counter({1: 30})


async def test_persistent_5xx_fails_after_max_attempts(world: BroadcastWorld) -> None:
    users = await world.add_users(3)
    job = await world.broadcasts.create(BroadcastContent(TEXT))
    world.emu.faults.server_error(502, method="sendMessage", times=1000)
    report = await make_sender(world, job, max_attempts=3).run()
    world.emu.faults.clear()
    assert report.counts["failed"] == 3
    assert world.emu.calls.count("sendMessage") == 9
    assert world.copies(users) == dict.fromkeys((u.id for u in users), 0)


async def test_paid_broadcast_and_language_audience(world: BroadcastWorld) -> None:
    chinese = await world.add_users(5, locale="zh-CN")
    english = await world.add_users(4, locale="en")
    job = await world.broadcasts.create(BroadcastContent(TEXT), locale="en", paid=True)
    report = await make_sender(world, job, paid=True).run()
    assert report.counts["sent"] == 4
    assert set(world.copies(chinese).values()) == {0}
    assert set(world.copies(english).values()) == {1}
    assert all(c.params.get("allow_paid_broadcast") for c in world.emu.calls.of("sendMessage"))
