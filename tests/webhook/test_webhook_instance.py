"""Webhook mode on one and two instances: the secret token, replays, setWebhook at start,
no deleteWebhook at stop, /healthz and /readyz."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiogram.client.telegram import TelegramAPIServer
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import WebhookInstance, create_bot, start_webhook_instance
from bot.config import Settings, load_settings
from bot.harness.emulator import BotApiEmulator, EmulatedUser
from bot.harness.offline import PlainHttpSession

WEBHOOK_URL = "https://survey.example.org/telegram/webhook"
_update_ids = itertools.count(700_000_001)


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    emulator = BotApiEmulator()
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


def _settings(emulator: BotApiEmulator, data_dir: Path, **overrides: Any) -> Settings:
    token = emulator.create_bot(username="qingfeng_bot", first_name="清风")
    return load_settings(
        bot_token=SecretStr(token),
        telegram_api_url=emulator.base_url,
        data_dir=data_dir,
        webhook_url=WEBHOOK_URL,
        **overrides,
    )


async def _instance(settings: Settings) -> WebhookInstance:
    api = TelegramAPIServer.from_base(settings.telegram_api_url)
    bot = create_bot(settings, session=PlainHttpSession(api=api))
    return await start_webhook_instance(settings, port=0, bot=bot)


def _start_update(user: EmulatedUser) -> dict[str, Any]:
    person = {"id": user.id, "is_bot": False, "first_name": user.first_name}
    return {
        "update_id": next(_update_ids),
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {**person, "type": "private"},
            "from": person,
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


async def _post(instance: WebhookInstance, update: dict[str, Any], secret: str | None) -> int:
    headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
    url = f"http://127.0.0.1:{instance.port}/telegram/webhook"
    async with aiohttp.ClientSession() as http, http.post(url, json=update, headers=headers) as r:
        await r.read()
        return r.status


def _secret(emulator: BotApiEmulator) -> str:
    secret = emulator.world.bot().webhook.secret_token
    assert secret
    return secret


def _sent_to(emulator: BotApiEmulator, user: EmulatedUser) -> int:
    return sum(
        1 for call in emulator.calls.of("sendMessage") if call.params.get("chat_id") == user.id
    )


async def test_secret_token_is_required_and_nothing_is_handled_without_it(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    instance = await _instance(_settings(emulator, tmp_path))
    try:
        user = emulator.user(first_name="甲")
        assert await _post(instance, _start_update(user), None) == 401
        assert await _post(instance, _start_update(user), "wrong-secret") == 401
        assert _sent_to(emulator, user) == 0
        assert await _post(instance, _start_update(user), _secret(emulator)) == 200
        assert _sent_to(emulator, user) >= 1  # the right secret is handled (the test can fail)
    finally:
        await instance.stop()


async def test_a_replayed_update_is_handled_once(emulator: BotApiEmulator, tmp_path: Path) -> None:
    instance = await _instance(_settings(emulator, tmp_path))
    try:
        user = emulator.user(first_name="乙")
        update = _start_update(user)
        assert await _post(instance, update, _secret(emulator)) == 200
        handled = _sent_to(emulator, user)
        assert handled >= 1
        assert await _post(instance, update, _secret(emulator)) == 200
        assert _sent_to(emulator, user) == handled
    finally:
        await instance.stop()


async def test_set_webhook_once_and_never_deleted(emulator: BotApiEmulator, tmp_path: Path) -> None:
    settings = _settings(emulator, tmp_path)
    first = await _instance(settings)
    second = await _instance(settings)
    try:
        assert emulator.calls.count("setWebhook") == 1
        assert emulator.calls.count("getWebhookInfo") == 2
        webhook = emulator.world.bot().webhook
        assert webhook.url == WEBHOOK_URL
        assert webhook.max_connections == settings.webhook_max_connections
    finally:
        await first.stop()
        await second.stop()
    assert emulator.calls.count("deleteWebhook") == 0
    assert emulator.world.bot().webhook.url == WEBHOOK_URL


async def test_health_and_readiness(
    emulator: BotApiEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = await _instance(_settings(emulator, tmp_path))
    base = f"http://127.0.0.1:{instance.port}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/healthz") as response:
                assert response.status == 200
            async with http.get(f"{base}/readyz") as response:
                assert response.status == 200
            await instance.services.database.dispose()
            # An unreachable database: nothing listens on port 1.
            unreachable = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
            monkeypatch.setattr(instance.services.database, "_engine", unreachable)
            async with http.get(f"{base}/readyz") as response:
                assert response.status == 503
            async with http.get(f"{base}/healthz") as response:
                assert response.status == 200
            await unreachable.dispose()
            monkeypatch.undo()  # the database answers again (it reconnects on demand)
            async with http.get(f"{base}/readyz") as response:
                assert response.status == 200
    finally:
        await instance.stop()
