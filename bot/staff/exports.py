"""An admin's export as a file in memory: audited before any row is read, written in an
owner-only temporary directory inside DATA_DIR (never a shared /tmp) and deleted at once."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Final

from bot.anonymity.crypto import TextCipher
from bot.clock import WallClock
from bot.config import Settings
from bot.export import ExportFormat, ExportOptions, ExportResult, export_submissions
from bot.export.generalise import week_of
from bot.questionnaire import Questionnaire
from bot.staff.audited import AuditedActions
from storage.database import Database

EXPORT_FORMAT: Final[ExportFormat] = "xlsx"


@dataclass(frozen=True)
class ExportFile:
    """The export, and for CSV and SAV its codebook (`companions`: name and content)."""

    filename: str
    content: bytes
    result: ExportResult
    today: date
    companions: tuple[tuple[str, bytes], ...] = ()


class StaffExports:
    """Builds the closed weeks' export for an admin (the router checked the role)."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        cipher: TextCipher,
        audited: AuditedActions,
        clock: WallClock,
    ) -> None:
        self._settings = settings
        self._database = database
        self._cipher = cipher
        self._audited = audited
        self._clock = clock

    async def build(
        self,
        actor_user_id: int,
        questionnaire: Questionnaire,
        *,
        campaign_id: str | None,
        with_text: bool,
        fmt: ExportFormat = EXPORT_FORMAT,
    ) -> ExportFile:
        """The entry is committed before any row is read: an export that could not be
        audited is never built."""
        subject = campaign_id or "all"
        await self._audited.record(actor_user_id, "export.text" if with_text else "export", subject)
        settings = self._settings
        today = self._clock().astimezone(settings.zone).date()
        options = ExportOptions(
            until=today, with_text=with_text, k=settings.k_anonymity, campaign_id=campaign_id
        )
        suffix = "-text" if with_text else ""
        last_day = week_of(today) - timedelta(days=1)
        filename = f"qingfeng-{last_day.isoformat()}{suffix}.{fmt}"
        with tempfile.TemporaryDirectory(dir=settings.data_dir) as directory:
            path = Path(directory) / filename
            result = await export_submissions(
                self._database, self._cipher, questionnaire, path, fmt, options
            )
            content = await asyncio.to_thread(path.read_bytes)
            companions: tuple[tuple[str, bytes], ...] = ()
            if result.codebook is not None:
                codebook = await asyncio.to_thread(result.codebook.read_bytes)
                companions = ((result.codebook.name, codebook),)
        return ExportFile(filename, content, result, today, companions)
