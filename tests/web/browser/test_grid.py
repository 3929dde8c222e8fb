"""A grid question in a real browser on the narrowest phone we support (320 px wide): the
table of chips fits without scrolling sideways, every chip is big enough to tap, the chips
wrap under their row's label, and the chosen one shows (to the eye and to a screen reader)
after the table is redrawn in place."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from bot.harness.offline import OfflineBot
from tests.web.browser.support import Chat, phone_of

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext

pytestmark = pytest.mark.asyncio(loop_scope="module")

NARROW = 320
MIN_TAP = 44

# Every chip of the current grid, and what sticks out: anything wider than the window, a
# chip outside its bubble or shorter than a finger, a chip not below its row's label.
LAYOUT = """node => {
  const doc = document.documentElement;
  const box = node.getBoundingClientRect();
  const problems = [];
  if (doc.scrollWidth > doc.clientWidth) problems.push('page ' + doc.scrollWidth);
  const page = document.body.scrollWidth;
  if (page > doc.clientWidth) problems.push('body ' + page);
  if (node.scrollWidth > node.clientWidth) problems.push('bubble ' + node.scrollWidth);
  const rows = node.querySelectorAll('.grid-row');
  for (const row of rows) {
    const label = row.querySelector('.grid-label').getBoundingClientRect();
    for (const chip of row.querySelectorAll('.chip')) {
      const r = chip.getBoundingClientRect();
      const name = row.getAttribute('data-number') + ':' + chip.getAttribute('data-v');
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5) problems.push('outside ' + name);
      if (r.height < 44) problems.push('short ' + name + ' ' + r.height);
      if (r.top < label.bottom - 0.5) problems.push('beside ' + name);
      if (chip.scrollWidth > chip.clientWidth + 1) problems.push('clipped ' + name);
    }
  }
  return {rows: rows.length, chips: node.querySelectorAll('.grid .chip').length, problems};
}"""


@pytest_asyncio.fixture(loop_scope="module")
async def narrow_phone(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A small, cheap phone: 320 px wide."""
    async with phone_of(browser, NARROW, 568) as context:
        yield context


async def layout(chat: Chat) -> dict[str, Any]:
    result: dict[str, Any] = await chat.current.evaluate(LAYOUT)
    return result


async def test_a_grid_fits_a_320_px_phone_and_shows_the_chosen_chip(
    served: OfflineBot, narrow_phone: BrowserContext
) -> None:
    chat = Chat(await narrow_phone.new_page())
    await chat.open(served.web_url + "/")
    await chat.tap("go")
    await chat.tap("ans")
    await chat.tap("ans")
    assert await chat.kind() == "grid"
    grid = chat.current
    ref = await grid.get_attribute("data-ref")
    assert await layout(chat) == {"rows": 10, "chips": 40, "problems": []}
    labels = await grid.locator(".grid-label").all_inner_texts()
    assert [label.split(".", 1)[0] for label in labels] == [str(n) for n in range(1, 11)]
    assert await grid.locator('.chip[aria-pressed="true"]').count() == 0

    mine = await chat.page.locator(".bubble.me").count()
    third = chat.current.locator(".grid-row").nth(2)
    often = third.locator('.chip[data-act="cell"][data-v="often"]')
    unselected = await often.evaluate("chip => getComputedStyle(chip).backgroundColor")
    await often.tap()
    await chat.idle()
    # Redrawn in place: the same screen, nothing said on the cadre's side.
    assert await chat.current.get_attribute("data-ref") == ref
    assert await chat.page.locator(".bubble.me").count() == mine
    third = chat.current.locator(".grid-row").nth(2)
    assert await third.get_attribute("class") == "grid-row required answered"
    pressed = third.locator('.chip[aria-pressed="true"]')
    assert await pressed.all_inner_texts() == ["经常"]
    assert await pressed.get_attribute("class") == "chip on"
    selected = await pressed.evaluate("chip => getComputedStyle(chip).backgroundColor")
    assert selected != unselected
    assert await third.locator('.chip[aria-pressed="false"]').count() == 3
    assert await chat.current.locator('.chip[aria-pressed="true"]').count() == 1
    assert await chat.current.locator(".grid-cells[role=group]").count() == 10
    assert (await layout(chat))["problems"] == []

    await chat.tap("fill")  # the rest: never
    assert await chat.current.get_attribute("data-ref") == ref
    assert await chat.current.locator(".grid-row.answered").count() == 10
    assert await chat.current.locator('.chip[aria-pressed="true"]').count() == 10
    assert await third.locator('.chip[aria-pressed="true"]').all_inner_texts() == ["经常"]
    bar = chat.page.locator("#progress-bar")
    before = float(await bar.evaluate("bar => bar.value"))
    done = await chat.tap("done")

    # Next: how much the problem met often weighs, 1 to 5, on one line under its label. The
    # grid answered stays above it without its chips, and the cadre's side says Done.
    assert await chat.kind() == "grid"
    assert await chat.page.locator(".bubble.me").count() == mine + 1
    assert await chat.page.locator(".bubble.me").last.inner_text() in done
    assert await chat.page.locator(".bubble.bot.retired .grid").count() == 0
    assert await chat.current.locator(".grid-cells.scale .chip").all_inner_texts() == [
        "1",
        "2",
        "3",
        "4",
        "5",
    ]
    assert await layout(chat) == {"rows": 1, "chips": 5, "problems": []}
    assert await bar.evaluate("bar => bar.max") == 1
    assert float(await bar.evaluate("bar => bar.value")) > before > 0
    await chat.current.locator('.chip[data-act="cell"][data-v="4"]').tap()
    await chat.idle()
    assert await chat.current.locator('.chip[aria-pressed="true"]').all_inner_texts() == ["4"]
    assert chat.problems == [] and chat.dialogs == []
