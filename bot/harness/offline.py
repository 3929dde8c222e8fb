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
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from pydantic import SecretStr

from bot.app import (
    FeatureOptions,
    Services,
    build_fsm_storage,
    build_services,
    build_web_channel,
    create_bot,
    create_dispatcher,
)
from bot.config import Settings, load_settings
from bot.harness.emulator import BotApiEmulator, EmulatedUser, Limits, VirtualClock
from bot.harness.virtual_pacing import VirtualTime
from bot.web.feature import WebFeature


class PlainHttpSession(AiohttpSession):
    """aiogram's own session; only `close` skips the 250 ms wait meant for TLS sockets (the
    emulator speaks plain HTTP on localhost), which every stop and restart would pay."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


@dataclass
class OfflineBot:
    """An emulator and one running bot process (which can be restarted)."""

    emulator: BotApiEmulator
    settings: Settings
    now: Callable[[], datetime] | None = None
    services: Services | None = None
    bot: Bot | None = None
    dispatcher: Dispatcher | None = None
    #: When set, the bot's pacing and retries run on the emulator's clock (see virtual_pacing).
    virtual_time: VirtualTime | None = None
    _polling: asyncio.Task[None] | None = None
    _users: int = 0
    #: What tests change about the features (e.g. a shorter broadcast progress interval).
    options: FeatureOptions = field(default_factory=FeatureOptions)
    #: Serve the web channel beside the bot (on a free local port), as `run` with WEB_PORT.
    serve_web: bool = False
    web: WebFeature | None = None

    @classmethod
    async def start(
        cls,
        data_dir: Path,
        *,
        limits: Limits | None = None,
        now: Callable[[], datetime] | None = None,
        virtual_pacing: bool = False,
        options: FeatureOptions | None = None,
        web: bool = False,
        **overrides: Any,
    ) -> OfflineBot:
        """Start the emulator and the bot on DATA_DIR (SQLite there unless overridden).

        With `virtual_pacing`, the emulator's clock is frozen and only the bot's own waits for
        Telegram's ceiling move it (instead of sleeping): a crowd that takes Telegram a minute
        runs in seconds, and what the emulator counts does not depend on the machine's speed.
        """
        clock = VirtualClock(frozen=virtual_pacing)
        emulator = BotApiEmulator(limits=limits or Limits(), clock=clock)
        await emulator.start()
        token = emulator.create_bot(username="qingfeng_bot", first_name="清风")
        overrides.setdefault("data_dir", data_dir)
        settings = load_settings(
            bot_token=SecretStr(token), telegram_api_url=emulator.base_url, **overrides
        )
        offline = cls(
            emulator=emulator,
            settings=settings,
            now=now,
            virtual_time=VirtualTime(clock) if virtual_pacing else None,
            options=options or FeatureOptions(),
            serve_web=web,
        )
        await offline.start_bot()
        return offline

    async def start_bot(self) -> None:
        """Build the app and start long polling (as `python -m bot run` does)."""
        # The emulator counts a long poll as it starts; its call log only when it returns.
        updates = self.emulator.world.bot().updates  # the first bot: the one this runs
        polls_before = updates.newest_poll
        self.services = await build_services(self.settings, now=self.now, options=self.options)
        api = TelegramAPIServer.from_base(self.settings.telegram_api_url)
        self.bot = create_bot(self.settings, session=PlainHttpSession(api=api))
        if self.virtual_time is not None:
            self.virtual_time.pace(self.bot)
        storage = build_fsm_storage(self.services)
        self.dispatcher = create_dispatcher(self.services, storage=storage)
        if self.serve_web:
            self.web = build_web_channel(self.services, storage)
            await self.web.serve("127.0.0.1", 0)
        self._polling = asyncio.create_task(
            self.dispatcher.start_polling(
                self.bot, handle_signals=False, close_bot_session=True, polling_timeout=1
            )
        )
        # The bot is ready once it has asked for updates the first time: aiogram runs the
        # start-up hooks (migrations, menus, jobs) before its first poll. A slow machine only
        # makes this wait longer; polling that died before its first poll is an error. (Not
        # "once the first poll returned": with nothing to deliver, that is a second later.)
        while updates.newest_poll <= polls_before:
            if self._polling.done():
                self._polling.result()
                raise RuntimeError("polling stopped before the first getUpdates")
            await asyncio.sleep(0.01)

    async def write_drafts(self) -> None:
        """Have the FSM storage write what it holds behind now (for tests reading its table;
        the bot itself writes it a moment later)."""
        if self.dispatcher is not None:
            flush = getattr(self.dispatcher.storage, "flush", None)
            if flush is not None:
                await flush()

    async def stop_bot(self) -> None:
        """Stop the web channel and polling and close the app, as SIGTERM would (the web
        channel first: its last steps go to the storage that polling closes)."""
        if self.web is not None:
            await self.web.stop()
            self.web = None
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

    @property
    def web_url(self) -> str:
        """The web channel's base URL (only with `web=True`)."""
        if self.web is None or self.web.port is None:
            raise RuntimeError("the web channel is not being served")
        return f"http://127.0.0.1:{self.web.port}"

    def new_user(self, **kwargs: Any) -> EmulatedUser:
        """A fresh emulated Telegram user with a private chat to the bot."""
        self._users += 1
        kwargs.setdefault("first_name", f"用户{self._users}")
        return self.emulator.user(**kwargs)
