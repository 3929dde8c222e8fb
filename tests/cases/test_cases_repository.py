"""Cases: created with every submission, random short refs, status history, labels, notes,
the audit log, the digest section's counts (with small counts suppressed)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import date

import pytest
from sqlalchemy import select

from bot.anonymity.crypto import TextCipher
from bot.cases.digest_section import (
    CaseFigures,
    case_counts,
    case_section_html,
    render_case_section,
)
from bot.digest.period import Period
from bot.statuses import CaseStatus, FollowupOrigin
from storage.database import Database
from storage.repositories import (
    AuditRepository,
    CaseRepository,
    NewSubmission,
    SubmissionRepository,
)
from storage.tables import cases, submissions

DAY = date(2026, 11, 2)


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    db = await Database.connect(db_url)
    try:
        await db.upgrade()
        yield db
    finally:
        await db.dispose()


def _new(day: date = DAY, text: str = "文本") -> NewSubmission:
    return NewSubmission(
        questionnaire_id="q",
        questionnaire_version=1,
        answers={"p1_example": text},
        text_question_ids=frozenset({"p1_example"}),
        day=day,
        receipt_hash=secrets.token_hex(32),
    )


async def test_every_submission_gets_a_case_with_a_random_ref(database: Database) -> None:
    cipher = TextCipher(secrets.token_bytes(32))
    repository = SubmissionRepository(database, cipher)
    case_repository = CaseRepository(database, cipher)
    ids = [await repository.store(_new()) for _ in range(20)]
    refs = set()
    for submission_id in ids:
        case = await case_repository.by_submission(submission_id)
        assert case is not None and case.status == "new" and case.last_activity_day == DAY
        assert len(case.ref) == 8 and case.ref not in submission_id
        refs.add(case.ref)
    assert len(refs) == 20
    assert await case_repository.ensure_cases() == 0
    # A submission stored without a case (before migration 0003) gets one lazily.
    async with database.engine.begin() as connection:
        await connection.execute(cases.delete().where(cases.c.submission_id == ids[0]))
    assert await case_repository.ensure_cases() == 1


async def test_paging_status_history_labels_and_notes(database: Database) -> None:
    cipher = TextCipher(secrets.token_bytes(32))
    repository = SubmissionRepository(database, cipher)
    case_repository = CaseRepository(database, cipher)
    days = [date(2026, 11, d) for d in (1, 5, 3, 5, 2)]
    ids = [await repository.store(_new(day)) for day in days]
    page, total = await case_repository.list_by_status(CaseStatus.NEW, offset=0, limit=3)
    assert total == 5 and [c.day.day for c in page] == [5, 5, 3]
    page, _ = await case_repository.list_by_status(CaseStatus.NEW, offset=3, limit=3)
    assert [c.day.day for c in page] == [2, 1]

    first = ids[0]
    later = date(2026, 11, 20)
    assert await case_repository.set_status(first, CaseStatus.VERIFYING, later)
    assert not await case_repository.set_status(first, CaseStatus.VERIFYING, later)  # unchanged
    with pytest.raises(ValueError):
        await case_repository.set_status(first, "bogus", later)  # type: ignore[arg-type]  # as from untyped input
    assert await case_repository.add_label(first, " 会议  过多 ", later)
    assert not await case_repository.add_label(first, "会议 过多", later)
    assert await case_repository.add_label(first, "电话 13912345678", later)
    await case_repository.add_note(first, "联系 13912345678", later)
    detail = await case_repository.detail(first)
    assert detail is not None
    assert detail.summary.status == "verifying" and detail.summary.last_activity_day == later
    assert "会议 过多" in detail.summary.labels
    assert all("13912345678" not in label for label in detail.summary.labels)  # scrubbed
    assert "13912345678" not in detail.notes[0].text
    assert (detail.events[0].kind, detail.events[0].value) == ("status", "verifying")
    assert await case_repository.remove_label(first, "会议 过多", later)
    counts = await case_repository.counts_by_status()
    assert counts == {"new": 4, "verifying": 1, "verified": 0, "closed": 0, "rejected": 0}


async def test_the_thread_never_names_the_cadre(database: Database) -> None:
    cipher = TextCipher(secrets.token_bytes(32))
    submission_id = await SubmissionRepository(database, cipher).store(_new())
    case_repository = CaseRepository(database, cipher)
    await case_repository.add_message(submission_id, FollowupOrigin.INVESTIGATOR, "问", DAY)
    await case_repository.add_message(submission_id, FollowupOrigin.CADRE, "答 13912345678", DAY)
    thread = await case_repository.thread(submission_id)
    assert [(m.origin, m.text[:1]) for m in thread] == [("investigator", "问"), ("cadre", "答")]
    assert "13912345678" not in thread[1].text
    # A blob moved to another case does not decrypt (bound to its case).
    other = await SubmissionRepository(database, cipher).store(_new())
    with pytest.raises(ValueError):
        cipher.decrypt(
            cipher.encrypt("x", context=f"followup_messages.text_enc:{other}"),
            context=f"followup_messages.text_enc:{submission_id}",
        )


async def test_the_audit_log_newest_day_first(database: Database) -> None:
    audit = AuditRepository(database)
    await audit.record(1, "case.view", "abcdefgh", date(2026, 11, 1))
    await audit.record(2, "case.reply", "abcdefgh", date(2026, 11, 3))
    entries = await audit.recent()
    assert [(e.actor_user_id, e.action) for e in entries] == [(2, "case.reply"), (1, "case.view")]
    assert len(await audit.entries_for("abcdefgh")) == 2


async def test_the_digest_section_counts_and_suppresses(database: Database) -> None:
    cipher = TextCipher(secrets.token_bytes(32))
    repository = SubmissionRepository(database, cipher)
    case_repository = CaseRepository(database, cipher)
    ids = [await repository.store(_new()) for _ in range(6)]
    for submission_id in ids:
        await case_repository.add_message(
            submission_id, FollowupOrigin.CADRE, "答", date(2026, 11, 4)
        )
    not_in_period = date(2026, 11, 20)
    await case_repository.add_message(ids[0], FollowupOrigin.CADRE, "答", not_in_period)
    await case_repository.add_message(ids[0], FollowupOrigin.INVESTIGATOR, "问", date(2026, 11, 4))
    await case_repository.set_status(ids[0], CaseStatus.CLOSED, date(2026, 11, 4))
    period = Period("weekly", date(2026, 11, 2), date(2026, 11, 8))
    figures = await case_counts(database, period)
    assert figures.followups_answered == 6
    assert figures.by_status["new"] == 5 and figures.by_status["closed"] == 1
    lines = render_case_section(figures, k=5)
    assert lines[0].startswith("本期反映办理情况：")
    assert "待处理 5 件" in lines[0] and "已办结 少于 5 件" in lines[0]
    assert "已核实 少于 5 件" in lines[0]
    assert lines[1].endswith("6 件")
    english = render_case_section(CaseFigures({"new": 2}, 0), k=5, locale="en")
    assert english == [
        "This period's reports: new fewer than 5, checking fewer than 5, verified fewer than 5, "
        "closed fewer than 5, not taken up fewer than 5",
        "Follow-up answers this period: fewer than 5",
    ]
    assert case_section_html(figures, k=5).startswith("<b>")
    async with database.engine.connect() as connection:
        assert len((await connection.execute(select(submissions))).all()) == 6
