"""Keep the bot's own new messages under Telegram's overall rate, first come first served.

Telegram allows about 30 new messages per second across all chats. When a crowd of cadres
arrives at once, letting every handler send and then retry on 429 makes them all retry
together: most wait a second, some lose the race again and again and wait far longer than
the 15 seconds a button press may stay unanswered. A single queue in front of the requests
that create messages keeps the bot just under the ceiling and serves replies in the order
they were made, so the slowest reply waits only for the ones queued before it.

Edits, callback answers, deletions and chat actions do not count towards the limit and pass
straight through, as do paid broadcasts (``allow_paid_broadcast``), which have their own
ceiling. The broadcast sender uses its own Bot and paces itself (see bot/broadcast/).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

from bot.clock import Monotonic

if TYPE_CHECKING:
    from aiogram import Bot

#: The Bot API methods that create a message, which is what Telegram's flood limit counts.
MESSAGE_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendMediaGroup",
        "sendAudio",
        "sendVoice",
        "sendVideo",
        "sendAnimation",
        "sendSticker",
        "sendLocation",
        "sendContact",
        "sendPoll",
        "copyMessage",
        "copyMessages",
        "forwardMessage",
        "forwardMessages",
    }
)
#: A little under Telegram's documented 30 per second, so clock jitter never tips it over.
DEFAULT_MESSAGES_PER_SECOND = 28.0
DEFAULT_BURST = 10
_EPSILON = 1e-9


class MessagePacer(BaseRequestMiddleware):
    """A FIFO token bucket in front of every request that creates a message."""

    def __init__(
        self,
        per_second: float = DEFAULT_MESSAGES_PER_SECOND,
        burst: int = DEFAULT_BURST,
        *,
        clock: Monotonic = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if per_second <= 0 or burst < 1:
            raise ValueError("per_second must be positive and burst at least 1")
        self.per_second = per_second
        self.burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._updated = clock()
        # asyncio.Lock wakes its waiters in the order they came: that is the queue.
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        if now > self._updated:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.per_second)
            self._updated = now

    async def acquire(self) -> None:
        """Wait for this request's turn and one token."""
        async with self._lock:
            self._refill()
            while self._tokens < 1.0 - _EPSILON:  # float drift must not spin forever
                await self._sleep((1.0 - self._tokens) / self.per_second)
                self._refill()
            self._tokens = max(0.0, self._tokens - 1.0)

    @staticmethod
    def counts(method: TelegramMethod[Any]) -> bool:
        """Whether Telegram's free flood limit counts this request."""
        if method.__api_method__ not in MESSAGE_METHODS:
            return False
        return not getattr(method, "allow_paid_broadcast", False)

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if self.counts(method):
            await self.acquire()
        return await make_request(bot, method)
