"""Hold updates in one queue rather than letting them all reach the storage at once.

aiogram's polling (and webhook handling in the background) starts a task for every update as
it arrives. When a crowd arrives faster than the bot can work, hundreds of handlers then ask
the connection pools at once: Redis's pool refuses the 101st ("Too many connections") and
SQLAlchemy's gives up after 30 s, and those updates are lost. Waiting here instead has no
timeout and is first come, first served; the press deadline (outside this) still answers
every waiting button press in time, and the chat ordering (outside too) means a chat's later
updates do not take a place while its earlier one runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject

#: Updates handled at once: well under Redis's default pool (100 connections), enough to keep
#: the database's pool busy while others wait on Telegram.
DEFAULT_CONCURRENT_UPDATES = 64


class ConcurrentUpdates(BaseMiddleware):
    """Outer update middleware: at most `limit` updates in their handlers at once."""

    def __init__(self, limit: int = DEFAULT_CONCURRENT_UPDATES) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._slots = asyncio.Semaphore(limit)
        self._running = 0
        self.most_running = 0

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        async with self._slots:
            self._running += 1
            self.most_running = max(self.most_running, self._running)
            try:
                return await handler(event, data)
            finally:
                self._running -= 1

    @property
    def running(self) -> int:
        """Updates in their handlers now (for tests and logs)."""
        return self._running
