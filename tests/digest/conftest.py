"""Fixtures for digest tests: fresh keys, the shipped questionnaire, a migrated database."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from bot.anonymity.crypto import TextCipher
from bot.config import DEFAULT_QUESTIONNAIRE
from bot.questionnaire import Questionnaire, load_questionnaire
from storage.database import Database


@pytest.fixture(scope="session")
def questionnaire() -> Questionnaire:
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
