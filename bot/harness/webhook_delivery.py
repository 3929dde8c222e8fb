"""Deliver the emulator's queued updates to webhook instances as Telegram does: one update per
POST with the secret-token header, in order, retrying on non-2xx or a refused connection, and
round-robin across local instances (per update, so one chat's updates land on different ones).

One request in flight at a time (the simplest `max_connections` that keeps every chat in
order); the emulator's own setWebhook still requires https and Telegram's ports, so tests name
the local http URLs here.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools

import aiohttp

from bot.harness.emulator import BotApiEmulator

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name


class RoundRobinDelivery:
    """Pushes the first bot's pending updates to `targets`, one at a time, until stopped."""

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
        self.delivered: list[tuple[int, str]] = []  # (update_id, target) for tests
        self.failures = 0

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
        async with aiohttp.ClientSession() as http:
            while True:
                pending = updates.peek(1)
                if not pending:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(updates.notifier.wait(), timeout=0.5)
                    continue
                update = pending[0]
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
                    updates.confirm(update_id + 1)
                    self.delivered.append((update_id, target))
                else:
                    self.failures += 1
                    self.last_error_message = error
                    await asyncio.sleep(self._retry_delay)

    last_error_message: str | None = None
