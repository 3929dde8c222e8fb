"""Alembic environment: programmatic (a connection handed over by `Database.upgrade`) or CLI.

Never touches logging configuration: the bot's redacting log setup must stay in place.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

from storage.database import Database
from storage.tables import metadata

config = context.config


def run_with_connection(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_from_url(url: str) -> None:
    """Through `Database`, so SQLite gets the same pragmas (secure_delete…) as in the bot."""
    database = await Database.connect(url)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(run_with_connection)
    finally:
        await database.dispose()


def run_offline(url: str) -> None:
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with_connection(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("set DATABASE_URL (or sqlalchemy.url) to run Alembic directly")
    if context.is_offline_mode():
        run_offline(url)
    else:
        asyncio.run(run_from_url(url))


main()
