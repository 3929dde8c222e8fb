"""The emulator's webhook delivery: each update once after a 2xx, retried after a non-2xx
(the error shown by getWebhookInfo), one chat's updates in order, several chats at once up
to max_connections, round-robin over the targets."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from aiohttp import web

from bot.harness.emulator import BotApiEmulator
from bot.harness.emulator.webhook_delivery import SECRET_HEADER, RoundRobinDelivery, chat_of

GUARD = 60.0


async def test_each_update_once_in_chat_order_with_retries_and_parallel_chats() -> None:
    emulator = BotApiEmulator()
    await emulator.start()
    emulator.create_bot(username="qingfeng_bot", first_name="清风")
    account = emulator.world.bot()
    account.webhook.url = "https://survey.example.org/telegram/webhook"
    account.webhook.secret_token = "s3cret"
    account.webhook.max_connections = 3
    arrived: dict[int, list[str]] = defaultdict(list)
    secrets_seen: set[str] = set()
    refused_once: set[int] = set()
    running = 0
    most_running = 0

    async def handle(request: web.Request) -> web.Response:
        nonlocal running, most_running
        update: dict[str, Any] = await request.json()
        secrets_seen.add(request.headers.get(SECRET_HEADER, ""))
        update_id = int(update["update_id"])
        if update_id % 4 == 0 and update_id not in refused_once:
            refused_once.add(update_id)
            return web.Response(status=500)
        running += 1
        most_running = max(most_running, running)
        await asyncio.sleep(0.02)  # a handler at work: other chats' updates go meanwhile
        running -= 1
        chat = chat_of(update)
        assert chat is not None
        arrived[chat].append(update["message"]["text"])
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sites = []
    targets = []
    for _ in range(2):
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        sites.append(site)
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        targets.append(f"http://127.0.0.1:{port}/hook")
    delivery = RoundRobinDelivery(emulator, targets, retry_delay=0.01)
    delivery.start()
    try:
        users = [emulator.user(first_name=f"干部{n}") for n in range(6)]
        for step in range(5):
            for user in users:
                await user.send_text(f"{user.id}:{step}")
        async with asyncio.timeout(GUARD):
            # A condition across two sides (the queue and the servers): polled, under a guard.
            while len(account.updates) or sum(len(v) for v in arrived.values()) < 30:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        for user in users:
            assert arrived[user.id] == [f"{user.id}:{step}" for step in range(5)]
        delivered_ids = [update_id for update_id, _ in delivery.delivered]
        assert len(delivered_ids) == len(set(delivered_ids)) == 30
        assert refused_once and delivery.failures == len(refused_once)
        assert account.webhook.last_error_message == "Wrong response from the webhook: 500"
        assert 1 < most_running <= 3
        assert {target for _, target in delivery.delivered} == set(targets)
        assert secrets_seen == {"s3cret"}
    finally:
        await delivery.stop()
        await runner.cleanup()
        await emulator.stop()
