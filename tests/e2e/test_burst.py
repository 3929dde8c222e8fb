"""A crowd of cadres opening the bot at once, with the emulator enforcing Telegram's flood limits.

Every one who answers must reach a receipt: no reply lost to a 429, no callback left unanswered,
and the bot queues its own messages under Telegram's ceiling rather than retrying into it. The
bot's pacing runs on the emulator's virtual clock (`OfflineBot(virtual_pacing=True)`), so the
crowd is held back by Telegram's time, not by the machine's speed. `make test` has a crowd
whose greetings alone are more than Telegram takes at once; `make load` sends 200 cadres
through the whole questionnaire.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from bot.harness.emulator import ChatMessage, EmulatedUser, Limits
from bot.harness.offline import OfflineBot
from bot.harness.simulation import WAIT, Behaviour, Cadre
from bot.middlewares.telegram_pacing import DEFAULT_BURST, DEFAULT_MESSAGES_PER_SECOND
from tests.e2e.conftest import StartOffline

# No background digest loop: the crowd is what is measured.
pytestmark = pytest.mark.usefixtures("manual_digests")

#: More greetings at one instant than Telegram takes at once (30).
CROWD = 45
#: Of the crowd, every COMPLETE-th cadre answers through to the receipt.
COMPLETE = 9
FULL_CROWD = 200
#: The most the bot's pacer lets through in one second: its burst, then its rate.
PACED_SECOND = DEFAULT_BURST + DEFAULT_MESSAGES_PER_SECOND


def _most_in_one_second(offline: OfflineBot) -> int:
    """The most new messages the emulator took in any one second of its clock (a hair less
    than a second: Unix times this large round to about 1e-7 s)."""
    times = sorted(c.at for c in offline.emulator.calls.of("sendMessage", status=200))
    most, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= 1.0 - 1e-6:
            first += 1
        most = max(most, last - first + 1)
    return most


async def _greeted(user: EmulatedUser) -> ChatMessage:
    sent = await user.send_command("/start")
    return await user.wait_for_message(after=sent, timeout=WAIT)


async def test_a_crowd_at_once_is_paced_under_the_ceiling_and_all_get_receipts(
    start_offline: StartOffline,
) -> None:
    # A simulated cadre answers as fast as the bot replies, far faster than a person types, so
    # Telegram's per-chat limit (one a second) would measure the machine: only it is relaxed.
    limits = Limits(private_chat_per_second=100, private_chat_burst=100)
    offline = await start_offline(limits=limits, virtual_pacing=True)
    assert offline.services is not None
    questionnaire = offline.services.questionnaire
    rng = random.Random(2024)
    users = [offline.new_user(user_id=600_000_000 + i) for i in range(CROWD)]
    cadres = [
        Cadre(
            user,
            questionnaire,
            random.Random(rng.random()),
            Behaviour.HURRIED if i % 2 else Behaviour.STRAIGHT,
        )
        for i, user in enumerate(users[::COMPLETE])
    ]
    readers = [user for i, user in enumerate(users) if i % COMPLETE]
    clock = offline.emulator.clock
    started = clock.elapsed()
    # Only a guard against a hang: the crowd's pace is measured on the emulator's clock.
    async with asyncio.timeout(120):
        results, _ = await asyncio.gather(
            asyncio.gather(*(cadre.run() for cadre in cadres)),
            asyncio.gather(*(_greeted(user) for user in readers)),
        )
    elapsed = clock.elapsed() - started

    assert all(r.receipt for r in results), "every cadre who answered reaches a receipt"
    assert len({r.receipt for r in results}) == len(cadres)
    assert await offline.services.submissions.count() == len(cadres)
    assert all(user.messages for user in users), "everyone was greeted"
    assert offline.emulator.unanswered_callbacks() == []
    sent = offline.emulator.calls.count("sendMessage", status=200)
    # The crowd wanted more than Telegram takes at once, and the bot pressed against the
    # ceiling (its pacer: 10 at once, then 28 a second) without ever going over it.
    assert sent > CROWD > Limits().global_burst
    assert DEFAULT_MESSAGES_PER_SECOND <= _most_in_one_second(offline) <= PACED_SECOND
    assert elapsed >= (sent - Limits().global_burst) / Limits().global_per_second
    assert offline.emulator.calls.count(status=429) == 0


@pytest.mark.load
@pytest.mark.timeout(900)
async def test_two_hundred_cadres_at_once_all_get_receipts(start_offline: StartOffline) -> None:
    offline = await start_offline(limits=Limits(), virtual_pacing=True)
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
        for i in range(FULL_CROWD)
    ]
    clock = offline.emulator.clock
    started = clock.elapsed()
    results = await asyncio.wait_for(asyncio.gather(*(c.run() for c in cadres)), timeout=800)
    elapsed = clock.elapsed() - started

    receipts = [r.receipt for r in results]
    assert all(receipts), "every cadre reaches a receipt"
    assert len(set(receipts)) == FULL_CROWD
    assert await offline.services.submissions.count() == FULL_CROWD
    assert offline.emulator.unanswered_callbacks() == []
    # Telegram's ceiling really was what held the crowd back (30 new messages a second)...
    sent = offline.emulator.calls.count("sendMessage", status=200)
    assert elapsed >= (sent - Limits().global_burst) / Limits().global_per_second
    assert _most_in_one_second(offline) <= PACED_SECOND
    # ...and the bot queued its replies under it instead of crashing into 429s (the real
    # per-chat limit may refuse a cadre who answers faster than anyone types).
    assert offline.emulator.calls.count(status=429) <= sent // 100
