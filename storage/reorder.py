"""Rewrite the submission-side tables in random order (PostgreSQL), so rows forget arrival.

Random ids and day-only dates keep order and time out of the columns, but PostgreSQL keeps
them elsewhere: every row version carries the id of the transaction that wrote it (`xmin`,
increasing), and the heap holds rows in the order they were appended (`ctid`). Both give the
order in which reports arrived, and an `xmin` next to a known user's rate-counter update or
deleted draft links the two.

`reorder_submission_tables` copies `submissions`, `answers`, `cases`, `case_events`,
`followup_messages` and `case_notes` into temporary tables, deletes them and inserts every row
back `ORDER BY random()`, all in one transaction under a lock that lets readers go on and
makes writers wait. Afterwards every row of these tables has the same `xmin` (the reorder's
transaction) and the heap order is a random permutation. The old row versions are then dead
tuples that still carry the old `xmin` and sit in the old order, so a `VACUUM (FULL)` of the
six tables follows (it cannot run inside a transaction): it writes the live rows to new files
in their new order and removes the old files. What is not erased is in docs/THREAT_MODEL.md.

SQLite needs none of this: every table is `WITHOUT ROWID`, so rows live in the B-tree order
of their random keys, and no transaction id is stored per row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import Table, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import Database
from storage.tables import answers, case_events, case_notes, cases, followup_messages, submissions

logger = logging.getLogger(__name__)

# Parents before children: the order rows go back in (and the reverse of deletion).
SUBMISSION_TABLES: tuple[Table, ...] = (
    submissions,
    answers,
    cases,
    case_events,
    followup_messages,
    case_notes,
)
LOCK_TIMEOUT = "30s"  # writers queue behind the reorder's lock: never hold them for long

SQLITE_NOTE = (
    "SQLite: nothing to reorder. Every table is WITHOUT ROWID, so rows are stored in the order "
    "of their random keys, not in arrival order, and SQLite keeps no transaction id per row."
)


class ReorderError(RuntimeError):
    """The reorder was refused or did not preserve the tables (rolled back, nothing changed)."""


@dataclass(frozen=True)
class ReorderReport:
    dialect: str
    reordered: bool
    rows: dict[str, int] = field(default_factory=dict)
    vacuumed: bool = False
    note: str = ""

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def _outside_references() -> list[str]:
    """Tables outside the set with a foreign key into it: deleting would cascade into them."""
    inside = {table.name for table in SUBMISSION_TABLES}
    found = set()
    for table in submissions.metadata.sorted_tables:
        if table.name in inside:
            continue
        for foreign_key in table.foreign_keys:
            if foreign_key.column.table.name in inside:
                found.add(table.name)
    return sorted(found)


async def reorder_submission_tables(database: Database, *, vacuum: bool = True) -> ReorderReport:
    """Give every row of the submission-side tables a new row version, in random heap order.

    One transaction: row counts are checked before it commits, and any failure rolls back
    everything. With `vacuum`, `VACUUM (FULL)` then removes the old row versions."""
    if database.dialect != "postgresql":
        return ReorderReport(dialect=database.dialect, reordered=False, note=SQLITE_NOTE)
    outside = _outside_references()
    if outside:
        raise ReorderError("refusing to reorder: deleting would cascade into " + ", ".join(outside))
    async with database.engine.begin() as connection:
        rows = await _reorder(connection)
    vacuumed = False
    if vacuum:
        try:
            await _vacuum_full(database)
            vacuumed = True
        except DBAPIError as exc:  # committed already; the next run vacuums again
            logger.warning("VACUUM (FULL) after the reorder failed: %s", type(exc).__name__)
    logger.info("reordered %d row(s) of the submission tables", sum(rows.values()))
    return ReorderReport(dialect="postgresql", reordered=True, rows=rows, vacuumed=vacuumed)


def _quoted(table: Table) -> str:
    return f'"{table.name}"'


def _temporary(table: Table) -> str:
    return f'"reorder_{table.name}"'


def _columns(table: Table) -> str:
    return ", ".join(f'"{column.name}"' for column in table.columns)


async def _count(connection: AsyncConnection, table: Table) -> int:
    return int(await connection.scalar(select(func.count()).select_from(table)) or 0)


async def _reorder(connection: AsyncConnection) -> dict[str, int]:
    names = ", ".join(_quoted(table) for table in SUBMISSION_TABLES)
    await connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    # EXCLUSIVE: readers (digests, exports) go on seeing the old rows; writers wait, so no
    # row can arrive between the copy and the delete.
    await connection.execute(text(f"LOCK TABLE {names} IN EXCLUSIVE MODE"))
    before: dict[str, int] = {}
    for table in SUBMISSION_TABLES:
        await connection.execute(
            text(
                f"CREATE TEMPORARY TABLE {_temporary(table)} ON COMMIT DROP AS "
                f"SELECT {_columns(table)} FROM {_quoted(table)}"
            )
        )
        before[table.name] = await _count(connection, table)
    for table in reversed(SUBMISSION_TABLES):  # children first: nothing left to cascade
        await connection.execute(text(f"DELETE FROM {_quoted(table)}"))
    for table in SUBMISSION_TABLES:
        columns = _columns(table)
        await connection.execute(
            text(
                f"INSERT INTO {_quoted(table)} ({columns}) "
                f"SELECT {columns} FROM {_temporary(table)} ORDER BY random()"
            )
        )
    after = {table.name: await _count(connection, table) for table in SUBMISSION_TABLES}
    if after != before:
        raise ReorderError(f"row counts changed during the reorder ({before} → {after})")
    return after


async def _vacuum_full(database: Database) -> None:
    """Rewrite the six tables into new files without their dead row versions."""
    names = ", ".join(_quoted(table) for table in SUBMISSION_TABLES)
    async with database.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text(f"SET lock_timeout = '{LOCK_TIMEOUT}'"))
        try:
            await autocommit.execute(text(f"VACUUM (FULL) {names}"))
        finally:
            await autocommit.execute(text("RESET lock_timeout"))
