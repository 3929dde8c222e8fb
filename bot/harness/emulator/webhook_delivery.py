"""The emulator delivering its queued updates to webhook instances as Telegram does: one
update per POST with the secret-token header, retried on a non-2xx answer or a refused
connection, at most the webhook's `max_connections` requests in flight, one chat's updates
one after another (the next only after the previous got its 2xx), and round-robin across
local instances, per update, so one chat's updates land on different ones.

The emulator's own setWebhook requires https and Telegram's ports, as Telegram does, so tests
name the local http URLs here; the last error is reported by getWebhookInfo.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from typing import Any

import aiohttp

from bot.harness.emulator.server import BotApiEmulator
from bot.harness.emulator.state import BotAccount

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name


def chat_of(update: dict[str, Any]) -> int | None:
    """The chat an update belongs to (its ordering key), or None when it names none."""
    for key, payload in update.items():
        if key == "update_id" or not isinstance(payload, dict):
            continue
        chat = payload.get("chat") or (payload.get("message") or {}).get("chat")
        if isinstance(chat, dict) and "id" in chat:
            return int(chat["id"])
        sender = payload.get("from")
        if isinstance(sender, dict) and "id" in sender:
            return int(sender["id"])
    return None


class RoundRobinDelivery:
    """Pushes the first bot's pending updates to `targets` until stopped."""

    def __init__(
        self, emulator: BotApiEmulator, targets: list[str], *, retry_delay: float = 0.05
    ) -> None:
        if not targets:
            raise ValueError("at least one target")
        self._emulator = emulator
        self.targets = list(targets)
        self._retry_delay = retry_delay
        self._turn = itertools.count()
        self._task: asyncio.Task[None] | None = None
        self.delivered: list[tuple[int, str]] = []  # (update_id, target), in delivery order
        self.failures = 0
        self.most_in_flight = 0
        self.last_error_message: str | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        account = self._emulator.world.bot()
        updates = account.updates
        in_flight: dict[int, asyncio.Task[None]] = {}  # update_id → its delivery
        busy_chats: set[int] = set()
        async with aiohttp.ClientSession() as http:
            try:
                while True:
                    limit = account.webhook.max_connections
                    for update in updates.peek(len(updates)):
                        if len(in_flight) >= limit:
                            break
                        update_id = int(update["update_id"])
                        chat = chat_of(update)
                        if update_id in in_flight or (chat is not None and chat in busy_chats):
                            continue
                        if chat is not None:
                            busy_chats.add(chat)
                        in_flight[update_id] = asyncio.create_task(
                            self._deliver(http, account, update, chat, busy_chats)
                        )
                    self.most_in_flight = max(self.most_in_flight, len(in_flight))
                    for update_id in [u for u, task in in_flight.items() if task.done()]:
                        in_flight.pop(update_id).result()
                    waits = [asyncio.ensure_future(updates.notifier.wait()), *in_flight.values()]
                    await asyncio.wait(waits, timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
                    waits[0].cancel()
            finally:
                for task in in_flight.values():
                    task.cancel()

    async def _deliver(
        self,
        http: aiohttp.ClientSession,
        account: BotAccount,
        update: dict[str, Any],
        chat: int | None,
        busy_chats: set[int],
    ) -> None:
        """POST until a 2xx, then take the update off the queue and free its chat."""
        try:
            while True:
                target = self.targets[next(self._turn) % len(self.targets)]
                headers = {SECRET_HEADER: account.webhook.secret_token or ""}
                try:
                    async with http.post(target, json=update, headers=headers) as response:
                        await response.read()
                        ok = 200 <= response.status < 300
                        error = f"Wrong response from the webhook: {response.status}"
                except aiohttp.ClientError as exc:
                    ok, error = False, f"Connection failed: {type(exc).__name__}"
                if ok:
                    update_id = int(update["update_id"])
                    account.updates.remove(update_id)
                    self.delivered.append((update_id, target))
                    return
                self.failures += 1
                self.last_error_message = error
                account.webhook.last_error_message = error
                account.webhook.last_error_date = int(time.time())
                await asyncio.sleep(self._retry_delay)
        finally:
            if chat is not None:
                busy_chats.discard(chat)
