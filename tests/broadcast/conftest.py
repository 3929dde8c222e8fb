"""A broadcast world: a migrated database with subscribers, the emulator with those users, and
a sender `Bot` without the retry middleware (as `bot.broadcast.runtime` builds it)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiogram import Bot

from bot.anonymity.crypto import TextCipher
from bot.anonymity.pseudonym import Pseudonymizer
from bot.broadcast.runtime import create_sender_bot
from bot.emulator import BotApiEmulator, EmulatedUser, Limits
from storage.database import Database
from storage.repositories import BroadcastRepository, SubscriberRepository

FIRST_USER = 5_000_000


@dataclass
class BroadcastWorld:
    db: Database
    emu: BotApiEmulator
    token: str
    subscribers: SubscriberRepository
    broadcasts: BroadcastRepository
    pseudonymizer: Pseudonymizer
    users: list[EmulatedUser] = field(default_factory=list)
    bots: list[Bot] = field(default_factory=list)

    def sender_bot(self) -> Bot:
        bot = create_sender_bot(self.token, self.emu.base_url)
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
    emu = BotApiEmulator(limits=Limits().scaled(10))
    await emu.start()
    token = emu.create_bot()
    world = BroadcastWorld(
        db=db,
        emu=emu,
        token=token,
        subscribers=SubscriberRepository(db, cipher, pseudonymizer),
        broadcasts=BroadcastRepository(db, cipher),
        pseudonymizer=pseudonymizer,
    )
    try:
        yield world
    finally:
        for bot in world.bots:
            await bot.session.close()
        await emu.stop()
        await db.dispose()
        await asyncio.sleep(0)
