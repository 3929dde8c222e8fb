"""A draft started on an earlier shipped version of the questionnaire (kept in
bot/questionnaires/earlier/) is finished and stored on that version after an upgrade."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.anonymity.crypto import TextCipher
from bot.anonymity.pseudonym import Pseudonymizer
from bot.anonymity.receipt import receipt_hash
from bot.campaigns.service import CampaignService
from bot.config import DEFAULT_QUESTIONNAIRE
from bot.conversation.core import DRAFT_KEY
from bot.conversation.model import Cadre, ConversationKey
from bot.conversation.ports import Submitted
from bot.conversation.state import MemoryStates
from bot.questionnaire import Draft, Engine, QuestionStep, load_questionnaire
from bot.respondent.survey import EARLIER_QUESTIONNAIRES, SurveyService
from bot.staff.audited import AuditedActions
from storage.database import Database
from storage.repositories import AuditRepository, RateLimitRepository, SubmissionRepository
from storage.repositories.campaigns import CampaignRepository
from storage.repositories.questionnaire_versions import QuestionnaireVersionRepository

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)
V1 = EARLIER_QUESTIONNAIRES / "formalism-v1.yaml"


class Setup:
    def __init__(self, database: Database, submissions: SubmissionRepository) -> None:
        self.database = database
        self.submissions = submissions
        self.versions = QuestionnaireVersionRepository(database)
        self.secret = secrets.token_bytes(32)

    def survey(self, earlier: Path | None = EARLIER_QUESTIONNAIRES) -> SurveyService:
        """The survey as the app builds it, configured with the shipped (current) file."""

        def today() -> date:
            return NOW.astimezone(ZONE).date()

        campaigns = CampaignService(
            CampaignRepository(self.database),
            self.versions,
            AuditedActions(self.database, AuditRepository(self.database), today),
            today,
        )
        return SurveyService(
            load_questionnaire(DEFAULT_QUESTIONNAIRE),
            self.database,
            self.submissions,
            RateLimitRepository(self.database),
            self.secret,
            campaigns,
            self.versions,
            max_per_day=3,
            zone=ZONE,
            now=lambda: NOW,
            earlier=earlier,
        )


@pytest.fixture
async def setup(migrated_sqlite_url: str) -> AsyncIterator[Setup]:
    database = await Database.connect(migrated_sqlite_url)
    try:
        yield Setup(database, SubmissionRepository(database, TextCipher(secrets.token_bytes(32))))
    finally:
        await database.dispose()


def _cadre() -> Cadre:
    pseudonymizer = Pseudonymizer(secrets.token_bytes(32))

    def daily(purpose: str, day: date) -> str:
        return pseudonymizer.daily(purpose, day, 4242)

    key = ConversationKey("pseudonym-of-one-chat")
    return Cadre(key, "zh-CN", MemoryStates().of(key), daily)


def _half_answered_v1() -> Draft:
    """A draft on version 1 answered up to its first problem's example: p1_freq "often"
    (which only version 1 asks as a question of its own) and p1_impact 4."""
    engine = Engine(load_questionnaire(V1))
    outcome = engine.start()
    for question_id, value in (
        ("unit_type", "town_street"),
        ("post_level", "staff"),
        ("p1_freq", "often"),
        ("p1_impact", 4),
    ):
        assert isinstance(outcome.step, QuestionStep)
        assert outcome.step.question.id == question_id
        outcome = engine.answer(outcome.draft, value, question_id=question_id)
        assert outcome.error is None
    return outcome.draft


def _finish(engine: Engine, draft: Draft) -> Draft:
    """Walk on to the review: "never" for the frequencies, the first choice or the lowest
    value elsewhere, skipping what can be skipped."""
    step = engine.step(draft)
    while isinstance(step, QuestionStep):
        question = step.question
        if question.type == "single":
            value: str | int = "never" if "never" in question.choice_ids else question.choice_ids[0]
            outcome = engine.answer(draft, value, question_id=question.id)
        elif question.type == "scale" and question.min is not None:
            outcome = engine.answer(draft, question.min, question_id=question.id)
        else:
            outcome = engine.skip(draft, question_id=question.id)
        assert outcome.error is None, (question.id, outcome.error)
        draft, step = outcome.draft, outcome.step
    return draft


def test_the_current_file_is_newer_than_every_bundled_version() -> None:
    current = load_questionnaire(DEFAULT_QUESTIONNAIRE)
    bundled = [load_questionnaire(path) for path in sorted(EARLIER_QUESTIONNAIRES.glob("*.yaml"))]
    assert [(q.id, q.version) for q in bundled] == [("formalism", 1)]
    assert all(q.id == current.id and q.version < current.version for q in bundled)


async def test_a_v1_draft_finishes_on_v1_after_the_upgrade(setup: Setup) -> None:
    survey = setup.survey()
    assert survey.questionnaire.version == 2
    draft = await survey.draft_in({DRAFT_KEY: _half_answered_v1().to_json()})
    assert draft is not None and draft.version == 1
    engine = survey.engine_of(draft)
    assert engine.questionnaire.version == 1
    step = engine.step(draft)
    assert isinstance(step, QuestionStep) and step.question.id == "p1_example"

    result = await survey.submit(_finish(engine, draft), _cadre())

    assert isinstance(result, Submitted)
    found = await setup.submissions.find_by_receipt(receipt_hash(result.receipt_code, setup.secret))
    assert found is not None
    stored = await setup.submissions.get(found)
    assert stored is not None
    assert (stored.questionnaire_id, stored.questionnaire_version) == ("formalism", 1)
    assert stored.answers["p1_freq"] == "often" and stored.answers["p1_impact"] == 4


async def test_without_the_bundled_versions_a_v1_draft_is_dropped(setup: Setup) -> None:
    survey = setup.survey(earlier=None)
    assert await survey.draft_in({DRAFT_KEY: _half_answered_v1().to_json()}) is None
    assert await survey.engine_for("formalism", 1) is None


async def test_a_stored_version_comes_before_a_bundled_one(setup: Setup) -> None:
    text = V1.read_text(encoding="utf-8").replace(
        "基层形式主义、官僚主义问题匿名调查\n  en:", "基层减负问卷\n  en:", 1
    )
    await setup.versions.add("formalism", 1, text, NOW.date())
    engine = await setup.survey().engine_for("formalism", 1)
    assert engine is not None and engine.questionnaire.title_for("zh-CN") == "基层减负问卷"


async def test_a_bundled_file_that_does_not_validate_is_left_out(
    setup: Setup, tmp_path: Path
) -> None:
    (tmp_path / "broken.yaml").write_text("id: formalism\nversion: 1\n", encoding="utf-8")
    (tmp_path / "v1.yaml").write_text(V1.read_text(encoding="utf-8"), encoding="utf-8")
    survey = setup.survey(earlier=tmp_path)
    assert list(survey.bundled_earlier()) == [("formalism", 1)]
    assert await survey.engine_for("formalism", 1) is not None
    assert await survey.engine_for("formalism", 7) is None
