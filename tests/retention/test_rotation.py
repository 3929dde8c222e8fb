"""Key rotation: every encrypted column moves to the new DATA_KEY in resumable batches.

A crash in the middle (an exception inside a batch's transaction, after some batches have
committed) loses nothing: the old key still reads what is left, the next run finishes, and
afterwards everything decrypts with the new key alone."""

from __future__ import annotations

import io
import secrets
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from aiogram.fsm.storage.base import StorageKey

from bot.anonymity.crypto import TextCipher
from bot.anonymity.keys import DATA_KEY_FILE, DATA_KEY_PREVIOUS_FILE, SECRETS_DIR, load_keys
from bot.anonymity.pseudonym import Pseudonymizer
from bot.anonymity.rotation import count_not_current, rotate
from bot.config import load_settings
from bot.maintenance import keys_rotate
from bot.statuses import FollowupOrigin
from storage.database import Database
from storage.fsm import SqlStorage
from storage.repositories import (
    CaseRepository,
    DigestRepository,
    NewSubmission,
    SubmissionRepository,
    SubscriberRepository,
)
from tests.anonymity.legacy import write_as_legacy

DAY = date(2026, 11, 2)


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    db = await Database.connect(db_url)
    try:
        await db.upgrade()
        yield db
    finally:
        await db.dispose()


class Crash(Exception):
    pass


async def _seed(db: Database, cipher: TextCipher, pseudonymizer: Pseudonymizer) -> list[str]:
    submissions = SubmissionRepository(db, cipher)
    cases = CaseRepository(db, cipher)
    ids = []
    for n in range(7):
        submission_id = await submissions.store(
            NewSubmission(
                questionnaire_id="q",
                questionnaire_version=1,
                answers={"p1_example": f"文本{n}", "p1_freq": "often"},
                text_question_ids=frozenset({"p1_example"}),
                day=DAY,
                receipt_hash=secrets.token_hex(32),
            )
        )
        await cases.add_message(submission_id, FollowupOrigin.INVESTIGATOR, f"问题{n}", DAY)
        await cases.add_message(submission_id, FollowupOrigin.CADRE, f"回答{n}", DAY)
        await cases.add_note(submission_id, f"备注{n}", DAY)
        ids.append(submission_id)
    subscribers = SubscriberRepository(db, cipher, pseudonymizer)
    for chat_id in (1001, 1002, 1003):
        await subscribers.subscribe(chat_id, "zh-CN")
    storage = SqlStorage(db, pseudonymizer, cipher, ttl=timedelta(days=1))
    await storage.set_data(StorageKey(bot_id=1, chat_id=5, user_id=5), {"draft": {"a": "草稿"}})
    await DigestRepository(db, cipher).store_if_absent("daily:2026-11-01", '{"x": 1}')
    return ids


async def _read_all(
    db: Database, cipher: TextCipher, pseudonymizer: Pseudonymizer, ids: list[str]
) -> None:
    submissions = SubmissionRepository(db, cipher)
    cases = CaseRepository(db, cipher)
    for n, submission_id in enumerate(ids):
        stored = await submissions.get(submission_id)
        assert stored is not None and stored.answers["p1_example"] == f"文本{n}"
        detail = await cases.detail(submission_id)
        assert detail is not None
        assert [m.text for m in detail.thread] == [f"问题{n}", f"回答{n}"]
        assert [m.text for m in detail.notes] == [f"备注{n}"]
    subscribers = SubscriberRepository(db, cipher, pseudonymizer)
    assert sorted(await subscribers.active_chat_ids()) == [1001, 1002, 1003]
    storage = SqlStorage(db, pseudonymizer, cipher, ttl=timedelta(days=1), cache_size=0)
    data = await storage.get_data(StorageKey(bot_id=1, chat_id=5, user_id=5))
    assert data == {"draft": {"a": "草稿"}}
    assert await DigestRepository(db, cipher).get("daily:2026-11-01") == '{"x": 1}'


async def test_a_crash_in_the_middle_then_resume(database: Database) -> None:
    pseudonymizer = Pseudonymizer(secrets.token_bytes(32))
    old_key, new_key = secrets.token_bytes(32), secrets.token_bytes(32)
    ids = await _seed(database, TextCipher(old_key), pseudonymizer)
    rotating = TextCipher(new_key, [old_key])
    before = await count_not_current(database, rotating)
    assert sum(before.values()) == 7 + 14 + 7 + 3 + 1 + 1

    batches = 0

    def crash_on_the_fourth(table: str, changed: int) -> None:
        nonlocal batches
        batches += 1
        if batches == 4:
            raise Crash(table)

    with pytest.raises(Crash):
        await rotate(database, rotating, batch_size=3, on_batch=crash_on_the_fourth)
    middle = sum((await count_not_current(database, rotating)).values())
    assert 0 < middle < sum(before.values())  # some batches committed, the crashed one not
    await _read_all(database, rotating, pseudonymizer, ids)  # nothing unreadable meanwhile

    report = await rotate(database, rotating, batch_size=3)
    assert report.remaining == 0 and report.total == middle
    assert sum((await count_not_current(database, TextCipher(new_key))).values()) == 0
    await _read_all(database, TextCipher(new_key), pseudonymizer, ids)  # the new key alone
    with pytest.raises(Exception):  # noqa: B017 - the old key alone reads nothing now
        await _read_all(database, TextCipher(old_key), pseudonymizer, ids)
    # Running again is harmless.
    assert (await rotate(database, rotating)).total == 0


async def test_rotation_also_rebinds_legacy_blobs_to_their_rows(database: Database) -> None:
    """Blobs of the previous release (version 1, bound only to the column or the case, under
    the old key) come out of a rotation bound to their row and under the new key alone."""
    pseudonymizer = Pseudonymizer(secrets.token_bytes(32))
    old_key, new_key = secrets.token_bytes(32), secrets.token_bytes(32)
    ids = await _seed(database, TextCipher(old_key), pseudonymizer)
    assert await write_as_legacy(database, TextCipher(old_key), old_key) == 7 * 4
    rotating = TextCipher(new_key, [old_key])
    report = await rotate(database, rotating, batch_size=4)
    assert report.remaining == 0
    assert report.reencrypted["answers"] == 7 and report.reencrypted["case_notes"] == 7
    assert report.reencrypted["followup_messages"] == 14
    await _read_all(database, TextCipher(new_key), pseudonymizer, ids)
    assert (await rotate(database, rotating)).total == 0


async def test_the_command_rotates_key_files(tmp_path: Path) -> None:
    """`keys rotate --prepare-only`, then `keys rotate`: new key in data.key, the old one
    kept in data.key.previous meanwhile (and readable by `load_keys`), removed at the end."""
    data_dir = tmp_path / "data"
    settings = load_settings(data_dir=data_dir)
    old = load_keys(settings)
    db = await Database.connect(settings.resolved_database_url)
    await db.upgrade()
    pseudonymizer = Pseudonymizer(old.pseudonym_secret)
    ids = await _seed(db, TextCipher(old.data_key), pseudonymizer)
    await db.dispose()

    out, err = io.StringIO(), io.StringIO()

    async def rotate(*, prepare_only: bool) -> int:
        return await keys_rotate(
            settings,
            new_key=None,
            prepare_only=prepare_only,
            keep_previous=False,
            batch_size=5,
            out=out,
            err=err,
        )

    assert await rotate(prepare_only=True) == 0
    secrets_dir = data_dir / SECRETS_DIR
    assert (secrets_dir / DATA_KEY_PREVIOUS_FILE).exists()
    during = load_keys(settings)
    assert during.data_key != old.data_key and during.previous_data_keys == (old.data_key,)
    assert oct((secrets_dir / DATA_KEY_FILE).stat().st_mode & 0o777) == "0o600"

    assert await rotate(prepare_only=False) == 0, err.getvalue()
    assert not (secrets_dir / DATA_KEY_PREVIOUS_FILE).exists()
    after = load_keys(settings)
    assert after.data_key == during.data_key and after.previous_data_keys == ()
    db = await Database.connect(settings.resolved_database_url)
    try:
        await _read_all(db, TextCipher(after.data_key), pseudonymizer, ids)
    finally:
        await db.dispose()
    assert old.data_key.hex() not in out.getvalue() + err.getvalue()


async def test_environment_keys_need_a_previous_key(tmp_path: Path) -> None:
    import base64

    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    settings = load_settings(data_dir=tmp_path / "d", data_key=key)
    err = io.StringIO()
    code = await keys_rotate(
        settings,
        new_key=None,
        prepare_only=False,
        keep_previous=False,
        batch_size=10,
        out=io.StringIO(),
        err=err,
    )
    assert code == 2 and "DATA_KEY_PREVIOUS" in err.getvalue()
    assert key not in err.getvalue()


def test_every_encrypted_column_is_rotated() -> None:
    """A new `*_enc` column must be added to `bot.anonymity.rotation.CONTEXTS`."""
    from sqlalchemy import LargeBinary

    from bot.anonymity.rotation import ROTATION_TARGETS
    from storage.tables import metadata

    encrypted = {
        (table.name, column.name)
        for table in metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, LargeBinary)
    }
    covered = {(target.table.name, target.column) for target in ROTATION_TARGETS}
    assert encrypted == covered
