"""Digest delivery to group-robot webhooks (WeCom, DingTalk, Feishu/Lark, generic).

`webhooks` knows the formats and signatures, `ratelimit` keeps each robot within its limits,
`sender` sends and judges the answers, `backoff` spaces out retries.
"""

from bot.delivery.backoff import backoff_delay
from bot.delivery.sender import DeliveryResult, WebhookSender
from bot.delivery.webhooks import (
    GENERIC_WEBHOOK_FORMAT,
    DigestMessage,
    PreparedRequest,
    build_requests,
)

__all__ = [
    "GENERIC_WEBHOOK_FORMAT",
    "DeliveryResult",
    "DigestMessage",
    "PreparedRequest",
    "WebhookSender",
    "backoff_delay",
    "build_requests",
]
