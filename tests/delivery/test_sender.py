"""Delivery against local fake robots that check formats and signatures like the real ones."""

from __future__ import annotations

import base64
import hashlib
import logging
import socket
from datetime import timedelta

import httpx
import pytest

from bot.delivery.sender import DeliveryResult, WebhookSender, classify_answer
from tests.delivery.conftest import FakeClock
from tests.delivery.fake_robots import (
    DINGTALK_SECRET,
    DINGTALK_TOKEN,
    FEISHU_SECRET,
    FEISHU_TOKEN,
    GENERIC_SECRET,
    WECOM_KEY,
    FakeRobots,
    Scripted,
)
from tests.delivery.samples import CONTENT_MARKER, digest_lines, make_digest, small_png

KINDS = ["wecom", "dingtalk", "feishu", "generic"]
CREDENTIALS = [
    WECOM_KEY,
    DINGTALK_TOKEN,
    DINGTALK_SECRET,
    FEISHU_TOKEN,
    FEISHU_SECRET,
    GENERIC_SECRET,
]


@pytest.mark.parametrize("kind", KINDS)
async def test_short_digest_is_accepted_by_each_robot(
    kind: str, robots: FakeRobots, sender: WebhookSender
) -> None:
    result = await sender.send(robots.target(kind), make_digest(4), message_id="d-1")

    assert result == DeliveryResult(
        ok=True,
        retryable=False,
        detail=f"{kind} robot 'test-{kind}': delivered 1 message(s)",
        delivered_parts=1,
        total_parts=1,
    )
    assert robots.rejected == []
    assert [item.kind for item in robots.received] == [kind]


async def test_long_wecom_digest_arrives_complete_in_order_with_the_chart_last(
    robots: FakeRobots, sender: WebhookSender
) -> None:
    chart = small_png()
    result = await sender.send(
        robots.target("wecom"), make_digest(200, chart=chart), message_id="d-2"
    )

    assert result.ok, result.detail
    received = robots.of_kind("wecom")
    assert result.total_parts == len(received) > 3
    assert robots.rejected == []
    texts = [item.body["markdown"]["content"] for item in received[:-1]]
    arrived_lines = [line for text in texts for line in text.split("\n")[2:]]
    assert arrived_lines == digest_lines(200)
    image = received[-1].body["image"]
    assert base64.b64decode(image["base64"]) == chart
    assert image["md5"] == hashlib.md5(chart, usedforsecurity=False).hexdigest()


@pytest.mark.parametrize("kind", ["dingtalk", "feishu"])
async def test_long_digest_is_split_and_accepted_by_dingtalk_and_feishu(
    kind: str, robots: FakeRobots, sender: WebhookSender
) -> None:
    result = await sender.send(robots.target(kind), make_digest(600), message_id="d-3")

    assert result.ok, result.detail
    assert robots.rejected == []
    assert result.total_parts == len(robots.of_kind(kind)) >= 3


async def test_generic_receiver_gets_the_message_id_and_the_chart(
    robots: FakeRobots, sender: WebhookSender
) -> None:
    chart = small_png()
    result = await sender.send(
        robots.target("generic"), make_digest(3, chart=chart), message_id="digest-42"
    )

    assert result.ok
    (item,) = robots.of_kind("generic")
    assert item.headers["webhook-id"] == "digest-42"
    assert base64.b64decode(item.body["chart_png_base64"]) == chart


# --- failures ----------------------------------------------------------------------------

WECOM_RATE = {"errcode": 45009, "errmsg": "api freq out of limit"}
DINGTALK_RATE = {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
FEISHU_RATE = {"code": 11232, "data": {}, "msg": "frequency limited"}


@pytest.mark.parametrize(
    ("kind", "answer", "retryable", "retry_after", "shown"),
    [
        ("wecom", Scripted(500, {"error": "oops"}), True, None, "HTTP 500"),
        ("feishu", Scripted(503, None), True, None, "HTTP 503"),
        ("generic", Scripted(502, None), True, None, "HTTP 502"),
        ("wecom", Scripted(200, WECOM_RATE), True, 60.0, "code 45009"),
        ("dingtalk", Scripted(200, DINGTALK_RATE), True, 600.0, "code 130101"),
        ("feishu", Scripted(200, FEISHU_RATE), True, 60.0, "code 11232"),
        ("generic", Scripted(429, None), True, None, "HTTP 429"),
        (
            "wecom",
            Scripted(200, {"errcode": 93000, "errmsg": "invalid webhook url"}),
            False,
            None,
            "code 93000",
        ),
        (
            "dingtalk",
            Scripted(200, {"errcode": 300001, "errmsg": "token is not exist"}),
            False,
            None,
            "code 300001",
        ),
        ("generic", Scripted(404, None), False, None, "HTTP 404"),
        ("wecom", Scripted(200, {"unexpected": True}), True, None, "without a service code"),
    ],
)
async def test_failed_answers_are_classified(
    kind: str,
    answer: Scripted,
    retryable: bool,
    retry_after: float | None,
    shown: str,
    robots: FakeRobots,
    sender: WebhookSender,
) -> None:
    robots.script.append(answer)
    result = await sender.send(robots.target(kind), make_digest(2), message_id="d-4")

    assert not result.ok
    assert result.retryable is retryable
    assert result.retry_after == retry_after
    assert shown in result.detail
    assert result.delivered_parts == 0


@pytest.mark.parametrize(
    ("kind", "code"),
    [("dingtalk", "code 310000"), ("feishu", "code 19021"), ("generic", "HTTP 401")],
)
async def test_wrong_secret_is_a_permanent_failure(
    kind: str, code: str, robots: FakeRobots, sender: WebhookSender
) -> None:
    result = await sender.send(
        robots.target(kind, secret="whsec_" + "A" * 44 if kind == "generic" else "wrong"),
        make_digest(2),
        message_id="d-5",
    )

    assert not result.ok
    assert not result.retryable
    assert code in result.detail
    assert robots.received == []


@pytest.mark.parametrize(
    ("kind", "code"), [("dingtalk", "310000"), ("feishu", "19021"), ("generic", "401")]
)
async def test_a_clock_two_hours_off_is_rejected_by_the_timestamp_window(
    kind: str, code: str, robots: FakeRobots, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    skewed = WebhookSender(
        http_client,
        clock=clock.monotonic,
        sleep=clock.sleep,
        wall_clock=lambda: clock.wall_time() - timedelta(hours=2),
    )
    result = await skewed.send(robots.target(kind), make_digest(1), message_id="d-6")

    assert not result.ok
    assert not result.retryable
    assert code in result.detail


async def test_timeout_is_retryable(robots: FakeRobots, http_client: httpx.AsyncClient) -> None:
    impatient = WebhookSender(http_client, request_timeout=0.2)
    robots.script.append(Scripted(hang=True))

    result = await impatient.send(robots.target("wecom"), make_digest(1), message_id="d-7")

    assert not result.ok
    assert result.retryable
    assert "timed out" in result.detail


async def test_connection_refused_is_retryable(sender: WebhookSender, robots: FakeRobots) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    target = robots.target("wecom").model_copy(
        update={"url": f"http://127.0.0.1:{port}/cgi-bin/webhook/send?key={WECOM_KEY}"}
    )

    result = await sender.send(target, make_digest(1), message_id="d-8")

    assert not result.ok
    assert result.retryable
    assert "ConnectError" in result.detail


async def test_failure_midway_reports_progress_and_resume_sends_only_the_rest(
    robots: FakeRobots, sender: WebhookSender
) -> None:
    target = robots.target("wecom")
    message = make_digest(120, chart=small_png())
    robots.script.extend([None, Scripted(200, WECOM_RATE)])

    failed = await sender.send(target, message, message_id="d-9")
    assert not failed.ok
    assert failed.retryable
    assert failed.delivered_parts == 1
    assert failed.total_parts >= 3
    assert failed.detail.startswith(f"wecom robot 'test-wecom': markdown 2/{failed.total_parts}:")

    resumed = await sender.send(
        target, message, message_id="d-9", first_part=failed.delivered_parts
    )
    assert resumed.ok
    assert resumed.delivered_parts == resumed.total_parts == failed.total_parts
    # Every part arrived exactly once, in order: part 1 before the failure, the rest after.
    assert len(robots.received) == failed.total_parts
    texts = [item.body["markdown"]["content"] for item in robots.received[:-1]]
    assert [line for text in texts for line in text.split("\n")[2:]] == digest_lines(120)
    assert robots.received[-1].body["msgtype"] == "image"


# --- nothing secret or personal leaks --------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_detail_and_logs_hold_no_credentials_or_content(
    kind: str, robots: FakeRobots, sender: WebhookSender, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    target = robots.target(kind)
    own_secret = target.secret.get_secret_value() if target.secret else ""
    own_credentials = [c for c in CREDENTIALS if c in target.url or c == own_secret]
    assert own_credentials or kind == "generic"
    # A service that echoes this robot's credentials back, a server error, then a success.
    echo = " ".join([*own_credentials, target.url] * 3)
    code_key, message_key = ("code", "msg") if kind == "feishu" else ("errcode", "errmsg")
    robots.script.extend(
        [
            Scripted(200 if kind != "generic" else 400, {code_key: 40035, message_key: echo}),
            Scripted(500),
        ]
    )
    results = [
        await sender.send(target, make_digest(3, chart=small_png()), message_id="d-10")
        for _ in range(3)
    ]

    assert [result.ok for result in results] == [False, False, True]
    logged = "\n".join(
        record.getMessage() for record in caplog.records if record.name.startswith("bot")
    )
    assert logged  # failures and the success were logged
    for text in [*(result.detail for result in results), logged]:
        for secret in [*CREDENTIALS, target.url, CONTENT_MARKER]:
            assert secret not in text


def test_http_200_with_feishu_status_code_field_counts_as_success() -> None:
    old_style = b'{"Extra":null,"StatusCode":0,"StatusMessage":"success"}'
    assert classify_answer("feishu", 200, httpx.Headers(), old_style).ok
    failing = b'{"code":19024,"msg":"Key Words Not Found","data":{}}'
    answer = classify_answer("feishu", 200, httpx.Headers(), failing)
    assert not answer.ok
    assert not answer.retryable


def test_http_429_retry_after_header_is_passed_on() -> None:
    answer = classify_answer("generic", 429, httpx.Headers({"Retry-After": "17"}), b"")
    assert (answer.ok, answer.retryable, answer.retry_after) == (False, True, 17.0)


async def test_a_long_service_message_is_cut_after_redaction_not_through_a_secret(
    robots: FakeRobots, sender: WebhookSender
) -> None:
    # The secret straddles the point where the service's message is cut for the detail.
    echo = "x" * 150 + DINGTALK_SECRET + "y" * 100
    robots.script.append(Scripted(200, {"errcode": 40035, "errmsg": echo}))

    result = await sender.send(robots.target("dingtalk"), make_digest(1), message_id="d-11")

    assert not result.ok
    assert DINGTALK_SECRET[:8] not in result.detail
    assert "x" * 150 + "***" in result.detail
