"""The core's wording follows the cadre's channel: a web cadre reads about the page's own
controls (「重新开始」, 「查看回复」, the chips) and what a web page keeps and what the network
sees, never about commands or Telegram; a Telegram cadre reads exactly what they read before.

Driven through the core as `test_core.py` does, in both locales, plus a scan of every text
function that takes a channel."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest

from bot.anonymity.receipt import normalize_receipt, receipt_hash
from bot.conversation import followup_screens, screens
from bot.conversation.model import Act, Cadre, Channel, Screen, Show
from bot.conversation.state import MemoryStates
from bot.i18n import SUPPORTED_LOCALES
from bot.i18n.text import use_locale
from bot.questionnaire.engine import Engine
from bot.statuses import FollowupOrigin
from tests.conversation import test_core
from tests.conversation.questionnaires import grid_questionnaire
from tests.conversation.test_core import NOW, Chat, Services, Shown, _answer_to

services = test_core.services  # the fixture: real services on a migrated SQLite database

TELEGRAM_ONLY = re.compile(r"/start|/followup|/cancel|/help|/stop|Telegram|48 (?:hours|小时)")
CODE = "ABCD-EFGH-JKMN-PQRS-TVWX"

# The page's own controls, as each locale names them.
START_OVER = {"zh-CN": "「重新开始」", "en": "“Start over”"}
READ_REPLIES = {"zh-CN": "「查看回复」", "en": "“Read replies”"}


@dataclass
class PageChat(Chat):
    """The miniature channel of `test_core`, as a cadre of a given channel and locale."""

    locale: str = "en"
    channel: Channel = Channel.WEB

    @property
    def cadre(self) -> Cadre:
        return replace(super().cadre, locale=self.locale, channel=self.channel)

    def everything_read(self) -> list[str]:
        """Every text this cadre was shown: screens, notices, option labels and toasts."""
        texts: list[str] = []
        for message in self.messages.values():
            if isinstance(message, Shown):
                screen = message.screen
                texts += [screen.body, *screen.notices, *(o.label for o in screen.options)]
        texts += [answer.text for answer in self.answers if answer.text]
        return texts


def _chat(services: Services, locale: str, channel: Channel = Channel.WEB) -> PageChat:
    return PageChat(
        services.core(), MemoryStates(), services.pseudonymizer, locale=locale, channel=channel
    )


def _assert_web_wording(chat: PageChat) -> None:
    read = chat.everything_read()
    assert read
    for text in read:
        assert not TELEGRAM_ONLY.search(text), text


def _shown(effects: list[Any]) -> list[Screen]:
    return [effect.screen for effect in effects if isinstance(effect, Show)]


async def _submit(chat: PageChat) -> str:
    """Consent, walk to the review, submit; returns the receipt code shown."""
    await chat.start()
    await chat.press(Act.CONSENT)
    await _answer_to(chat, "meetings_month")
    while chat.question() is not None:
        await chat.press(Act.SKIP)
    await chat.press(Act.SUBMIT)
    receipt = chat.messages[chat.last_ref]
    assert isinstance(receipt, Shown) and receipt.protect
    return receipt.screen.body.split("<code>")[1].split("</code>")[0]


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
async def test_the_web_welcome_says_what_the_page_keeps_and_the_network_sees(
    services: Services, locale: str
) -> None:
    chat = _chat(services, locale)
    await chat.start()  # the miniature channel says announcements are off, as Telegram does
    welcome = chat.screen()
    body = welcome.body
    assert not TELEGRAM_ONLY.search(body)
    assert "🔔" not in body  # no announcements on the web
    assert [o.action.act for o in welcome.options] == [Act.CONSENT]
    assert len(body) <= screens.MESSAGE_LIMIT
    if locale == "zh-CN":
        for promise in ("不需要任何账号", "不设置 Cookie", "IP 地址", "浏览器信息", "只记日期"):
            assert promise in body
        for seen in ("单位 Wi-Fi", "运营商", "HTTPS", "微信能看到", "手机流量"):
            assert seen in body
        assert "不足 5 人" in body
    else:
        for promise in ("no account", "no cookies", "No IP address", "browser", "only the day"):
            assert promise in body
        for seen in ("unit's Wi-Fi", "carrier", "HTTPS", "WeChat can see", "mobile data"):
            assert seen in body
        assert "fewer than 5 people" in body


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
async def test_a_web_receipt_points_to_the_page_and_clears_the_page(
    services: Services, locale: str
) -> None:
    chat = _chat(services, locale)
    code = await _submit(chat)
    receipt = chat.screen()
    assert code in receipt.body and READ_REPLIES[locale] in receipt.body
    assert not re.search(r"Telegram|48 (?:hours|小时)|forward|转发", receipt.body)
    assert ("微信" if locale == "zh-CN" else "WeChat") in receipt.body  # not into a chat

    await chat.press(Act.RECEIPT_SAVED)
    removed = chat.screen()
    assert [o.action.act for o in removed.options] == [Act.CLEAR_CHAT]
    assert ("页面" if locale == "zh-CN" else "page") in removed.body
    await chat.press(Act.CLEAR_CHAT)
    cleared = chat.answers[-1].text
    assert cleared is not None and ("页面" if locale == "zh-CN" else "page") in cleared
    assert chat.cleared  # the page is asked to clear the conversation
    _assert_web_wording(chat)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
async def test_web_cancel_expired_buttons_and_stray_text_name_the_page_controls(
    services: Services, locale: str
) -> None:
    chat = _chat(services, locale)
    await chat.start()
    await chat.press(Act.CONSENT)
    cancelled_on = await chat.press(Act.CANCEL)  # the 「✖️ 取消」 chip: asked once
    await chat.press(Act.CANCEL_CONFIRM)
    cancelled = chat.messages[cancelled_on]  # the question, replaced in place
    assert isinstance(cancelled, Shown)
    assert [o.action.act for o in cancelled.screen.options] == [Act.RESTORE]
    assert START_OVER[locale] in cancelled.screen.body

    nothing = _shown(await chat.command("cancel"))
    assert len(nothing) == 1 and START_OVER[locale] in nothing[0].body

    stray = _shown(await chat.type("你好"))
    assert len(stray) == 1
    assert START_OVER[locale] in stray[0].body and READ_REPLIES[locale] in stray[0].body

    # An offer to resume, still on the page after the draft was cancelled, has expired.
    await chat.start()
    await chat.press(Act.CONSENT)
    await chat.start()
    offer = chat.newest_with_options()
    assert Act.RESUME in {o.action.act for o in chat.screen(offer).options}
    await chat.command("cancel")
    await chat.press(Act.CANCEL_CONFIRM)
    await chat.press(Act.RESUME, on=offer)
    expired = chat.answers[-1].text
    assert expired is not None and START_OVER[locale] in expired
    _assert_web_wording(chat)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
async def test_a_web_follow_up_speaks_of_typing_below_and_of_the_page(
    services: Services, locale: str
) -> None:
    chat = _chat(services, locale)
    code = await _submit(chat)
    normalised = normalize_receipt(code)
    assert normalised is not None
    submission_id = await services.submissions.find_by_receipt(
        receipt_hash(normalised, services.survey.receipt_secret)
    )
    assert submission_id is not None
    await services.cases.ensure_cases()
    await services.cases.add_message(
        submission_id, FollowupOrigin.INVESTIGATOR, "请问是哪个部门？", NOW.date()
    )

    asked = _shown(await chat.command("followup"))
    assert len(asked) == 1 and ("下方" if locale == "zh-CN" else "below") in asked[0].body
    wrong = _shown(await chat.type("AAAA-BBBB-CCCC-DDDD-EEEE"))
    assert len(wrong) == 1 and ("重新输入" if locale == "zh-CN" else "type it again") in (
        wrong[0].body
    )
    await chat.type(code)
    assert "请问是哪个部门" in chat.screen().body

    # Writing an answer: a page has no /cancel, so the screen offers Finish.
    await chat.press(Act.FOLLOWUP_ANSWER)
    writing = chat.screen()
    assert [o.action.act for o in writing.options] == [Act.FOLLOWUP_END, Act.CLEAR_CHAT]
    await chat.press(Act.FOLLOWUP_END)
    assert await services.sessions.get(test_core.KEY) is None
    assert READ_REPLIES[locale] in chat.screen().body  # how to come back

    # A follow-up asked for with a questionnaire in progress: finish or cancel it first.
    await chat.start()
    await chat.press(Act.CONSENT)
    first = _shown(await chat.command("followup"))
    assert len(first) == 1 and READ_REPLIES[locale] in first[0].body
    assert ("「✖️ 取消」" if locale == "zh-CN" else "“✖️ Cancel”") in first[0].body
    _assert_web_wording(chat)


# --- Telegram reads exactly what it read before --------------------------------------------

TELEGRAM_ASK_CANCEL = {
    "en": ("Discard what you have filled in?", "🗑 Discard", "▶️ Keep going"),
    "zh-CN": ("确定放弃已填写的内容吗？", "🗑 放弃", "▶️ 继续填写"),
}
TELEGRAM_CANCELLED = {
    "en": "Cancelled. What you filled in is deleted for good in a minute; until then, "
    "“↩️ Restore what I filled in” brings it back. Send /start to begin again.",
    "zh-CN": "已取消。已填写的内容 1 分钟后彻底删除，在此之前点「↩️ 恢复刚才的内容」还能找回。"
    "发送 /start 可重新开始。",
}
TELEGRAM_RESTORE = {"en": "↩️ Restore what I filled in", "zh-CN": "↩️ 恢复刚才的内容"}
TELEGRAM_ASK_CODE = {
    "en": "🔑 Please send your receipt code (for example XXXX-XXXX-XXXX-XXXX-XXXX). I will "
    "delete your message with the code right after reading it. /cancel to stop.",
    "zh-CN": "🔑 请发送您的回执码（例如 XXXX-XXXX-XXXX-XXXX-XXXX）。我读取后会立即删除含回执码"
    "的消息。发送 /cancel 停止。",
}
TELEGRAM_RECEIPT_BUTTONS = {
    "en": "Once you have saved it, the first button deletes this message; the second clears "
    "the whole conversation. Telegram lets a bot delete messages for 48 hours.",
    "zh-CN": "保存好之后，点第一个按钮删除这条消息，点第二个按钮清除整段对话。Telegram 只允许"
    "机器人删除 48 小时内的消息。",
}
TELEGRAM_PRIVACY = {
    "en": "• Telegram knows who talks to this bot and sees the messages.",
    "zh-CN": "• Telegram 知道谁在和本机器人对话，也能看到消息内容。",
}
TELEGRAM_WRITE = {
    "en": "Please send your answer as one text message. /cancel to stop.",
    "zh-CN": "请用一条文字消息作答。发送 /cancel 停止。",
}


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
async def test_a_telegram_cadre_reads_what_they_read_before(
    services: Services, locale: str
) -> None:
    chat = _chat(services, locale, Channel.TELEGRAM)
    await chat.start()
    welcome = chat.screen()
    assert TELEGRAM_PRIVACY[locale] in welcome.body and "/stop" in welcome.body
    assert Act.ANNOUNCEMENTS in {o.action.act for o in welcome.options}
    await chat.press(Act.CONSENT)
    cancelled_on = await chat.press(Act.CANCEL)
    confirm = chat.screen(cancelled_on)
    assert (confirm.body, *(o.label for o in confirm.options)) == TELEGRAM_ASK_CANCEL[locale]
    await chat.press(Act.CANCEL_CONFIRM)
    shown = chat.messages[cancelled_on]
    assert isinstance(shown, Shown) and shown.screen.body == TELEGRAM_CANCELLED[locale]
    assert [o.label for o in shown.screen.options] == [TELEGRAM_RESTORE[locale]]

    code = await _submit(chat)
    assert TELEGRAM_RECEIPT_BUTTONS[locale] in chat.screen().body
    asked = _shown(await chat.command("followup"))
    assert [screen.body for screen in asked] == [TELEGRAM_ASK_CODE[locale]]
    await chat.type(code)
    await chat.press(Act.FOLLOWUP_ANSWER)
    writing = chat.screen()
    assert writing.body == TELEGRAM_WRITE[locale]
    assert [o.action.act for o in writing.options] == [Act.CLEAR_CHAT]


# --- every text that takes a channel -------------------------------------------------------

QUESTIONNAIRE = grid_questionnaire()
_ENGINE = Engine(QUESTIONNAIRE)
SAMPLES: dict[str, Any] = {
    "step": _ENGINE.answer(_ENGINE.start().draft, "town").step,  # the grid
    "k": 5,
    "limit": 3,
    "code": CODE,
    "first": 101,
    "questionnaire": QUESTIONNAIRE,
    "subscribed": False,
}


def _channel_texts() -> list[Callable[..., str | Screen]]:
    """Every public function of the cadre's text modules that takes a `channel`."""
    found: list[Callable[..., str | Screen]] = []
    for module in (screens, followup_screens):
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ != module.__name__ or name.startswith("_"):
                continue
            if "channel" in inspect.signature(function).parameters:
                found.append(function)
    return found


def _texts(function: Callable[..., str | Screen], locale: str, channel: Channel) -> list[str]:
    """What the function says, called with sample arguments, as plain texts."""
    parameters = inspect.signature(function).parameters
    arguments = {
        name: locale if name == "locale" else SAMPLES[name]
        for name, parameter in parameters.items()
        if name != "channel"
        and (name in SAMPLES or name == "locale" or parameter.default is parameter.empty)
    }
    with use_locale(locale):
        said = function(**arguments, channel=channel)
    if isinstance(said, Screen):
        return [said.body, *said.notices, *(o.label for o in said.options)]
    return [said]


def test_the_scan_finds_the_channel_texts() -> None:
    names = {function.__name__ for function in _channel_texts()}
    assert {
        "privacy_text",
        "welcome_screen",
        "receipt_screen",
        "receipt_deleted_screen",
        "chat_cleared_text",
        "cancelled_text",
        "nothing_to_cancel_text",
        "expired_button_text",
        "stray_text_reply",
        "receipt_in_answer_text",
        "receipt_in_idle_chat_text",
        "no_open_campaign_text",
        "limit_reached_text",
        "ask_code_text",
        "wrong_code_text",
        "finish_survey_first_text",
        "session_ended_text",
        "session_ended_screen",
        "write_answer_screen",
        "question_screen",
        "cancelled_screen",
        "restore_gone_text",
    } <= names


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("function", _channel_texts(), ids=lambda function: function.__name__)
def test_no_web_text_mentions_commands_or_telegram(
    function: Callable[..., str | Screen], locale: str
) -> None:
    web = _texts(function, locale, Channel.WEB)
    telegram = _texts(function, locale, Channel.TELEGRAM)
    for text in web:
        assert not TELEGRAM_ONLY.search(text), text
        assert len(text) <= screens.MESSAGE_LIMIT
    assert web != telegram  # a channel it takes is a channel it heeds
    if locale == "zh-CN":  # translated, not left in English
        assert all(re.search(r"[\u4e00-\u9fff]", text) for text in web if text.strip()), web
