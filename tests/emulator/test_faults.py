"""Injected faults and the exceptions aiogram raises for them; the call record."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiogram import Bot
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)

from bot.harness.emulator import BotApiEmulator, FaultKind

from .conftest import PlainHttpSession, RawApi


async def test_server_errors(emulator: BotApiEmulator, bot: Bot, raw: RawApi) -> None:
    user = emulator.user(user_id=9501, started=True)
    emulator.faults.server_error(502, method="sendMessage")
    with pytest.raises(TelegramServerError, match="Bad Gateway"):
        await bot.send_message(user.id, "x")
    emulator.faults.server_error(500)
    response = await raw.form("getMe")
    assert response.status == 500
    assert response.body == {"ok": False, "error_code": 500, "description": "Internal Server Error"}
    assert user.messages == []  # a failed request did nothing
    assert (await bot.send_message(user.id, "ok")).text == "ok"


async def test_faults_apply_to_the_named_method_for_n_calls(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    user = emulator.user(user_id=9502, started=True)
    fault = emulator.faults.server_error(502, method="sendmessage", times=2)
    assert (await bot.get_me()).id == bot.id  # other methods unaffected
    for _ in range(2):
        with pytest.raises(TelegramServerError):
            await bot.send_message(user.id, "x")
    assert fault.remaining == 0
    assert emulator.faults.pending == []
    assert (await bot.send_message(user.id, "third time")).text == "third time"
    with pytest.raises(ValueError):
        emulator.faults.server_error(404)


async def test_dropped_connection_is_a_network_error(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=9503, started=True)
    emulator.faults.drop_connection(method="sendMessage")
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(user.id, "lost")
    assert user.messages == []
    record = emulator.calls.last("sendMessage")
    assert record is not None and (record.status, record.fault) == (0, "drop_connection")


async def test_drop_after_processing_delivers_but_loses_the_answer(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    user = emulator.user(user_id=9504, started=True)
    emulator.faults.drop_connection(method="sendMessage", after_processing=True)
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(user.id, "did it go out?")
    assert [m.text for m in user.messages] == ["did it go out?"]


async def test_forced_429(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=9505, started=True)
    emulator.faults.too_many_requests(retry_after=7, method="sendMessage")
    with pytest.raises(TelegramRetryAfter) as error:
        await bot.send_message(user.id, "x")
    assert error.value.retry_after == 7


async def test_delay_makes_a_client_time_out_and_the_request_still_lands(
    emulator: BotApiEmulator, token: str
) -> None:
    user = emulator.user(user_id=9506, started=True)
    emulator.faults.delay(0.6, method="sendMessage")
    session = PlainHttpSession(api=TelegramAPIServer.from_base(emulator.base_url), timeout=0.2)
    async with Bot(token, session=session) as impatient:
        with pytest.raises(TelegramNetworkError, match="Request timeout error"):
            await impatient.send_message(user.id, "slow")
    await user.wait_for(lambda chat: len(chat.messages) == 1, timeout=30)
    assert user.messages[0].text == "slow"


async def test_delay_without_timeout_just_waits(emulator: BotApiEmulator, bot: Bot) -> None:
    emulator.faults.delay(0.3)
    started = time.monotonic()
    await bot.get_me()
    assert time.monotonic() - started >= 0.29
    record = emulator.calls.last("getMe")
    assert record is not None and record.fault == FaultKind.DELAY.value


async def test_call_log_records_params_outcomes_and_counts(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    user = emulator.user(user_id=9507, started=True)
    await bot.send_message(user.id, "<b>hi</b>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest):
        await bot.send_message(1, "nobody")
    ok, failed = emulator.calls.of("sendMessage")
    assert ok.ok and ok.params["chat_id"] == user.id and ok.params["text"] == "<b>hi</b>"
    assert ok.result["text"] == "hi"
    assert not failed.ok
    assert (failed.status, failed.description) == (400, "Bad Request: chat not found")
    assert emulator.calls.count("sendMessage") == 2
    assert emulator.calls.count("sendMessage", status=400) == 1
    assert emulator.calls.by_method["sendMessage"] == 2
    assert [r.seq for r in emulator.calls] == sorted(r.seq for r in emulator.calls)


async def test_waiting_for_a_call(emulator: BotApiEmulator, bot: Bot) -> None:
    waiter = asyncio.create_task(
        emulator.calls.wait_for(lambda calls: calls.count("getMe") >= 2, timeout=30)
    )
    await bot.get_me()
    assert not waiter.done()
    await bot.get_me()
    await waiter
    with pytest.raises(TimeoutError):
        await emulator.calls.wait_for(lambda calls: calls.count("close") > 0, timeout=0.05)
