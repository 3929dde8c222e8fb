"""Staff actions and their audit entries, committed together.

A staff use case opens one transaction (`AuditedActions.transaction()`), makes its change
through repositories that accept the `connection`, and records its audit entry in the same
transaction: if the audit write fails, the change is rolled back, and an action that changed
nothing records nothing. Reads that staff make (an export) are recorded before the data is
read, so an export that could not be audited is never built.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import Database
from storage.repositories.cases import AuditRepository


@dataclass
class AuditedTransaction:
    """One open transaction: the change goes through `connection`, the entry via `record`."""

    connection: AsyncConnection
    _audit: AuditRepository
    _today: Callable[[], date]
    _after_commit: list[Callable[[], None]] = field(default_factory=list)

    async def record(self, actor_user_id: int, action: str, subject: str) -> None:
        await self._audit.record(
            actor_user_id, action, subject, self._today(), connection=self.connection
        )

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the transaction has committed (e.g. drop a cache)."""
        self._after_commit.append(callback)


class AuditedActions:
    """Opens the transaction of a staff use case (see the module docstring)."""

    def __init__(self, database: Database, audit: AuditRepository, today: Callable[[], date]):
        self._database = database
        self._audit = audit
        self._today = today

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AuditedTransaction]:
        callbacks: list[Callable[[], None]] = []
        async with self._database.transaction() as connection:
            yield AuditedTransaction(connection, self._audit, self._today, callbacks)
        for callback in callbacks:
            callback()

    async def record(self, actor_user_id: int, action: str, subject: str) -> None:
        """An entry on its own, for a read (its own transaction, committed before the read)."""
        await self._audit.record(actor_user_id, action, subject, self._today())
