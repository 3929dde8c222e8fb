"""Conversation screens as Telegram messages: HTML text and inline keyboards.

A `Screen` of the conversation core becomes one message: notices, then the title in bold and
the progress line, then the body (already in Telegram's HTML subset). Every option becomes a
button whose callback data keeps the formats of buttons already in chats
(`bot.respondent.callbacks`, `bot.cases.callbacks`), all within Telegram's 64 bytes. A grid
question's cells come first, one keyboard row per grid row (the body lists the rows by number),
then the screen's navigation rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from html import escape

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.cases.callbacks import FollowupAct, FollowupCallback
from bot.conversation import screens
from bot.conversation.model import Act, Action, GridRow, Option, Screen
from bot.i18n import LANGUAGE_NAMES, SUPPORTED_LOCALES
from bot.respondent.callbacks import (
    AnnouncementsCallback,
    ClearChatCallback,
    LanguageCallback,
    ReceiptSavedCallback,
    SurveyCallback,
)

CALLBACK_DATA_LIMIT = 64  # bytes, Telegram's limit
BUTTON_LIMIT = 100  # buttons in one inline keyboard, Telegram's limit

_FOLLOWUP_ACTS = {
    Act.FOLLOWUP_ANSWER: FollowupAct.ANSWER,
    Act.FOLLOWUP_REFRESH: FollowupAct.REFRESH,
    Act.FOLLOWUP_END: FollowupAct.END,
}
FOLLOWUP_ACTIONS = {telegram: core for core, telegram in _FOLLOWUP_ACTS.items()}


@dataclass(frozen=True)
class Message:
    """A screen as one Telegram message."""

    text: str
    markup: InlineKeyboardMarkup | None = None


def _first(action: Action) -> int:
    return int(action.value) if action.value.isdigit() else 0


def callback_data(action: Action) -> CallbackData:
    """The callback data a button carries for `action`."""
    match action.act:
        case Act.RECEIPT_SAVED:
            return ReceiptSavedCallback(first=_first(action))
        case Act.CLEAR_CHAT:
            return ClearChatCallback(first=_first(action))
        case Act.ANNOUNCEMENTS:
            return AnnouncementsCallback(on=action.value == "on")
        case Act.FOLLOWUP_ANSWER | Act.FOLLOWUP_REFRESH | Act.FOLLOWUP_END:
            return FollowupCallback(a=_FOLLOWUP_ACTS[action.act])
        case _:
            return SurveyCallback(a=action.act, q=action.question, v=action.value)


def button_text(option: Option) -> str:
    """The label with the choice's state marked as Telegram users know it: a radio mark
    on the current answer (no space before a scale's number), boxes on multi-choice."""
    if option.selected is None:
        return option.label
    if option.action.act == Act.TOGGLE:
        return ("☑️ " if option.selected else "⬜ ") + option.label
    if not option.selected:
        return option.label
    return "🔘" + ("" if option.label.isdigit() else " ") + option.label


@lru_cache(maxsize=8192)
def packed(action: Action) -> str:
    """`callback_data(action).pack()`, once per action: a screen of a grid packs dozens and
    the same ones come back on every press."""
    return callback_data(action).pack()


@lru_cache(maxsize=8192)
def _button(text: str, data: str) -> InlineKeyboardButton:
    """One validated button per label and data, shared by every keyboard that shows it
    (nothing changes a button once built)."""
    return InlineKeyboardButton(text=text, callback_data=data)


def button(option: Option) -> InlineKeyboardButton:
    return _button(button_text(option), packed(option.action))


def cell_text(row: GridRow, position: int, option: Option) -> str:
    """A grid cell marked like any choice; the row's first cell carries the row's number,
    which the body's list of rows goes by ("3 经常"; "3 · 1" where the cells are numbers,
    so the row's number does not read as part of the first one)."""
    label = button_text(option)
    if position:
        return label
    separator = " · " if option.label.isdigit() else " "
    return f"{row.number}{separator}{label}"


def grid_buttons(row: GridRow) -> list[InlineKeyboardButton]:
    return [
        _button(cell_text(row, position, option), packed(option.action))
        for position, option in enumerate(row.options)
    ]


_GRID_KEYBOARD_ROWS: dict[int, tuple[GridRow, tuple[InlineKeyboardButton, ...]]] = {}
_GRID_KEYBOARD_LIMIT = 8192


def grid_keyboard_row(row: GridRow) -> list[InlineKeyboardButton]:
    """`grid_buttons(row)`, once per row object: the screens hand out the same `GridRow`
    for the same row shown the same way (`bot.conversation.screens.QuestionParts`), so its
    buttons are not rebuilt on every press. An entry holds its row, so an `id` is never
    another's."""
    hit = _GRID_KEYBOARD_ROWS.get(id(row))
    if hit is not None and hit[0] is row:
        return list(hit[1])
    buttons = grid_buttons(row)
    _GRID_KEYBOARD_ROWS[id(row)] = (row, tuple(buttons))
    if len(_GRID_KEYBOARD_ROWS) > _GRID_KEYBOARD_LIMIT:
        del _GRID_KEYBOARD_ROWS[next(iter(_GRID_KEYBOARD_ROWS))]
    return buttons


def text(screen: Screen) -> str:
    head = [f"<b>{escape(screen.title)}</b>"] if screen.title else []
    if screen.progress is not None:
        head.append(screen.progress.label)
    parts = [*screen.notices, "\n".join(head), screen.body]
    return "\n\n".join(part for part in parts if part)


def markup(screen: Screen) -> InlineKeyboardMarkup | None:
    keyboard = [grid_keyboard_row(row) for row in screen.grid if row.options]
    keyboard += [[button(option) for option in row] for row in screen.rows if row]
    if not keyboard:
        return None
    return InlineKeyboardMarkup(inline_keyboard=keyboard)


def render(screen: Screen) -> Message:
    return Message(text(screen), markup(screen))


# --- the chat's own switches (Telegram keeps them: they are about this chat) ---------------


def announcements_button(subscribed: bool) -> InlineKeyboardButton:
    """Turn announcements on (off until pressed) or off again."""
    return button(screens.announcements_option(subscribed))


def with_announcements_switch(
    current: InlineKeyboardMarkup | None, subscribed: bool
) -> InlineKeyboardMarkup | None:
    """The same keyboard with its announcements button showing the new state."""
    if current is None:
        return None
    prefix = AnnouncementsCallback.__prefix__ + ":"
    rows = [
        [
            announcements_button(subscribed)
            if (existing.callback_data or "").startswith(prefix)
            else existing
            for existing in row
        ]
        for row in current.inline_keyboard
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def language_message() -> Message:
    return Message(
        screens.choose_language_text(),
        InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(
                        text=LANGUAGE_NAMES[code],
                        callback_data=LanguageCallback(code=code).pack(),
                    )
                ]
                for code in SUPPORTED_LOCALES
            ]
        ),
    )
