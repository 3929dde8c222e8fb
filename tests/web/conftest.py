"""The web channel served by the real app (`OfflineBot` with `web=True`: the Telegram bot
polls the emulator beside it, as `python -m bot run` does with WEB_PORT set), and cadres who
speak its HTTP API as the page does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from bot.app import FeatureOptions
from bot.harness.offline import OfflineBot
from bot.harness.web_client import WebCadre

POW_FOR_TESTS = 2000  # solved in milliseconds; production asks for about a second's work


@pytest.fixture
async def web_bot(
    tmp_path: Path, migrated_data_dir: Callable[[Path], Path]
) -> AsyncIterator[OfflineBot]:
    offline = await OfflineBot.start(
        migrated_data_dir(tmp_path / "data"),
        web=True,
        options=FeatureOptions(digest_loop=False, retention_job=False),
        web_pow_max_number=POW_FOR_TESTS,
        web_session_actions_per_minute=600,
    )
    try:
        yield offline
    finally:
        await offline.close()


@pytest.fixture
async def http(web_bot: OfflineBot) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=web_bot.web_url, timeout=30) as client:
        yield client


@pytest.fixture
def new_cadre(http: httpx.AsyncClient) -> Callable[..., WebCadre]:
    def make(**kwargs: object) -> WebCadre:
        return WebCadre(http, **kwargs)  # type: ignore[arg-type]

    return make
