"""Broadcast subscribers: the one place a chat id is kept, encrypted, keyed by its HMAC.

A chat is here only because the cadre pressed the announcements button. Nothing here links to a
submission, and an unsubscribed chat is deleted, not flagged, so the table never becomes a list
of everyone who once used the bot. A row holds the HMAC, the encrypted chat id, the language
and the *month* it subscribed (the first day of it): nothing finer-grained about when.

A repeated subscribe of an active chat in the same language writes nothing at all (no new row
version on PostgreSQL, whose `xmin` would otherwise date the cadre's latest visit).
The language a non-subscriber picks with /language is kept in process memory only.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, date, datetime, tzinfo
from typing import TypeVar

from sqlalchemy import bindparam, case, delete, func, or_, select, update

from bot.anonymity.crypto import TextCipher
from bot.anonymity.pseudonym import Pseudonymizer
from bot.clock import WallClock
from storage.database import Database
from storage.tables import subscribers

_PURPOSE = "subscriber"
_Value = TypeVar("_Value")


_LOCALE_CACHE_SIZE = 10_000
#: A subscriber's language is read again after this long: another instance on the same
#: database may have changed it.
LOCALE_CACHE_SECONDS = 10.0


class SubscriberRepository:
    """Subscribe, unsubscribe, language preference, and the decrypted list for broadcasts."""

    def __init__(
        self,
        db: Database,
        cipher: TextCipher,
        pseudonymizer: Pseudonymizer,
        *,
        zone: tzinfo = UTC,
        now: WallClock | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._cipher = cipher
        self._pseudonymizer = pseudonymizer
        self._zone = zone
        self._now = now or (lambda: datetime.now(self._zone))
        # Language and whether active, per chat hash, with the moment they go stale: read on
        # every update by the locale middleware (and by /start); kept in step by this
        # repository's own writes, read again after LOCALE_CACHE_SECONDS for the writes of
        # other instances (and of the broadcast sender, which marks blocked chats inactive).
        self._monotonic = monotonic
        self._locales: OrderedDict[str, tuple[str | None, bool, float]] = OrderedDict()
        self._read_row = select(subscribers.c.locale, subscribers.c.active).where(
            subscribers.c.chat_hash == bindparam("chat_hash")
        )
        # Languages chosen by chats that are not subscribers: memory only, never stored.
        self._unsaved_locales: OrderedDict[str, str] = OrderedDict()

    async def _row(self, chat_hash: str) -> tuple[str | None, bool]:
        """The chat's (language, active) as stored; (None, False) without a row."""
        cached = self._locales.get(chat_hash)
        if cached is not None and cached[2] > self._monotonic():
            return cached[0], cached[1]
        async with self._db.engine.connect() as connection:
            row = (await connection.execute(self._read_row, {"chat_hash": chat_hash})).first()
        locale, active = (None, False) if row is None else (row.locale, bool(row.active))
        expiry = self._monotonic() + LOCALE_CACHE_SECONDS
        _remember(self._locales, chat_hash, (locale, active, expiry))
        return locale, active

    def _hash(self, chat_id: int) -> str:
        return self._pseudonymizer.of(_PURPOSE, chat_id)

    @staticmethod
    def _context(chat_hash: str) -> str:
        # Bound to its row: an encrypted chat id moved to another row no longer decrypts.
        return f"subscribers.chat_id_enc:{chat_hash}"

    def this_month(self) -> date:
        """The first day of the current month: the only date a subscriber row carries."""
        return self._now().astimezone(self._zone).date().replace(day=1)

    async def subscribe(self, chat_id: int, locale: str) -> None:
        """Subscribe a chat (the cadre pressed the button); keeps `since_day` while it stays
        subscribed, and writes nothing when it is already subscribed in this language."""
        chat_hash = self._hash(chat_id)
        self._locales.pop(chat_hash, None)
        self._unsaved_locales.pop(chat_hash, None)
        table = subscribers
        async with self._db.engine.connect() as connection:
            current = (
                await connection.execute(
                    select(table.c.active, table.c.locale).where(table.c.chat_hash == chat_hash)
                )
            ).first()
        if current is not None and current.active and current.locale == locale:
            return  # not even a row lock (PostgreSQL would record it in `xmax`)
        statement = self._db.insert(table).values(
            chat_hash=chat_hash,
            chat_id_enc=self._cipher.encrypt(str(chat_id), context=self._context(chat_hash)),
            locale=locale,
            active=True,
            since_day=self.this_month(),
        )
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.chat_hash],
            set_={
                "locale": statement.excluded.locale,
                "active": True,
                "since_day": case(
                    (table.c.active, table.c.since_day), else_=statement.excluded.since_day
                ),
            },
            # No UPDATE at all for an active row in the same language: no new row version.
            where=or_(~table.c.active, table.c.locale != statement.excluded.locale),
        )
        async with self._db.engine.begin() as connection:
            await connection.execute(statement)

    async def unsubscribe(self, chat_id: int) -> bool:
        """Forget the chat entirely; returns whether it was subscribed."""
        self._locales.pop(self._hash(chat_id), None)
        async with self._db.engine.begin() as connection:
            result = await connection.execute(
                delete(subscribers).where(subscribers.c.chat_hash == self._hash(chat_id))
            )
        return bool(result.rowcount)

    async def is_active(self, chat_id: int) -> bool:
        """Whether the chat receives announcements (read with its language, see `_row`)."""
        _, active = await self._row(self._hash(chat_id))
        return active

    async def stored_locale(self, chat_id: int) -> str | None:
        """The language on the chat's subscriber row (None when it is not a subscriber)."""
        locale, _ = await self._row(self._hash(chat_id))
        return locale

    async def locale_of(self, chat_id: int) -> str | None:
        """The chat's chosen language: stored for a subscriber, else held in memory if any."""
        stored = await self.stored_locale(chat_id)
        if stored is not None:
            return stored
        return self._unsaved_locales.get(self._hash(chat_id))

    async def set_locale(self, chat_id: int, locale: str) -> bool:
        """Change a subscriber's language and return True; for any other chat, store nothing
        (the choice is kept in memory until the bot restarts) and return False."""
        chat_hash = self._hash(chat_id)
        stored = await self.stored_locale(chat_id)
        if stored is None:
            _remember(self._unsaved_locales, chat_hash, locale)
            return False
        if stored == locale:
            return True  # nothing to write
        self._locales.pop(chat_hash, None)
        async with self._db.engine.begin() as connection:
            result = await connection.execute(
                update(subscribers)
                .where(subscribers.c.chat_hash == chat_hash, subscribers.c.locale != locale)
                .values(locale=locale)
            )
        if not result.rowcount and await self.stored_locale(chat_id) is None:
            _remember(self._unsaved_locales, chat_hash, locale)  # unsubscribed meanwhile
            return False
        return True

    async def count_active(self, locale: str | None = None) -> int:
        query = select(func.count()).select_from(subscribers).where(subscribers.c.active)
        if locale is not None:
            query = query.where(subscribers.c.locale == locale)
        async with self._db.engine.connect() as connection:
            total = await connection.scalar(query)
        return int(total or 0)

    async def active_chat_ids(self, locale: str | None = None) -> list[int]:
        """Decrypted chat ids of active subscribers (in pseudonym order, i.e. no real order)."""
        query = (
            select(subscribers.c.chat_hash, subscribers.c.chat_id_enc)
            .where(subscribers.c.active)
            .order_by(subscribers.c.chat_hash)
        )
        if locale is not None:
            query = query.where(subscribers.c.locale == locale)
        async with self._db.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [
            int(self._cipher.decrypt(row.chat_id_enc, context=self._context(row.chat_hash)))
            for row in rows
        ]


def _remember(cache: OrderedDict[str, _Value], chat_hash: str, value: _Value) -> None:
    """Put a value in a bounded most-recently-used map."""
    cache[chat_hash] = value
    cache.move_to_end(chat_hash)
    while len(cache) > _LOCALE_CACHE_SIZE:
        cache.popitem(last=False)


async def purge_inactive_subscribers(database: Database, *, dry_run: bool = False) -> int:
    """Delete the subscribers who blocked the bot: their row (an encrypted chat id) has no
    purpose left, and a cadre who comes back opts in again."""
    condition = subscribers.c.active.is_(False)
    async with database.transaction() as connection:
        if dry_run:
            count = await connection.scalar(
                select(func.count()).select_from(subscribers).where(condition)
            )
            return int(count or 0)
        result = await connection.execute(delete(subscribers).where(condition))
        return int(result.rowcount or 0)
