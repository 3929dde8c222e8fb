"""No button press is left spinning: answer it in time, whatever the handler is waiting for.

Telegram shows a spinner on a pressed button until the bot answers the callback query, and
refuses answers that come more than about 15 seconds after the press ("query is too old").
Handlers answer at the end, once the new screen is on its way. When the bot is very busy (a
crowd arriving at once, Telegram asking it to slow down) that end can come late, so:

* `CallbackAnswerDeadline` answers the query itself, without text, once the deadline has
  passed and the handler still has not — the spinner stops, the new screen follows;
* `LateCallbackAnswers` turns the handler's own answer that comes after that (or after
  Telegram's timeout) into a quiet no-op instead of an error shown to the user: by then there
  is nothing left to answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from aiogram import BaseMiddleware
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.methods import AnswerCallbackQuery, Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import TelegramObject, Update

if TYPE_CHECKING:
    from aiogram import Bot

logger = logging.getLogger(__name__)

#: Seconds after which an unanswered press is answered anyway (Telegram gives up at ~15 s).
DEFAULT_DEADLINE = 10.0

_TOO_OLD = "query is too old"


class CallbackAnswerDeadline(BaseMiddleware):
    """Outer update middleware: answers a callback query the handler has not answered in time."""

    def __init__(self, deadline: float = DEFAULT_DEADLINE) -> None:
        if deadline <= 0:
            raise ValueError("deadline must be positive")
        self.deadline = deadline
        # Early answers in flight (a task must be referenced until it ends).
        self._answering: set[asyncio.Task[None]] = set()

    async def _answer_early(self, bot: Bot, query_id: str) -> None:
        logger.info("A button press waited %.0f s; answered before its handler", self.deadline)
        try:
            await bot(AnswerCallbackQuery(callback_query_id=query_id))
        except TelegramAPIError as exc:  # the handler got there first, or Telegram gave up
            logger.info("Early answer to a button press not needed: %s", type(exc).__name__)

    def _deadline_passed(self, bot: Bot, query_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._answer_early(bot, query_id))
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        bot = data.get("bot")
        if not isinstance(event, Update) or event.callback_query is None or bot is None:
            return await handler(event, data)
        # A timer handle, not a task per press: the common, quick press costs next to nothing.
        timer = asyncio.get_running_loop().call_later(
            self.deadline, self._deadline_passed, bot, event.callback_query.id
        )
        try:
            return await handler(event, data)
        finally:
            timer.cancel()


class LateCallbackAnswers(BaseRequestMiddleware):
    """Session middleware: an answer Telegram refuses as too old is dropped, not raised."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if method.__api_method__ != AnswerCallbackQuery.__api_method__:
            return await make_request(bot, method)
        try:
            return await make_request(bot, method)
        except TelegramBadRequest as exc:
            if _TOO_OLD not in exc.message:
                raise
            logger.info("A button press was already answered or timed out; answer dropped")
            # aiogram's chain really passes the method's result (here True) up, whatever the
            # annotation says: the handler's `await query.answer()` simply returns True.
            return cast(Response[TelegramType], True)
