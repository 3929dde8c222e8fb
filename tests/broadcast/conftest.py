"""A broadcast world: a migrated database with subscribers, the emulator with those users, and
a sender `Bot` without the retry middleware (as `bot.broadcast.runtime` builds it).

The emulator enforces Telegram's real limits on a frozen virtual clock; a sender paced with
`world.time` (see `bot.harness.virtual_pacing`) moves that clock instead of sleeping, so a
broadcast that takes Telegram minutes runs in seconds and is measured in Telegram's time."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

from bot.anonymity.crypto import TextCipher
from bot.anonymity.pseudonym import Pseudonymizer
from bot.broadcast.runtime import create_sender_bot
from bot.harness.emulator import BotApiEmulator, EmulatedUser, Limits, VirtualClock
from bot.harness.virtual_pacing import VirtualTime
from storage.database import Database
from storage.repositories import BroadcastRepository, SubscriberRepository

FIRST_USER = 5_000_000


class SendLog(BaseRequestMiddleware):
    """What the sender itself did, on the virtual clock: when it dispatched each sendMessage
    and when it learnt of each 429."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.dispatched: list[float] = []
        self.told_to_wait: list[tuple[float, float]] = []  # (when, retry_after)

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if method.__api_method__ != "sendMessage":
            return await make_request(bot, method)
        self.dispatched.append(self._clock())
        try:
            return await make_request(bot, method)
        except TelegramRetryAfter as exc:
            self.told_to_wait.append((self._clock(), float(exc.retry_after)))
            raise


@dataclass
class BroadcastWorld:
    db: Database
    emu: BotApiEmulator
    token: str
    subscribers: SubscriberRepository
    broadcasts: BroadcastRepository
    pseudonymizer: Pseudonymizer
    time: VirtualTime
    send_log: SendLog
    users: list[EmulatedUser] = field(default_factory=list)
    bots: list[Bot] = field(default_factory=list)

    def sender_bot(self) -> Bot:
        bot = create_sender_bot(self.token, self.emu.base_url)
        bot.session.middleware(self.send_log)
        bot.session.middleware(self.time.in_transit)
        self.bots.append(bot)
        return bot

    def hash_of(self, user: EmulatedUser) -> str:
        return self.pseudonymizer.of("subscriber", user.id)

    async def add_users(self, count: int, *, locale: str = "zh-CN") -> list[EmulatedUser]:
        start = FIRST_USER + len(self.users)
        added = [self.emu.user(user_id=start + i, started=True) for i in range(count)]
        for user in added:
            await self.subscribers.subscribe(user.id, locale)
        self.users.extend(added)
        return added

    @staticmethod
    def copies(users: Iterable[EmulatedUser]) -> dict[int, int]:
        return {user.id: len(user.chat.messages) for user in users}


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[BroadcastWorld]:
    db = await Database.connect(f"sqlite+aiosqlite:///{os.fspath(tmp_path)}/qf.db")
    await db.upgrade()
    cipher = TextCipher(b"k" * 32)
    pseudonymizer = Pseudonymizer(b"s" * 32)
    clock = VirtualClock(frozen=True)
    emu = BotApiEmulator(limits=Limits(), clock=clock)
    await emu.start()
    token = emu.create_bot()
    virtual_time = VirtualTime(clock)
    world = BroadcastWorld(
        db=db,
        emu=emu,
        token=token,
        subscribers=SubscriberRepository(db, cipher, pseudonymizer),
        broadcasts=BroadcastRepository(db, cipher),
        pseudonymizer=pseudonymizer,
        time=virtual_time,
        send_log=SendLog(virtual_time.now),
    )
    try:
        yield world
    finally:
        for bot in world.bots:
            await bot.session.close()
        await emu.stop()
        await db.dispose()
        await asyncio.sleep(0)
