"""Telegram's ceiling is per bot: instances of one bot pace their new messages together,
through Redis, instead of each taking the whole rate for itself."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from redis.asyncio import Redis

from bot.harness.emulator import BotApiEmulator, Limits, VirtualClock
from bot.harness.virtual_pacing import VirtualTime
from bot.middlewares.telegram_pacing import MessagePacer, SharedMessageBudget
from bot.middlewares.telegram_retry import RetryMiddleware
from tests.fake_time import FakeTime

INSTANCES = 3
PER_INSTANCE = 30
#: Only guards against a hang; what is measured runs on the emulator's clock.
HANG = 60.0


async def _three_instances_greet_a_crowd(redis: Redis | None) -> tuple[int, float]:
    """Three instances of one bot greet 30 people each at once, on the emulator's frozen
    clock; with `redis`, their pacers share one budget. Returns (429s, Telegram seconds)."""
    clock = VirtualClock(frozen=True)
    virtual = VirtualTime(clock)
    bot_id = secrets.randbelow(10**12) + 10**12  # a key of this test's own
    async with BotApiEmulator(limits=Limits(), clock=clock) as emu:
        token = emu.create_bot()
        bots = []
        for _ in range(INSTANCES):
            session = AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url))
            session.middleware(RetryMiddleware(sleep=virtual.sleep))
            pacer = MessagePacer(clock=virtual.now, sleep=virtual.sleep)
            if redis is not None:
                pacer.share(SharedMessageBudget(redis, bot_id, clock=virtual.now))
            session.middleware(pacer)
            session.middleware(virtual.in_transit)
            bots.append(Bot(token, session=session))
        users = [emu.user(started=True) for _ in range(INSTANCES * PER_INSTANCE)]
        started = clock.elapsed()
        try:
            async with asyncio.timeout(HANG):
                await asyncio.gather(
                    *(bots[n % INSTANCES].send_message(u.id, "您好") for n, u in enumerate(users))
                )
        finally:
            for bot in bots:
                await bot.session.close()
            if redis is not None:
                await redis.delete(f"qingfeng:pace:{bot_id}")
        assert all(len(u.messages) == 1 for u in users), "everyone got exactly one greeting"
        return emu.calls.count(status=429), clock.elapsed() - started


async def test_instances_sharing_the_budget_stay_under_the_ceiling_together(
    redis_url: str,
) -> None:
    alone_429s, _ = await _three_instances_greet_a_crowd(None)
    assert alone_429s > 0, "each instance at the full rate: together they overrun it"
    redis = Redis.from_url(redis_url)
    try:
        shared_429s, seconds = await _three_instances_greet_a_crowd(redis)
    finally:
        await redis.aclose()
    assert shared_429s == 0
    # 10 at once, then 28 a second for the three of them together.
    assert seconds >= (INSTANCES * PER_INSTANCE - 10) / 28 - 1e-5  # clocks in µs


async def test_an_instance_paces_alone_when_redis_does_not_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeTime()
    pacer = MessagePacer(per_second=10, burst=3, clock=fake, sleep=fake.sleep)
    unreachable = Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.5)
    pacer.share(SharedMessageBudget(unreachable, 1))
    try:
        for _ in range(6):
            await pacer.acquire()
    finally:
        await unreachable.aclose()
    # Its own bucket: three at once, then one every tenth of a second.
    assert fake.now == pytest.approx(0.3)
    assert "pacing this instance alone" in caplog.text


def test_shared_budget_refuses_nonsense_settings() -> None:
    redis = Redis()
    with pytest.raises(ValueError):
        SharedMessageBudget(redis, 1, per_second=0)
    with pytest.raises(ValueError):
        SharedMessageBudget(redis, 1, burst=0)
