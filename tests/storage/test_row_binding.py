"""Every encrypted free text is bound to its own row, and older blobs are re-bound once.

A blob copied into another submission, question, ordinal or place in a thread does not
decrypt: the repositories raise a `DecryptionError` that names the column (never the row),
instead of showing one cadre's words as another's. Blobs of the previous release (version 1,
bound only to the column or the case) are moved to their row's context by
`rebind_legacy_contexts`, which start-up runs after the migrations."""

from __future__ import annotations

import secrets
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Table, select, update

from bot.anonymity.crypto import VERSION, DecryptionError, TextCipher, blob_version
from bot.anonymity.keys import load_keys
from bot.anonymity.rotation import RotationInterrupted, rebind_legacy_contexts
from bot.config import load_settings
from bot.statuses import FollowupOrigin
from storage.database import Database
from storage.repositories import CaseRepository, NewSubmission, SubmissionRepository
from storage.tables import answers, case_notes, followup_messages
from tests.anonymity.legacy import write_as_legacy

DAY = date(2026, 11, 2)


def _new(texts: dict[str, str]) -> NewSubmission:
    return NewSubmission(
        questionnaire_id="q",
        questionnaire_version=1,
        answers={**texts, "p1_freq": "often"},
        text_question_ids=frozenset(texts),
        day=DAY,
        receipt_hash=secrets.token_hex(32),
    )


async def _answer_blob(database: Database, submission_id: str, question_id: str) -> bytes:
    async with database.engine.connect() as connection:
        blob = await connection.scalar(
            select(answers.c.text_enc).where(
                answers.c.submission_id == submission_id,
                answers.c.question_id == question_id,
                answers.c.ordinal == 0,
            )
        )
    assert isinstance(blob, bytes)
    return blob


async def _set_answer_blob(
    database: Database, submission_id: str, question_id: str, blob: bytes
) -> None:
    async with database.engine.begin() as connection:
        result = await connection.execute(
            update(answers)
            .where(answers.c.submission_id == submission_id, answers.c.question_id == question_id)
            .values(text_enc=blob)
        )
        assert result.rowcount == 1


def _names_the_column_only(error: DecryptionError, column: str, *row_keys: str) -> None:
    assert error.where == column and str(error).startswith(f"{column}: ")
    for key in row_keys:
        assert key not in str(error)


@pytest.mark.parametrize("target", ["another submission", "another question", "another ordinal"])
async def test_an_answer_copied_to_another_row_does_not_decrypt(
    database: Database, cipher: TextCipher, target: str
) -> None:
    repository = SubmissionRepository(database, cipher)
    first = await repository.store(_new({"p1_example": "甲的故事", "p2_example": "甲的建议"}))
    second = await repository.store(_new({"p1_example": "乙的故事"}))
    stolen = await _answer_blob(database, first, "p1_example")
    if target == "another submission":
        victim = second
        await _set_answer_blob(database, second, "p1_example", stolen)
    elif target == "another question":
        victim = first
        await _set_answer_blob(database, first, "p2_example", stolen)
    else:
        victim = first
        async with database.engine.begin() as connection:
            await connection.execute(
                answers.insert().values(
                    submission_id=first,
                    question_id="p1_example",
                    ordinal=1,
                    multi=False,
                    text_enc=stolen,
                )
            )
    with pytest.raises(DecryptionError) as caught:
        await repository.get(victim)
    _names_the_column_only(caught.value, "answers.text_enc", first, second)
    # The untouched submission still reads, so the failure is the copy, nothing else.
    untouched = second if victim == first else first
    stored = await repository.get(untouched)
    assert stored is not None and "故事" in str(stored.answers["p1_example"])


@pytest.mark.parametrize("place", ["another seq", "another case"])
@pytest.mark.parametrize("table", [followup_messages, case_notes], ids=lambda t: t.name)
async def test_follow_ups_and_notes_copied_to_another_row_do_not_decrypt(
    database: Database, cipher: TextCipher, table: Table, place: str
) -> None:
    submissions = SubmissionRepository(database, cipher)
    cases = CaseRepository(database, cipher)
    first = await submissions.store(_new({"p1_example": "一"}))
    second = await submissions.store(_new({"p1_example": "二"}))
    for submission_id in (first, second):
        await cases.add_message(submission_id, FollowupOrigin.INVESTIGATOR, "请问是哪个部门？", DAY)
        await cases.add_message(submission_id, FollowupOrigin.CADRE, "是县里的部门", DAY)
        await cases.add_note(submission_id, "需要核实", DAY)
        await cases.add_note(submission_id, "已核实", DAY)
    victim, seq = (first, 1) if place == "another seq" else (second, 0)
    async with database.engine.begin() as connection:
        stolen = await connection.scalar(
            select(table.c.text_enc).where(table.c.submission_id == first, table.c.seq == 0)
        )
        await connection.execute(
            update(table)
            .where(table.c.submission_id == victim, table.c.seq == seq)
            .values(text_enc=stolen)
        )

    async def read(submission_id: str) -> object:
        if table is followup_messages:
            return await cases.thread(submission_id)
        return await cases.detail(submission_id)

    with pytest.raises(DecryptionError) as caught:
        await read(victim)
    _names_the_column_only(caught.value, f"{table.name}.text_enc", first, second)
    assert await read(second if victim == first else first)  # the other case still reads


async def _all_blobs(database: Database) -> list[bytes]:
    found: list[bytes] = []
    async with database.engine.connect() as connection:
        for table in (answers, followup_messages, case_notes):
            rows = await connection.execute(
                select(table.c.text_enc).where(table.c.text_enc.is_not(None))
            )
            found.extend(blob for (blob,) in rows)
    return found


async def _seed(database: Database, cipher: TextCipher) -> list[str]:
    submissions = SubmissionRepository(database, cipher)
    cases = CaseRepository(database, cipher)
    ids = []
    for n in range(5):
        submission_id = await submissions.store(
            _new({"p1_example": f"故事{n}", "p2_example": f"建议{n}"})
        )
        await cases.add_message(submission_id, FollowupOrigin.INVESTIGATOR, f"问题{n}", DAY)
        await cases.add_message(submission_id, FollowupOrigin.CADRE, f"回答{n}", DAY)
        await cases.add_note(submission_id, f"备注{n}", DAY)
        ids.append(submission_id)
    return ids


async def _read_all(database: Database, cipher: TextCipher, ids: list[str]) -> None:
    submissions = SubmissionRepository(database, cipher)
    cases = CaseRepository(database, cipher)
    for n, submission_id in enumerate(ids):
        stored = await submissions.get(submission_id)
        assert stored is not None
        assert (stored.answers["p1_example"], stored.answers["p2_example"]) == (
            f"故事{n}",
            f"建议{n}",
        )
        detail = await cases.detail(submission_id)
        assert detail is not None
        assert [m.text for m in detail.thread] == [f"问题{n}", f"回答{n}"]
        assert [m.text for m in detail.notes] == [f"备注{n}"]


async def test_legacy_blobs_are_rebound_once_and_the_pass_is_then_a_no_op(
    database: Database,
) -> None:
    old_key, key = secrets.token_bytes(32), secrets.token_bytes(32)
    cipher = TextCipher(key, [old_key])
    ids = await _seed(database, cipher)
    assert await write_as_legacy(database, cipher, old_key) == 5 * (2 + 2 + 1)
    # The repositories read only the row's own context: legacy blobs are refused as such.
    with pytest.raises(DecryptionError, match=r"^answers\.text_enc: "):
        await SubmissionRepository(database, cipher).get(ids[0])
    legacy_answer = await _answer_blob(database, ids[0], "p1_example")

    report = await rebind_legacy_contexts(database, cipher)
    assert report.rebound == {"answers": 10, "followup_messages": 10, "case_notes": 5}
    assert report.unreadable == {}
    blobs = await _all_blobs(database)
    assert len(blobs) == 25
    assert all(blob_version(blob) == VERSION and cipher.is_current(blob) for blob in blobs)
    await _read_all(database, TextCipher(key), ids)  # the current key alone reads everything

    again = await rebind_legacy_contexts(database, cipher)
    assert again.total == 0 and again.unreadable == {}
    assert await _all_blobs(database) == blobs  # byte for byte: nothing was rewritten

    # A legacy blob copied into another row after the re-binding is not read as that row.
    await _set_answer_blob(database, ids[1], "p1_example", legacy_answer)
    with pytest.raises(DecryptionError, match=r"^answers\.text_enc: "):
        await SubmissionRepository(database, cipher).get(ids[1])


async def test_the_pass_resumes_after_a_crash(database: Database) -> None:
    key = secrets.token_bytes(32)
    cipher = TextCipher(key)
    ids = await _seed(database, cipher)
    await write_as_legacy(database, cipher, key)

    class Crash(Exception):
        pass

    batches = 0

    def crash_on_the_third(table: str, changed: int) -> None:
        nonlocal batches
        batches += 1
        if batches == 3:
            raise Crash(table)

    with pytest.raises(Crash):
        await rebind_legacy_contexts(database, cipher, batch_size=4, on_batch=crash_on_the_third)
    done = sum(blob_version(blob) == VERSION for blob in await _all_blobs(database))
    assert done == 8  # two batches of four committed, the crashed one rolled back
    with pytest.raises(RotationInterrupted):
        await rebind_legacy_contexts(database, cipher, batch_size=4, max_batches=0)

    report = await rebind_legacy_contexts(database, cipher, batch_size=4)
    assert report.total == 25 - done
    await _read_all(database, cipher, ids)


async def test_a_legacy_blob_moved_to_another_case_is_not_rebound(
    database: Database, cipher: TextCipher
) -> None:
    """Legacy follow-ups were bound to their case: one moved to another case before the
    upgrade stays unreadable (counted, left alone) instead of being adopted by that case."""
    ids = await _seed(database, cipher)
    old_key = secrets.token_bytes(32)
    await write_as_legacy(database, cipher, old_key)
    rotating = TextCipher(secrets.token_bytes(32), [old_key])
    async with database.engine.begin() as connection:
        moved = await connection.scalar(
            select(followup_messages.c.text_enc).where(
                followup_messages.c.submission_id == ids[0], followup_messages.c.seq == 0
            )
        )
        await connection.execute(
            update(followup_messages)
            .where(followup_messages.c.submission_id == ids[1], followup_messages.c.seq == 0)
            .values(text_enc=moved)
        )
    report = await rebind_legacy_contexts(database, rotating)
    assert report.unreadable == {"followup_messages": 1}
    assert report.total == 24
    with pytest.raises(DecryptionError, match=r"^followup_messages\.text_enc: "):
        await CaseRepository(database, rotating).thread(ids[1])
    assert await CaseRepository(database, rotating).thread(ids[0])  # the original still reads


async def test_start_up_rebinds_legacy_blobs(tmp_path: Path) -> None:
    from bot.app import build_services

    settings = load_settings(data_dir=tmp_path / "data")
    keys = load_keys(settings)
    cipher = TextCipher(keys.data_key)
    database = await Database.connect(settings.resolved_database_url)
    try:
        await database.upgrade()
        ids = await _seed(database, cipher)
        await write_as_legacy(database, cipher, keys.data_key)
    finally:
        await database.dispose()

    services = await build_services(settings)
    try:
        blobs = await _all_blobs(services.database)
        assert len(blobs) == 25 and all(blob_version(blob) == VERSION for blob in blobs)
        await _read_all(services.database, services.cipher, ids)
    finally:
        await services.close()
