"""/export through the real bot and the emulator: admins only (a router filter), closed weeks
only, K rows per group, free text only on request (a button or `/export text`), audited."""

from __future__ import annotations

import io
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyreadstat
import pytest
from aiogram.utils.i18n import gettext
from openpyxl import load_workbook

from bot.export.callbacks import ExportTextCallback
from bot.harness.emulator import ChatMessage, EmulatedUser, Limits
from bot.harness.offline import OfflineBot
from bot.i18n import make_i18n
from storage.repositories import AuditRepository, NewSubmission

from .conftest import CONFIGURED_ADMIN, ManualClock, join_as_investigator

WAIT = 10.0
NOW = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)  # Wednesday 12:00 in Asia/Shanghai
TODAY = date(2026, 11, 25)
YESTERDAY = TODAY - timedelta(days=1)  # in the running week, as TODAY
LAST_WEEK = date(2026, 11, 16)  # the Monday of the week that closed last
LAST_WEDNESDAY = LAST_WEEK + timedelta(days=2)


def translated(msgid: str) -> str:
    i18n = make_i18n()
    with i18n.context(), i18n.use_locale("zh-CN"):
        return str(gettext(msgid))


ADMINS_ONLY = translated("Only administrators can export the data.")


def _up_to(last_day: str) -> str:
    return translated("Whole weeks up to {day}; every group has at least {k}.").format(
        day=last_day, k=5
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def offline(
    tmp_path: Path, manual_digests: None, clock: ManualClock
) -> AsyncIterator[OfflineBot]:
    running = await OfflineBot.start(
        tmp_path / "data",
        limits=Limits.unlimited(),
        admin_ids=[CONFIGURED_ADMIN],
        timezone="Asia/Shanghai",
        now=clock,
    )
    try:
        yield running
    finally:
        await running.close()


async def _store(
    offline: OfflineBot, day: date, count: int, *, campaign: str | None = None
) -> None:
    assert offline.services is not None
    questionnaire = offline.services.questionnaire
    for index in range(count):
        await offline.services.submissions.store(
            NewSubmission(
                questionnaire.id,
                questionnaire.version,
                {
                    "unit_type": "town_street",
                    "post_level": "staff",
                    "p1_freq": "often",
                    "p1_example": f"第{index}件：文件层层转发",
                },
                questionnaire.text_question_ids,
                day,
                secrets.token_hex(32),
                campaign_id=campaign,
            )
        )


def _rows(user: EmulatedUser, document: ChatMessage) -> list[list[object]]:
    workbook = load_workbook(io.BytesIO(user.download(document)))
    rows: list[list[object]] = [list(row) for row in workbook["反馈"].iter_rows(values_only=True)]
    workbook.close()
    return rows


async def _document(user: EmulatedUser, after: ChatMessage) -> ChatMessage:
    return await user.wait_for_message(
        where=lambda m: m.kind == "document", after=after, timeout=WAIT
    )


async def _actions(offline: OfflineBot) -> list[tuple[int, str, str]]:
    assert offline.services is not None
    entries = await AuditRepository(offline.services.database).recent(200)
    return sorted((e.actor_user_id, e.action, e.subject) for e in entries)


async def test_an_admin_exports_closed_weeks_then_asks_for_the_text(offline: OfflineBot) -> None:
    await _store(offline, LAST_WEDNESDAY, 5)
    await _store(offline, YESTERDAY, 5)  # the week still running: never in an export
    await _store(offline, TODAY, 3)
    admin = offline.new_user(user_id=CONFIGURED_ADMIN)

    sent = await admin.send_command("/export")
    document = await _document(admin, sent)

    assert document.raw.get("has_protected_content") is True
    assert (document.file_name or "").endswith(".xlsx")
    caption = document.text or ""
    assert translated("Submissions: {count}").format(count=5) in caption
    assert _up_to("2026-11-22") in caption
    header, *body = _rows(admin, document)
    assert len(body) == 5
    assert header[:2] == ["row", "week"]
    assert {row[1] for row in body} == {datetime(2026, 11, 16)}  # the Monday, not the day
    assert not any(str(name).startswith("p1_example") for name in header)
    assert "文件层层转发" not in str(body)
    assert await _actions(offline) == [(CONFIGURED_ADMIN, "export", "all")]
    leftovers = list(offline.services.settings.data_dir.rglob("*.xlsx*"))  # type: ignore[union-attr]
    assert leftovers == []  # the temporary file is gone

    pressed = await admin.press(translated("With free text"), document)
    await pressed.wait_answered(timeout=WAIT)
    with_text = await _document(admin, document)
    header, *body = _rows(admin, with_text)
    assert any(str(name).startswith("p1_example") for name in header)
    assert "文件层层转发" in str(body) and len(body) == 5
    assert await _actions(offline) == [
        (CONFIGURED_ADMIN, "export", "all"),
        (CONFIGURED_ADMIN, "export.text", "all"),
    ]


async def test_export_text_argument_and_small_groups(offline: OfflineBot) -> None:
    await _store(offline, date(2026, 10, 14), 4)  # fewer than K in a closed month: left out
    await _store(offline, LAST_WEDNESDAY, 3)  # fewer than K, November still running: held
    admin = offline.new_user(user_id=CONFIGURED_ADMIN)

    sent = await admin.send_command("/export", "text")
    document = await _document(admin, sent)

    _header, *body = _rows(admin, document)
    assert body == []
    caption = document.text or ""
    assert translated("Left out (group smaller than {k}): {count}").format(k=5, count=4) in caption
    held = translated("Held back until their month has closed: {count}")
    assert held.format(count=3) in caption
    assert await _actions(offline) == [(CONFIGURED_ADMIN, "export.text", "all")]


async def test_investigators_and_strangers_are_refused_politely(offline: OfflineBot) -> None:
    await _store(offline, LAST_WEDNESDAY, 5)
    investigator = await join_as_investigator(offline, 630_002)
    stranger = offline.new_user(user_id=630_003)
    for user in (investigator, stranger):
        sent = await user.send_command("/export")
        reply = await user.wait_for_message(after=sent, timeout=WAIT)
        assert reply.kind == "text" and reply.text == ADMINS_ONLY
        assert all(m.kind == "text" for m in user.bot_messages)
    # A forged "with free text" button gets an alert, not a file.
    pressed = await investigator.press_data(ExportTextCallback(campaign="").pack())
    answer = await pressed.wait_answered(timeout=WAIT)
    assert answer is not None and answer.text == ADMINS_ONLY
    assert all(m.kind == "text" for m in investigator.bot_messages)
    assert sorted(action for _actor, action, _subject in await _actions(offline)) == [
        "staff.invite",
        "staff.join",
    ]


async def test_export_of_one_campaign(offline: OfflineBot) -> None:
    assert offline.services is not None
    services = offline.services
    questionnaire = services.questionnaire
    chosen = await services.campaigns.service.repository.create(
        "一轮", questionnaire.id, questionnaire.version, LAST_WEEK, LAST_WEDNESDAY
    )
    await _store(offline, LAST_WEDNESDAY, 5, campaign=chosen.id)
    await _store(offline, LAST_WEDNESDAY, 6)
    admin = offline.new_user(user_id=CONFIGURED_ADMIN)
    captions = []
    for argument in (chosen.id, None):
        sent = await admin.send_command("/export", argument)
        captions.append((await _document(admin, sent)).text or "")
    caption = translated("Submissions: {count}")
    assert caption.format(count=5) in captions[0] and caption.format(count=11) in captions[1]
    sent = await admin.send_command("/export", "nosuch")
    reply = await admin.wait_for_message(after=sent, timeout=WAIT)
    assert reply.text == translated("No campaign {id}.").format(id="nosuch")
    assert [subject for _actor, _action, subject in await _actions(offline)] == sorted(
        [chosen.id, "all"]
    )


async def test_two_exports_in_one_running_week_hold_the_same_rows(
    offline: OfflineBot, clock: ManualClock
) -> None:
    """Wednesday and Friday, with reports in between that would make a group of K of their
    own: the same data cells and the same caption."""
    await _store(offline, LAST_WEDNESDAY, 5)
    await _store(offline, YESTERDAY, 1)
    admin = offline.new_user(user_id=CONFIGURED_ADMIN)
    sent = await admin.send_command("/export")
    wednesday = await _document(admin, sent)

    await _store(offline, TODAY, 2)
    clock.advance(timedelta(days=1))
    await _store(offline, TODAY + timedelta(days=1), 2)
    clock.advance(timedelta(days=1))
    sent = await admin.send_command("/export")
    friday = await _document(admin, sent)

    assert _rows(admin, friday) == _rows(admin, wednesday)
    assert len(_rows(admin, friday)) == 1 + 5
    assert friday.text == wednesday.text and friday.file_name == wednesday.file_name


async def test_a_monday_export_reaches_the_sunday_just_closed(
    offline: OfflineBot, clock: ManualClock
) -> None:
    clock.now = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)  # Monday 12:00 in Asia/Shanghai
    await _store(offline, date(2026, 11, 29), 5)  # yesterday: Sunday of the week just closed
    await _store(offline, date(2026, 11, 30), 5)  # today: the new week
    admin = offline.new_user(user_id=CONFIGURED_ADMIN)

    sent = await admin.send_command("/export")
    document = await _document(admin, sent)

    _header, *body = _rows(admin, document)
    assert {row[1] for row in body} == {datetime(2026, 11, 23)} and len(body) == 5
    assert _up_to("2026-11-29") in (document.text or "")
    assert document.file_name == "qingfeng-2026-11-29.xlsx"


async def _documents(user: EmulatedUser, after: ChatMessage, count: int) -> list[ChatMessage]:
    """The next `count` documents the bot sends after `after`."""
    found: list[ChatMessage] = []
    last = after
    for _ in range(count):
        last = await _document(user, last)
        found.append(last)
    return found


async def test_a_csv_export_comes_with_its_codebook_and_a_sav_reads_back(
    offline: OfflineBot, tmp_path: Path
) -> None:
    await _store(offline, LAST_WEDNESDAY, 5)
    admin = offline.new_user(user_id=CONFIGURED_ADMIN)

    sent = await admin.send_command("/export", "csv")
    answers, codebook = await _documents(admin, sent, 2)
    assert answers.file_name == "qingfeng-2026-11-22.csv"
    assert codebook.file_name == "qingfeng-2026-11-22.codebook.csv"
    assert all(m.raw.get("has_protected_content") is True for m in (answers, codebook))
    content = admin.download(answers)
    assert content.startswith(b"\xef\xbb\xbf")
    header = content.decode("utf-8-sig").splitlines()[0].split(",")
    names = [
        line.split(",")[0] for line in admin.download(codebook).decode("utf-8-sig").splitlines()
    ]
    assert names[1:] == header and header[:3] == ["row", "week", "unit_type"]

    # The "with free text" button keeps the format.
    pressed = await admin.press(translated("With free text"), answers)
    await pressed.wait_answered(timeout=WAIT)
    with_text, _book = await _documents(admin, codebook, 2)
    assert with_text.file_name == "qingfeng-2026-11-22-text.csv"

    sent = await admin.send_command("/export", "sav")
    sav, sav_book = await _documents(admin, sent, 2)
    assert sav.file_name == "qingfeng-2026-11-22.sav"
    assert sav_book.file_name == "qingfeng-2026-11-22.codebook.csv"
    path = tmp_path / "got.sav"
    path.write_bytes(admin.download(sav))
    frame, meta = pyreadstat.read_sav(str(path))
    assert offline.services is not None
    unit = offline.services.questionnaire.answer_field("unit_type")
    assert len(frame) == 5 and set(frame["unit_type"]) == {
        unit.choice_label("town_street", "zh-CN")
    }
    assert meta.column_names_to_labels["unit_type"] == unit.label_for("zh-CN")
    assert meta.variable_value_labels["freq.p1"][3.0] == "经常"  # "often" is choice 3
    assert await _actions(offline) == [
        (CONFIGURED_ADMIN, "export", "all"),
        (CONFIGURED_ADMIN, "export", "all"),
        (CONFIGURED_ADMIN, "export.text", "all"),
    ]


async def test_exports_can_be_sent_unprotected(tmp_path: Path, manual_digests: None) -> None:
    running = await OfflineBot.start(
        tmp_path / "data",
        limits=Limits.unlimited(),
        admin_ids=[CONFIGURED_ADMIN],
        timezone="Asia/Shanghai",
        now=ManualClock(NOW),
        export_protect_content=False,
    )
    try:
        await _store(running, LAST_WEDNESDAY, 5)
        admin = running.new_user(user_id=CONFIGURED_ADMIN)
        sent = await admin.send_command("/export", "csv")
        documents = await _documents(admin, sent, 2)
        assert [m.raw.get("has_protected_content") for m in documents] == [None, None]
        sent = await admin.send_command("/export")
        document = await _document(admin, sent)
        assert not document.raw.get("has_protected_content")
        assert len(_rows(admin, document)) == 1 + 5
    finally:
        await running.close()
