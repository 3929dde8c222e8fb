"""Links in the thread reach the cadre as text nothing can open: parsed as Telegram parses
the bot's HTML (the emulator's parser), no URL, mention, e-mail or text link remains, and the
link-like pieces sit in code entities with their dots and colons broken."""

from __future__ import annotations

import re

import pytest

from bot.cases.screens import plain_links_html
from bot.harness.emulator.formatting import format_text

CLICKABLE = {"url", "text_link", "mention", "text_mention", "email", "phone_number"}
# What a Telegram client could still link: a dotted host name or a scheme.
LINKABLE = re.compile(r"(?i)[a-z0-9-]+\.[a-z]{2,}|://|\btg:|@[a-z0-9_]{3,}")

LINKS = [
    "https://track.example.org/r?id=7&u=1",
    "http://1.2.3.4:8080/x",
    "HTTPS://EXAMPLE.COM",
    "t.me/spy_desk_bot?start=42",
    "telegram.me/joinchat/abc",
    "www.example.com/a",
    "example.cn",
    "xn--fiqs8s.xn--fiqz9s/path",
    "tg://resolve?domain=spy_desk_bot",
    "@spy_desk_bot",
    "li.ming@example.com",
    "mailto:a@b.cn",
    "192.168.1.20/admin",
]


@pytest.mark.parametrize("link", LINKS)
def test_a_link_is_shown_but_cannot_be_opened(link: str) -> None:
    html, found = plain_links_html(f"请打开{link}核对，谢谢")
    assert found
    parsed = format_text(html, parse_mode="HTML")
    assert not [e for e in parsed.entities if e["type"] in CLICKABLE]
    assert parsed.text.startswith("请打开") and parsed.text.endswith("核对，谢谢")
    assert not LINKABLE.search(parsed.text), parsed.text
    assert any(e["type"] == "code" for e in parsed.entities)


@pytest.mark.parametrize(
    "text",
    [
        "会议开了3.5小时，共12次",
        "〔2024〕12号文件",
        "例如 e.g. 这种情况",
        "2024.03.05 下发",
        "金额 1,234.56 元",
        "<b>不是标签</b> & 符号",
    ],
)
def test_ordinary_text_stays_as_it_is(text: str) -> None:
    html, found = plain_links_html(text)
    assert not found
    assert format_text(html, parse_mode="HTML").text == text
