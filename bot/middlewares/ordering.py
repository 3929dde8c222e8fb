"""Handle the updates of one chat strictly one after another.

aiogram's polling runs updates as concurrent tasks; a double tap or a fast typist would
otherwise race on the same draft (read-modify-write). A lock per chat, held only in memory and
dropped when nobody waits for it, keeps them in order. (Several bot processes polling the same
token is not a supported deployment: Telegram hands each update to one poller anyway.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update


class ChatOrderingMiddleware(BaseMiddleware):
    """Outer update middleware: one update per chat at a time, in arrival order."""

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiters: dict[int, int] = {}

    @staticmethod
    def _chat_key(update: Update) -> int | None:
        if update.message is not None:
            return update.message.chat.id
        if update.edited_message is not None:  # after the message it edits, never beside it
            return update.edited_message.chat.id
        if update.callback_query is not None:
            cq = update.callback_query
            if cq.message is not None:
                return cq.message.chat.id
            return cq.from_user.id
        if update.my_chat_member is not None:
            return update.my_chat_member.chat.id
        return None

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        key = self._chat_key(event) if isinstance(event, Update) else None
        if key is None:
            return await handler(event, data)
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiters[key] = self._waiters.get(key, 0) + 1
        try:
            async with lock:
                return await handler(event, data)
        finally:
            self._waiters[key] -= 1
            if self._waiters[key] == 0:
                del self._waiters[key]
                self._locks.pop(key, None)

    @property
    def active_chats(self) -> int:
        """How many chats hold or wait for a lock (for tests: must drop back to zero)."""
        return len(self._locks)
