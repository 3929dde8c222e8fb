"""Telegram callback data of the cadre's buttons (all well under Telegram's 64 bytes).

The formats are those of buttons already in chats, so they keep working: `s:ACT:Q:V` for the
questionnaire (`Act` is the conversation core's), `clr:FIRST`, `rcpt:FIRST`, `lang:CODE`,
`ann:0|1`. Question and choice ids are short `[a-z0-9_]` words (the questionnaire validator
enforces it), so `s:ans:p9_freq:very_often` stays small. Anything that does not parse is
refused politely.
"""

from __future__ import annotations

from functools import lru_cache

from aiogram.filters.callback_data import CallbackData
from pydantic import ConfigDict

from bot.conversation.model import Act

__all__ = [
    "Act",
    "AnnouncementsCallback",
    "ClearChatCallback",
    "LanguageCallback",
    "ReceiptSavedCallback",
    "SurveyCallback",
]


class SurveyCallback(CallbackData, prefix="s"):
    """A press inside the questionnaire: action, question id guard, value.

    Frozen, and each button's data is parsed once (`unpack`): nearly every update is such a
    press, and the data come from a finite set (the questionnaire's questions and choices),
    which says nothing about who pressed."""

    model_config = ConfigDict(frozen=True)

    a: Act
    q: str = ""
    v: str = ""

    @classmethod
    def unpack(cls, value: str) -> SurveyCallback:
        return _unpack_survey(value)


@lru_cache(maxsize=8192)
def _unpack_survey(value: str) -> SurveyCallback:
    """aiogram's parsing, once per value; a refused one (TypeError, ValueError) is not
    remembered."""
    parse = CallbackData.unpack.__func__  # type: ignore[attr-defined]
    parsed: SurveyCallback = parse(SurveyCallback, value)
    return parsed


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
