"""Fixtures for digest tests: fresh keys, the questionnaire (version 1, as the hand-made data
set is; version 2 as `questionnaire_v2`), a migrated database."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from bot.anonymity.crypto import TextCipher
from bot.config import DEFAULT_QUESTIONNAIRE
from bot.questionnaire import Questionnaire, load_questionnaire
from bot.respondent.survey import EARLIER_QUESTIONNAIRES
from storage.database import Database

FORMALISM_V1 = EARLIER_QUESTIONNAIRES / "formalism-v1.yaml"
"""Version 1 of the shipped questionnaire: one single-choice question per problem."""


@pytest.fixture(scope="session")
def questionnaire() -> Questionnaire:
    return load_questionnaire(FORMALISM_V1)


@pytest.fixture(scope="session")
def questionnaire_v2() -> Questionnaire:
    """The shipped questionnaire: the problems as rows of one grid."""
    return load_questionnaire(DEFAULT_QUESTIONNAIRE)


@pytest.fixture
def cipher() -> TextCipher:
    return TextCipher(secrets.token_bytes(32))


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    """A database at the latest migration, on SQLite and on PostgreSQL."""
    db = await Database.connect(db_url)
    try:
        await db.upgrade()
        yield db
    finally:
        await db.dispose()
