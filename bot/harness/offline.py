"""The whole bot, offline: the local Bot API emulator plus the real app, polling over HTTP.

`make demo`, the end-to-end tests and the benchmarks share this harness, so what they
exercise is exactly what runs in production: the real aiogram session, the real dispatcher,
the real storage — only the Telegram servers are replaced by `bot.harness.emulator`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from pydantic import SecretStr

from bot.app import Services, build_services, create_bot, create_dispatcher
from bot.config import Settings, load_settings
from bot.harness.emulator import BotApiEmulator, EmulatedUser, Limits


@dataclass
class OfflineBot:
    """An emulator and one running bot process (which can be restarted)."""

    emulator: BotApiEmulator
    settings: Settings
    now: Callable[[], datetime] | None = None
    services: Services | None = None
    bot: Bot | None = None
    dispatcher: Dispatcher | None = None
    _polling: asyncio.Task[None] | None = None
    _users: int = 0
    extra_workflow: dict[str, Any] = field(default_factory=dict)

    @classmethod
    async def start(
        cls,
        data_dir: Path,
        *,
        limits: Limits | None = None,
        now: Callable[[], datetime] | None = None,
        **overrides: Any,
    ) -> OfflineBot:
        """Start the emulator and the bot on DATA_DIR (SQLite there unless overridden)."""
        emulator = BotApiEmulator(limits=limits or Limits())
        await emulator.start()
        token = emulator.create_bot(username="qingfeng_bot", first_name="清风")
        overrides.setdefault("data_dir", data_dir)
        settings = load_settings(
            bot_token=SecretStr(token), telegram_api_url=emulator.base_url, **overrides
        )
        offline = cls(emulator=emulator, settings=settings, now=now)
        await offline.start_bot()
        return offline

    async def start_bot(self) -> None:
        """Build the app and start long polling (as `python -m bot run` does)."""
        polls_before = self.emulator.calls.count("getUpdates")
        self.services = await build_services(self.settings, now=self.now)
        self.services.extra.update(self.extra_workflow)
        self.bot = create_bot(self.settings)
        self.dispatcher = create_dispatcher(self.services)
        self._polling = asyncio.create_task(
            self.dispatcher.start_polling(
                self.bot, handle_signals=False, close_bot_session=True, polling_timeout=1
            )
        )
        # The bot is ready once it has asked for updates the first time: aiogram runs the
        # start-up hooks (migrations, menus, jobs) before its first poll. A slow machine only
        # makes this wait longer; polling that died before its first poll is an error.
        while self.emulator.calls.count("getUpdates") <= polls_before:
            if self._polling.done():
                self._polling.result()
                raise RuntimeError("polling stopped before the first getUpdates")
            await asyncio.sleep(0.01)

    async def stop_bot(self) -> None:
        """Stop polling and close the app, as SIGTERM would."""
        if self._polling is not None and self.dispatcher is not None:
            with contextlib.suppress(RuntimeError):
                await self.dispatcher.stop_polling()
            with contextlib.suppress(asyncio.CancelledError):
                await self._polling
        self._polling = None
        if self.services is not None:
            await self.services.close()
        self.services = None

    async def restart_bot(self) -> None:
        await self.stop_bot()
        await self.start_bot()

    async def close(self) -> None:
        await self.stop_bot()
        await self.emulator.stop()

    def new_user(self, **kwargs: Any) -> EmulatedUser:
        """A fresh emulated Telegram user with a private chat to the bot."""
        self._users += 1
        kwargs.setdefault("first_name", f"用户{self._users}")
        return self.emulator.user(**kwargs)
