"""Flood control: 429 with retry_after, recovery on the clock, and the knobs to tune it."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter

from bot.harness.emulator import BotApiEmulator, Limits, VirtualClock
from bot.harness.emulator.errors import ApiError
from bot.harness.emulator.rate_limits import RateLimiter, TokenBucket

from .conftest import RawApi


def test_token_bucket_refills_continuously() -> None:
    bucket = TokenBucket(rate=2.0, capacity=3, now=0.0)
    for _ in range(3):
        assert bucket.wait_time(0.0) == 0
        bucket.take()
    assert bucket.wait_time(0.0) == pytest.approx(0.5)
    assert bucket.wait_time(0.5) == 0
    bucket.take()
    assert bucket.wait_time(10.0) == 0
    assert bucket.tokens == 3  # never above capacity


def test_limiter_consumes_nothing_when_refusing(clock: VirtualClock) -> None:
    limiter = RateLimiter(Limits(private_chat_burst=1, global_burst=5), clock)
    limiter.acquire_message(1, is_private=True)
    with pytest.raises(ApiError) as error:
        limiter.acquire_message(1, is_private=True)
    assert (error.value.status, error.value.retry_after) == (429, 1)
    for chat in range(2, 6):  # the refused request did not use a global token
        limiter.acquire_message(chat, is_private=True)
    with pytest.raises(ApiError):
        limiter.acquire_message(6, is_private=True)


async def test_private_chat_burst_then_429_then_recovery(
    emulator: BotApiEmulator, bot: Bot, clock: VirtualClock
) -> None:
    emulator.limits = Limits(private_chat_per_second=1.0, private_chat_burst=3)
    user = emulator.user(user_id=9001, started=True)
    for index in range(3):
        await bot.send_message(user.id, f"burst {index}")
    with pytest.raises(TelegramRetryAfter) as error:
        await bot.send_message(user.id, "one too many")
    assert error.value.retry_after == 1
    assert "Original description: Too Many Requests: retry after 1" in error.value.message
    assert len(user.messages) == 3
    clock.advance(1)
    await bot.send_message(user.id, "after waiting")
    assert [m.text for m in user.messages][-1] == "after waiting"


async def test_429_body_is_telegrams(emulator: BotApiEmulator, raw: RawApi) -> None:
    emulator.limits = Limits(private_chat_per_second=0.5, private_chat_burst=1)
    user = emulator.user(user_id=9002, started=True)
    assert (await raw.form("sendMessage", {"chat_id": user.id, "text": "1"})).status == 200
    refused = await raw.form("sendMessage", {"chat_id": user.id, "text": "2"})
    assert refused.status == 429
    assert refused.body == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 2",
        "parameters": {"retry_after": 2},
    }


async def test_group_limit_is_twenty_per_minute(
    emulator: BotApiEmulator, bot: Bot, clock: VirtualClock
) -> None:
    emulator.limits = Limits()
    group = emulator.group(title="调研组")
    for index in range(20):
        await bot.send_message(group.chat_id, str(index))
        clock.advance(0.1)  # stays under the global limit
    with pytest.raises(TelegramRetryAfter) as error:
        await bot.send_message(group.chat_id, "21st")
    assert error.value.retry_after == 1  # 2 s elapsed: 0.67 of a token back, one more in 1 s
    clock.advance(1)
    await bot.send_message(group.chat_id, "21st")
    with pytest.raises(TelegramRetryAfter) as again:
        await bot.send_message(group.chat_id, "22nd")
    assert again.value.retry_after == 3


async def test_global_limit_across_chats_and_paid_broadcast(
    emulator: BotApiEmulator, bot: Bot, clock: VirtualClock
) -> None:
    emulator.limits = Limits(global_per_second=30, global_burst=30)
    users = [emulator.user(user_id=9100 + index, started=True) for index in range(40)]
    for user in users[:30]:
        await bot.send_message(user.id, "公告")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(users[30].id, "公告")
    for user in users[30:]:  # paid broadcast uses its own 1000/s allowance
        await bot.send_message(user.id, "公告", allow_paid_broadcast=True)
    clock.advance(1)
    await bot.send_message(users[30].id, "again")


async def test_edits_and_callback_answers_are_not_limited_by_default(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    emulator.limits = Limits(private_chat_burst=1)
    user = emulator.user(user_id=9003, started=True)
    sent = await bot.send_message(user.id, "0")
    for index in range(1, 30):
        await bot.edit_message_text(str(index), chat_id=user.id, message_id=sent.message_id)
        press = await user.press_data("d", sent.message_id)
        await bot.answer_callback_query(press.id)
    assert user.messages[-1].text == "29"


async def test_edits_can_be_limited(
    emulator: BotApiEmulator, bot: Bot, clock: VirtualClock
) -> None:
    emulator.limits = Limits(edits_per_chat_per_second=1.0, edits_per_chat_burst=2)
    user = emulator.user(user_id=9004, started=True)
    sent = await bot.send_message(user.id, "0")
    await bot.edit_message_text("1", chat_id=user.id, message_id=sent.message_id)
    await bot.edit_message_text("2", chat_id=user.id, message_id=sent.message_id)
    with pytest.raises(TelegramRetryAfter):
        await bot.edit_message_text("3", chat_id=user.id, message_id=sent.message_id)
    clock.advance(1)
    await bot.edit_message_text("3", chat_id=user.id, message_id=sent.message_id)


async def test_unlimited_and_scaled_limits(
    emulator: BotApiEmulator, bot: Bot, clock: VirtualClock
) -> None:
    user = emulator.user(user_id=9005, started=True)
    emulator.limits = Limits.unlimited()
    for index in range(50):
        await bot.send_message(user.id, str(index))

    fast = Limits(private_chat_burst=1).scaled(10)
    assert fast.private_chat_per_second == 10.0
    assert fast.group_per_minute == 200.0
    emulator.limits = fast
    await bot.send_message(user.id, "a")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(user.id, "b")
    clock.advance(0.1)
    await bot.send_message(user.id, "b")
    with pytest.raises(ValueError, match="positive"):
        Limits().scaled(0)


async def test_refused_sends_leave_no_trace(emulator: BotApiEmulator, bot: Bot) -> None:
    emulator.limits = Limits(private_chat_burst=1)
    user = emulator.user(user_id=9006, started=True)
    await bot.send_message(user.id, "1")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(user.id, "2")
    assert [m.message_id for m in user.messages] == [1]
    assert emulator.calls.count("sendMessage", status=429) == 1
    assert emulator.calls.count("sendMessage", status=200) == 1
