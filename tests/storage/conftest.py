"""Fixtures for storage tests: fresh keys and a migrated database on each dialect."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from bot.anonymity.crypto import TextCipher
from bot.anonymity.pseudonym import Pseudonymizer
from storage.database import Database


@pytest.fixture
def pseudonymizer() -> Pseudonymizer:
    return Pseudonymizer(secrets.token_bytes(32))


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
