"""200 cadres answering at once, with the emulator enforcing Telegram's real flood limits.

Every one must reach a receipt: no reply lost to a 429, no callback left unanswered, and the
bot queues its own messages under Telegram's ceiling rather than retrying into it.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from bot.harness.emulator import Limits
from bot.harness.simulation import Behaviour, Cadre
from tests.e2e.conftest import StartOffline

CADRES = 200


@pytest.mark.timeout(600)
async def test_two_hundred_cadres_at_once_all_get_receipts(start_offline: StartOffline) -> None:
    offline = await start_offline(limits=Limits())
    assert offline.services is not None
    questionnaire = offline.services.questionnaire
    rng = random.Random(2024)
    cadres = [
        Cadre(
            offline.new_user(user_id=600_000_000 + i),
            questionnaire,
            random.Random(rng.random()),
            Behaviour.HURRIED if i % 4 else Behaviour.STRAIGHT,
        )
        for i in range(CADRES)
    ]
    loop = asyncio.get_running_loop()
    started = loop.time()
    results = await asyncio.wait_for(asyncio.gather(*(c.run() for c in cadres)), timeout=500)
    elapsed = loop.time() - started

    receipts = [r.receipt for r in results]
    assert all(receipts), "every cadre reaches a receipt"
    assert len(set(receipts)) == CADRES
    assert await offline.services.submissions.count() == CADRES
    assert offline.emulator.unanswered_callbacks() == []
    # Telegram's ceiling really was what held the crowd back (30 new messages a second)...
    sent = offline.emulator.calls.count("sendMessage", status=200)
    assert elapsed >= (sent - Limits().global_burst) / Limits().global_per_second
    # ...and the bot queued its replies under it instead of crashing into 429s.
    assert offline.emulator.calls.count(status=429) <= sent // 100
