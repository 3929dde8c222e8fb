"""A crowd arriving at once: the bot paces its own messages under Telegram's ceiling instead
of crashing into 429s, and no button press is left spinning past Telegram's 15 seconds."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.methods import EditMessageText, SendMessage
from aiogram.types import CallbackQuery, ErrorEvent, InlineKeyboardButton, InlineKeyboardMarkup
from pydantic._internal import _generics as pydantic_generics

from bot.harness.emulator import BotApiEmulator, CallbackAnswer, Limits, VirtualClock
from bot.harness.virtual_pacing import VirtualTime
from bot.middlewares.callback_deadline import CallbackAnswerDeadline, LateCallbackAnswers
from bot.middlewares.response_models import KeepResponseModels
from bot.middlewares.telegram_pacing import MessagePacer
from bot.middlewares.telegram_retry import RetryMiddleware
from tests.fake_time import FakeTime


async def test_pacer_serves_first_come_first_served_at_the_rate() -> None:
    fake = FakeTime()
    pacer = MessagePacer(per_second=10, burst=3, clock=fake, sleep=fake.sleep)
    served: list[tuple[int, float]] = []

    async def one(i: int) -> None:
        await pacer.acquire()
        served.append((i, fake.now))

    await asyncio.gather(*(one(i) for i in range(12)))
    assert [i for i, _ in served] == list(range(12)), "nobody overtakes an earlier request"
    times = [t for _, t in served]
    assert times[:3] == [0.0, 0.0, 0.0]  # the burst goes at once
    # then one every 1/10 s
    for k in range(3, 12):
        assert times[k] == pytest.approx((k - 2) / 10)


def test_only_new_messages_count_and_paid_broadcasts_pass() -> None:
    assert MessagePacer.counts(SendMessage(chat_id=1, text="x"))
    assert not MessagePacer.counts(SendMessage(chat_id=1, text="x", allow_paid_broadcast=True))
    assert not MessagePacer.counts(EditMessageText(chat_id=1, message_id=1, text="x"))


def test_pacer_refuses_nonsense_settings() -> None:
    with pytest.raises(ValueError):
        MessagePacer(per_second=0)
    with pytest.raises(ValueError):
        MessagePacer(burst=0)
    with pytest.raises(ValueError):
        CallbackAnswerDeadline(deadline=0)


#: Well above what Telegram takes at once (30), and too many to trickle in slowly by chance.
CROWD = 100
#: Only guards against a hang; what these tests measure is on the emulator's clock or in order.
HANG = 60.0


@pytest.fixture
async def limited() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(limits=Limits()) as emu:
        yield emu


async def _crowd(*, paced: bool) -> tuple[int, float]:
    """A hundred people greeted at once, on the emulator's frozen clock, which only the bot's
    own waits (its pacer, its retries after 429) move; returns (429s received, seconds taken
    in Telegram's time)."""
    clock = VirtualClock(frozen=True)
    virtual = VirtualTime(clock)
    async with BotApiEmulator(limits=Limits(), clock=clock) as emu:
        token = emu.create_bot()
        users = [emu.user(user_id=1_000 + i, started=True) for i in range(CROWD)]
        session = AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url))
        session.middleware(RetryMiddleware(sleep=virtual.sleep))
        if paced:
            session.middleware(MessagePacer(clock=virtual.now, sleep=virtual.sleep))
        session.middleware(virtual.in_transit)
        bot = Bot(token, session=session)
        started = clock.elapsed()
        try:
            async with asyncio.timeout(HANG):
                await asyncio.gather(*(bot.send_message(u.id, "您好") for u in users))
        finally:
            await bot.session.close()
        assert all(len(u.messages) == 1 for u in users), "everyone got exactly one greeting"
        return emu.calls.count(status=429), clock.elapsed() - started


async def test_a_paced_bot_stays_under_the_ceiling_where_an_unpaced_one_is_pushed_back() -> None:
    unpaced_429s, _ = await _crowd(paced=False)
    assert unpaced_429s > 0, "without pacing, Telegram pushes back"
    paced_429s, seconds = await _crowd(paced=True)
    assert paced_429s == 0
    # 10 at once, then 28 per second: never faster than the rate.
    assert seconds >= (CROWD - 10) / 28 - 1e-6


async def _press_slow_button(
    emu: BotApiEmulator, *, deadline: float, hold: bool = False, age_before_answer: float = 0
) -> tuple[CallbackAnswer | None, bool, list[str], list[BaseException]]:
    """A handler that answers "done"; with `hold`, only once the spinner has stopped.

    Returns (the answer Telegram kept, whether the spinner stopped while the handler was still
    working, what the handler saw of its own answer, errors that reached the dispatcher)."""
    token = emu.create_bot()
    user = emu.user(user_id=77, started=True)
    session = AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url))
    session.middleware(LateCallbackAnswers())
    bot = Bot(token, session=session)
    seen: list[str] = []
    errors: list[BaseException] = []
    release = asyncio.Event()
    finished = asyncio.Event()
    if not hold:
        release.set()
    router = Router()

    @router.callback_query(F.data == "slow")
    async def slow(query: CallbackQuery) -> None:
        await release.wait()
        emu.clock.advance(age_before_answer)
        seen.append(repr(await query.answer("done")))
        finished.set()

    @router.errors()
    async def on_error(event: ErrorEvent) -> None:
        errors.append(event.exception)
        finished.set()

    dp = Dispatcher()
    dp.update.outer_middleware(CallbackAnswerDeadline(deadline=deadline))
    dp.include_router(router)
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="慢", callback_data="slow")]]
    )
    polling = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, close_bot_session=True, polling_timeout=1)
    )
    stopped_while_working = False
    try:
        sent = await bot.send_message(user.id, "按一下", reply_markup=markup)
        handle = await user.press_data("slow", sent.message_id)
        if hold:
            await handle.wait_answered(HANG)
            stopped_while_working = not seen
            release.set()
        await asyncio.wait_for(finished.wait(), HANG)
    finally:
        await dp.stop_polling()
        await polling
    return handle.answer, stopped_while_working, seen, errors


async def test_a_slow_handler_does_not_leave_the_button_spinning(
    limited: BotApiEmulator,
) -> None:
    answer, stopped_while_working, seen, errors = await _press_slow_button(
        limited, deadline=0.2, hold=True
    )
    assert answer is not None and stopped_while_working, "answered at the deadline, not at the end"
    assert answer.text == "请稍候"  # the early answer tells the cadre the press was taken
    # The handler's own answer came second: it was never sent, and the handler never noticed.
    assert seen == ["True"]
    assert errors == []
    assert limited.calls.count("answerCallbackQuery") == 1
    assert limited.calls.count("answerCallbackQuery", status=400) == 0
    assert limited.unanswered_callbacks() == []


async def test_a_quick_handler_answers_itself(limited: BotApiEmulator) -> None:
    # The deadline is far beyond what any machine takes to answer at once.
    answer, _, seen, errors = await _press_slow_button(limited, deadline=HANG)
    assert answer is not None and answer.text == "done"
    assert seen == ["True"] and errors == []
    assert limited.calls.count("answerCallbackQuery", status=400) == 0


async def test_an_answer_telegram_calls_too_old_is_dropped_quietly(
    limited: BotApiEmulator,
) -> None:
    # The emulator's clock jumps past Telegram's 15 s before the handler answers.
    answer, _, seen, errors = await _press_slow_button(limited, deadline=HANG, age_before_answer=20)
    assert answer is None  # Telegram refused the answer...
    assert seen == ["True"] and errors == []  # ...and the handler carried on undisturbed
    assert limited.calls.count("answerCallbackQuery", status=400) == 1


async def test_response_classes_are_built_once_not_after_every_garbage_collection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[str] = []
    create = pydantic_generics.create_generic_submodel

    def counting(name: str, *args: Any, **kwargs: Any) -> Any:
        built.append(name)
        return create(name, *args, **kwargs)

    monkeypatch.setattr(pydantic_generics, "create_generic_submodel", counting)
    async with BotApiEmulator(limits=Limits.unlimited()) as emu:
        token = emu.create_bot()
        user = emu.user(user_id=5, started=True)
        session = AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url))
        session.middleware(KeepResponseModels())
        async with Bot(token, session=session) as bot:
            for _ in range(3):
                await bot.send_message(user.id, "x")
                gc.collect()  # pydantic's cache of these classes is weak
    assert built.count("Response[Message]") <= 1
