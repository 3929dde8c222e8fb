"""Per-robot rate limits that make the sender wait instead of being throttled.

Group robots count messages per robot URL (WeCom and DingTalk: 20 a minute, and DingTalk then
blocks the robot for ten minutes; Feishu: 100 a minute and 5 a second). A throttled message is
a failed message, so we never send one the robot would refuse: before each send the limiter
waits until every window has room. It is a sliding-window log, exact rather than approximate:
no window of `period` seconds ever holds more than `limit` sends.

The robot counts arrivals and the network can bunch our requests together, so each window
here is a little longer than the documented one.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from bot.clock import Monotonic

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RateRule:
    """At most `limit` sends in any `period` seconds."""

    limit: int
    period: float

    def __post_init__(self) -> None:
        if self.limit < 1 or self.period <= 0:
            raise ValueError("a rate rule needs a positive limit and period")


# Documented limits, each window stretched by 5% for network jitter.
_MARGIN: Final = 1.05
RATE_RULES: Final[Mapping[str, tuple[RateRule, ...]]] = {
    "wecom": (RateRule(limit=20, period=60 * _MARGIN),),
    "dingtalk": (RateRule(limit=20, period=60 * _MARGIN),),
    "feishu": (RateRule(limit=100, period=60 * _MARGIN), RateRule(limit=5, period=1 * _MARGIN)),
    "generic": (),
}


class SlidingWindowLimiter:
    """Sliding-window limits keyed by destination; `acquire` waits for room, then records a send.

    Waiters on one destination are served in arrival order (an `asyncio.Lock` is FIFO), and
    destinations do not hold each other up. The clock and sleep are injectable so tests can run
    hours of traffic in milliseconds.
    """

    def __init__(self, *, clock: Monotonic = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._sent: dict[str, deque[float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def delay(self, key: str, rules: Sequence[RateRule]) -> float:
        """Seconds until one more send to `key` would respect every rule (0 if it would now)."""
        sent = self._sent.get(key)
        if not sent:
            return 0.0
        now = self._clock()
        wait = 0.0
        for rule in rules:
            if len(sent) >= rule.limit:
                # The send `limit` places back must have left the window.
                wait = max(wait, sent[-rule.limit] + rule.period - now)
        return wait

    async def acquire(self, key: str, rules: Sequence[RateRule]) -> None:
        """Wait until a send to `key` fits all `rules`, then count it as sent now."""
        if not rules:
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            while (wait := self.delay(key, rules)) > 0:
                await self._sleep(wait)
            longest = max(rule.limit for rule in rules)
            sent = self._sent.get(key)
            if sent is None or sent.maxlen != longest:
                sent = self._sent[key] = deque(sent or (), maxlen=longest)
            sent.append(self._clock())
