"""Benchmark: the whole respondent stack against a bare aiogram echo handler.

N simulated respondents (default 1,000) go through the complete questionnaire (a grid's
rows one cell each), interleaved round-robin, by feeding real `Update` objects to the
Dispatcher. The Bot's session answers every Bot API call in memory (no network), so what is
measured is our code: middlewares, engine, rendering, the SQL FSM storage and the SQLite
writes of each submission; the harness's own time (choosing and building the next update)
is left out, and the stream is kept as JSON, not as Update objects. The very same update
stream is then replayed into a bare aiogram Dispatcher (echo handler, MemoryStorage).
Printed: updates per second of both, their ratio, p50/p99 handler latency, peak memory
(ours, before the replay); the last line is one JSON object. Targets at 1,000 respondents:
ratio ≥ 0.25 (goal 0.5), p99 ≤ 10 ms, peak RSS ≤ 300 MB. Both sides run in the same
process on the same machine, so the ratio holds on a loaded machine; absolute figures do not.

    python bench/conversation.py [--respondents 1000] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.enums import ParseMode
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import CallbackQuery, Message, Update
from pydantic import SecretStr, TypeAdapter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import add_request_middlewares, build_services, create_dispatcher
from bot.config import load_settings
from bot.questionnaire import Questionnaire
from bot.respondent.callbacks import Act, SurveyCallback
from bot.startup_heap import freeze_startup_heap

TOKEN = "42:BENCHMARKTOKEN"
TARGET_RATIO = 0.25
GOAL_RATIO = 0.5
BOT_USER = {"id": 42, "is_bot": True, "first_name": "清风", "username": "qingfeng_bot"}


class MemorySession(BaseSession):
    """Answers Bot API calls in memory, remembering the last keyboard per chat."""

    def __init__(self) -> None:
        super().__init__()
        self.next_id: dict[int, int] = {}
        self.keyboards: dict[int, tuple[int, list[str]]] = {}
        self.calls = 0
        self.adapters: dict[str, TypeAdapter[Any]] = {}

    async def close(self) -> None:
        return None

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,  # noqa: ASYNC109 - aiogram's signature
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        yield b""

    def _message(self, chat_id: int, message_id: int, params: dict[str, Any]) -> dict[str, Any]:
        markup = params.get("reply_markup")
        if markup is not None and hasattr(markup, "inline_keyboard"):
            data = [b.callback_data or "" for row in markup.inline_keyboard for b in row]
            self.keyboards[chat_id] = (message_id, data)
        return {
            "message_id": message_id,
            "date": 0,
            "chat": {"id": chat_id, "type": "private"},
            "from": BOT_USER,
            "text": str(params.get("text") or "…"),
        }

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - aiogram's signature
    ) -> TelegramType:
        self.calls += 1
        name = method.__api_method__
        params = dict(method)
        if name in ("sendMessage", "sendPhoto", "sendDocument"):
            chat_id = int(params["chat_id"])
            self.next_id[chat_id] = self.next_id.get(chat_id, 1000) + 1
            raw: Any = self._message(chat_id, self.next_id[chat_id], params)
        elif name in ("editMessageText", "editMessageReplyMarkup"):
            chat_id = int(params["chat_id"] or 0)
            raw = self._message(chat_id, int(params["message_id"] or 0), params)
            if (
                params.get("reply_markup") is None
                and self.keyboards.get(chat_id, (0,))[0] == (params["message_id"])
            ):
                self.keyboards.pop(chat_id, None)
        elif name == "getMe":
            raw = BOT_USER | {
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        else:
            raw = True
        if raw is True:
            return True  # type: ignore[return-value]
        adapter = self.adapters.get(name)
        if adapter is None:
            adapter = self.adapters[name] = TypeAdapter(method.__returning__)
        return adapter.validate_python(raw, context={"bot": bot})  # type: ignore[no-any-return]


class Respondent:
    """Decides the next update from the keyboard the bot last showed in this chat."""

    def __init__(self, user_id: int, questionnaire: Questionnaire, rng: random.Random) -> None:
        self.user_id = user_id
        self.questionnaire = questionnaire
        self.rng = rng
        self.started = False
        self.done = False
        self.message_id = 0
        self.submitted = False
        self.cells_pressed: set[str] = set()  # grid rows ("grid.row") answered so far

    def _user(self) -> dict[str, Any]:
        return {"id": self.user_id, "is_bot": False, "first_name": "干部", "language_code": "zh"}

    def _message(self, update_id: int, text: str) -> Update:
        self.message_id += 1
        return Update.model_validate(
            {
                "update_id": update_id,
                "message": {
                    "message_id": self.message_id,
                    "date": 0,
                    "text": text,
                    "chat": {"id": self.user_id, "type": "private"},
                    "from": self._user(),
                    **(
                        {"entities": [{"type": "bot_command", "offset": 0, "length": len(text)}]}
                        if text.startswith("/")
                        else {}
                    ),
                },
            }
        )

    def _press(self, update_id: int, message_id: int, data: str) -> Update:
        return Update.model_validate(
            {
                "update_id": update_id,
                "callback_query": {
                    "id": f"{self.user_id}-{update_id}",
                    "chat_instance": "ci",
                    "data": data,
                    "from": self._user(),
                    "message": {
                        "message_id": message_id,
                        "date": 0,
                        "text": "…",
                        "chat": {"id": self.user_id, "type": "private"},
                        "from": BOT_USER,
                    },
                },
            }
        )

    def next_update(self, update_id: int, session: MemorySession) -> Update | None:
        if self.done:
            return None
        if not self.started:
            self.started = True
            return self._message(update_id, "/start")
        shown = session.keyboards.get(self.user_id)
        if shown is None:
            self.done = True
            return None
        message_id, buttons = shown
        parsed = [SurveyCallback.unpack(b) for b in buttons if b.startswith("s:")]
        if not parsed:  # the receipt's clear-chat button: finished
            self.done = True
            return None
        actions = {p.a for p in parsed}
        if Act.CONSENT in actions:
            data = next(p for p in parsed if p.a == Act.CONSENT)
            return self._press(update_id, message_id, data.pack())
        if Act.SUBMIT in actions:
            self.submitted = True
            return self._press(update_id, message_id, SurveyCallback(a=Act.SUBMIT).pack())
        cells = [p for p in parsed if p.a == Act.CELL]
        if cells:  # a grid: a cell in each row not answered yet, then Done
            open_rows = [p.q for p in cells if p.q not in self.cells_pressed]
            if open_rows:
                row = open_rows[0]
                self.cells_pressed.add(row)
                choice = self.rng.choice([p for p in cells if p.q == row])
                return self._press(update_id, message_id, choice.pack())
            done = next(p for p in parsed if p.a == Act.DONE)
            return self._press(update_id, message_id, done.pack())
        question = self.questionnaire.question(next(p.q for p in parsed if p.q))
        if question.type in ("single", "scale"):
            choice = self.rng.choice([p for p in parsed if p.a == Act.ANSWER])
            return self._press(update_id, message_id, choice.pack())
        if question.type == "multi":
            toggles = [p for p in parsed if p.a == Act.TOGGLE]
            if self.rng.random() < 0.5:
                return self._press(update_id, message_id, self.rng.choice(toggles).pack())
            return self._press(
                update_id, message_id, SurveyCallback(a=Act.DONE, q=question.id).pack()
            )
        if question.type == "number":
            return self._message(update_id, str(self.rng.randint(question.min or 0, 30)))
        return self._message(update_id, "每周开三个会传达同一个文件，电话 13800138000。")


async def run_ours(respondents: int, seed: int, data_dir: Path) -> tuple[list[str], dict[str, Any]]:
    settings = load_settings(data_dir=data_dir, bot_token=SecretStr(TOKEN))
    services = await build_services(settings)
    session = MemorySession()
    add_request_middlewares(session, pace=False)  # the app's, but no waiting for Telegram
    bot = Bot(TOKEN, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    dp = create_dispatcher(services)
    freeze_startup_heap()  # as `python -m bot run` does once it is serving
    rng = random.Random(seed)
    people = [
        Respondent(10_000_000 + i, services.questionnaire, random.Random(rng.random()))
        for i in range(respondents)
    ]
    # The stream is kept as JSON for the replay: 34,000 Update objects would hold ~400 MB,
    # the harness's memory, not ours. The harness's own time (deciding and building the next
    # update, keeping it) is left out of ours; the echo is fed updates built beforehand.
    fed: list[str] = []
    latencies: list[float] = []
    update_id = 0
    harness = 0.0
    started = time.perf_counter()
    active = people
    while active:
        still = []
        for person in active:
            mark = time.perf_counter()
            update = person.next_update(update_id + 1, session)
            if update is None:
                harness += time.perf_counter() - mark
                continue
            update_id += 1
            begin = time.perf_counter()
            harness += begin - mark
            await dp.feed_update(bot, update)
            done = time.perf_counter()
            latencies.append(done - begin)
            fed.append(update.model_dump_json(exclude_unset=True))
            still.append(person)
            harness += time.perf_counter() - done
        active = still
    await dp.storage.close()  # what the FSM storage holds behind is written, as at shutdown
    elapsed = time.perf_counter() - started - harness
    stored = await services.submissions.count()
    await services.close()
    return fed, {
        "updates": len(fed),
        "seconds": elapsed,
        "latencies": latencies,
        "submissions": stored,
        "respondents": respondents,
    }


async def run_echo(stream: list[str]) -> dict[str, Any]:
    updates = [Update.model_validate_json(raw) for raw in stream]
    router = Router()

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(message.text or "")

    @router.callback_query()
    async def pressed(query: CallbackQuery) -> None:
        await query.answer()

    dp = Dispatcher(storage=MemoryStorage())
    dp.include_router(router)
    session = MemorySession()
    bot = Bot(TOKEN, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    latencies = []
    started = time.perf_counter()
    for update in updates:
        begin = time.perf_counter()
        await dp.feed_update(bot, update)
        latencies.append(time.perf_counter() - begin)
    return {
        "updates": len(updates),
        "seconds": time.perf_counter() - started,
        "latencies": latencies,
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--respondents", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qingfeng-bench-") as tmp:
        updates, ours = await run_ours(args.respondents, args.seed, Path(tmp))
        ours_peak = peak_rss_mb()
        echo = await run_echo(updates)
    ours_rate = ours["updates"] / ours["seconds"]
    echo_rate = echo["updates"] / echo["seconds"]
    result = {
        "respondents": args.respondents,
        "submissions": ours["submissions"],
        "updates": ours["updates"],
        "qingfeng_updates_per_s": round(ours_rate, 1),
        "bare_aiogram_updates_per_s": round(echo_rate, 1),
        "ratio": round(ours_rate / echo_rate, 3),
        "target_ratio": TARGET_RATIO,
        "goal_ratio": GOAL_RATIO,
        "qingfeng_p50_ms": round(statistics.median(ours["latencies"]) * 1000, 3),
        "qingfeng_p99_ms": round(percentile(ours["latencies"], 0.99) * 1000, 3),
        "bare_p50_ms": round(statistics.median(echo["latencies"]) * 1000, 3),
        "bare_p99_ms": round(percentile(echo["latencies"], 0.99) * 1000, 3),
        "peak_rss_mb": round(ours_peak, 1),
    }
    print(
        f"respondents {args.respondents}, updates {ours['updates']}, "
        f"submissions stored {ours['submissions']}"
    )
    print(
        f"qingfeng      {ours_rate:9.1f} updates/s  p50 {result['qingfeng_p50_ms']} ms  "
        f"p99 {result['qingfeng_p99_ms']} ms"
    )
    print(
        f"bare aiogram  {echo_rate:9.1f} updates/s  p50 {result['bare_p50_ms']} ms  "
        f"p99 {result['bare_p99_ms']} ms"
    )
    print(
        f"ratio {result['ratio']} (target ≥ {TARGET_RATIO}, goal {GOAL_RATIO}), "
        f"peak RSS {result['peak_rss_mb']} MB"
    )
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())
