"""Subscribers: chat ids only encrypted, keyed by HMAC; unsubscribing forgets the chat."""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.sql.expression import Executable

from bot.anonymity.crypto import TextCipher
from bot.anonymity.pseudonym import Pseudonymizer
from storage.database import Database
from storage.repositories import SubscriberRepository
from storage.repositories.subscribers import LOCALE_CACHE_SECONDS
from storage.tables import subscribers
from tests.storage.at_rest import assert_at_rest, assert_not_at_rest

CHAT_IDS = [5123456789, 987654321, 7000000001]


@pytest.fixture
def repository(
    database: Database, cipher: TextCipher, pseudonymizer: Pseudonymizer
) -> SubscriberRepository:
    return SubscriberRepository(database, cipher, pseudonymizer)


async def test_subscribe_and_read_back(repository: SubscriberRepository) -> None:
    await repository.subscribe(CHAT_IDS[0], "zh-CN")
    await repository.subscribe(CHAT_IDS[1], "en")
    await repository.subscribe(CHAT_IDS[2], "zh-CN")
    assert await repository.is_active(CHAT_IDS[0])
    assert not await repository.is_active(123)
    assert await repository.locale_of(CHAT_IDS[1]) == "en"
    assert await repository.locale_of(123) is None
    assert await repository.count_active() == 3
    assert await repository.count_active("zh-CN") == 2
    assert sorted(await repository.active_chat_ids()) == sorted(CHAT_IDS)
    assert await repository.active_chat_ids("en") == [CHAT_IDS[1]]


async def test_resubscribing_updates_the_locale_without_duplicating(
    repository: SubscriberRepository,
) -> None:
    await repository.subscribe(CHAT_IDS[0], "zh-CN")
    await repository.subscribe(CHAT_IDS[0], "en")
    assert await repository.count_active() == 1
    assert await repository.locale_of(CHAT_IDS[0]) == "en"


async def test_set_locale_only_for_subscribers(repository: SubscriberRepository) -> None:
    await repository.subscribe(CHAT_IDS[0], "zh-CN")
    assert await repository.set_locale(CHAT_IDS[0], "en")
    assert await repository.locale_of(CHAT_IDS[0]) == "en"
    assert not await repository.set_locale(CHAT_IDS[1], "en")
    assert await repository.count_active() == 1


async def test_unsubscribe_forgets_the_chat(
    database: Database, repository: SubscriberRepository
) -> None:
    await repository.subscribe(CHAT_IDS[0], "zh-CN")
    async with database.engine.connect() as connection:
        blob = await connection.scalar(select(subscribers.c.chat_id_enc))
    assert isinstance(blob, bytes)
    await repository.subscribe(CHAT_IDS[1], "zh-CN")  # keeps the table non-empty

    assert await repository.unsubscribe(CHAT_IDS[0])
    assert not await repository.unsubscribe(CHAT_IDS[0])
    assert not await repository.is_active(CHAT_IDS[0])
    assert await repository.active_chat_ids() == [CHAT_IDS[1]]
    # secure_delete (SQLite) / the row is gone (PostgreSQL): the ciphertext is not kept.
    await assert_not_at_rest(database, blob)


async def test_the_chat_id_is_never_stored_in_plaintext(
    database: Database, repository: SubscriberRepository
) -> None:
    for chat_id in CHAT_IDS:
        await repository.subscribe(chat_id, "zh-CN")
    needles: list[str | bytes] = []
    for chat_id in CHAT_IDS:
        needles += [str(chat_id), struct.pack(">q", chat_id), struct.pack("<q", chat_id)]
    await assert_not_at_rest(database, *needles)
    await assert_at_rest(database, "zh-CN")  # the check can see what is stored


async def test_rows_are_keyed_by_a_keyed_hash(
    database: Database, cipher: TextCipher, repository: SubscriberRepository
) -> None:
    await repository.subscribe(CHAT_IDS[0], "zh-CN")
    other_secret = SubscriberRepository(database, cipher, Pseudonymizer(b"another secret!!" * 2))
    assert not await other_secret.is_active(CHAT_IDS[0])  # the HMAC needs the secret
    async with database.engine.connect() as connection:
        chat_hash = await connection.scalar(select(subscribers.c.chat_hash))
    assert isinstance(chat_hash, str) and len(chat_hash) == 64
    assert str(CHAT_IDS[0]) not in chat_hash


async def _row(database: Database) -> tuple[object, ...]:
    """The only subscriber row, with its row version (`xmin`, `xmax`) on PostgreSQL."""
    async with database.engine.connect() as connection:
        query: Executable
        if database.engine.dialect.name == "postgresql":
            query = text(
                "SELECT chat_hash, chat_id_enc, locale, active, since_day, xmin::text, "
                "xmax::text FROM subscribers"
            )
        else:
            query = select(subscribers)
        [row] = (await connection.execute(query)).all()
    return tuple(row)


def _clock(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


async def test_since_day_is_the_first_day_of_the_month(
    database: Database, cipher: TextCipher, pseudonymizer: Pseudonymizer
) -> None:
    zone = ZoneInfo("Asia/Shanghai")
    # 23:30 UTC on 31 March is already 1 April in Shanghai: the zone decides the month.
    moment = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
    repository = SubscriberRepository(
        database, cipher, pseudonymizer, zone=zone, now=_clock(moment)
    )
    await repository.subscribe(CHAT_IDS[0], "zh-CN")
    async with database.engine.connect() as connection:
        since = await connection.scalar(select(subscribers.c.since_day))
    assert since == date(2026, 4, 1)


async def test_subscribing_again_writes_nothing(
    database: Database, cipher: TextCipher, pseudonymizer: Pseudonymizer
) -> None:
    first = SubscriberRepository(
        database, cipher, pseudonymizer, now=_clock(datetime(2026, 3, 17, tzinfo=UTC))
    )
    await first.subscribe(CHAT_IDS[0], "zh-CN")
    before = await _row(database)
    # A month later, in a fresh process: the same subscribe and the same language again.
    later = SubscriberRepository(
        database, cipher, pseudonymizer, now=_clock(datetime(2026, 4, 20, tzinfo=UTC))
    )
    await later.subscribe(CHAT_IDS[0], "zh-CN")
    assert await later.set_locale(CHAT_IDS[0], "zh-CN")
    assert await _row(database) == before  # same bytes, same month, same xmin
    # A real change is written, and keeps the month it subscribed.
    assert await later.set_locale(CHAT_IDS[0], "en")
    changed = await _row(database)
    assert changed[2] == "en" and changed[4] == date(2026, 3, 1)


async def test_a_language_chosen_without_subscribing_is_kept_in_memory_only(
    database: Database, repository: SubscriberRepository
) -> None:
    assert not await repository.set_locale(CHAT_IDS[0], "en")
    assert await repository.locale_of(CHAT_IDS[0]) == "en"
    async with database.engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(subscribers)) == 0
    await repository.subscribe(CHAT_IDS[0], "en")  # opting in stores the language
    assert await repository.stored_locale(CHAT_IDS[0]) == "en"


async def test_migration_0005_moves_existing_rows_to_the_first_of_their_month(
    empty_db_url: str, cipher: TextCipher, pseudonymizer: Pseudonymizer
) -> None:
    database = await Database.connect(empty_db_url)
    try:
        await database.upgrade("0004")
        async with database.engine.begin() as connection:
            await connection.execute(
                subscribers.insert(),
                [
                    {
                        "chat_hash": f"{n:064x}",
                        "chat_id_enc": b"x",
                        "locale": "zh-CN",
                        "active": True,
                        "since_day": day,
                    }
                    for n, day in enumerate(
                        (date(2025, 12, 31), date(2026, 2, 1), date(2026, 2, 28))
                    )
                ],
            )
        await database.upgrade()
        async with database.engine.connect() as connection:
            days = (
                await connection.scalars(
                    select(subscribers.c.since_day).order_by(subscribers.c.chat_hash)
                )
            ).all()
        assert days == [date(2025, 12, 1), date(2026, 2, 1), date(2026, 2, 1)]
    finally:
        await database.dispose()


async def test_a_language_changed_by_another_instance_is_seen_after_a_while(
    database: Database, cipher: TextCipher, pseudonymizer: Pseudonymizer
) -> None:
    now = [0.0]
    mine = SubscriberRepository(database, cipher, pseudonymizer, monotonic=lambda: now[0])
    other = SubscriberRepository(database, cipher, pseudonymizer)
    await mine.subscribe(CHAT_IDS[0], "zh-CN")
    assert await mine.locale_of(CHAT_IDS[0]) == "zh-CN"  # now cached here

    assert await other.set_locale(CHAT_IDS[0], "en")

    assert await mine.locale_of(CHAT_IDS[0]) == "zh-CN"  # the cache, for a few seconds
    now[0] += LOCALE_CACHE_SECONDS + 1
    assert await mine.locale_of(CHAT_IDS[0]) == "en"
