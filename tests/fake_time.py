"""A monotonic clock that moves only when somebody sleeps: pacers tested without waiting."""

from __future__ import annotations

import asyncio


class FakeTime:
    """Call it (or `clock`) for the time; `sleep` moves it on and yields once."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)
