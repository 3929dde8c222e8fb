"""Keep the bot's own new messages under Telegram's overall rate, first come first served.

Telegram allows about 30 new messages per second across all chats. When a crowd of cadres
arrives at once, letting every handler send and then retry on 429 makes them all retry
together: most wait a second, some lose the race again and again and wait far longer than
the 15 seconds a button press may stay unanswered. A single queue in front of the requests
that create messages keeps the bot just under the ceiling and serves replies in the order
they were made, so the slowest reply waits only for the ones queued before it.

Telegram's ceiling is per bot, not per process: several instances of one bot (webhook mode)
share it through Redis (`SharedMessageBudget`, a GCRA schedule every instance reserves its
slots in), and each instance still serves its own requests in order. Should Redis not
answer, an instance falls back to its own bucket rather than stop replying.

Edits, callback answers, deletions and chat actions do not count towards the limit and pass
straight through, as do paid broadcasts (``allow_paid_broadcast``), which have their own
ceiling. The broadcast sender uses its own Bot and paces itself (see bot/broadcast/).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.clock import Monotonic

if TYPE_CHECKING:
    from aiogram import Bot

logger = logging.getLogger(__name__)

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

#: GCRA on Redis's own clock (the instances' clocks need not agree; ARGV[3], when given, is
#: the caller's clock instead): the key holds the theoretical arrival time of the next message
#: in microseconds; a reservation moves it one interval on and returns how long the caller
#: waits for its slot (0 within the burst).
_RESERVE_SCRIPT = """
local now
if ARGV[3] then
  now = tonumber(ARGV[3])
else
  local now_parts = redis.call('TIME')
  now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
end
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local next_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', next_tat),
           'PX', math.floor((next_tat - now) / 1000) + 1000)
local wait = next_tat - burst * interval - now
if wait < 0 then wait = 0 end
return wait
"""


class SharedMessageBudget:
    """One bot's message rate, shared by every instance through one Redis key.

    Each request reserves the next free slot of the schedule; what Redis answers is the wait
    until that slot, so the instances together stay under `per_second` with at most `burst`
    at once, and the requests of all of them are served in the order they reserved."""

    def __init__(
        self,
        redis: Redis,
        bot_id: int,
        per_second: float = DEFAULT_MESSAGES_PER_SECOND,
        burst: int = DEFAULT_BURST,
        *,
        clock: Monotonic | None = None,
    ) -> None:
        """`clock`: a common clock for every instance instead of Redis's (tests)."""
        if per_second <= 0 or burst < 1:
            raise ValueError("per_second must be positive and burst at least 1")
        self.key = f"qingfeng:pace:{bot_id}"
        self._clock = clock
        self._interval_us = math.ceil(1_000_000 / per_second)  # never above the rate
        self._burst = burst
        self._reserve = redis.register_script(_RESERVE_SCRIPT)

    async def reserve(self) -> float:
        """Seconds to wait before sending the message whose slot this reserved."""
        args = [self._interval_us, self._burst]
        if self._clock is not None:
            args.append(round(self._clock() * 1_000_000))
        wait_us = await self._reserve(keys=[self.key], args=args)
        return int(wait_us) / 1_000_000


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
        self.shared: SharedMessageBudget | None = None

    def share(self, budget: SharedMessageBudget) -> None:
        """Pace against the budget every instance of this bot shares from now on."""
        self.shared = budget

    def _refill(self) -> None:
        now = self._clock()
        if now > self._updated:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.per_second)
            self._updated = now

    async def acquire(self) -> None:
        """Wait for this request's turn and one token (or its slot in the shared budget)."""
        async with self._lock:
            if self.shared is not None:
                try:
                    wait = await self.shared.reserve()
                except (RedisError, OSError):
                    logger.warning("Shared message pacing unavailable; pacing this instance alone")
                else:
                    if wait > 0:
                        await self._sleep(wait)
                    return
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


def share_message_pacing(bot: Bot, budget: SharedMessageBudget) -> None:
    """Make the pacers in `bot`'s session use `budget` (the instances' common one)."""
    for middleware in bot.session.middleware:
        if isinstance(middleware, MessagePacer):
            middleware.share(budget)
