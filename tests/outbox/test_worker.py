"""The outbox worker: exactly once across concurrent workers, leases, retries, giving up."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest

from bot.anonymity.pseudonym import Pseudonymizer
from bot.delivery.outbox import (
    MIN_RETRY_DELAY,
    DeliverableDigest,
    Destination,
    DigestLoader,
    GaveUp,
    OutboxWorker,
    ProgressCallback,
    destination_ref,
)
from bot.delivery.sender import DeliveryResult
from bot.statuses import OutboxChannel, Role
from storage.database import Database
from storage.repositories import (
    DigestGroupRepository,
    DigestRepository,
    OutboxItem,
    OutboxRepository,
    StaffRepository,
)

from .conftest import ADMIN, FakeDigest, ManualClock, RecordingChannel, directory_for, fake_digest

PERIOD = "daily:2026-11-27"


async def _store(db: Database, *digests: FakeDigest) -> dict[str, FakeDigest]:
    """Give each digest a `digests` row (the outbox's foreign key) and return a loader map."""
    from bot.anonymity.crypto import TextCipher

    repository = DigestRepository(db, TextCipher(b"k" * 32))
    for digest in digests:
        await repository.store_if_absent(digest.period_key, "{}")
    return {digest.period_key: digest for digest in digests}


def _loader(digests: dict[str, FakeDigest]) -> DigestLoader:
    async def load(period_key: str) -> DeliverableDigest | None:
        return digests.get(period_key)

    return load


def _worker(
    db: Database,
    pseudonymizer: Pseudonymizer,
    digests: dict[str, FakeDigest],
    channel: RecordingChannel,
    clock: ManualClock,
    **options: object,
) -> OutboxWorker:
    return OutboxWorker(
        OutboxRepository(db),
        directory_for(db, pseudonymizer),
        _loader(digests),
        {"telegram": channel, "webhook": channel},
        clock=clock,
        rng=random.Random(11),
        **options,  # type: ignore[arg-type]
    )


async def _enqueue(
    db: Database, pseudonymizer: Pseudonymizer, period: str, clock: ManualClock
) -> int:
    entries = await directory_for(db, pseudonymizer).outbox_entries()
    return await OutboxRepository(db).enqueue(period, entries, now=clock())


async def test_two_concurrent_workers_deliver_each_row_exactly_once(
    db_url: str, pseudonymizer: Pseudonymizer, clock: ManualClock
) -> None:
    """Two workers with their own engines (as two processes would have) race over 3 × 31 rows."""
    first = await Database.connect(db_url)
    second = await Database.connect(db_url)
    try:
        await first.upgrade()
        staff = StaffRepository(first)
        for offset in range(25):
            await staff.add(700_000 + offset, Role.INVESTIGATOR)
        groups = DigestGroupRepository(first)
        for offset in range(5):
            await groups.add(-100_000 - offset)
        periods = [fake_digest(f"daily:2026-11-{day}") for day in (25, 26, 27)]
        digests = await _store(first, *periods)
        enqueued = sum([await _enqueue(first, pseudonymizer, p.period_key, clock) for p in periods])
        assert enqueued == 3 * 31  # 25 investigators, ADMIN, 5 groups
        channel = RecordingChannel()
        workers = [
            _worker(db, pseudonymizer, digests, channel, clock, concurrency=3)
            for db in (first, second)
        ]
        reports = await asyncio.gather(*(worker.run_once() for worker in workers))
        assert sorted(channel.deliveries) == sorted(set(channel.deliveries))
        assert len(channel.deliveries) == enqueued
        assert sum(report.sent for report in reports) == enqueued
        assert all(report.sent > 0 for report in reports)  # both really took part
        rows = await OutboxRepository(first).list()
        assert {row.status for row in rows} == {"sent"}
        assert {row.attempts for row in rows} == {1}
        # Running again (or in a third process) sends nothing more.
        again = await asyncio.gather(*(worker.run_once() for worker in workers))
        assert sum(report.sent for report in again) == 0
        assert len(channel.deliveries) == enqueued
    finally:
        await first.dispose()
        await second.dispose()


async def test_enqueueing_twice_adds_nothing(
    database: Database, pseudonymizer: Pseudonymizer, clock: ManualClock
) -> None:
    await _store(database, fake_digest(PERIOD))
    assert await _enqueue(database, pseudonymizer, PERIOD, clock) == 1
    assert await _enqueue(database, pseudonymizer, PERIOD, clock) == 0
    assert len(await OutboxRepository(database).list(PERIOD)) == 1


async def test_a_live_lease_is_respected_and_an_expired_one_taken_over(
    database: Database, pseudonymizer: Pseudonymizer, clock: ManualClock
) -> None:
    """A worker that crashed mid-delivery holds its row only until its lease runs out; then
    another worker resumes at the recorded part, and the crashed one can no longer write."""
    await _store(database, fake_digest(PERIOD))
    await _enqueue(database, pseudonymizer, PERIOD, clock)
    outbox = OutboxRepository(database)
    lease = timedelta(minutes=15)
    crashed = await outbox.claim(due_by=clock(), lease_until=clock() + lease, token="a" * 32)
    assert crashed is not None and crashed.attempts == 1
    assert await outbox.record_progress(crashed, parts_done=2, lease_until=clock() + lease)

    clock.advance(lease - timedelta(seconds=1))
    assert await outbox.claim(due_by=clock(), lease_until=clock() + lease, token="b" * 32) is None

    clock.advance(timedelta(seconds=1))
    taken = await outbox.claim(due_by=clock(), lease_until=clock() + lease, token="b" * 32)
    assert taken is not None
    assert (taken.parts_done, taken.attempts, taken.lease_token) == (2, 2, "b" * 32)
    assert not await outbox.mark_sent(crashed, parts_done=3)  # the old owner lost the row
    assert await outbox.mark_sent(taken, parts_done=3)
    [row] = await outbox.list(PERIOD)
    assert (row.status, row.parts_done) == ("sent", 3)


async def test_a_resumed_delivery_starts_at_the_recorded_part(
    database: Database, pseudonymizer: Pseudonymizer, clock: ManualClock
) -> None:
    digests = await _store(database, fake_digest(PERIOD))
    await _enqueue(database, pseudonymizer, PERIOD, clock)
    channel = RecordingChannel(parts=3)
    channel.script.append(
        DeliveryResult(ok=False, retryable=True, detail="flood", delivered_parts=2, total_parts=3)
    )
    worker = _worker(database, pseudonymizer, digests, channel, clock)
    first = await worker.run_once()
    assert first.retrying == 1
    clock.advance(timedelta(hours=2))
    second = await worker.run_once()
    assert second.sent == 1
    assert channel.first_parts == [0, 2]


async def test_retries_back_off_with_jitter_and_honour_retry_after(
    database: Database, pseudonymizer: Pseudonymizer, clock: ManualClock
) -> None:
    digests = await _store(database, fake_digest(PERIOD))
    await _enqueue(database, pseudonymizer, PERIOD, clock)
    failure = DeliveryResult(ok=False, retryable=True, detail="HTTP 503")
    hinted = DeliveryResult(ok=False, retryable=True, detail="HTTP 429", retry_after=5000.0)
    channel = RecordingChannel(script=[failure, failure, hinted])
    worker = _worker(database, pseudonymizer, digests, channel, clock, base_delay=30.0)
    outbox = OutboxRepository(database)
    expected_rng = random.Random(11)

    waits = []
    for attempt, ceiling in ((1, 30.0), (2, 60.0), (3, 120.0)):
        started = clock()
        report = await worker.run_once()
        assert report.retrying == 1
        [row] = await outbox.list(PERIOD)
        wait = (row.next_attempt_at - started).total_seconds()
        drawn = expected_rng.uniform(0.0, ceiling)
        expected = max(drawn, MIN_RETRY_DELAY) if attempt < 3 else 5000.0
        assert wait == pytest.approx(expected, abs=1e-3)
        assert (row.status, row.attempts, row.last_error) == (
            "pending",
            attempt,
            channel_detail(attempt),
        )
        waits.append(wait)
        # Not due yet: a pass just before the time sends nothing.
        clock.advance(wait - 0.5)
        tries = len(channel.first_parts)
        await worker.run_once()
        assert len(channel.first_parts) == tries
        clock.advance(0.5)
    assert waits[0] <= 30.0 and waits[1] <= 60.0 and waits[2] == 5000.0
    assert (await worker.run_once()).sent == 1
    assert len(channel.deliveries) == 1


def channel_detail(attempt: int) -> str:
    return "HTTP 429" if attempt == 3 else "HTTP 503"


async def test_after_the_last_try_the_row_fails_and_admins_are_told_once(
    database: Database, pseudonymizer: Pseudonymizer, clock: ManualClock
) -> None:
    digests = await _store(database, fake_digest(PERIOD))
    await _enqueue(database, pseudonymizer, PERIOD, clock)
    failure = DeliveryResult(ok=False, retryable=True, detail="HTTP 502")
    channel = RecordingChannel(script=[failure] * 10)
    told: list[GaveUp] = []

    async def tell(gave_up: GaveUp) -> None:
        told.append(gave_up)

    worker = _worker(
        database, pseudonymizer, digests, channel, clock, max_attempts=3, on_give_up=tell
    )
    for _ in range(5):
        await worker.run_once()
        clock.advance(timedelta(hours=2))
    [row] = await OutboxRepository(database).list(PERIOD)
    assert (row.status, row.attempts) == ("failed", 3)
    assert len(channel.first_parts) == 3
    assert [(g.period_key, g.attempts, g.detail) for g in told] == [(PERIOD, 3, "HTTP 502")]
    assert told[0].destination.chat_id == ADMIN


async def test_a_permanent_failure_gives_up_at_once(
    database: Database, pseudonymizer: Pseudonymizer, clock: ManualClock
) -> None:
    digests = await _store(database, fake_digest(PERIOD))
    await _enqueue(database, pseudonymizer, PERIOD, clock)
    blocked = DeliveryResult(ok=False, retryable=False, detail="TelegramForbiddenError")
    told: list[GaveUp] = []

    async def tell(gave_up: GaveUp) -> None:
        told.append(gave_up)

    channel = RecordingChannel(script=[blocked])
    worker = _worker(database, pseudonymizer, digests, channel, clock, on_give_up=tell)
    report = await worker.run_once()
    assert (report.failed, report.retrying) == (1, 0)
    assert len(told) == 1


async def test_an_unexpected_exception_is_a_retryable_failure(
    database: Database, pseudonymizer: Pseudonymizer, clock: ManualClock
) -> None:
    digests = await _store(database, fake_digest(PERIOD))
    await _enqueue(database, pseudonymizer, PERIOD, clock)

    class Exploding(RecordingChannel):
        async def deliver(self, *args: object, **kwargs: object) -> DeliveryResult:
            raise RuntimeError("secret https://example.invalid/?key=abc in a message")

    worker = _worker(database, pseudonymizer, digests, Exploding(), clock)
    report = await worker.run_once()
    assert report.retrying == 1
    [row] = await OutboxRepository(database).list(PERIOD)
    assert row.last_error is not None and "RuntimeError" in row.last_error
    assert "key=abc" not in row.last_error


async def test_rows_for_destinations_gone_since_are_cancelled(
    database: Database, pseudonymizer: Pseudonymizer, clock: ManualClock
) -> None:
    digests = await _store(database, fake_digest(PERIOD))
    staff = StaffRepository(database)
    await staff.add(700_100, Role.INVESTIGATOR)
    await _enqueue(database, pseudonymizer, PERIOD, clock)
    await staff.remove(700_100)  # revoked before the digest went out
    channel = RecordingChannel()
    report = await _worker(database, pseudonymizer, digests, channel, clock).run_once()
    assert (report.sent, report.cancelled) == (1, 1)
    revoked_ref = destination_ref(pseudonymizer, OutboxChannel.TELEGRAM, 700_100)
    assert all(ref != revoked_ref for _, ref in channel.deliveries)
    statuses = {row.destination: row.status for row in await OutboxRepository(database).list()}
    assert statuses[revoked_ref] == "cancelled"


async def test_the_outbox_holds_no_chat_id(
    database: Database, pseudonymizer: Pseudonymizer, clock: ManualClock
) -> None:
    await _store(database, fake_digest(PERIOD))
    await StaffRepository(database).add(765_432_109, Role.INVESTIGATOR)
    await DigestGroupRepository(database).add(-1_009_876_543_210)
    await _enqueue(database, pseudonymizer, PERIOD, clock)
    rows = await OutboxRepository(database).list()
    assert len(rows) == 3
    dumped = repr(rows)
    for identity in ("765432109", "1009876543210", str(ADMIN)):
        assert identity not in dumped


async def test_a_worker_that_lost_its_lease_stops_sending(
    database: Database, pseudonymizer: Pseudonymizer, clock: ManualClock
) -> None:
    """A worker so slow that its lease ran out and another took the row over must not send
    the rest of the digest as well."""
    digests = await _store(database, fake_digest(PERIOD))
    await _enqueue(database, pseudonymizer, PERIOD, clock)
    outbox = OutboxRepository(database)
    sent_parts: list[int] = []
    stolen: list[OutboxItem] = []

    class Slow(RecordingChannel):
        async def deliver(
            self,
            destination: Destination,
            digest: DeliverableDigest,
            *,
            message_id: str,
            first_part: int,
            on_progress: ProgressCallback,
        ) -> DeliveryResult:
            for part in range(1, 4):
                if part == 2:  # the lease runs out; another worker takes the row
                    clock.advance(timedelta(hours=1))
                    taken = await outbox.claim(
                        due_by=clock(), lease_until=clock() + timedelta(minutes=15), token="z" * 32
                    )
                    assert taken is not None
                    stolen.append(taken)
                sent_parts.append(part)
                await on_progress(part)
            return DeliveryResult(ok=True, retryable=False, detail="ok", delivered_parts=3)

    report = await _worker(database, pseudonymizer, digests, Slow(), clock).run_once()
    assert report.lost_leases == 1 and report.sent == 0
    assert sent_parts == [1, 2]  # part 3 was never sent by the worker that lost the row
    [row] = await outbox.list(PERIOD)
    assert (row.status, row.lease_token, row.parts_done) == ("sending", "z" * 32, 1)
