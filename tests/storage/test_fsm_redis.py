"""Redis FSM storage: pseudonymous keys, encrypted values, TTL on every key."""

from __future__ import annotations

import base64
import logging
import secrets
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from redis.asyncio import Redis

from bot.anonymity.crypto import TextCipher
from bot.anonymity.pseudonym import Pseudonymizer
from storage.fsm import EXPIRY_GRANULARITY, pseudonymous_redis_storage, storage_key_pseudonym

USER_ID = 5123456789
KEY = StorageKey(bot_id=7000000042, chat_id=USER_ID, user_id=USER_ID)
DRAFT = {"draft": {"answers": {"story": "县里每周开三次会"}}}
TTL = timedelta(hours=2)


@pytest.fixture
def pseudonymizer() -> Pseudonymizer:
    # A fresh secret per test: keys never collide with another run sharing the database.
    return Pseudonymizer(secrets.token_bytes(32))


@pytest.fixture
def cipher() -> TextCipher:
    return TextCipher(secrets.token_bytes(32))


@pytest.fixture
async def storage(
    redis_url: str, pseudonymizer: Pseudonymizer, cipher: TextCipher
) -> AsyncIterator[RedisStorage]:
    storage = pseudonymous_redis_storage(redis_url, pseudonymizer, cipher, TTL)
    try:
        yield storage
    finally:
        prefix = f"qingfeng:fsm:{storage_key_pseudonym(pseudonymizer, KEY)}"
        keys = [key async for key in storage.redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await storage.redis.delete(*keys)
        await storage.close()


async def our_keys(redis: Redis, pseudonymizer: Pseudonymizer) -> list[str]:
    prefix = f"qingfeng:fsm:{storage_key_pseudonym(pseudonymizer, KEY)}"
    return sorted([key.decode() async for key in redis.scan_iter(match=f"{prefix}*")])


async def test_round_trip_with_pseudonymous_encrypted_entries(
    storage: RedisStorage, pseudonymizer: Pseudonymizer, cipher: TextCipher
) -> None:
    await storage.set_state(KEY, "survey:answering")
    await storage.set_data(KEY, DRAFT)
    assert await storage.get_state(KEY) == "survey:answering"
    assert await storage.get_data(KEY) == DRAFT

    keys = await our_keys(storage.redis, pseudonymizer)
    pseudonym = storage_key_pseudonym(pseudonymizer, KEY)
    assert keys == [f"qingfeng:fsm:{pseudonym}:data", f"qingfeng:fsm:{pseudonym}:state"]
    for key in keys:
        assert str(USER_ID) not in key and f"{USER_ID:x}" not in key
        ttl = await storage.redis.ttl(key)
        assert 0 < ttl <= TTL.total_seconds() + EXPIRY_GRANULARITY.total_seconds()

    raw = await storage.redis.get(keys[0])
    assert isinstance(raw, bytes)
    assert "县里".encode() not in raw and b"draft" not in raw
    blob = base64.b64decode(raw)
    assert cipher.is_current(blob)


async def test_clear_deletes_every_key(storage: RedisStorage, pseudonymizer: Pseudonymizer) -> None:
    await storage.set_state(KEY, "survey:answering")
    await storage.set_data(KEY, DRAFT)
    await storage.set_state(KEY, None)
    await storage.set_data(KEY, {})
    assert await our_keys(storage.redis, pseudonymizer) == []
    assert await storage.get_data(KEY) == {}


async def test_a_different_secret_sees_nothing(
    storage: RedisStorage, redis_url: str, cipher: TextCipher
) -> None:
    await storage.set_data(KEY, DRAFT)
    stranger = pseudonymous_redis_storage(
        redis_url, Pseudonymizer(secrets.token_bytes(32)), cipher, TTL
    )
    try:
        assert await stranger.get_data(KEY) == {}
    finally:
        await stranger.close()


async def test_a_draft_under_a_retired_key_reads_as_expired(
    storage: RedisStorage, redis_url: str, pseudonymizer: Pseudonymizer
) -> None:
    await storage.set_data(KEY, DRAFT)
    # DATA_KEY rotated and the previous key removed before the draft expired.
    rotated = pseudonymous_redis_storage(
        redis_url, pseudonymizer, TextCipher(secrets.token_bytes(32)), TTL
    )
    try:
        assert await rotated.get_data(KEY) == {}  # the cadre starts again; no error
        assert await rotated.update_data(KEY, {"msg": 3}) == {"msg": 3}
    finally:
        await rotated.close()


async def test_every_key_expires_on_a_quarter_hour(
    storage: RedisStorage, pseudonymizer: Pseudonymizer
) -> None:
    """Like the SQL expiries: the expiry is now + TTL rounded up to 15 minutes, so it does
    not say to the second when the draft was last touched."""
    before = time.time()
    await storage.set_state(KEY, "survey:answering")
    await storage.set_data(KEY, DRAFT)
    await storage.update_data(KEY, {"msg": 4})
    keys = await our_keys(storage.redis, pseudonymizer)
    assert len(keys) == 2
    for key in keys:
        expires = await storage.redis.pexpiretime(key)  # Redis 7: absolute, in milliseconds
        assert expires % (EXPIRY_GRANULARITY.total_seconds() * 1000) == 0, key
        assert expires / 1000 >= before + TTL.total_seconds()
        assert expires / 1000 < time.time() + TTL.total_seconds() + 900


async def test_a_draft_copied_under_another_key_reads_as_none(
    storage: RedisStorage,
    pseudonymizer: Pseudonymizer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The value is bound to its own Redis key: one cadre's draft copied under another
    cadre's key is not read as theirs (it reads as no draft, and the log names the place)."""
    other = StorageKey(bot_id=KEY.bot_id, chat_id=USER_ID + 1, user_id=USER_ID + 1)
    await storage.set_data(KEY, DRAFT)
    await storage.set_data(other, {"draft": {"answers": {"story": "另一份"}}})
    source = storage.key_builder.build(KEY, "data")
    target = storage.key_builder.build(other, "data")
    try:
        copied = await storage.redis.get(source)
        assert copied is not None
        await storage.redis.set(target, copied, ex=60)
        with caplog.at_level(logging.WARNING, logger="storage.fsm"):
            assert await storage.get_data(other) == {}
        assert "redis.fsm.data" in caplog.text
        assert storage_key_pseudonym(pseudonymizer, other) not in caplog.text
        assert await storage.get_data(KEY) == DRAFT  # the original still reads
    finally:
        await storage.redis.delete(target)
