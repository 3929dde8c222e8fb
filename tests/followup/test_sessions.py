"""The follow-up session store: idle timeout by an injectable clock, deletion on drop and on
restart, and on Redis a value that is encrypted, bound to its own key and given a short TTL."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiogram.fsm.storage.base import StorageKey
from redis.asyncio import Redis

from bot.anonymity.crypto import TextCipher
from bot.anonymity.pseudonym import Pseudonymizer
from bot.cases.sessions import (
    IDLE_TIMEOUT,
    FollowupSession,
    MemorySessions,
    RedisSessions,
    Step,
)

KEY = StorageKey(bot_id=1, chat_id=424_242, user_id=424_242)
OTHER = StorageKey(bot_id=1, chat_id=515_151, user_id=515_151)
HASH = "ab" * 32
OPEN = FollowupSession(Step.READING, 17, HASH)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def _pseudonymizer() -> Pseudonymizer:
    return Pseudonymizer(secrets.token_bytes(32))


async def test_memory_sessions_expire_when_idle_and_go_on_drop() -> None:
    clock = Clock()
    store = MemorySessions(_pseudonymizer(), clock=clock)
    await store.put(KEY, OPEN)
    await store.put(OTHER, FollowupSession(Step.CODE, 3))
    clock.advance(IDLE_TIMEOUT - timedelta(seconds=1))
    assert await store.get(KEY) == OPEN
    await store.put(KEY, OPEN)  # a step keeps the session alive
    clock.advance(timedelta(seconds=2))
    assert await store.get(KEY) == OPEN
    assert len(store) == 1  # OTHER was abandoned: any access sweeps it out
    assert await store.get(OTHER) is None
    await store.drop(KEY)
    assert len(store) == 0 and await store.get(KEY) is None


async def test_an_abandoned_memory_session_is_swept_without_any_access() -> None:
    clock = Clock()
    store = MemorySessions(_pseudonymizer(), clock=clock)
    await store.put(KEY, OPEN)
    clock.advance(IDLE_TIMEOUT)
    assert await store.sweep() == 1 and len(store) == 0


def test_the_idle_timeout_cannot_exceed_ten_minutes() -> None:
    with pytest.raises(ValueError):
        MemorySessions(_pseudonymizer(), idle_timeout=timedelta(minutes=11))


def test_sessions_round_trip_through_json() -> None:
    for session in (OPEN, FollowupSession(Step.CODE, 5), FollowupSession(Step.WRITING, 9, HASH)):
        assert FollowupSession.from_json(session.to_json()) == session


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[tuple[Redis, str]]:
    client = Redis.from_url(redis_url)
    prefix = f"qingfeng:test-followup:{secrets.token_hex(6)}"
    try:
        yield client, prefix
    finally:
        async for name in client.scan_iter(match=f"{prefix}:*"):
            await client.delete(name)
        await client.aclose()


async def test_redis_sessions_are_encrypted_bound_to_their_key_and_expire(
    redis: tuple[Redis, str],
) -> None:
    client, prefix = redis
    clock = Clock()
    cipher = TextCipher(secrets.token_bytes(32))
    pseudonymizer = _pseudonymizer()
    store = RedisSessions(client, pseudonymizer, cipher, clock=clock, prefix=prefix)
    await store.put(KEY, OPEN)
    await store.put(OTHER, FollowupSession(Step.READING, 4, "cd" * 32))
    name = store.redis_key(KEY)
    raw = await client.get(name)
    assert raw is not None and HASH.encode() not in raw and b"reading" not in raw
    assert str(KEY.user_id) not in name and name.startswith(f"{prefix}:{store.epoch}:")
    assert 0 < await client.ttl(name) <= IDLE_TIMEOUT.total_seconds()
    assert await store.get(KEY) == OPEN

    # A value copied under another key does not decrypt: it reads as no session.
    await client.set(store.redis_key(OTHER), raw)
    assert await store.get(OTHER) is None

    # Idle by the store's own clock: swept before Redis's TTL runs out.
    clock.advance(IDLE_TIMEOUT)
    assert await store.sweep() == 1
    assert await client.exists(name) == 0
    await store.put(KEY, OPEN)
    await store.drop(KEY)
    assert await client.exists(name) == 0


async def test_a_restart_deletes_the_redis_sessions_of_the_old_process(
    redis: tuple[Redis, str], redis_url: str
) -> None:
    client, prefix = redis
    cipher = TextCipher(secrets.token_bytes(32))
    pseudonymizer = _pseudonymizer()
    old = RedisSessions(Redis.from_url(redis_url), pseudonymizer, cipher, prefix=prefix)
    await old.start()
    await old.put(KEY, OPEN)
    # The old process dies without closing (a crash): its key is still there.
    assert await client.exists(old.redis_key(KEY)) == 1
    new = RedisSessions(Redis.from_url(redis_url), pseudonymizer, cipher, prefix=prefix)
    assert new.epoch != old.epoch
    await new.start()
    assert await client.exists(old.redis_key(KEY)) == 0
    assert await new.get(KEY) is None  # the cadre types the code again
    await new.put(KEY, OPEN)
    await new.close()  # a clean stop deletes its own sessions
    assert [name async for name in client.scan_iter(match=f"{prefix}:*")] == []
    await old.close()
