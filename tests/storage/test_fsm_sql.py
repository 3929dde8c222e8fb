"""SQL FSM storage: pseudonymous keys, encrypted data, expiry, and nothing left after clear."""

from __future__ import annotations

import asyncio
import math
import os
import struct
from datetime import UTC, datetime, timedelta

import pytest
from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.anonymity.crypto import TextCipher
from bot.anonymity.pseudonym import Pseudonymizer
from storage.database import Database
from storage.fsm import EXPIRY_GRANULARITY, SqlStorage
from storage.tables import fsm_entries
from tests.storage.at_rest import assert_at_rest, assert_not_at_rest

USER_ID = 5123456789
BOT_ID = 7000000042
KEY = StorageKey(bot_id=BOT_ID, chat_id=USER_ID, user_id=USER_ID)
DRAFT = {"draft": {"answers": {"story": "县里每周开三次会"}}, "msg": 17}
TTL = timedelta(hours=24)


class Survey(StatesGroup):
    answering = State()


class ManualClock:
    """A clock the test moves by hand, so expiry is tested without sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2024, 11, 29, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def storage(
    database: Database, pseudonymizer: Pseudonymizer, cipher: TextCipher, clock: ManualClock
) -> SqlStorage:
    return SqlStorage(database, pseudonymizer, cipher, ttl=TTL, clock=clock)


async def rows(database: Database) -> int:
    async with database.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(fsm_entries)) or 0)


async def test_state_and_data_round_trip(storage: SqlStorage) -> None:
    assert await storage.get_state(KEY) is None
    assert await storage.get_data(KEY) == {}
    await storage.set_state(KEY, Survey.answering)
    await storage.set_data(KEY, DRAFT)
    assert await storage.get_state(KEY) == Survey.answering.state
    assert await storage.get_data(KEY) == DRAFT
    assert await storage.update_data(KEY, {"msg": 18}) == {**DRAFT, "msg": 18}
    assert await storage.get_data(KEY) == {**DRAFT, "msg": 18}
    assert await storage.get_value(KEY, "msg") == 18


async def test_keys_are_separate(storage: SqlStorage) -> None:
    other = StorageKey(bot_id=BOT_ID, chat_id=USER_ID + 1, user_id=USER_ID + 1)
    threaded = StorageKey(bot_id=BOT_ID, chat_id=USER_ID, user_id=USER_ID, thread_id=5)
    await storage.set_data(KEY, {"a": 1})
    await storage.set_data(other, {"b": 2})
    assert await storage.get_data(KEY) == {"a": 1}
    assert await storage.get_data(other) == {"b": 2}
    assert await storage.get_data(threaded) == {}


async def test_drafts_expire_and_are_purged(
    database: Database, storage: SqlStorage, clock: ManualClock
) -> None:
    await storage.set_state(KEY, Survey.answering)
    await storage.set_data(KEY, DRAFT)
    clock.now += TTL - timedelta(minutes=1)
    assert await storage.get_data(KEY) == DRAFT  # still there just before the TTL
    assert await storage.purge_expired() == 0

    clock.now += EXPIRY_GRANULARITY + timedelta(minutes=1)  # expiry is coarse, never early
    assert await storage.get_state(KEY) is None
    assert await storage.get_data(KEY) == {}
    assert await rows(database) == 1
    assert await storage.purge_expired() == 1
    assert await rows(database) == 0


async def test_activity_extends_the_expiry(storage: SqlStorage, clock: ManualClock) -> None:
    await storage.set_data(KEY, DRAFT)
    clock.now += TTL - timedelta(hours=1)
    await storage.update_data(KEY, {"msg": 19})
    clock.now += timedelta(hours=2)
    assert (await storage.get_data(KEY))["msg"] == 19


async def test_writing_to_an_expired_entry_does_not_revive_old_data(
    storage: SqlStorage, clock: ManualClock
) -> None:
    await storage.set_state(KEY, Survey.answering)
    await storage.set_data(KEY, DRAFT)
    clock.now += TTL + EXPIRY_GRANULARITY
    await storage.set_state(KEY, "other:state")
    assert await storage.get_data(KEY) == {}
    await storage.set_data(KEY, {"fresh": True})
    clock.now += TTL + EXPIRY_GRANULARITY
    await storage.update_data(KEY, {"x": 1})
    assert await storage.get_state(KEY) is None
    assert await storage.get_data(KEY) == {"x": 1}


async def test_clear_deletes_the_row(
    database: Database, storage: SqlStorage, cipher: TextCipher
) -> None:
    context = FSMContext(storage=storage, key=KEY)
    await context.set_state(Survey.answering)
    await context.update_data(DRAFT)
    async with database.engine.connect() as connection:
        blob = await connection.scalar(select(fsm_entries.c.data_enc))
    assert isinstance(blob, bytes)
    assert await rows(database) == 1

    await context.clear()  # what cancel and submit do

    assert await rows(database) == 0
    assert await context.get_data() == {}
    await storage.set_data(StorageKey(bot_id=1, chat_id=2, user_id=3), {"other": "row"})
    await assert_not_at_rest(database, blob)  # not even the ciphertext lingers


async def test_clearing_a_missing_entry_creates_nothing(
    database: Database, storage: SqlStorage
) -> None:
    await storage.set_state(KEY, None)
    await storage.set_data(KEY, {})
    assert await rows(database) == 0


async def test_nothing_at_rest_names_the_user_or_shows_the_draft(
    database: Database, storage: SqlStorage
) -> None:
    await storage.set_state(KEY, Survey.answering)
    await storage.set_data(KEY, DRAFT)
    async with database.engine.connect() as connection:
        row_key = await connection.scalar(select(fsm_entries.c.key))
    assert isinstance(row_key, str) and len(row_key) == 64
    for form in (str(USER_ID), f"{USER_ID:x}", f"{USER_ID:X}", str(BOT_ID)):
        assert form not in row_key
    await assert_not_at_rest(
        database,
        str(USER_ID),
        str(BOT_ID),
        struct.pack(">q", USER_ID),
        struct.pack("<q", USER_ID),
        "县里每周开三次会",
        '"draft"',
    )
    await assert_at_rest(database, Survey.answering.state or "")


async def test_concurrent_updates_are_not_lost(storage: SqlStorage) -> None:
    await asyncio.gather(*(storage.update_data(KEY, {f"q{n}": n}) for n in range(20)))
    assert await storage.get_data(KEY) == {f"q{n}": n for n in range(20)}


async def test_data_must_be_a_dict(storage: SqlStorage) -> None:
    with pytest.raises(DataNotDictLikeError):
        await storage.set_data(KEY, [("a", 1)])  # type: ignore[arg-type]


async def test_ttl_must_be_positive(
    database: Database, pseudonymizer: Pseudonymizer, cipher: TextCipher
) -> None:
    with pytest.raises(ValueError):
        SqlStorage(database, pseudonymizer, cipher, ttl=timedelta(0))


async def test_stored_expiry_is_coarse(
    database: Database, storage: SqlStorage, clock: ManualClock
) -> None:
    clock.now = datetime(2024, 11, 29, 8, 7, 31, 123, tzinfo=UTC)
    await storage.set_data(KEY, DRAFT)
    async with database.engine.connect() as connection:
        expires_at = await connection.scalar(select(fsm_entries.c.expires_at))
    assert expires_at == datetime(2024, 11, 30, 8, 15)  # not 08:07:31 — and never early


async def test_a_read_overlapping_a_write_does_not_cache_the_old_row(
    storage: SqlStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiogram reads the state outside any per-chat lock; if that read returns the row from
    before a concurrent write, it must not be cached over the newer one (a stale `msg` left
    every button of a questionnaire "from an older message")."""
    await storage.set_data(KEY, {"msg": 1})
    storage.forget_cache()
    real_read_row = storage._read_row
    release = asyncio.Event()

    async def slow_read_row(row_key: str) -> tuple[str | None, bytes | None, datetime] | None:
        row = await real_read_row(row_key)  # the row as it was before the write below
        await release.wait()
        return row

    monkeypatch.setattr(storage, "_read_row", slow_read_row)
    reader = asyncio.create_task(storage.get_data(KEY))
    await asyncio.sleep(0)
    monkeypatch.setattr(storage, "_read_row", real_read_row)
    await storage.update_data(KEY, {"msg": 2})
    release.set()
    assert await reader == {"msg": 1}  # that read began before the write: fine to see it
    assert await storage.get_data(KEY) == {"msg": 2}  # … but later reads see the write
    storage.forget_cache()
    assert await storage.get_data(KEY) == {"msg": 2}


async def test_a_draft_under_a_retired_key_reads_as_expired(
    database: Database, pseudonymizer: Pseudonymizer, storage: SqlStorage, clock: ManualClock
) -> None:
    await storage.set_state(KEY, Survey.answering)
    await storage.set_data(KEY, DRAFT)
    # DATA_KEY replaced without re-encryption (the previous key removed too early).
    rotated = SqlStorage(database, pseudonymizer, TextCipher(os.urandom(32)), ttl=TTL, clock=clock)
    assert await rotated.get_data(KEY) == {}  # the cadre starts again; no error
    assert await rotated.get_state(KEY) == Survey.answering.state
    assert await rotated.update_data(KEY, {"msg": 3}) == {"msg": 3}


async def test_set_many_writes_several_keys_in_one_go_and_keeps_each_state(
    storage: SqlStorage, database: Database, clock: ManualClock
) -> None:
    other = StorageKey(bot_id=BOT_ID, chat_id=USER_ID + 1, user_id=USER_ID + 1)
    expired = StorageKey(bot_id=BOT_ID, chat_id=USER_ID + 2, user_id=USER_ID + 2)
    await storage.set_state(KEY, Survey.answering)
    await storage.set_state(expired, Survey.answering)
    clock.now += TTL + EXPIRY_GRANULARITY
    await storage.set_state(KEY, Survey.answering)  # still in use: its state must survive
    await storage.set_many(
        [(KEY, DRAFT), (other, {"n": 1}), (expired, {"n": 2}), (other, {"n": 3})]
    )
    storage.forget_cache()  # what the table holds, not what the cache remembers
    assert await storage.get_data(KEY) == DRAFT
    assert await storage.get_state(KEY) == Survey.answering.state
    assert await storage.get_data(other) == {"n": 3}  # the last one for a key wins
    assert await storage.get_data(expired) == {"n": 2}
    assert await storage.get_state(expired) is None  # an expired row's state does not revive
    assert await rows(database) == 3
    await assert_not_at_rest(database, "县里每周开三次会")


async def test_set_many_refuses_empty_data(storage: SqlStorage) -> None:
    with pytest.raises(DataNotDictLikeError):
        await storage.set_many([(KEY, {})])


@pytest.fixture
def behind(
    database: Database, pseudonymizer: Pseudonymizer, cipher: TextCipher, clock: ManualClock
) -> SqlStorage:
    """Writes behind, with a delay no test waits for: each flushes by hand, or waits."""
    return SqlStorage(database, pseudonymizer, cipher, ttl=TTL, clock=clock, write_delay=60.0)


async def test_written_behind_a_change_is_read_at_once_and_stored_in_one_batch(
    behind: SqlStorage,
    database: Database,
    pseudonymizer: Pseudonymizer,
    cipher: TextCipher,
    clock: ManualClock,
) -> None:
    other = StorageKey(bot_id=BOT_ID, chat_id=USER_ID + 1, user_id=USER_ID + 1)
    await behind.set_state(KEY, Survey.answering)
    await behind.set_data(KEY, DRAFT)
    await behind.set_data(other, {"n": 1})
    assert await behind.update_data(other, {"m": 2}) == {"n": 1, "m": 2}
    behind.forget_cache()  # what is waiting is read first, not the table
    assert await behind.get_state(KEY) == Survey.answering.state
    assert await behind.get_data(KEY) == DRAFT
    assert await rows(database) == 0
    await behind.flush()
    assert behind.batches == 1  # four changes of two keys: one transaction
    assert await rows(database) == 2
    fresh = SqlStorage(database, pseudonymizer, cipher, ttl=TTL, clock=clock)
    assert await fresh.get_state(KEY) == Survey.answering.state
    assert await fresh.get_data(KEY) == DRAFT
    assert await fresh.get_data(other) == {"n": 1, "m": 2}
    await assert_not_at_rest(database, "县里每周开三次会")


async def test_written_behind_a_cleared_draft_is_deleted_at_once(
    behind: SqlStorage, database: Database
) -> None:
    await behind.set_state(KEY, Survey.answering)
    await behind.set_data(KEY, DRAFT)
    await behind.flush()
    await behind.set_data(KEY, {**DRAFT, "msg": 18})  # waiting when the cadre submits
    context = FSMContext(behind, KEY)
    await context.clear()
    assert await rows(database) == 0  # no flush needed: nothing is left behind
    await behind.flush()
    assert await rows(database) == 0  # and the waiting change did not bring it back
    assert await behind.get_data(KEY) == {}


async def test_written_behind_changes_are_stored_on_close_and_resume_after_restart(
    behind: SqlStorage,
    database: Database,
    pseudonymizer: Pseudonymizer,
    cipher: TextCipher,
    clock: ManualClock,
) -> None:
    await behind.set_state(KEY, Survey.answering)
    await behind.set_data(KEY, DRAFT)
    await behind.close()
    restarted = SqlStorage(database, pseudonymizer, cipher, ttl=TTL, clock=clock, write_delay=60.0)
    assert await restarted.get_state(KEY) == Survey.answering.state
    assert await restarted.get_data(KEY) == DRAFT
    await behind.set_data(KEY, {"late": 1})  # after close: written at once
    assert await rows(database) == 1
    assert await SqlStorage(database, pseudonymizer, cipher, ttl=TTL, clock=clock).get_data(
        KEY
    ) == {"late": 1}


async def test_written_behind_the_batch_goes_by_itself_after_the_delay(
    database: Database, pseudonymizer: Pseudonymizer, cipher: TextCipher
) -> None:
    storage = SqlStorage(database, pseudonymizer, cipher, ttl=TTL, write_delay=0.01)
    await storage.set_data(KEY, DRAFT)
    async with asyncio.timeout(30):  # generous: only a stuck writer takes this long
        while await rows(database) == 0:  # noqa: ASYNC110 - a stored row has no event
            await asyncio.sleep(0.01)
    assert storage.batches == 1
    await storage.close()


async def test_the_web_channel_view_writes_at_once_after_what_waits(
    behind: SqlStorage,
    database: Database,
    pseudonymizer: Pseudonymizer,
    cipher: TextCipher,
    clock: ManualClock,
) -> None:
    at_once = behind.written_at_once()
    await behind.set_data(KEY, {"older": 1})
    await at_once.set_state(KEY, Survey.answering)  # the older change lands first
    assert await rows(database) == 1
    fresh = SqlStorage(database, pseudonymizer, cipher, ttl=TTL, clock=clock)
    assert await fresh.get_data(KEY) == {"older": 1}
    assert await fresh.get_state(KEY) == Survey.answering.state
    await at_once.set_data(KEY, {"newer": 2})
    fresh.forget_cache()
    assert await fresh.get_data(KEY) == {"newer": 2}
    assert await at_once.get_data(KEY) == {"newer": 2}


@settings(max_examples=300, deadline=None)
@given(
    ttl_minutes=st.integers(min_value=1, max_value=60 * 24 * 8),
    steps=st.lists(st.integers(min_value=-(10**9), max_value=10**9), min_size=1, max_size=30),
)
def test_the_remembered_expiry_is_the_rounded_expiry(ttl_minutes: int, steps: list[int]) -> None:
    """The expiry kept for a quarter hour of `now`s is what rounding each one gives."""
    ttl = timedelta(minutes=ttl_minutes)
    storage = SqlStorage.__new__(SqlStorage)  # only the expiry arithmetic is exercised
    storage._ttl = ttl
    storage._expiry_span = None
    step = EXPIRY_GRANULARITY.total_seconds()
    now = datetime(2026, 12, 1, 8, 0)
    for micros in steps:
        now += timedelta(microseconds=micros)
        expected_seconds = math.ceil(((now + ttl) - datetime(2000, 1, 1)).total_seconds() / step)
        expected = datetime(2000, 1, 1) + timedelta(seconds=expected_seconds * step)
        assert storage._expiry(now) == expected
        assert storage._expiry(expected - ttl) == expected  # a boundary is its own


async def test_a_tap_written_behind_waits_for_a_change_of_the_same_key_in_progress(
    behind: SqlStorage,
) -> None:
    """A tap's `set_data` takes no lock when nobody holds the key's. While another change of
    that key is under way (here a clear, waiting for a batch being written) it waits for
    it, so the newer tap is not deleted by the older clear."""
    await behind.set_data(KEY, {"step": 1})
    await behind.flush()
    async with behind._flush_lock:  # a batch is being written
        clearing = asyncio.create_task(behind.set_data(KEY, {}))
        for _ in range(20):
            await asyncio.sleep(0)
            if behind._locks:
                break
        assert behind._locks and not clearing.done()  # it holds the key's lock and waits
        tapping = asyncio.create_task(behind.set_data(KEY, {"step": 2}))
        await asyncio.sleep(0)
        assert not tapping.done()  # behind the clear, not ahead of it
    await clearing
    await tapping
    await behind.flush()
    behind.forget_cache()
    assert await behind.get_data(KEY) == {"step": 2}
