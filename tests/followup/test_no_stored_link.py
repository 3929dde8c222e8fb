"""No stored link between the cadre's account and the report.

A cadre ends, cancels, abandons (idle timeout, by the bot's own clock) and loses to a restart
a follow-up. While it is open and after each of these, every row of every table is read and
every ciphertext decrypted with the real secrets: nothing outside the report's own tables
holds its receipt hash, submission id or case ref, and nothing in the FSM storage says that a
follow-up is open. With `FSM_STORAGE=redis` the same holds for every Redis key of the cadre's
pseudonym. While the follow-up is open the link exists in the session store only.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiogram.fsm.storage.base import StorageKey
from redis.asyncio import Redis
from sqlalchemy import func, select

from bot.anonymity.receipt import normalize_receipt, receipt_hash
from bot.cases.callbacks import CaseAct, FollowupAct
from bot.cases.sessions import IDLE_TIMEOUT, REDIS_PREFIX, FollowupSessions
from bot.harness.emulator import ChatMessage, EmulatedUser, Limits
from bot.harness.offline import OfflineBot
from storage.fsm import PseudonymousRedisStorage, storage_key_pseudonym
from storage.tables import followup_messages
from tests.storage.at_rest import readable_rows

from .conftest import ADMIN_ID
from .flow import (
    WAIT,
    open_followup,
    open_newest_case,
    press_followup,
    staff_text_action,
    submit_report,
)

# The report itself: these tables are keyed by it, and the audit log names staff, not cadres.
REPORT_TABLES = frozenset(
    {"submissions", "answers", "cases", "followup_messages", "case_notes", "case_events"}
)
STAFF_TABLES = frozenset({"audit_log"})


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def _sessions(offline: OfflineBot) -> FollowupSessions:
    assert offline.dispatcher is not None
    sessions: FollowupSessions = offline.dispatcher.workflow_data["followup_sessions"]
    return sessions


def _key(offline: OfflineBot, user: EmulatedUser) -> StorageKey:
    assert offline.bot is not None
    return StorageKey(bot_id=offline.bot.id, chat_id=user.chat_id, user_id=user.id)


async def _needles(offline: OfflineBot, code: str) -> dict[str, str]:
    services = offline.services
    assert services is not None
    normalised = normalize_receipt(code)
    assert normalised is not None
    hashed = receipt_hash(normalised, services.keys.pseudonym_secret)
    submission_id = await services.submissions.find_by_receipt(hashed)
    assert submission_id is not None
    assert offline.dispatcher is not None
    case = await offline.dispatcher.workflow_data["cases"].by_submission(submission_id)
    return {"receipt hash": hashed, "submission id": submission_id, "case ref": case.ref}


async def _sql_findings(offline: OfflineBot, needles: dict[str, str]) -> list[str]:
    """Where a needle or a follow-up state shows, reading every row and decrypting every
    ciphertext (a blob that does not decrypt fails the test)."""
    services = offline.services
    assert services is not None
    found: list[str] = []
    decrypted = 0
    for stored in await readable_rows(services.database, services.cipher):
        name, texts = stored.table, stored.texts
        decrypted += stored.decrypted
        if name == "fsm_entries" and "followup" in str(stored.row.state).lower():
            found.append(f"a follow-up state in {name}")
        if name in REPORT_TABLES | STAFF_TABLES:
            continue
        for what, needle in needles.items():
            if any(needle in text for text in texts):
                found.append(f"{what} in {name}")
    assert decrypted > 0  # the report's own ciphertexts at least were read
    return found


async def _redis_findings(
    offline: OfflineBot, redis_url: str, key: StorageKey, needles: dict[str, str]
) -> list[str]:
    """Every Redis key of the cadre's pseudonym, values decrypted."""
    services = offline.services
    assert services is not None
    pseudonym = storage_key_pseudonym(services.pseudonymizer, key)
    client = Redis.from_url(redis_url)
    found: list[str] = []
    try:
        async for raw_name in client.scan_iter(match=f"qingfeng:*{pseudonym}*"):
            name = raw_name.decode()
            value = await client.get(name)
            if value is None:
                continue
            if name.startswith(REDIS_PREFIX):
                found.append(f"a follow-up session in Redis ({await client.ttl(name)} s left)")
                continue
            assert isinstance(value, bytes)  # the client does not decode responses
            text = value.decode(errors="replace")
            if name.endswith(":data"):
                context = PseudonymousRedisStorage.data_context(name)
                text = services.cipher.decrypt(base64.b64decode(value), context=context)
            if "followup" in text.lower():
                found.append(f"a follow-up state in Redis key {name}")
            for what, needle in needles.items():
                if needle in text:
                    found.append(f"{what} in Redis key {name}")
    finally:
        await client.aclose()
    return found


Findings = Callable[[dict[str, str], StorageKey], Awaitable[list[str]]]


async def _open(
    offline: OfflineBot, cadre: EmulatedUser, code: str, needles: dict[str, str]
) -> ChatMessage:
    """Open the report; while it is open the link is in the session store and only there."""
    _, report = await open_followup(cadre, code)
    session = await _sessions(offline).get(_key(offline, cadre))
    assert session is not None and session.receipt_hash == needles["receipt hash"]
    return report


async def _walk(offline: OfflineBot, clock: Clock, findings: Findings) -> None:
    """End, cancel, abandon and restart a follow-up; `findings` must stay empty after each
    (and the SQL database holds nothing of it even while it is open)."""
    cadre = offline.new_user(user_id=733_001)
    admin = offline.new_user(user_id=ADMIN_ID, language_code="en")
    code = await submit_report(cadre)
    ref, case_message = await open_newest_case(admin)
    await staff_text_action(admin, case_message, CaseAct.REPLY, ref, "请补充时间")
    needles = await _needles(offline, code)
    key = _key(offline, cadre)

    # End: the cadre answers, then presses Finish.
    report = await _open(offline, cadre, code, needles)
    assert await _sql_findings(offline, needles) == []
    await press_followup(cadre, report, FollowupAct.ANSWER)
    await cadre.wait_for_message(after=report, timeout=WAIT)
    sent = await cadre.send_text("大约三月")
    shown = await cadre.wait_for_message(
        where=lambda m: "大约三月" in (m.text or ""), after=sent, timeout=WAIT
    )
    assert await _sql_findings(offline, needles) == []
    await press_followup(cadre, shown, FollowupAct.END)
    await cadre.wait_for_message("/followup", after=shown, timeout=WAIT)
    assert await _sessions(offline).get(key) is None
    assert await findings(needles, key) == []

    # Cancel.
    report = await _open(offline, cadre, code, needles)
    sent = await cadre.send_command("/cancel")
    await cadre.wait_for_message("/followup", after=sent, timeout=WAIT)
    assert await _sessions(offline).get(key) is None
    assert await findings(needles, key) == []

    # Abandon: the bot's clock passes the idle timeout; the sweep deletes the session.
    report = await _open(offline, cadre, code, needles)
    assert offline.dispatcher is not None
    assert offline.dispatcher.workflow_data["case_runtime"].sweeping
    clock.advance(IDLE_TIMEOUT + timedelta(seconds=1))
    assert await _sessions(offline).sweep() == 1
    assert await findings(needles, key) == []
    press = await cadre.press_data(
        report.buttons[0][0].callback_data or "", message_id=report.message_id
    )
    answer = await press.wait_answered(WAIT)
    assert answer.show_alert and "/followup" in (answer.text or "")  # type the code again

    # Restart while a report is open.
    report = await _open(offline, cadre, code, needles)
    await offline.restart_bot()
    key = _key(offline, cadre)
    assert await _sessions(offline).get(key) is None
    press = await cadre.press_data(
        report.buttons[0][0].callback_data or "", message_id=report.message_id
    )
    answer = await press.wait_answered(WAIT)
    assert answer.show_alert and "/followup" in (answer.text or "")
    sent = await cadre.send_text("这句不会进入回访")
    await cadre.wait_for_message(after=sent, timeout=WAIT)
    assert await findings(needles, key) == []
    assert offline.services is not None
    async with offline.services.database.engine.connect() as connection:
        stored = await connection.scalar(select(func.count()).select_from(followup_messages))
    assert stored == 2  # the reply and the one answer: nothing typed after the session went


async def test_no_table_links_the_cadre_to_the_report(
    db_url: str, tmp_path: Path, manual_digests: None
) -> None:
    clock = Clock()
    offline = await OfflineBot.start(
        tmp_path / "data",
        limits=Limits.unlimited(),
        admin_ids=[ADMIN_ID],
        database_url=db_url,
        now=clock,
    )
    try:

        async def findings(needles: dict[str, str], key: StorageKey) -> list[str]:
            return await _sql_findings(offline, needles)

        await _walk(offline, clock, findings)
    finally:
        await offline.close()


async def test_with_redis_nothing_in_sql_or_redis_links_the_cadre_to_the_report(
    sqlite_url: str, redis_url: str, tmp_path: Path, manual_digests: None
) -> None:
    clock = Clock()
    offline = await OfflineBot.start(
        tmp_path / "data",
        limits=Limits.unlimited(),
        admin_ids=[ADMIN_ID],
        database_url=sqlite_url,
        fsm_storage="redis",
        redis_url=redis_url,
        now=clock,
    )
    try:

        async def findings(needles: dict[str, str], key: StorageKey) -> list[str]:
            return [
                *await _sql_findings(offline, needles),
                *await _redis_findings(offline, redis_url, key, needles),
            ]

        await _walk(offline, clock, findings)
    finally:
        await offline.close()
