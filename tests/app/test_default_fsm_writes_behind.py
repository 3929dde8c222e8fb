"""By default a draft's step reaches `fsm_entries` a moment later, in a batch; a clean stop
writes what waits (so a cadre resumes after a restart)."""

from __future__ import annotations

from pathlib import Path

from aiogram.fsm.storage.base import StorageKey
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.app import build_fsm_storage, build_services
from bot.config import load_settings
from storage.fsm import SqlStorage
from storage.tables import fsm_entries


async def _rows(storage: SqlStorage) -> int:
    async with storage._db.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(fsm_entries)) or 0)


async def test_the_default_storage_writes_steps_behind_and_keeps_them_on_stop(
    tmp_path: Path,
) -> None:
    settings = load_settings(data_dir=tmp_path, bot_token=SecretStr("42:TEST"))
    assert settings.fsm_write_delay > 0
    services = await build_services(settings)
    try:
        storage = build_fsm_storage(services)
        assert isinstance(storage, SqlStorage)
        key = StorageKey(bot_id=42, chat_id=7, user_id=7)
        await storage.set_data(key, {"step": 1})
        assert await storage.get_data(key) == {"step": 1}  # read at once from the cache
        await storage.close()  # a clean stop writes what waits
        assert storage.batches == 1  # the step went in a batch, not in a write of its own
        assert await _rows(storage) == 1
    finally:
        await services.close()
