"""One chat's updates are handled one at a time across instances, however long one takes:
the chat's lock in Redis is renewed while its update is handled, and runs out only when the
instance holding it is gone."""

from __future__ import annotations

import asyncio
import secrets

from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
from redis.asyncio import Redis

from bot.webhook import OrderedRedisEventIsolation

LOCK_SECONDS = 1.0
#: Only guards against a hang.
HANG = 60.0


async def test_a_slow_update_keeps_its_chat_past_the_locks_lifetime(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    keys = DefaultKeyBuilder(prefix=f"qingfeng-test-{secrets.token_hex(6)}")
    first = OrderedRedisEventIsolation(redis, keys, lock_seconds=LOCK_SECONDS)
    second = OrderedRedisEventIsolation(redis, keys, lock_seconds=LOCK_SECONDS)
    key = StorageKey(bot_id=1, chat_id=2, user_id=2)
    events: list[str] = []
    holding = asyncio.Event()

    async def slow_update() -> None:
        async with first.lock(key):
            events.append("first starts")
            holding.set()
            await asyncio.sleep(3 * LOCK_SECONDS)  # three times the lock's own lifetime
            events.append("first ends")

    async def next_update() -> None:
        await holding.wait()
        async with second.lock(key):
            events.append("second starts")

    try:
        async with asyncio.timeout(HANG):
            await asyncio.gather(slow_update(), next_update())
        assert events == ["first starts", "first ends", "second starts"]
        assert await redis.exists(keys.build(key, "lock")) == 0, "released, not left to expire"
    finally:
        await redis.delete(keys.build(key, "lock"))
        await redis.aclose()


async def test_the_chat_of_an_instance_that_died_is_free_again(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    keys = DefaultKeyBuilder(prefix=f"qingfeng-test-{secrets.token_hex(6)}")
    key = StorageKey(bot_id=1, chat_id=3, user_id=3)
    # What a dead instance leaves: its lock, no longer renewed.
    await redis.set(keys.build(key, "lock"), "dead-instance", px=int(LOCK_SECONDS * 1000))
    survivor = OrderedRedisEventIsolation(redis, keys, lock_seconds=LOCK_SECONDS)
    handled = False
    try:
        async with asyncio.timeout(HANG), survivor.lock(key):
            handled = True
        assert handled
    finally:
        await redis.delete(keys.build(key, "lock"))
        await redis.aclose()
