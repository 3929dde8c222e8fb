"""One place where the bot's own Bot API calls survive Telegram's pushback.

On 429 the call waits `retry_after` and is sent again; on transient 5xx and network errors it
is retried with exponential backoff and jitter. Everything else is raised to the caller.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from aiogram import Bot

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[Any]]


class RetryMiddleware(BaseRequestMiddleware):
    """Retries a Bot API call on 429 (after `retry_after`) and on transient failures."""

    def __init__(
        self,
        *,
        max_retry_after_waits: int = 20,
        max_transient_retries: int = 5,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.max_retry_after_waits = max_retry_after_waits
        self.max_transient_retries = max_transient_retries
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._sleep = sleep
        self._rng = rng or random.Random()

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff for the n-th transient failure (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return self._rng.uniform(ceiling / 2, ceiling)

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        waits = 0
        transient = 0
        while True:
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                waits += 1
                if waits > self.max_retry_after_waits:
                    raise
                logger.info(
                    "Telegram asked to slow down: %s waits %ss",
                    method.__api_method__,
                    exc.retry_after,
                )
                await self._sleep(float(exc.retry_after))
            except (TelegramServerError, TelegramNetworkError) as exc:
                transient += 1
                if transient > self.max_transient_retries:
                    raise
                delay = self.backoff(transient)
                logger.info(
                    "Transient %s on %s, retry %d in %.2fs",
                    type(exc).__name__,
                    method.__api_method__,
                    transient,
                    delay,
                )
                await self._sleep(delay)
