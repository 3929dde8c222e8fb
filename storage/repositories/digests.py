"""Built digests, the group chats that receive them, and the delivery outbox.

* `DigestRepository`: a digest is built once per period and stored (encrypted); whoever
  inserts first wins, everyone else reads the stored one, so every destination and every
  retry gets the same content.
* `DigestSnapshotRepository`: the figures of a running period as last released to staff,
  replaced only by a compare-and-swap on a random version, so two processes cannot both
  release a step.
* `DigestGroupRepository`: group chats an admin registered with `/digest_here`.
* `OutboxRepository`: one row per (period, destination). Workers claim a row with a lease by a
  conditional UPDATE; the row count tells who won, on SQLite and PostgreSQL alike. A lease
  that runs out (the worker crashed) makes the row claimable again.

Destinations appear here only as opaque HMAC references (see `bot.delivery.outbox`).
"""

from __future__ import annotations

import builtins
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from sqlalchemy import Row, and_, delete, false, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from bot.anonymity.crypto import TextCipher
from bot.statuses import OutboxChannel, OutboxStatus
from storage.database import Database
from storage.tables import digest_groups, digest_outbox, digest_snapshots, digests

MAX_ERROR_LENGTH = 300
CLAIM_CANDIDATES = 16  # rows looked at per claim; losers of a race move on to the next


def naive_utc(moment: datetime) -> datetime:
    """The naive-UTC form the DateTime columns store (they carry no time zone)."""
    if moment.tzinfo is None:
        raise ValueError("pass an aware datetime")
    return moment.astimezone(UTC).replace(tzinfo=None)


def _aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC)


class DigestRepository:
    """Built digests by period key, encrypted at rest (they quote aggregate results)."""

    def __init__(self, db: Database, cipher: TextCipher) -> None:
        self._db = db
        self._cipher = cipher

    @staticmethod
    def _context(period_key: str) -> str:
        return f"digests.content_enc:{period_key}"

    async def store_if_absent(self, period_key: str, content: str) -> bool:
        """Store `content` unless the period already has a digest; True if this call stored it."""
        blob = self._cipher.encrypt(content, context=self._context(period_key))
        statement = (
            self._db.insert(digests)
            .values(period_key=period_key, content_enc=blob, enqueued=False)
            .on_conflict_do_nothing(index_elements=[digests.c.period_key])
        )
        async with self._db.engine.begin() as connection:
            result = await connection.execute(statement)
        return result.rowcount == 1

    async def get(self, period_key: str) -> str | None:
        async with self._db.engine.connect() as connection:
            blob = await connection.scalar(
                select(digests.c.content_enc).where(digests.c.period_key == period_key)
            )
        if blob is None:
            return None
        return self._cipher.decrypt(blob, context=self._context(period_key))

    async def latest_key(self, prefix: str) -> str | None:
        """The greatest period key starting with `prefix` (keys of one kind sort by date)."""
        async with self._db.engine.connect() as connection:
            key: str | None = await connection.scalar(
                select(digests.c.period_key)
                .where(digests.c.period_key.startswith(prefix, autoescape=True))
                .order_by(digests.c.period_key.desc())
                .limit(1)
            )
        return key

    async def not_enqueued(self) -> builtins.list[str]:
        """Stored digests whose outbox rows may not all exist yet (a crash can leave one)."""
        async with self._db.engine.connect() as connection:
            keys = await connection.scalars(
                select(digests.c.period_key)
                .where(digests.c.enqueued == false())
                .order_by(digests.c.period_key)
            )
            return builtins.list(keys)

    async def keys(self) -> builtins.list[str]:
        async with self._db.engine.connect() as connection:
            return builtins.list(
                await connection.scalars(
                    select(digests.c.period_key).order_by(digests.c.period_key)
                )
            )

    async def delete(self, period_keys: Sequence[str]) -> int:
        """Delete digests (and, by cascade, their outbox rows); for retention."""
        if not period_keys:
            return 0
        async with self._db.engine.begin() as connection:
            result = await connection.execute(
                delete(digests).where(digests.c.period_key.in_(period_keys))
            )
        return int(result.rowcount or 0)

    async def is_enqueued(self, period_key: str) -> bool:
        async with self._db.engine.connect() as connection:
            value = await connection.scalar(
                select(digests.c.enqueued).where(digests.c.period_key == period_key)
            )
        return bool(value)

    async def mark_enqueued(self, period_key: str) -> None:
        async with self._db.engine.begin() as connection:
            await connection.execute(
                update(digests).where(digests.c.period_key == period_key).values(enqueued=True)
            )


@dataclass(frozen=True)
class StoredSnapshot:
    """A released snapshot: its content (decrypted) and the version that a replacement must
    name."""

    scope_key: str
    version: str
    content: str


class DigestSnapshotRepository:
    """The last released snapshot per view scope, encrypted at rest like built digests."""

    def __init__(self, db: Database, cipher: TextCipher) -> None:
        self._db = db
        self._cipher = cipher

    @staticmethod
    def _context(scope_key: str) -> str:
        return f"digest_snapshots.content_enc:{scope_key}"

    async def get(self, scope_key: str) -> StoredSnapshot | None:
        """The snapshot of `scope_key`; DecryptionError when it cannot be read."""
        async with self._db.engine.connect() as connection:
            row = (
                await connection.execute(
                    select(digest_snapshots.c.version, digest_snapshots.c.content_enc).where(
                        digest_snapshots.c.scope_key == scope_key
                    )
                )
            ).first()
        if row is None:
            return None
        content = self._cipher.decrypt(row.content_enc, context=self._context(scope_key))
        return StoredSnapshot(scope_key, row.version, content)

    async def release(self, scope_key: str, content: str, *, replaces: str | None) -> bool:
        """Store `content` as the scope's snapshot: as the first one (`replaces` None) or in
        place of the version read before. False when another process got there first (the
        caller then reads and shows the winner's)."""
        blob = self._cipher.encrypt(content, context=self._context(scope_key))
        version = secrets.token_hex(16)
        if replaces is None:
            statement: Any = (
                self._db.insert(digest_snapshots)
                .values(scope_key=scope_key, version=version, content_enc=blob)
                .on_conflict_do_nothing(index_elements=[digest_snapshots.c.scope_key])
            )
        else:
            statement = (
                update(digest_snapshots)
                .where(
                    digest_snapshots.c.scope_key == scope_key,
                    digest_snapshots.c.version == replaces,
                )
                .values(version=version, content_enc=blob)
            )
        async with self._db.engine.begin() as connection:
            result = await connection.execute(statement)
        return result.rowcount == 1

    async def keys(self) -> builtins.list[str]:
        async with self._db.engine.connect() as connection:
            return builtins.list(
                await connection.scalars(
                    select(digest_snapshots.c.scope_key).order_by(digest_snapshots.c.scope_key)
                )
            )

    async def delete(self, scope_keys: Sequence[str]) -> int:
        if not scope_keys:
            return 0
        async with self._db.engine.begin() as connection:
            result = await connection.execute(
                delete(digest_snapshots).where(digest_snapshots.c.scope_key.in_(scope_keys))
            )
        return int(result.rowcount or 0)


class DigestGroupRepository:
    """Group chats registered as digest destinations (groups are not respondents)."""

    def __init__(self, db: Database, *, zone: tzinfo = UTC) -> None:
        self._db = db
        self._zone = zone

    async def add(self, chat_id: int, *, connection: AsyncConnection | None = None) -> bool:
        """Register a group; False if it was registered already. In the caller's
        `connection` (transaction) when given."""
        statement = (
            self._db.insert(digest_groups)
            .values(chat_id=chat_id, added_day=datetime.now(self._zone).date())
            .on_conflict_do_nothing(index_elements=[digest_groups.c.chat_id])
        )
        async with self._db.transaction(connection) as connection:
            result = await connection.execute(statement)
        return result.rowcount == 1

    async def remove(self, chat_id: int, *, connection: AsyncConnection | None = None) -> bool:
        async with self._db.transaction(connection) as connection:
            result = await connection.execute(
                delete(digest_groups).where(digest_groups.c.chat_id == chat_id)
            )
        return result.rowcount == 1

    async def move(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup with a new id: keep it registered under the new id."""
        async with self._db.engine.begin() as connection:
            day = await connection.scalar(
                select(digest_groups.c.added_day).where(digest_groups.c.chat_id == old_chat_id)
            )
            if day is None:
                return
            await connection.execute(
                delete(digest_groups).where(digest_groups.c.chat_id == old_chat_id)
            )
            await connection.execute(
                self._db.insert(digest_groups)
                .values(chat_id=new_chat_id, added_day=day)
                .on_conflict_do_nothing(index_elements=[digest_groups.c.chat_id])
            )

    async def list(self) -> builtins.list[int]:
        async with self._db.engine.connect() as connection:
            rows = await connection.scalars(
                select(digest_groups.c.chat_id).order_by(digest_groups.c.chat_id)
            )
            return builtins.list(rows)

    async def added_day(self, chat_id: int) -> date | None:
        async with self._db.engine.connect() as connection:
            day: date | None = await connection.scalar(
                select(digest_groups.c.added_day).where(digest_groups.c.chat_id == chat_id)
            )
        return day


@dataclass(frozen=True)
class OutboxItem:
    """One (period, destination) delivery as stored. Times are aware UTC."""

    period_key: str
    destination: str
    channel: OutboxChannel
    status: OutboxStatus
    attempts: int
    parts_done: int
    next_attempt_at: datetime
    lease_token: str | None
    lease_until: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class OutboxEntry:
    """A row to enqueue: an HMAC destination reference and its channel."""

    destination: str
    channel: OutboxChannel


class OutboxRepository:
    """The digest outbox. Every state change after a claim requires the claim's lease token,
    so a worker whose lease ran out (and was taken over) cannot overwrite the new owner."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def enqueue(
        self, period_key: str, entries: Sequence[OutboxEntry], *, now: datetime
    ) -> int:
        """Add a pending row per entry that has none yet for this period; returns how many."""
        if not entries:
            return 0
        values = [
            {
                "period_key": period_key,
                "destination": entry.destination,
                "channel": entry.channel,
                "status": OutboxStatus.PENDING,
                "attempts": 0,
                "parts_done": 0,
                "next_attempt_at": naive_utc(now),
            }
            for entry in entries
        ]
        statement = (
            self._db.insert(digest_outbox)
            .values(values)
            .on_conflict_do_nothing(
                index_elements=[digest_outbox.c.period_key, digest_outbox.c.destination]
            )
        )
        async with self._db.engine.begin() as connection:
            result = await connection.execute(statement)
        return max(int(result.rowcount), 0)

    @staticmethod
    def _claimable(now: datetime) -> ColumnElement[bool]:
        moment = naive_utc(now)
        return or_(
            and_(
                digest_outbox.c.status == OutboxStatus.PENDING,
                digest_outbox.c.next_attempt_at <= moment,
            ),
            and_(
                digest_outbox.c.status == OutboxStatus.SENDING,
                digest_outbox.c.lease_until <= moment,
            ),
        )

    @staticmethod
    def _key(period_key: str, destination: str) -> ColumnElement[bool]:
        return and_(
            digest_outbox.c.period_key == period_key,
            digest_outbox.c.destination == destination,
        )

    async def claim(
        self, *, due_by: datetime, lease_until: datetime, token: str
    ) -> OutboxItem | None:
        """Take one row due by `due_by` (pending and due, or sending with a lease that ran
        out) for `token`, leased until `lease_until`; None when nothing is due.

        Candidates are read first, then each is taken by an UPDATE that repeats the
        condition; whoever's UPDATE changes the row owns it. A concurrent worker's UPDATE of
        the same row finds the condition false (PostgreSQL re-checks it after waiting for the
        row lock; SQLite runs writers one at a time) and moves on to the next candidate.
        """
        claimable = self._claimable(due_by)
        async with self._db.engine.connect() as connection:
            candidates = (
                await connection.execute(
                    select(digest_outbox.c.period_key, digest_outbox.c.destination)
                    .where(claimable)
                    .order_by(digest_outbox.c.next_attempt_at, digest_outbox.c.period_key)
                    .limit(CLAIM_CANDIDATES)
                )
            ).all()
        for period_key, destination in candidates:
            async with self._db.engine.begin() as connection:
                result = await connection.execute(
                    update(digest_outbox)
                    .where(self._key(period_key, destination), claimable)
                    .values(
                        status=OutboxStatus.SENDING,
                        lease_token=token,
                        lease_until=naive_utc(lease_until),
                        attempts=digest_outbox.c.attempts + 1,
                    )
                )
                if result.rowcount != 1:
                    continue
                row = (
                    await connection.execute(
                        select(digest_outbox).where(self._key(period_key, destination))
                    )
                ).one()
            return _item(row)
        return None

    async def _owned_update(self, item: OutboxItem, **values: object) -> bool:
        async with self._db.engine.begin() as connection:
            result = await connection.execute(
                update(digest_outbox)
                .where(
                    self._key(item.period_key, item.destination),
                    digest_outbox.c.status == OutboxStatus.SENDING,
                    digest_outbox.c.lease_token == item.lease_token,
                )
                .values(**values)
            )
        return result.rowcount == 1

    async def record_progress(
        self, item: OutboxItem, *, parts_done: int, lease_until: datetime
    ) -> bool:
        """Remember how many messages went out and extend the lease; False if it was lost."""
        return await self._owned_update(
            item, parts_done=parts_done, lease_until=naive_utc(lease_until)
        )

    async def mark_sent(self, item: OutboxItem, *, parts_done: int) -> bool:
        return await self._owned_update(
            item,
            status=OutboxStatus.SENT,
            parts_done=parts_done,
            lease_token=None,
            lease_until=None,
            last_error=None,
        )

    async def reschedule(
        self, item: OutboxItem, *, next_attempt_at: datetime, parts_done: int, error: str
    ) -> bool:
        return await self._owned_update(
            item,
            status=OutboxStatus.PENDING,
            parts_done=parts_done,
            next_attempt_at=naive_utc(next_attempt_at),
            lease_token=None,
            lease_until=None,
            last_error=error[:MAX_ERROR_LENGTH],
        )

    async def mark_failed(self, item: OutboxItem, *, parts_done: int, error: str) -> bool:
        return await self._owned_update(
            item,
            status=OutboxStatus.FAILED,
            parts_done=parts_done,
            lease_token=None,
            lease_until=None,
            last_error=error[:MAX_ERROR_LENGTH],
        )

    async def cancel(self, item: OutboxItem, *, reason: str) -> bool:
        """The destination is gone (investigator revoked, group or webhook removed)."""
        return await self._owned_update(
            item,
            status=OutboxStatus.CANCELLED,
            lease_token=None,
            lease_until=None,
            last_error=reason[:MAX_ERROR_LENGTH],
        )

    async def list(self, period_key: str | None = None) -> builtins.list[OutboxItem]:
        statement = select(digest_outbox).order_by(
            digest_outbox.c.period_key, digest_outbox.c.destination
        )
        if period_key is not None:
            statement = statement.where(digest_outbox.c.period_key == period_key)
        async with self._db.engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        return [_item(row) for row in rows]

    async def next_due(self) -> datetime | None:
        """When the earliest pending row becomes due (None if nothing is pending)."""
        async with self._db.engine.connect() as connection:
            value: datetime | None = await connection.scalar(
                select(digest_outbox.c.next_attempt_at)
                .where(digest_outbox.c.status == OutboxStatus.PENDING)
                .order_by(digest_outbox.c.next_attempt_at)
                .limit(1)
            )
        return _aware(value)

    async def purge_finished_before(self, moment: datetime, *, dry_run: bool = False) -> int:
        """Delete sent, failed and cancelled rows last scheduled before `moment` (the daily
        maintenance): their digest went out or never will, and nothing reads them again (a
        period is queued once). Returns how many went — or, with `dry_run`, would."""
        finished = and_(
            digest_outbox.c.status.in_(
                (OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.CANCELLED)
            ),
            digest_outbox.c.next_attempt_at < naive_utc(moment),
        )
        if dry_run:
            async with self._db.engine.connect() as connection:
                count = await connection.scalar(
                    select(func.count()).select_from(digest_outbox).where(finished)
                )
            return int(count or 0)
        async with self._db.engine.begin() as connection:
            result = await connection.execute(delete(digest_outbox).where(finished))
        return int(result.rowcount or 0)


def _item(row: Row[Any]) -> OutboxItem:
    mapping = row._mapping
    next_attempt_at = _aware(mapping["next_attempt_at"])
    assert next_attempt_at is not None
    return OutboxItem(
        period_key=mapping["period_key"],
        destination=mapping["destination"],
        channel=OutboxChannel(mapping["channel"]),
        status=OutboxStatus(mapping["status"]),
        attempts=mapping["attempts"],
        parts_done=mapping["parts_done"],
        next_attempt_at=next_attempt_at,
        lease_token=mapping["lease_token"],
        lease_until=_aware(mapping["lease_until"]),
        last_error=mapping["last_error"],
    )
