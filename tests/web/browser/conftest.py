"""The real page in the system's headless Chromium, against the real app serving the web
channel (`OfflineBot` with `web=True`).

One app, one browser and one log capture for the whole module, all on the module's event
loop: starting Chromium and the app once keeps the module fast on a loaded machine. Each
test opens its own browser context (a phone: 375×667, touch, zh-CN), so no test sees another
one's tabs or storage.

Where Chromium or Playwright is missing the tests skip with the reason; under CI=true they
fail instead (`tests/web/browser/support.py`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

from bot.app import FeatureOptions
from bot.harness.offline import OfflineBot
from tests.conftest import copy_sqlite_template
from tests.web.browser.support import CHROMIUM, LogRecords, phone_of, require_browser
from tests.web.conftest import POW_FOR_TESTS

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def module_logs() -> Iterator[LogRecords]:
    """The root logger at DEBUG for the module, every record kept."""
    root = logging.getLogger()
    handler = LogRecords()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    module_logs: LogRecords,
) -> AsyncIterator[OfflineBot]:
    """The app with the web channel on a free local port; a small proof of work."""
    require_browser()
    data_dir = tmp_path_factory.mktemp("browser") / "data"
    copy_sqlite_template(sqlite_template, data_dir / "qingfeng.db")
    offline = await OfflineBot.start(
        data_dir,
        web=True,
        options=FeatureOptions(digest_loop=False, retention_job=False),
        web_pow_max_number=POW_FOR_TESTS,
        web_session_actions_per_minute=600,
    )
    try:
        yield offline
    finally:
        await offline.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def phone(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh phone, 375 px wide."""
    async with phone_of(browser, 375, 667) as context:
        yield context
