"""End-to-end fixtures: the real bot, polling through aiogram's HTTP session, against the
local Bot API emulator — no mocks between the two."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.harness.emulator import Limits
from bot.harness.offline import OfflineBot

StartOffline = Callable[..., Awaitable[OfflineBot]]


@pytest.fixture
async def start_offline(
    tmp_path: Path, migrated_data_dir: Callable[[Path], Path]
) -> AsyncIterator[StartOffline]:
    """Start the emulator and the bot with settings overrides; everything is closed after.

    The SQLite database in DATA_DIR starts as a copy of the migrated template (unless the
    test names another database), so start-up does not run every migration again."""
    started: list[OfflineBot] = []

    async def start(*, limits: Limits | None = None, **overrides: Any) -> OfflineBot:
        data_dir = tmp_path / f"data{len(started)}"
        if "database_url" not in overrides:
            migrated_data_dir(data_dir)
        offline = await OfflineBot.start(data_dir, limits=limits or Limits.unlimited(), **overrides)
        started.append(offline)
        return offline

    yield start
    for offline in started:
        await offline.close()


@pytest.fixture
async def offline(start_offline: StartOffline) -> OfflineBot:
    return await start_offline()
