"""A subscriber whose stored chat id cannot be decrypted (a damaged blob, or one copied from
another row) is skipped and counted as failed with its reason; the broadcast goes on."""

from __future__ import annotations

from sqlalchemy import select, update

from bot.broadcast import BroadcastSender
from storage.repositories import BroadcastContent
from storage.repositories.broadcasts import UNDECRYPTABLE_ERROR
from storage.tables import subscribers
from tests.broadcast.conftest import BroadcastWorld

TEXT = "<b>通知</b>：第二轮调研将于下周开始。"


async def test_undecryptable_chat_ids_are_skipped_counted_and_the_rest_delivered(
    world: BroadcastWorld,
) -> None:
    users = await world.add_users(12)
    damaged, moved = users[0], users[1]
    async with world.db.engine.begin() as connection:
        other_blob = await connection.scalar(
            select(subscribers.c.chat_id_enc).where(
                subscribers.c.chat_hash == world.hash_of(users[2])
            )
        )
        await connection.execute(
            update(subscribers)
            .where(subscribers.c.chat_hash == world.hash_of(damaged))
            .values(chat_id_enc=b"\x01" + bytes(40))
        )
        await connection.execute(  # a valid blob, bound to another row
            update(subscribers)
            .where(subscribers.c.chat_hash == world.hash_of(moved))
            .values(chat_id_enc=other_blob)
        )
    job = await world.broadcasts.create(BroadcastContent(TEXT))

    report = await BroadcastSender(
        world.broadcasts, world.sender_bot(), job, BroadcastContent(TEXT), rate=200.0
    ).run()

    assert report.finished
    assert report.counts["sent"] == 10 and report.counts["failed"] == 2
    assert await world.broadcasts.errors(job) == [(UNDECRYPTABLE_ERROR, 2)]
    assert world.copies([damaged, moved]) == {damaged.id: 0, moved.id: 0}
    assert world.copies(users[2:]) == {user.id: 1 for user in users[2:]}  # nobody twice
