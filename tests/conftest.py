"""Shared fixtures: database URLs for SQLite, PostgreSQL and Redis.

PostgreSQL and Redis tests read TEST_POSTGRES_URL / TEST_REDIS_URL. When a variable is unset
the test is skipped with the reason printed, except under CI=true, where it fails: CI must
never pass by skipping the storage tests.

Most tests want a database at the latest migration, not a test of the migrations: they get
a copy of a template migrated once per session (per xdist worker) — a file copy on SQLite,
`CREATE DATABASE … TEMPLATE` on PostgreSQL — and `Database.upgrade()` then finds it at head
and does nothing. Tests of the migrations themselves take the empty databases.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from storage.database import Database

# Property tests meet the same examples on every run: a suite that passes once passes again.
settings.register_profile(
    "deterministic",
    derandomize=True,
    database=None,
    print_blob=True,
    deadline=None,  # a loaded machine is slow, not wrong
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("deterministic")


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


def _url(base: URL, database: str) -> str:
    return base.set(database=database).render_as_string(hide_password=False)


async def _migrate(url: str) -> None:
    database = await Database.connect(url)
    try:
        await database.upgrade()
    finally:
        await database.dispose()  # also folds SQLite's WAL into the file that is copied


def copy_sqlite_template(template: Path, target: Path) -> None:
    """Copy the migrated template to `target`, owner-only like a file the bot creates."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as copy:
        copy.write(template.read_bytes())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the latest migration, built once per session (per xdist worker)."""
    path = tmp_path_factory.mktemp("template") / "qingfeng.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """The name of a PostgreSQL database at the latest migration, built once per session
    (per xdist worker) and dropped at its end. Nothing stays connected to it, so that
    `CREATE DATABASE … TEMPLATE` can copy it."""
    base = make_url(_require("TEST_POSTGRES_URL"))
    name = f"qingfeng_template_{secrets.token_hex(6)}"

    async def create() -> None:
        await _admin_execute(base, f'CREATE DATABASE "{name}"')
        await _migrate(_url(base, name))

    asyncio.run(create())
    try:
        yield name
    finally:
        asyncio.run(_admin_execute(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin_execute(base: URL, statement: str) -> None:
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await admin.dispose()


@contextlib.asynccontextmanager
async def _postgres_database(template: str | None) -> AsyncIterator[str]:
    """A database of its own for one test, dropped afterwards: concurrent test runs on the
    same server never see each other's rows."""
    base = make_url(_require("TEST_POSTGRES_URL"))
    name = f"qingfeng_test_{secrets.token_hex(6)}"
    copy = f' TEMPLATE "{template}"' if template is not None else ""
    await _admin_execute(base, f'CREATE DATABASE "{name}"{copy}')
    try:
        yield _url(base, name)
    finally:
        await _admin_execute(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: os.PathLike[str]) -> str:
    """A fresh, empty SQLite database file in the test's temporary directory."""
    return f"sqlite+aiosqlite:///{os.fspath(tmp_path)}/qingfeng.db"


@pytest.fixture
def migrated_sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A SQLite database at the latest migration (a copy of the session's template)."""
    path = tmp_path / "migrated.db"
    copy_sqlite_template(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def migrated_data_dir(sqlite_template: Path) -> Callable[[Path], Path]:
    """Prepare a DATA_DIR whose SQLite database is already at the latest migration (and
    holds nothing, so the bot still generates its secrets): the bot's start-up then finds
    nothing to migrate. Returns the directory."""

    def prepare(data_dir: Path) -> Path:
        copy_sqlite_template(sqlite_template, data_dir / "qingfeng.db")
        return data_dir

    return prepare


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for this test, dropped afterwards."""
    async with _postgres_database(None) as url:
        yield url


@pytest.fixture
async def migrated_postgres_url(postgres_template: str) -> AsyncIterator[str]:
    """A PostgreSQL database at the latest migration for this test (a copy of the session's
    template), dropped afterwards."""
    async with _postgres_database(postgres_template) as url:
        yield url


@pytest.fixture
def redis_url() -> str:
    """TEST_REDIS_URL. Tests must use unique keys and delete what they write (no FLUSHDB:
    another run may share the database)."""
    return _require("TEST_REDIS_URL")


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """The same test on SQLite and on PostgreSQL, each database at the latest migration."""
    fixture = "migrated_sqlite_url" if request.param == "sqlite" else "migrated_postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def empty_db_url(request: pytest.FixtureRequest) -> str:
    """The same test on SQLite and on PostgreSQL, each database empty (not migrated)."""
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
        # What `FeatureOptions(digest_loop=False)` passes, whatever options the test's app got.
        return build(*args, **{**kwargs, "run_scheduler": False})  # type: ignore[arg-type]

    monkeypatch.setattr(app, "build_digest_runtime", without_loop)
    return monkeypatch
