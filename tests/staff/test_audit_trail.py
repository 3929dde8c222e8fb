"""Every staff action leaves exactly one audit entry, written in the same transaction as the
action: when the audit write fails, the action is rolled back."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.broadcast.callbacks import BroadcastAction, BroadcastCallback
from bot.broadcast.runtime import BroadcastRuntime
from bot.harness.emulator import EmulatedUser, Limits
from bot.harness.offline import OfflineBot
from bot.statuses import BroadcastStatus, Role
from storage.repositories import AuditRepository
from storage.tables import (
    audit_log,
    broadcasts,
    campaigns,
    digest_groups,
    questionnaire_versions,
    staff,
    staff_invites,
)
from tests.e2e.driver import opt_in

ADMIN = 900_101
WAIT = 60.0  # only catches hangs: every wait is on a condition
CODE = re.compile(r"\b[0-9A-Z]{4}(?:-[0-9A-Z]{4}){3}\b")
SHIPPED = Path(__file__).parents[2] / "bot" / "questionnaires" / "formalism.yaml"


@pytest.fixture
async def offline(tmp_path: Path, manual_digests: None) -> AsyncIterator[OfflineBot]:
    running = await OfflineBot.start(
        tmp_path / "data", limits=Limits.unlimited(), admin_ids=[ADMIN], broadcast_rate=0.2
    )
    try:
        yield running
    finally:
        await running.close()


async def _count(offline: OfflineBot, table: object) -> int:
    assert offline.services is not None
    async with offline.services.database.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(table)) or 0)  # type: ignore[arg-type]


async def _actions(offline: OfflineBot) -> list[str]:
    assert offline.services is not None
    async with offline.services.database.engine.connect() as connection:
        return sorted((await connection.execute(select(audit_log.c.action))).scalars().all())


async def _reply(user: EmulatedUser, command: str, args: str | None = None) -> str:
    sent = await user.send_command(command, args)
    return (await user.wait_for_message(after=sent, timeout=WAIT)).text or ""


async def test_each_staff_command_leaves_exactly_one_audit_entry(offline: OfflineBot) -> None:
    assert offline.services is not None and offline.dispatcher is not None
    admin = offline.new_user(user_id=ADMIN, language_code="en")
    steps: list[tuple[str, list[str]]] = []
    before: list[str] = []

    async def step(name: str) -> None:
        nonlocal before
        now = await _actions(offline)
        added = list(now)
        for action in before:
            added.remove(action)
        steps.append((name, added))
        before = now

    invite = await _reply(admin, "/invite")
    await step("invite")
    code = CODE.search(invite)
    assert code
    investigator = offline.new_user(user_id=900_102, language_code="en")
    await _reply(investigator, "/join", code.group(0))
    await step("join")
    sent = await admin.send_command("/revoke", "900102")
    question = await admin.wait_for_message(after=sent, timeout=WAIT)
    await step("revoke asked")
    press = await admin.press("Yes, remove", question)
    await press.wait_answered(WAIT)
    await step("revoke")

    group = offline.emulator.group(chat_id=-100_777_0001, members=[admin])
    sent = await group.send_command(admin, "/digest_here", mention_bot=True)
    await group.wait_for_message(after=sent, timeout=WAIT)
    await step("digest_here")
    sent = await group.send_command(admin, "/digest_off")
    await group.wait_for_message(after=sent, timeout=WAIT)
    await step("digest_off")

    sent = await admin.send_command("/export")
    document = await admin.wait_for_message(
        where=lambda m: m.kind == "document", after=sent, timeout=WAIT
    )
    await step("export")
    pressed = await admin.press("With free text", document)
    await pressed.wait_answered(WAIT)
    await admin.wait_for_message(where=lambda m: m.kind == "document", after=document, timeout=WAIT)
    await step("export with text")

    await _reply(admin, "/campaign", "new Spring | 2020-01-01 | 2099-12-31")
    await step("campaign new")
    [campaign] = await offline.services.campaigns.service.list()
    for verb in ("open", "announce", "remind", "close"):
        sent = await admin.send_command("/campaign", f"{verb} {campaign.id}")
        # announce/remind send a preview, then a question: their handler ends with the question
        last = "Who should receive it?" if verb in ("announce", "remind") else None
        await admin.wait_for_message(last, after=sent, timeout=WAIT)
        await step(f"campaign {verb}")

    newer = SHIPPED.read_text(encoding="utf-8").replace("\nversion: 1\n", "\nversion: 2\n", 1)
    sent = await admin.send_document(newer.encode(), file_name="formalism-v2.yaml")
    await admin.wait_for_message(after=sent, timeout=WAIT)
    await step("questionnaire upload")

    for _ in range(3):
        await opt_in(offline.new_user())
    sent = await admin.send_command("/broadcast")
    await admin.wait_for_message("Send the broadcast", after=sent, timeout=WAIT)
    sent = await admin.send_text("第二轮调研下周开始")
    question = await admin.wait_for_message("Who should receive it?", after=sent, timeout=WAIT)
    press = await admin.press(lambda b: b.text.startswith("All subscribers"), question)
    await press.wait_answered(WAIT)
    confirm = await admin.wait_for_message("Send the preview above", after=question, timeout=WAIT)
    press = await admin.press("Send", confirm)
    await press.wait_answered(WAIT)
    runtime = offline.dispatcher.workflow_data["broadcasts"]
    assert isinstance(runtime, BroadcastRuntime)
    async with asyncio.timeout(WAIT):
        while not await runtime.repository.ids_with_status(BroadcastStatus.RUNNING):  # noqa: ASYNC110 - a stored status has no event
            await asyncio.sleep(0.01)
    [job] = await runtime.repository.ids_with_status(BroadcastStatus.RUNNING)
    await step("broadcast send")
    for action in (BroadcastAction.PAUSE, BroadcastAction.RESUME, BroadcastAction.CANCEL):
        press = await admin.press_data(BroadcastCallback(a=action, job=job).pack())
        await press.wait_answered(WAIT)
        await step(f"broadcast {action.name.lower()}")

    assert steps == [
        ("invite", ["staff.invite"]),
        ("join", ["staff.join"]),
        ("revoke asked", []),  # asking to confirm changes nothing
        ("revoke", ["staff.revoke"]),
        ("digest_here", ["digest.here"]),
        ("digest_off", ["digest.off"]),
        ("export", ["export"]),
        ("export with text", ["export.text"]),
        ("campaign new", ["campaign.create"]),
        ("campaign open", ["campaign.open"]),
        ("campaign announce", ["campaign.announce"]),
        ("campaign remind", ["campaign.remind"]),
        ("campaign close", ["campaign.close"]),
        ("questionnaire upload", ["questionnaire.add"]),
        ("broadcast send", ["broadcast.start"]),
        ("broadcast pause", ["broadcast.pause"]),
        ("broadcast resume", ["broadcast.resume"]),
        ("broadcast cancel", ["broadcast.cancel"]),
    ]


async def test_a_failing_audit_write_rolls_the_action_back(
    offline: OfflineBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert offline.services is not None
    admin = offline.new_user(user_id=ADMIN, language_code="en")
    member = offline.new_user(user_id=900_103, language_code="en")
    await offline.services.staff.repository.add(member.id, Role.INVESTIGATOR)

    attempts: list[str] = []
    digest_here_tried = asyncio.Event()

    async def failing(
        self: AuditRepository, actor: int, action: str, *args: object, **kw: object
    ) -> None:
        attempts.append(action)
        if action == "digest.here":
            digest_here_tried.set()
        raise RuntimeError("the audit log is unavailable")

    monkeypatch.setattr(AuditRepository, "record", failing)
    group = offline.emulator.group(chat_id=-100_777_0002, members=[admin])
    await _reply(admin, "/invite")
    sent = await admin.send_command("/revoke", str(member.id))
    question = await admin.wait_for_message(after=sent, timeout=WAIT)
    press = await admin.press("Yes, remove", question)
    await press.wait_answered(WAIT)
    await _reply(admin, "/campaign", "new Spring | 2020-01-01 | 2099-12-31")
    await group.send_command(admin, "/digest_here", mention_bot=True)
    async with asyncio.timeout(WAIT):  # a group gets no error reply: wait for the attempt
        await digest_here_tried.wait()
    newer = SHIPPED.read_text(encoding="utf-8").replace("\nversion: 1\n", "\nversion: 2\n", 1)
    sent = await admin.send_document(newer.encode(), file_name="formalism-v2.yaml")
    await admin.wait_for_message(after=sent, timeout=WAIT)
    sent = await admin.send_command("/export")
    await admin.wait_for_message(after=sent, timeout=WAIT)

    assert await _count(offline, staff_invites) == 0
    assert await offline.services.staff.repository.role_of(member.id) == "investigator"
    assert await _count(offline, campaigns) == 0
    assert await _count(offline, digest_groups) == 0
    assert await _count(offline, questionnaire_versions) == 0
    assert await _count(offline, broadcasts) == 0
    assert await _count(offline, staff) == 1
    assert await _count(offline, audit_log) == 0
    assert not [m for m in admin.bot_messages if m.kind == "document"]  # unaudited: no file
    assert attempts == [
        "staff.invite",
        "staff.revoke",
        "campaign.create",
        "digest.here",
        "questionnaire.add",
        "export",
    ]
