"""getUpdates: long polling, offsets, limits, allowed_updates, conflicts, webhooks."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramConflictError

from bot.harness.emulator import BotApiEmulator

from .conftest import RawApi

#: Long enough that a poll ending by its timer cannot pass for one ended by an event.
LONG_POLL = 60


async def polls_started(emulator: BotApiEmulator, count: int) -> None:
    """Wait until the server has received ``count`` getUpdates requests (ordering matters)."""
    queue = emulator.world.bot().updates
    async with asyncio.timeout(LONG_POLL / 2):
        while queue.newest_poll < count:
            await queue.notifier.wait()  # each getUpdates notifies as it starts


async def test_long_poll_returns_as_soon_as_an_update_arrives(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    user = emulator.user(user_id=8001)
    poll = asyncio.create_task(bot.get_updates(timeout=LONG_POLL))
    await polls_started(emulator, 1)
    await asyncio.sleep(0.05)
    assert not poll.done()  # waiting, not returning empty-handed
    await user.send_text("你好")
    # Well before the poll's own timeout: the update, not the timer, ended it.
    updates = await asyncio.wait_for(poll, timeout=LONG_POLL / 2)
    assert [u.message.text for u in updates if u.message] == ["你好"]


async def test_long_poll_times_out_with_an_empty_list(bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == []
    assert time.monotonic() - started >= 0.9  # it waited; how much longer is the machine's


async def test_offset_confirms_updates(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=8002)
    for text in ("一", "二", "三"):
        await user.send_text(text)
    first = await bot.get_updates()
    assert [u.message.text for u in first if u.message] == ["一", "二", "三"]
    assert [u.update_id for u in first] == list(range(first[0].update_id, first[0].update_id + 3))
    assert len(await bot.get_updates()) == 3  # nothing confirmed yet
    rest = await bot.get_updates(offset=first[1].update_id)
    assert [u.message.text for u in rest if u.message] == ["二", "三"]
    assert await bot.get_updates(offset=first[-1].update_id + 1) == []
    assert emulator.pending_updates() == 0


async def test_limit_and_negative_offset(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=8003)
    for index in range(5):
        await user.send_text(str(index))
    assert [u.message.text for u in await bot.get_updates(limit=2) if u.message] == ["0", "1"]
    last_two = await bot.get_updates(offset=-2)
    assert [u.message.text for u in last_two if u.message] == ["3", "4"]
    assert emulator.pending_updates() == 2


async def test_allowed_updates_filters_new_updates(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=8004, started=True)
    assert await bot.get_updates(allowed_updates=["callback_query"]) == []
    await user.send_text("not delivered")
    await bot.send_message(user.id, "问题")
    press = await user.press_data("x")
    updates = await bot.get_updates(allowed_updates=[])  # empty list: back to the default set
    assert [(u.callback_query.id, u.callback_query.data) for u in updates if u.callback_query] == [
        (press.id, "x")
    ]
    assert all(u.message is None for u in updates)
    await user.send_text("delivered")
    later = await bot.get_updates(offset=updates[-1].update_id + 1)
    assert [u.message.text for u in later if u.message] == ["delivered"]


async def test_a_second_poller_terminates_the_first(emulator: BotApiEmulator, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=LONG_POLL))
    await polls_started(emulator, 1)
    second = asyncio.create_task(bot.get_updates(timeout=LONG_POLL))
    with pytest.raises(TelegramConflictError) as error:
        await asyncio.wait_for(first, timeout=LONG_POLL / 2)
    assert error.value.message == (
        "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
        "is running"
    )
    user = emulator.user(user_id=8005)
    await user.send_text("hi")
    assert len(await asyncio.wait_for(second, timeout=LONG_POLL / 2)) == 1


async def test_stopping_the_emulator_releases_a_long_poll(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=LONG_POLL))
    await polls_started(emulator, 1)
    await emulator.stop()
    # Well before the poll's own timeout: stopping, not the timer, ended it.
    assert await asyncio.wait_for(poll, timeout=LONG_POLL / 2) == []


async def test_webhook_lifecycle(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=8006)
    await user.send_text("pending")
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count) == ("", 1)
    assert await bot.set_webhook("https://bot.example.org/hook", secret_token="s3cret_token")
    info = await bot.get_webhook_info()
    assert info.url == "https://bot.example.org/hook"
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates()
    with pytest.raises(TelegramBadRequest, match="HTTPS URL must be provided"):
        await bot.set_webhook("http://bot.example.org/hook")
    with pytest.raises(TelegramBadRequest, match="ports 80, 88, 443 or 8443"):
        await bot.set_webhook("https://bot.example.org:8080/hook")
    with pytest.raises(TelegramBadRequest, match="secret token contains unallowed characters"):
        await bot.set_webhook("https://bot.example.org/hook", secret_token="空格 bad")
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert (await bot.get_webhook_info()).pending_update_count == 0
    assert await bot.get_updates() == []


async def test_webhook_responses_carry_telegram_descriptions(raw: RawApi) -> None:
    set_once = await raw.form("setWebhook", {"url": "https://a.example.org/x"})
    set_twice = await raw.form("setWebhook", {"url": "https://a.example.org/x"})
    deleted = await raw.form("deleteWebhook")
    deleted_again = await raw.form("deleteWebhook")
    assert [r.body.get("description") for r in (set_once, set_twice, deleted, deleted_again)] == [
        "Webhook was set",
        "Webhook is already set",
        "Webhook was deleted",
        "Webhook is already deleted",
    ]
    assert all(r.body["result"] is True for r in (set_once, set_twice, deleted, deleted_again))


async def test_setting_a_webhook_interrupts_a_long_poll(emulator: BotApiEmulator, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=LONG_POLL))
    await polls_started(emulator, 1)
    await bot.set_webhook("https://bot.example.org/hook")
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await asyncio.wait_for(poll, timeout=LONG_POLL / 2)


async def test_log_out_and_close(bot: Bot) -> None:
    assert await bot.log_out() is True
    assert await bot.close() is True
