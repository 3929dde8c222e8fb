"""Callback data of broadcast buttons. A button is only a request: every press is checked
against the presser's role (admins only), so forged or stale data grants nothing."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class BroadcastAction(StrEnum):
    AUDIENCE_ALL = "all"
    AUDIENCE_LOCALE = "loc"
    CONFIRM = "ok"
    DISCARD = "no"
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"


class BroadcastCallback(CallbackData, prefix="bc"):
    a: BroadcastAction
    job: str = ""  # a job id (32 hex) or, for AUDIENCE_LOCALE, the locale
