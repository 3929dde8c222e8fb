"""Under overload every button press is answered exactly once, in time, and no work is lost.

The emulator refuses a second answer to the same press, and any answer after Telegram's 15 s,
with Telegram's 400: its call log is the witness. Deadlines are short real-time timers held
against handlers that wait on events, so what is asserted never depends on the machine's speed.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, DefaultKeyBuilder, StorageKey
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.methods import AnswerCallbackQuery
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from redis.asyncio import Redis

from bot.harness.emulator import BotApiEmulator, EmulatedUser, Limits
from bot.i18n import make_i18n
from bot.middlewares.callback_deadline import (
    CallbackAnswerDeadline,
    LateCallbackAnswers,
    please_wait,
)
from bot.middlewares.concurrency import ConcurrentUpdates
from bot.middlewares.telegram_pacing import MessagePacer
from bot.middlewares.telegram_retry import RetryMiddleware
from bot.middlewares.update_chain import install_update_middlewares
from bot.webhook import OrderedRedisEventIsolation

#: Only guards against a hang.
HANG = 60.0
#: A deadline far shorter than the waits the handlers below are held in.
SHORT = 0.2

MARKUP = InlineKeyboardMarkup(
    inline_keyboard=[[InlineKeyboardButton(text="记下", callback_data="note")]]
)


@pytest.fixture(autouse=True)
def catalogues() -> None:
    make_i18n()  # compiles the catalogues "请稍候" comes from


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(limits=Limits()) as emu:
        yield emu


def _answers_per_query(emu: BotApiEmulator) -> dict[str, list[int]]:
    """Every answerCallbackQuery the emulator saw, by query id: the HTTP statuses."""
    seen: dict[str, list[int]] = {}
    for call in emu.calls.of("answerCallbackQuery"):
        seen.setdefault(str(call.params["callback_query_id"]), []).append(call.status)
    return seen


def _session(emu: BotApiEmulator, pacer: MessagePacer | None = None) -> AiohttpSession:
    """The app's request middlewares, in the app's order."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url))
    session.middleware(LateCallbackAnswers())
    session.middleware(RetryMiddleware())
    session.middleware(pacer or MessagePacer())
    return session


async def test_racing_answers_reach_telegram_once(emulator: BotApiEmulator) -> None:
    token = emulator.create_bot()
    user = emulator.user(user_id=71, started=True)
    async with Bot(token, session=_session(emulator)) as bot:
        sent = await bot.send_message(user.id, "按", reply_markup=MARKUP)
        press = await user.press_data("note", sent.message_id)
        results = await asyncio.gather(
            *(bot.answer_callback_query(press.id, text=f"第{i}") for i in range(5))
        )
        again = await bot.answer_callback_query(press.id, text="再来")
    assert results == [True] * 5 and again is True, "nobody who answers sees an error"
    assert _answers_per_query(emulator) == {press.id: [200]}, "one answer reached Telegram"
    assert press.answer is not None and press.answer.text == "第0", "the first one asked"


@dataclass
class SlowChat:
    """A bot whose "slow" message handler holds its chat until released, and whose button
    handler records its work, sends a new screen and answers."""

    emulator: BotApiEmulator
    deadline: float
    pacer: MessagePacer | None = None
    concurrency: ConcurrentUpdates | None = None
    storage: BaseStorage | None = None
    isolation: BaseEventIsolation | None = None
    release: asyncio.Event = field(default_factory=asyncio.Event)
    slow_started: asyncio.Event = field(default_factory=asyncio.Event)
    work: list[int] = field(default_factory=list)
    done: asyncio.Queue[int] = field(default_factory=asyncio.Queue)
    own_answers: list[bool] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def dispatcher(self) -> Dispatcher:
        router = Router()

        @router.message(F.text == "slow")
        async def slow(message: Message) -> None:
            self.slow_started.set()
            await self.release.wait()
            await message.answer("慢的做完了")

        @router.callback_query(F.data == "note")
        async def note(query: CallbackQuery) -> None:
            assert query.message is not None
            self.work.append(query.message.chat.id)
            await query.message.answer("已记下")
            self.own_answers.append(await query.answer("已记下"))
            self.done.put_nowait(query.message.chat.id)

        @router.callback_query(F.data == "silent")
        async def silent(query: CallbackQuery) -> None:
            self.done.put_nowait(query.from_user.id)

        @router.errors()
        async def on_error(event: object) -> None:
            self.errors.append(getattr(event, "exception", RuntimeError("?")))

        dp = Dispatcher(storage=self.storage or MemoryStorage(), events_isolation=self.isolation)
        deadline = CallbackAnswerDeadline(deadline=self.deadline)
        install_update_middlewares(dp, deadline=deadline, concurrency=self.concurrency)
        dp.include_router(router)
        return dp


async def _running(chat: SlowChat) -> tuple[Bot, Dispatcher, asyncio.Task[None]]:
    token = chat.emulator.create_bot()
    bot = Bot(token, session=_session(chat.emulator, chat.pacer))
    dp = chat.dispatcher()
    polling = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, close_bot_session=True, polling_timeout=1)
    )
    return bot, dp, polling


async def _stop(dp: Dispatcher, polling: asyncio.Task[None]) -> None:
    await dp.stop_polling()
    await polling


async def test_a_press_queued_behind_its_chat_is_answered_once_and_its_work_done_once(
    emulator: BotApiEmulator,
) -> None:
    chat = SlowChat(emulator, deadline=SHORT)
    bot, dp, polling = await _running(chat)
    user = emulator.user(user_id=72, started=True, language_code="zh-hans")
    try:
        screen = await bot.send_message(user.id, "按一下", reply_markup=MARKUP)
        await user.send_text("slow")
        await asyncio.wait_for(chat.slow_started.wait(), HANG)
        press = await user.press_data("note", screen.message_id)
        # The chat is busy: the press waits behind it, but its spinner stops at the deadline.
        answer = await press.wait_answered(HANG)
        assert chat.work == [], "the press's work waits for the chat's earlier update"
        assert answer.text == "请稍候"
        chat.release.set()
        assert await asyncio.wait_for(chat.done.get(), HANG) == user.id
    finally:
        await _stop(dp, polling)
    assert chat.work == [user.id], "the work behind the press ran once"
    assert chat.own_answers == [True], "the handler's own answer was quietly not sent"
    assert chat.errors == []
    assert _answers_per_query(emulator) == {press.id: [200]}
    texts = [m.text for m in user.messages if m.from_bot]
    assert texts == ["按一下", "慢的做完了", "已记下"], "the chat's updates kept their order"
    assert emulator.unanswered_callbacks() == []


async def test_a_press_whose_chat_another_instance_holds_is_answered_in_time(
    emulator: BotApiEmulator, redis_url: str
) -> None:
    """The deadline counts the wait for the chat's lock in Redis too: while another instance
    works on the same chat, the spinner still stops in time, and the work runs after."""
    keys = DefaultKeyBuilder(prefix=f"qingfeng-test-{secrets.token_hex(6)}")
    storage = RedisStorage(Redis.from_url(redis_url), key_builder=keys)
    other_instance = OrderedRedisEventIsolation(storage.redis, keys)
    chat = SlowChat(
        emulator,
        deadline=SHORT,
        storage=storage,
        isolation=OrderedRedisEventIsolation(storage.redis, keys),
    )
    bot, dp, polling = await _running(chat)
    user = emulator.user(user_id=74, started=True, language_code="zh-hans")
    try:
        screen = await bot.send_message(user.id, "按一下", reply_markup=MARKUP)
        key = StorageKey(bot_id=bot.id, chat_id=user.id, user_id=user.id)
        async with other_instance.lock(key):
            press = await user.press_data("note", screen.message_id)
            answer = await press.wait_answered(HANG)
            assert chat.work == [], "the press's work waits for the other instance"
            assert answer.text == "请稍候"
        assert await asyncio.wait_for(chat.done.get(), HANG) == user.id
    finally:
        await _stop(dp, polling)
        await storage.close()
    assert chat.work == [user.id]
    assert _answers_per_query(emulator) == {press.id: [200]}


@pytest.mark.parametrize("handler_answers", [True, False])
async def test_the_deadline_asks_for_no_answer_once_the_handler_has_answered(
    emulator: BotApiEmulator, handler_answers: bool
) -> None:
    """The handler's end adds a blank answer only when nothing answered: not even a request
    for LateCallbackAnswers to drop (a task and a request per press, most of them)."""
    from aiogram.types import Update, User

    asked: list[str] = []

    async def count(make_request: Any, bot: Bot, method: Any) -> Any:
        if isinstance(method, AnswerCallbackQuery):
            asked.append(method.callback_query_id)
        return await make_request(bot, method)

    token = emulator.create_bot()
    user = emulator.user(user_id=79, started=True)
    session = AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url))
    session.middleware(count)
    session.middleware(LateCallbackAnswers())
    deadline = CallbackAnswerDeadline(deadline=HANG)
    async with Bot(token, session=session) as bot:
        sent = await bot.send_message(user.id, "按", reply_markup=MARKUP)
        press = await user.press_data("note", sent.message_id)
        query = CallbackQuery(
            id=press.id,
            from_user=User(id=user.id, is_bot=False, first_name="甲"),
            chat_instance="1",
            data="note",
        )

        async def handler(event: object, data: dict[str, Any]) -> None:
            if handler_answers:
                await bot.answer_callback_query(press.id, text="已记下")

        await deadline(handler, Update(update_id=1, callback_query=query), {"bot": bot})
        await deadline.drain()
    assert asked == [press.id], "one request for the press, whoever made it"
    assert _answers_per_query(emulator) == {press.id: [200]}
    assert press.answer is not None
    assert press.answer.text == ("已记下" if handler_answers else None)


async def test_the_please_wait_answer_speaks_the_pressers_language() -> None:
    from aiogram.types import User

    def query(code: str | None) -> CallbackQuery:
        user = User(id=1, is_bot=False, first_name="甲", language_code=code)
        return CallbackQuery(id="1", from_user=user, chat_instance="1", data="x")

    assert please_wait(query("zh-hans")) == "请稍候"
    assert please_wait(query(None)) == "请稍候"  # zh-CN is the default
    assert please_wait(query("en-US")) == "One moment, please…"


async def test_a_press_whose_handler_never_answers_is_answered_when_it_ends(
    emulator: BotApiEmulator,
) -> None:
    chat = SlowChat(emulator, deadline=HANG)
    bot, dp, polling = await _running(chat)
    user = emulator.user(user_id=73, started=True)
    try:
        sent = await bot.send_message(
            user.id,
            "按",
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text="无声", callback_data="silent")]]
            ),
        )
        press = await user.press_data("silent", sent.message_id)
        await asyncio.wait_for(chat.done.get(), HANG)
        answer = await press.wait_answered(HANG)
    finally:
        await _stop(dp, polling)
    assert answer.text is None, "a blank answer: only the spinner stops"
    assert _answers_per_query(emulator) == {press.id: [200]}


async def test_a_press_older_than_telegrams_lifetime_is_dropped_quietly_and_its_work_done(
    emulator: BotApiEmulator,
) -> None:
    # The deadline never comes; Telegram's 15 s pass while the chat is busy.
    chat = SlowChat(emulator, deadline=HANG)
    bot, dp, polling = await _running(chat)
    user = emulator.user(user_id=74, started=True)
    try:
        screen = await bot.send_message(user.id, "按一下", reply_markup=MARKUP)
        await user.send_text("slow")
        await asyncio.wait_for(chat.slow_started.wait(), HANG)
        press = await user.press_data("note", screen.message_id)
        emulator.clock.advance(20)
        chat.release.set()
        await asyncio.wait_for(chat.done.get(), HANG)
    finally:
        await _stop(dp, polling)
    assert chat.work == [user.id] and chat.own_answers == [True] and chat.errors == []
    # Telegram refused the one answer sent; the closing answer was not tried again.
    assert _answers_per_query(emulator) == {press.id: [400]}


#: More chats than the pacer lets through before the deadline, whatever the machine's speed.
CHATS = 40
RATE = 20.0


async def test_many_chats_behind_the_global_rate_are_each_answered_once(
    emulator: BotApiEmulator,
) -> None:
    # Each press sends a new message first: the pacer (20 a second, one at once) holds the
    # last of them for at least (CHATS - 1) / RATE s, far beyond the deadline.
    chat = SlowChat(emulator, deadline=SHORT, pacer=MessagePacer(per_second=RATE, burst=1))
    chat.release.set()
    bot, dp, polling = await _running(chat)
    users: list[EmulatedUser] = [
        emulator.user(user_id=80_000 + i, started=True) for i in range(CHATS)
    ]
    try:
        screens = await asyncio.gather(
            *(bot.send_message(u.id, "按一下", reply_markup=MARKUP) for u in users)
        )
        presses = await asyncio.gather(
            *(u.press_data("note", s.message_id) for u, s in zip(users, screens, strict=True))
        )
        async with asyncio.timeout(HANG):
            finished = [await chat.done.get() for _ in range(CHATS)]
            answers = [await p.wait_answered(HANG) for p in presses]
    finally:
        await _stop(dp, polling)
    assert sorted(finished) == sorted(u.id for u in users) and chat.errors == []
    assert sorted(chat.work) == sorted(u.id for u in users), "every press's work ran once"
    assert _answers_per_query(emulator) == {p.id: [200] for p in presses}
    assert any(a.text == "请稍候" for a in answers), "some presses waited past the deadline"
    assert all(a.text in ("请稍候", "已记下") for a in answers)
    assert all([m.text for m in u.messages if m.from_bot] == ["按一下", "已记下"] for u in users)
    assert emulator.calls.count(status=429) == 0


async def test_answered_presses_are_forgotten_once_telegram_would_refuse_them_anyway() -> None:
    now = [0.0]
    late = LateCallbackAnswers(remember=30.0, clock=lambda: now[0])
    sent: list[str] = []

    async def make_request(bot: Any, method: Any) -> Any:
        sent.append(method.callback_query_id)
        return True

    bot: Any = None
    for i in range(100):
        now[0] = float(i)
        assert await late(make_request, bot, AnswerCallbackQuery(callback_query_id=str(i)))
    assert await late(make_request, bot, AnswerCallbackQuery(callback_query_id="99"))
    assert sent == [str(i) for i in range(100)], "the repeat was not sent"
    assert late.remembered == 31, "only the last 30 s of presses are remembered"


async def test_a_press_waiting_for_a_place_among_all_chats_is_answered_once(
    emulator: BotApiEmulator,
) -> None:
    # One update at a time for the whole bot: another chat's slow update holds the place.
    chat = SlowChat(emulator, deadline=SHORT, concurrency=ConcurrentUpdates(limit=1))
    bot, dp, polling = await _running(chat)
    busy = emulator.user(user_id=75, started=True)
    user = emulator.user(user_id=76, started=True)
    try:
        screen = await bot.send_message(user.id, "按一下", reply_markup=MARKUP)
        await busy.send_text("slow")
        await asyncio.wait_for(chat.slow_started.wait(), HANG)
        press = await user.press_data("note", screen.message_id)
        answer = await press.wait_answered(HANG)
        assert chat.work == [] and answer.text == "请稍候"
        chat.release.set()
        assert await asyncio.wait_for(chat.done.get(), HANG) == user.id
    finally:
        await _stop(dp, polling)
    assert chat.work == [user.id] and chat.own_answers == [True] and chat.errors == []
    assert _answers_per_query(emulator) == {press.id: [200]}
    assert [m.text for m in busy.messages if m.from_bot] == ["慢的做完了"]


async def test_no_more_updates_than_the_limit_run_at_once_and_none_is_lost() -> None:
    limit, updates = 3, 12
    concurrency = ConcurrentUpdates(limit=limit)
    started: list[int] = []
    release = asyncio.Event()
    full = asyncio.Event()

    async def handler(event: Any, data: dict[str, Any]) -> int:
        started.append(event)
        if len(started) == limit:
            full.set()
        await release.wait()
        return int(event)

    events: list[Any] = list(range(updates))  # stand-ins: the middleware never looks inside
    tasks = [asyncio.create_task(concurrency(handler, e, {})) for e in events]
    await asyncio.wait_for(full.wait(), HANG)
    for _ in range(100):  # plenty of chances for a fourth to slip in
        await asyncio.sleep(0)
    assert started == [0, 1, 2] and concurrency.running == limit
    release.set()
    assert await asyncio.wait_for(asyncio.gather(*tasks), HANG) == list(range(updates))
    assert started == list(range(updates)), "first come, first served"
    assert concurrency.most_running == limit and concurrency.running == 0
    with pytest.raises(ValueError):
        ConcurrentUpdates(limit=0)
