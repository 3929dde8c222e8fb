"""Every button press is answered exactly once, and in time, whatever the handler waits for.

Telegram shows a spinner on a pressed button until the bot answers the callback query, and
refuses answers that come more than about 15 seconds after the press ("query is too old"), or
a second answer to the same press (the same 400). Handlers answer at the end, once the new
screen is on its way. When the bot is very busy (a crowd arriving at once, a chat's earlier
updates still running, Telegram's overall message rate) that end can come late, so:

* `CallbackAnswerDeadline` answers the query itself once the deadline has passed and the
  handler still has not, with a short "One moment, please…" (请稍候): the spinner stops,
  the user knows the press was taken, and the work behind it still runs once and its new
  screen follows. A press whose handler ends without answering is answered then, blank.
* `LateCallbackAnswers` sends at most one answer per press: whoever asks first (the deadline
  or the handler) is sent, any later or concurrent answer returns True without a request, so
  Telegram never sees a second answer. An answer Telegram still refuses as too old (the press
  waited past Telegram's lifetime before the bot even got it) is dropped, not raised.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from aiogram import BaseMiddleware
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.methods import AnswerCallbackQuery, Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import CallbackQuery, TelegramObject, Update

from bot.clock import Monotonic
from bot.i18n.text import DEFAULT_LOCALE, gettext, normalize_locale, use_locale

if TYPE_CHECKING:
    from aiogram import Bot

logger = logging.getLogger(__name__)

#: Seconds after which an unanswered press is answered anyway (Telegram gives up at ~15 s).
DEFAULT_DEADLINE = 10.0
#: How long Telegram accepts an answer after the press.
QUERY_LIFETIME = 15.0

_TOO_OLD = "query is too old"

LateText = Callable[[CallbackQuery], "str | None"]


@dataclass
class _Press:
    """The press being handled, and whether an answer to it has gone (or was refused as too
    old): then the handler's end sends nothing more, not even a request for the session's
    middleware to drop."""

    query_id: str
    answered: bool = False


_press_in_hand: ContextVar[_Press | None] = ContextVar("press_in_hand", default=None)


def _mark_answered(query_id: str) -> None:
    press = _press_in_hand.get()
    if press is not None and press.query_id == query_id:
        press.answered = True


def _(message: str) -> str:
    """Marks a msgid for extraction; translated when the answer is made."""
    return message


PLEASE_WAIT = _("One moment, please…")


def please_wait(query: CallbackQuery, default_locale: str = DEFAULT_LOCALE) -> str:
    """ "One moment, please…" in the presser's language (Telegram's hint: reading the stored
    preference would cost a database round-trip exactly when the bot is overloaded)."""
    with use_locale(normalize_locale(query.from_user.language_code, default_locale)):
        return gettext(PLEASE_WAIT)


class CallbackAnswerDeadline(BaseMiddleware):
    """Outer update middleware: answers a press the handler has not answered in time."""

    def __init__(
        self, deadline: float = DEFAULT_DEADLINE, *, late_text: LateText = please_wait
    ) -> None:
        if deadline <= 0:
            raise ValueError("deadline must be positive")
        self.deadline = deadline
        self.late_text = late_text
        # Answers in flight (a task must be referenced until it ends).
        self._answering: set[asyncio.Task[None]] = set()

    async def _answer(self, bot: Bot, query_id: str, text: str | None) -> None:
        try:
            await bot(AnswerCallbackQuery(callback_query_id=query_id, text=text))
        except TelegramAPIError as exc:  # Telegram gave up on the press (or no dedup in front)
            logger.info("Answer to a button press not sent: %s", type(exc).__name__)

    def _spawn(self, bot: Bot, query_id: str, text: str | None) -> None:
        task = asyncio.get_running_loop().create_task(self._answer(bot, query_id, text))
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)

    def _deadline_passed(self, bot: Bot, query: CallbackQuery) -> None:
        logger.info("A button press waited %.0f s; answered before its handler", self.deadline)
        self._spawn(bot, query.id, self.late_text(query))

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        bot = data.get("bot")
        if not isinstance(event, Update) or event.callback_query is None or bot is None:
            return await handler(event, data)
        query = event.callback_query
        # A timer handle, not a task per press: the common, quick press costs next to nothing.
        press = _Press(query.id)
        token = _press_in_hand.set(press)  # before the timer: its answer counts as one too
        timer = asyncio.get_running_loop().call_later(
            self.deadline, self._deadline_passed, bot, query
        )
        try:
            return await handler(event, data)
        finally:
            _press_in_hand.reset(token)
            timer.cancel()
            if not press.answered:  # LateCallbackAnswers would drop a second one anyway
                self._spawn(bot, query.id, None)

    async def drain(self) -> None:
        """Wait for the answers in flight (tests, shutdown)."""
        while self._answering:
            await asyncio.gather(*self._answering, return_exceptions=True)


class LateCallbackAnswers(BaseRequestMiddleware):
    """Session middleware: one answer per press reaches Telegram; a refused late one is dropped.

    It remembers the presses it answered for twice Telegram's lifetime: any answer after that
    would be refused as too old anyway.
    """

    def __init__(
        self, *, remember: float = 2 * QUERY_LIFETIME, clock: Monotonic = time.monotonic
    ) -> None:
        self.remember = remember
        self._clock = clock
        # Query id -> when its answer was claimed; insertion order is claim order.
        self._claimed: dict[str, float] = {}

    def _claim(self, query_id: str) -> bool:
        now = self._clock()
        while self._claimed:  # the oldest first, and only those: no copy of the whole table
            oldest = next(iter(self._claimed))
            if now - self._claimed[oldest] <= self.remember:
                break
            del self._claimed[oldest]
        if query_id in self._claimed:
            return False
        self._claimed[query_id] = now
        return True

    @property
    def remembered(self) -> int:
        """How many presses are remembered as answered (for tests: bounded)."""
        return len(self._claimed)

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if method.__api_method__ != AnswerCallbackQuery.__api_method__:
            return await make_request(bot, method)
        query_id = cast(AnswerCallbackQuery, method).callback_query_id
        # aiogram's chain really passes the method's result (here True) up, whatever the
        # annotation says: the handler's `await query.answer()` simply returns True.
        answered = cast(Response[TelegramType], True)
        if not self._claim(query_id):
            _mark_answered(query_id)
            return answered  # answered (or being answered) already: Telegram would refuse it
        try:
            result = await make_request(bot, method)
        except TelegramBadRequest as exc:
            if _TOO_OLD not in exc.message:
                self._claimed.pop(query_id, None)
                raise
            logger.info("A button press timed out before it was answered; answer dropped")
            _mark_answered(query_id)
            return answered
        except BaseException:
            self._claimed.pop(query_id, None)  # not answered: a later answer may still go
            raise
        _mark_answered(query_id)
        return result
