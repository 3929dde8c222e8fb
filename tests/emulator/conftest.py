"""Fixtures: a running emulator on a frozen clock, a real aiogram Bot, and a raw HTTP client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.harness.emulator import BotApiEmulator, Limits, VirtualClock

#: 2025-06-15 12:00 UTC; frozen so dates, the 48 h rule and token buckets are exact.
START = 1_750_000_000.0


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=START, frozen=True)


@pytest.fixture
async def emulator(clock: VirtualClock) -> AsyncIterator[BotApiEmulator]:
    """Limits off by default; rate-limit tests set ``emulator.limits`` themselves."""
    async with BotApiEmulator(clock=clock, limits=Limits.unlimited()) as emu:
        yield emu


@pytest.fixture
def token(emulator: BotApiEmulator) -> str:
    return emulator.create_bot(username="qingfeng_bot", first_name="清风")


class PlainHttpSession(AiohttpSession):
    """aiogram's own session; only ``close`` skips the 250 ms wait meant for TLS sockets."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def bot_session(emulator: BotApiEmulator) -> AiohttpSession:
    return PlainHttpSession(api=TelegramAPIServer.from_base(emulator.base_url))


@pytest.fixture
async def bot(emulator: BotApiEmulator, token: str) -> AsyncIterator[Bot]:
    async with Bot(token, session=bot_session(emulator)) as client:
        yield client


@dataclass
class RawResponse:
    status: int
    body: dict[str, Any]

    @property
    def description(self) -> str:
        return str(self.body.get("description"))


class RawApi:
    """Plain HTTP against the emulator, to check wire-level behaviour without aiogram."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self.session = session
        self.base_url = base_url
        self.token = token

    def url(self, method: str, token: str | None = None) -> str:
        return f"{self.base_url}/bot{token or self.token}/{method}"

    async def _read(self, response: aiohttp.ClientResponse) -> RawResponse:
        return RawResponse(response.status, json.loads(await response.text()))

    async def form(
        self, method: str, fields: Mapping[str, Any] | None = None, *, token: str | None = None
    ) -> RawResponse:
        """POST urlencoded; non-string values are JSON-encoded, as aiogram does."""
        data = {
            key: value if isinstance(value, str) else json.dumps(value)
            for key, value in (fields or {}).items()
        }
        async with self.session.post(self.url(method, token), data=data) as response:
            return await self._read(response)

    async def json(self, method: str, body: Mapping[str, Any] | None = None) -> RawResponse:
        async with self.session.post(self.url(method), json=dict(body or {})) as response:
            return await self._read(response)

    async def get(self, method: str, query: Mapping[str, str] | None = None) -> RawResponse:
        async with self.session.get(self.url(method), params=dict(query or {})) as response:
            return await self._read(response)

    async def multipart(self, method: str, data: aiohttp.FormData) -> RawResponse:
        async with self.session.post(self.url(method), data=data) as response:
            return await self._read(response)


@pytest.fixture
async def raw(emulator: BotApiEmulator, token: str) -> AsyncIterator[RawApi]:
    async with aiohttp.ClientSession() as session:
        yield RawApi(session, emulator.base_url, token)
