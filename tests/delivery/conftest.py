"""Fixtures for delivery tests: a fake clock, the fake robots, and a sender wired to both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from bot.delivery.sender import WebhookSender
from tests.delivery.fake_robots import FakeRobots

# Robots' signature windows are checked against this wall-clock time (Unix seconds).
WALL_CLOCK_START = 1_760_000_000.0


class FakeClock:
    """Monotonic and wall time that move only when someone sleeps.

    Concurrent sleepers wake no earlier than they asked (possibly later), which is all the
    rate-limit tests rely on.
    """

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return WALL_CLOCK_START + (self.now - 1000.0)

    def wall_time(self) -> datetime:
        """`wall` as the aware datetime a `bot.clock.WallClock` returns."""
        return datetime.fromtimestamp(self.wall(), UTC)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        wake = self.now + seconds
        await asyncio.sleep(0)
        self.now = max(self.now, wake)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def robots(clock: FakeClock) -> AsyncIterator[FakeRobots]:
    fake = FakeRobots(wall_clock=clock.wall, arrival_clock=clock.monotonic)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def sender(http_client: httpx.AsyncClient, clock: FakeClock) -> WebhookSender:
    return WebhookSender(
        http_client,
        clock=clock.monotonic,
        sleep=clock.sleep,
        wall_clock=clock.wall_time,
        request_timeout=2.0,
    )
