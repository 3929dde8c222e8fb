"""Subscribers: chat ids only encrypted, keyed by HMAC; unsubscribing forgets the chat."""

from __future__ import annotations

import struct

import pytest
from sqlalchemy import select

from bot.anonymity.crypto import TextCipher
from bot.anonymity.pseudonym import Pseudonymizer
from storage.database import Database
from storage.repositories import SubscriberRepository
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
