"""What an investigator does to a case, each together with its audit entry in one transaction.

An action that happened must be in the audit log, and an audit entry must not claim an action
that did not happen: the change and its entry commit together or not at all. A view is
audited the same way: the case is read inside the transaction that records the view, so a
case is never shown without the entry that says who looked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.statuses import CaseStatus, FollowupOrigin
from storage.database import Database
from storage.repositories import AuditRepository, CaseDetail, CaseRepository, CaseSummary


@dataclass(frozen=True)
class LabelChange:
    """What a typed label did: added, removed, or nothing (empty, duplicate, too many)."""

    action: str | None


class CaseActions:
    """Case changes plus their audit entries, each pair in a single transaction."""

    def __init__(self, database: Database, cases: CaseRepository, audit: AuditRepository) -> None:
        self._db = database
        self._cases = cases
        self._audit = audit

    async def view(self, actor: int, summary: CaseSummary, day: date) -> CaseDetail | None:
        async with self._db.transaction() as tx:
            await self._audit.record(actor, "case.view", summary.ref, day, connection=tx)
            return await self._cases.detail(summary.submission_id, connection=tx)

    async def reply(self, actor: int, summary: CaseSummary, text: str, day: date) -> None:
        async with self._db.transaction() as tx:
            await self._cases.add_message(
                summary.submission_id, FollowupOrigin.INVESTIGATOR, text, day, connection=tx
            )
            await self._audit.record(actor, "case.reply", summary.ref, day, connection=tx)

    async def note(self, actor: int, summary: CaseSummary, text: str, day: date) -> None:
        async with self._db.transaction() as tx:
            await self._cases.add_note(summary.submission_id, text, day, connection=tx)
            await self._audit.record(actor, "case.note", summary.ref, day, connection=tx)

    async def set_status(
        self, actor: int, summary: CaseSummary, status: CaseStatus, day: date
    ) -> bool:
        """False (and no entry) when the case already had that status."""
        async with self._db.transaction() as tx:
            changed = await self._cases.set_status(
                summary.submission_id, status, day, connection=tx
            )
            if changed:
                await self._audit.record(
                    actor, f"case.status.{status}", summary.ref, day, connection=tx
                )
        return changed

    async def toggle_label(
        self, actor: int, summary: CaseSummary, label: str, day: date
    ) -> LabelChange:
        """An existing label is removed, a new one added; the entry says which."""
        async with self._db.transaction() as tx:
            if label in summary.labels:
                done = await self._cases.remove_label(
                    summary.submission_id, label, day, connection=tx
                )
                action = "case.unlabel"
            else:
                done = await self._cases.add_label(summary.submission_id, label, day, connection=tx)
                action = "case.label"
            if not done:
                return LabelChange(None)
            await self._audit.record(actor, action, summary.ref, day, connection=tx)
        return LabelChange(action)

    async def set_quotable(
        self, actor: int, summary: CaseSummary, question_id: str, quotable: bool, day: date
    ) -> bool:
        """Mark or unmark one free-text answer (free text has ordinal 0) as quotable; False
        (and no entry) when nothing changed."""
        async with self._db.transaction() as tx:
            changed = await self._cases.set_quotable(
                summary.submission_id, question_id, 0, quotable, connection=tx
            )
            if changed:
                action = "case.quote" if quotable else "case.unquote"
                await self._audit.record(actor, action, summary.ref, day, connection=tx)
        return changed
