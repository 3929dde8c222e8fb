"""The exact requests built for each robot kind (pure: no network, fixed time).

Signatures are checked with formulas written here from the services' documentation, not with
the signing helpers under test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from bot.config import WebhookTarget
from bot.delivery.webhooks import (
    CHART_NOT_SENT_NOTE,
    DigestMessage,
    PreparedRequest,
    build_requests,
)
from tests.delivery.samples import CONTENT_MARKER, digest_lines, make_digest, small_png

NOW = 1_760_000_123.456
WECOM_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=wecom-test-key"
DINGTALK_URL = "https://oapi.dingtalk.com/robot/send?access_token=ding-test-token"
FEISHU_URL = "https://open.feishu.cn/open-apis/bot/v2/hook/feishu-test-token"
DING_SECRET = "SEC0123456789abcdef"
FEISHU_SECRET = "feishu-secret-xyz"


def target(kind: str, url: str, secret: str | None = None) -> WebhookTarget:
    return WebhookTarget(
        kind=kind,
        url=url,
        secret=SecretStr(secret) if secret is not None else None,
    )


def build(tgt: WebhookTarget, message: DigestMessage, now: float = NOW) -> list[PreparedRequest]:
    return build_requests(tgt, message, now=now, message_id="digest-2025-w14-robot-1")


def body_lines_after_heading(text: str) -> list[str]:
    """The digest lines of one markdown part: drop "### title" and the blank line after it."""
    heading, blank, *rest = text.split("\n")
    assert heading.startswith("### ")
    assert blank == ""
    return rest


# --- WeCom -------------------------------------------------------------------------------


def test_wecom_short_digest_is_one_markdown_message_with_the_title_first() -> None:
    requests = build(target("wecom", WECOM_URL), make_digest(3))

    assert len(requests) == 1
    assert requests[0].url == WECOM_URL
    body = requests[0].json()
    assert set(body) == {"msgtype", "markdown"}
    assert body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert content.split("\n")[0] == "### 清风周报 2025-W14"
    assert body_lines_after_heading(content) == digest_lines(3)


def test_wecom_long_chinese_digest_splits_at_lines_within_4096_bytes_in_order() -> None:
    lines = digest_lines(300)  # about 30 KB of mostly three-byte characters
    requests = build(target("wecom", WECOM_URL), make_digest(300))

    assert len(requests) > 5
    rejoined: list[str] = []
    for index, request in enumerate(requests, start=1):
        request.content.decode("utf-8", errors="strict")
        content = request.json()["markdown"]["content"]
        assert len(content.encode("utf-8")) <= 4096
        assert content.startswith(f"### 清风周报 2025-W14（{index}/{len(requests)}）\n")
        rejoined += body_lines_after_heading(content)
    assert rejoined == lines
    # Greedy packing: no part could have taken the next part's first line.
    for before, after in itertools.pairwise(requests):
        first_next = body_lines_after_heading(after.json()["markdown"]["content"])[0]
        grown = before.json()["markdown"]["content"] + "\n" + first_next
        assert len(grown.encode("utf-8")) > 4096 - len("（10/10）".encode())


def test_wecom_single_overlong_line_is_cut_between_characters() -> None:
    line = ("形式主义😀" * 1500) + "尾"  # 3- and 4-byte characters, no line break at all
    message = DigestMessage(title="长行", markdown=line, plain=line)
    requests = build(target("wecom", WECOM_URL), message)

    assert len(requests) >= 4
    pieces = []
    for request in requests:
        content = request.json()["markdown"]["content"]
        assert len(content.encode("utf-8")) <= 4096
        pieces += body_lines_after_heading(content)
    assert "".join(pieces) == line


def test_wecom_chart_follows_the_text_as_image_with_md5_of_raw_bytes() -> None:
    chart = small_png()
    requests = build(target("wecom", WECOM_URL), make_digest(3, chart=chart))

    assert [r.json()["msgtype"] for r in requests] == ["markdown", "image"]
    image = requests[-1].json()["image"]
    assert set(image) == {"base64", "md5"}
    assert base64.b64decode(image["base64"]) == chart
    assert image["md5"] == hashlib.md5(chart, usedforsecurity=False).hexdigest()


@pytest.mark.parametrize(
    ("chart", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\0" * (2 * 1024 * 1024), "2 MB"),
        (b"GIF89a" + b"\0" * 100, "not a PNG or JPEG"),
    ],
)
def test_wecom_chart_that_the_robot_would_refuse_is_skipped_with_a_warning(
    chart: bytes, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    requests = build(target("wecom", WECOM_URL), make_digest(3, chart=chart))

    assert [r.json()["msgtype"] for r in requests] == ["markdown"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert reason in warnings[0]
    assert CONTENT_MARKER not in caplog.text
    assert "wecom-test-key" not in caplog.text


# --- DingTalk ----------------------------------------------------------------------------


def test_dingtalk_signs_the_url_with_millisecond_timestamp_and_urlencoded_sign() -> None:
    requests = build(target("dingtalk", DINGTALK_URL, DING_SECRET), make_digest(3))

    assert len(requests) == 1
    url = requests[0].url
    assert url.startswith(DINGTALK_URL + "&timestamp=")
    query = parse_qs(urlsplit(url).query)  # decodes %2B etc. (and "+" as space)
    assert query["access_token"] == ["ding-test-token"]
    timestamp = query["timestamp"][0]
    assert timestamp == str(int(NOW * 1000))
    expected = base64.b64encode(
        hmac.new(
            DING_SECRET.encode(), f"{timestamp}\n{DING_SECRET}".encode(), hashlib.sha256
        ).digest()
    ).decode()
    assert query["sign"] == [expected]
    body = requests[0].json()
    assert body == {
        "msgtype": "markdown",
        "markdown": {
            "title": "清风周报 2025-W14",
            "text": "### 清风周报 2025-W14\n\n" + "\n".join(digest_lines(3)),
        },
    }


def test_dingtalk_sign_characters_are_percent_encoded() -> None:
    # Over many timestamps the base64 sign contains "+", "/" and "="; none may appear raw.
    raw_signs = []
    for offset in range(40):
        url = build(target("dingtalk", DINGTALK_URL, DING_SECRET), make_digest(1), NOW + offset)[
            0
        ].url
        raw_signs.append(url.split("&sign=", 1)[1])
    assert all(not set(sign) & set("+/=") for sign in raw_signs)
    assert any("%2B" in sign or "%2F" in sign for sign in raw_signs)


def test_dingtalk_without_secret_sends_to_the_url_as_configured() -> None:
    requests = build(target("dingtalk", DINGTALK_URL), make_digest(2))
    assert requests[0].url == DINGTALK_URL


def test_dingtalk_gets_a_note_instead_of_the_chart_and_splits_past_20000_bytes() -> None:
    requests = build(
        target("dingtalk", DINGTALK_URL, DING_SECRET), make_digest(500, chart=small_png())
    )

    assert len(requests) >= 3
    texts = [r.json()["markdown"]["text"] for r in requests]
    assert all(len(text.encode("utf-8")) <= 20000 for text in texts)
    assert [r.json()["markdown"]["title"] for r in requests] == [
        f"清风周报 2025-W14（{i}/{len(requests)}）" for i in range(1, len(requests) + 1)
    ]
    rejoined = [line for text in texts for line in body_lines_after_heading(text)]
    assert rejoined == [*digest_lines(500), "", CHART_NOT_SENT_NOTE]
    assert all("image" not in r.json() for r in requests)


# --- Feishu ------------------------------------------------------------------------------


def test_feishu_post_has_second_timestamp_and_sign_with_key_and_message_swapped() -> None:
    message = make_digest(3)
    requests = build(target("feishu", FEISHU_URL, FEISHU_SECRET), message)

    assert len(requests) == 1
    assert requests[0].url == FEISHU_URL
    body = requests[0].json()
    assert body["timestamp"] == str(int(NOW))
    expected = base64.b64encode(
        hmac.new(f"{int(NOW)}\n{FEISHU_SECRET}".encode(), b"", hashlib.sha256).digest()
    ).decode()
    assert body["sign"] == expected
    assert body["msg_type"] == "post"
    post = body["content"]["post"]["zh_cn"]
    assert post["title"] == "清风周报 2025-W14"
    assert post["content"] == [
        [{"tag": "text", "text": line}] for line in message.plain.split("\n")
    ]


def test_feishu_splits_bodies_to_20000_bytes_even_with_escaped_characters() -> None:
    # Quotes, backslashes and tabs take more bytes in JSON than in the text.
    lines = [f'第{i}条 "引号" \\反斜杠\\ \t制表 {"字" * 40}' for i in range(600)]
    message = DigestMessage(title="飞书长摘要", markdown="", plain="\n".join(lines))
    requests = build(target("feishu", FEISHU_URL, FEISHU_SECRET), message)

    assert len(requests) >= 3
    rejoined = []
    for index, request in enumerate(requests, start=1):
        assert len(request.content) <= 20000
        post = request.json()["content"]["post"]["zh_cn"]
        assert post["title"] == f"飞书长摘要（{index}/{len(requests)}）"
        rejoined += [paragraph[0]["text"] for paragraph in post["content"]]
    assert rejoined == lines


def test_feishu_without_secret_has_no_timestamp_or_sign() -> None:
    body = build(target("feishu", FEISHU_URL), make_digest(1))[0].json()
    assert "sign" not in body
    assert "timestamp" not in body


# --- Generic (Standard Webhooks) ---------------------------------------------------------


def verify_standard_webhook(request: PreparedRequest, key: bytes) -> None:
    headers = request.headers
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + request.content
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"


def test_generic_follows_standard_webhooks_with_a_whsec_secret() -> None:
    key = b"0123456789abcdef0123456789abcdef"
    secret = "whsec_" + base64.b64encode(key).decode()
    chart = small_png()
    message = make_digest(4, chart=chart)
    (request,) = build(target("generic", "https://hooks.example.org/in", secret), message)

    assert request.headers["webhook-id"] == "digest-2025-w14-robot-1"
    assert request.headers["webhook-timestamp"] == str(int(NOW))
    verify_standard_webhook(request, key)
    assert json.loads(request.content) == {
        "type": "digest",
        "title": message.title,
        "markdown": message.markdown,
        "text": message.plain,
        "chart_png_base64": base64.b64encode(chart).decode(),
    }


def test_generic_plain_secret_is_used_as_its_bytes_and_chart_may_be_null() -> None:
    (request,) = build(
        target("generic", "https://hooks.example.org/in", "plain-secret"), make_digest(1)
    )
    verify_standard_webhook(request, b"plain-secret")
    assert request.json()["chart_png_base64"] is None


def test_generic_id_is_stable_across_retries_while_timestamp_and_signature_change() -> None:
    tgt = target("generic", "https://hooks.example.org/in", "plain-secret")
    (first,) = build(tgt, make_digest(2), NOW)
    (retry,) = build(tgt, make_digest(2), NOW + 600)

    assert first.headers["webhook-id"] == retry.headers["webhook-id"]
    assert int(retry.headers["webhook-timestamp"]) - int(first.headers["webhook-timestamp"]) == 600
    assert first.headers["webhook-signature"] != retry.headers["webhook-signature"]


def test_prepared_request_repr_hides_url_headers_and_body() -> None:
    (request,) = build(target("dingtalk", DINGTALK_URL, DING_SECRET), make_digest(2))
    shown = repr(request)
    assert "ding-test-token" not in shown
    assert "sign" not in shown
    assert CONTENT_MARKER not in shown
