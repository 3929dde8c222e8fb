"""Questionnaire versions uploaded by admins.

A version is identified by the questionnaire's own `id` and `version` (from the YAML). Adding
the same (id, version) again with other text replaces it only while no submission uses it; a
version with answers is immutable, so a changed questionnaire needs a new `version:`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import Database
from storage.tables import questionnaire_versions, submissions


class AddResult(StrEnum):
    ADDED = "added"
    UNCHANGED = "unchanged"  # the very same text was already stored
    REPLACED = "replaced"  # same version, no answers yet
    IMMUTABLE = "immutable"  # same version, other text, and it has answers: refused


@dataclass(frozen=True)
class StoredVersion:
    id: str
    version: int
    added_day: date


class QuestionnaireVersionRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        questionnaire_id: str,
        version: int,
        yaml_text: str,
        day: date,
        *,
        connection: AsyncConnection | None = None,
    ) -> AddResult:
        """Store a version; in the caller's `connection` (transaction) when given."""
        table = questionnaire_versions
        key = (table.c.id == questionnaire_id, table.c.version == version)
        async with self._db.transaction(connection) as connection:
            existing = await connection.scalar(select(table.c.yaml_text).where(*key))
            if existing is None:
                await connection.execute(
                    insert(table).values(
                        id=questionnaire_id, version=version, yaml_text=yaml_text, added_day=day
                    )
                )
                return AddResult.ADDED
            if existing == yaml_text:
                return AddResult.UNCHANGED
            answered = await connection.scalar(
                select(func.count())
                .select_from(submissions)
                .where(
                    submissions.c.questionnaire_id == questionnaire_id,
                    submissions.c.questionnaire_version == version,
                )
            )
            if answered:
                return AddResult.IMMUTABLE
            await connection.execute(
                update(table).where(*key).values(yaml_text=yaml_text, added_day=day)
            )
            return AddResult.REPLACED

    async def text_of(self, questionnaire_id: str, version: int) -> str | None:
        table = questionnaire_versions
        async with self._db.engine.connect() as connection:
            value = await connection.scalar(
                select(table.c.yaml_text).where(
                    table.c.id == questionnaire_id, table.c.version == version
                )
            )
        return None if value is None else str(value)

    async def list(self) -> list[StoredVersion]:
        table = questionnaire_versions
        async with self._db.engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(table.c.id, table.c.version, table.c.added_day).order_by(
                        table.c.id, table.c.version
                    )
                )
            ).all()
        return [StoredVersion(row.id, int(row.version), row.added_day) for row in rows]
