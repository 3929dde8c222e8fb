"""Benchmark: a crowd of cadres at a human pace through the emulator, Telegram's limits on.

N simulated cadres (default 1,000; `bot.harness.simulation.Cadre`, the usual mix of
behaviours) arrive over `--arrival` seconds after an announcement and answer the whole
questionnaire as people do: a tap every 3–8 s, a typed answer every 20–60 s (`--pace-scale`
shrinks every wait, for a quick run). The emulator enforces Telegram's limits (`Limits()`:
30 new messages a second overall, about one a second per chat, 15 s to answer a press, a
second answer refused). The bot is the real app, polling, on PostgreSQL with its FSM in Redis
(FSM_STORAGE=redis); by default on a scratch database created for the run and dropped after.

Printed: presses answered and their p50/p99 latency (press to answerCallbackQuery, on the
emulator's clock), receipts reached, 429s received, duplicates (second answers, duplicate
messages, duplicate submissions: all must be 0) and lost (presses never answered, cadres
stuck: must be 0); the last line is one JSON object. Everything runs in this one process
(cadres, emulator, bot), so on a small machine the figures are a floor, not a ceiling.

    python bench/load.py [--cadres 1000] [--pace-scale 1] [--arrival 60] [--instances 1]
                         [--database-url URL] [--redis-url URL] [--seed 1]

`--instances 3` needs the multi-instance harness (bot/harness/cluster.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.harness.emulator import Limits
from bot.harness.offline import OfflineBot
from bot.harness.simulation import Behaviour, Cadre, CadreResult, behaviour_for

#: Seconds between a cadre's taps, and before a typed answer, at pace scale 1.
TAP_SECONDS = (3.0, 8.0)
TYPE_SECONDS = (20.0, 60.0)
POSTGRES_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/13"
FIRST_USER = 800_000_000


def human_pause(rng: random.Random, scale: float) -> Callable[[str], Awaitable[None]]:
    """A person's pace: reading and tapping, or thinking and typing."""

    async def pause(kind: str) -> None:
        low, high = TYPE_SECONDS if kind == "type" else TAP_SECONDS
        await asyncio.sleep(rng.uniform(low, high) * scale)

    return pause


@contextlib.asynccontextmanager
async def scratch_database(url: str | None) -> AsyncIterator[str]:
    """The database to run on: URL as given, or a fresh PostgreSQL database dropped after."""
    if url is not None:
        yield url
        return
    name = f"qingfeng_load_{int(time.time())}"
    server = create_async_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    try:
        async with server.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(POSTGRES_SERVER).set(database=name).render_as_string(hide_password=False)
    finally:
        async with server.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await server.dispose()


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]


async def run_cadre(cadre: Cadre, delay: float) -> CadreResult | BaseException:
    """One cadre, arriving after `delay` s; a cadre who gets stuck is returned as the error."""
    await asyncio.sleep(delay)
    try:
        return await cadre.run()
    except Exception as exc:  # a stuck cadre is a figure here, not a crash
        return exc


def duplicate_messages(offline: OfflineBot) -> int:
    """New messages identical to the one the bot sent just before in the same chat."""
    last: dict[Any, Any] = {}
    duplicates = 0
    for call in offline.emulator.calls.of("sendMessage", status=200):
        chat = call.params.get("chat_id")
        sent = (call.params.get("text"), json.dumps(call.params.get("reply_markup"), default=str))
        if last.get(chat) == sent:
            duplicates += 1
        last[chat] = sent
    return duplicates


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        async with scratch_database(args.database_url) as database_url:
            offline = await OfflineBot.start(
                Path(tmp),
                limits=Limits(),
                database_url=database_url,
                fsm_storage="redis",
                redis_url=args.redis_url,
            )
            try:
                return await crowd(offline, args, rng)
            finally:
                await offline.close()


async def crowd(
    offline: OfflineBot, args: argparse.Namespace, rng: random.Random
) -> dict[str, Any]:
    assert offline.services is not None
    submissions_before = await offline.services.submissions.count()
    cadres = [
        Cadre(
            offline.new_user(user_id=FIRST_USER + i),
            offline.services.questionnaire,
            random.Random(rng.random()),
            behaviour_for(i),
            pause=human_pause(random.Random(rng.random()), args.pace_scale),
        )
        for i in range(args.cadres)
    ]
    arrival = args.arrival * args.pace_scale
    started = time.monotonic()
    outcomes = await asyncio.gather(*(run_cadre(c, rng.uniform(0, arrival)) for c in cadres))
    seconds = time.monotonic() - started
    emulator = offline.emulator
    # Answers still on their way (a deadline's, a closing one) get Telegram's 15 s to land.
    for _ in range(150):
        if not emulator.unanswered_callbacks():
            break
        await asyncio.sleep(0.1)

    results = [o for o in outcomes if isinstance(o, CadreResult)]
    stuck = [o for o in outcomes if not isinstance(o, CadreResult)]
    queries = [q for c in cadres for q in c.user.chat.callback_queries]
    latencies = sorted(q.answer.answered_at - q.created_at for q in queries if q.answer is not None)
    refused = emulator.calls.of("answerCallbackQuery", status=400)
    answered_ids = {q.id for q in queries if q.answer is not None}
    second_answers = sum(
        1 for c in refused if str(c.params.get("callback_query_id")) in answered_ids
    )
    receipts = [r.receipt for r in results if r.receipt]
    expected = sum(1 for c in cadres if c.behaviour is not Behaviour.CANCELLING)
    submitted = await offline.services.submissions.count() - submissions_before
    figures: dict[str, Any] = {
        "cadres": args.cadres,
        "instances": 1,
        "pace_scale": args.pace_scale,
        "seconds": round(seconds, 1),
        "presses": len(queries),
        "presses_answered": len(latencies),
        "answer_p50_s": round(percentile(latencies, 0.50), 3),
        "answer_p99_s": round(percentile(latencies, 0.99), 3),
        "answer_max_s": round(latencies[-1], 3) if latencies else 0.0,
        "please_wait_answers": sum(
            1 for q in queries if q.answer is not None and q.answer.text == "请稍候"
        ),
        "receipts": len(receipts),
        "receipts_expected": expected,
        "submissions": submitted,
        "http_429": emulator.calls.count(status=429),
        "duplicate_answers": second_answers,
        "duplicate_messages": duplicate_messages(offline),
        "duplicate_submissions": max(0, submitted - len(set(receipts))),
        "refused_too_late": len(refused) - second_answers,
        "lost_presses": len(queries) - len(latencies),
        "stuck_cadres": len(stuck),
        "stuck_reasons": sorted({type(s).__name__ for s in stuck}),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    figures["duplicates"] = (
        figures["duplicate_answers"]
        + figures["duplicate_messages"]
        + figures["duplicate_submissions"]
    )
    figures["lost"] = figures["lost_presses"] + figures["stuck_cadres"]
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cadres", type=int, default=1000)
    parser.add_argument("--pace-scale", type=float, default=1.0, help="multiplies every wait")
    parser.add_argument(
        "--arrival", type=float, default=60.0, help="seconds over which cadres arrive"
    )
    parser.add_argument("--instances", type=int, choices=(1, 3), default=1)
    parser.add_argument("--database-url", default=None, help="default: a scratch PostgreSQL DB")
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.pace_scale <= 0 or args.cadres < 1:
        parser.error("--pace-scale must be positive and --cadres at least 1")
    if args.instances == 3:
        if importlib.util.find_spec("bot.harness.cluster") is None:
            print("3 instances need the multi-instance harness (bot/harness/cluster.py)")
            return 2
        print("3 instances: the cluster harness exists but is not wired into bench/load.py yet")
        return 2
    figures = asyncio.run(bench(args))
    print(
        f"{figures['cadres']} cadres, 1 instance, pace ×{figures['pace_scale']}, "
        f"{figures['seconds']} s"
    )
    print(
        f"presses answered: {figures['presses_answered']}/{figures['presses']}  "
        f"p50 {figures['answer_p50_s']} s  p99 {figures['answer_p99_s']} s  "
        f"max {figures['answer_max_s']} s  (请稍候: {figures['please_wait_answers']})"
    )
    print(
        f"receipts reached: {figures['receipts']}/{figures['receipts_expected']}  "
        f"429s: {figures['http_429']}"
    )
    print(
        f"duplicates: {figures['duplicates']} (second answers {figures['duplicate_answers']}, "
        f"messages {figures['duplicate_messages']}, "
        f"submissions {figures['duplicate_submissions']})"
    )
    print(
        f"lost: {figures['lost']} (presses never answered {figures['lost_presses']}, "
        f"cadres stuck {figures['stuck_cadres']})  peak RSS {figures['peak_rss_mb']} MB"
    )
    print(json.dumps(figures, ensure_ascii=False))
    return 0 if figures["duplicates"] == 0 and figures["lost"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
