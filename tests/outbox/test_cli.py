"""`python -m bot digest --print/--send` and `python -m bot export`, run in-process."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.harness.emulator import BotApiEmulator, Limits, VirtualClock

ADMIN = 640_001


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings for the CLI come from the environment, as in production."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    data = tmp_path / "data"
    monkeypatch.setenv("DATA_DIR", str(data))
    monkeypatch.setenv("ADMIN_IDS", str(ADMIN))
    monkeypatch.setenv("DIGEST_SCHEDULE", "daily 09:00")
    monkeypatch.setenv("TIMEZONE", "Asia/Shanghai")
    for name in ("BOT_TOKEN", "TELEGRAM_API_URL", "DATABASE_URL", "DIGEST_WEBHOOKS"):
        monkeypatch.delenv(name, raising=False)
    return data


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(clock=VirtualClock(frozen=True), limits=Limits.unlimited()) as emu:
        yield emu


async def run_cli(*argv: str) -> int:
    """`main` runs its own event loop, so it runs in a thread beside the test's."""
    return await asyncio.to_thread(main, list(argv))


async def test_print_shows_a_periods_digest(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_cli("digest", "--print", "--period", "2026-11-20") == 0
    out = capsys.readouterr().out
    assert "2026-11-20" in out.splitlines()[0]


async def test_print_refuses_a_bad_period(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_cli("digest", "--print", "--period", "yesterday") == 2
    assert "bad period" in capsys.readouterr().err


async def test_send_needs_a_token(environment: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert await run_cli("digest", "--send") == 2
    assert "BOT_TOKEN" in capsys.readouterr().err


async def test_send_delivers_the_due_digest_once_and_print_shows_what_was_sent(
    environment: Path,
    emulator: BotApiEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("BOT_TOKEN", emulator.create_bot())
    monkeypatch.setenv("TELEGRAM_API_URL", emulator.base_url)
    admin = emulator.user(user_id=ADMIN, started=True)

    assert await run_cli("digest", "--send") == 0
    sent = re.search(r"queued: (daily:\d{4}-\d{2}-\d{2}); sent 1,", capsys.readouterr().out)
    assert sent, "the latest complete period is queued and sent to the one admin"
    key = sent.group(1)
    kinds = [m.kind for m in admin.bot_messages]
    assert kinds[-1] == "photo" and "text" in kinds

    assert await run_cli("digest", "--send") == 0
    assert "queued: nothing new; sent 0" in capsys.readouterr().out
    assert [m.kind for m in admin.bot_messages] == kinds

    assert await run_cli("digest", "--print") == 0
    printed = capsys.readouterr().out
    assert key.removeprefix("daily:") in printed.splitlines()[0]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_export_writes_the_file(
    environment: Path, tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / f"export.{fmt}"
    assert await run_cli("export", "--format", fmt, "--out", str(out)) == 0
    assert "wrote 0 submission(s)" in capsys.readouterr().out
    assert out.is_file() and out.stat().st_size > 0
