"""Campaign ids are short numbers that can be typed and said aloud ("二七四一"), unique
among campaigns; ids made before keep working; an id is found whatever its case, spaces
or full-width digits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date

import pytest
from sqlalchemy import insert, select

from bot.campaigns import CampaignService
from bot.staff.audited import AuditedActions
from bot.statuses import CampaignStatus
from storage.database import Database
from storage.repositories.campaigns import CAMPAIGN_ID_DIGITS, CampaignRepository
from storage.repositories.cases import AuditRepository
from storage.repositories.questionnaire_versions import QuestionnaireVersionRepository
from storage.tables import audit_log, campaigns

DAY = date(2026, 12, 1)
OLD_ID = "ab12cd34"  # the 8 hex digits campaigns had before


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    db = await Database.connect(db_url)
    try:
        yield db
    finally:
        await db.dispose()


def _service(database: Database, repository: CampaignRepository) -> CampaignService:
    audited = AuditedActions(database, AuditRepository(database), lambda: DAY)
    return CampaignService(
        repository, QuestionnaireVersionRepository(database), audited, lambda: DAY
    )


async def _create(repository: CampaignRepository, title: str = "第一轮") -> str:
    campaign = await repository.create(title, "formalism", 1, DAY, DAY)
    return campaign.id


async def test_new_ids_are_distinct_four_digit_numbers(database: Database) -> None:
    repository = CampaignRepository(database)
    ids = [await _create(repository, f"第{n}轮") for n in range(30)]
    assert CAMPAIGN_ID_DIGITS == 4
    assert all(len(i) == 4 and i.isdecimal() and i[0] != "0" for i in ids), ids
    assert len(set(ids)) == len(ids)
    assert {c.id for c in await repository.list()} == set(ids)


def _draws(values: list[int]) -> Iterator[int]:
    yield from values


async def test_a_taken_id_is_never_given_again(database: Database) -> None:
    draws = _draws([1741, 1741, 1741, 5000])  # 1000 + 1741 = "2741"
    repository = CampaignRepository(database, random_below=lambda _bound: next(draws))
    assert await _create(repository) == "2741"
    assert await _create(repository) == "6000"  # two taken draws, then a free one


async def test_ids_grow_a_digit_once_draws_keep_hitting_taken_ones(database: Database) -> None:
    bounds: list[int] = []

    def always_the_same(bound: int) -> int:
        bounds.append(bound)
        return 0

    repository = CampaignRepository(database, random_below=always_the_same)
    assert await _create(repository) == "1000"
    assert await _create(repository) == "10000"
    assert bounds == [9000, 9000] + [9000] * 19 + [90000]


async def test_ids_are_found_as_typed_and_changes_are_audited_by_the_stored_id(
    database: Database,
) -> None:
    async with database.transaction() as connection:
        await connection.execute(
            insert(campaigns).values(
                id=OLD_ID,
                title="旧的一轮",
                questionnaire_id="formalism",
                questionnaire_version=1,
                opens_day=DAY,
                closes_day=DAY,
                status=CampaignStatus.PLANNED,
            )
        )
    draws = _draws([1741])
    repository = CampaignRepository(database, random_below=lambda _bound: next(draws))
    service = _service(database, repository)
    assert await _create(repository) == "2741"

    for typed in ("2741", " 27 41 ", "２７４１", "2741\u3000"):
        found = await service.get(typed)
        assert found is not None and found.id == "2741", typed
    for typed in (OLD_ID, "AB12CD34", "ab12 cd34", "ＡＢ１２ｃｄ３４"):
        found = await service.get(typed)
        assert found is not None and found.id == OLD_ID, typed
    assert await service.get("2742") is None

    assert await service.open(7, " ２７ ４１ ")
    assert await service.close(7, "AB12 CD34")
    assert not await service.open(7, "9999")
    opened = await service.get("2741")
    assert opened is not None and opened.status == CampaignStatus.OPEN
    async with database.engine.connect() as connection:
        subjects = set((await connection.execute(select(audit_log.c.subject))).scalars())
    assert subjects == {"2741", OLD_ID}
