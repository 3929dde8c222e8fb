"""Message text as Telegram stores it: HTML parse mode, explicit entities, trimming, auto links.

The HTML parser follows tdlib's ``parse_html`` (the code behind the Bot API server): the same
supported tags, the same character references (``&lt; &gt; &amp; &quot;`` and numeric ones; an
unknown ``&name;`` stays literal text), and the same error messages, which Telegram returns as
``Bad Request: can't parse entities: <message>``. Entity offsets and lengths are in UTF-16 code
units, as in the Bot API. MarkdownV2/Markdown are rejected with an explicit message: the bot
uses HTML, and a half-right Markdown parser would hide bugs rather than find them.

Leading and trailing whitespace is trimmed as Telegram does, and URLs, e-mail addresses,
@mentions, #hashtags and /commands are detected in the text (bare domains without a scheme,
cashtags and phone numbers are not).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

ResolveUser = Callable[[int], dict[str, Any] | None]

ENTITY_TYPES = frozenset(
    {
        "mention",
        "hashtag",
        "cashtag",
        "bot_command",
        "url",
        "email",
        "phone_number",
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "blockquote",
        "expandable_blockquote",
        "code",
        "pre",
        "text_link",
        "text_mention",
        "custom_emoji",
        "date_time",
    }
)
SUPPORTED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "tg-time",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_SIMPLE_TAGS: Mapping[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
}
_NAMED_REFERENCES: Mapping[str, str] = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPACE = frozenset(" \t\r\n\v\f\0")
_TRIM = " \t\r\n\v\f"
_SPECIAL = re.compile(r"[<&]")
_HEX = frozenset(string.hexdigits)
_DIGITS = frozenset(string.digits)
_URL_SCHEMES_KEPT = frozenset({"tg", "ton", "tonsite"})
_HOST = re.compile(r"[\w.-]+(?::\d{1,5})?")
#: Types auto-detection never looks inside.
_OPAQUE_TYPES = frozenset({"code", "pre", "text_link", "text_mention", "custom_emoji", "date_time"})
_DETECTORS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("url", re.compile(r"(?i)(?<![\w/])https?://[^\s<>\"'()\[\]{}]+")),
    ("email", re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),
    (
        "bot_command",
        re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/@<>])"),
    ),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}(?![\w@])")),
    ("hashtag", re.compile(r"(?<![\w#])#(?=\w*[^\W\d])\w{1,256}")),
)
_URL_TRAILING = ".,;:!?'\""


class FormattingError(Exception):
    """The text cannot be sent; ``str(error)`` is the detail after ``Bad Request:``."""


@dataclass(frozen=True, slots=True)
class FormattedText:
    """Plain text plus Bot API ``MessageEntity`` dicts (UTF-16 offsets), sorted."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, the unit of Bot API entity offsets."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


@dataclass(slots=True)
class _OpenTag:
    name: str
    argument: str
    attributes: dict[str, str]
    utf16_offset: int
    part_index: int
    order: int


class _HtmlParser:
    def __init__(self, source: str, resolve_user: ResolveUser | None) -> None:
        self.source = source
        self.length = len(source)
        self.resolve_user = resolve_user
        self.parts: list[str] = []
        self.utf16 = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[tuple[int, int, int, dict[str, Any]]] = []
        self.opened = 0

    def char(self, index: int) -> str:
        return self.source[index] if index < self.length else "\0"

    def byte_offset(self, index: int) -> int:
        return len(self.source[:index].encode("utf-8"))

    def fail(self, message: str) -> FormattingError:
        return FormattingError(f"can't parse entities: {message}")

    def emit(self, chunk: str) -> None:
        self.parts.append(chunk)
        self.utf16 += utf16_length(chunk)

    def decode_reference(self, index: int) -> tuple[str, int] | None:
        """Decode ``&...;`` at ``index``; None leaves the ``&`` as literal text (as tdlib)."""
        end = index + 1
        if self.char(end) == "#":
            end += 1
            code = 0
            if self.char(end) == "x":
                end += 1
                while self.char(end) in _HEX:
                    code = code * 16 + int(self.char(end), 16)
                    end += 1
                    if code >= 0x10FFFF:
                        return None
            else:
                while self.char(end) in _DIGITS:
                    code = code * 10 + int(self.char(end))
                    end += 1
                    if code >= 0x10FFFF:
                        return None
            if code == 0 or 0xD800 <= code <= 0xDFFF:
                return None
            decoded = chr(code)
        else:
            while self.char(end).isascii() and self.char(end).isalpha():
                end += 1
            named = _NAMED_REFERENCES.get(self.source[index + 1 : end])
            if named is None:
                return None
            decoded = named
        if self.char(end) == ";":
            end += 1
        return decoded, end

    def parse(self) -> FormattedText:
        index = 0
        while index < self.length:
            match = _SPECIAL.search(self.source, index)
            if match is None:
                self.emit(self.source[index:])
                break
            if match.start() > index:
                self.emit(self.source[index : match.start()])
                index = match.start()
            if self.source[index] == "&":
                decoded = self.decode_reference(index)
                if decoded is None:
                    self.emit("&")
                    index += 1
                else:
                    self.emit(decoded[0])
                    index = decoded[1]
                continue
            closing = self.char(index + 1) == "/"
            index = self.close_tag(index) if closing else self.open_tag(index)
        if self.stack:
            raise self.fail(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"'
            )
        self.entities.sort(key=lambda item: (item[0], item[1], item[2]))
        return FormattedText("".join(self.parts), [item[3] for item in self.entities])

    def open_tag(self, begin: int) -> int:
        index = begin + 1
        tag_end = index
        while self.char(tag_end) not in _SPACE and self.char(tag_end) != ">":
            tag_end += 1
        if tag_end >= self.length:
            raise self.fail(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
        name = self.source[index:tag_end].lower()
        if name not in SUPPORTED_TAGS:
            raise self.fail(
                f'Unsupported start tag "{name}" at byte offset {self.byte_offset(begin)}'
            )
        argument = ""
        attributes: dict[str, str] = {}
        index = tag_end
        while self.char(index) != ">":
            while index < self.length and self.char(index) in _SPACE:
                index += 1
            if self.char(index) == ">":
                break
            attribute_begin = index
            while self.char(index) not in _SPACE and self.char(index) not in "=>":
                index += 1
            attribute = self.source[attribute_begin:index]
            if not attribute:
                raise self.fail(
                    f'Empty attribute name in the tag "{name}" at byte offset '
                    f"{self.byte_offset(begin)}"
                )
            while index < self.length and self.char(index) in _SPACE:
                index += 1
            if self.char(index) != "=":
                if name == "blockquote" and attribute == "expandable":
                    argument = "1"
                    continue
                raise self.fail(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{name}" at byte offset {self.byte_offset(begin)}'
                )
            index += 1
            while index < self.length and self.char(index) in _SPACE:
                index += 1
            if index >= self.length:
                raise self.fail(
                    f'Unclosed start tag "{name}" at byte offset {self.byte_offset(begin)}'
                )
            value, index = self.attribute_value(index)
            if index >= self.length:
                raise self.fail(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
            attributes[attribute] = value
            if name == "a" and attribute == "href":
                argument = value
            elif name == "code" and attribute == "class" and value.startswith("language-"):
                argument = value.removeprefix("language-")
            elif name == "span" and attribute == "class" and value.startswith("tg-"):
                argument = value.removeprefix("tg-")
            elif name == "tg-emoji" and attribute == "emoji-id":
                argument = value
            elif name == "blockquote" and attribute == "expandable":
                argument = "1"
        if name == "span" and argument != "spoiler":
            raise self.fail(
                f'Tag "span" must have class "tg-spoiler" at byte offset {self.byte_offset(begin)}'
            )
        self.opened += 1
        self.stack.append(
            _OpenTag(name, argument, attributes, self.utf16, len(self.parts), self.opened)
        )
        return index + 1

    def attribute_value(self, index: int) -> tuple[str, int]:
        quote = self.char(index)
        if quote not in "'\"":
            token_begin = index
            while self.char(index).isascii() and (
                self.char(index).isalnum() or self.char(index) in ".-"
            ):
                index += 1
            if self.char(index) not in _SPACE and self.char(index) != ">":
                raise self.fail(
                    f"Unexpected end of name token at byte offset {self.byte_offset(token_begin)}"
                )
            return self.source[token_begin:index].lower(), index
        index += 1
        value: list[str] = []
        while index < self.length and self.char(index) != quote:
            if self.char(index) == "&":
                decoded = self.decode_reference(index)
                if decoded is not None:
                    value.append(decoded[0])
                    index = decoded[1]
                    continue
            value.append(self.char(index))
            index += 1
        if self.char(index) == quote:
            index += 1
        return "".join(value), index

    def close_tag(self, begin: int) -> int:
        if not self.stack:
            raise self.fail(f"Unexpected end tag at byte offset {self.byte_offset(begin)}")
        name_begin = begin + 2
        close = self.source.find(">", name_begin)
        if close < 0:
            raise self.fail(f"Unclosed end tag at byte offset {self.byte_offset(begin)}")
        name = self.source[name_begin:close].lower()
        top = self.stack[-1]
        if name and name != top.name:
            raise self.fail(
                f"Unmatched end tag at byte offset {self.byte_offset(begin)}, "
                f'expected "</{top.name}>", found "</{name}>"'
            )
        self.stack.pop()
        if self.utf16 > top.utf16_offset:
            self.add_entity(top)
        return close + 1

    def add_entity(self, tag: _OpenTag) -> None:
        offset, length = tag.utf16_offset, self.utf16 - tag.utf16_offset
        entity: dict[str, Any] = {"offset": offset, "length": length}
        simple = _SIMPLE_TAGS.get(tag.name)
        if simple is not None or tag.name == "span":
            entity["type"] = simple or "spoiler"
        elif tag.name == "blockquote":
            entity["type"] = "expandable_blockquote" if tag.argument else "blockquote"
        elif tag.name == "tg-emoji":
            if not re.fullmatch(r"\d{1,19}", tag.argument):
                raise self.fail("Invalid custom emoji identifier specified")
            entity.update(type="custom_emoji", custom_emoji_id=tag.argument)
        elif tag.name == "tg-time":
            unix = tag.attributes.get("unix", "")
            if not re.fullmatch(r"\d{1,12}", unix):
                raise self.fail("Invalid Unix time specified")
            entity.update(type="date_time", unix_time=int(unix))
            if tag.attributes.get("format"):
                entity["date_time_format"] = tag.attributes["format"]
        elif tag.name == "a":
            url = tag.argument or "".join(self.parts[tag.part_index :])
            link = self.link_entity(url)
            if link is None:
                return
            entity.update(link)
        elif tag.name == "pre":
            previous = self.entities[-1][3] if self.entities else None
            if (
                previous is not None
                and previous["type"] == "code"
                and previous.get("language")
                and previous["offset"] == offset
                and previous["length"] == length
            ):
                previous["type"] = "pre"
                return
            entity["type"] = "pre"
        else:  # code
            previous = self.entities[-1][3] if self.entities else None
            if (
                previous is not None
                and previous["type"] == "pre"
                and previous["offset"] == offset
                and previous["length"] == length
                and tag.argument
            ):
                previous["language"] = tag.argument
                return
            entity["type"] = "code"
            if tag.argument:
                entity["language"] = tag.argument  # kept only if an enclosing <pre> claims it
        self.entities.append((offset, -length, tag.order, entity))

    def link_entity(self, url: str) -> dict[str, Any] | None:
        user_link = re.fullmatch(r"tg://user\?id=(\d{1,16})", url.strip())
        if user_link is not None:
            user = self.resolve_user(int(user_link.group(1))) if self.resolve_user else None
            return {"type": "text_mention", "user": user} if user is not None else None
        normalized = normalize_url(url)
        return {"type": "text_link", "url": normalized} if normalized is not None else None


def normalize_url(url: str) -> str | None:
    """The URL Telegram would store for a link, or None when it would drop the link."""
    url = url.strip()
    if not url:
        return None
    scheme_match = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", url)
    if scheme_match is None:
        if re.match(r"(tg|ton|tonsite):", url, re.IGNORECASE):
            return url
        url = "http://" + url
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in _URL_SCHEMES_KEPT:
        return url
    if scheme not in ("http", "https") or not parts.netloc:
        return None
    host = parts.netloc.rsplit("@", 1)[-1]
    if not _HOST.fullmatch(host) or "." not in host.split(":")[0].strip("."):
        return None
    rebuilt = f"{scheme}://{parts.netloc}{parts.path or '/'}"
    if parts.query:
        rebuilt += f"?{parts.query}"
    if parts.fragment:
        rebuilt += f"#{parts.fragment}"
    return rebuilt


def parse_html(source: str, *, resolve_user: ResolveUser | None = None) -> FormattedText:
    """Parse Telegram-flavoured HTML into text and entities (raises :class:`FormattingError`)."""
    parsed = _HtmlParser(source, resolve_user).parse()
    for entity in parsed.entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    return parsed


def _explicit_entities(text: str, raw: Iterable[Mapping[str, Any]]) -> FormattedText:
    total = utf16_length(text)
    entities: list[dict[str, Any]] = []
    for item in raw:
        kind = item.get("type")
        if kind not in ENTITY_TYPES:
            raise FormattingError(f'can\'t parse entities: unsupported entity type "{kind}"')
        offset, length = int(item.get("offset", 0)), int(item.get("length", 0))
        if offset < 0 or length <= 0 or offset >= total:
            continue
        entity = {"type": kind, "offset": offset, "length": min(length, total - offset)}
        for key in ("url", "user", "language", "custom_emoji_id", "unix_time", "date_time_format"):
            if key in item:
                entity[key] = item[key]
        if kind == "text_link":
            url = normalize_url(str(entity.get("url", "")))
            if url is None:
                continue
            entity["url"] = url
        if kind == "text_mention" and not isinstance(entity.get("user"), dict):
            continue
        entities.append(entity)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return FormattedText(text, entities)


def _trim(formatted: FormattedText) -> FormattedText:
    text = formatted.text
    stripped = text.strip(_TRIM)
    if stripped == text:
        return formatted
    lead = len(text) - len(text.lstrip(_TRIM))
    end = utf16_length(text) - (len(text) - len(text.rstrip(_TRIM))) - lead
    entities: list[dict[str, Any]] = []
    for entity in formatted.entities:
        start = max(0, entity["offset"] - lead)
        stop = min(end, entity["offset"] + entity["length"] - lead)
        if stop > start:
            entities.append({**entity, "offset": start, "length": stop - start})
    return FormattedText(stripped, entities)


def _detect(formatted: FormattedText) -> FormattedText:
    text = formatted.text
    if not any(marker in text for marker in ("://", "@", "/", "#")):
        return formatted
    taken: list[tuple[int, int]] = [
        (e["offset"], e["offset"] + e["length"])
        for e in formatted.entities
        if e["type"] in _OPAQUE_TYPES
    ]
    found: list[dict[str, Any]] = []
    for kind, pattern in _DETECTORS:
        for match in pattern.finditer(text):
            value = match.group()
            if kind == "url":
                value = value.rstrip(_URL_TRAILING)
            start = utf16_length(text[: match.start()])
            stop = start + utf16_length(value)
            if any(start < other_stop and other_start < stop for other_start, other_stop in taken):
                continue
            taken.append((start, stop))
            found.append({"type": kind, "offset": start, "length": stop - start})
    if not found:
        return formatted
    merged = sorted([*formatted.entities, *found], key=lambda e: (e["offset"], -e["length"]))
    return FormattedText(text, merged)


def format_text(
    text: str,
    *,
    parse_mode: str | None = None,
    entities: Iterable[Mapping[str, Any]] | None = None,
    resolve_user: ResolveUser | None = None,
) -> FormattedText:
    """Turn a send/edit request's text into what Telegram stores (entities beat parse_mode)."""
    if entities is not None:
        formatted = _explicit_entities(text, entities)
    else:
        mode = (parse_mode or "").strip().lower()
        if not mode:
            formatted = FormattedText(text)
        elif mode == "html":
            formatted = parse_html(text, resolve_user=resolve_user)
        elif mode in ("markdownv2", "markdown"):
            raise FormattingError(
                f"can't parse entities: parse_mode {parse_mode} is not supported by the "
                "emulator; use HTML"
            )
        else:
            raise FormattingError("unsupported parse_mode")
    return _detect(_trim(formatted))
