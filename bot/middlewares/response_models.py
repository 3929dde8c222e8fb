"""Keep aiogram's parsed-response classes alive, so they are built once and not per request.

aiogram parses every Bot API reply with ``Response[method.__returning__]``. pydantic caches
such parametrised classes in a weak dictionary: as soon as the garbage collector clears the
class, the next reply builds it again, which costs about as much CPU as handling a whole
update. Holding one strong reference per method type keeps pydantic's own cache warm.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from aiogram import Bot


class KeepResponseModels(BaseRequestMiddleware):
    """Session middleware: one strong reference per method's response class."""

    def __init__(self) -> None:
        self._models: dict[type[Any], Any] = {}

    def __len__(self) -> int:
        return len(self._models)

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        kind = type(method)
        if kind not in self._models:
            self._models[kind] = Response[method.__returning__]  # type: ignore[name-defined]
        return await make_request(bot, method)
