"""Pick each update's language: the one chosen with /language, else Telegram's hint.

For a chat that opted in to announcements the choice is kept on its subscriber row (keyed by
an HMAC of the chat id), never next to any answer; for any other chat only in process memory.
Reading it never writes. The resolved locale is also put into handler data as `locale`, for
questionnaire text (and it is the language a chat subscribes in).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiogram.types import Chat, TelegramObject, User
from aiogram.utils.i18n import I18n, I18nMiddleware

from bot.i18n import SUPPORTED_LOCALES, normalize_locale


class LocaleSource(Protocol):
    async def locale_of(self, chat_id: int) -> str | None: ...


class LocaleMiddleware(I18nMiddleware):
    """`I18nMiddleware` that reads the stored preference first."""

    def __init__(self, i18n: I18n, source: LocaleSource, default_locale: str) -> None:
        super().__init__(i18n)
        self.source = source
        self.default_locale = default_locale

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        chat: Chat | None = data.get("event_chat")
        user: User | None = data.get("event_from_user")
        if chat is not None and chat.type == "private":
            stored = await self.source.locale_of(chat.id)
            if stored in SUPPORTED_LOCALES:
                return stored
        if user is not None and user.language_code:
            return normalize_locale(user.language_code, self.default_locale)
        return self.default_locale

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        locale = await self.get_locale(event=event, data=data)
        data["locale"] = locale
        data[self.i18n_key or "i18n"] = self.i18n
        data[self.middleware_key] = self
        # What `with i18n.context(), i18n.use_locale(locale):` does, without two generators.
        current = self.i18n.set_current(self.i18n)
        token = self.i18n.ctx_locale.set(locale)
        try:
            return await handler(event, data)
        finally:
            self.i18n.ctx_locale.reset(token)
            self.i18n.reset_current(current)
