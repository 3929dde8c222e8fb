"""Callback data of the respondent's buttons (all well under Telegram's 64 bytes).

Question and choice ids are short `[a-z0-9_]` words (the questionnaire validator enforces it),
so `s:ans:p9_freq:very_often` stays small. Anything that does not parse is refused politely.
"""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class Act(StrEnum):
    CONSENT = "go"
    RESUME = "res"
    RESTART = "new"
    ANSWER = "ans"
    TOGGLE = "tog"
    DONE = "done"
    SKIP = "skip"
    BACK = "back"
    CANCEL = "cxl"
    EDIT = "edit"
    REVIEW = "rev"
    SUBMIT = "sub"
    PRIVACY = "priv"


class SurveyCallback(CallbackData, prefix="s"):
    """A press inside the questionnaire: action, question id guard, value."""

    a: Act
    q: str = ""
    v: str = ""


class ClearChatCallback(CallbackData, prefix="clr"):
    """Delete this session's messages: from `first` up to the message carrying the button.

    Nothing is kept on the server after submitting; the range travels in the button itself.
    """

    first: int


class LanguageCallback(CallbackData, prefix="lang"):
    code: str


class AnnouncementsCallback(CallbackData, prefix="ann"):
    """Turn announcements on (`on`) or off; nothing is stored until a cadre presses it."""

    on: bool


class ReceiptSavedCallback(CallbackData, prefix="rcpt"):
    """ "I have saved it": delete the receipt message. `first` is where a later "clear this
    conversation" starts (the same range as `ClearChatCallback`)."""

    first: int
