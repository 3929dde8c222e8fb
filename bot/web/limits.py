"""Abuse limits that need no identity, kept in this process's memory only.

A session may act so many times a minute (a token bucket per session pseudonym). Optionally,
new sessions per client address per hour: the address is turned into an HMAC under a key
drawn at random each day and held only in memory, so the counts cannot be tied to an
address tomorrow, or by anyone reading the disk or the database today. Nothing here is
ever written anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date


@dataclass
class _Bucket:
    tokens: float
    at: float


class ActionRate:
    """At most `per_minute` actions a minute per key, with bursts up to a quarter of it."""

    def __init__(
        self, per_minute: int, *, now: Callable[[], float] = time.monotonic, size: int = 100_000
    ) -> None:
        self.per_minute = per_minute
        self.burst = max(5.0, per_minute / 4)
        self._now = now
        self._size = size
        self._buckets: dict[str, _Bucket] = {}

    def retry_after(self, key: str) -> float:
        """0 when `key` may act now (and it is counted), else seconds until it may."""
        now = self._now()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._size:
                self._evict(now)
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        rate = self.per_minute / 60.0
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate

    def _evict(self, now: float) -> None:
        """Drop the buckets that have refilled (they hold nothing a fresh one would not)."""
        full_after = self.burst / (self.per_minute / 60.0)
        for key in [k for k, b in self._buckets.items() if now - b.at >= full_after]:
            del self._buckets[key]
        if len(self._buckets) >= self._size:
            self._buckets.clear()


class AddressLimiter:
    """New sessions per address per clock hour; `per_hour` 0 turns it off."""

    def __init__(
        self,
        per_hour: int,
        *,
        today: Callable[[], date],
        now: Callable[[], float] = time.time,
    ) -> None:
        self.per_hour = per_hour
        self._today = today
        self._now = now
        self._day: date | None = None
        self._key = b""
        self._counts: dict[tuple[str, int], int] = {}

    def _hashed(self, address: str) -> str:
        day = self._today()
        if day != self._day:  # a new day: a new key, and yesterday's counts are gone
            self._day, self._key, self._counts = day, secrets.token_bytes(32), {}
        return hmac.new(self._key, address.encode(), hashlib.sha256).hexdigest()

    def allow(self, address: str | None) -> bool:
        """Count one new session for `address`; False when its hour is used up."""
        if self.per_hour <= 0 or not address:
            return True
        hour = int(self._now() // 3600)
        hashed = self._hashed(address)
        for stale in [k for k in self._counts if k[1] != hour]:
            del self._counts[stale]
        used = self._counts.get((hashed, hour), 0)
        if used >= self.per_hour:
            return False
        self._counts[(hashed, hour)] = used + 1
        return True
