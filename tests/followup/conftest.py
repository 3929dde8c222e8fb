"""Fixtures for follow-up tests: the real bot against the emulator with an admin configured,
no background digest loop (its messages would land mid-conversation)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.harness.emulator import Limits
from bot.harness.offline import OfflineBot

ADMIN_ID = 900_501


@pytest.fixture
async def staffed(tmp_path: Path, manual_digests: None) -> AsyncIterator[OfflineBot]:
    running = await OfflineBot.start(
        tmp_path / "data", limits=Limits.unlimited(), admin_ids=[ADMIN_ID]
    )
    try:
        yield running
    finally:
        await running.close()
