"""Telegram's ceiling on virtual time: the bot's own waits move the emulator's clock forward
instead of sleeping, so traffic that takes Telegram minutes runs as fast as the machine can.

The pacers (the app's `MessagePacer`, the broadcast `Pacer`) and `RetryMiddleware` take a clock
and a sleep. Here both are the emulator's frozen `VirtualClock`: a pacer reads the same time as
the emulator's token buckets, and "sleep for s" becomes "move the clock on by s". Nothing else
moves the clock, and it moves only once every message the pacer let through has reached the
emulator, so the emulator counts each message at the virtual instant it was granted: what it
sees is the pacer's own schedule, exactly, however slowly a loaded machine delivers requests.
A pacer that ran too fast would meet 429s here as it would on Telegram; one that keeps to the
rate never does, on any machine.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

from bot.harness.emulator.clock import VirtualClock
from bot.middlewares.telegram_pacing import MESSAGE_METHODS, MessagePacer
from bot.middlewares.telegram_retry import RetryMiddleware

if TYPE_CHECKING:
    from aiogram import Bot


class InTransit(BaseRequestMiddleware):
    """The innermost request middleware: counts messages on their way to the emulator."""

    def __init__(self) -> None:
        self.count = 0
        self._empty = asyncio.Event()
        self._empty.set()

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if method.__api_method__ not in MESSAGE_METHODS:
            return await make_request(bot, method)
        self.count += 1
        self._empty.clear()
        try:
            return await make_request(bot, method)
        finally:
            self.count -= 1
            if self.count == 0:
                self._empty.set()

    async def drained(self) -> None:
        """Return once no message is between a pacer and the emulator."""
        # A request handed to a task that has not started yet is not counted: let it start.
        await asyncio.sleep(0)
        while self.count:
            await self._empty.wait()


class VirtualTime:
    """A clock and a sleep for pacers, both on the emulator's `VirtualClock`."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.in_transit = InTransit()

    def now(self) -> float:
        """Monotonic seconds (the clock's `elapsed`), the unit pacers count in."""
        return self.clock.elapsed()

    async def sleep(self, seconds: float) -> None:
        """Move the clock to `seconds` from now, once every granted message has arrived.

        Sleepers waiting at once share the time rather than adding it up: each only moves the
        clock as far as its own wake-up, if it is not there already.
        """
        wake_at = self.clock.elapsed() + max(0.0, seconds)
        await self.in_transit.drained()
        behind = wake_at - self.clock.elapsed()
        if behind > 0:
            self.clock.advance(behind)
        await asyncio.sleep(0)

    def pace(self, bot: Bot) -> None:
        """Put `bot`'s message pacer and retries on this clock (as `create_bot` built them).

        The request middlewares keep their order; the pacer and the retry stay the app's own
        classes with their own settings, only their clock and sleep change.
        """
        manager = bot.session.middleware
        chain = list(manager)
        for middleware in chain:
            manager.unregister(middleware)
        for middleware in chain:
            if isinstance(middleware, MessagePacer):
                middleware = MessagePacer(
                    middleware.per_second,
                    int(middleware.burst),
                    clock=self.now,
                    sleep=self.sleep,
                )
            elif isinstance(middleware, RetryMiddleware):
                middleware = RetryMiddleware(
                    max_retry_after_waits=middleware.max_retry_after_waits,
                    max_transient_retries=middleware.max_transient_retries,
                    base_delay=middleware.base_delay,
                    max_delay=middleware.max_delay,
                    sleep=self.sleep,
                )
            manager.register(middleware)
        manager.register(self.in_transit)
