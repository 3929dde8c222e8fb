"""One transaction per use case: a change and what must go with it (its audit entry, its case,
its history event, the daily limit it uses up) commit together. Each test makes the second
write fail after the first and checks that the first was rolled back."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiogram import Bot
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

import storage.repositories.submissions as submissions_module
from bot.anonymity.crypto import TextCipher
from bot.broadcast.runtime import BroadcastRuntime
from bot.campaigns import CampaignService, NewCampaign
from bot.config import Settings, load_settings
from bot.conversation.model import Cadre, ConversationKey
from bot.conversation.ports import LimitReached, Submitted
from bot.conversation.state import MemoryStates
from bot.i18n import make_i18n
from bot.questionnaire import load_questionnaire
from bot.questionnaire.engine import Draft, QuestionStep
from bot.respondent.survey import SurveyService
from bot.staff.audited import AuditedActions
from bot.statuses import CaseStatus
from storage.database import Database
from storage.repositories import (
    AuditRepository,
    BroadcastContent,
    BroadcastRepository,
    CaseRepository,
    NewSubmission,
    RateLimitRepository,
    SubmissionRepository,
)
from storage.repositories.campaigns import CampaignRepository
from storage.repositories.questionnaire_versions import QuestionnaireVersionRepository
from storage.tables import (
    answers,
    audit_log,
    broadcasts,
    campaigns,
    case_events,
    cases,
    questionnaire_versions,
    rate_counters,
    submissions,
)

DAY = date(2026, 11, 2)
ACTOR = 7_007
SHIPPED = Path(__file__).parents[2] / "bot" / "questionnaires" / "formalism.yaml"


class Boom(RuntimeError):
    pass


class FailingSubmissions(SubmissionRepository):
    """Stores the submission, its answers and its case, then fails."""

    async def store(self, new: NewSubmission, *, connection: AsyncConnection | None = None) -> str:
        await super().store(new, connection=connection)
        raise Boom


class FailingAudit(AuditRepository):
    """Writes the entry, then fails."""

    async def record(self, *args: Any, connection: AsyncConnection | None = None) -> None:
        await super().record(*args, connection=connection)
        raise Boom


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    db = await Database.connect(db_url)
    try:
        await db.upgrade()
        yield db
    finally:
        await db.dispose()


@pytest.fixture
def cipher() -> TextCipher:
    return TextCipher(secrets.token_bytes(32))


async def _count(database: Database, table: Any) -> int:
    async with database.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(table)) or 0)


def _submission() -> NewSubmission:
    return NewSubmission(
        questionnaire_id="q",
        questionnaire_version=1,
        answers={"p1_example": "文本", "p2_choice": "a"},
        text_question_ids=frozenset({"p1_example"}),
        day=DAY,
        receipt_hash=secrets.token_hex(32),
    )


def _failing_audited(database: Database) -> AuditedActions:
    return AuditedActions(database, FailingAudit(database), lambda: DAY)


async def test_a_submission_is_not_stored_without_its_case(
    database: Database, cipher: TextCipher, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing_case(*args: object, **kwargs: object) -> str:
        raise Boom

    monkeypatch.setattr(submissions_module, "insert_case", failing_case)
    with pytest.raises(Boom):
        await SubmissionRepository(database, cipher).store(_submission())
    assert await _count(database, submissions) == 0
    assert await _count(database, answers) == 0
    assert await _count(database, cases) == 0


async def test_the_daily_limit_commits_with_the_submission_it_counts(
    database: Database, cipher: TextCipher
) -> None:
    """A caller's transaction holds both: a failure after them takes both back."""
    limits = RateLimitRepository(database)
    with pytest.raises(Boom):
        async with database.transaction() as connection:
            assert await limits.try_consume("k", DAY, 3, connection=connection)
            await SubmissionRepository(database, cipher).store(_submission(), connection=connection)
            raise Boom
    assert await _count(database, rate_counters) == 0
    assert await _count(database, submissions) == 0
    assert await _count(database, cases) == 0


def _survey(database: Database, submissions: SubmissionRepository) -> SurveyService:
    """The survey as the app builds it, allowing one submission a day."""
    versions = QuestionnaireVersionRepository(database)
    audited = AuditedActions(database, AuditRepository(database), lambda: DAY)
    campaigns = CampaignService(CampaignRepository(database), versions, audited, lambda: DAY)
    return SurveyService(
        load_questionnaire(SHIPPED),
        database,
        submissions,
        RateLimitRepository(database),
        secrets.token_bytes(32),
        campaigns,
        versions,
        max_per_day=1,
        zone=ZoneInfo("Asia/Shanghai"),
        now=lambda: datetime(2026, 11, 2, 3, 0, tzinfo=UTC),
    )


def _answered_draft(survey: SurveyService) -> Draft:
    started = survey.engine.start()
    assert isinstance(started.step, QuestionStep)
    question = started.step.question
    answered = survey.engine.answer(started.draft, question.choice_ids[0], question_id=question.id)
    assert answered.error is None
    return answered.draft


async def test_a_submission_that_fails_to_store_uses_up_none_of_the_daily_limit(
    database: Database, cipher: TextCipher
) -> None:
    key = ConversationKey("one-cadre")
    cadre = Cadre(key, "en", MemoryStates().of(key), lambda purpose, day: f"{purpose}:{day}")
    failing = _survey(database, FailingSubmissions(database, cipher))
    draft = _answered_draft(failing)
    with pytest.raises(Boom):
        await failing.submit(draft, cadre)
    for table in (rate_counters, submissions, answers, cases):
        assert await _count(database, table) == 0, table.name
    assert not await failing.limit_reached(cadre)

    working = _survey(database, SubmissionRepository(database, cipher))
    assert isinstance(await working.submit(draft, cadre), Submitted)  # the day's one is still free
    assert isinstance(await working.submit(draft, cadre), LimitReached)
    assert await _count(database, submissions) == 1
    assert await _count(database, cases) == 1


async def test_a_status_change_is_not_kept_without_its_history_event(
    database: Database, cipher: TextCipher, monkeypatch: pytest.MonkeyPatch
) -> None:
    submission_id = await SubmissionRepository(database, cipher).store(_submission())
    repository = CaseRepository(database, cipher)

    async def failing_event(*args: object, **kwargs: object) -> None:
        raise Boom

    monkeypatch.setattr(CaseRepository, "_event", failing_event)
    with pytest.raises(Boom):
        await repository.set_status(submission_id, CaseStatus.CLOSED, DAY)
    summary = await repository.by_submission(submission_id)
    assert summary is not None and summary.status != "closed"
    assert await _count(database, case_events) == 0


def _runtime(
    settings: Settings, repository: BroadcastRepository, database: Database
) -> BroadcastRuntime:
    def no_sending() -> Bot:
        raise AssertionError("nothing is sent in these tests")

    return BroadcastRuntime(
        settings, repository, _failing_audited(database), make_i18n(), no_sending
    )


async def test_a_broadcast_does_not_start_without_its_audit_entry(
    database: Database, cipher: TextCipher, tmp_path: Path
) -> None:
    settings = load_settings(data_dir=tmp_path, bot_token=SecretStr("1:test"))
    repository = BroadcastRepository(database, cipher, zone=settings.zone)
    runtime = _runtime(settings, repository, database)
    with pytest.raises(Boom):
        await runtime.start(
            BroadcastContent("通知"),
            locale=None,
            actor_user_id=ACTOR,
            progress_chat_id=ACTOR,
            admin_locale="zh-CN",
        )
    assert await _count(database, broadcasts) == 0
    assert await _count(database, audit_log) == 0


async def test_a_broadcast_keeps_its_status_when_the_audit_entry_fails(
    database: Database, cipher: TextCipher, tmp_path: Path
) -> None:
    settings = load_settings(data_dir=tmp_path, bot_token=SecretStr("1:test"))
    repository = BroadcastRepository(database, cipher, zone=settings.zone)
    job = await repository.create(BroadcastContent("通知"), locale=None, paid=False)
    runtime = _runtime(settings, repository, database)
    with pytest.raises(Boom):
        await runtime.cancel(job, ACTOR)
    assert await repository.status_of(job) == "running"
    assert await _count(database, audit_log) == 0


def _campaign_service(database: Database) -> CampaignService:
    return CampaignService(
        CampaignRepository(database),
        QuestionnaireVersionRepository(database),
        _failing_audited(database),
        lambda: DAY,
    )


async def test_a_campaign_is_not_created_or_opened_without_its_audit_entry(
    database: Database,
) -> None:
    questionnaire = load_questionnaire(SHIPPED)
    service = _campaign_service(database)
    new = NewCampaign("一轮", DAY, DAY, None)
    with pytest.raises(Boom):
        await service.create(ACTOR, new, questionnaire)
    assert await _count(database, campaigns) == 0

    planned = await service.repository.create(
        "二轮", questionnaire.id, questionnaire.version, DAY, DAY
    )
    with pytest.raises(Boom):
        await service.open(ACTOR, planned.id)
    reread = await service.get(planned.id)
    assert reread is not None and reread.status == "planned"
    assert await service.current() is None  # no cached read of the rolled-back change
    assert await _count(database, audit_log) == 0


async def test_a_questionnaire_version_is_not_stored_without_its_audit_entry(
    database: Database,
) -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    with pytest.raises(Boom):
        await _campaign_service(database).store_version(ACTOR, load_questionnaire(SHIPPED), text)
    assert await _count(database, questionnaire_versions) == 0
    assert await _count(database, audit_log) == 0
