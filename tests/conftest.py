"""Shared fixtures: database URLs for SQLite, PostgreSQL and Redis.

PostgreSQL and Redis tests read TEST_POSTGRES_URL / TEST_REDIS_URL. When a variable is unset
the test is skipped with the reason printed, except under CI=true, where it fails: CI must
never pass by skipping the storage tests.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool


def _require(variable: str) -> str:
    value = os.environ.get(variable, "").strip()
    if not value:
        reason = f"{variable} is not set (e.g. {_EXAMPLES[variable]})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {reason}", pytrace=False)
        pytest.skip(reason)
    return value


_EXAMPLES = {
    "TEST_POSTGRES_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
    "TEST_REDIS_URL": "redis://127.0.0.1:6379/15",
}


@pytest.fixture
def sqlite_url(tmp_path: os.PathLike[str]) -> str:
    """A fresh SQLite database file in the test's temporary directory."""
    return f"sqlite+aiosqlite:///{os.fspath(tmp_path)}/qingfeng.db"


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for this test, dropped afterwards.

    A database per test (a few tens of milliseconds to create) keeps concurrent test runs
    on the same server from ever seeing each other's rows.
    """
    base = make_url(_require("TEST_POSTGRES_URL"))
    name = f"qingfeng_test_{secrets.token_hex(6)}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@pytest.fixture
def redis_url() -> str:
    """TEST_REDIS_URL. Tests must use unique keys and delete what they write (no FLUSHDB:
    another run may share the database)."""
    return _require("TEST_REDIS_URL")


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """The same test on SQLite and on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def manual_digests(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No background digest loop in the app: a scheduled digest would otherwise land in a
    staff member's chat in the middle of the conversation under test, at whatever hour the
    suite runs. Tests that need digests tick the runtime themselves (or `undo()` this)."""
    from bot import app
    from bot.digest.scheduler import DigestRuntime, build_digest_runtime

    build = build_digest_runtime

    def without_loop(*args: object, **kwargs: object) -> DigestRuntime:
        runtime = build(*args, **kwargs)  # type: ignore[arg-type]
        runtime.run_scheduler = False
        return runtime

    monkeypatch.setattr(app, "build_digest_runtime", without_loop)
    return monkeypatch
