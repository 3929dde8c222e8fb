"""Rate limits: no robot ever sees more messages per window than it allows, and nothing is lost."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from bot.delivery.ratelimit import RATE_RULES, RateRule, SlidingWindowLimiter
from bot.delivery.sender import WebhookSender
from tests.delivery.conftest import FakeClock
from tests.delivery.fake_robots import FakeRobots
from tests.delivery.samples import make_digest, small_png


def busiest_window(times: Sequence[float], period: float) -> int:
    """The largest number of events in any half-open window [t, t + period)."""
    ordered = sorted(times)
    best = 0
    for start, first in enumerate(ordered):
        inside = sum(1 for t in ordered[start:] if t < first + period)
        best = max(best, inside)
    return best


async def test_limiter_waits_for_the_oldest_send_to_leave_the_window(clock: FakeClock) -> None:
    limiter = SlidingWindowLimiter(clock=clock.monotonic, sleep=clock.sleep)
    rule = RateRule(limit=20, period=60.0)
    start = clock.now
    times = []
    for _ in range(45):
        await limiter.acquire("robot-a", [rule])
        times.append(clock.now)

    assert busiest_window(times, 60.0) == 20
    assert times[:20] == [start] * 20  # a burst within the limit goes out at once
    assert times[20] == pytest.approx(start + 60.0)  # then exactly when room appears
    assert times[40] == pytest.approx(start + 120.0)


async def test_feishu_rules_hold_per_second_and_per_minute(clock: FakeClock) -> None:
    limiter = SlidingWindowLimiter(clock=clock.monotonic, sleep=clock.sleep)
    times = []
    for _ in range(260):
        await limiter.acquire("feishu-robot", RATE_RULES["feishu"])
        times.append(clock.now)

    assert busiest_window(times, 1.0) <= 5
    assert busiest_window(times, 60.0) <= 100
    # Waiting, not dropping: 260 sends need at least two full minute-windows.
    assert times[-1] - times[0] >= 120.0


async def test_destinations_do_not_hold_each_other_up(clock: FakeClock) -> None:
    limiter = SlidingWindowLimiter(clock=clock.monotonic, sleep=clock.sleep)
    rule = RateRule(limit=2, period=60.0)
    for _ in range(2):
        await limiter.acquire("robot-a", [rule])

    assert limiter.delay("robot-a", [rule]) == pytest.approx(60.0)
    assert limiter.delay("robot-b", [rule]) == 0.0
    await limiter.acquire("robot-b", [rule])
    assert clock.sleeps == []


@pytest.mark.parametrize(("kind", "lines"), [("wecom", 60), ("dingtalk", 250)])
async def test_robot_never_gets_more_than_20_messages_in_any_minute(
    kind: str, lines: int, robots: FakeRobots, sender: WebhookSender, clock: FakeClock
) -> None:
    target = robots.target(kind)
    results = [
        await sender.send(target, make_digest(lines, chart=small_png()), message_id=f"d-{n}")
        for n in range(25)
    ]

    assert all(result.ok for result in results), [r.detail for r in results if not r.ok]
    arrivals = [item.arrived_at for item in robots.of_kind(kind)]
    assert len(arrivals) == sum(result.total_parts for result in results) > 40
    assert busiest_window(arrivals, 60.0) <= 20
    assert clock.sleeps  # the sender did have to wait
    assert robots.rejected == []


async def test_concurrent_digests_to_one_robot_do_not_interleave(
    robots: FakeRobots, sender: WebhookSender
) -> None:
    target = robots.target("wecom")
    titles = [f"摘要{n}" for n in range(4)]
    results = await asyncio.gather(
        *(sender.send(target, make_digest(100, title=title), message_id=title) for title in titles)
    )

    assert all(result.ok for result in results)
    headings = [item.body["markdown"]["content"].split("\n")[0] for item in robots.received]
    digest_order = [heading.removeprefix("### ")[:3] for heading in headings]
    # Each digest's messages form one contiguous run, numbered 1..n.
    runs = [title for i, title in enumerate(digest_order) if i == 0 or title != digest_order[i - 1]]
    assert sorted(runs) == titles
    for title, result in zip(titles, results, strict=True):
        own = [h for h in headings if h.startswith(f"### {title}（")]
        assert own == [
            f"### {title}（{i}/{result.total_parts}）" for i in range(1, result.total_parts + 1)
        ]


def test_rate_rule_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RateRule(limit=0, period=60)
    with pytest.raises(ValueError):
        RateRule(limit=5, period=0)
