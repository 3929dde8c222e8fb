"""Sending digests to group robots: rate limits, answers, and what is worth retrying.

The robots answer in three ways that all mean "not delivered": an HTTP error status, a
network failure, or — WeCom, DingTalk and Feishu — HTTP 200 with a non-zero `errcode`/`code`
in the body. `DeliveryResult` folds these into ok / retry later / give up, so the outbox can
decide without knowing the services. Results and logs name a destination only by
`destination_label`, never by URL or secret, and never quote the digest.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl, urlsplit

import httpx

from bot.clock import Monotonic, WallClock, utc_now
from bot.config import WebhookTarget
from bot.delivery.ratelimit import RATE_RULES, Sleep, SlidingWindowLimiter
from bot.delivery.webhooks import (
    DigestMessage,
    PreparedRequest,
    destination_label,
    sign_part,
    split_message,
)

logger = logging.getLogger(__name__)

DEFAULT_REQUEST_TIMEOUT: Final = 15.0
_MAX_SERVICE_MESSAGE = 160
_MAX_RETRY_AFTER = 3600.0

# Service error codes that mean "later", with how long the service says to back off.
# WeCom: -1 system busy, 45009 frequency limit, 45033 too many concurrent calls.
# DingTalk: -1 system busy, 130101 sent too fast (the robot is then blocked for 10 minutes).
# Feishu: 11232 frequency limited. Every other non-zero code (bad signature, unknown key,
# keyword or IP not allowed, malformed message) will fail the same way again.
_RETRYABLE_CODES: Final[dict[str, dict[int, float | None]]] = {
    "wecom": {-1: None, 45009: 60.0, 45033: None},
    "dingtalk": {-1: None, 130101: 600.0},
    "feishu": {11232: 60.0},
    "generic": {},
}


@dataclass(frozen=True)
class DeliveryResult:
    """How a delivery went. `detail` is safe to log and store: no URL, secret or content.

    A digest can take several messages; `delivered_parts` counts those known delivered (pass
    it back as `first_part` to resume without repeating them). `retry_after` is the service's
    own hint in seconds, when it gave one.
    """

    ok: bool
    retryable: bool
    detail: str
    delivered_parts: int = 0
    total_parts: int = 0
    retry_after: float | None = None


@dataclass(frozen=True)
class _Answer:
    ok: bool
    retryable: bool
    detail: str
    retry_after: float | None = None
    service_message: str = ""  # the robot's own words: redacted before they are shown anywhere


def _service_code(kind: str, body: object) -> tuple[int, str] | None:
    """(code, message) from a robot's JSON answer, or None if it has no code field."""
    if not isinstance(body, dict):
        return None
    keys = (
        (("code", "msg"), ("StatusCode", "StatusMessage"))
        if kind == "feishu"
        else (("errcode", "errmsg"),)
    )
    for code_key, message_key in keys:
        code = body.get(code_key)
        if isinstance(code, int) and not isinstance(code, bool):
            return code, str(body.get(message_key, ""))
    return None


def _retry_after_header(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date; the outbox's own backoff will do
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


def classify_answer(kind: str, status: int, headers: httpx.Headers, content: bytes) -> _Answer:
    """Judge a robot's HTTP answer (pure, so every service's answers can be tested alone)."""
    body: object = None
    try:
        body = json.loads(content) if content else None
    except (ValueError, UnicodeDecodeError):
        body = None
    coded = _service_code(kind, body) if kind != "generic" else None
    if coded is not None and coded[0] != 0:
        code, service_message = coded
        hints = _RETRYABLE_CODES[kind]
        retryable = code in hints or status == 429 or status >= 500
        retry_after = hints.get(code) or _retry_after_header(headers.get("retry-after"))
        return _Answer(
            False, retryable, f"HTTP {status}, code {code}", retry_after, service_message
        )
    if status == 429:
        return _Answer(False, True, "HTTP 429", _retry_after_header(headers.get("retry-after")))
    if status >= 500 or status == 408:
        return _Answer(False, True, f"HTTP {status}")
    if not 200 <= status < 300:
        return _Answer(False, False, f"HTTP {status}")
    if kind != "generic" and coded is None:
        # The real services always answer with a code; something in between answered instead.
        return _Answer(False, True, f"HTTP {status} without a service code")
    return _Answer(True, False, f"HTTP {status}")


def _sensitive_strings(target: WebhookTarget) -> list[str]:
    """Everything in a destination that is a credential: secret, query values, path token."""
    values = [target.url]
    if target.secret is not None:
        values.append(target.secret.get_secret_value())
    parts = urlsplit(target.url)
    values.extend(value for _key, value in parse_qsl(parts.query))
    last_segment = parts.path.rstrip("/").rsplit("/", 1)[-1]
    if len(last_segment) >= 8:  # Feishu's hook token is the last path segment
        values.append(last_segment)
    return sorted((v for v in values if len(v) >= 4), key=len, reverse=True)


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by `***` (services sometimes echo what they got)."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


class WebhookSender:
    """Delivers digests to robots. One per process: it holds the per-robot rate limits.

    A digest's messages go out in order, and two digests for the same robot never interleave
    (a per-destination lock is held for the whole digest). Sending stops at the first failure.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        clock: Monotonic = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        wall_clock: WallClock = utc_now,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> None:
        self._client = client
        self._wall_clock = wall_clock
        self._timeout = request_timeout
        self._limiter = SlidingWindowLimiter(clock=clock, sleep=sleep)
        self._destination_locks: dict[str, asyncio.Lock] = {}

    async def send(
        self,
        target: WebhookTarget,
        message: DigestMessage,
        *,
        message_id: str,
        first_part: int = 0,
    ) -> DeliveryResult:
        """Send every message of `message` to `target`, starting at `first_part` (0-based).

        `message_id` identifies the digest for this destination and must stay the same across
        retries (the generic webhook sends it as `webhook-id` for de-duplication).
        """
        parts = split_message(target, message)
        total = len(parts)
        if not 0 <= first_part <= total:
            raise ValueError(f"first_part must be between 0 and {total}")
        label = destination_label(target)
        secrets = _sensitive_strings(target)
        lock = self._destination_locks.setdefault(target.url, asyncio.Lock())
        async with lock:
            for part in parts[first_part:]:
                await self._limiter.acquire(target.url, RATE_RULES[target.kind])
                request = sign_part(
                    target, part, now=self._wall_clock().timestamp(), message_id=message_id
                )
                answer = await self._post(target.kind, request)
                if not answer.ok:
                    detail = f"{label}: {request.description}: {answer.detail}"
                    if answer.service_message:
                        # Redact before cutting, or a cut could leave half a secret behind.
                        said = redact(answer.service_message, secrets)[:_MAX_SERVICE_MESSAGE]
                        detail += f" ({said})"
                    detail = redact(detail, secrets)
                    logger.warning(
                        "webhook delivery failed (%s): %s",
                        "will retry" if answer.retryable else "permanent",
                        detail,
                    )
                    return DeliveryResult(
                        ok=False,
                        retryable=answer.retryable,
                        detail=detail,
                        delivered_parts=part.index - 1,
                        total_parts=total,
                        retry_after=answer.retry_after,
                    )
        sent = total - first_part
        logger.info("digest delivered to %s in %d message(s)", label, sent)
        return DeliveryResult(
            ok=True,
            retryable=False,
            detail=f"{label}: delivered {sent} message(s)",
            delivered_parts=total,
            total_parts=total,
        )

    async def _post(self, kind: str, request: PreparedRequest) -> _Answer:
        try:
            response = await self._client.post(
                request.url,
                content=request.content,
                headers=dict(request.headers),
                timeout=self._timeout,
            )
        except httpx.TimeoutException as exc:
            return _Answer(False, True, f"timed out ({type(exc).__name__})")
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            return _Answer(False, False, f"unusable URL ({type(exc).__name__})")
        except httpx.TransportError as exc:
            # The exception text can carry the URL (and with it the robot's key): type only.
            return _Answer(False, True, f"network error ({type(exc).__name__})")
        return classify_answer(kind, response.status_code, response.headers, response.content)
