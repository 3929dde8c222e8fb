"""Benchmark: the web channel's HTTP API against a bare aiohttp JSON echo server.

Sessions walk the whole questionnaire through the real app's web channel (the app's services,
FSM storage and web channel, built as `python -m bot web` builds them, on SQLite in a
temporary folder) over real HTTP on 127.0.0.1: start, consent, every question (choices,
multi-choice, a grid's cells row by row or "the rest: …", a typed number, typed text with a
phone number for the scrubber), submit, and the receipt. The proof of work is solved
before the clock starts, at a tiny difficulty, so the figures are actions (`/api/act`), not
hashing. Two phases, each with N fresh sessions (default 200):

* concurrent: all N sessions at once, each sending its next action as soon as the answer to
  the previous one arrives (`--in-flight` caps the requests at a time; default N). This
  gives actions per second and the ratio to the echo (target ≥ 0.2). Its latencies are
  mostly queueing: with every session waiting on the server, latency ≈ N / throughput.
* one at a time: N sessions interleaved round-robin, one request in flight (as
  bench/conversation.py feeds one update at a time): the latency of one action, p50/p99
  (target p99 ≤ 25 ms).

The very same requests of each phase are then sent, with the same client and the same
concurrency, to a bare aiohttp server that echoes the JSON body. Printed: actions per
second of both, the ratio, p50/p99 latency, peak memory; the last line is one JSON object.

    python bench/web.py [--sessions 200] [--in-flight N] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import Services, build_fsm_storage, build_services, build_web_channel
from bot.config import load_settings
from bot.web.proof_of_work import solve

SESSION_HEADER = "X-Qingfeng-Session"
#: The smallest difficulty: sessions open in microseconds, the bench times actions only.
POW_MAX_NUMBER = 10
#: Far above any walk, so no action is refused as too fast (the limit is not measured).
ACTIONS_PER_MINUTE = 10_000
TARGET_RATIO = 0.2
TARGET_P99_MS = 25.0
TEXTS = (
    "每周开三个会传达同一个文件，有事打电话 13800138000。",
    "一项工作要填五张表，数据都一样，只是格式不同。",
    "检查组来之前一天才通知，只能连夜补材料、拍照留痕。",
)

Post = Callable[[str, dict[str, Any], dict[str, str]], Awaitable[tuple[int, Any]]]


def client(http: aiohttp.ClientSession, base: str) -> Post:
    """One JSON POST as the page sends it; returns the status and the parsed answer."""

    async def post(path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        async with http.post(base + path, json=body, headers=headers) as response:
            return response.status, await response.json()

    return post


@dataclass
class Walker:
    """One tab: decides its next action from what the server showed it."""

    token: str
    rng: random.Random
    seq: int = 0
    screens: dict[int, dict[str, Any]] = field(default_factory=dict)
    receipt: bool = False
    toggled: int = 0

    def apply(self, ops: list[dict[str, Any]]) -> None:
        for op in ops:
            kind = op["op"]
            if kind in ("show", "replace"):
                self.screens[op["ref"]] = op["screen"]
            elif kind == "retire" and op["ref"] in self.screens:
                self.screens[op["ref"]] = {**self.screens[op["ref"]], "grid": [], "rows": []}
            elif kind == "delete":
                self.screens.pop(op["ref"], None)
            elif kind == "clear":
                self.screens.clear()

    def _current(self) -> tuple[int, dict[str, Any]] | None:
        for ref in sorted(self.screens, reverse=True):
            if self.screens[ref]["rows"]:
                return ref, self.screens[ref]
        return None

    def next_event(self) -> dict[str, Any] | None:
        """The next action a straight-through cadre takes; None when finished."""
        if self.seq == 0:
            return {"type": "start"}
        shown = self._current()
        if shown is None:
            return None
        ref, screen = shown
        grid: list[dict[str, Any]] = screen.get("grid") or []
        options = [option for row in screen["rows"] for option in row]
        by_act: dict[str, list[dict[str, Any]]] = {}
        for option in options:
            by_act.setdefault(option["action"]["a"], []).append(option)

        def press(option: dict[str, Any]) -> dict[str, Any]:
            return {"type": "press", "action": option["action"], "ref": ref}

        if "rcpt" in by_act:  # the receipt: noted down, take it off the page; then done
            self.receipt = True
            return press(by_act["rcpt"][0])
        if self.receipt:
            return None
        for act in ("go", "sub"):
            if act in by_act:
                return press(by_act[act][0])
        if grid:
            return press(self._grid_option(grid, by_act))
        if "ans" in by_act:
            return press(self.rng.choice(by_act["ans"]))
        if "tog" in by_act:
            if self.toggled < 2 and self.rng.random() < 0.7:
                self.toggled += 1
                return press(self.rng.choice(by_act["tog"]))
            self.toggled = 0
            return press(by_act["done"][0])
        typed = screen.get("input")
        if typed is not None and typed["kind"] == "number":
            return {"type": "text", "body": str(self.rng.randint(0, 30))}
        if typed is not None:
            return {"type": "text", "body": self.rng.choice(TEXTS)}
        raise RuntimeError(f"no way on from a screen with {sorted(by_act)}")

    def _grid_option(
        self, grid: list[dict[str, Any]], by_act: dict[str, list[dict[str, Any]]]
    ) -> dict[str, Any]:
        """A grid: now and then "the rest: …" while rows are open, else a cell of each open
        required row, then of some optional rows; Done once no required row is open."""
        unanswered = [line for line in grid if not line["answered"]]
        required = [line for line in unanswered if line["required"]]
        if unanswered and "fill" in by_act and self.rng.random() < 0.3:
            return by_act["fill"][0]
        if required:
            return dict(self.rng.choice(required[0]["options"]))
        if unanswered and self.rng.random() < 0.7:
            return dict(self.rng.choice(unanswered[0]["options"]))
        return by_act["done"][0]

    def body(self, event: dict[str, Any]) -> dict[str, Any]:
        self.seq += 1
        return {"seq": self.seq, "event": event}


@dataclass
class Run:
    actions: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    #: Every request in the order it was sent: (session token, body).
    order: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.actions / self.seconds

    def ms(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)


async def timed(post: Post, token: str, body: dict[str, Any], run: Run) -> Any:
    run.order.append((token, body))
    begin = time.perf_counter()
    status, answer = await post("/api/act", body, {SESSION_HEADER: token})
    run.latencies.append(time.perf_counter() - begin)
    run.actions += 1
    if status != 200:
        raise RuntimeError(f"action refused: {status} {answer}")
    return answer


async def open_sessions(post: Post, sessions: int, rng: random.Random) -> list[Walker]:
    """Challenge, solve, session: before the clock starts."""
    walkers = []
    for _ in range(sessions):
        _status, issued = await post("/api/challenge", {}, {})
        body = {"pow": solve(issued["challenge"]), "locale": "zh-CN", "campaign": None}
        status, created = await post("/api/session", body, {})
        if status != 201:
            raise RuntimeError(f"session refused: {status} {created}")
        walkers.append(Walker(created["token"], random.Random(rng.random())))
    return walkers


async def walk_concurrently(post: Post, walkers: list[Walker], in_flight: int) -> Run:
    gate = asyncio.Semaphore(in_flight)
    run = Run()

    async def walk(walker: Walker) -> None:
        while (event := walker.next_event()) is not None:
            async with gate:
                answer = await timed(post, walker.token, walker.body(event), run)
            walker.apply(answer["ops"])

    started = time.perf_counter()
    await asyncio.gather(*(walk(w) for w in walkers))
    run.seconds = time.perf_counter() - started
    return run


async def walk_in_turn(post: Post, walkers: list[Walker]) -> Run:
    """Round-robin: each session's next action in turn, one request at a time."""
    run = Run()
    active = walkers
    started = time.perf_counter()
    while active:
        still = []
        for walker in active:
            event = walker.next_event()
            if event is None:
                continue
            answer = await timed(post, walker.token, walker.body(event), run)
            walker.apply(answer["ops"])
            still.append(walker)
        active = still
    run.seconds = time.perf_counter() - started
    return run


async def start_app(data_dir: Path) -> tuple[Services, int, Callable[[], Awaitable[None]]]:
    """The app's web channel as `python -m bot web` builds it, on a free port."""
    settings = load_settings(
        data_dir=data_dir,
        web_pow_max_number=POW_MAX_NUMBER,
        web_session_actions_per_minute=ACTIONS_PER_MINUTE,
    )
    services = await build_services(settings)
    storage = build_fsm_storage(services)
    features = (services.campaigns, services.respondent, services.cases, services.conversation)
    for feature in features:
        await feature.on_startup()
    channel = build_web_channel(services, storage)
    port = await channel.serve("127.0.0.1", 0)

    async def stop() -> None:
        await channel.stop()
        for feature in reversed(features):
            await feature.on_shutdown()
        await storage.close()
        await services.close()

    return services, port, stop


@dataclass
class WebRuns:
    concurrent: Run
    in_turn: Run
    walkers: list[Walker]
    submissions: int


async def run_web(sessions: int, in_flight: int, seed: int, data_dir: Path) -> WebRuns:
    services, port, stop = await start_app(data_dir)
    rng = random.Random(seed)
    try:
        connector = aiohttp.TCPConnector(limit=in_flight)
        async with aiohttp.ClientSession(connector=connector) as http:
            post = client(http, f"http://127.0.0.1:{port}")
            crowd = await open_sessions(post, sessions, rng)
            concurrent = await walk_concurrently(post, crowd, in_flight)
            queue = await open_sessions(post, sessions, rng)
            in_turn = await walk_in_turn(post, queue)
        submissions = await services.submissions.count()
    finally:
        await stop()
    return WebRuns(concurrent, in_turn, crowd + queue, submissions)


async def echo_server() -> tuple[web.AppRunner, int]:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response(await request.json())

    app = web.Application()
    app.router.add_post("/api/act", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, int(runner.addresses[0][1])


async def replay(post: Post, order: list[tuple[str, dict[str, Any]]], in_flight: int) -> Run:
    """The same requests, each session's in its order, `in_flight` at a time at most."""
    sessions: dict[str, list[dict[str, Any]]] = {}
    for token, body in order:
        sessions.setdefault(token, []).append(body)
    gate = asyncio.Semaphore(in_flight)
    run = Run()

    async def send(token: str, bodies: list[dict[str, Any]]) -> None:
        for body in bodies:
            async with gate:
                await timed(post, token, body, run)

    started = time.perf_counter()
    if in_flight == 1:
        for token, body in order:  # the very order the web run sent them in
            await timed(post, token, body, run)
    else:
        await asyncio.gather(*(send(t, b) for t, b in sessions.items()))
    run.seconds = time.perf_counter() - started
    return run


async def run_echo(runs: WebRuns, in_flight: int) -> tuple[Run, Run]:
    runner, port = await echo_server()
    try:
        connector = aiohttp.TCPConnector(limit=in_flight)
        async with aiohttp.ClientSession(connector=connector) as http:
            post = client(http, f"http://127.0.0.1:{port}")
            concurrent = await replay(post, runs.concurrent.order, in_flight)
            in_turn = await replay(post, runs.in_turn.order, 1)
    finally:
        await runner.cleanup()
    return concurrent, in_turn


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument(
        "--in-flight",
        type=int,
        default=None,
        help="concurrent phase: requests at a time at most (default: --sessions)",
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    in_flight = args.in_flight or args.sessions
    with tempfile.TemporaryDirectory(prefix="qingfeng-bench-web-") as tmp:
        runs = await run_web(args.sessions, in_flight, args.seed, Path(tmp))
    peak = peak_rss_mb()
    echo, echo_in_turn = await run_echo(runs, in_flight)
    ours, in_turn = runs.concurrent, runs.in_turn
    ratio = ours.rate / echo.rate
    p99 = in_turn.ms(0.99)
    result = {
        "sessions": args.sessions,
        "in_flight": in_flight,
        "actions": ours.actions,
        "receipts": sum(1 for w in runs.walkers if w.receipt),
        "submissions": runs.submissions,
        "pow_max_number": POW_MAX_NUMBER,
        "web_actions_per_s": round(ours.rate, 1),
        "echo_actions_per_s": round(echo.rate, 1),
        "ratio": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "ratio_met": ratio >= TARGET_RATIO,
        "web_p50_ms": in_turn.ms(0.5),
        "web_p99_ms": p99,
        "target_p99_ms": TARGET_P99_MS,
        "p99_met": p99 <= TARGET_P99_MS,
        "echo_p50_ms": echo_in_turn.ms(0.5),
        "echo_p99_ms": echo_in_turn.ms(0.99),
        "web_concurrent_p50_ms": ours.ms(0.5),
        "web_concurrent_p99_ms": ours.ms(0.99),
        "echo_concurrent_p50_ms": echo.ms(0.5),
        "echo_concurrent_p99_ms": echo.ms(0.99),
        "web_in_turn_actions_per_s": round(in_turn.rate, 1),
        "echo_in_turn_actions_per_s": round(echo_in_turn.rate, 1),
        "peak_rss_mb": round(peak, 1),
    }
    print(
        f"{args.sessions} sessions per phase; proof of work solved before the clock "
        f"(maxNumber {POW_MAX_NUMBER}): only /api/act is timed"
    )
    print(
        f"receipts {result['receipts']} of {2 * args.sessions} sessions, "
        f"submissions stored {runs.submissions}"
    )
    print(f"all {args.sessions} sessions at once ({in_flight} requests in flight at most):")
    print(
        f"  web channel  {ours.rate:8.1f} actions/s  p50 {ours.ms(0.5)} ms  "
        f"p99 {ours.ms(0.99)} ms  ({ours.actions} actions)"
    )
    print(
        f"  bare echo    {echo.rate:8.1f} actions/s  p50 {echo.ms(0.5)} ms  p99 {echo.ms(0.99)} ms"
    )
    print("one action at a time, sessions in turn:")
    print(
        f"  web channel  {in_turn.rate:8.1f} actions/s  p50 {in_turn.ms(0.5)} ms  "
        f"p99 {p99} ms  ({in_turn.actions} actions)"
    )
    print(
        f"  bare echo    {echo_in_turn.rate:8.1f} actions/s  p50 {echo_in_turn.ms(0.5)} ms  "
        f"p99 {echo_in_turn.ms(0.99)} ms"
    )
    print(
        f"ratio {result['ratio']} (target ≥ {TARGET_RATIO}: {verdict(result['ratio_met'])}); "
        f"p99 of one action {p99} ms (target ≤ {TARGET_P99_MS} ms: "
        f"{verdict(result['p99_met'])}); peak RSS {result['peak_rss_mb']} MB"
    )
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())
