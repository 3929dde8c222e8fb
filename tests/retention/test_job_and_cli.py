"""The daily retention job starts and stops with the bot; `retention purge` runs it by hand."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.anonymity.crypto import TextCipher
from bot.anonymity.keys import load_keys
from bot.cases.retention import RetentionJob, RetentionService
from bot.cli import main
from bot.config import load_settings
from storage.database import Database
from storage.repositories import CaseRepository, NewSubmission, SubmissionRepository


class NoStoredDigests:
    """No digest was ever stored: the reports are what these tests purge."""

    async def purge_before(self, day: date, *, dry_run: bool = False) -> int:
        return 0


def _new(day: date) -> NewSubmission:
    return NewSubmission(
        questionnaire_id="q",
        questionnaire_version=1,
        answers={"p1_freq": "often"},
        text_question_ids=frozenset(),
        day=day,
        receipt_hash=secrets.token_hex(32),
    )


async def test_the_job_purges_at_start_and_stops(migrated_sqlite_url: str) -> None:
    db = await Database.connect(migrated_sqlite_url)
    try:
        await db.upgrade()
        cipher = TextCipher(secrets.token_bytes(32))
        submission_id = await SubmissionRepository(db, cipher).store(_new(date(2020, 1, 1)))
        cases = CaseRepository(db, cipher)
        service = RetentionService(
            db,
            cases,
            retention_days=30,
            zone=ZoneInfo("Asia/Shanghai"),
            clock=lambda: datetime(2026, 1, 1, tzinfo=UTC),
            digests=NoStoredDigests(),
        )
        job = RetentionJob(service, interval=3600)
        job.start()
        async with asyncio.timeout(60):  # only catches a hang: the purge runs at start
            while await cases.by_submission(submission_id) is not None:  # noqa: ASYNC110 - a stored row has no event
                await asyncio.sleep(0.02)
        assert await cases.by_submission(submission_id) is None
        assert job.running
        await job.stop()
        assert not job.running
    finally:
        await db.dispose()


def test_the_purge_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.setenv("RETENTION_DAYS", "30")
    settings = load_settings()

    async def seed() -> None:
        db = await Database.connect(settings.resolved_database_url)
        try:
            await db.upgrade()
            cipher = TextCipher(load_keys(settings).data_key)
            await SubmissionRepository(db, cipher).store(_new(date(2020, 1, 1)))
        finally:
            await db.dispose()

    asyncio.run(seed())
    assert main(["retention", "purge", "--dry-run"]) == 0
    assert "would delete 1 report(s)" in capsys.readouterr().out
    assert main(["retention", "purge"]) == 0
    assert "deleted 1 report(s)" in capsys.readouterr().out
    assert main(["retention", "purge", "--dry-run"]) == 0
    assert "would delete 0 report(s)" in capsys.readouterr().out
