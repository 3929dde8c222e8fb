"""Retry spacing: exponential ceiling, capped, with full jitter."""

from __future__ import annotations

import math
import random

import pytest

from bot.delivery.backoff import backoff_delay


def samples(attempt: int, count: int = 2000, **kwargs: float) -> list[float]:
    rng = random.Random(attempt)
    return [backoff_delay(attempt, rng=rng, **kwargs) for _ in range(count)]


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 30.0), (2, 60.0), (4, 240.0), (7, 1920.0)])
def test_delays_spread_over_the_whole_exponential_range(attempt: int, ceiling: float) -> None:
    delays = samples(attempt)
    assert all(0.0 <= delay <= ceiling for delay in delays)
    assert max(delays) > 0.95 * ceiling  # full jitter reaches the ceiling...
    assert min(delays) < 0.05 * ceiling  # ...and the floor
    assert sum(delays) / len(delays) == pytest.approx(ceiling / 2, rel=0.1)


def test_ceiling_stops_at_the_cap_even_for_huge_attempt_counts() -> None:
    for attempt in (8, 50, 10_000):
        delays = samples(attempt, count=500, cap=3600.0)
        assert all(math.isfinite(d) and 0.0 <= d <= 3600.0 for d in delays)
        assert max(delays) > 3000.0


def test_same_seed_gives_the_same_schedule() -> None:
    first = [backoff_delay(n, rng=random.Random(7)) for n in range(1, 10)]
    again = [backoff_delay(n, rng=random.Random(7)) for n in range(1, 10)]
    assert first == again


@pytest.mark.parametrize(
    "kwargs", [{"attempt": 0}, {"attempt": 1, "base": 0}, {"attempt": 1, "cap": -1}]
)
def test_invalid_arguments_are_rejected(kwargs: dict[str, float]) -> None:
    attempt = int(kwargs.pop("attempt"))
    with pytest.raises(ValueError):
        backoff_delay(attempt, rng=random.Random(1), **kwargs)
