"""The anonymity audit (tests/e2e/test_anonymity_audit.py) extended over the follow-up path:
after a whole round trip — submit, investigator reply, /followup with the code, an answer,
a wrong code, the end of the session — the cadre's id, username, names and the receipt code
appear in no table, not in the SQLite file or its WAL, and in no log record."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.anonymity.logfilter import install_log_redaction
from bot.cases.callbacks import CaseAct, FollowupAct
from bot.harness.emulator import Limits
from bot.harness.offline import OfflineBot
from tests.e2e.test_anonymity_audit import _dump_tables

from .conftest import ADMIN_ID
from .flow import (
    WAIT,
    open_followup,
    open_newest_case,
    press_followup,
    staff_text_action,
    submit_report,
)

USER_ID = 918_273_111
USERNAME = "li_followup_xyz"
FIRST_NAME = "李回访"
LAST_NAME = "Followson"


async def test_the_follow_up_leaves_no_trace_of_the_cadre(
    db_url: str,
    tmp_path: Path,
    manual_digests: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_log_redaction()
    caplog.set_level(logging.DEBUG)
    offline = await OfflineBot.start(
        tmp_path / "data", limits=Limits.unlimited(), admin_ids=[ADMIN_ID], database_url=db_url
    )
    try:
        cadre = offline.new_user(
            user_id=USER_ID, first_name=FIRST_NAME, last_name=LAST_NAME, username=USERNAME
        )
        admin = offline.new_user(user_id=ADMIN_ID, language_code="en")
        code = await submit_report(cadre)
        ref, case_message = await open_newest_case(admin)
        await staff_text_action(admin, case_message, CaseAct.REPLY, ref, "请补充时间")

        sent = await cadre.send_command("/followup")
        await cadre.wait_for_message(after=sent, timeout=WAIT)
        wrong = await cadre.send_text("AAAA-BBBB-CCCC-DDDD-EEEE")
        await cadre.wait_for_message(after=wrong, timeout=WAIT)
        _, report = await open_followup(cadre, code.replace("-", " ").lower())
        await press_followup(cadre, report, FollowupAct.ANSWER)
        await cadre.wait_for_message(after=report, timeout=WAIT)
        answer = await cadre.send_text(f"大约三月，我是{FIRST_NAME}")
        thanks = await cadre.wait_for_message(after=answer, timeout=WAIT)
        shown = await cadre.wait_for_message(
            where=lambda m: "三月" in (m.text or ""), after=thanks, timeout=WAIT
        )
        await press_followup(cadre, shown, FollowupAct.END)
        await cadre.wait_for_message("/followup", after=shown, timeout=WAIT)

        assert offline.services is not None
        await offline.services.database.checkpoint()
        dump = await _dump_tables(offline)
        needles = {
            "user id": str(USER_ID),
            "username": USERNAME,
            "last name": LAST_NAME,
            "receipt code": code,
            "receipt code without dashes": code.replace("-", ""),
            "receipt code as typed": code.replace("-", " ").lower(),
        }
        # The cadre chose to write their first name into the answer: it is stored encrypted,
        # so it must not be readable anywhere either.
        needles["first name"] = FIRST_NAME
        assert dump["followup_messages"] and dump["cases"] and dump["audit_log"]
        for table, rows in dump.items():
            content = "\n".join(rows)
            for what, needle in needles.items():
                assert needle not in content, f"{what} found in table {table}"
        assert dump["fsm_entries"] == []  # the session (and its receipt hash) is gone

        if db_url.startswith("sqlite"):
            db_path = Path(offline.settings.resolved_database_url.split("///", 1)[1])
            for path in (db_path, db_path.with_name(db_path.name + "-wal")):
                if path.exists():
                    raw = path.read_bytes()
                    for what, needle in needles.items():
                        assert needle.encode() not in raw, f"{what} found in {path.name}"
    finally:
        await offline.close()

    logs = "\n".join(
        f"{record.name} {record.getMessage()} {record.exc_text or ''}" for record in caplog.records
    )
    assert caplog.records
    for what, needle in needles.items():
        assert needle not in logs, f"{what} found in the logs"
    assert "三月" not in logs and "请补充时间" not in logs
