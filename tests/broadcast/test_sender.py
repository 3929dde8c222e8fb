"""The broadcast sender against the emulator, with Telegram's limits shape (scaled ×10 so that
a 2,000-recipient broadcast takes seconds): 429 storms pause everything, blocked users become
inactive, 5xx bursts are retried, and a crash never makes anyone receive the message twice."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from bot.broadcast import BroadcastSender
from bot.harness.emulator import EmulatedUser
from storage.repositories import BroadcastContent
from tests.broadcast.conftest import BroadcastWorld

SCALE = 10
RATE = 25.0 * SCALE  # BROADCAST_RATE's default, scaled like the emulator's limits
TEXT = "<b>通知</b>：第二轮调研将于下周开始。"


def make_sender(world: BroadcastWorld, job: str, **options: object) -> BroadcastSender:
    options.setdefault("rate", RATE)
    options.setdefault("base_delay", 0.05)
    options.setdefault("max_delay", 0.2)
    return BroadcastSender(
        world.broadcasts,
        world.sender_bot(),
        job,
        BroadcastContent(TEXT),
        **options,  # type: ignore[arg-type]
    )


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
    for _ in range(12_000):
        if world.emu.calls.count("sendMessage", status=200) >= sent:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("not sent in time")


async def test_two_thousand_with_storms_blocked_users_and_5xx(world: BroadcastWorld) -> None:
    users = await world.add_users(2000)
    blocked = users[::97]  # 21 users blocked the bot
    for user in blocked:
        user.block()
    job = await world.broadcasts.create(BroadcastContent(TEXT))
    sender = make_sender(world, job)
    faults = world.emu.faults

    async def storms() -> None:
        await wait_sent(world, 300)
        faults.too_many_requests(retry_after=1, method="sendMessage", times=3)
        await wait_sent(world, 700)
        faults.server_error(502, method="sendMessage", times=25)
        await wait_sent(world, 1100)
        faults.too_many_requests(retry_after=1, method="sendMessage", times=2)
        faults.server_error(500, method="sendMessage", times=10)

    storm = asyncio.create_task(storms())
    report = await asyncio.wait_for(sender.run(), timeout=60)
    await storm
    assert report.finished

    copies = world.copies(users)
    blocked_ids = {user.id for user in blocked}
    assert all(copies[uid] == 0 for uid in blocked_ids)
    assert all(copies[user.id] == 1 for user in users if user.id not in blocked_ids)
    counts = report.counts
    assert counts["sent"] == 2000 - len(blocked)
    assert counts["blocked"] == len(blocked)
    assert counts["failed"] == counts["unknown"] == counts["pending"] == counts["sending"] == 0
    assert report.pauses >= 2
    for user in blocked:
        assert not await world.subscribers.is_active(user.id)
    assert await world.subscribers.count_active() == 2000 - len(blocked)
    assert await world.broadcasts.status_of(job) == "done"

    # A 429 pauses *all* sending for retry_after: nothing was dispatched inside a pause.
    log = world.send_log
    assert len(log.told_to_wait) == world.emu.calls.count("sendMessage", status=429) >= 1
    for told, retry_after in log.told_to_wait:
        inside = [t for t in log.dispatched if told < t < told + retry_after - 0.01]
        assert inside == [], "a message went out during a 429 pause"


async def test_crash_mid_broadcast_and_restart_never_duplicates(world: BroadcastWorld) -> None:
    users = await world.add_users(2000)
    job = await world.broadcasts.create(BroadcastContent(TEXT))
    first = asyncio.create_task(make_sender(world, job).run())
    await wait_sent(world, 800)
    first.cancel()  # abrupt: nothing is written after this point
    with pytest.raises(asyncio.CancelledError):
        await first
    interrupted = (await world.broadcasts.counts(job))["sending"]

    report = await asyncio.wait_for(make_sender(world, job).run(), timeout=60)
    assert report.finished
    assert report.recovered_unknown == interrupted
    assert interrupted <= 2 * RATE * 0.2 + 100  # one window plus what was in flight

    copies = world.copies(users)
    state = await statuses(world, job, users)
    assert max(copies.values()) == 1, "somebody got the message twice"
    # Nobody is silently lost: whoever got nothing is reported as unknown.
    assert all(state[uid] == "unknown" for uid, n in copies.items() if n == 0)
    assert all(copies[uid] == 1 for uid, s in state.items() if s == "sent")
    counts = report.counts
    assert counts["sent"] + counts["unknown"] == 2000
    assert counts["unknown"] == interrupted
    assert sum(copies.values()) >= 2000 - interrupted


async def test_crash_during_a_429_pause_loses_nobody(world: BroadcastWorld) -> None:
    users = await world.add_users(300)
    job = await world.broadcasts.create(BroadcastContent(TEXT))
    sender = make_sender(world, job)
    first = asyncio.create_task(sender.run())
    await wait_sent(world, 100)
    world.emu.faults.too_many_requests(retry_after=3, method="sendMessage", times=1)
    for _ in range(2000):
        if sender.pacer.pauses:
            break
        await asyncio.sleep(0.005)
    # Claimed-but-unsent rows are handed back at once; wait for the requests in flight.
    for _ in range(400):
        if (await world.broadcasts.counts(job))["sending"] == 0:
            break
        await asyncio.sleep(0.005)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first

    report = await asyncio.wait_for(make_sender(world, job).run(), timeout=30)
    assert report.finished and report.recovered_unknown == 0
    assert Counter(world.copies(users).values()) == Counter({1: 300})
    assert report.counts["sent"] == 300


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
