"""What each group robot expects: message formats, size limits and signatures.

Everything here is pure (no I/O, no clock): `build_requests` turns a digest into the exact
HTTP requests for one destination, so formats can be tested without a network. Sending, rate
limits and error handling live in `bot.delivery.sender`.

Per kind (facts from the services' documentation, see docs/field notes):

* **wecom** (企业微信群机器人): `{"msgtype":"markdown","markdown":{"content":…}}`, content at most
  4096 bytes of UTF-8, so long digests become several messages, each headed by the title and
  "（i/n）". The chart follows as `{"msgtype":"image","image":{"base64":…,"md5":…}}` when it
  is a PNG/JPG of at most 2 MB; otherwise it is skipped with a warning.
* **dingtalk** (钉钉自定义机器人): `{"msgtype":"markdown","markdown":{"title":…,"text":…}}`,
  text at most 20 000 bytes; with a secret the URL gets `&timestamp=<ms>&sign=<urlencoded
  base64 HMAC-SHA256(secret, "<ms>\\n<secret>")>`. The chart is **not** sent: DingTalk markdown
  can only show an image by public URL and custom robots have no upload API, and publishing a
  digest chart on an open URL would put survey results where anyone can fetch them. A one-line
  note in the message says so.
* **feishu** (飞书/Lark 自定义机器人): a `post` (rich text) message built from the digest's plain
  text, one paragraph per line, `{"msg_type":"post","content":{"post":{"zh_cn":{"title":…,
  "content":[[{"tag":"text","text":…}],…]}}}}`. `post` rather than an `interactive` card
  because its text renders identically on Feishu and Lark clients without depending on the
  card-markdown dialect. Whole body at most 20 000 bytes (documented limit 20 KB). With a
  secret the body gets `"timestamp":"<seconds>"` and `"sign": base64(HMAC-SHA256(key=
  "<seconds>\\n<secret>", msg=b""))`. The chart is not sent (an image needs an `image_key`
  from the upload API, which requires app credentials a custom bot does not have); a note
  says so.
* **generic**: see `GENERIC_WEBHOOK_FORMAT` below.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlencode

from bot.config import WebhookTarget
from bot.delivery.splitting import MARKDOWN_LINES, json_paragraph_measure, split_with_headers

logger = logging.getLogger(__name__)

WECOM_MARKDOWN_LIMIT: Final = 4096
WECOM_IMAGE_LIMIT: Final = 2 * 1024 * 1024
DINGTALK_MARKDOWN_LIMIT: Final = 20_000
FEISHU_BODY_LIMIT: Final = 20_000
TITLE_MAX_CHARS: Final = 64
CHART_NOT_SENT_NOTE: Final = "（本机器人不支持直接发送图片，图表请在 Telegram 中查看。）"

GENERIC_WEBHOOK_FORMAT: Final = """\
Generic webhook format (Standard Webhooks, https://www.standardwebhooks.com/).

One POST per digest, `Content-Type: application/json; charset=utf-8`, body:

    {"type": "digest",
     "title": "<digest title>",
     "markdown": "<digest in Markdown, zh-CN>",
     "text": "<the same digest as plain text>",
     "chart_png_base64": "<base64 of the PNG chart>" | null}

Headers:

    webhook-id: <unique per digest; the same on every retry of that digest, use it to dedupe>
    webhook-timestamp: <Unix time in seconds when this attempt was signed>
    webhook-signature: v1,<base64 HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")>

`body` is the exact request body bytes. The key is the configured secret: a secret written as
`whsec_<base64>` is base64-decoded first (as Standard Webhooks libraries expect); any other
secret is used as its UTF-8 bytes. Without a secret the signature header is omitted.
Receivers should reject timestamps more than five minutes away from their clock. Any 2xx
answer counts as delivered; 429 and 5xx are retried later, other statuses are not.
"""

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_JSON_HEADERS: Final = {"Content-Type": "application/json; charset=utf-8"}
# Placeholders with the width of the real values, to measure the Feishu envelope before signing.
_FEISHU_TIMESTAMP_WIDTH = 10
_FEISHU_SIGN_WIDTH = 44
_FEISHU_EMPTY_PARAGRAPH = '[{"tag":"text","text":""}]'


@dataclass(frozen=True)
class DigestMessage:
    """A digest, rendered elsewhere, in the forms the robots can show.

    `markdown` and `plain` are the body without the title: kinds with a title field use
    `title` there, the others put it as the first line.
    """

    title: str
    markdown: str
    plain: str
    chart_png: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class MessagePart:
    """One message of a digest for one destination, before it is signed."""

    payload: Mapping[str, Any] = field(repr=False)
    description: str
    index: int
    total: int


@dataclass(frozen=True)
class PreparedRequest:
    """An exact POST request. The URL, headers and body may hold secrets: they stay out of repr."""

    url: str = field(repr=False)
    headers: Mapping[str, str] = field(repr=False)
    content: bytes = field(repr=False)
    description: str

    def json(self) -> Any:
        return json.loads(self.content)


def encode_json(payload: Mapping[str, Any]) -> bytes:
    """The compact UTF-8 JSON used for every body (sizes are measured on exactly this)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _short_title(title: str) -> str:
    title = " ".join(title.split())
    return title if len(title) <= TITLE_MAX_CHARS else title[: TITLE_MAX_CHARS - 1] + "…"


def _numbered(title: str, index: int, total: int) -> str:
    return title if total == 1 else f"{title}（{index}/{total}）"


def _split_markdown(title: str, body_lines: list[str], limit: int) -> list[tuple[str, str]]:
    """(numbered title, markdown text) pairs whose text is within `limit` UTF-8 bytes.

    Each text is "### <title>", a blank line, then the body lines; `budget` is one byte more
    than `limit` because n lines need n - 1 newlines.
    """

    def heading(index: int, total: int) -> str:
        return f"### {_numbered(title, index, total)}"

    chunks = split_with_headers(
        body_lines,
        budget=limit + 1,
        measure=MARKDOWN_LINES,
        header_cost=lambda total: len(heading(total, total).encode("utf-8")) + 2,
    )
    total = len(chunks)
    parts = []
    for index, chunk in enumerate(chunks, start=1):
        text = "\n".join([heading(index, total), "", *chunk]).rstrip("\n")
        parts.append((_numbered(title, index, total), text))
    return parts


def _chart_image_problem(chart: bytes) -> str | None:
    if not chart.startswith((_PNG_MAGIC, _JPEG_MAGIC)):
        return "not a PNG or JPEG"
    if len(chart) > WECOM_IMAGE_LIMIT:
        return f"{len(chart)} bytes, above the 2 MB limit"
    return None


def _wecom_parts(message: DigestMessage) -> list[MessagePart]:
    texts = _split_markdown(
        _short_title(message.title), message.markdown.splitlines(), WECOM_MARKDOWN_LIMIT
    )
    payloads: list[tuple[dict[str, Any], str]] = [
        ({"msgtype": "markdown", "markdown": {"content": text}}, "markdown")
        for _title, text in texts
    ]
    if message.chart_png is not None:
        problem = _chart_image_problem(message.chart_png)
        if problem is None:
            image = {
                "base64": base64.b64encode(message.chart_png).decode("ascii"),
                "md5": hashlib.md5(message.chart_png, usedforsecurity=False).hexdigest(),
            }
            payloads.append(({"msgtype": "image", "image": image}, "image"))
        else:
            logger.warning("chart not sent to WeCom: %s", problem)
    total = len(payloads)
    return [
        MessagePart(payload=payload, description=description, index=index, total=total)
        for index, (payload, description) in enumerate(payloads, start=1)
    ]


def _dingtalk_parts(message: DigestMessage) -> list[MessagePart]:
    lines = message.markdown.splitlines()
    if message.chart_png is not None:
        lines += ["", CHART_NOT_SENT_NOTE]
    texts = _split_markdown(_short_title(message.title), lines, DINGTALK_MARKDOWN_LIMIT)
    total = len(texts)
    return [
        MessagePart(
            payload={"msgtype": "markdown", "markdown": {"title": title, "text": text}},
            description="markdown",
            index=index,
            total=total,
        )
        for index, (title, text) in enumerate(texts, start=1)
    ]


def _feishu_payload(title: str, paragraphs: list[str]) -> dict[str, Any]:
    content = [[{"tag": "text", "text": line}] for line in paragraphs]
    return {
        "msg_type": "post",
        "content": {"post": {"zh_cn": {"title": title, "content": content}}},
    }


def _feishu_envelope_size(title: str, signed: bool) -> int:
    payload: dict[str, Any] = {}
    if signed:
        payload = {"timestamp": "0" * _FEISHU_TIMESTAMP_WIDTH, "sign": "0" * _FEISHU_SIGN_WIDTH}
    payload.update(_feishu_payload(title, []))
    return len(encode_json(payload))


def _feishu_parts(message: DigestMessage, *, signed: bool) -> list[MessagePart]:
    title = _short_title(message.title)
    lines = message.plain.splitlines()
    if message.chart_png is not None:
        lines += ["", CHART_NOT_SENT_NOTE]
    chunks = split_with_headers(
        lines,
        # n paragraphs need n - 1 commas; the envelope already holds the list's brackets.
        budget=FEISHU_BODY_LIMIT + 1,
        measure=json_paragraph_measure(_FEISHU_EMPTY_PARAGRAPH),
        header_cost=lambda total: _feishu_envelope_size(_numbered(title, total, total), signed),
    )
    total = len(chunks)
    return [
        MessagePart(
            payload=_feishu_payload(_numbered(title, index, total), chunk),
            description="post",
            index=index,
            total=total,
        )
        for index, chunk in enumerate(chunks, start=1)
    ]


def _generic_parts(message: DigestMessage) -> list[MessagePart]:
    chart = message.chart_png
    payload = {
        "type": "digest",
        "title": message.title,
        "markdown": message.markdown,
        "text": message.plain,
        "chart_png_base64": base64.b64encode(chart).decode("ascii") if chart else None,
    }
    return [MessagePart(payload=payload, description="digest", index=1, total=1)]


def split_message(target: WebhookTarget, message: DigestMessage) -> list[MessagePart]:
    """The messages, in sending order, that carry `message` to `target` (not yet signed)."""
    match target.kind:
        case "wecom":
            return _wecom_parts(message)
        case "dingtalk":
            return _dingtalk_parts(message)
        case "feishu":
            return _feishu_parts(message, signed=target.secret is not None)
        case "generic":
            return _generic_parts(message)


def dingtalk_signature(secret: str, timestamp_ms: int) -> str:
    """base64(HMAC-SHA256(key=secret, msg="<timestamp_ms>\\n<secret>")), before URL-encoding."""
    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def feishu_signature(secret: str, timestamp_s: int) -> str:
    """base64(HMAC-SHA256(key="<timestamp_s>\\n<secret>", msg=b"")): key and message swapped
    compared with DingTalk, as Feishu documents it."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def standard_webhooks_key(secret: str) -> bytes:
    """The HMAC key for a generic webhook secret (`whsec_<base64>` is decoded)."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    return secret.encode("utf-8")


def standard_webhooks_signature(secret: str, message_id: str, timestamp_s: int, body: bytes) -> str:
    """The `webhook-signature` header value: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`."""
    signed = f"{message_id}.{timestamp_s}.".encode() + body
    digest = hmac.new(standard_webhooks_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def _with_query(url: str, params: Mapping[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


def sign_part(
    target: WebhookTarget, part: MessagePart, *, now: float, message_id: str
) -> PreparedRequest:
    """The exact request for `part`, signed at wall-clock time `now` (Unix seconds).

    Signing is separate from splitting so that a part that waited for the rate limiter is
    signed when it is actually sent, inside the robot's timestamp window.
    """
    secret = target.secret.get_secret_value() if target.secret is not None else None
    description = f"{part.description} {part.index}/{part.total}"
    match target.kind:
        case "wecom":
            return PreparedRequest(
                target.url, _JSON_HEADERS, encode_json(part.payload), description
            )
        case "dingtalk":
            url = target.url
            if secret is not None:
                timestamp_ms = int(now * 1000)
                url = _with_query(
                    url,
                    {
                        "timestamp": str(timestamp_ms),
                        "sign": dingtalk_signature(secret, timestamp_ms),
                    },
                )
            return PreparedRequest(url, _JSON_HEADERS, encode_json(part.payload), description)
        case "feishu":
            payload = dict(part.payload)
            if secret is not None:
                timestamp_s = int(now)
                payload = {
                    "timestamp": str(timestamp_s),
                    "sign": feishu_signature(secret, timestamp_s),
                    **payload,
                }
            body = encode_json(payload)
            if len(body) > FEISHU_BODY_LIMIT:  # the splitter's arithmetic guarantees otherwise
                raise RuntimeError(f"Feishu body of {len(body)} bytes exceeds the limit")
            return PreparedRequest(target.url, _JSON_HEADERS, body, description)
        case "generic":
            if not message_id:
                raise ValueError("a generic webhook message needs a message id")
            body = encode_json(part.payload)
            timestamp_s = int(now)
            part_id = message_id if part.total == 1 else f"{message_id}.{part.index}"
            headers = {
                **_JSON_HEADERS,
                "webhook-id": part_id,
                "webhook-timestamp": str(timestamp_s),
            }
            if secret is not None:
                headers["webhook-signature"] = standard_webhooks_signature(
                    secret, part_id, timestamp_s, body
                )
            return PreparedRequest(target.url, headers, body, description)


def build_requests(
    target: WebhookTarget, message: DigestMessage, *, now: float, message_id: str
) -> list[PreparedRequest]:
    """All requests, in order, that deliver `message` to `target`, signed at time `now`."""
    return [
        sign_part(target, part, now=now, message_id=message_id)
        for part in split_message(target, message)
    ]


def destination_label(target: WebhookTarget) -> str:
    """A name for logs and results that never reveals the URL (its key is a credential)."""
    if target.name:
        return f"{target.kind} robot {target.name!r}"
    fingerprint = hashlib.sha256(target.url.encode("utf-8")).hexdigest()[:8]
    return f"{target.kind} robot #{fingerprint}"
