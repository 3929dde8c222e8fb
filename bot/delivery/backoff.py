"""When to try a failed delivery again.

Exponential backoff with "full jitter" (delay drawn uniformly between 0 and the exponential
ceiling): many digests that failed together — a robot down for an hour — then come back
spread out instead of in one burst that trips the robot's rate limit again.
"""

from __future__ import annotations

import random

# 2**60 times any sensible base is far beyond any cap; clamping keeps the float finite.
_MAX_EXPONENT = 60


def backoff_delay(
    attempt: int, *, base: float = 30.0, cap: float = 3600.0, rng: random.Random
) -> float:
    """Seconds to wait after the `attempt`-th failed try (1 for the first failure).

    Uniform in [0, min(cap, base * 2 ** (attempt - 1))]. Pass the robot's own hint (a
    `DeliveryResult.retry_after`) as a floor separately: jitter must not undercut it.
    """
    if attempt < 1:
        raise ValueError("attempt counts failed tries and starts at 1")
    if base <= 0 or cap <= 0:
        raise ValueError("base and cap must be positive")
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, _MAX_EXPONENT))
    return rng.uniform(0.0, ceiling)
