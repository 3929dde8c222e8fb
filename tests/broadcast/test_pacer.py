"""The pacer on a fake clock: even spacing, no saved-up bursts, one pause holds every slot."""

from __future__ import annotations

from bot.broadcast import Pacer
from tests.fake_time import FakeTime


async def test_slots_are_evenly_spaced_at_the_rate() -> None:
    fake = FakeTime()
    pacer = Pacer(25.0, clock=fake.clock, sleep=fake.sleep)
    starts = []
    for _ in range(100):
        assert await pacer.slot()
        starts.append(fake.now)
    assert abs((starts[-1] - starts[0]) - 99 / 25.0) < 1e-9


async def test_idle_time_is_not_saved_up_beyond_the_slack() -> None:
    fake = FakeTime()
    pacer = Pacer(10.0, clock=fake.clock, sleep=fake.sleep)
    await pacer.slot()
    fake.now += 60.0  # a minute idle
    starts = []
    for _ in range(30):
        await pacer.slot()
        starts.append(fake.now)
    burst = sum(1 for t in starts if t == starts[0])
    assert burst <= 11  # at most the slack's 10 slots (plus the current one) at once
    assert starts[-1] - starts[0] >= (30 - 11) / 10.0 - 1e-9


async def test_a_pause_holds_every_slot_and_interrupts_waiters() -> None:
    fake = FakeTime()
    pacer = Pacer(10.0, clock=fake.clock, sleep=fake.sleep)
    await pacer.slot()
    generation = pacer.pauses
    pacer.pause(5.0)
    assert await pacer.slot(generation) is False  # a window claimed before the pause gives up
    assert await pacer.slot() is True  # a new slot waits the pause out
    assert fake.now >= 5.0
