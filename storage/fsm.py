"""aiogram FSM storage that keeps drafts without keeping who wrote them.

The row key is an HMAC pseudonym of aiogram's `StorageKey` (bot, chat, user, thread, business
connection, destiny), so the table holds no Telegram id; the data is encrypted JSON; rows
expire after `ttl` of inactivity and are deleted as soon as both state and data are cleared
(submit and cancel leave nothing behind). `PseudonymousRedisStorage` gives the same
guarantees on Redis, with Redis's own expiry (at a quarter hour) doing the purge.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import math
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import orjson
from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, KeyBuilder, StateType, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from redis.asyncio import BlockingConnectionPool, Redis
from sqlalchemy import bindparam, case, delete, func, select, update
from sqlalchemy.sql.expression import Executable

from bot.anonymity.crypto import DecryptionError, TextCipher, context_location
from bot.anonymity.pseudonym import Pseudonymizer
from bot.clock import WallClock, utc_now
from storage.database import Database
from storage.tables import fsm_entries

logger = logging.getLogger(__name__)

_PURPOSE = "fsm"
EXPIRY_GRANULARITY = timedelta(minutes=15)


def storage_key_pseudonym(pseudonymizer: Pseudonymizer, key: StorageKey) -> str:
    """The pseudonym of every field of an aiogram `StorageKey` (none of them is stored)."""
    return pseudonymizer.of(
        _PURPOSE,
        key.bot_id,
        key.chat_id,
        key.user_id,
        key.thread_id,
        key.business_connection_id,
        key.destiny,
    )


class _Unknown:
    """What `SqlStorage._known` says of a row only the database can tell."""


UNKNOWN: Final = _Unknown()


def dump_data(data: Mapping[str, Any]) -> bytes:
    """FSM data as compact UTF-8 JSON (orjson: a tap writes its draft, and the standard
    library's encoder took ten times as long). Keys that are not strings become strings, as
    `json.dumps` made them."""
    return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)


def _state_name(state: StateType) -> str | None:
    return state.state if isinstance(state, State) else state


class SqlStorage(BaseStorage):
    """`BaseStorage` on the bot's database (table `fsm_entries`).

    Expiry is sliding: every write pushes `expires_at` to now + `ttl`, rounded up to a
    quarter of an hour (the stored time is coarse on purpose). An expired row reads as
    empty, a write to it starts from empty, and `purge_expired` deletes it. `close` leaves
    the shared `Database` open: its owner disposes of it.

    With `write_delay` (seconds) writes are behind: a change goes into the cache at once and
    reaches the table a moment later, together with every other key's changes in one
    transaction (one upsert run), so a tap costs no commit of its own. A row that becomes
    empty (submit, cancel) is deleted at once, after any batch still carrying it. `close`
    writes what is waiting; a crash loses at most the last `write_delay` seconds of steps
    (the cadre resumes one step earlier). It assumes, like the cache, that this process is
    the only writer for its keys.
    """

    def __init__(
        self,
        db: Database,
        pseudonymizer: Pseudonymizer,
        cipher: TextCipher,
        *,
        ttl: timedelta,
        clock: WallClock = utc_now,
        cache_size: int = 10_000,
        write_delay: float | None = None,
    ) -> None:
        if ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        self._db = db
        self._pseudonymizer = pseudonymizer
        self._cipher = cipher
        self._ttl = ttl
        self._clock = clock
        self._expiry_span: tuple[datetime, datetime, datetime] | None = None
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        # Write-through cache of rows as stored (still encrypted), so the FSM middleware's
        # get_state and the handler's get_data/update_data do not each cost a database round
        # trip. The database stays authoritative; the cache assumes this process is the only
        # writer for a key, which holds for a polling bot (Telegram serves one poller per token).
        self._cache: OrderedDict[str, tuple[str | None, bytes | None, datetime]] = OrderedDict()
        self._cache_size = cache_size
        # A read that overlapped any write must not cache what it read: it may be the row from
        # before that write and would then shadow it. Bumped when a write starts and ends.
        self._write_events = 0
        self._writes_in_flight = 0
        # Write-behind: rows (state, data) waiting for the next batch, and the batch being
        # written; both are read before the cache, which may have evicted them.
        self._write_delay = write_delay if write_delay and write_delay > 0 else None
        self._pending: dict[str, tuple[str | None, bytes | None]] = {}
        self._flushing: dict[str, tuple[str | None, bytes | None]] = {}
        self._flush_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False
        self.batches = 0  # batches written behind (for tests and the benchmark)
        upsert = db.insert(fsm_entries)
        self._row_upsert = upsert.on_conflict_do_update(
            index_elements=[fsm_entries.c.key],
            set_={
                "state": upsert.excluded.state,
                "data_enc": upsert.excluded.data_enc,
                "expires_at": upsert.excluded.expires_at,
            },
        )
        self._statements = _ColumnWrites(db)

    def _row_key(self, key: StorageKey) -> str:
        return storage_key_pseudonym(self._pseudonymizer, key)

    def _now(self) -> datetime:
        """Naive UTC (the column has no time zone on either backend)."""
        return self._clock().astimezone(UTC).replace(tzinfo=None)

    def _expiry(self, now: datetime) -> datetime:
        """now + ttl, rounded *up* to EXPIRY_GRANULARITY: never early, and the stored value
        does not say to the minute when someone was last active.

        The same for a whole quarter hour of `now`s: the last one is kept with the span it
        holds for, as every tap asks."""
        span = self._expiry_span
        if span is not None and span[0] < now <= span[1]:
            return span[2]
        expires = now + self._ttl
        step = EXPIRY_GRANULARITY.total_seconds()
        seconds = (expires - datetime(2000, 1, 1)).total_seconds()
        rounded = datetime(2000, 1, 1) + timedelta(seconds=math.ceil(seconds / step) * step)
        # Every `now` in (rounded - step - ttl, rounded - ttl] rounds to `rounded`.
        latest = rounded - self._ttl
        self._expiry_span = (latest - EXPIRY_GRANULARITY, latest, rounded)
        return rounded

    def _lock(self, row_key: str) -> asyncio.Lock:
        lock = self._locks.get(row_key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[row_key] = lock
        return lock

    @staticmethod
    def _context(row_key: str) -> str:
        return f"fsm_entries.data_enc:{row_key}"

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await self._set_state(key, state, behind=self._behind())

    async def get_state(self, key: StorageKey) -> str | None:
        row = await self._read(self._row_key(key))
        return None if row is None else row[0]

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._set_data(key, data, behind=self._behind())

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        row_key = self._row_key(key)
        row = await self._read(row_key)
        if row is None or row[1] is None:
            return {}
        return self._decrypt(row_key, row[1])

    async def update_data(self, key: StorageKey, data: Mapping[str, Any]) -> dict[str, Any]:
        return await self._update_data(key, data, behind=self._behind())

    def written_at_once(self) -> BaseStorage:
        """This storage (the same rows, cache and waiting changes) with every write made at
        once: for a caller that batches its own writes (the web channel)."""
        return WrittenAtOnce(self)

    async def _set_state(self, key: StorageKey, state: StateType, *, behind: bool) -> None:
        row_key = self._row_key(key)
        async with self._lock(row_key):
            if behind:
                known = await self._read(row_key)
                await self._defer(row_key, _state_name(state), None if known is None else known[1])
                return
            await self._write(row_key, "state", _state_name(state))

    async def _set_data(self, key: StorageKey, data: Mapping[str, Any], *, behind: bool) -> None:
        if not isinstance(data, dict):
            raise DataNotDictLikeError(
                f"Data must be a dict or dict-like object, got {type(data).__name__}"
            )
        row_key = self._row_key(key)
        if behind and data and row_key not in self._locks:
            # Nobody holds or awaits this key's lock, and what is kept needs no database
            # read: the write is made without a suspension, so nothing can come between
            # the state read here and the change (a tap's usual case, without a lock).
            known = self._known(row_key)
            if not isinstance(known, _Unknown):
                state = None if known is None else known[0]
                self._defer_row(row_key, state, self._encrypt(row_key, data))
                return
        async with self._lock(row_key):
            if behind:
                known = await self._read(row_key)
                state = None if known is None else known[0]
                await self._defer(row_key, state, self._encrypt(row_key, data))
                return
            await self._write(row_key, "data_enc", self._encrypt(row_key, data))

    async def _update_data(
        self, key: StorageKey, data: Mapping[str, Any], *, behind: bool
    ) -> dict[str, Any]:
        """Read-modify-write under the key's lock, so concurrent updates are not lost."""
        row_key = self._row_key(key)
        async with self._lock(row_key):
            row = await self._read(row_key)
            current = {} if row is None or row[1] is None else self._decrypt(row_key, row[1])
            current.update(data)
            if behind:
                state = None if row is None else row[0]
                await self._defer(row_key, state, self._encrypt(row_key, current))
            else:
                await self._write(row_key, "data_enc", self._encrypt(row_key, current))
            return current.copy()

    async def set_many(self, items: Sequence[tuple[StorageKey, Mapping[str, Any]]]) -> None:
        """Several keys' data in one transaction (one upsert run for all of them), each key's
        state kept as `set_data` keeps it. For a write-behind flush of many small changes:
        one commit instead of one per key. Empty data is refused: clearing deletes rows and
        goes through `set_data`."""
        if not items:
            return
        now = self._now()
        expires = self._expiry(now)
        rows: dict[str, bytes] = {}
        for key, data in items:
            if not isinstance(data, dict) or not data:
                raise DataNotDictLikeError("set_many takes non-empty dicts only")
            row_key = self._row_key(key)
            blob = self._encrypt(row_key, data)
            assert blob is not None
            rows[row_key] = blob  # the last one wins, as with one set_data after another
        if any(k in self._pending or k in self._flushing for k in rows):
            await self.flush()  # what waits behind for these keys is older: it lands first
        table = fsm_entries
        upsert = self._db.insert(table)
        statement = upsert.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "data_enc": upsert.excluded.data_enc,
                "state": case((table.c.expires_at <= now, None), else_=table.c.state),
                "expires_at": upsert.excluded.expires_at,
            },
        )
        known = {row_key: await self._read(row_key) for row_key in rows}
        self._write_events += 1
        self._writes_in_flight += 1
        for row_key in rows:
            self._cache.pop(row_key, None)
        try:
            async with self._db.engine.begin() as connection:
                await connection.execute(
                    statement,
                    [
                        {"key": row_key, "data_enc": blob, "expires_at": expires}
                        for row_key, blob in rows.items()
                    ],
                )
            for row_key, blob in rows.items():
                row = known[row_key]
                self._remember(row_key, None if row is None else row[0], blob)
        finally:
            self._writes_in_flight -= 1
            self._write_events += 1

    async def purge_expired(self) -> int:
        """Delete every expired entry; returns how many went."""
        return await purge_expired_entries(self._db, now=self._clock())

    async def close(self) -> None:
        """Write what is waiting (later writes go straight to the table); the `Database`
        belongs to whoever created it."""
        self._closed = True
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        await self.flush()

    async def flush(self) -> None:
        """Write every change waiting behind, in one transaction."""
        async with self._flush_lock:
            if not self._pending:
                return
            self._flushing, self._pending = self._pending, {}
            expires = self._expiry(self._now())
            try:
                async with self._db.engine.begin() as connection:
                    await connection.execute(
                        self._row_upsert,
                        [
                            {"key": k, "state": state, "data_enc": blob, "expires_at": expires}
                            for k, (state, blob) in self._flushing.items()
                        ],
                    )
                self.batches += 1
            except BaseException:
                for row_key, row in self._flushing.items():
                    self._pending.setdefault(row_key, row)  # a newer change stays newer
                raise
            finally:
                self._flushing = {}

    # --- internals ----------------------------------------------------------------------

    def _behind(self) -> bool:
        return self._write_delay is not None and not self._closed

    async def _defer(self, row_key: str, state: str | None, data: bytes | None) -> None:
        """The row as it now is: into the cache at once and into the next batch; an empty
        row is deleted at once instead."""
        if state is None and data is None:
            self._write_events += 1  # a read in flight must not cache what it read
            await self._delete_now(row_key)
            return
        self._defer_row(row_key, state, data)

    def _defer_row(self, row_key: str, state: str | None, data: bytes | None) -> None:
        """A non-empty row into the cache and the next batch (never suspends)."""
        self._write_events += 1  # a read in flight must not cache what it read
        self._pending[row_key] = (state, data)
        self._remember(row_key, state, data)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_behind(), name="fsm-writes")
        self._wake.set()

    async def _delete_now(self, row_key: str) -> None:
        """After any batch in flight (it may still carry the row), so nothing outlives this."""
        async with self._flush_lock:
            self._pending.pop(row_key, None)
            self._write_events += 1
            self._writes_in_flight += 1
            self._cache.pop(row_key, None)
            try:
                async with self._db.engine.begin() as connection:
                    await connection.execute(
                        delete(fsm_entries).where(fsm_entries.c.key == row_key)
                    )
                self._remember(row_key, None, None)
            finally:
                self._writes_in_flight -= 1
                self._write_events += 1

    async def _flush_behind(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            assert self._write_delay is not None
            await asyncio.sleep(self._write_delay)
            try:
                await self.flush()
            except Exception as exc:  # kept for the next batch; the log says only its type
                logger.error("FSM batch not written: %s", type(exc).__name__)
                await asyncio.sleep(1.0)
                self._wake.set()

    def _encrypt(self, row_key: str, data: Mapping[str, Any]) -> bytes | None:
        if not data:
            return None
        return self._cipher.encrypt_bytes(dump_data(data), context=self._context(row_key))

    def _decrypt(self, row_key: str, blob: bytes) -> dict[str, Any]:
        try:
            loaded = orjson.loads(self._cipher.decrypt_bytes(blob, context=self._context(row_key)))
        except DecryptionError:
            _log_unreadable_draft()
            return {}
        if not isinstance(loaded, dict):
            raise DataNotDictLikeError("stored FSM data is not a JSON object")
        return loaded

    def _remember(self, row_key: str, state: str | None, data: bytes | None) -> None:
        if self._cache_size <= 0:
            return
        if state is None and data is None:
            self._cache[row_key] = (None, None, datetime.max)
        else:
            self._cache[row_key] = (state, data, self._expiry(self._now()))
        self._cache.move_to_end(row_key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def forget_cache(self) -> None:
        """Drop the process-local cache (tests, or after editing the table by hand)."""
        self._cache.clear()

    def _known(self, row_key: str) -> tuple[str | None, bytes | None] | _Unknown | None:
        """The row as this process knows it without asking the database: waiting to be
        written, or cached (None: known to be empty or expired); `UNKNOWN` otherwise."""
        waiting = self._pending.get(row_key) or self._flushing.get(row_key)
        if waiting is not None:
            return waiting
        cached = self._cache.get(row_key)
        if cached is None:
            return UNKNOWN
        state, data, expires = cached
        if state is None and data is None:
            return None
        if expires > self._now():
            return state, data
        del self._cache[row_key]
        return None

    async def _read(self, row_key: str) -> tuple[str | None, bytes | None] | None:
        known = self._known(row_key)
        if not isinstance(known, _Unknown):
            return known
        quiet = self._writes_in_flight == 0
        events_before = self._write_events
        row = await self._read_row(row_key)
        if quiet and self._write_events == events_before and self._cache_size > 0:
            if row is None:
                self._remember(row_key, None, None)
            else:
                self._cache[row_key] = (row[0], row[1], row[2])
                self._cache.move_to_end(row_key)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return None if row is None else (row[0], row[1])

    async def _read_row(self, row_key: str) -> tuple[str | None, bytes | None, datetime] | None:
        async with self._db.engine.connect() as connection:
            row = (
                await connection.execute(
                    self._statements.read, {"row_key": row_key, "now": self._now()}
                )
            ).first()
        return None if row is None else (row.state, row.data_enc, row.expires_at)

    async def _write(
        self, row_key: str, column: Literal["state", "data_enc"], value: str | bytes | None
    ) -> None:
        """Set one column, keep the other unless the row has expired, drop the row if empty.

        One upsert plus one conditional delete in a single transaction: correct even with
        several bot processes on one database, and no empty row is ever left behind.
        """
        now = self._now()
        expires = self._expiry(now)
        if value is None:  # clearing never needs a new row
            statement = self._statements.clear[column]
            params: dict[str, Any] = {"row_key": row_key, "now": now, "new_expiry": expires}
        else:
            statement = self._statements.upsert[column]
            params = {"key": row_key, column: value, "expires_at": expires, "now": now}
        if row_key in self._pending or row_key in self._flushing:
            await self.flush()  # the older change waiting behind lands first
        known = await self._read(row_key)  # what the row holds now (cached after the first)
        self._write_events += 1
        self._writes_in_flight += 1
        self._cache.pop(row_key, None)
        try:
            async with self._db.engine.begin() as connection:
                await connection.execute(statement, params)
                if value is None:  # only a clearing write can leave an empty row behind
                    await connection.execute(self._statements.drop_empty, {"row_key": row_key})
            if column == "state":
                kept_data = None if known is None else known[1]
                self._remember(row_key, value if isinstance(value, str) else None, kept_data)
            else:
                kept_state = None if known is None else known[0]
                self._remember(row_key, kept_state, value if isinstance(value, bytes) else None)
        finally:
            self._writes_in_flight -= 1
            self._write_events += 1


class _ColumnWrites:
    """The statements of `SqlStorage`'s row reads and one-column writes, built once.

    A tap writes one column; building the upsert anew each time cost more than running it
    (SQLAlchemy builds and hashes a fresh statement's cache key on every execution). Every
    value, the present moment included, is a bound parameter.
    """

    def __init__(self, db: Database) -> None:
        table = fsm_entries
        moment = table.c.expires_at.type
        now = bindparam("now", type_=moment)
        self.read = select(table.c.state, table.c.data_enc, table.c.expires_at).where(
            table.c.key == bindparam("row_key"), table.c.expires_at > now
        )
        self.upsert: dict[str, Executable] = {}
        self.clear: dict[str, Executable] = {}
        for column, other in (("state", "data_enc"), ("data_enc", "state")):
            kept_unless_expired = case((table.c.expires_at <= now, None), else_=table.c[other])
            upsert = db.insert(table)
            self.upsert[column] = upsert.on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    column: upsert.excluded[column],
                    other: kept_unless_expired,
                    "expires_at": upsert.excluded.expires_at,
                },
            )
            self.clear[column] = (
                update(table)
                .where(table.c.key == bindparam("row_key"))
                .values(
                    {
                        column: None,
                        other: kept_unless_expired,
                        "expires_at": bindparam("new_expiry"),
                    }
                )
            )
        self.drop_empty = delete(table).where(
            table.c.key == bindparam("row_key"),
            table.c.state.is_(None),
            table.c.data_enc.is_(None),
        )


class WrittenAtOnce(BaseStorage):
    """A `SqlStorage` whose writes through here are made at once (see `written_at_once`)."""

    def __init__(self, storage: SqlStorage) -> None:
        self.storage = storage

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await self.storage._set_state(key, state, behind=False)

    async def get_state(self, key: StorageKey) -> str | None:
        return await self.storage.get_state(key)

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self.storage._set_data(key, data, behind=False)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return await self.storage.get_data(key)

    async def update_data(self, key: StorageKey, data: Mapping[str, Any]) -> dict[str, Any]:
        return await self.storage._update_data(key, data, behind=False)

    async def set_many(self, items: Sequence[tuple[StorageKey, Mapping[str, Any]]]) -> None:
        await self.storage.set_many(items)

    async def purge_expired(self) -> int:
        return await self.storage.purge_expired()

    def forget_cache(self) -> None:
        self.storage.forget_cache()

    async def close(self) -> None:
        """The storage itself is closed by its owner (the Dispatcher)."""


async def purge_expired_entries(db: Database, *, now: datetime, dry_run: bool = False) -> int:
    """Delete every FSM row of any kind (drafts, follow-up sessions, staff dialogs) that expired
    by `now`; returns how many went — or, with `dry_run`, would. The daily maintenance calls
    this: an expired row reads as empty already, but it still holds its pseudonym key."""
    expired = fsm_entries.c.expires_at <= now.astimezone(UTC).replace(tzinfo=None)
    if dry_run:
        async with db.engine.connect() as connection:
            count = await connection.scalar(
                select(func.count()).select_from(fsm_entries).where(expired)
            )
        return int(count or 0)
    async with db.engine.begin() as connection:
        result = await connection.execute(delete(fsm_entries).where(expired))
    return int(result.rowcount or 0)


def _log_unreadable_draft(where: str = "fsm_entries.data_enc") -> None:
    """A draft under a retired DATA_KEY (or damaged, or copied from another key) reads as
    none: the cadre starts again instead of meeting an error on every tap until it expires."""
    logger.warning(
        "An unreadable draft in %s was treated as expired "
        "(retired DATA_KEY, damage, or copied from another key)",
        where,
    )


class PseudonymousKeyBuilder(KeyBuilder):
    """Redis keys of the form ``qingfeng:fsm:<pseudonym>:<part>``: no id in the key space."""

    def __init__(self, pseudonymizer: Pseudonymizer, prefix: str = "qingfeng:fsm") -> None:
        self._pseudonymizer = pseudonymizer
        self._prefix = prefix

    def build(
        self,
        key: StorageKey,
        part: Literal["data", "state", "lock"] | None = None,
    ) -> str:
        parts = [self._prefix, storage_key_pseudonym(self._pseudonymizer, key)]
        if part:
            parts.append(part)
        return ":".join(parts)


def quarter_hour_after(moment: datetime, granularity: timedelta = EXPIRY_GRANULARITY) -> int:
    """The first multiple of `granularity` (in Unix seconds) at or after `moment`."""
    step = int(granularity.total_seconds())
    return math.ceil(moment.timestamp() / step) * step


class PseudonymousRedisStorage(RedisStorage):
    """aiogram's `RedisStorage` with pseudonymous keys, encrypted data and a coarse expiry.

    Every write sets the key to expire at now + `ttl` rounded *up* to a quarter hour
    (`SET … EXAT`), like the SQL storage, so a key's expiry does not say to the second when
    the draft was last touched. The data value is base64 text of an AES-GCM blob bound to its
    own Redis key: copied under another key (another person's draft) it reads as no draft. The
    state name is stored as is (it names a questionnaire step, not a person).
    """

    def __init__(
        self,
        redis: Redis,
        pseudonymizer: Pseudonymizer,
        cipher: TextCipher,
        *,
        ttl: timedelta,
        granularity: timedelta = EXPIRY_GRANULARITY,
        clock: WallClock = utc_now,
    ) -> None:
        if ttl <= timedelta(0) or granularity <= timedelta(0):
            raise ValueError("ttl and granularity must be positive")
        super().__init__(redis, key_builder=PseudonymousKeyBuilder(pseudonymizer))
        self._cipher = cipher
        self._ttl = ttl
        self._granularity = granularity
        self._clock = clock

    @staticmethod
    def data_context(redis_key: str) -> str:
        return f"redis.fsm.data:{redis_key}"

    def expires_at(self) -> int:
        """Unix seconds at which a key written now expires (a multiple of the granularity)."""
        return quarter_hour_after(self._clock() + self._ttl, self._granularity)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        redis_key = self.key_builder.build(key, "state")
        name = _state_name(state)
        if name is None:
            await self.redis.delete(redis_key)
        else:
            await self.redis.set(redis_key, name, exat=self.expires_at())

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        if not isinstance(data, dict):
            raise DataNotDictLikeError(
                f"Data must be a dict or dict-like object, got {type(data).__name__}"
            )
        redis_key = self.key_builder.build(key, "data")
        if not data:
            await self.redis.delete(redis_key)
            return
        blob = self._cipher.encrypt_bytes(dump_data(data), context=self.data_context(redis_key))
        await self.redis.set(
            redis_key, base64.b64encode(blob).decode("ascii"), exat=self.expires_at()
        )

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        redis_key = self.key_builder.build(key, "data")
        value = await self.redis.get(redis_key)
        if value is None:
            return {}
        context = self.data_context(redis_key)
        try:
            plain = self._cipher.decrypt_bytes(
                base64.b64decode(value, validate=True), context=context
            )
        except ValueError:  # DecryptionError, or not base64 at all
            _log_unreadable_draft(context_location(context))
            return {}
        loaded = orjson.loads(plain)
        if not isinstance(loaded, dict):
            raise DataNotDictLikeError("stored FSM data is not a JSON object")
        return loaded


REDIS_POOL_SIZE = 100
REDIS_POOL_WAIT = 30.0


def pseudonymous_redis_storage(
    url: str,
    pseudonymizer: Pseudonymizer,
    cipher: TextCipher,
    ttl: timedelta,
    *,
    granularity: timedelta = EXPIRY_GRANULARITY,
) -> PseudonymousRedisStorage:
    """A `PseudonymousRedisStorage` connected to `url`. The pool makes a caller wait for a
    free connection (up to `REDIS_POOL_WAIT` seconds) instead of failing at once when every
    connection is busy: under a burst, an update waits rather than being lost."""
    pool = BlockingConnectionPool.from_url(
        url, max_connections=REDIS_POOL_SIZE, timeout=REDIS_POOL_WAIT
    )
    redis = Redis(connection_pool=pool)
    return PseudonymousRedisStorage(redis, pseudonymizer, cipher, ttl=ttl, granularity=granularity)
