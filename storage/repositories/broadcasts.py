"""Broadcast jobs and their per-recipient delivery state.

A recipient is named only by `chat_hash`, the subscribers' HMAC pseudonym; the chat id to send
to is decrypted from `subscribers` when the row is claimed, so a chat that sent /stop in the
meantime is skipped (its subscriber row is gone). Nothing here touches submissions.

Delivery is at-most-once (see `bot.broadcast.sender`): rows are marked `sending` and committed
*before* the request goes out and get their outcome *after*; a row still `sending` when a
sender starts (the previous one crashed) becomes `unknown` and is never sent again.

Once a broadcast is finished (done or cancelled) its recipient rows have served their purpose:
`purge_finished_recipients` (the daily maintenance) folds them into per-status totals on the
`broadcasts` row and deletes them, and `counts` reads those totals from then on.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from sqlalchemy import bindparam, delete, exists, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.anonymity.crypto import DecryptionError, TextCipher
from bot.statuses import BroadcastStatus, RecipientStatus
from storage.database import Database
from storage.tables import broadcast_recipients, broadcasts, subscribers

MAX_ERROR_LENGTH = 200
#: The error of a recipient whose stored chat id cannot be decrypted (skipped, counted).
UNDECRYPTABLE_ERROR = "chat id could not be decrypted"
#: The outcome of a row claimed but not sent (a 429 pause): back to pending, no attempt counted.
RELEASE = "release"
RECIPIENT_TERMINAL = (
    RecipientStatus.SENT,
    RecipientStatus.BLOCKED,
    RecipientStatus.FAILED,
    RecipientStatus.UNKNOWN,
    RecipientStatus.SKIPPED,
)
FINISHED_STATUSES = (BroadcastStatus.DONE, BroadcastStatus.CANCELLED)
# The totals a finished job keeps on its `broadcasts` row, by recipient status.
KEPT_TOTALS = {
    RecipientStatus.SENT: "sent_count",
    RecipientStatus.BLOCKED: "blocked_count",
    RecipientStatus.FAILED: "failed_count",
    RecipientStatus.UNKNOWN: "unknown_count",
    RecipientStatus.SKIPPED: "skipped_count",
}
# How a purged row is counted: a finished job never sends again, so a row left `sending`
# (interrupted) is unknown and one left `pending` was skipped.
_COUNTED_AS = {
    **{s: s for s in RECIPIENT_TERMINAL},
    RecipientStatus.SENDING: RecipientStatus.UNKNOWN,
    RecipientStatus.PENDING: RecipientStatus.SKIPPED,
}


@dataclass(frozen=True)
class BroadcastContent:
    """What every recipient gets: HTML text (a caption when there is a photo)."""

    text: str
    photo: str | None = None  # a Telegram file_id the bot already holds


@dataclass(frozen=True)
class ProgressRef:
    """Where the admin's progress message is, and the admin's language."""

    chat_id: int
    message_id: int
    locale: str


@dataclass(frozen=True)
class BroadcastJob:
    id: str
    status: BroadcastStatus
    locale: str | None
    paid: bool
    content: BroadcastContent
    progress_ref: ProgressRef | None
    total: int
    created_day: date


@dataclass(frozen=True)
class ClaimedRecipient:
    chat_hash: str
    chat_id: int
    attempts: int  # including this one


@dataclass(frozen=True)
class Outcome:
    """The result of one send, written back in batches."""

    chat_hash: str
    # sent, blocked, failed, unknown; pending (retry after `retry_at`); release (back to
    # pending without counting an attempt: claimed but not sent because of a 429 pause)
    status: str
    error: str | None = None
    retry_at: datetime | None = None  # naive UTC, with status pending


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


class BroadcastRepository:
    """Create, claim, record and count; also writes the audit log rows of broadcast actions."""

    def __init__(self, db: Database, cipher: TextCipher, *, zone: tzinfo = UTC) -> None:
        self._db = db
        self._cipher = cipher
        self._zone = zone

    # --- helpers ------------------------------------------------------------------------

    def _today(self) -> date:
        return datetime.now(self._zone).date()

    @staticmethod
    def _content_context(broadcast_id: str) -> str:
        return f"broadcasts.content_enc:{broadcast_id}"

    @staticmethod
    def _progress_context(broadcast_id: str) -> str:
        return f"broadcasts.progress_ref_enc:{broadcast_id}"

    @staticmethod
    def _subscriber_context(chat_hash: str) -> str:
        # Must match SubscriberRepository._context: the encrypted chat id is bound to its row.
        return f"subscribers.chat_id_enc:{chat_hash}"

    # --- jobs ---------------------------------------------------------------------------

    async def create(
        self,
        content: BroadcastContent,
        *,
        locale: str | None = None,
        paid: bool = False,
        connection: AsyncConnection | None = None,
    ) -> str:
        """Store a job and one `pending` row per active subscriber (of `locale`), atomically
        (in the caller's `connection` when given: the admin's audit entry goes with it)."""
        broadcast_id = secrets.token_hex(16)
        blob = self._cipher.encrypt(
            json.dumps({"text": content.text, "photo": content.photo}),
            context=self._content_context(broadcast_id),
        )
        audience = select(
            literal(broadcast_id).label("broadcast_id"),
            subscribers.c.chat_hash,
            literal(RecipientStatus.PENDING.value).label("status"),
            literal(0).label("attempts"),
        ).where(subscribers.c.active)
        if locale is not None:
            audience = audience.where(subscribers.c.locale == locale)
        async with self._db.transaction(connection) as connection:
            await connection.execute(
                insert(broadcasts).values(
                    id=broadcast_id,
                    created_day=self._today(),
                    status=BroadcastStatus.RUNNING,
                    locale=locale,
                    paid=paid,
                    content_enc=blob,
                    progress_ref_enc=None,
                    total=0,
                )
            )
            await connection.execute(
                insert(broadcast_recipients).from_select(
                    ["broadcast_id", "chat_hash", "status", "attempts"], audience
                )
            )
            total = await connection.scalar(
                select(func.count())
                .select_from(broadcast_recipients)
                .where(broadcast_recipients.c.broadcast_id == broadcast_id)
            )
            await connection.execute(
                update(broadcasts)
                .where(broadcasts.c.id == broadcast_id)
                .values(total=int(total or 0))
            )
        return broadcast_id

    async def get(self, broadcast_id: str) -> BroadcastJob | None:
        async with self._db.engine.connect() as connection:
            row = (
                await connection.execute(select(broadcasts).where(broadcasts.c.id == broadcast_id))
            ).first()
        if row is None:
            return None
        raw = json.loads(
            self._cipher.decrypt(row.content_enc, context=self._content_context(row.id))
        )
        progress = None
        if row.progress_ref_enc is not None:
            chat, message, locale = json.loads(
                self._cipher.decrypt(row.progress_ref_enc, context=self._progress_context(row.id))
            )
            progress = ProgressRef(int(chat), int(message), str(locale))
        return BroadcastJob(
            id=row.id,
            status=BroadcastStatus(row.status),
            locale=row.locale,
            paid=bool(row.paid),
            content=BroadcastContent(text=raw["text"], photo=raw.get("photo")),
            progress_ref=progress,
            total=int(row.total),
            created_day=row.created_day,
        )

    async def set_progress_ref(self, broadcast_id: str, ref: ProgressRef) -> None:
        blob = self._cipher.encrypt(
            json.dumps([ref.chat_id, ref.message_id, ref.locale]),
            context=self._progress_context(broadcast_id),
        )
        async with self._db.engine.begin() as connection:
            await connection.execute(
                update(broadcasts)
                .where(broadcasts.c.id == broadcast_id)
                .values(progress_ref_enc=blob)
            )

    async def set_status(
        self,
        broadcast_id: str,
        status: BroadcastStatus,
        *,
        only_from: Sequence[BroadcastStatus] | None = None,
        connection: AsyncConnection | None = None,
    ) -> bool:
        """Change the job's status (if it is in one of `only_from`); True if it changed."""
        statement = update(broadcasts).where(broadcasts.c.id == broadcast_id)
        if only_from is not None:
            statement = statement.where(broadcasts.c.status.in_(list(only_from)))
        async with self._db.transaction(connection) as connection:
            result = await connection.execute(statement.values(status=status))
            if status == BroadcastStatus.CANCELLED and result.rowcount:
                await connection.execute(
                    update(broadcast_recipients)
                    .where(
                        broadcast_recipients.c.broadcast_id == broadcast_id,
                        broadcast_recipients.c.status == RecipientStatus.PENDING,
                    )
                    .values(status=RecipientStatus.SKIPPED, error="cancelled", retry_at=None)
                )
        return bool(result.rowcount)

    async def status_of(self, broadcast_id: str) -> BroadcastStatus | None:
        async with self._db.engine.connect() as connection:
            status = await connection.scalar(
                select(broadcasts.c.status).where(broadcasts.c.id == broadcast_id)
            )
        return None if status is None else BroadcastStatus(status)

    async def ids_with_status(self, *statuses: BroadcastStatus) -> list[str]:
        async with self._db.engine.connect() as connection:
            rows = await connection.scalars(
                select(broadcasts.c.id)
                .where(broadcasts.c.status.in_(statuses))
                .order_by(broadcasts.c.id)
            )
            return list(rows)

    # --- recipients ---------------------------------------------------------------------

    async def recover(self, broadcast_id: str) -> int:
        """Rows left `sending` by a crashed sender become `unknown` (never sent again)."""
        async with self._db.engine.begin() as connection:
            result = await connection.execute(
                update(broadcast_recipients)
                .where(
                    broadcast_recipients.c.broadcast_id == broadcast_id,
                    broadcast_recipients.c.status == RecipientStatus.SENDING,
                )
                .values(status=RecipientStatus.UNKNOWN, error="interrupted while sending")
            )
        return int(result.rowcount or 0)

    async def claim(
        self, broadcast_id: str, limit: int, *, now: datetime
    ) -> list[ClaimedRecipient]:
        """Mark up to `limit` due `pending` rows `sending` (committed) and return their chats.

        Rows whose subscriber has gone (/stop) or turned inactive are marked `skipped`.
        Nothing is claimed once the job is no longer `running` (paused or cancelled from any
        instance). On PostgreSQL the rows are locked as they are read (`FOR UPDATE SKIP
        LOCKED`), so two senders of one job never claim the same row even if their leases
        overlapped; SQLite has one writer at a time anyway.
        """
        table = broadcast_recipients
        moment = _naive(now)
        due = or_(table.c.retry_at.is_(None), table.c.retry_at <= moment)
        running = exists().where(
            broadcasts.c.id == broadcast_id, broadcasts.c.status == BroadcastStatus.RUNNING
        )
        async with self._db.engine.begin() as connection:
            rows = (
                await connection.execute(
                    select(
                        table.c.chat_hash,
                        table.c.attempts,
                        subscribers.c.chat_id_enc,
                        subscribers.c.active,
                    )
                    .select_from(
                        table.outerjoin(subscribers, subscribers.c.chat_hash == table.c.chat_hash)
                    )
                    .where(
                        table.c.broadcast_id == broadcast_id,
                        table.c.status == RecipientStatus.PENDING,
                        due,
                        running,
                    )
                    .order_by(table.c.chat_hash)
                    .limit(limit)
                    .with_for_update(of=table, skip_locked=True)
                )
            ).all()
            if not rows:
                return []
            claimed: list[ClaimedRecipient] = []
            gone: list[str] = []
            unreadable: list[str] = []
            for row in rows:
                if row.chat_id_enc is None or not row.active:
                    gone.append(row.chat_hash)
                    continue
                try:
                    chat_id = int(
                        self._cipher.decrypt(
                            row.chat_id_enc, context=self._subscriber_context(row.chat_hash)
                        )
                    )
                except (DecryptionError, ValueError):
                    unreadable.append(row.chat_hash)  # counted as failed; the job goes on
                    continue
                claimed.append(ClaimedRecipient(row.chat_hash, chat_id, int(row.attempts) + 1))
            if unreadable:
                await connection.execute(
                    update(table)
                    .where(table.c.broadcast_id == broadcast_id, table.c.chat_hash.in_(unreadable))
                    .values(status=RecipientStatus.FAILED, error=UNDECRYPTABLE_ERROR, retry_at=None)
                )
            if claimed:
                await connection.execute(
                    update(table)
                    .where(
                        table.c.broadcast_id == broadcast_id,
                        table.c.chat_hash.in_([c.chat_hash for c in claimed]),
                    )
                    .values(
                        status=RecipientStatus.SENDING, attempts=table.c.attempts + 1, retry_at=None
                    )
                )
            if gone:
                await connection.execute(
                    update(table)
                    .where(table.c.broadcast_id == broadcast_id, table.c.chat_hash.in_(gone))
                    .values(status=RecipientStatus.SKIPPED, error="unsubscribed", retry_at=None)
                )
        return claimed

    async def record(self, broadcast_id: str, outcomes: Sequence[Outcome]) -> None:
        """Write outcomes in one transaction; 403 (blocked) also deactivates the subscriber."""
        if not outcomes:
            return
        table = broadcast_recipients
        released = [o.chat_hash for o in outcomes if o.status == RELEASE]
        outcomes = [o for o in outcomes if o.status != RELEASE]
        statement = (
            update(table)
            .where(
                table.c.broadcast_id == bindparam("b_id"),
                table.c.chat_hash == bindparam("b_hash"),
                table.c.status == RecipientStatus.SENDING,
            )
            .values(
                status=bindparam("b_status"),
                error=bindparam("b_error"),
                retry_at=bindparam("b_retry"),
            )
        )
        params: list[dict[str, Any]] = [
            {
                "b_id": broadcast_id,
                "b_hash": outcome.chat_hash,
                "b_status": outcome.status,
                "b_error": None if outcome.error is None else outcome.error[:MAX_ERROR_LENGTH],
                "b_retry": None if outcome.retry_at is None else _naive(outcome.retry_at),
            }
            for outcome in outcomes
        ]
        blocked = [
            outcome.chat_hash for outcome in outcomes if outcome.status == RecipientStatus.BLOCKED
        ]
        async with self._db.engine.begin() as connection:
            if params:
                await connection.execute(statement, params)
            if released:
                await connection.execute(
                    update(table)
                    .where(
                        table.c.broadcast_id == broadcast_id,
                        table.c.chat_hash.in_(released),
                        table.c.status == RecipientStatus.SENDING,
                    )
                    .values(
                        status=RecipientStatus.PENDING, attempts=table.c.attempts - 1, retry_at=None
                    )
                )
            if blocked:
                await connection.execute(
                    update(subscribers)
                    .where(subscribers.c.chat_hash.in_(blocked))
                    .values(active=False)
                )

    async def counts(self, broadcast_id: str) -> dict[str, int]:
        """Recipients per status (every status present, zero when none): the rows still
        stored plus the totals kept on the job once its rows were purged."""
        table = broadcast_recipients
        async with self._db.engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(table.c.status, func.count())
                    .where(table.c.broadcast_id == broadcast_id)
                    .group_by(table.c.status)
                )
            ).all()
            kept = (
                await connection.execute(
                    select(*(broadcasts.c[column] for column in KEPT_TOTALS.values())).where(
                        broadcasts.c.id == broadcast_id
                    )
                )
            ).first()
        counts = {status.value: 0 for status in RecipientStatus}
        for status, count in rows:
            counts[str(status)] += int(count)
        if kept is not None:
            for status, value in zip(KEPT_TOTALS, kept, strict=True):
                counts[status] += int(value or 0)
        return counts

    async def next_due(self, broadcast_id: str) -> datetime | None:
        """When the next pending row may be claimed (naive UTC; the distant past when one
        already may), or None when no row is pending."""
        table = broadcast_recipients
        async with self._db.engine.connect() as connection:
            row = (
                await connection.execute(
                    select(
                        func.count(),
                        func.count(table.c.retry_at),
                        func.min(table.c.retry_at),
                    ).where(
                        table.c.broadcast_id == broadcast_id,
                        table.c.status == RecipientStatus.PENDING,
                    )
                )
            ).one()
        pending, with_retry, earliest = int(row[0]), int(row[1]), row[2]
        if pending == 0:
            return None
        if pending > with_retry or not isinstance(earliest, datetime):
            return datetime(2000, 1, 1)
        return earliest

    async def errors(self, broadcast_id: str, limit: int = 5) -> list[tuple[str, int]]:
        """The most frequent failure reasons (no recipient named)."""
        table = broadcast_recipients
        async with self._db.engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(table.c.error, func.count().label("n"))
                    .where(
                        table.c.broadcast_id == broadcast_id,
                        table.c.status == RecipientStatus.FAILED,
                    )
                    .group_by(table.c.error)
                    .order_by(func.count().desc())
                    .limit(limit)
                )
            ).all()
        return [(str(row.error), int(row.n)) for row in rows]


async def purge_finished_recipients(db: Database, *, dry_run: bool = False) -> tuple[int, int]:
    """Delete the recipient rows of finished broadcasts, keeping their totals on the job.

    Returns (rows, broadcasts) deleted — or, with `dry_run`, that would be. One transaction;
    the rows are counted from what the DELETE itself returns, so an outcome recorded at the
    same moment can neither be lost nor counted twice.
    """
    table = broadcast_recipients
    finished = select(broadcasts.c.id).where(broadcasts.c.status.in_(FINISHED_STATUSES))
    of_finished = table.c.broadcast_id.in_(finished.scalar_subquery())
    if dry_run:
        async with db.engine.connect() as connection:
            row = (
                await connection.execute(
                    select(func.count(), func.count(func.distinct(table.c.broadcast_id))).where(
                        of_finished
                    )
                )
            ).one()
        return int(row[0]), int(row[1])
    totals: dict[str, dict[str, int]] = {}
    async with db.engine.begin() as connection:
        deleted = await connection.execute(
            delete(table).where(of_finished).returning(table.c.broadcast_id, table.c.status)
        )
        for broadcast_id, status in deleted.all():
            column = KEPT_TOTALS[_COUNTED_AS[RecipientStatus(status)]]
            job = totals.setdefault(str(broadcast_id), {})
            job[column] = job.get(column, 0) + 1
        for broadcast_id, columns in totals.items():
            await connection.execute(
                update(broadcasts)
                .where(broadcasts.c.id == broadcast_id)
                .values(
                    {
                        name: func.coalesce(broadcasts.c[name], 0) + columns.get(name, 0)
                        for name in KEPT_TOTALS.values()
                    }
                )
            )
    return sum(sum(columns.values()) for columns in totals.values()), len(totals)
