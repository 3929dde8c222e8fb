"""The page as a cadre uses it: tap an option, type an answer, wait for the reply.

It goes by the page's stable hooks (listed at the top of bot/web/static/chat.js) and waits on
conditions only: `body.busy` is set while an action is on its way, so "the page is idle"
means every answer has arrived and been drawn.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Dialog, Locator, Page

CHROMIUM = "/usr/bin/chromium"
RECEIPT = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}(?:-[0-9A-HJKMNP-TV-Z]{4}){4}")
RESUME_CODE = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}(?:-[0-9A-HJKMNP-TV-Z]{4}){3}")
# A phone's browser as WeChat shows it, with a marker the audit looks for.
USER_AGENT = (
    "Mozilla/5.0 (Linux; Android 9; QF-Audit-Phone Build/PPR1) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/74.0.3729.136 Mobile Safari/537.36 MicroMessenger/7.0.10 QfAuditUA/1"
)


class LogRecords(logging.Handler):
    """Every log line of the module, formatted as the bot would write it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def require_browser() -> None:
    """Skip (with the reason) without Chromium or Playwright; fail instead under CI=true."""
    reason = None
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing (Debian: apt-get install chromium)"
    elif importlib.util.find_spec("playwright") is None:
        reason = "Playwright for Python is not installed (pip install playwright)"
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


@dataclass
class Chat:
    """One tab of the page, and what went wrong in it (console errors, script errors,
    dialogs the page's own code did not open)."""

    page: Page
    problems: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("dialog", self._dialog)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    async def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        await dialog.dismiss()

    async def open(self, url: str) -> None:
        await self.page.goto(url)
        await self.idle()

    async def idle(self) -> None:
        """Every action answered and drawn."""
        await self.page.wait_for_selector("body.ready:not(.busy)")

    @property
    def log(self) -> Locator:
        return self.page.locator("#log")

    @property
    def current(self) -> Locator:
        """The newest bot bubble that still has options: the screen to answer."""
        return self.page.locator(".bubble.bot[data-ref].has-chips").last

    def chip(self, act: str, nth: int = 0) -> Locator:
        return self.current.locator(f'.chip[data-act="{act}"]').nth(nth)

    async def tap(self, act: str, nth: int = 0) -> str:
        """Tap an option of the current screen; returns its label."""
        chip = self.chip(act, nth)
        label = await chip.inner_text()
        await chip.tap()
        await self.idle()
        return label

    async def send(self, text: str) -> None:
        await self.page.fill("#text", text)
        await self.page.locator("#send").tap()
        await self.idle()

    async def question(self) -> str:
        """The current screen's question (its first line)."""
        body = await self.current.locator(".text").inner_text()
        return body.split("\n", 1)[0]

    async def progress(self) -> tuple[str, float]:
        """The top bar: its label (the part of the questionnaire, "2/5") and how far its bar
        is (0..1: the share of the questions seen)."""
        label = await self.page.locator("#progress-label").inner_text()
        value = await self.page.locator("#progress-bar").evaluate("bar => bar.value")
        return label, float(value)

    async def kind(self) -> str:
        """review, grid, multi, scale, single or typed: what the current screen asks for."""
        return str(
            await self.current.evaluate(
                """node => node.querySelector('.chip[data-act="sub"]') ? 'review'
                : node.querySelector('.grid') ? 'grid'
                : node.querySelector('.chip[data-act="tog"]') ? 'multi'
                : node.querySelector('.row.scale') ? 'scale'
                : node.querySelector('.chip[data-act="ans"]') ? 'single' : 'typed'"""
            )
        )

    async def typed_kind(self) -> str:
        return str(await self.page.locator("#text").get_attribute("inputmode"))

    async def overlay_text(self) -> str | None:
        overlay = self.page.locator(".overlay")
        if await overlay.count():
            return await overlay.inner_text()
        return None


@contextlib.asynccontextmanager
async def phone_of(browser: Browser, width: int, height: int) -> AsyncIterator[BrowserContext]:
    """A fresh phone of this screen size: its own storage, no cookies, no cache."""
    context = await browser.new_context(
        viewport={"width": width, "height": height},
        has_touch=True,
        is_mobile=True,
        locale="zh-CN",
        user_agent=USER_AGENT,
    )
    context.set_default_timeout(30_000)
    try:
        yield context
    finally:
        await context.close()
