"""Broadcast subscribers: the one place a chat id is kept, encrypted, keyed by its HMAC.

Nothing here links to a submission, and an unsubscribed chat is deleted, not flagged, so the
table never becomes a list of everyone who once used the bot.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, date, datetime, tzinfo

from sqlalchemy import case, delete, func, select, update

from bot.anonymity.crypto import TextCipher
from bot.anonymity.pseudonym import Pseudonymizer
from storage.database import Database
from storage.tables import subscribers

_PURPOSE = "subscriber"


_LOCALE_CACHE_SIZE = 10_000


class SubscriberRepository:
    """Subscribe, unsubscribe, language preference, and the decrypted list for broadcasts."""

    def __init__(
        self,
        db: Database,
        cipher: TextCipher,
        pseudonymizer: Pseudonymizer,
        *,
        zone: tzinfo = UTC,
    ) -> None:
        self._db = db
        self._cipher = cipher
        self._pseudonymizer = pseudonymizer
        self._zone = zone
        # Language per chat hash, read on every update by the locale middleware; kept in
        # step by this repository's own writes (one bot process per token).
        self._locales: OrderedDict[str, str | None] = OrderedDict()

    def _cache_locale(self, chat_hash: str, locale: str | None) -> None:
        self._locales[chat_hash] = locale
        self._locales.move_to_end(chat_hash)
        while len(self._locales) > _LOCALE_CACHE_SIZE:
            self._locales.popitem(last=False)

    def _hash(self, chat_id: int) -> str:
        return self._pseudonymizer.of(_PURPOSE, chat_id)

    @staticmethod
    def _context(chat_hash: str) -> str:
        # Bound to its row: an encrypted chat id moved to another row no longer decrypts.
        return f"subscribers.chat_id_enc:{chat_hash}"

    def _today(self) -> date:
        return datetime.now(self._zone).date()

    async def subscribe(self, chat_id: int, locale: str) -> None:
        """Subscribe (or re-subscribe) a chat; keeps `since_day` while it stays subscribed."""
        chat_hash = self._hash(chat_id)
        self._locales.pop(chat_hash, None)
        table = subscribers
        statement = self._db.insert(table).values(
            chat_hash=chat_hash,
            chat_id_enc=self._cipher.encrypt(str(chat_id), context=self._context(chat_hash)),
            locale=locale,
            active=True,
            since_day=self._today(),
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
        async with self._db.engine.connect() as connection:
            active = await connection.scalar(
                select(subscribers.c.active).where(subscribers.c.chat_hash == self._hash(chat_id))
            )
        return bool(active)

    async def locale_of(self, chat_id: int) -> str | None:
        """The chat's stored language, if it is a subscriber."""
        chat_hash = self._hash(chat_id)
        if chat_hash in self._locales:
            return self._locales[chat_hash]
        async with self._db.engine.connect() as connection:
            locale = await connection.scalar(
                select(subscribers.c.locale).where(subscribers.c.chat_hash == chat_hash)
            )
        self._cache_locale(chat_hash, locale)
        return locale

    async def set_locale(self, chat_id: int, locale: str) -> bool:
        """Change a subscriber's language; returns False (stores nothing) for other chats."""
        self._locales.pop(self._hash(chat_id), None)
        async with self._db.engine.begin() as connection:
            result = await connection.execute(
                update(subscribers)
                .where(subscribers.c.chat_hash == self._hash(chat_id))
                .values(locale=locale)
            )
        return bool(result.rowcount)

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
