"""The last line of defence: no stack trace ever reaches a user, and no answer text a log."""

from __future__ import annotations

import logging
import traceback

from aiogram import Router
from aiogram.types import ErrorEvent
from aiogram.utils.i18n import gettext as _

logger = logging.getLogger(__name__)


async def on_error(event: ErrorEvent) -> bool:
    """Log where it failed (frames only, not the message, which may quote user input)."""
    exc = event.exception
    frames = "".join(traceback.format_tb(exc.__traceback__)[-5:])
    logger.error("Unhandled %s while handling an update\n%s", type(exc).__name__, frames)
    update = event.update
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(
                _("Sorry, something went wrong. Please try again in a moment."), show_alert=True
            )
        elif update.message is not None and update.message.chat.type == "private":
            await update.message.answer(
                _("Sorry, something went wrong. Please try again in a moment.")
            )
    except Exception as reply_exc:
        logger.warning("Could not tell the user about the error: %s", type(reply_exc).__name__)
    return True


def create_router() -> Router:
    """A fresh Router (a Router can belong to one Dispatcher only)."""
    router = Router(name="errors")
    router.errors.register(on_error)
    return router
