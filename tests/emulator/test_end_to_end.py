"""A real aiogram Dispatcher polling the emulator, and the emulator under load."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.exceptions import TelegramRetryAfter
from aiogram.filters import CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.harness.emulator import BotApiEmulator, Limits, VirtualClock


def echo_router() -> Router:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="开始答题", callback_data="begin")]]
        )
        await message.answer("<b>欢迎</b>使用清风", parse_mode="HTML", reply_markup=keyboard)

    @router.callback_query(F.data == "begin")
    async def begin(query: CallbackQuery) -> None:
        assert isinstance(query.message, Message)
        await query.message.edit_text("第一题：……")
        await query.answer("开始了")

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"你说：{message.text}")

    return router


@pytest.fixture
async def polling(bot: Bot) -> AsyncIterator[Dispatcher]:
    dispatcher = Dispatcher()
    dispatcher.include_router(echo_router())
    task = asyncio.create_task(
        dispatcher.start_polling(bot, handle_signals=False, close_bot_session=False)
    )
    yield dispatcher
    await dispatcher.stop_polling()
    await asyncio.wait_for(task, timeout=30)


async def test_echo_bot_end_to_end(emulator: BotApiEmulator, polling: Dispatcher) -> None:
    user = emulator.user(user_id=9701, first_name="张", last_name="三")
    await user.send_command("/start")
    welcome = await user.wait_for_message("欢迎")
    assert welcome.text == "欢迎使用清风"
    assert welcome.entities[0]["type"] == "bold"
    assert welcome.keyboard == [[("开始答题", "begin")]]

    press = await user.press("开始答题")
    answer = await press.wait_answered()
    assert answer.text == "开始了"
    edited = user.message(welcome.message_id)
    assert edited is not None and edited.text == "第一题：……" and edited.buttons == ()

    await user.send_text("匿名反映")
    echoed = await user.wait_for_message()
    assert echoed.text == "你说：匿名反映"
    assert emulator.unanswered_callbacks() == []


async def test_two_hundred_concurrent_users(emulator: BotApiEmulator, polling: Dispatcher) -> None:
    users = [emulator.user(user_id=20_000 + index) for index in range(200)]

    async def converse(index: int) -> str:
        user = users[index]
        await user.send_text(f"第{index}号")
        return (await user.wait_for_message(timeout=20)).text or ""

    replies = await asyncio.gather(*(converse(index) for index in range(200)))
    assert replies == [f"你说：第{index}号" for index in range(200)]
    assert emulator.calls.count("sendMessage", status=200) == 200


async def test_broadcast_backs_off_on_429_and_delivers_everything(
    emulator: BotApiEmulator, bot: Bot, clock: VirtualClock
) -> None:
    """A paid broadcast to more chats than the 1,000 Telegram takes at once, so the sender meets
    429 and must wait (on the emulator's frozen clock, so the wait is exact and instant)."""
    limits = Limits()
    emulator.limits = limits
    count = limits.paid_broadcast_burst + 100
    recipients = [emulator.user(user_id=50_000 + index, started=True) for index in range(count)]
    semaphore = asyncio.Semaphore(50)
    throttled = 0

    async def deliver(chat_id: int) -> None:
        nonlocal throttled
        async with semaphore:
            while True:
                try:
                    await bot.send_message(chat_id, "本周调研已开始", allow_paid_broadcast=True)
                    return
                except TelegramRetryAfter as error:
                    throttled += 1
                    clock.advance(error.retry_after)  # "sleep" on the emulator's clock

    await asyncio.gather(*(deliver(user.id) for user in recipients))
    assert all(len(user.chat.messages) == 1 for user in recipients)
    assert emulator.calls.count("sendMessage", status=200) == count
    assert throttled == emulator.calls.count("sendMessage", status=429) > 0
