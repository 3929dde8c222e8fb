"""The two kinds of clock the bot reads, each with one name.

* `WallClock` tells the time of day (aware UTC): when a lease runs out, which digest period
  it is, when an invite expires. Tests pass a settable one instead of `utc_now`.
* `Monotonic` measures intervals in seconds (`time.monotonic`): rate limits and pacing,
  which must not jump when the system clock is set.

The emulator's virtual Unix-time clock is a third thing and lives with the emulator
(`VirtualClock`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

WallClock = Callable[[], datetime]
Monotonic = Callable[[], float]


def utc_now() -> datetime:
    """The current time, aware, in UTC (the default `WallClock`)."""
    return datetime.now(UTC)
