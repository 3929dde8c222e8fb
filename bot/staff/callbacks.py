"""Callback data of staff buttons. A button is only a request: the handler checks the
presser's role on every press, so forged or stale data grants nothing."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class RevokeCallback(CallbackData, prefix="stf_rv"):
    """Remove the staff member `user_id` (admins only, checked on press)."""

    user_id: int
