"""Callback data of staff buttons. A button is only a request: the handler checks the
presser's role on every press, so forged or stale data grants nothing."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class RevokeCallback(CallbackData, prefix="stf_rv"):
    """Ask whether to remove the staff member `user_id` (admins only, checked on press);
    `page` is where the button was, so the list stays on that page afterwards."""

    user_id: int
    page: int = 0


class StaffPageCallback(CallbackData, prefix="stf_pg"):
    """Show page `page` of the staff list (admins only, checked on press)."""

    page: int


class RevokeConfirmCallback(CallbackData, prefix="stf_rc"):
    """Yes: remove `user_id` now (admins only, checked on press). Shown only after a
    `RevokeCallback` (or `/revoke ID`) asked; `page` is where the list was."""

    user_id: int
    page: int = 0


class RevokeCancelCallback(CallbackData, prefix="stf_rx"):
    """No: nobody is removed; back to page `page` of the staff list."""

    page: int = 0
