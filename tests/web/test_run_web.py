"""`python -m bot web`: the web channel alone, with no BOT_TOKEN, until it is told to stop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path

import httpx
from pydantic import SecretStr

from bot.app import run_polling, run_web
from bot.config import load_settings
from bot.harness.emulator import BotApiEmulator
from bot.harness.web_client import WebCadre
from tests.web.conftest import POW_FOR_TESTS


async def test_the_web_channel_runs_alone_without_a_token(
    tmp_path: Path, migrated_data_dir: Callable[[Path], Path]
) -> None:
    settings = load_settings(
        data_dir=migrated_data_dir(tmp_path / "data"), web_pow_max_number=POW_FOR_TESTS
    )
    assert settings.bot_token is None
    stop = asyncio.Event()
    ports: asyncio.Queue[int] = asyncio.Queue()
    serving = asyncio.create_task(run_web(settings, stop=stop, ready=ports.put_nowait, port=0))
    try:
        port = await asyncio.wait_for(ports.get(), 60)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            page = await http.get("/")
            assert page.status_code == 200
            assert "set-cookie" not in page.headers
            cadre = WebCadre(http)
            await cadre.open()
            await cadre.act({"type": "start"})
            await cadre.press_act("go")
            assert cadre.current().screen["progress"]["position"] == 1
    finally:
        stop.set()
        await asyncio.wait_for(serving, 60)
    assert serving.exception() is None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_run_serves_the_web_channel_beside_the_bot_when_web_port_is_set(
    tmp_path: Path, migrated_data_dir: Callable[[Path], Path]
) -> None:
    emulator = BotApiEmulator()
    await emulator.start()
    port = _free_port()
    settings = load_settings(
        data_dir=migrated_data_dir(tmp_path / "data"),
        bot_token=SecretStr(emulator.create_bot(username="qingfeng_bot")),
        telegram_api_url=emulator.base_url,
        web_port=port,
        web_pow_max_number=POW_FOR_TESTS,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(run_polling(settings, stop=stop))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            deadline = asyncio.get_running_loop().time() + 60
            while True:  # the bot builds its services first, then listens
                try:
                    page = await http.get("/healthz")
                    break
                except httpx.ConnectError:
                    if running.done() or asyncio.get_running_loop().time() > deadline:
                        raise
                    await asyncio.sleep(0.05)
            assert page.json() == {"ok": True}
            user = emulator.user(first_name="用户")
            await user.send_command("start")
            await user.wait_for_message(timeout=60)
    finally:
        stop.set()
        await asyncio.wait_for(running, 60)
        await emulator.stop()
