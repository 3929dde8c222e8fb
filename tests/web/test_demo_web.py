"""The demo on the web channel: simulated cadres on the page reach their receipts and the
report counts them beside the Telegram ones; `demo --web` serves the page until stopped."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bot.harness.demo import run_demo, serve_web_demo
from bot.harness.offline import OfflineBot
from bot.harness.simulation import RECEIPT_PATTERN, Behaviour, Via, WebRespondent
from bot.harness.web_client import WebCadre

GUARD = 60.0  # seconds: a condition that has not come by then will not come


async def test_the_demo_counts_the_web_cadres_reports_beside_telegrams(
    tmp_path: Path,
    migrated_data_dir: Callable[[Path], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Two in Telegram, four on the page (straight, wandering, straight, resuming): six
    # reports, at least K, so today's digest shows its total.
    status = await run_demo(
        keep=migrated_data_dir(tmp_path / "demo"), cadres=2, web_cadres=4, seed=3
    )
    out = capsys.readouterr().out
    assert status == 0, out
    assert re.search(r"Telegram\s+2 reports from 2 cadres", out), out
    assert re.search(r"web page\s+4 reports from 4 cadres", out), out
    assert "Submissions stored: 6" in out
    assert re.search(r"Today's digest \(daily:[0-9-]+\) counts 6 reports", out), out


@pytest.mark.parametrize(
    "behaviour", [Behaviour.WANDERING, Behaviour.RESUMING, Behaviour.CANCELLING]
)
async def test_a_web_respondent_finishes_as_its_behaviour_says(
    web_bot: OfflineBot, behaviour: Behaviour
) -> None:
    assert web_bot.services is not None
    async with httpx.AsyncClient(base_url=web_bot.web_url, timeout=GUARD) as http:
        respondent = WebRespondent(
            WebCadre(http), web_bot.services.questionnaire, random.Random(5), behaviour
        )
        result = await respondent.run()
    stored = await web_bot.services.submissions.count()
    assert result.via is Via.WEB
    if behaviour is Behaviour.CANCELLING:
        assert result.cancelled and result.receipt is None
        assert stored == 0
        return
    assert result.receipt is not None and RECEIPT_PATTERN.fullmatch(result.receipt)
    assert result.receipt_deleted  # "I have saved it" took the receipt off the page
    assert stored == 1
    if behaviour is Behaviour.RESUMING:
        assert "reload" in result.actions
    else:
        assert "press edit" in result.actions


async def test_demo_web_serves_the_page_until_stopped(
    tmp_path: Path, migrated_data_dir: Callable[[Path], Path]
) -> None:
    data_dir = migrated_data_dir(tmp_path / "demo")
    stop = asyncio.Event()
    links: list[str] = []
    listening = asyncio.Event()

    def ready(link: str) -> None:
        links.append(link)
        listening.set()

    serving = asyncio.create_task(serve_web_demo(keep=data_dir, port=0, stop=stop, ready=ready))
    done, _ = await asyncio.wait(
        {serving, asyncio.create_task(listening.wait())},
        timeout=GUARD,
        return_when=asyncio.FIRST_COMPLETED,
    )
    assert serving not in done, serving.result() if serving.done() else None
    assert listening.is_set(), "the web demo did not start listening"
    link = links[0]
    assert re.fullmatch(r"http://127\.0\.0\.1:[0-9]+/", link)
    async with httpx.AsyncClient(timeout=GUARD) as http:
        page = await http.get(link)
        assert page.status_code == 200
        assert "data-config=" in page.text and "/static/chat.js" in page.text
        challenge = await http.post(link + "api/challenge", json={})
        assert challenge.status_code == 200
    qr = (data_dir / "web-demo-qr.png").read_bytes()
    assert qr.startswith(b"\x89PNG\r\n\x1a\n")

    stop.set()
    assert await asyncio.wait_for(serving, GUARD) == 0
    async with httpx.AsyncClient(timeout=GUARD) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(link)
