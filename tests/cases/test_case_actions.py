"""Every case action and its audit entry commit together: if the audit write fails the change
is rolled back, and if the change fails after its audit entry was written, the entry goes."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.anonymity.crypto import TextCipher
from bot.cases.actions import CaseActions
from bot.statuses import CaseStatus
from storage.database import Database
from storage.repositories import (
    AuditRepository,
    CaseRepository,
    CaseSummary,
    NewSubmission,
    SubmissionRepository,
)
from storage.tables import answers, audit_log, case_events, case_notes, cases, followup_messages

DAY = date(2026, 11, 2)
ACTOR = 4_242


class Boom(RuntimeError):
    pass


class FailingAudit(AuditRepository):
    """Writes the entry, then fails: the entry must not survive, nor the change."""

    async def record(self, *args: Any, connection: AsyncConnection | None = None) -> None:
        await super().record(*args, connection=connection)
        raise Boom


class FailingCases(CaseRepository):
    """Every change is written, then fails."""

    async def add_message(self, *args: Any, **kwargs: Any) -> None:
        await super().add_message(*args, **kwargs)
        raise Boom

    async def add_note(self, *args: Any, **kwargs: Any) -> None:
        await super().add_note(*args, **kwargs)
        raise Boom

    async def set_status(self, *args: Any, **kwargs: Any) -> bool:
        await super().set_status(*args, **kwargs)
        raise Boom

    async def add_label(self, *args: Any, **kwargs: Any) -> bool:
        await super().add_label(*args, **kwargs)
        raise Boom

    async def remove_label(self, *args: Any, **kwargs: Any) -> bool:
        await super().remove_label(*args, **kwargs)
        raise Boom

    async def set_quotable(self, *args: Any, **kwargs: Any) -> bool:
        await super().set_quotable(*args, **kwargs)
        raise Boom


@dataclass
class World:
    database: Database
    cipher: TextCipher
    cases: CaseRepository
    summary: CaseSummary

    async def count(self, table: Any) -> int:
        async with self.database.engine.connect() as connection:
            return int(await connection.scalar(select(func.count()).select_from(table)) or 0)

    async def quotable(self) -> list[bool]:
        async with self.database.engine.connect() as connection:
            return list((await connection.execute(select(answers.c.quotable))).scalars())

    async def fresh(self) -> CaseSummary:
        found = await self.cases.by_ref(self.summary.ref)
        assert found is not None
        return found


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[World]:
    database = await Database.connect(db_url)
    try:
        await database.upgrade()
        cipher = TextCipher(secrets.token_bytes(32))
        submission_id = await SubmissionRepository(database, cipher).store(
            NewSubmission(
                questionnaire_id="q",
                questionnaire_version=1,
                answers={"p1_example": "文本"},
                text_question_ids=frozenset({"p1_example"}),
                day=DAY,
                receipt_hash=secrets.token_hex(32),
            )
        )
        repository = CaseRepository(database, cipher)
        await repository.add_label(submission_id, "旧标签", DAY)
        summary = await repository.by_submission(submission_id)
        assert summary is not None
        yield World(database, cipher, repository, summary)
    finally:
        await database.dispose()


Action = Callable[[CaseActions, CaseSummary], Awaitable[object]]
ACTIONS: dict[str, Action] = {
    "case.reply": lambda a, s: a.reply(ACTOR, s, "请补充时间", DAY),
    "case.note": lambda a, s: a.note(ACTOR, s, "内部备注", DAY),
    "case.status.closed": lambda a, s: a.set_status(ACTOR, s, CaseStatus.CLOSED, DAY),
    "case.label": lambda a, s: a.toggle_label(ACTOR, s, "新标签", DAY),
    "case.unlabel": lambda a, s: a.toggle_label(ACTOR, s, "旧标签", DAY),
    "case.quote": lambda a, s: a.set_quotable(ACTOR, s, "p1_example", True, DAY),
}


async def _state(world: World) -> tuple[object, ...]:
    summary = await world.fresh()
    return (
        await world.count(followup_messages),
        await world.count(case_notes),
        await world.count(case_events),
        await world.count(audit_log),
        summary.status,
        summary.labels,
        await world.quotable(),
    )


@pytest.mark.parametrize("action", sorted(ACTIONS))
async def test_each_action_writes_its_entry_in_its_own_transaction(
    world: World, action: str
) -> None:
    actions = CaseActions(world.database, world.cases, AuditRepository(world.database))
    before = await _state(world)
    await ACTIONS[action](actions, await world.fresh())
    assert await _state(world) != before
    entries = await AuditRepository(world.database).entries_for(world.summary.ref)
    assert [(e.action, e.actor_user_id) for e in entries] == [(action, ACTOR)]


@pytest.mark.parametrize("action", sorted(ACTIONS))
async def test_a_failed_audit_write_rolls_the_change_back(world: World, action: str) -> None:
    actions = CaseActions(world.database, world.cases, FailingAudit(world.database))
    before = await _state(world)
    with pytest.raises(Boom):
        await ACTIONS[action](actions, await world.fresh())
    assert await _state(world) == before


@pytest.mark.parametrize("action", sorted(ACTIONS))
async def test_a_failed_change_leaves_no_audit_entry(world: World, action: str) -> None:
    failing = FailingCases(world.database, world.cipher)
    actions = CaseActions(world.database, failing, AuditRepository(world.database))
    before = await _state(world)
    with pytest.raises(Boom):
        await ACTIONS[action](actions, await world.fresh())
    assert await _state(world) == before


async def test_a_view_is_shown_only_with_its_audit_entry(world: World) -> None:
    actions = CaseActions(world.database, world.cases, AuditRepository(world.database))
    detail = await actions.view(ACTOR, await world.fresh(), DAY)
    assert detail is not None and detail.summary.ref == world.summary.ref
    assert [
        e.action for e in await AuditRepository(world.database).entries_for(world.summary.ref)
    ] == ["case.view"]
    failing = CaseActions(world.database, world.cases, FailingAudit(world.database))
    with pytest.raises(Boom):
        await failing.view(ACTOR, await world.fresh(), DAY)
    assert await world.count(audit_log) == 1


async def test_an_unchanged_status_is_not_audited(world: World) -> None:
    actions = CaseActions(world.database, world.cases, AuditRepository(world.database))
    assert not await actions.set_status(ACTOR, await world.fresh(), CaseStatus.NEW, DAY)
    assert await world.count(audit_log) == 0
    async with world.database.engine.connect() as connection:
        assert (await connection.execute(select(cases.c.status))).scalar_one() == "new"


async def test_unmarking_a_quote_is_audited_and_a_repeated_mark_is_not(world: World) -> None:
    actions = CaseActions(world.database, world.cases, AuditRepository(world.database))
    summary = await world.fresh()
    assert await actions.set_quotable(ACTOR, summary, "p1_example", True, DAY)
    assert not await actions.set_quotable(ACTOR, summary, "p1_example", True, DAY)
    assert await world.quotable() == [True]
    assert await actions.set_quotable(ACTOR, summary, "p1_example", False, DAY)
    assert not await actions.set_quotable(ACTOR, summary, "no_such_question", True, DAY)
    assert await world.quotable() == [False]
    entries = await AuditRepository(world.database).entries_for(world.summary.ref)
    assert sorted(e.action for e in entries) == ["case.quote", "case.unquote"]
