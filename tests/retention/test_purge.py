"""Retention, tested like GlobaLeaks' cleaning test: a case with everything attached is
moved past RETENTION_DAYS, purged, and then nothing of it is left in any table — and on
SQLite (secure_delete on) not in the file's bytes either, neither the free text's plaintext
nor its ciphertext."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from bot.anonymity.crypto import TextCipher
from bot.cases.retention import RetentionService
from bot.statuses import CaseStatus, FollowupOrigin
from storage.database import Database
from storage.repositories import (
    AuditRepository,
    CaseRepository,
    NewSubmission,
    SubmissionRepository,
)
from storage.tables import (
    answers,
    audit_log,
    case_events,
    case_notes,
    cases,
    followup_messages,
    metadata,
    submissions,
)
from tests.storage.at_rest import assert_at_rest, dump_at_rest


class NoStoredDigests:
    """No digest was ever stored: the reports are what these tests purge."""

    async def purge_before(self, day: date, *, dry_run: bool = False) -> int:
        return 0


ZONE = ZoneInfo("Asia/Shanghai")
OLD_DAY = date(2025, 1, 10)
RETENTION = 365
ANSWER_TEXT = "乡镇每周开三次会，材料要求层层加码（保留测试）"
CADRE_TEXT = "补充：三月份开始的（回访测试）"
STAFF_TEXT = "请问具体是哪个部门？（调查员测试）"
NOTE_TEXT = "内部备注：需要核实（备注测试）"


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    db = await Database.connect(db_url)
    try:
        await db.upgrade()
        yield db
    finally:
        await db.dispose()


def _submission(day: date) -> NewSubmission:
    return NewSubmission(
        questionnaire_id="q",
        questionnaire_version=1,
        answers={"p1_freq": "often", "p1_example": ANSWER_TEXT, "p2_tags": ["a", "b"]},
        text_question_ids=frozenset({"p1_example"}),
        day=day,
        receipt_hash=secrets.token_hex(32),
    )


class ManualClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def _blobs(db: Database, submission_id: str) -> list[bytes]:
    async with db.engine.connect() as connection:
        found: list[bytes] = []
        for table, column in (
            (answers, answers.c.text_enc),
            (followup_messages, followup_messages.c.text_enc),
            (case_notes, case_notes.c.text_enc),
        ):
            rows = await connection.execute(
                select(column).where(table.c.submission_id == submission_id, column.is_not(None))
            )
            found += [bytes(row[0]) for row in rows]
    return found


async def test_a_case_past_retention_leaves_nothing_behind(database: Database) -> None:
    cipher = TextCipher(secrets.token_bytes(32))
    repository = SubmissionRepository(database, cipher)
    case_repository = CaseRepository(database, cipher)
    audit = AuditRepository(database)
    old = _submission(OLD_DAY)
    old_id = await repository.store(old)
    case = await case_repository.by_submission(old_id)
    assert case is not None
    activity = OLD_DAY + timedelta(days=20)
    await case_repository.add_message(old_id, FollowupOrigin.INVESTIGATOR, STAFF_TEXT, activity)
    await case_repository.add_message(old_id, FollowupOrigin.CADRE, CADRE_TEXT, activity)
    await case_repository.add_note(old_id, NOTE_TEXT, activity)
    await case_repository.set_status(old_id, CaseStatus.VERIFYING, activity)
    await case_repository.add_label(old_id, "会议过多", activity)
    await audit.record(900_001, "case.reply", case.ref, activity)

    recent_day = activity + timedelta(days=RETENTION)
    kept_id = await repository.store(_submission(recent_day))

    blobs = await _blobs(database, old_id)
    assert len(blobs) == 4  # the answer, two follow-up messages, the note
    if database.dialect == "sqlite":
        for blob in blobs:  # the positive control: the bytes are there before the purge
            await assert_at_rest(database, blob)

    clock = ManualClock(
        datetime.combine(activity, datetime.min.time(), ZONE) + timedelta(days=RETENTION)
    )
    service = RetentionService(
        database,
        case_repository,
        retention_days=RETENTION,
        zone=ZONE,
        clock=clock,
        digests=NoStoredDigests(),
    )
    # Exactly at the boundary the case stays (the last activity counts, not the submission).
    assert (await service.purge()).count == 0
    clock.now += timedelta(days=1)
    dry = await service.purge(dry_run=True)
    assert dry.dry_run and dry.count == 1
    assert await case_repository.by_submission(old_id) is not None
    report = await service.purge()
    assert report.count == 1 and report.cutoff == activity + timedelta(days=1)

    # Every table: no row of the old case, no trace of its id, ref, receipt hash or blobs.
    needles = [old_id, case.ref, old.receipt_hash]
    async with database.engine.connect() as connection:
        for table in metadata.sorted_tables:
            rows = (await connection.execute(select(table))).all()
            content = "\n".join(repr(tuple(row)) for row in rows)
            for needle in needles:
                assert needle not in content, f"{needle} left in {table.name}"
            for blob in blobs:
                assert repr(blob) not in content and blob.hex() not in content
        for table in (answers, cases, case_events, followup_messages, case_notes):
            left = await connection.execute(select(table).where(table.c.submission_id == old_id))
            assert left.all() == [], table.name
        assert (await connection.execute(select(submissions.c.id))).scalars().all() == [kept_id]
        subjects = (await connection.execute(select(audit_log.c.subject))).scalars().all()
    assert subjects == ["(deleted)"]  # who did what stays; which case does not

    # The recent case is untouched.
    assert await case_repository.by_submission(kept_id) is not None
    assert (await repository.get(kept_id)) is not None

    raw = await dump_at_rest(database)
    for blob in blobs:
        assert blob not in raw, "ciphertext of a purged text is still in the database file"
        if database.dialect == "postgresql":
            assert blob.hex().encode() not in raw
    for needle in (ANSWER_TEXT, CADRE_TEXT, STAFF_TEXT, NOTE_TEXT, old.receipt_hash, old_id):
        assert needle.encode() not in raw


async def test_sqlite_secure_delete_is_on_for_the_purge(sqlite_url: str) -> None:
    db = await Database.connect(sqlite_url)
    try:
        async with db.engine.connect() as connection:
            assert (await connection.execute(text("PRAGMA secure_delete"))).scalar() == 1
    finally:
        await db.dispose()


async def test_submissions_without_a_case_row_are_purged_by_their_day(
    database: Database,
) -> None:
    cipher = TextCipher(secrets.token_bytes(32))
    repository = SubmissionRepository(database, cipher)
    case_repository = CaseRepository(database, cipher)
    submission_id = await repository.store(_submission(OLD_DAY))
    async with database.engine.begin() as connection:  # as if stored before migration 0003
        await connection.execute(cases.delete())
    clock = ManualClock(datetime(2027, 1, 1, tzinfo=UTC))
    service = RetentionService(
        database,
        case_repository,
        retention_days=RETENTION,
        zone=ZONE,
        clock=clock,
        digests=NoStoredDigests(),
    )
    assert (await service.purge()).count == 1
    assert await repository.get(submission_id) is None
