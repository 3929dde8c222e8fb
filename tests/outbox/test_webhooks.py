"""The outbox with real HTTP to local stand-ins of the group robots: backoff between failed
tries, the robot's own retry hint, one delivery in the end, a stable webhook-id, giving up."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from bot.anonymity.crypto import TextCipher
from bot.anonymity.pseudonym import Pseudonymizer
from bot.config import WebhookTarget
from bot.delivery.outbox import (
    DeliverableDigest,
    GaveUp,
    OutboxWorker,
    WebhookChannel,
    webhook_message_id,
)
from bot.delivery.sender import WebhookSender
from storage.database import Database
from storage.repositories import DigestRepository, OutboxItem, OutboxRepository
from tests.delivery.fake_robots import FakeRobots, Scripted

from .conftest import ManualClock, RecordingChannel, directory_for, fake_digest

PERIOD = "daily:2026-11-27"


@pytest.fixture
async def robots() -> AsyncIterator[FakeRobots]:
    fake = FakeRobots()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def _setup(
    database: Database,
    pseudonymizer: Pseudonymizer,
    clock: ManualClock,
    http: httpx.AsyncClient,
    target: WebhookTarget,
    told: list[GaveUp],
    **options: object,
) -> tuple[OutboxWorker, RecordingChannel]:
    digest = fake_digest(PERIOD)
    await DigestRepository(database, TextCipher(b"k" * 32)).store_if_absent(PERIOD, "{}")
    directory = directory_for(database, pseudonymizer, [target])
    await OutboxRepository(database).enqueue(PERIOD, await directory.outbox_entries(), now=clock())

    async def load(period_key: str) -> DeliverableDigest | None:
        return digest if period_key == PERIOD else None

    async def tell(gave_up: GaveUp) -> None:
        told.append(gave_up)

    telegram = RecordingChannel()  # the configured admin's private chat, not under test here
    worker = OutboxWorker(
        OutboxRepository(database),
        directory,
        load,
        {"telegram": telegram, "webhook": WebhookChannel(WebhookSender(http))},
        on_give_up=tell,
        clock=clock,
        rng=random.Random(5),
        **options,  # type: ignore[arg-type]
    )
    return worker, telegram


async def _webhook_row(database: Database) -> OutboxItem:
    rows = await OutboxRepository(database).list(PERIOD)
    rows = [row for row in rows if row.channel == "webhook"]
    assert len(rows) == 1
    return rows[0]


async def test_a_failing_robot_is_retried_with_backoff_until_delivered_once(
    database: Database,
    pseudonymizer: Pseudonymizer,
    clock: ManualClock,
    http: httpx.AsyncClient,
    robots: FakeRobots,
) -> None:
    told: list[GaveUp] = []
    worker, _ = await _setup(database, pseudonymizer, clock, http, robots.target("wecom"), told)
    robots.script.extend(
        [Scripted(status=502), Scripted(body={"errcode": 45009, "errmsg": "api freq out of limit"})]
    )

    start = clock()
    await worker.run_once()
    first = await _webhook_row(database)
    assert (first.status, first.attempts) == ("pending", 1)
    assert "HTTP 502" in (first.last_error or "")
    assert 1.0 <= (first.next_attempt_at - start).total_seconds() <= 30.0
    assert robots.received == []

    clock.now = first.next_attempt_at
    await worker.run_once()
    second = await _webhook_row(database)
    assert (second.status, second.attempts) == ("pending", 2)
    assert "45009" in (second.last_error or "")
    assert (second.next_attempt_at - clock()).total_seconds() >= 60.0  # WeCom's own hint

    clock.now = second.next_attempt_at - timedelta(seconds=1)
    await worker.run_once()
    assert robots.received == []  # not due yet

    clock.now = second.next_attempt_at
    await worker.run_once()
    done = await _webhook_row(database)
    assert (done.status, done.attempts, done.last_error) == ("sent", 3, None)
    assert len(robots.of_kind("wecom")) == 1
    await worker.run_once()
    clock.advance(timedelta(days=1))
    await worker.run_once()
    assert len(robots.of_kind("wecom")) == 1
    assert told == []


async def test_the_generic_webhook_id_is_the_rows_stable_id(
    database: Database,
    pseudonymizer: Pseudonymizer,
    clock: ManualClock,
    http: httpx.AsyncClient,
    robots: FakeRobots,
) -> None:
    told: list[GaveUp] = []
    worker, _ = await _setup(database, pseudonymizer, clock, http, robots.target("generic"), told)
    robots.script.append(Scripted(status=503))
    await worker.run_once()
    row = await _webhook_row(database)
    clock.now = row.next_attempt_at
    await worker.run_once()
    [received] = robots.of_kind("generic")
    assert received.headers["webhook-id"] == webhook_message_id(row)
    assert received.body["title"] == fake_digest(PERIOD).title


async def test_a_robot_refusing_for_good_fails_at_once_and_admins_are_told(
    database: Database,
    pseudonymizer: Pseudonymizer,
    clock: ManualClock,
    http: httpx.AsyncClient,
    robots: FakeRobots,
) -> None:
    told: list[GaveUp] = []
    target = robots.target("wecom")
    wrong_key = target.model_copy(update={"url": target.url.replace("key=", "key=x")})
    worker, _ = await _setup(database, pseudonymizer, clock, http, wrong_key, told)
    await worker.run_once()
    row = await _webhook_row(database)
    assert (row.status, row.attempts) == ("failed", 1)
    [gave_up] = told
    assert gave_up.destination.kind == "webhook" and "93000" in gave_up.detail
    assert "key=" not in gave_up.detail and "wecom-key" not in gave_up.detail


async def test_retries_end_after_the_last_attempt(
    database: Database,
    pseudonymizer: Pseudonymizer,
    clock: ManualClock,
    http: httpx.AsyncClient,
    robots: FakeRobots,
) -> None:
    told: list[GaveUp] = []
    worker, _ = await _setup(
        database, pseudonymizer, clock, http, robots.target("feishu"), told, max_attempts=3
    )
    robots.script.extend([Scripted(status=500)] * 5)
    for _ in range(3):
        await worker.run_once()
        clock.advance(timedelta(hours=1))
    await worker.run_once()
    row = await _webhook_row(database)
    assert (row.status, row.attempts) == ("failed", 3)
    assert len(robots.script) == 2  # exactly three requests were made
    assert [g.attempts for g in told] == [3]
