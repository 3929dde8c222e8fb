"""The broadcast repository on SQLite and PostgreSQL: audience, claim, outcomes, recovery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.anonymity.crypto import TextCipher
from bot.anonymity.pseudonym import Pseudonymizer
from bot.statuses import BroadcastStatus
from storage.database import Database
from storage.repositories import (
    BroadcastContent,
    BroadcastRepository,
    Outcome,
    ProgressRef,
    SubscriberRepository,
)


async def test_claim_record_recover_and_count(db_url: str) -> None:
    db = await Database.connect(db_url)
    await db.upgrade()
    try:
        cipher = TextCipher(b"k" * 32)
        subscribers = SubscriberRepository(db, cipher, Pseudonymizer(b"s" * 32))
        for chat_id in range(1, 7):
            await subscribers.subscribe(chat_id, "en" if chat_id > 4 else "zh-CN")
        repo = BroadcastRepository(db, cipher)
        job = await repo.create(BroadcastContent("<b>hi</b>", "file-1"), locale="zh-CN", paid=True)
        stored = await repo.get(job)
        assert stored is not None and stored.total == 4 and stored.paid
        assert stored.content == BroadcastContent("<b>hi</b>", "file-1")
        await repo.set_progress_ref(job, ProgressRef(42, 7, "en"))
        assert (await repo.get(job)).progress_ref == ProgressRef(42, 7, "en")  # type: ignore[union-attr]

        now = datetime.now(UTC)
        first = await repo.claim(job, 3, now=now)
        assert len(first) == 3 and all(c.attempts == 1 for c in first)
        await repo.record(
            job,
            [
                Outcome(first[0].chat_hash, "sent"),
                Outcome(first[1].chat_hash, "blocked", "Forbidden: bot was blocked by the user"),
                Outcome(first[2].chat_hash, "pending", "server error", now + timedelta(hours=1)),
            ],
        )
        assert await subscribers.count_active() == 5  # the blocked one is inactive
        second = await repo.claim(job, 10, now=now)
        assert len(second) == 1  # the retry is not due yet
        counts = await repo.counts(job)
        assert counts["sending"] == 1 and counts["pending"] == 1
        assert await repo.recover(job) == 1  # a crash: the in-flight row becomes unknown
        assert (await repo.counts(job))["unknown"] == 1
        due = await repo.next_due(job)
        assert due is not None and due > now.replace(tzinfo=None)
        later = await repo.claim(job, 10, now=now + timedelta(hours=2))
        assert [c.chat_hash for c in later] == [first[2].chat_hash] and later[0].attempts == 2
        await repo.record(job, [Outcome(later[0].chat_hash, "release")])
        assert (await repo.counts(job))["pending"] == 1
        assert await repo.set_status(
            job, BroadcastStatus.CANCELLED, only_from=(BroadcastStatus.RUNNING,)
        )
        final = await repo.counts(job)
        assert final["skipped"] == 1 and final["pending"] == 0
        assert await repo.next_due(job) is None
    finally:
        await db.dispose()
