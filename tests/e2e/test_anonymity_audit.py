"""The anonymity contract, checked the hard way (rule 6 of the contract).

A real conversation runs through the emulator — answers, free text with a phone number,
a masked e-mail, going back, submitting, a second person cancelling — then every table is
dumped, the SQLite file itself (and its WAL) is read byte for byte, and every log record of
every logger at DEBUG is captured. The user's id, username, first and last name and the
receipt code must appear nowhere. The only identity the database may hold is the subscriber's
chat id, and even that only encrypted (so it must not appear in plain form either).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select, text

from bot.anonymity.logfilter import install_log_redaction
from bot.harness.emulator import EmulatedUser
from bot.harness.offline import OfflineBot
from bot.respondent.callbacks import Act
from storage.tables import subscribers
from tests.e2e.conftest import StartOffline
from tests.e2e.driver import (
    answer_until_review,
    current_question,
    grid_rows,
    opt_in,
    press_cells,
    start_questionnaire,
    submit,
    tap,
    type_answer,
)

USER_ID = 918273645
USERNAME = "wang_audit_xyz"
FIRST_NAME = "王审计"
LAST_NAME = "Auditson"
OTHER_ID = 827364519


async def _dump_tables(offline: OfflineBot) -> dict[str, list[str]]:
    assert offline.services is not None
    engine = offline.services.database.engine
    dump: dict[str, list[str]] = {}
    async with engine.connect() as connection:
        meta = MetaData()
        await connection.run_sync(meta.reflect)
        for name, table in meta.tables.items():
            rows = (await connection.execute(select(table))).all()
            dump[name] = [repr(tuple(row)) for row in rows]
    return dump


def _needles(code: str) -> dict[str, str]:
    return {
        "user id": str(USER_ID),
        "other user id": str(OTHER_ID),
        "username": USERNAME,
        "first name": FIRST_NAME,
        "last name": LAST_NAME,
        "receipt code": code,
        "receipt code without dashes": code.replace("-", ""),
    }


async def _to_the_example(user: EmulatedUser) -> None:
    """p1 met almost daily (the rest sometimes), its impact 5, an example picked for it."""
    await press_cells(user, {"freq.p1": "very_often"})
    await press_cells(user, {key: "sometimes" for key in grid_rows(user) if key != "freq.p1"})
    await tap(user, Act.DONE)
    await press_cells(user, {"impact.p1": "5"})
    await tap(user, Act.DONE)
    await tap(user, Act.TOGGLE, "p1")
    await tap(user, Act.DONE)
    assert current_question(user) == "p1_example"


async def test_nothing_identifies_the_respondent(
    db_url: str,
    start_offline: StartOffline,
    caplog: pytest.LogCaptureFixture,
) -> None:
    database = "sqlite" if db_url.startswith("sqlite") else "postgres"
    install_log_redaction()
    caplog.set_level(logging.DEBUG)
    offline = await start_offline(database_url=db_url)

    user = offline.new_user(
        user_id=USER_ID, first_name=FIRST_NAME, last_name=LAST_NAME, username=USERNAME
    )
    await opt_in(user)  # announcements: the one identity stored, encrypted
    await start_questionnaire(user)
    await tap(user, Act.ANSWER, "village_community")
    await tap(user, Act.ANSWER, "staff")
    await _to_the_example(user)
    reply = await type_answer(
        user, f"我是{FIRST_NAME}，电话 13912345678，邮箱 {USERNAME}@example.com，天天开会"
    )
    assert "🛡" in (reply.text or "")
    await tap(user, Act.BACK)
    assert current_question(user) == "p1_example"
    await type_answer(user, "天天开会传达会议精神，电话 139-1234-5678")
    await answer_until_review(user, frequency="sometimes")
    code = await submit(user)

    other = offline.new_user(user_id=OTHER_ID, first_name="另一位", username="other_cadre")
    await start_questionnaire(other)
    await tap(other, Act.ANSWER, "other")
    await tap(other, Act.CANCEL)
    await tap(other, Act.CANCEL_CONFIRM)

    assert offline.services is not None
    await offline.services.database.checkpoint()
    dump = await _dump_tables(offline)
    needles = _needles(code)
    # The free text's own identifying details were masked before storing.
    needles["phone number"] = "13912345678"

    flat = {table: "\n".join(rows) for table, rows in dump.items()}
    for table, content in flat.items():
        for what, needle in needles.items():
            assert needle not in content, f"{what} found in table {table}"

    # Only the one who opted in is a subscriber, and the row holds no plain chat id.
    assert len(dump[subscribers.name]) == 1
    assert dump["submissions"] and dump["answers"]
    assert dump["fsm_entries"] == []  # submitted and cancelled: no drafts left

    if database == "sqlite":
        db_path = Path(offline.settings.resolved_database_url.split("///", 1)[1])
        for path in (db_path, db_path.with_name(db_path.name + "-wal")):
            if not path.exists():
                continue
            raw = path.read_bytes()
            for what, needle in needles.items():
                assert needle.encode() not in raw, f"{what} found in {path.name}"
                assert needle.encode("utf-16-le") not in raw, f"{what} (UTF-16) in {path.name}"
    else:
        async with offline.services.database.engine.connect() as connection:
            rows = (await connection.execute(text("SELECT relname FROM pg_class"))).all()
        assert rows  # the dump above already covered every table in the schema

    logs = "\n".join(
        f"{record.name} {record.getMessage()} {record.exc_text or ''}" for record in caplog.records
    )
    assert caplog.records, "nothing was logged at all: the log audit would be vacuous"
    for what, needle in needles.items():
        assert needle not in logs, f"{what} found in the logs"
    # No answer text in the logs either.
    assert "天天开会" not in logs


async def test_after_edits_follow_up_and_purge_no_ciphertext_links_the_cadre(
    db_url: str, start_offline: StartOffline
) -> None:
    """The same audit after the rest of a cadre's life: an opt-in, an edited answer, a
    follow-up opened and ended, the daily maintenance. Every ciphertext is decrypted with the
    real secrets; none names the cadre, and nothing outside the report's own rows holds the
    receipt hash or the submission id, nor does any row hold the cadre's pseudonym."""
    from aiogram.fsm.storage.base import StorageKey

    from bot.anonymity.receipt import normalize_receipt, receipt_hash
    from bot.cases.callbacks import FollowupAct
    from bot.maintenance import MaintenanceService
    from storage.fsm import storage_key_pseudonym
    from tests.followup.flow import followup_buttons, open_followup, press_followup
    from tests.storage.at_rest import readable_rows

    offline = await start_offline(database_url=db_url)
    services = offline.services
    assert services is not None and offline.bot is not None
    user = offline.new_user(
        user_id=USER_ID, first_name=FIRST_NAME, last_name=LAST_NAME, username=USERNAME
    )
    await opt_in(user)
    await start_questionnaire(user)
    await tap(user, Act.ANSWER, "village_community")
    await tap(user, Act.ANSWER, "staff")
    await _to_the_example(user)
    sent = await user.send_text("会议太多")
    await user.edit_text(sent, "会议太多，王局长的电话 13912345678")
    await user.wait_for_message(contains="已按您的修改更新", after=sent, timeout=10.0)
    await answer_until_review(user, frequency="sometimes")
    code = await submit(user)

    _, report = await open_followup(user, code)
    assert FollowupAct.END in {data.a for data in followup_buttons(report)}
    await press_followup(user, report, FollowupAct.END)

    maintenance = MaintenanceService.around(services.cases.retention)
    assert not (await maintenance.run()).failed

    normalised = normalize_receipt(code)
    assert normalised is not None
    hashed = receipt_hash(normalised, services.keys.pseudonym_secret)
    submission_id = await services.submissions.find_by_receipt(hashed)
    assert submission_id is not None
    key = StorageKey(bot_id=offline.bot.id, chat_id=user.chat_id, user_id=user.id)
    pseudonym = storage_key_pseudonym(services.pseudonymizer, key)
    needles = {
        **_needles(code),
        "phone number": "13912345678",
        "surname and title": "王局长",
        "pseudonym": pseudonym,
    }
    links = {"receipt hash": hashed, "submission id": submission_id}
    report_tables = {"submissions", "answers", "cases", "case_events", "followup_messages"}

    decrypted = 0
    for stored in await readable_rows(services.database, services.cipher):
        name, texts = stored.table, stored.texts
        decrypted += stored.decrypted
        for what, needle in needles.items():
            if name == "subscribers" and what == "user id":
                continue  # the opted-in chat id: the one identity kept, encrypted
            assert not any(needle in text for text in texts), f"{what} in {name}"
        if name not in report_tables:
            for what, needle in links.items():
                assert not any(needle in text for text in texts), f"{what} in {name}"
    assert decrypted >= 2  # the edited answer and the subscriber's chat id at least
