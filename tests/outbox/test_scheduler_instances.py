"""Three bot instances on one PostgreSQL tick the digest schedule together, day after day:
each period is built once and each digest reaches each destination exactly once. No job
lease is needed for that: the digest is stored first-insert-wins, outbox rows are added
insert-if-absent, and each row is delivered by the worker whose conditional UPDATE leased it."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, timedelta

from bot.anonymity.crypto import TextCipher
from bot.anonymity.pseudonym import Pseudonymizer
from bot.config import DEFAULT_QUESTIONNAIRE
from bot.questionnaire import load_questionnaire
from bot.statuses import Role
from storage.database import Database
from storage.repositories import StaffRepository

from .conftest import ManualClock, RecordingChannel
from .test_scheduler import DUE_ON_28TH, DUE_ON_29TH, add_submissions, make, stored_count

INSTANCES = 3
ROUNDS = 4  # ticks of every instance at once, per day


async def test_three_instances_deliver_each_digest_exactly_once(
    migrated_postgres_url: str,
    cipher: TextCipher,
    pseudonymizer: Pseudonymizer,
    clock: ManualClock,
) -> None:
    questionnaire = load_questionnaire(DEFAULT_QUESTIONNAIRE)
    databases = [await Database.connect(migrated_postgres_url) for _ in range(INSTANCES)]
    try:
        for user_id in range(800, 806):
            await StaffRepository(databases[0]).add(user_id, Role.INVESTIGATOR)
        await add_submissions(databases[0], cipher, questionnaire, date(2026, 11, 27), 6)
        channel = RecordingChannel()  # one Telegram: it counts what every instance sends
        schedulers = [
            make(db, cipher, pseudonymizer, questionnaire, clock, channel)[0] for db in databases
        ]
        sent = 0
        for _ in range(2):  # the 28th at 09:00, then the 29th at 09:00
            for _ in range(ROUNDS):
                reports = await asyncio.gather(*(s.tick() for s in schedulers))
                sent += sum(report.delivery.sent for report in reports)
                clock.advance(timedelta(minutes=1))
            clock.advance(timedelta(days=1) - timedelta(minutes=ROUNDS))

        destinations = 7  # six investigators and the configured admin
        assert await stored_count(databases[0]) == 2
        per_delivery = Counter(channel.deliveries)
        assert set(per_delivery.values()) == {1}, "a digest reached a destination twice"
        assert len(per_delivery) == sent == 2 * destinations
        assert {period for period, _ in per_delivery} == {DUE_ON_28TH, DUE_ON_29TH}
    finally:
        for db in databases:
            await db.dispose()
