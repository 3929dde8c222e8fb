"""Three bot instances on one PostgreSQL, each with its own broadcast runtime, against the
Bot API emulator: a job is sent by one instance at a time, taken over when that instance is
killed in the middle (nobody gets a second copy; whoever got none is `unknown`), and pause,
resume and cancel pressed on an instance that does not send reach the one that does."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from aiogram import Bot
from sqlalchemy import select

from bot.anonymity.crypto import TextCipher
from bot.anonymity.pseudonym import Pseudonymizer
from bot.broadcast.runtime import BroadcastRuntime, create_sender_bot, lease_name
from bot.broadcast.sender import BroadcastSender
from bot.config import load_settings
from bot.harness.emulator import BotApiEmulator, EmulatedUser, Limits, VirtualClock
from bot.i18n import make_i18n
from bot.staff.audited import AuditedActions
from bot.statuses import BroadcastStatus
from storage.database import Database
from storage.repositories import (
    AuditRepository,
    BroadcastContent,
    BroadcastRepository,
    SubscriberRepository,
)
from storage.repositories.job_leases import JobLeaseRepository, LeaseHolder
from storage.tables import broadcast_recipients

TEXT = "<b>通知</b>：第二轮调研将于下周开始。"
FIRST_USER = 6_000_000
ADMIN = 6_999_999
#: Paid broadcasts (Telegram's 1,000/s ceiling) at 200/s: 2,000 recipients in ten seconds.
RATE = 200.0
TTL = timedelta(seconds=30)  # on the hand-moved lease clock: runs out when the test says
POLL = 0.05  # seconds between an instance's looks for jobs nobody sends
HANG = 180.0  # only catches a hang: every wait is on a condition


class ManualClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Cluster:
    primary: Database
    emu: BotApiEmulator
    token: str
    cipher: TextCipher
    pseudonymizer: Pseudonymizer
    lease_clock: ManualClock
    databases: list[Database] = field(default_factory=list)
    runtimes: list[BroadcastRuntime] = field(default_factory=list)
    holders: list[str] = field(default_factory=list)
    bots: list[Bot] = field(default_factory=list)
    users: list[EmulatedUser] = field(default_factory=list)

    def bot(self) -> Bot:
        bot = create_sender_bot(self.token, self.emu.base_url)
        self.bots.append(bot)
        return bot

    async def start_instance(self, url: str, rate: float = RATE) -> BroadcastRuntime:
        """One instance's broadcast runtime: its own pool, holder token and sender bot."""
        db = await Database.connect(url)
        self.databases.append(db)
        settings = load_settings(broadcast_rate=rate, allow_paid_broadcast=True)
        holder = secrets.token_hex(16)
        runtime = BroadcastRuntime(
            settings,
            BroadcastRepository(db, self.cipher),
            AuditedActions(db, AuditRepository(db), lambda: date(2026, 12, 2)),
            make_i18n("zh-CN"),
            self.bot,
            leases=LeaseHolder(JobLeaseRepository(db), holder, self.lease_clock, ttl=TTL),
            poll_interval=POLL,
        )
        await runtime.on_startup(self.bot())
        self.runtimes.append(runtime)
        self.holders.append(holder)
        return runtime

    async def subscribe(self, count: int) -> list[EmulatedUser]:
        subscribers = SubscriberRepository(self.primary, self.cipher, self.pseudonymizer)
        start = FIRST_USER + len(self.users)
        added = [self.emu.user(user_id=start + i, started=True) for i in range(count)]
        for user in added:
            await subscribers.subscribe(user.id, "zh-CN")
        self.users.extend(added)
        return added

    async def sender_of(self, job: str) -> int:
        """Which instance holds the job's lease now (waits until one does)."""
        leases = JobLeaseRepository(self.primary)
        while (holder := await leases.holder_of(lease_name(job), now=self.lease_clock())) is None:  # noqa: ASYNC110 - a row has no event
            await asyncio.sleep(POLL)
        return self.holders.index(holder)

    async def statuses(self, job: str) -> dict[int, str]:
        table = broadcast_recipients
        async with self.primary.engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(table.c.chat_hash, table.c.status).where(table.c.broadcast_id == job)
                )
            ).all()
        by_hash = {row.chat_hash: row.status for row in rows}
        return {
            user.id: by_hash[self.pseudonymizer.of("subscriber", user.id)] for user in self.users
        }

    def copies(self) -> dict[int, int]:
        return {user.id: len(user.chat.messages) for user in self.users}

    def sent(self) -> int:
        return self.emu.calls.count("sendMessage", status=200)


@pytest.fixture
async def cluster(migrated_postgres_url: str) -> AsyncIterator[Cluster]:
    primary = await Database.connect(migrated_postgres_url)
    emu = BotApiEmulator(limits=Limits(), clock=VirtualClock())
    await emu.start()
    found = Cluster(
        primary=primary,
        emu=emu,
        token=emu.create_bot(),
        cipher=TextCipher(b"k" * 32),
        pseudonymizer=Pseudonymizer(b"s" * 32),
        lease_clock=ManualClock(datetime(2026, 12, 2, 1, 0, tzinfo=UTC)),
    )
    try:
        yield found
    finally:
        for runtime in found.runtimes:
            await runtime.on_shutdown()
        for bot in found.bots:
            await bot.session.close()
        await emu.stop()
        for db in [*found.databases, primary]:
            await db.dispose()


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    """Poll an async `condition` until it is true; the caller's timeout catches a hang."""
    while not await condition():  # noqa: ASYNC110 - database rows and counters have no event
        await asyncio.sleep(POLL)


async def status_is(cluster: Cluster, job: str, status: BroadcastStatus) -> None:
    repository = BroadcastRepository(cluster.primary, cluster.cipher)

    async def reached() -> bool:
        return await repository.status_of(job) == status

    await until(reached)


async def test_two_thousand_sent_once_each_while_the_sending_instance_is_killed(
    cluster: Cluster, migrated_postgres_url: str
) -> None:
    recipients = 2000
    await cluster.subscribe(recipients)
    for _ in range(3):
        await cluster.start_instance(migrated_postgres_url)
    broadcasts = BroadcastRepository(cluster.primary, cluster.cipher)
    async with asyncio.timeout(HANG):
        # Created as an admin's /broadcast on some instance would; every instance sees it.
        job = await broadcasts.create(BroadcastContent(TEXT), paid=True)
        first = await cluster.sender_of(job)
        await cluster.emu.calls.wait_for(
            lambda calls: calls.count("sendMessage", status=200) >= recipients * 2 // 5,
            timeout=HANG,
        )
        cluster.runtimes[first].crash()  # killed: no release, nothing more written
        at_kill = cluster.sent()
        survivors = [r for number, r in enumerate(cluster.runtimes) if number != first]
        looked = [runtime.polls for runtime in survivors]

        async def looked_twice() -> bool:
            return all(r.polls >= n + 2 for r, n in zip(survivors, looked, strict=True))

        await until(looked_twice)
        # Its lease has not run out (nobody renews it, the clock has not moved): they keep out.
        assert not any(runtime.sending(job) for runtime in survivors)
        assert await cluster.sender_of(job) == first
        cluster.lease_clock.now += TTL + timedelta(seconds=1)
        taker = await cluster.sender_of(job)
        await status_is(cluster, job, BroadcastStatus.DONE)

    assert taker != first
    assert at_kill < recipients, "the instance was killed after the job had finished"
    copies = cluster.copies()
    state = await cluster.statuses(job)
    assert max(copies.values()) == 1, "somebody got the message twice"
    assert all(state[uid] == "unknown" for uid, n in copies.items() if n == 0)
    assert all(copies[uid] == 1 for uid, s in state.items() if s == "sent")
    counts = await broadcasts.counts(job)
    assert counts["sent"] + counts["unknown"] == recipients
    assert counts["pending"] == counts["sending"] == 0
    assert counts["unknown"] < recipients - at_kill + 200  # a window or two, not the rest
    assert sum(copies.values()) >= at_kill  # what went out before the kill stays sent


async def start_slow_job(cluster: Cluster, url: str) -> tuple[str, int, BroadcastRuntime]:
    """300 recipients at 50/s over three instances; returns the job, the index of the
    instance sending it, and another instance (where the admin presses the buttons)."""
    await cluster.subscribe(300)
    for _ in range(3):
        await cluster.start_instance(url, rate=50.0)
    job = await BroadcastRepository(cluster.primary, cluster.cipher).create(
        BroadcastContent(TEXT), paid=True
    )
    sending = await cluster.sender_of(job)
    await cluster.emu.calls.wait_for(
        lambda calls: calls.count("sendMessage", status=200) >= 60, timeout=HANG
    )
    return job, sending, cluster.runtimes[(sending + 1) % 3]


async def test_pause_and_resume_pressed_on_another_instance_reach_the_sender(
    cluster: Cluster, migrated_postgres_url: str
) -> None:
    async with asyncio.timeout(HANG):
        job, sending, elsewhere = await start_slow_job(cluster, migrated_postgres_url)
        sender = cluster.runtimes[sending]
        assert not elsewhere.sending(job)
        assert await elsewhere.pause(job, ADMIN)

        async def sender_stopped() -> bool:
            return not sender.sending(job)

        await until(sender_stopped)  # it read the status from the database and stopped
        paused_at = cluster.sent()
        looked = [runtime.polls for runtime in cluster.runtimes]

        async def everyone_looked_twice() -> bool:
            return all(r.polls >= n + 2 for r, n in zip(cluster.runtimes, looked, strict=True))

        await until(everyone_looked_twice)
        assert cluster.sent() == paused_at < 300  # a paused job is sent by nobody
        assert not any(runtime.sending(job) for runtime in cluster.runtimes)

        assert await elsewhere.resume(job, ADMIN)  # the lease is free: it sends from here
        await status_is(cluster, job, BroadcastStatus.DONE)

    copies = cluster.copies()
    assert set(copies.values()) == {1}  # nobody twice, nobody missed (no crash here)
    counts = await BroadcastRepository(cluster.primary, cluster.cipher).counts(job)
    assert counts["sent"] == 300 and counts["unknown"] == 0


async def test_cancel_pressed_on_another_instance_stops_the_sender(
    cluster: Cluster, migrated_postgres_url: str
) -> None:
    async with asyncio.timeout(HANG):
        job, sending, elsewhere = await start_slow_job(cluster, migrated_postgres_url)
        sender = cluster.runtimes[sending]
        assert await elsewhere.cancel(job, ADMIN)

        async def sender_stopped() -> bool:
            return not sender.sending(job)

        await until(sender_stopped)

    repository = BroadcastRepository(cluster.primary, cluster.cipher)
    assert await repository.status_of(job) == BroadcastStatus.CANCELLED
    counts = await repository.counts(job)
    copies = cluster.copies()
    assert max(copies.values()) == 1
    assert sum(copies.values()) == counts["sent"] < 300
    assert counts["sent"] + counts["skipped"] == 300  # every recipient accounted for
    leases = JobLeaseRepository(cluster.primary)

    async def nobody_holds_it() -> bool:
        return await leases.holder_of(lease_name(job), now=cluster.lease_clock()) is None

    async with asyncio.timeout(HANG):
        await until(nobody_holds_it)  # released, and nobody takes a cancelled job


async def test_two_senders_of_one_job_never_claim_the_same_recipient(
    cluster: Cluster, migrated_postgres_url: str
) -> None:
    """The second guard, for leases that overlapped (a stalled sender whose lease was taken
    over before it noticed): claiming locks the rows, so both send, and nobody twice."""
    await cluster.subscribe(600)
    job = await BroadcastRepository(cluster.primary, cluster.cipher).create(
        BroadcastContent(TEXT), paid=True
    )
    senders = []
    for _ in range(2):
        db = await Database.connect(migrated_postgres_url)
        cluster.databases.append(db)
        repository = BroadcastRepository(db, cluster.cipher)
        senders.append(
            BroadcastSender(
                repository, cluster.bot(), job, BroadcastContent(TEXT), rate=RATE, paid=True
            )
        )
    async with asyncio.timeout(HANG):
        reports = await asyncio.gather(*(sender.run() for sender in senders))
    assert any(report.finished for report in reports)  # the other found the job done
    assert all(report.sent_this_run > 0 for report in reports)  # they did run side by side
    assert set(cluster.copies().values()) == {1}
    counts = await BroadcastRepository(cluster.primary, cluster.cipher).counts(job)
    # A sender that starts marks the rows the other has in flight (`sending`) as unknown, so
    # the two may count some as unknown that did get their copy; still each exactly once.
    assert counts["sent"] + counts["unknown"] == 600
    assert cluster.sent() == 600
