"""The bot's own Bot API calls survive Telegram's pushback, and one chat's updates run in
order — checked against the emulator's real 429s, 5xx and dropped connections."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest, TelegramServerError
from aiogram.types import Update

from bot.harness.emulator import BotApiEmulator, Limits
from bot.middlewares.ordering import ChatOrderingMiddleware
from bot.middlewares.telegram_retry import RetryMiddleware


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(limits=Limits.unlimited()) as emu:
        yield emu


def make_bot(emu: BotApiEmulator, token: str, middleware: RetryMiddleware) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url))
    session.middleware(middleware)
    return Bot(token, session=session)


async def test_429_waits_retry_after_and_5xx_backs_off(emulator: BotApiEmulator) -> None:
    token = emulator.create_bot()
    user = emulator.user(user_id=42, started=True)
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    bot = make_bot(emulator, token, RetryMiddleware(sleep=fake_sleep))
    try:
        emulator.faults.too_many_requests(retry_after=7, method="sendMessage", times=2)
        emulator.faults.server_error(502, method="sendMessage", times=1)
        emulator.faults.drop_connection(method="sendMessage", times=1)
        message = await bot.send_message(user.id, "hello")
        assert message.text == "hello"
        assert slept[:2] == [7.0, 7.0]
        assert len(slept) == 4 and all(0 < s <= 30 for s in slept[2:])
        # Exactly one message arrived although four attempts failed.
        assert [m.text for m in user.messages] == ["hello"]
        # A 400 is the caller's business: not retried.
        slept.clear()
        with pytest.raises(TelegramBadRequest):
            await bot.send_message(user.id, "")
        assert slept == []
    finally:
        await bot.session.close()


async def test_transient_errors_give_up_after_the_limit(emulator: BotApiEmulator) -> None:
    token = emulator.create_bot()
    user = emulator.user(user_id=43, started=True)

    async def fake_sleep(seconds: float) -> None:
        return None

    bot = make_bot(emulator, token, RetryMiddleware(sleep=fake_sleep, max_transient_retries=2))
    try:
        emulator.faults.server_error(500, method="sendMessage", times=3)
        with pytest.raises(TelegramServerError):
            await bot.send_message(user.id, "hello")
        assert user.messages == []
    finally:
        await bot.session.close()


def _update(update_id: int, chat_id: int) -> Update:
    return Update.model_validate(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 0,
                "chat": {"id": chat_id, "type": "private"},
                "from": {"id": chat_id, "is_bot": False, "first_name": "x"},
                "text": "t",
            },
        }
    )


async def test_one_chat_is_handled_in_order_other_chats_in_parallel() -> None:
    ordering = ChatOrderingMiddleware()
    log: list[tuple[str, int]] = []
    running = 0
    peak = 0

    async def handler(event: object, data: dict[str, object]) -> None:
        nonlocal running, peak
        assert isinstance(event, Update) and event.message is not None
        running += 1
        peak = max(peak, running)
        log.append(("start", event.update_id))
        await asyncio.sleep(0.01)
        log.append(("end", event.update_id))
        running -= 1

    same_chat = [_update(i, 1) for i in range(1, 5)]
    other = [_update(i, 100 + i) for i in range(10, 14)]
    await asyncio.gather(*(ordering(handler, u, {}) for u in same_chat + other))
    same = [entry for entry in log if entry[1] < 10]
    assert same == [(kind, i) for i in range(1, 5) for kind in ("start", "end")]
    assert peak > 1  # different chats did run concurrently
    assert ordering.active_chats == 0  # no lock is left behind
