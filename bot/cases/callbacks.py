"""Callback data of follow-up and case buttons (well under Telegram's 64 bytes).

A case button carries only the case's short random ref; every press re-checks the presser's
staff role, so forged data grants nothing. The cadre's buttons carry no id at all: the open
report lives in the follow-up session store (memory or Redis, with an idle timeout).
"""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class FollowupAct(StrEnum):
    ANSWER = "ans"
    REFRESH = "ref"
    END = "end"


class FollowupCallback(CallbackData, prefix="fu"):
    a: FollowupAct


class CaseAct(StrEnum):
    OVERVIEW = "ov"
    LIST = "ls"
    VIEW = "v"
    STATUS_MENU = "sm"
    SET_STATUS = "ss"
    REPLY = "rp"
    NOTE = "nt"
    LABEL = "lb"
    AUDIT = "au"
    QUOTE = "qm"  # mark a free-text answer as quotable
    UNQUOTE = "qu"


class CaseCallback(CallbackData, prefix="cs"):
    a: CaseAct
    r: str = ""  # case ref
    s: str = ""  # status; for QUOTE / UNQUOTE, which free-text answer (see `quote_keys`)
    p: int = 0  # page
