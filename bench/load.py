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
stuck: must be 0); the last line is one JSON object.

Each instance is its own process, configured through its environment as in production.
One instance (the default) is `python -m bot run`, polling. `--instances 3` (or `--webhook`
for one) starts that many `python -m bot run --webhook` on the same PostgreSQL and Redis, as
docs/DEPLOY.md describes, and the emulator pushes its updates to them round-robin, update by
update, so one cadre's taps land on different instances. The cadres and the emulator stay in
this process: on a small machine they compete with the instances for the cores, so the
figures are a floor, not a ceiling.

    python bench/load.py [--cadres 1000] [--pace-scale 1] [--arrival 60] [--instances 1|3]
                         [--webhook] [--database-url URL] [--redis-url URL] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import socket
import statistics
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import Services, build_fsm_storage, build_services
from bot.config import Settings, load_settings
from bot.harness.emulator import BotApiEmulator, Limits
from bot.harness.emulator.webhook_delivery import RoundRobinDelivery
from bot.harness.simulation import Behaviour, Cadre, CadreResult, behaviour_for
from bot.webhook import SeenInRedis

ROOT = Path(__file__).resolve().parents[1]
#: Seconds between a cadre's taps, and before a typed answer, at pace scale 1.
TAP_SECONDS = (3.0, 8.0)
TYPE_SECONDS = (20.0, 60.0)
POSTGRES_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/13"
FIRST_USER = 800_000_000
#: The public URL the instances register (the emulator pushes to their local ports instead).
WEBHOOK_URL = "https://survey.example.org/telegram/webhook"


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


def busiest_minute(emulator: BotApiEmulator) -> float:
    """New messages a second in the busiest minute (a wall-clock minute of the run)."""
    minutes = Counter(int(call.at // 60) for call in emulator.calls.of("sendMessage", status=200))
    return round(max(minutes.values(), default=0) / 60, 1)


def duplicate_messages(emulator: BotApiEmulator) -> int:
    """New messages identical to the one the bot sent just before in the same chat."""
    last: dict[Any, Any] = {}
    duplicates = 0
    for call in emulator.calls.of("sendMessage", status=200):
        chat = call.params.get("chat_id")
        sent = (call.params.get("text"), json.dumps(call.params.get("reply_markup"), default=str))
        if last.get(chat) == sent:
            duplicates += 1
        last[chat] = sent
    return duplicates


@dataclass
class Stage:
    """What the crowd runs against: the emulator, the services this process reads figures
    from, the FSM storage to clean up after, and the webhook delivery when there is one."""

    emulator: BotApiEmulator
    services: Services
    storage: BaseStorage
    delivery: RoundRobinDelivery | None = None
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    webhook = args.instances > 1 or args.webhook
    with tempfile.TemporaryDirectory() as tmp:
        async with scratch_database(args.database_url) as database_url:
            stage = bot_processes(Path(tmp), database_url, args.redis_url, args.instances, webhook)
            async with stage as running:
                return await crowd(running, args, rng)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def bot_processes(
    tmp: Path, database_url: str, redis_url: str, count: int, webhook: bool
) -> AsyncIterator[Stage]:
    """`count` instances, each its own process: in webhook mode fed round-robin, else the
    one instance polling (`python -m bot run`, the default for a single instance).

    This process migrates the database and makes the keys first (in DATA_DIR, shared as the
    instances of a deployment share their secrets), so the instances start on both."""
    emulator = BotApiEmulator(limits=Limits())
    await emulator.start()
    token = emulator.create_bot(username="qingfeng_bot", first_name="清风")
    settings = load_settings(
        bot_token=SecretStr(token),
        telegram_api_url=emulator.base_url,
        data_dir=tmp,
        database_url=database_url,
        fsm_storage="redis",
        redis_url=redis_url,
        webhook_url=WEBHOOK_URL if webhook else None,
    )
    services = await build_services(settings)
    storage = build_fsm_storage(services)
    stage = Stage(emulator, services, storage)
    try:
        if not webhook:
            stage.processes.append(await start_instance(settings, token, None, tmp, 0))
            await wait_until_polling(stage.processes[0], emulator, tmp / "instance-0.log")
            yield stage
            return
        targets = []
        for number in range(count):
            port = free_port()
            stage.processes.append(await start_instance(settings, token, port, tmp, number))
            await wait_until_ready(stage.processes[-1], port, tmp / f"instance-{number}.log")
            targets.append(f"http://127.0.0.1:{port}{settings.webhook_path}")
        if emulator.world.bot().webhook.url != WEBHOOK_URL:
            raise RuntimeError("no instance registered the webhook")
        stage.delivery = RoundRobinDelivery(emulator, targets)
        stage.delivery.start()
        yield stage
    finally:
        if stage.delivery is not None:
            await stage.delivery.stop()
        for process in stage.processes:
            if process.returncode is None:
                process.terminate()
        for process in stage.processes:
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
        await storage.close()
        await services.close()
        await emulator.stop()


async def start_instance(
    settings: Settings, token: str, port: int | None, tmp: Path, number: int
) -> asyncio.subprocess.Process:
    """`python -m bot run --webhook` on `port`, or `python -m bot run` polling without one,
    configured through its environment as in production."""
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BOT_TOKEN": token,
        "TELEGRAM_API_URL": settings.telegram_api_url,
        "DATA_DIR": str(tmp),
        "DATABASE_URL": str(settings.database_url),
        "FSM_STORAGE": "redis",
        "REDIS_URL": settings.redis_url,
        "LOG_LEVEL": "WARNING",
    }
    for name in ("WEBHOOK_URL", "WEB_HOST", "WEB_PORT"):
        environment.pop(name, None)
    if port is not None:
        environment.update(WEBHOOK_URL=WEBHOOK_URL, WEB_HOST="127.0.0.1", WEB_PORT=str(port))
    log = (tmp / f"instance-{number}.log").open("wb")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            *(["--webhook"] if port is not None else []),
            cwd=tmp,  # no .env of the checkout: only the environment above
            env=environment,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    finally:
        log.close()


async def wait_until_polling(
    process: asyncio.subprocess.Process, emulator: BotApiEmulator, log: Path
) -> None:
    """Until the instance asks for updates the first time (its start-up is done by then)."""
    updates = emulator.world.bot().updates
    for _ in range(1200):
        if process.returncode is not None:
            raise RuntimeError(f"the instance stopped at start:\n{tail(log)}")
        if updates.newest_poll > 0:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the instance did not poll within 120 s:\n{tail(log)}")


def peak_rss_mb(pid: int) -> int:
    """A running process's peak resident memory (Linux's VmHWM), 0 when unknown."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    return 0


def tail(log: Path) -> str:
    """The end of an instance's log, for an error that says why it did not start."""
    return log.read_text(errors="replace")[-2000:]


async def wait_until_ready(process: asyncio.subprocess.Process, port: int, log: Path) -> None:
    """Until the instance's /readyz says its database and Redis answer."""
    async with aiohttp.ClientSession() as http:
        for _ in range(1200):
            if process.returncode is not None:
                raise RuntimeError(f"an instance stopped at start:\n{tail(log)}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"an instance was not ready after 120 s:\n{tail(log)}")


async def forget_run(stage: Stage, cadres: list[Cadre]) -> None:
    """Delete what the run left in the shared Redis: drafts of cadres who did not finish
    and the update ids the instances claimed (the next run's emulator counts from the same
    first id)."""
    bot_id = stage.emulator.world.bot().id
    for cadre in cadres:
        key = StorageKey(bot_id=bot_id, chat_id=cadre.user.id, user_id=cadre.user.id)
        await stage.storage.set_state(key, None)
        await stage.storage.set_data(key, {})
    if stage.delivery is not None and isinstance(stage.storage, RedisStorage):
        seen = SeenInRedis(stage.storage.redis)
        for update_id in stage.emulator.world.bot().updates.issued:
            await seen.release(update_id)


async def crowd(stage: Stage, args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    emulator = stage.emulator
    submissions_before = await stage.services.submissions.count()
    cadres = [
        Cadre(
            emulator.user(user_id=FIRST_USER + i, first_name=f"干部{i}"),
            stage.services.questionnaire,
            random.Random(rng.random()),
            behaviour_for(i),
            pause=human_pause(random.Random(rng.random()), args.pace_scale),
        )
        for i in range(args.cadres)
    ]
    arrival = args.arrival * args.pace_scale
    started = time.monotonic()
    try:
        outcomes = await asyncio.gather(*(run_cadre(c, rng.uniform(0, arrival)) for c in cadres))
        seconds = time.monotonic() - started
        # Answers still on their way (a deadline's, a closing one) get Telegram's 15 s to land.
        for _ in range(150):
            if not emulator.unanswered_callbacks():
                break
            await asyncio.sleep(0.1)
        submitted = await stage.services.submissions.count() - submissions_before
    finally:
        await forget_run(stage, cadres)

    results = [o for o in outcomes if isinstance(o, CadreResult)]
    stuck = [o for o in outcomes if not isinstance(o, CadreResult)]
    for failure in stuck[:1]:  # the first stuck cadre's story (its transcript), on stderr
        print("".join(traceback.format_exception(failure))[-8000:], file=sys.stderr)
    queries = [q for c in cadres for q in c.user.chat.callback_queries]
    latencies = sorted(q.answer.answered_at - q.created_at for q in queries if q.answer is not None)
    refused = emulator.calls.of("answerCallbackQuery", status=400)
    answered_ids = {q.id for q in queries if q.answer is not None}
    second_answers = sum(
        1 for c in refused if str(c.params.get("callback_query_id")) in answered_ids
    )
    receipts = [r.receipt for r in results if r.receipt]
    expected = sum(1 for c in cadres if c.behaviour is not Behaviour.CANCELLING)
    delivered = stage.delivery.delivered if stage.delivery is not None else []
    spread = Counter(target for _, target in delivered)
    figures: dict[str, Any] = {
        "cadres": args.cadres,
        "instances": len(stage.processes),
        "mode": "webhook" if stage.delivery is not None else "polling",
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
        # What Telegram's overall ceiling (about 30 a second) counts: it paces the replies.
        "new_messages": len(emulator.calls.of("sendMessage", status=200)),
        "busiest_minute_messages_per_s": busiest_minute(emulator),
        "duplicate_answers": second_answers,
        "duplicate_messages": duplicate_messages(emulator),
        "duplicate_submissions": max(0, submitted - len(set(receipts))),
        "refused_too_late": len(refused) - second_answers,
        "lost_presses": len(queries) - len(latencies),
        "stuck_cadres": len(stuck),
        "stuck_reasons": sorted({type(s).__name__ for s in stuck}),
        "stuck_examples": [str(s).splitlines()[0][:200] for s in stuck[:3]],
        "screens_changed_under_a_finger": sum(r.looked_again for r in results),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "updates_per_instance": sorted(spread.values(), reverse=True),
        "webhook_retries": stage.delivery.failures if stage.delivery is not None else 0,
        "instances_alive_at_end": sum(1 for p in stage.processes if p.returncode is None),
        "instance_peak_rss_mb": [peak_rss_mb(p.pid) for p in stage.processes],
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
    parser.add_argument(
        "--webhook", action="store_true", help="one instance too by webhook, in its own process"
    )
    parser.add_argument("--database-url", default=None, help="default: a scratch PostgreSQL DB")
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.pace_scale <= 0 or args.cadres < 1:
        parser.error("--pace-scale must be positive and --cadres at least 1")
    figures = asyncio.run(bench(args))
    print(
        f"{figures['cadres']} cadres, {figures['instances']} instance(s) by {figures['mode']}, "
        f"pace ×{figures['pace_scale']}, {figures['seconds']} s"
    )
    if figures["mode"] == "webhook":
        print(
            f"updates per instance: {figures['updates_per_instance']}  "
            f"webhook retries: {figures['webhook_retries']}  "
            f"instances alive at the end: {figures['instances_alive_at_end']}"
        )
    print(
        f"presses answered: {figures['presses_answered']}/{figures['presses']}  "
        f"p50 {figures['answer_p50_s']} s  p99 {figures['answer_p99_s']} s  "
        f"max {figures['answer_max_s']} s  (请稍候: {figures['please_wait_answers']})"
    )
    print(
        f"receipts reached: {figures['receipts']}/{figures['receipts_expected']}  "
        f"429s: {figures['http_429']}  new messages: {figures['new_messages']} "
        f"({figures['busiest_minute_messages_per_s']}/s in the busiest minute)"
    )
    print(
        f"duplicates: {figures['duplicates']} (second answers {figures['duplicate_answers']}, "
        f"messages {figures['duplicate_messages']}, "
        f"submissions {figures['duplicate_submissions']})"
    )
    print(
        f"lost: {figures['lost']} (presses never answered {figures['lost_presses']}, "
        f"cadres stuck {figures['stuck_cadres']})  "
        f"screens that changed under a finger: {figures['screens_changed_under_a_finger']}"
    )
    print(
        f"peak RSS: instances {figures['instance_peak_rss_mb']} MB, "
        f"this process (cadres, emulator) {figures['peak_rss_mb']} MB"
    )
    print(json.dumps(figures, ensure_ascii=False))
    return 0 if figures["duplicates"] == 0 and figures["lost"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
