"""Questionnaire versions: an admin's YAML upload is validated (problems by question id) and
stored; a version with answers is immutable; `python -m bot questionnaire add FILE`."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from bot.config import DEFAULT_QUESTIONNAIRE
from bot.respondent.callbacks import Act
from storage.database import Database
from storage.repositories import NewSubmission, SubmissionRepository
from storage.repositories.questionnaire_versions import AddResult, QuestionnaireVersionRepository
from tests.e2e.conftest import StartOffline
from tests.e2e.driver import WAIT, answer_until_review, tap, wait_for_question_after

# Scheduled digests stay off: they would land in the admin's chat mid-test.
pytestmark = pytest.mark.usefixtures("manual_digests")

ADMIN = 5_590_001
SHIPPED = DEFAULT_QUESTIONNAIRE.read_text(encoding="utf-8")
PROBLEMS = Path(__file__).parents[1] / "data" / "questionnaires" / "many_problems.yaml"


async def test_admin_uploads_valid_and_invalid_yaml(start_offline: StartOffline) -> None:
    offline = await start_offline(admin_ids=[ADMIN])
    admin = offline.emulator.user(user_id=ADMIN, language_code="en")
    sent = await admin.send_document(SHIPPED.encode(), file_name="formalism.yaml")
    reply = await admin.wait_for_message(after=sent, timeout=WAIT)
    assert "Stored as a new version" in (reply.text or "")
    assert "'formalism' version 2" in (reply.text or "")

    sent = await admin.send_document(PROBLEMS.read_bytes(), file_name="many_problems.yaml")
    reply = await admin.wait_for_message(after=sent, timeout=WAIT)
    assert "Not stored" in (reply.text or "")

    stranger = offline.new_user(language_code="en")
    sent = await stranger.send_document(SHIPPED.encode(), file_name="formalism.yaml")
    reply = await stranger.wait_for_message(after=sent, timeout=WAIT)
    assert "Stored" not in (reply.text or "")
    assert offline.services is not None
    versions = QuestionnaireVersionRepository(offline.services.database)
    assert [(v.id, v.version) for v in await versions.list()] == [("formalism", 2)]


async def test_a_version_with_answers_is_immutable(sqlite_url: str) -> None:
    from bot.anonymity.crypto import TextCipher

    db = await Database.connect(sqlite_url)
    await db.upgrade()
    try:
        versions = QuestionnaireVersionRepository(db)
        day = date(2026, 11, 29)
        assert await versions.add("q", 1, "a: 1", day) == AddResult.ADDED
        assert await versions.add("q", 1, "a: 1", day) == AddResult.UNCHANGED
        assert await versions.add("q", 1, "a: 2", day) == AddResult.REPLACED
        await SubmissionRepository(db, TextCipher(b"k" * 32)).store(
            NewSubmission("q", 1, {}, frozenset(), day, "r" * 64)
        )
        assert await versions.add("q", 1, "a: 3", day) == AddResult.IMMUTABLE
        assert await versions.text_of("q", 1) == "a: 2"
        assert await versions.add("q", 2, "a: 3", day) == AddResult.ADDED
    finally:
        await db.dispose()


def test_cli_adds_a_version(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    run = [sys.executable, "-m", "bot", "questionnaire", "add"]
    ok = subprocess.run([*run, str(DEFAULT_QUESTIONNAIRE)], env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "'formalism' version 2: added" in ok.stdout
    bad = subprocess.run([*run, str(PROBLEMS)], env=env, capture_output=True, text=True)
    assert bad.returncode == 2
    assert "nothing stored" in bad.stdout


async def test_an_admin_previews_a_stored_version_and_nothing_is_stored(
    start_offline: StartOffline,
) -> None:
    from sqlalchemy import func, select

    from storage.tables import fsm_entries, rate_counters, submissions

    offline = await start_offline(admin_ids=[ADMIN])
    admin = offline.emulator.user(user_id=ADMIN, language_code="en")
    assert "\nversion: 2\n" in SHIPPED
    newer = SHIPPED.replace("\nversion: 2\n", "\nversion: 3\n", 1)
    sent = await admin.send_document(newer.encode(), file_name="formalism-v3.yaml")
    await admin.wait_for_message(after=sent, timeout=WAIT)

    stranger = offline.new_user(language_code="en")
    sent = await stranger.send_command("/questionnaire_preview", "formalism v3")
    reply = await stranger.wait_for_message(after=sent, timeout=WAIT)
    assert "Only administrators" in (reply.text or "")
    sent = await admin.send_command("/questionnaire_preview", "formalism v7")
    reply = await admin.wait_for_message(after=sent, timeout=WAIT)
    assert "No stored questionnaire formalism version 7" in (reply.text or "")

    sent = await admin.send_command("/questionnaire_preview", "formalism v3")
    reply = await admin.wait_for_message(after=sent, timeout=WAIT)
    assert "Preview of formalism version 3" in (reply.text or "")
    await wait_for_question_after(admin, sent.message_id)
    await answer_until_review(admin)
    await tap(admin, Act.SUBMIT)
    assert any("nothing stored" in (m.text or "") for m in admin.bot_messages)

    assert offline.services is not None
    async with offline.services.database.engine.connect() as connection:
        for table in (submissions, fsm_entries, rate_counters):
            count = await connection.scalar(select(func.count()).select_from(table))
            assert count == 0, table.name
