"""The digest tables: first stored digest wins, contents encrypted at rest, digest groups."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.anonymity.crypto import TextCipher
from storage.database import Database
from storage.repositories import DigestGroupRepository, DigestRepository
from storage.tables import digests

SECRET_LOOKING = "本期问题：会议过多（内部）"


async def test_the_first_stored_digest_wins(database: Database, cipher: TextCipher) -> None:
    repository = DigestRepository(database, cipher)
    results = await asyncio.gather(
        *(repository.store_if_absent("daily:2026-11-27", f"version {n}") for n in range(5))
    )
    assert results.count(True) == 1
    winner = results.index(True)
    assert await repository.get("daily:2026-11-27") == f"version {winner}"
    assert await repository.get("daily:2026-11-26") is None


async def test_contents_are_encrypted_and_bound_to_their_period(
    database: Database, cipher: TextCipher
) -> None:
    repository = DigestRepository(database, cipher)
    await repository.store_if_absent("daily:2026-11-27", SECRET_LOOKING)
    async with database.engine.connect() as connection:
        blob = await connection.scalar(select(digests.c.content_enc))
    assert isinstance(blob, bytes)
    assert SECRET_LOOKING.encode() not in blob
    # A blob moved to another period's row does not decrypt there.
    async with database.engine.begin() as connection:
        await connection.execute(
            digests.insert().values(period_key="daily:2026-11-28", content_enc=blob)
        )
    with pytest.raises(ValueError):
        await repository.get("daily:2026-11-28")


async def test_latest_key_and_queue_flags(database: Database, cipher: TextCipher) -> None:
    repository = DigestRepository(database, cipher)
    for key in ("daily:2026-11-09", "daily:2026-11-10", "weekly:2026-11-02"):
        await repository.store_if_absent(key, "{}")
    assert await repository.latest_key("daily:") == "daily:2026-11-10"
    assert await repository.latest_key("weekly:") == "weekly:2026-11-02"
    assert await repository.latest_key("monthly:") is None
    assert await repository.not_enqueued() == [
        "daily:2026-11-09",
        "daily:2026-11-10",
        "weekly:2026-11-02",
    ]
    await repository.mark_enqueued("daily:2026-11-10")
    assert await repository.is_enqueued("daily:2026-11-10")
    assert "daily:2026-11-10" not in await repository.not_enqueued()


async def test_digest_groups(database: Database) -> None:
    groups = DigestGroupRepository(database)
    assert await groups.add(-1001)
    assert not await groups.add(-1001)
    assert await groups.add(-1002)
    await groups.move(-1001, -100_1001)  # upgraded to a supergroup
    assert await groups.list() == [-100_1001, -1002]
    await groups.move(-9, -10)  # not registered: nothing happens
    assert await groups.list() == [-100_1001, -1002]
    assert await groups.remove(-1002)
    assert not await groups.remove(-1002)
    assert await groups.list() == [-100_1001]
