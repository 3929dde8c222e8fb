"""Sending a digest to a Telegram chat: the HTML parts, then the chart as a photo.

Every message carries `protect_content=True`, so the digest cannot be forwarded or saved
out of the chat. Telegram answers are folded into the same `DeliveryResult` the webhook
sender gives (ok / retry later / give up), so the outbox treats both channels alike. Results
never quote the digest, and logs never name the chat.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramRetryAfter,
)
from aiogram.types import BufferedInputFile, LinkPreviewOptions
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.delivery.outbox import DeliverableDigest, Destination, GaveUp, ProgressCallback
from bot.delivery.sender import DeliveryResult
from bot.staff.roles import StaffRoles

logger = logging.getLogger(__name__)

MESSAGE_LIMIT: Final = 4096  # characters of visible text, after the HTML is parsed
CAPTION_LIMIT: Final = 1024
CHART_FILENAME: Final = "digest.png"
_MAX_DETAIL: Final = 160
_TAG = re.compile(r"<[^>]*>")

MigrationCallback = Callable[[int, int], Awaitable[None]]


def visible_length(html_text: str) -> int:
    """How long Telegram counts an HTML message: tags removed, entities decoded, in UTF-16
    code units (the unit of Telegram's limits and entity offsets)."""
    text = html.unescape(_TAG.sub("", html_text))
    return len(text.encode("utf-16-le")) // 2


class TelegramDigestSender:
    """Delivers digests through a `Bot`, part by part, resumable at any part.

    Parts are numbered 0… in sending order: the text parts first, the chart photo last.
    """

    def __init__(self, bot: Bot, *, on_migrate: MigrationCallback | None = None) -> None:
        self._bot = bot
        self._on_migrate = on_migrate

    async def send(
        self,
        chat_id: int,
        parts: Sequence[str],
        chart_png: bytes | None,
        *,
        caption: str | None = None,
        first_part: int = 0,
        on_progress: ProgressCallback | None = None,
    ) -> DeliveryResult:
        """Send `parts` (HTML, each within `MESSAGE_LIMIT`) and the chart, from `first_part`.

        A part Telegram would refuse for its length fails the whole digest before anything is
        sent (not retryable: it would fail the same way every time).
        """
        total = len(parts) + (1 if chart_png else 0)
        if not 0 <= first_part <= total:
            raise ValueError(f"first_part must be between 0 and {total}")
        for index, part in enumerate(parts):
            if not 0 < visible_length(part) <= MESSAGE_LIMIT:
                return DeliveryResult(
                    ok=False,
                    retryable=False,
                    detail=f"Telegram: digest part {index + 1} is empty or over {MESSAGE_LIMIT}",
                    delivered_parts=first_part,
                    total_parts=total,
                )
        index = first_part
        migrated = False
        while index < total:
            try:
                await self._send_part(chat_id, parts, chart_png, caption, index)
            except TelegramMigrateToChat as exc:
                if not migrated:
                    # The group became a supergroup: follow it once, and remember the new id.
                    migrated = True
                    if self._on_migrate is not None:
                        await self._on_migrate(chat_id, exc.migrate_to_chat_id)
                    chat_id = exc.migrate_to_chat_id
                    continue
                result = _failure(exc, index, total)
                logger.warning("Telegram digest delivery failed: %s", result.detail)
                return result
            except TelegramAPIError as exc:
                result = _failure(exc, index, total)
                logger.warning(
                    "Telegram digest delivery failed (%s): %s",
                    "will retry" if result.retryable else "permanent",
                    result.detail,
                )
                return result
            index += 1
            if on_progress is not None:
                await on_progress(index)
        return DeliveryResult(
            ok=True,
            retryable=False,
            detail=f"Telegram: delivered {total - first_part} message(s)",
            delivered_parts=total,
            total_parts=total,
        )

    async def _send_part(
        self,
        chat_id: int,
        parts: Sequence[str],
        chart_png: bytes | None,
        caption: str | None,
        index: int,
    ) -> None:
        if index < len(parts):
            await self._bot.send_message(
                chat_id,
                parts[index],
                parse_mode=ParseMode.HTML,
                protect_content=True,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
            return
        assert chart_png is not None
        await self._bot.send_photo(
            chat_id,
            BufferedInputFile(chart_png, filename=CHART_FILENAME),
            caption=_short_caption(caption),
            parse_mode=None,
            protect_content=True,
        )


def _short_caption(caption: str | None) -> str | None:
    if caption is None:
        return None
    return caption if len(caption) <= CAPTION_LIMIT else caption[: CAPTION_LIMIT - 1] + "…"


def _failure(exc: TelegramAPIError, index: int, total: int) -> DeliveryResult:
    """ok / retry / give up for a Telegram error. Detail: the error kind and Telegram's short
    description (about the request, never echoing the text sent), without the chat id."""
    description = " ".join(str(exc.message).split())[:_MAX_DETAIL]
    what = f"Telegram part {index + 1}/{total}: {type(exc).__name__}: {description}"
    retry_after: float | None = None
    if isinstance(exc, TelegramRetryAfter):
        retryable, retry_after = True, float(exc.retry_after)
    elif isinstance(exc, TelegramForbiddenError | TelegramBadRequest | TelegramEntityTooLarge):
        # Blocked, removed from the group, chat not found, malformed: the same next time.
        retryable = False
    else:
        retryable = True  # server and network errors, unauthorised while a token is fixed
    return DeliveryResult(
        ok=False,
        retryable=retryable,
        detail=what,
        delivered_parts=index,
        total_parts=total,
        retry_after=retry_after,
    )


class TelegramChannel:
    """The outbox's channel for private chats and groups (see `TelegramDigestSender`)."""

    def __init__(self, sender: TelegramDigestSender) -> None:
        self._sender = sender

    async def deliver(
        self,
        destination: Destination,
        digest: DeliverableDigest,
        *,
        message_id: str,
        first_part: int,
        on_progress: ProgressCallback,
    ) -> DeliveryResult:
        if destination.chat_id is None:
            raise ValueError("a Telegram destination needs its chat id")
        return await self._sender.send(
            destination.chat_id,
            digest.telegram_parts,
            digest.message.chart_png,
            caption=digest.title,
            first_part=first_part,
            on_progress=on_progress,
        )


class TelegramAdminAlert:
    """Tells every admin, in their private chat, that a digest could not be delivered.

    Admins manage staff and groups, so the alert names the chat (by id) or the robot (by its
    label, never its URL); it never quotes the digest.
    """

    def __init__(self, bot: Bot, roles: StaffRoles, i18n: I18n, locale: str) -> None:
        self._bot = bot
        self._roles = roles
        self._i18n = i18n
        self._locale = locale

    def _where(self, destination: Destination) -> str:
        if destination.kind == "staff":
            return _("the private chat of {user_id}").format(user_id=destination.chat_id)
        if destination.kind == "group":
            return _("the group {chat_id}").format(chat_id=destination.chat_id)
        return destination.label

    def text(self, gave_up: GaveUp) -> str:
        """The alert in the configured default language (HTML)."""
        with self._i18n.context(), self._i18n.use_locale(self._locale):
            return _(
                "⚠️ The digest {period} could not be delivered to {destination} "
                "after {attempts} attempt(s).\nLast error: {detail}"
            ).format(
                period=html.escape(gave_up.period_key),
                destination=html.escape(self._where(gave_up.destination)),
                attempts=gave_up.attempts,
                detail=html.escape(gave_up.detail),
            )

    async def __call__(self, gave_up: GaveUp) -> None:
        text = self.text(gave_up)
        for admin_id in await self._roles.admin_ids():
            try:
                await self._bot.send_message(admin_id, text, parse_mode=ParseMode.HTML)
            except TelegramAPIError as exc:
                logger.warning("could not alert an admin: %s", type(exc).__name__)
