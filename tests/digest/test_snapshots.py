"""The step rule: what staff see of a running period moves only in steps of K submissions.

Every test drives `DigestService.released` (what `/digest` shows) and the closing digest
(`DigestService.stored`) against a real database; submissions are stored between views.
"""

from __future__ import annotations

import itertools
import secrets
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot.anonymity.crypto import TextCipher
from bot.anonymity.pseudonym import Pseudonymizer
from bot.delivery.outbox import DestinationDirectory
from bot.digest.build import BuiltDigest
from bot.digest.period import DigestSchedule, Period
from bot.digest.scheduler import DigestService
from bot.digest.snapshots import Snapshot, StepRelease, scope_key
from bot.questionnaire import Questionnaire
from bot.staff import StaffRoles
from storage.database import Database
from storage.repositories import (
    DigestGroupRepository,
    DigestRepository,
    OutboxRepository,
    StaffRepository,
    SubmissionRepository,
)
from storage.repositories.digests import DigestSnapshotRepository
from storage.tables import digest_snapshots
from tests.digest import dataset

K = 5
WEEK = Period("weekly", date(2026, 11, 23), date(2026, 11, 29))


def make_service(db: Database, cipher: TextCipher, questionnaire: Questionnaire) -> DigestService:
    roles = StaffRoles(StaffRepository(db), [])
    directory = DestinationDirectory(
        roles, DigestGroupRepository(db), [], Pseudonymizer(secrets.token_bytes(32))
    )
    return DigestService(
        db,
        cipher,
        questionnaire,
        DigestSchedule.parse("weekly mon 09:00", "Asia/Shanghai"),
        DigestRepository(db, cipher),
        OutboxRepository(db),
        directory,
        k=K,
    )


async def add(
    db: Database,
    cipher: TextCipher,
    questionnaire: Questionnaire,
    count: int,
    *,
    start: int = 0,
    campaign_id: str | None = None,
) -> None:
    """`count` submissions of the hand-made data set (cycling through its twelve)."""
    repository = SubmissionRepository(db, cipher)
    for index in range(start, start + count):
        await dataset.store(
            repository,
            questionnaire,
            dataset.current_answers(index % 12),
            WEEK.first_day + timedelta(days=index % 7),
            campaign_id=campaign_id,
        )


def shown(built: BuiltDigest) -> tuple[str, ...]:
    """Everything a view shows: every Telegram part, the webhook texts and the chart."""
    chart = built.message.chart_png or b""
    return (*built.telegram_parts, built.message.plain, built.message.markdown, chart.hex())


async def test_one_submission_between_two_views_changes_nothing(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire
) -> None:
    service = make_service(database, cipher, questionnaire)
    await add(database, cipher, questionnaire, 7)
    first = await service.released(WEEK)
    assert first.data.submissions == 7

    await add(database, cipher, questionnaire, 1, start=7)
    second = await service.released(WEEK)
    assert shown(second) == shown(first)

    # K − 1 more after the step (4 in all since it): still the same.
    await add(database, cipher, questionnaire, K - 2, start=8)
    assert shown(await service.released(WEEK)) == shown(first)

    # The K-th since the step: the next view moves, by K.
    await add(database, cipher, questionnaire, 1, start=11)
    moved = await service.released(WEEK)
    assert moved.data.submissions == 7 + K
    assert shown(moved) != shown(first)
    assert "本期收到反馈 12 份" in moved.telegram_parts[0]


async def test_a_fresh_period_below_k_shows_no_figures_whatever_arrived(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire
) -> None:
    service = make_service(database, cipher, questionnaire)
    empty = await service.released(WEEK)
    assert empty.data.submissions is None
    assert "本期收到的反馈少于 5 份" in empty.telegram_parts[0]
    assert "本期反映办理情况：本期反馈少于 5 份，为保护匿名不显示。" in empty.message.plain

    await add(database, cipher, questionnaire, K - 1)
    assert shown(await service.released(WEEK)) == shown(empty)
    assert await DigestSnapshotRepository(database, cipher).keys() == []  # no step yet


async def test_views_that_differ_differ_by_at_least_k(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire
) -> None:
    service = make_service(database, cipher, questionnaire)
    counts: list[int] = []
    added = 0
    for batch in (3, 1, 2, 1, 4, 1, 1, 6, 2):
        await add(database, cipher, questionnaire, batch, start=added)
        added += batch
        built = await service.released(WEEK)
        counts.append(built.data.submissions or 0)
    steps = sorted(set(counts))
    assert steps == [0, 6, 11, 19]
    assert all(b - a >= K for a, b in itertools.pairwise(steps))


async def test_a_campaign_view_has_steps_of_its_own(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire
) -> None:
    service = make_service(database, cipher, questionnaire)
    await add(database, cipher, questionnaire, 6, campaign_id="spring")
    spring = await service.released(WEEK, campaign_id="spring")
    assert spring.data.submissions == 6 and spring.data.campaign_id == "spring"
    await add(database, cipher, questionnaire, 1, start=6, campaign_id="spring")
    assert shown(await service.released(WEEK, campaign_id="spring")) == shown(spring)
    keys = await DigestSnapshotRepository(database, cipher).keys()
    assert keys == [scope_key(WEEK, "spring")] == ["weekly:2026-11-23@spring"]
    # The campaign's breakdowns are there even though only 6 arrived.
    assert spring.data.breakdowns


async def test_the_closing_digest_does_not_undercut_the_last_step(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire
) -> None:
    service = make_service(database, cipher, questionnaire)
    await add(database, cipher, questionnaire, 6)
    step = await service.released(WEEK)
    await add(database, cipher, questionnaire, K - 1, start=6)

    closing = await service.stored(WEEK)

    # 10 arrived, 6 released: the 4 after the step are not counted, or comparing the closing
    # digest with the last view would isolate them.
    assert closing.data.submissions == 6
    assert closing.telegram_parts == step.telegram_parts
    assert await DigestSnapshotRepository(database, cipher).keys() == []  # served its purpose


async def test_the_closing_digest_counts_everything_when_k_more_arrived(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire
) -> None:
    service = make_service(database, cipher, questionnaire)
    await add(database, cipher, questionnaire, 6)
    await service.released(WEEK)
    await add(database, cipher, questionnaire, K, start=6)
    assert (await service.stored(WEEK)).data.submissions == 6 + K


async def test_without_any_view_the_closing_digest_counts_everything(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire
) -> None:
    service = make_service(database, cipher, questionnaire)
    await add(database, cipher, questionnaire, 7)
    assert (await service.stored(WEEK)).data.submissions == 7


async def test_racing_views_release_one_step(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire
) -> None:
    """Two views read the same step; the first to write wins, the other shows the winner's
    even though it built a digest with one more submission."""
    repository = DigestSnapshotRepository(database, cipher)
    steps = StepRelease(repository, k=K)
    service = make_service(database, cipher, questionnaire)
    await add(database, cipher, questionnaire, 6)
    winner = await service.build(WEEK)
    await add(database, cipher, questionnaire, 1, start=6)
    loser = await service.build(WEEK)
    key = scope_key(WEEK)

    async def count() -> int:
        return 7

    async def placeholder() -> BuiltDigest:
        raise AssertionError("a step is due: no placeholder")

    async def build_winner() -> BuiltDigest:
        # The other view commits its step while this one is building.
        assert await repository.release(key, Snapshot(6, winner).to_json(), replaces=None), (
            "the first release stores"
        )
        return loser

    seen = await steps.view(key, count=count, build=build_winner, placeholder=placeholder)
    assert seen == winner
    assert (await steps.last(key)) == Snapshot(6, winner)
    stored = await repository.get(key)
    assert stored is not None
    assert not await repository.release(key, "{}", replaces="0" * 32)  # a stale version


async def test_snapshots_are_encrypted_and_hold_no_time(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire
) -> None:
    service = make_service(database, cipher, questionnaire)
    await add(database, cipher, questionnaire, 6)
    await service.released(WEEK)
    async with database.engine.connect() as connection:
        rows = (await connection.execute(select(digest_snapshots))).all()
    assert len(rows) == 1
    assert set(rows[0]._mapping) == {"scope_key", "version", "content_enc"}
    assert "本期".encode() not in rows[0].content_enc
    assert "清风".encode() not in rows[0].content_enc
    # Bound to its row: copied to another scope it does not decrypt.
    other = DigestSnapshotRepository(database, cipher)
    async with database.engine.begin() as connection:
        await connection.execute(
            digest_snapshots.insert().values(
                scope_key="weekly:2026-11-30", version="x" * 32, content_enc=rows[0].content_enc
            )
        )
    with pytest.raises(ValueError):
        await other.get("weekly:2026-11-30")
