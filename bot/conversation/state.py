"""Conversation state kept in this process's memory: for tests and offline tools. A real
channel keeps it in its pseudonymous, encrypted, expiring storage (Telegram: the FSM)."""

from __future__ import annotations

import copy
from typing import Any

from bot.conversation.model import ConversationKey


class MemoryState:
    """One conversation's state (a deep copy goes in and comes out, like a real store's
    JSON round trip)."""

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}

    async def load(self) -> dict[str, Any]:
        return copy.deepcopy(self._data)

    async def save(self, data: dict[str, Any]) -> None:
        self._data = copy.deepcopy(data)

    async def clear(self) -> None:
        self._data = {}


class MemoryStates:
    """Every conversation's state by key; survives a new core instance, as storage does."""

    def __init__(self) -> None:
        self._states: dict[ConversationKey, MemoryState] = {}

    def of(self, key: ConversationKey) -> MemoryState:
        return self._states.setdefault(key, MemoryState())

    async def stored(self, key: ConversationKey) -> dict[str, Any]:
        return await self.of(key).load()
