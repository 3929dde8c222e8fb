"""Web sessions reach storage in batches, but a session always reads its own last step, a
deletion is written at once, and a clean stop leaves nothing waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage

from bot.app import FeatureOptions
from bot.harness.offline import OfflineBot
from bot.harness.web_client import SESSION_HEADER, WebCadre
from bot.web.sessions import WriteBehind
from tests.web.conftest import POW_FOR_TESTS


def key(n: int) -> StorageKey:
    return StorageKey(bot_id=0, chat_id=0, user_id=0, destiny=f"web:{n}")


class CountingStorage(MemoryStorage):
    """Memory storage that counts batches and single writes, and can be told to fail or
    to hold a batch until released."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[StorageKey]] = []
        self.singles = 0
        self.fail_next = False
        self.hold: asyncio.Event | None = None
        self.written = asyncio.Event()

    async def set_many(self, items: list[tuple[StorageKey, dict[str, Any]]]) -> None:
        if self.hold is not None:
            await self.hold.wait()
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("database gone for a moment")
        self.batches.append([k for k, _data in items])
        for k, data in items:
            await super().set_data(k, data)
        self.written.set()

    async def set_data(self, key: StorageKey, data: Any) -> None:
        self.singles += 1
        await super().set_data(key, data)


async def test_many_steps_become_one_batch_and_are_read_back_before_it() -> None:
    storage = CountingStorage()
    writes = WriteBehind(storage, delay=60)  # no batch on its own during the test
    for n in range(20):
        writes.put(key(n % 5), {"step": n})
    assert writes.peek(key(4)) == {"step": 19}  # its own last step, before any write
    assert await storage.get_data(key(4)) == {}
    await writes.flush()
    assert storage.batches == [[key(0), key(1), key(2), key(3), key(4)]]
    assert storage.singles == 0
    assert await storage.get_data(key(4)) == {"step": 19}
    assert writes.peek(key(4)) is None
    await writes.close()


async def test_a_batch_is_written_a_moment_later_by_itself() -> None:
    storage = CountingStorage()
    writes = WriteBehind(storage, delay=0.01)
    writes.put(key(1), {"step": 1})
    await asyncio.wait_for(storage.written.wait(), 60)
    assert await storage.get_data(key(1)) == {"step": 1}
    await writes.close()


async def test_a_deletion_is_written_at_once_and_lands_after_a_batch_in_flight() -> None:
    storage = CountingStorage()
    writes = WriteBehind(storage, delay=60)
    writes.put(key(1), {"draft": "old"})
    storage.hold = asyncio.Event()
    flushing = asyncio.create_task(writes.flush())
    await asyncio.sleep(0)  # the batch has started and waits
    deleting = asyncio.create_task(writes.write_now(key(1), {"w": "record only"}))
    await asyncio.sleep(0)
    assert not deleting.done()  # it waits for the batch that still carries the draft
    storage.hold.set()
    await asyncio.gather(flushing, deleting)
    assert await storage.get_data(key(1)) == {"w": "record only"}
    assert writes.peek(key(1)) is None


async def test_a_failed_batch_is_kept_for_the_next_one_without_losing_newer_steps() -> None:
    storage = CountingStorage()
    writes = WriteBehind(storage, delay=60)
    writes.put(key(1), {"step": 1})
    writes.put(key(2), {"step": 1})
    storage.fail_next = True
    with pytest.raises(ConnectionError):
        await writes.flush()
    writes.put(key(2), {"step": 2})  # a newer step arrived meanwhile
    assert writes.peek(key(1)) == {"step": 1}
    await writes.flush()
    assert await storage.get_data(key(1)) == {"step": 1}
    assert await storage.get_data(key(2)) == {"step": 2}


async def test_a_clean_stop_writes_what_is_waiting() -> None:
    storage = CountingStorage()
    writes = WriteBehind(storage, delay=60)
    writes.put(key(1), {"step": 7})
    await writes.close()
    assert await storage.get_data(key(1)) == {"step": 7}


async def test_the_web_channel_batches_steps_and_deletes_a_cancelled_draft_at_once(
    web_bot: OfflineBot, new_cadre: Callable[..., WebCadre]
) -> None:
    assert web_bot.web is not None
    sessions = web_bot.web.channel.sessions
    sessions.writes.delay = 60  # only what the test does writes a batch
    cadre = new_cadre()
    await cadre.open()
    assert cadre.token is not None
    stored_key = sessions.storage_key(cadre.token)
    await cadre.act({"type": "start"})
    await cadre.press_act("go")
    await cadre.press_act("ans")
    stored = await sessions.storage.get_data(stored_key)
    assert stored["w"]["seq"] == 0 and not stored["c"]  # the steps wait for their batch...
    assert await web_bot.web.channel.last_seq(cadre.token) == 3  # ...and are read back
    await cadre.act({"type": "cancel"})  # asked once: the draft is still there
    stored = await sessions.storage.get_data(stored_key)
    assert stored["w"]["seq"] == 0 and not stored["c"]  # ...and its step waits too
    await cadre.press_act("cxl-y")
    stored = await sessions.storage.get_data(stored_key)  # no batch in between
    assert stored["w"]["seq"] == 5 and stored["c"] == {}
    await cadre.act({"type": "start"})
    await cadre.press_act("go")
    await sessions.close()  # what a clean stop does
    stored = await sessions.storage.get_data(stored_key)
    assert stored["w"]["seq"] == 7 and stored["c"]["draft"]


async def test_a_clean_restart_beside_the_bot_keeps_the_last_steps_on_redis(
    tmp_path: Path, migrated_data_dir: Callable[[Path], Path], redis_url: str
) -> None:
    """A clean restart writes what waits, so the steps just taken are there after it; with
    drafts in Redis, which has no batch write (each session is written on its own)."""
    offline = await OfflineBot.start(
        migrated_data_dir(tmp_path / "data"),
        web=True,
        options=FeatureOptions(digest_loop=False, retention_job=False),
        fsm_storage="redis",
        redis_url=redis_url,
        web_pow_max_number=POW_FOR_TESTS,
    )
    try:
        assert offline.web is not None
        offline.web.channel.sessions.writes.delay = 60  # only the stop writes the batch
        async with httpx.AsyncClient(base_url=offline.web_url, timeout=30) as http:
            cadre = WebCadre(http)
            await cadre.open()
            await cadre.act({"type": "start"})
            await cadre.press_act("go")
        token = cadre.token
        assert token is not None
        await offline.restart_bot()
        async with httpx.AsyncClient(base_url=offline.web_url, timeout=30) as http:
            state = await http.post("/api/state", json={}, headers={SESSION_HEADER: token})
            assert state.json() == {"seq": 2}
            resumed = WebCadre(http, token=token, seq=2)
            await resumed.act({"type": "start"})
            assert any(o["action"]["a"] == "res" for o in resumed.current().options)
            await resumed.act({"type": "cancel"})
        sessions = offline.web.channel.sessions
        await sessions.storage.set_data(sessions.storage_key(token), {})  # nothing left in Redis
    finally:
        await offline.close()
