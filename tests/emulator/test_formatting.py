"""HTML parse mode as Telegram (tdlib) implements it, plus trimming and entity detection."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.utils.text_decorations import html_decoration

from bot.harness.emulator import BotApiEmulator
from bot.harness.emulator.formatting import (
    FormattingError,
    format_text,
    normalize_url,
    parse_html,
    utf16_length,
)


def entity(kind: str, offset: int, length: int, **extra: Any) -> dict[str, Any]:
    return {"offset": offset, "length": length, "type": kind, **extra}


def test_nested_tags_give_nested_entities_outer_first() -> None:
    parsed = parse_html("<b>粗<i>斜</i></b> 普通 <u>下</u>")
    assert parsed.text == "粗斜 普通 下"
    assert parsed.entities == [
        entity("bold", 0, 2),
        entity("italic", 1, 1),
        entity("underline", 6, 1),
    ]


@pytest.mark.parametrize(
    ("tag", "kind"),
    [
        ("b", "bold"),
        ("strong", "bold"),
        ("i", "italic"),
        ("em", "italic"),
        ("u", "underline"),
        ("ins", "underline"),
        ("s", "strikethrough"),
        ("strike", "strikethrough"),
        ("del", "strikethrough"),
        ("tg-spoiler", "spoiler"),
        ("code", "code"),
        ("pre", "pre"),
        ("blockquote", "blockquote"),
    ],
)
def test_every_simple_tag(tag: str, kind: str) -> None:
    assert parse_html(f"x<{tag}>yz</{tag}>").entities == [entity(kind, 1, 2)]


def test_tags_are_case_insensitive_and_end_tag_name_may_be_empty() -> None:
    assert parse_html("<B>a</b><i>b</>").entities == [entity("bold", 0, 1), entity("italic", 1, 1)]


def test_offsets_are_utf16_code_units() -> None:
    parsed = parse_html("👍<b>好🎉</b>")
    assert utf16_length("👍") == 2
    assert parsed.entities == [entity("bold", 2, 3)]


def test_character_references() -> None:
    parsed = parse_html("&lt;tag&gt; &amp; &quot;q&quot; &#20320;&#x597D; &nbsp; &lt &copy;")
    assert parsed.text == '<tag> & "q" 你好 &nbsp; < &copy;'
    assert parsed.entities == []


def test_spoiler_span_link_custom_emoji_and_expandable_blockquote() -> None:
    parsed = parse_html(
        '<span class="tg-spoiler">s</span><a href="https://example.com">l</a>'
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
        "<blockquote expandable>q</blockquote>"
    )
    assert parsed.text == "sl👍q"
    assert parsed.entities == [
        entity("spoiler", 0, 1),
        entity("text_link", 1, 1, url="https://example.com/"),
        entity("custom_emoji", 2, 2, custom_emoji_id="5368324170671202286"),
        entity("expandable_blockquote", 4, 1),
    ]


def test_pre_with_code_language_becomes_one_pre_entity() -> None:
    parsed = parse_html('<pre><code class="language-python">print(1)</code></pre>')
    assert parsed.entities == [entity("pre", 0, 8, language="python")]
    plain = parse_html('<code class="language-python">x</code>')
    assert plain.entities == [entity("code", 0, 1)]


def test_link_without_href_uses_its_text_and_bad_links_are_dropped() -> None:
    assert parse_html("<a>example.org</a>").entities == [
        entity("text_link", 0, 11, url="http://example.org/")
    ]
    assert parse_html('<a href="javascript:alert(1)">x</a>').entities == []


def test_user_mention_link_needs_a_known_user() -> None:
    known = {"id": 42, "is_bot": False, "first_name": "张"}
    parsed = parse_html(
        '<a href="tg://user?id=42">张</a><a href="tg://user?id=43">李</a>',
        resolve_user=lambda user_id: known if user_id == 42 else None,
    )
    assert parsed.entities == [entity("text_mention", 0, 1, user=known)]


def test_empty_entities_are_dropped() -> None:
    assert parse_html("<b></b>x").entities == []


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("你<br>", 'Unsupported start tag "br" at byte offset 3'),
        ("a <b", "Unclosed start tag at byte offset 2"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        (
            '<a href="x" title>y</a>',
            'Expected equal sign in declaration of an attribute of the tag "a" at byte offset 0',
        ),
        ("<a href=x!>y</a>", "Unexpected end of name token at byte offset 8"),
        ('<tg-emoji emoji-id="abc">x</tg-emoji>', "Invalid custom emoji identifier specified"),
    ],
)  # fmt: skip
def test_parse_errors_match_telegram(source: str, message: str) -> None:
    with pytest.raises(FormattingError) as error:
        parse_html(source)
    assert str(error.value) == f"can't parse entities: {message}"


def test_aiogram_html_decoration_round_trips() -> None:
    """What aiogram renders from entities, the emulator parses back to the same entities."""
    text = "清风 bold italic code link spoiler"
    entities = [
        entity("bold", 3, 4),
        entity("italic", 8, 6),
        entity("code", 15, 4),
        entity("text_link", 20, 4, url="https://example.com/x"),
        entity("spoiler", 25, 7),
    ]
    from aiogram.types import MessageEntity

    html = html_decoration.unparse(text, [MessageEntity(**e) for e in entities])
    assert parse_html(html).text == text
    assert parse_html(html).entities == entities


def test_trimming_moves_and_clips_entities() -> None:
    formatted = format_text("\n\n  <b> 你好 </b>  \n", parse_mode="HTML")
    assert formatted.text == "你好"
    assert formatted.entities == [entity("bold", 0, 2)]


def test_explicit_entities_win_over_parse_mode() -> None:
    formatted = format_text(
        "<b>x</b>", parse_mode="HTML", entities=[{"type": "italic", "offset": 0, "length": 3}]
    )
    assert formatted.text == "<b>x</b>"
    assert formatted.entities == [entity("italic", 0, 3)]


def test_unknown_explicit_entity_type_is_rejected() -> None:
    with pytest.raises(FormattingError, match="unsupported entity type"):
        format_text("x", entities=[{"type": "sparkle", "offset": 0, "length": 1}])


def test_parse_modes() -> None:
    assert format_text("<b>x</b>", parse_mode="html").entities == [entity("bold", 0, 1)]
    assert format_text("<b>x</b>").text == "<b>x</b>"
    with pytest.raises(FormattingError, match="not supported by the emulator"):
        format_text("*x*", parse_mode="MarkdownV2")
    with pytest.raises(FormattingError) as error:
        format_text("x", parse_mode="BBCode")
    assert str(error.value) == "unsupported parse_mode"


def test_detects_commands_urls_mentions_hashtags_and_emails() -> None:
    formatted = format_text("/start@qingfeng_bot 看 https://t.me/x. @zhangsan #调研 a@b.cn")
    kinds = [(e["type"], e["offset"], e["length"]) for e in formatted.entities]
    assert kinds == [
        ("bot_command", 0, 19),
        ("url", 22, 14),
        ("mention", 38, 9),
        ("hashtag", 48, 3),
        ("email", 52, 6),
    ]


def test_no_detection_inside_code() -> None:
    formatted = format_text("<code>/start https://x.org</code>", parse_mode="HTML")
    assert formatted.entities == [entity("code", 0, 20)]


def test_url_normalisation() -> None:
    assert normalize_url("https://example.com") == "https://example.com/"
    assert normalize_url("example.com/a?b=1") == "http://example.com/a?b=1"
    assert normalize_url("tg://resolve?domain=x") == "tg://resolve?domain=x"
    assert normalize_url("ftp://example.com") is None
    assert normalize_url("not a url") is None


async def test_send_message_reports_parse_errors(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=6001, started=True)
    with pytest.raises(TelegramBadRequest) as error:
        await bot.send_message(user.id, "分数 < 60", parse_mode="HTML")
    assert error.value.message == (
        'Bad Request: can\'t parse entities: Unsupported start tag "" at byte offset 7'
    )
    assert user.messages == []


async def test_text_length_is_measured_after_parsing(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=6002, started=True)
    longest = "<b>" + "字" * 4096 + "</b>"
    message = await bot.send_message(user.id, longest, parse_mode="HTML")
    assert message.text == "字" * 4096
    assert message.entities is not None and message.entities[0].length == 4096
    with pytest.raises(TelegramBadRequest, match="Bad Request: message is too long"):
        await bot.send_message(user.id, "<b>" + "字" * 4097 + "</b>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="Bad Request: message text is empty"):
        await bot.send_message(user.id, "<b>  </b>", parse_mode="HTML")


async def test_caption_limit(emulator: BotApiEmulator, bot: Bot) -> None:
    from aiogram.types import BufferedInputFile

    from bot.harness.emulator import make_png

    user = emulator.user(user_id=6003, started=True)
    photo = BufferedInputFile(make_png(10, 10), "p.png")
    sent = await bot.send_photo(
        user.id, photo, caption="<i>" + "c" * 1024 + "</i>", parse_mode="HTML"
    )
    assert sent.caption == "c" * 1024
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_photo(user.id, photo, caption="c" * 1025)
