"""Telegram digest delivery through the emulator: parts within 4096 characters, the chart as
a photo, protected content on every message, resumable, and honest about failures."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramMigrateToChat
from aiogram.methods import SendMessage

from bot.delivery.outbox import GaveUp
from bot.delivery.telegram import MESSAGE_LIMIT, TelegramAdminAlert, TelegramDigestSender
from bot.digest.render import pack_parts
from bot.harness.emulator import BotApiEmulator, Limits, VirtualClock, make_png
from bot.i18n import make_i18n
from bot.staff import StaffRoles
from storage.database import Database
from storage.repositories import StaffRepository

from .conftest import ADMIN, fake_digest

CHART = make_png(320, 200)


class QuickCloseSession(AiohttpSession):
    """aiogram's session; `close` skips the 250 ms pause meant for TLS sockets."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(clock=VirtualClock(frozen=True), limits=Limits.unlimited()) as emu:
        yield emu


@pytest.fixture
async def bot(emulator: BotApiEmulator) -> AsyncIterator[Bot]:
    token = emulator.create_bot()
    session = QuickCloseSession(api=TelegramAPIServer.from_base(emulator.base_url))
    async with Bot(token, session=session) as client:
        yield client


def long_parts() -> list[str]:
    """A digest long enough for several messages, packed by the digest renderer itself."""
    blocks = [
        [f"<b>问题类型 {block}</b>"]
        + [f"• 第{line}条：以会议落实会议、以文件落实文件 &lt;{block}&gt;" for line in range(40)]
        for block in range(12)
    ]
    parts = pack_parts(blocks)
    assert len(parts) >= 3
    return parts


def sent_calls(emulator: BotApiEmulator) -> list[tuple[str, dict[str, object]]]:
    return [
        (record.method.lower(), dict(record.params))
        for record in emulator.calls
        if record.method.lower() in ("sendmessage", "sendphoto")
    ]


async def test_parts_then_chart_all_protected(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=620_001, started=True)
    parts = long_parts()
    progress: list[int] = []

    async def record(done: int) -> None:
        progress.append(done)

    result = await TelegramDigestSender(bot).send(
        user.id, parts, CHART, caption="清风日报 2026-11-27", on_progress=record
    )
    assert result.ok and result.delivered_parts == result.total_parts == len(parts) + 1
    assert progress == list(range(1, len(parts) + 2))

    messages = user.bot_messages
    assert [m.kind for m in messages] == ["text"] * len(parts) + ["photo"]
    for message in messages[:-1]:
        assert message.text is not None and 0 < len(message.text) <= MESSAGE_LIMIT
    assert "<b>" not in (messages[0].text or "")  # parsed as HTML, not shown raw
    assert "&lt;" not in (messages[0].text or "") and "<0>" in (messages[0].text or "")
    assert messages[-1].text == "清风日报 2026-11-27"
    assert user.download(messages[-1]) == CHART
    assert all(m.raw.get("has_protected_content") is True for m in messages)
    calls = sent_calls(emulator)
    assert len(calls) == len(parts) + 1
    assert all(params.get("protect_content") is True for _, params in calls)


async def test_resuming_sends_only_the_rest(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=620_002, started=True)
    parts = long_parts()
    result = await TelegramDigestSender(bot).send(user.id, parts, CHART, first_part=len(parts))
    assert result.ok
    assert [m.kind for m in user.bot_messages] == ["photo"]


async def test_a_part_over_the_limit_is_never_sent(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=620_003, started=True)
    too_long = "<b>" + "长" * (MESSAGE_LIMIT + 1) + "</b>"
    result = await TelegramDigestSender(bot).send(user.id, ["短", too_long], None)
    assert not result.ok and not result.retryable and "4096" in result.detail
    assert user.bot_messages == []
    # Tags do not count, as on Telegram: exactly 4096 visible characters are fine.
    exact = "<b>" + "长" * MESSAGE_LIMIT + "</b>"
    assert (await TelegramDigestSender(bot).send(user.id, [exact], None)).ok


async def test_a_blocked_chat_is_a_permanent_failure(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=620_004, started=True)
    user.block()
    result = await TelegramDigestSender(bot).send(user.id, ["摘要"], CHART)
    assert not result.ok and not result.retryable
    assert result.delivered_parts == 0 and "Forbidden" in result.detail
    assert str(user.id) not in result.detail


async def test_flood_control_is_retryable_with_its_hint(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=620_005, started=True)
    emulator.faults.too_many_requests(retry_after=42, method="sendPhoto")
    result = await TelegramDigestSender(bot).send(user.id, ["第一部分", "第二部分"], CHART)
    assert not result.ok and result.retryable
    assert (result.delivered_parts, result.total_parts, result.retry_after) == (2, 3, 42.0)


async def test_server_errors_are_retryable(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=620_006, started=True)
    emulator.faults.server_error(502, method="sendMessage")
    result = await TelegramDigestSender(bot).send(user.id, ["摘要"], None)
    assert not result.ok and result.retryable and result.delivered_parts == 0


async def test_admins_are_alerted_in_their_language(
    emulator: BotApiEmulator, bot: Bot, migrated_sqlite_url: str
) -> None:
    admin = emulator.user(user_id=ADMIN, started=True)
    db = await Database.connect(migrated_sqlite_url)
    try:
        await db.upgrade()
        roles = StaffRoles(StaffRepository(db), [ADMIN])
        alert = TelegramAdminAlert(bot, roles, make_i18n(), "en")
        digest = fake_digest()
        from bot.delivery.outbox import Destination

        gone = Destination("ab" * 32, "staff", "staff private chat #abababab", chat_id=620_099)
        await alert(GaveUp(digest.period_key, gone, 8, "Telegram part 1/2: <Forbidden>"))
    finally:
        await db.dispose()
    [message] = admin.bot_messages
    text = message.text or ""
    assert digest.period_key in text and "620099" in text and "8" in text
    assert "<Forbidden>" in text  # escaped for HTML, shown literally
    assert "第" not in text  # never quotes the digest


class MigratingBot:
    """Just enough of a `Bot` for the sender: the old group id answers "migrated" (the
    emulator has no group upgrades), the new one accepts everything."""

    def __init__(self, old: int, new: int) -> None:
        self.old, self.new = old, new
        self.sent: list[tuple[str, int]] = []

    async def send_message(self, chat_id: int, text: str, **kwargs: object) -> None:
        self._check(chat_id)
        self.sent.append(("text", chat_id))

    async def send_photo(self, chat_id: int, photo: object, **kwargs: object) -> None:
        self._check(chat_id)
        self.sent.append(("photo", chat_id))

    def _check(self, chat_id: int) -> None:
        if chat_id == self.old:
            raise TelegramMigrateToChat(
                method=SendMessage(chat_id=chat_id, text="x"),
                message="Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=self.new,
            )


async def test_a_group_that_became_a_supergroup_is_followed_and_remembered() -> None:
    bot = MigratingBot(old=-555, new=-100_555)
    moves: list[tuple[int, int]] = []

    async def remember(old: int, new: int) -> None:
        moves.append((old, new))

    sender = TelegramDigestSender(bot, on_migrate=remember)  # type: ignore[arg-type]
    result = await sender.send(-555, ["一", "二"], CHART)
    assert result.ok
    assert bot.sent == [("text", -100_555), ("text", -100_555), ("photo", -100_555)]
    assert moves == [(-555, -100_555)]
