"""Fixtures for report tests: the shipped questionnaire (version 2), version 1, fresh keys and
a migrated database."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from bot.anonymity.crypto import TextCipher
from bot.config import DEFAULT_QUESTIONNAIRE
from bot.questionnaire import Questionnaire, load_questionnaire
from bot.respondent.survey import EARLIER_QUESTIONNAIRES
from storage.database import Database


@pytest.fixture(scope="session")
def questionnaire_v2() -> Questionnaire:
    return load_questionnaire(DEFAULT_QUESTIONNAIRE)


@pytest.fixture(scope="session")
def questionnaire_v1() -> Questionnaire:
    return load_questionnaire(EARLIER_QUESTIONNAIRES / "formalism-v1.yaml")


@pytest.fixture
def cipher() -> TextCipher:
    return TextCipher(secrets.token_bytes(32))


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    db = await Database.connect(db_url)
    try:
        await db.upgrade()
        yield db
    finally:
        await db.dispose()
