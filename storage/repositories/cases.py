"""Cases for investigators, the anonymous follow-up thread, internal notes, the audit log.

A case is the investigators' view of one submission: same random key, a short random `ref`
shown to staff (never the receipt code, never a sequence), a status, labels and the day of
the last activity (retention counts from it). Nothing here says who the cadre is: a follow-up
row records only that "the cadre" or "an investigator" wrote it. Who among the staff did what
is in `audit_log`, which names staff (not anonymous) and cases by ref.

Cases are created in the submission's own transaction (`SubmissionRepository.store` calls
`case_row`); `ensure_cases` creates the missing ones for submissions stored any other way.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Table, and_, bindparam, delete, exists, func, not_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.anonymity.crypto import TextCipher
from bot.anonymity.scrubber import scrub
from bot.statuses import CaseEventKind, CaseStatus, FollowupOrigin
from storage.database import Database
from storage.tables import (
    CASE_REF_LENGTH,
    answers,
    audit_log,
    case_events,
    case_notes,
    cases,
    followup_messages,
    submissions,
)

REF_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/1/i/l/o: read aloud without confusion
MAX_LABELS = 12
MAX_LABEL_CHARS = 32
MAX_MESSAGE_CHARS = 2000
PURGED = "(deleted)"  # an audit subject whose case retention removed


def new_case_ref() -> str:
    """8 random characters (about 40 bits): unique enough, short enough to type."""
    return "".join(secrets.choice(REF_ALPHABET) for _ in range(CASE_REF_LENGTH))


def followup_context(submission_id: str, seq: int) -> str:
    """A follow-up message is bound to its row: copied to another case or place in the
    thread, it no longer decrypts."""
    return f"followup_messages.text_enc:{submission_id}:{seq}"


def note_context(submission_id: str, seq: int) -> str:
    """A note is bound to its row, like a follow-up message."""
    return f"case_notes.text_enc:{submission_id}:{seq}"


def case_row(submission_id: str, day: date) -> dict[str, Any]:
    """The row of a new case (status new) for a submission stored on `day`."""
    return {
        "submission_id": submission_id,
        "ref": new_case_ref(),
        "status": CaseStatus.NEW,
        "labels": "",
        "last_activity_day": day,
    }


def clean_label(text: str) -> str | None:
    """A label as stored: one line, scrubbed, at most 32 characters; None if empty."""
    label = " ".join(scrub(text).text.split()).replace(",", " ")[:MAX_LABEL_CHARS].strip()
    return label or None


_REF_TAKEN = select(cases.c.ref).where(cases.c.ref == bindparam("ref"))
_INSERT_CASE = cases.insert()


async def insert_case(connection: AsyncConnection, submission_id: str, day: date) -> str:
    """Insert the case of a new submission inside the caller's transaction; returns its ref."""
    for _ in range(5):
        values = case_row(submission_id, day)
        taken = await connection.scalar(_REF_TAKEN, {"ref": values["ref"]})
        if taken is None:
            await connection.execute(_INSERT_CASE, values)
            return str(values["ref"])
    raise IntegrityError("no free case ref", None, Exception("ref space exhausted"))


@dataclass(frozen=True)
class CaseSummary:
    submission_id: str
    ref: str
    status: CaseStatus
    day: date  # the submission's day
    last_activity_day: date
    labels: tuple[str, ...]


@dataclass(frozen=True)
class ThreadMessage:
    origin: str  # a FollowupOrigin in a thread; "note" for an investigator's note
    day: date
    text: str


@dataclass(frozen=True)
class CaseEvent:
    day: date
    kind: CaseEventKind
    value: str


@dataclass(frozen=True)
class CaseDetail:
    summary: CaseSummary
    thread: list[ThreadMessage] = field(default_factory=list)
    notes: list[ThreadMessage] = field(default_factory=list)
    events: list[CaseEvent] = field(default_factory=list)


@dataclass(frozen=True)
class AuditEntry:
    day: date
    actor_user_id: int
    action: str
    subject: str


def _labels(raw: str) -> tuple[str, ...]:
    return tuple(part for part in raw.split("\n") if part)


def _summary(row: Any) -> CaseSummary:
    return CaseSummary(
        submission_id=row.submission_id,
        ref=row.ref,
        status=CaseStatus(row.status),
        day=row.day,
        last_activity_day=row.last_activity_day,
        labels=_labels(row.labels),
    )


_SUMMARY_COLUMNS = (
    cases.c.submission_id,
    cases.c.ref,
    cases.c.status,
    cases.c.labels,
    cases.c.last_activity_day,
    submissions.c.day,
)


class CaseRepository:
    """Cases, their threads, notes and history. Free text is scrubbed, then encrypted."""

    def __init__(self, db: Database, cipher: TextCipher) -> None:
        self._db = db
        self._cipher = cipher

    # --- creation -----------------------------------------------------------------------

    async def ensure_cases(self) -> int:
        """Create the case of every submission that has none (stored before cases existed,
        or by a path that bypassed `SubmissionRepository.store`). Returns how many."""
        missing = select(submissions.c.id, submissions.c.day).where(
            not_(exists().where(cases.c.submission_id == submissions.c.id))
        )
        async with self._db.engine.begin() as connection:
            rows = (await connection.execute(missing)).all()
            for row in rows:
                await insert_case(connection, row.id, row.day)
        return len(rows)

    # --- reading ------------------------------------------------------------------------

    async def counts_by_status(self) -> dict[str, int]:
        query = select(cases.c.status, func.count()).group_by(cases.c.status)
        async with self._db.engine.connect() as connection:
            found = {str(status): int(n) for status, n in (await connection.execute(query)).all()}
        return {status.value: found.get(status, 0) for status in CaseStatus}

    async def list_by_status(
        self, status: CaseStatus, *, offset: int = 0, limit: int = 8
    ) -> tuple[list[CaseSummary], int]:
        """One page of cases with `status`, newest submission day first; and the total."""
        joined = cases.join(submissions, submissions.c.id == cases.c.submission_id)
        query = (
            select(*_SUMMARY_COLUMNS)
            .select_from(joined)
            .where(cases.c.status == status)
            .order_by(submissions.c.day.desc(), cases.c.ref)
            .offset(offset)
            .limit(limit)
        )
        total_query = select(func.count()).select_from(cases).where(cases.c.status == status)
        async with self._db.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = int(await connection.scalar(total_query) or 0)
        return [_summary(row) for row in rows], total

    async def by_ref(self, ref: str) -> CaseSummary | None:
        return await self._one(cases.c.ref == ref)

    async def by_submission(
        self, submission_id: str, *, connection: AsyncConnection | None = None
    ) -> CaseSummary | None:
        return await self._one(cases.c.submission_id == submission_id, connection)

    async def _one(
        self, where: Any, connection: AsyncConnection | None = None
    ) -> CaseSummary | None:
        joined = cases.join(submissions, submissions.c.id == cases.c.submission_id)
        async with self._db.transaction(connection) as connection:
            row = (
                await connection.execute(select(*_SUMMARY_COLUMNS).select_from(joined).where(where))
            ).first()
        return None if row is None else _summary(row)

    async def thread(
        self, submission_id: str, *, connection: AsyncConnection | None = None
    ) -> list[ThreadMessage]:
        query = (
            select(followup_messages)
            .where(followup_messages.c.submission_id == submission_id)
            .order_by(followup_messages.c.seq)
        )
        async with self._db.transaction(connection) as connection:
            rows = (await connection.execute(query)).all()
        decrypt = self._cipher.decrypt
        return [
            ThreadMessage(
                row.origin,
                row.day,
                decrypt(row.text_enc, context=followup_context(submission_id, row.seq)),
            )
            for row in rows
        ]

    async def detail(
        self, submission_id: str, *, connection: AsyncConnection | None = None
    ) -> CaseDetail | None:
        """The case with its thread, notes and history (in the caller's transaction if given,
        so that a view and its audit entry go together)."""
        summary = await self.by_submission(submission_id, connection=connection)
        if summary is None:
            return None
        async with self._db.transaction(connection) as connection:
            note_rows = (
                await connection.execute(
                    select(case_notes)
                    .where(case_notes.c.submission_id == submission_id)
                    .order_by(case_notes.c.seq)
                )
            ).all()
            event_rows = (
                await connection.execute(
                    select(case_events)
                    .where(case_events.c.submission_id == submission_id)
                    .order_by(case_events.c.seq)
                )
            ).all()
            thread = await self.thread(submission_id, connection=connection)
        notes = [
            ThreadMessage(
                "note",
                row.day,
                self._cipher.decrypt(row.text_enc, context=note_context(submission_id, row.seq)),
            )
            for row in note_rows
        ]
        events = [CaseEvent(row.day, CaseEventKind(row.kind), row.value) for row in event_rows]
        return CaseDetail(summary, thread, notes, events)

    # --- writing ------------------------------------------------------------------------

    async def _next_seq(self, connection: AsyncConnection, table: Table, submission_id: str) -> int:
        current = await connection.scalar(
            select(func.max(table.c.seq)).where(table.c.submission_id == submission_id)
        )
        return 0 if current is None else int(current) + 1

    async def _touch(self, connection: AsyncConnection, submission_id: str, day: date) -> None:
        await connection.execute(
            update(cases)
            .where(cases.c.submission_id == submission_id, cases.c.last_activity_day < day)
            .values(last_activity_day=day)
        )

    async def add_message(
        self,
        submission_id: str,
        origin: FollowupOrigin,
        text: str,
        day: date,
        *,
        connection: AsyncConnection | None = None,
    ) -> None:
        """Append to the follow-up thread (scrubbed again here, then encrypted); inside the
        caller's `connection` if given, so that its audit entry commits with it."""
        clean = scrub(text).text[:MAX_MESSAGE_CHARS]
        async with self._db.transaction(connection) as connection:
            seq = await self._next_seq(connection, followup_messages, submission_id)
            blob = self._cipher.encrypt(clean, context=followup_context(submission_id, seq))
            await connection.execute(
                followup_messages.insert().values(
                    submission_id=submission_id, seq=seq, day=day, origin=origin, text_enc=blob
                )
            )
            await self._touch(connection, submission_id, day)

    async def add_note(
        self,
        submission_id: str,
        text: str,
        day: date,
        *,
        connection: AsyncConnection | None = None,
    ) -> None:
        clean = scrub(text).text[:MAX_MESSAGE_CHARS]
        async with self._db.transaction(connection) as connection:
            seq = await self._next_seq(connection, case_notes, submission_id)
            blob = self._cipher.encrypt(clean, context=note_context(submission_id, seq))
            await connection.execute(
                case_notes.insert().values(
                    submission_id=submission_id, seq=seq, day=day, text_enc=blob
                )
            )
            await self._touch(connection, submission_id, day)

    async def _event(
        self,
        connection: AsyncConnection,
        submission_id: str,
        day: date,
        kind: CaseEventKind,
        value: str,
    ) -> None:
        seq = await self._next_seq(connection, case_events, submission_id)
        await connection.execute(
            case_events.insert().values(
                submission_id=submission_id, seq=seq, day=day, kind=kind, value=value[:64]
            )
        )
        await self._touch(connection, submission_id, day)

    async def set_status(
        self,
        submission_id: str,
        status: CaseStatus,
        day: date,
        *,
        connection: AsyncConnection | None = None,
    ) -> bool:
        """Change the status (recorded in the history); False if unknown or unchanged."""
        if not CaseStatus.has(status):
            raise ValueError(f"unknown case status {status!r}")
        async with self._db.transaction(connection) as connection:
            result = await connection.execute(
                update(cases)
                .where(cases.c.submission_id == submission_id, cases.c.status != status)
                .values(status=status)
            )
            if not result.rowcount:
                return False
            await self._event(connection, submission_id, day, CaseEventKind.STATUS, status)
        return True

    async def add_label(
        self,
        submission_id: str,
        label: str,
        day: date,
        *,
        connection: AsyncConnection | None = None,
    ) -> bool:
        cleaned = clean_label(label)
        if cleaned is None:
            return False
        async with self._db.transaction(connection) as connection:
            raw = await connection.scalar(
                select(cases.c.labels).where(cases.c.submission_id == submission_id)
            )
            if raw is None:
                return False
            labels = _labels(raw)
            if cleaned in labels or len(labels) >= MAX_LABELS:
                return False
            joined = "\n".join(sorted((*labels, cleaned)))
            if len(joined) > 512:
                return False
            await connection.execute(
                update(cases).where(cases.c.submission_id == submission_id).values(labels=joined)
            )
            await self._event(connection, submission_id, day, CaseEventKind.LABEL, cleaned)
        return True

    async def remove_label(
        self,
        submission_id: str,
        label: str,
        day: date,
        *,
        connection: AsyncConnection | None = None,
    ) -> bool:
        async with self._db.transaction(connection) as connection:
            raw = await connection.scalar(
                select(cases.c.labels).where(cases.c.submission_id == submission_id)
            )
            if raw is None or label not in _labels(raw):
                return False
            kept = "\n".join(part for part in _labels(raw) if part != label)
            await connection.execute(
                update(cases).where(cases.c.submission_id == submission_id).values(labels=kept)
            )
            await self._event(connection, submission_id, day, CaseEventKind.UNLABEL, label)
        return True

    async def set_quotable(
        self,
        submission_id: str,
        question_id: str,
        ordinal: int,
        quotable: bool,
        *,
        connection: AsyncConnection | None = None,
    ) -> bool:
        """Mark (or unmark) one free-text answer as fit to quote in a report; False if there is
        no such free text or it was marked so already (a double tap changes nothing)."""
        async with self._db.transaction(connection) as connection:
            result = await connection.execute(
                update(answers)
                .where(
                    answers.c.submission_id == submission_id,
                    answers.c.question_id == question_id,
                    answers.c.ordinal == ordinal,
                    answers.c.text_enc.is_not(None),
                    answers.c.quotable.is_not(quotable),
                )
                .values(quotable=quotable)
            )
        return bool(result.rowcount)

    # --- figures and retention ------------------------------------------------------------

    def _expired(self, cutoff: date) -> Any:
        """Submissions whose case saw no activity since before `cutoff` (or, without a case,
        that were submitted before it)."""
        stale_case = select(cases.c.submission_id).where(cases.c.last_activity_day < cutoff)
        no_case = and_(
            submissions.c.day < cutoff,
            not_(exists().where(cases.c.submission_id == submissions.c.id)),
        )
        return or_(submissions.c.id.in_(stale_case), no_case)

    async def count_expired(self, cutoff: date) -> int:
        query = select(func.count()).select_from(submissions).where(self._expired(cutoff))
        async with self._db.engine.connect() as connection:
            return int(await connection.scalar(query) or 0)

    async def purge_expired(self, cutoff: date) -> int:
        """Delete every submission (answers, receipt hash, case, thread, notes and history)
        whose last activity was before `cutoff`; audit entries about those cases lose their
        case ref. Returns how many went."""
        async with self._db.engine.begin() as connection:
            # Children first, explicitly: correct even where cascades were switched off.
            doomed = select(submissions.c.id).where(self._expired(cutoff))
            ids = [row[0] for row in (await connection.execute(doomed)).all()]
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                refs = select(cases.c.ref).where(cases.c.submission_id.in_(chunk))
                # The audit log keeps who did what and when, but no longer to which case.
                await connection.execute(
                    update(audit_log).where(audit_log.c.subject.in_(refs)).values(subject=PURGED)
                )
                for table in (followup_messages, case_notes, case_events):
                    await connection.execute(delete(table).where(table.c.submission_id.in_(chunk)))
                await connection.execute(delete(cases).where(cases.c.submission_id.in_(chunk)))
                await connection.execute(delete(submissions).where(submissions.c.id.in_(chunk)))
        return len(ids)


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(row.day, int(row.actor_user_id), row.action, row.subject)


class AuditRepository:
    """Who among the staff did what to which case, by day. Readable by admins."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self,
        actor_user_id: int,
        action: str,
        subject: str,
        day: date,
        *,
        connection: AsyncConnection | None = None,
    ) -> None:
        """Write an entry; pass the action's own `connection` so both commit together."""
        async with self._db.transaction(connection) as tx:
            await tx.execute(
                audit_log.insert().values(
                    id=secrets.token_hex(16),
                    day=day,
                    actor_user_id=actor_user_id,
                    action=action[:32],
                    subject=subject[:64],
                )
            )

    async def recent(self, limit: int = 50, *, offset: int = 0) -> list[AuditEntry]:
        """Newest day first; within a day the order carries no meaning (random ids)."""
        query = (
            select(audit_log)
            .order_by(audit_log.c.day.desc(), audit_log.c.id)
            .offset(offset)
            .limit(limit)
        )
        async with self._db.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_entry(row) for row in rows]

    async def entries_for(self, subject: str) -> list[AuditEntry]:
        query = select(audit_log).where(audit_log.c.subject == subject).order_by(audit_log.c.day)
        async with self._db.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_entry(row) for row in rows]


__all__: Sequence[str] = (
    "AuditEntry",
    "AuditRepository",
    "CaseDetail",
    "CaseEvent",
    "CaseRepository",
    "CaseSummary",
    "ThreadMessage",
    "case_row",
    "clean_label",
    "insert_case",
    "new_case_ref",
)
