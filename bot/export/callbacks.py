"""Callback data of the export buttons. A button is only a request: the router's `IsAdmin`
filter checks the presser's role on every press, so stale or forged data grants nothing."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class ExportTextCallback(CallbackData, prefix="exp_tx"):
    """Send the export again *with* free text (audited), in the same format; `campaign` is
    "" for all."""

    campaign: str = ""
    fmt: str = "xlsx"
