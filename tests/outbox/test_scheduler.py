"""The digest schedule: each due period built once (across processes), sent to every
destination once, sent even when empty, and retried with the content first stored."""

from __future__ import annotations

import asyncio
import random
import secrets
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.anonymity.crypto import TextCipher
from bot.anonymity.pseudonym import Pseudonymizer
from bot.config import DEFAULT_QUESTIONNAIRE
from bot.delivery.outbox import DestinationDirectory, OutboxWorker
from bot.delivery.sender import DeliveryResult
from bot.digest.period import DigestSchedule, Period
from bot.digest.scheduler import DigestScheduler, DigestService
from bot.questionnaire import Questionnaire, load_questionnaire
from bot.staff import StaffRoles
from bot.statuses import Role
from storage.database import Database
from storage.repositories import (
    DigestGroupRepository,
    DigestRepository,
    NewSubmission,
    OutboxRepository,
    StaffRepository,
    SubmissionRepository,
)
from storage.tables import digests

from .conftest import ADMIN, ManualClock, RecordingChannel

SCHEDULE = DigestSchedule.parse("daily 09:00", "Asia/Shanghai")
NINE_AM_28TH = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
DUE_ON_28TH = "daily:2026-11-27"
DUE_ON_29TH = "daily:2026-11-28"


@pytest.fixture(scope="module")
def questionnaire() -> Questionnaire:
    return load_questionnaire(DEFAULT_QUESTIONNAIRE)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NINE_AM_28TH)


def make(
    db: Database,
    cipher: TextCipher,
    pseudonymizer: Pseudonymizer,
    questionnaire: Questionnaire,
    clock: ManualClock,
    channel: RecordingChannel,
) -> tuple[DigestScheduler, DigestService]:
    roles = StaffRoles(StaffRepository(db), [ADMIN])
    directory = DestinationDirectory(roles, DigestGroupRepository(db), [], pseudonymizer)
    outbox = OutboxRepository(db)
    service = DigestService(
        db,
        cipher,
        questionnaire,
        SCHEDULE,
        DigestRepository(db, cipher),
        outbox,
        directory,
        k=5,
    )
    worker = OutboxWorker(
        outbox,
        directory,
        service.load,
        {"telegram": channel, "webhook": channel},
        clock=clock,
        rng=random.Random(1),
    )
    return DigestScheduler(service, worker, clock=clock), service


async def add_submissions(
    db: Database, cipher: TextCipher, questionnaire: Questionnaire, day: date, count: int
) -> None:
    repository = SubmissionRepository(db, cipher)
    for _ in range(count):
        await repository.store(
            NewSubmission(
                questionnaire_id=questionnaire.id,
                questionnaire_version=questionnaire.version,
                answers={f"p{n}_freq": "often" for n in range(1, 10)},
                text_question_ids=questionnaire.text_question_ids,
                day=day,
                receipt_hash=secrets.token_hex(32),
            )
        )


async def stored_count(db: Database) -> int:
    async with db.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(digests)) or 0)


async def test_a_due_period_is_built_once_and_sent_to_everyone_once(
    database: Database,
    cipher: TextCipher,
    pseudonymizer: Pseudonymizer,
    questionnaire: Questionnaire,
    clock: ManualClock,
) -> None:
    for user_id in (701, 702):
        await StaffRepository(database).add(user_id, Role.INVESTIGATOR)
    await DigestGroupRepository(database).add(-100_777)
    channel = RecordingChannel()
    scheduler, _ = make(database, cipher, pseudonymizer, questionnaire, clock, channel)

    first = await scheduler.tick()
    assert first.queued == [DUE_ON_28TH] and first.delivery.sent == 4
    clock.advance(timedelta(minutes=1))
    again = await scheduler.tick()
    assert again.queued == [] and again.delivery.sent == 0
    assert await stored_count(database) == 1

    clock.advance(timedelta(hours=23, minutes=58))  # 08:59 on the 29th: not yet
    assert (await scheduler.tick()).queued == []
    clock.advance(timedelta(minutes=1))
    nextday = await scheduler.tick()
    assert nextday.queued == [DUE_ON_29TH] and nextday.delivery.sent == 4
    assert len(channel.deliveries) == len(set(channel.deliveries)) == 8
    assert {period for period, _ in channel.deliveries} == {DUE_ON_28TH, DUE_ON_29TH}


async def test_an_empty_period_still_gets_its_digest(
    database: Database,
    cipher: TextCipher,
    pseudonymizer: Pseudonymizer,
    questionnaire: Questionnaire,
    clock: ManualClock,
) -> None:
    channel = RecordingChannel()
    scheduler, service = make(database, cipher, pseudonymizer, questionnaire, clock, channel)
    report = await scheduler.tick()
    assert report.delivery.sent == 1
    stored = await service.load(DUE_ON_28TH)
    assert stored is not None
    assert stored.telegram_parts and stored.message.chart_png
    assert channel.seen == [tuple(stored.telegram_parts)]


async def test_two_processes_ticking_together_build_one_digest_and_send_once(
    db_url: str,
    cipher: TextCipher,
    pseudonymizer: Pseudonymizer,
    questionnaire: Questionnaire,
    clock: ManualClock,
) -> None:
    first, second = await Database.connect(db_url), await Database.connect(db_url)
    try:
        await first.upgrade()
        for user_id in range(800, 806):
            await StaffRepository(first).add(user_id, Role.INVESTIGATOR)
        await add_submissions(first, cipher, questionnaire, date(2026, 11, 27), 6)
        channel = RecordingChannel()
        pair = [
            make(db, cipher, pseudonymizer, questionnaire, clock, channel) for db in (first, second)
        ]
        reports = await asyncio.gather(*(scheduler.tick() for scheduler, _ in pair))
        assert await stored_count(first) == 1
        assert sum(r.delivery.sent for r in reports) == 7
        assert len(channel.deliveries) == len(set(channel.deliveries)) == 7
        contents = {
            (await service.load(DUE_ON_28TH)).to_json()  # type: ignore[union-attr]
            for _, service in pair
        }
        assert len(contents) == 1
        assert len(set(channel.seen)) == 1  # everyone got the same digest
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_retry_sends_the_digest_first_stored(
    database: Database,
    cipher: TextCipher,
    pseudonymizer: Pseudonymizer,
    questionnaire: Questionnaire,
    clock: ManualClock,
) -> None:
    failure = DeliveryResult(ok=False, retryable=True, detail="HTTP 502")
    channel = RecordingChannel(script=[failure])
    scheduler, service = make(database, cipher, pseudonymizer, questionnaire, clock, channel)
    assert (await scheduler.tick()).delivery.retrying == 1

    # Late submissions for the same day arrive; a rebuild would now differ.
    await add_submissions(database, cipher, questionnaire, date(2026, 11, 27), 8)
    rebuilt = await service.build(Period.from_key(DUE_ON_28TH))
    assert tuple(rebuilt.telegram_parts) != channel.seen[0]

    clock.advance(timedelta(hours=2))
    assert (await scheduler.tick()).delivery.sent == 1
    assert channel.seen[1] == channel.seen[0]


async def test_a_digest_stored_but_never_queued_is_queued_by_the_next_tick(
    database: Database,
    cipher: TextCipher,
    pseudonymizer: Pseudonymizer,
    questionnaire: Questionnaire,
    clock: ManualClock,
) -> None:
    """A process that crashed between storing and queueing leaves nothing undelivered."""
    channel = RecordingChannel()
    scheduler, service = make(database, cipher, pseudonymizer, questionnaire, clock, channel)
    await service.stored(Period.from_key(DUE_ON_28TH))
    report = await scheduler.tick()
    assert report.queued == [DUE_ON_28TH] and report.delivery.sent == 1
    assert await OutboxRepository(database).list(DUE_ON_28TH)


async def test_destinations_are_those_of_the_time_the_period_was_queued(
    database: Database,
    cipher: TextCipher,
    pseudonymizer: Pseudonymizer,
    questionnaire: Questionnaire,
    clock: ManualClock,
) -> None:
    channel = RecordingChannel()
    scheduler, _ = make(database, cipher, pseudonymizer, questionnaire, clock, channel)
    await scheduler.tick()
    await StaffRepository(database).add(703, Role.INVESTIGATOR)  # joins after the send
    clock.advance(timedelta(hours=1))
    assert (await scheduler.tick()).delivery.sent == 0
    clock.advance(timedelta(days=1))
    assert (await scheduler.tick()).delivery.sent == 2
    periods = sorted(period for period, _ in channel.deliveries)
    assert periods == [DUE_ON_28TH, DUE_ON_29TH, DUE_ON_29TH]


async def test_the_loop_ticks_at_start_and_stops_promptly(
    database: Database,
    cipher: TextCipher,
    pseudonymizer: Pseudonymizer,
    questionnaire: Questionnaire,
    clock: ManualClock,
) -> None:
    channel = RecordingChannel()
    _, service = make(database, cipher, pseudonymizer, questionnaire, clock, channel)
    worker = OutboxWorker(
        OutboxRepository(database),
        DestinationDirectory(
            StaffRoles(StaffRepository(database), [ADMIN]),
            DigestGroupRepository(database),
            [],
            pseudonymizer,
        ),
        service.load,
        {"telegram": channel, "webhook": channel},
        clock=clock,
    )
    scheduler = DigestScheduler(service, worker, clock=clock, interval=3600.0)
    scheduler.start()
    try:
        await asyncio.wait_for(channel.delivered.wait(), timeout=60)
        assert scheduler.running
    finally:
        async with asyncio.timeout(60):  # the loop is waiting, not stuck in an hour's sleep
            await scheduler.stop()
    assert not scheduler.running
    assert channel.deliveries == [(DUE_ON_28TH, channel.deliveries[0][1])]


async def test_digests_past_retention_are_deleted_but_the_latest_is_kept(
    database: Database,
    cipher: TextCipher,
    pseudonymizer: Pseudonymizer,
    questionnaire: Questionnaire,
    clock: ManualClock,
) -> None:
    channel = RecordingChannel()
    _, service = make(database, cipher, pseudonymizer, questionnaire, clock, channel)
    repository = DigestRepository(database, cipher)
    for key in ("daily:2026-11-01", "daily:2026-11-02", "daily:2026-11-03"):
        await repository.store_if_absent(key, "{}")
    assert await service.purge_before(date(2026, 11, 3)) == 2
    assert await repository.keys() == ["daily:2026-11-03"]
    # Even past retention, the latest stays: it tells the schedule what was already sent.
    assert await service.purge_before(date(2026, 12, 31)) == 0
    assert await repository.keys() == ["daily:2026-11-03"]
