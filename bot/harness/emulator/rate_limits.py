"""Telegram's flood limits as token buckets on the emulator clock.

Telegram documents roughly 30 messages per second across all chats (1000 per second with
``allow_paid_broadcast``), about one message per second in a private chat (short bursts are
tolerated) and 20 messages per minute in a group. Only requests that create messages count
(sendMessage, sendPhoto, sendDocument, copyMessage, forwardMessage). Edits have their own,
lenient, per-chat bucket that is off by default; answerCallbackQuery, deletions and chat
actions are never limited. A request refused with 429 consumes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from bot.harness.emulator.clock import VirtualClock
from bot.harness.emulator.errors import too_many_requests


@dataclass(frozen=True, slots=True)
class Limits:
    """Rates per second and bucket sizes; ``enabled=False`` turns every limit off."""

    enabled: bool = True
    global_per_second: float = 30.0
    global_burst: int = 30
    paid_broadcast_per_second: float = 1000.0
    paid_broadcast_burst: int = 1000
    private_chat_per_second: float = 1.0
    private_chat_burst: int = 4
    group_per_minute: float = 20.0
    group_burst: int = 20
    #: Edits per second in one chat; None means edits are not limited (the default).
    edits_per_chat_per_second: float | None = None
    edits_per_chat_burst: int = 20

    @classmethod
    def unlimited(cls) -> Limits:
        return cls(enabled=False)

    def scaled(self, factor: float) -> Limits:
        """Every rate multiplied by ``factor`` (bursts unchanged): fast tests, same shape."""
        if factor <= 0:
            raise ValueError("factor must be positive")
        return replace(
            self,
            global_per_second=self.global_per_second * factor,
            paid_broadcast_per_second=self.paid_broadcast_per_second * factor,
            private_chat_per_second=self.private_chat_per_second * factor,
            group_per_minute=self.group_per_minute * factor,
            edits_per_chat_per_second=(
                None
                if self.edits_per_chat_per_second is None
                else self.edits_per_chat_per_second * factor
            ),
        )


_EPSILON = 1e-9


class TokenBucket:
    """``capacity`` tokens, refilled continuously at ``rate`` per second."""

    __slots__ = ("capacity", "rate", "tokens", "updated")

    def __init__(self, rate: float, capacity: int, now: float) -> None:
        self.rate = rate
        self.capacity = float(max(1, capacity))
        self.tokens = self.capacity
        self.updated = now

    def wait_time(self, now: float) -> float:
        """Seconds until one token is available (0 if one is available now)."""
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
        if self.tokens >= 1.0 - _EPSILON:  # float drift from many small clock steps
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens = max(0.0, self.tokens - 1.0)


class RateLimiter:
    """One bot's buckets: global, paid broadcast, per chat, and per-chat edits."""

    def __init__(self, limits: Limits, clock: VirtualClock) -> None:
        self.limits = limits
        self.clock = clock
        now = clock.elapsed()
        self._global = TokenBucket(limits.global_per_second, limits.global_burst, now)
        self._paid = TokenBucket(limits.paid_broadcast_per_second, limits.paid_broadcast_burst, now)
        self._chats: dict[int, TokenBucket] = {}
        self._edits: dict[int, TokenBucket] = {}

    def _chat_bucket(self, chat_id: int, is_private: bool, now: float) -> TokenBucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            limits = self.limits
            if is_private:
                bucket = TokenBucket(limits.private_chat_per_second, limits.private_chat_burst, now)
            else:
                bucket = TokenBucket(limits.group_per_minute / 60.0, limits.group_burst, now)
            self._chats[chat_id] = bucket
        return bucket

    def acquire_message(self, chat_id: int, *, is_private: bool, paid: bool = False) -> None:
        """Count one new message to ``chat_id`` or raise 429 with Telegram's retry_after."""
        if not self.limits.enabled:
            return
        now = self.clock.elapsed()
        overall = self._paid if paid else self._global
        chat = self._chat_bucket(chat_id, is_private, now)
        wait = max(overall.wait_time(now), chat.wait_time(now))
        if wait > 0:
            raise too_many_requests(_retry_after(wait))
        overall.take()
        chat.take()

    def acquire_edit(self, chat_id: int) -> None:
        rate = self.limits.edits_per_chat_per_second
        if not self.limits.enabled or rate is None:
            return
        now = self.clock.elapsed()
        bucket = self._edits.get(chat_id)
        if bucket is None:
            bucket = TokenBucket(rate, self.limits.edits_per_chat_burst, now)
            self._edits[chat_id] = bucket
        wait = bucket.wait_time(now)
        if wait > 0:
            raise too_many_requests(_retry_after(wait))
        bucket.take()


def _retry_after(wait: float) -> int:
    """Whole seconds, rounded up, ignoring float noise (3.0000000000000004 -> 3)."""
    return max(1, math.ceil(wait - _EPSILON))
