"""Three webhook instances on one PostgreSQL and one Redis, updates delivered round-robin."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import aiohttp
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from pydantic import SecretStr

from bot.app import WebhookInstance, create_bot, start_webhook_instance
from bot.config import load_settings
from bot.harness.emulator import BotApiEmulator, EmulatedUser, Limits
from bot.harness.emulator.webhook_delivery import SECRET_HEADER, RoundRobinDelivery
from bot.harness.offline import PlainHttpSession
from bot.harness.simulation import Cadre
from bot.middlewares.telegram_pacing import MessagePacer
from bot.webhook import SeenInRedis

WEBHOOK_URL = "https://survey.example.org/telegram/webhook"


async def test_questionnaires_across_three_instances_and_replays_once(
    tmp_path: Path, migrated_postgres_url: str, redis_url: str
) -> None:
    emulator = BotApiEmulator(limits=Limits(private_chat_per_second=100, private_chat_burst=100))
    await emulator.start()
    token = emulator.create_bot(username="qingfeng_bot", first_name="清风")
    settings = load_settings(
        bot_token=SecretStr(token),
        telegram_api_url=emulator.base_url,
        data_dir=tmp_path,
        database_url=migrated_postgres_url,
        fsm_storage="redis",
        redis_url=redis_url,
        webhook_url=WEBHOOK_URL,
    )
    instances: list[WebhookInstance] = []
    delivery: RoundRobinDelivery | None = None
    users: list[EmulatedUser] = []
    try:
        for _ in range(3):
            api = TelegramAPIServer.from_base(settings.telegram_api_url)
            bot = create_bot(settings, session=PlainHttpSession(api=api))
            instances.append(await start_webhook_instance(settings, port=0, bot=bot))
        assert emulator.calls.count("setWebhook") == 1
        # Telegram's ceiling is the bot's: every instance paces against the common budget.
        budgets = {
            m.shared.key
            for instance in instances
            for m in instance.bot.session.middleware
            if isinstance(m, MessagePacer) and m.shared is not None
        }
        assert len(budgets) == 1
        targets = [f"http://127.0.0.1:{i.port}/telegram/webhook" for i in instances]
        delivery = RoundRobinDelivery(emulator, targets)
        delivery.start()
        users = [emulator.user(first_name=f"干部{n}") for n in range(3)]
        questionnaire = instances[0].services.questionnaire
        cadres = [Cadre(user, questionnaire, random.Random(n)) for n, user in enumerate(users)]
        async with asyncio.timeout(180):  # only a guard against a hang
            results = await asyncio.gather(*(cadre.run() for cadre in cadres))
        # Every cadre's updates were spread over the three instances, and each still reached
        # its own receipt with one stored submission.
        assert all(result.receipt for result in results)
        assert len({result.receipt for result in results}) == len(cadres)
        assert await instances[1].services.submissions.count() == len(cadres)
        assert {target for _, target in delivery.delivered} == set(targets)
        assert emulator.unanswered_callbacks() == []
        # A replay of an update already handled, to every instance: acknowledged, not handled.
        update_id, _ = delivery.delivered[0]
        sent_before = emulator.calls.count("sendMessage")
        secret = emulator.world.bot().webhook.secret_token or ""
        replay = {
            "update_id": update_id,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": users[0].id, "type": "private", "first_name": "x"},
                "from": {"id": users[0].id, "is_bot": False, "first_name": "x"},
                "text": "/start",
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            },
        }
        async with aiohttp.ClientSession() as http:
            for target in targets:
                async with http.post(target, json=replay, headers={SECRET_HEADER: secret}) as r:
                    assert r.status == 200
        assert emulator.calls.count("sendMessage") == sent_before
    finally:
        if delivery is not None:
            await delivery.stop()
        if instances:  # delete what this test wrote in the shared Redis
            storage = instances[0].dispatcher.storage
            assert isinstance(storage, RedisStorage)
            bot_id = emulator.world.bot().id
            keys = [SeenInRedis.key(update_id) for update_id in emulator.world.bot().updates.issued]
            for user in users:
                key = StorageKey(bot_id=bot_id, chat_id=user.id, user_id=user.id)
                keys += [storage.key_builder.build(key, part) for part in ("state", "data", "lock")]
            if keys:
                await storage.redis.delete(*keys)
        for instance in instances:
            await instance.stop()
        await emulator.stop()
    assert emulator.calls.count("deleteWebhook") == 0
