"""The emulator's notion of "now", which tests can move forward."""

from __future__ import annotations

import time


class VirtualClock:
    """Unix time as the emulator sees it: wall time plus an offset, or frozen.

    Message dates, the 48-hour deletion window, callback-query expiry and the rate-limit token
    buckets all read this clock, so a test can ``advance(48 * 3600)`` instead of waiting. A
    frozen clock only moves when advanced, which makes rate-limit tests exact.
    """

    def __init__(self, *, start: float | None = None, frozen: bool = False) -> None:
        self._frozen = frozen
        self._origin = time.time() if start is None else start
        self._offset = 0.0
        self._started_at = time.monotonic()

    @property
    def frozen(self) -> bool:
        return self._frozen

    def time(self) -> float:
        return self._origin + self.elapsed()

    def elapsed(self) -> float:
        """Seconds since the clock was created (advances included).

        Small numbers keep full float precision, which token buckets need: at Unix-time
        magnitude a 0.1 s step is only accurate to about 1e-7.
        """
        if self._frozen:
            return self._offset
        return (time.monotonic() - self._started_at) + self._offset

    def now(self) -> int:
        """Whole seconds, the resolution of Bot API dates."""
        return int(self.time())

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds
