"""What goes into the conversation core and what comes out: events, effects, screens.

All of it is plain frozen data, the same for every channel. A channel (Telegram today, a web
page or WeCom next) turns what the cadre did into an `Event`, hands it to the core with the
`Cadre` it belongs to, and carries out the `Effect`s it gets back in order.

Text in a screen (`Screen.body`, `notices`, `Progress.label`) is in the small HTML subset
Telegram uses: already escaped, with `<b>`, `<i>` and `<code>` only; the web channel renders
the same subset. `Screen.title` and option labels are plain text, to be escaped by the
renderer.

Message references (`MessageRef`) are the channel's numbers for the messages it showed or
received, increasing in the order they appeared (Telegram: `message_id`). The core compares
and stores them, nothing more: that is how it knows which screen is current (see
`Conversation.screen_shown`) and where "clear this conversation" starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, NewType, Protocol

ConversationKey = NewType("ConversationKey", str)
"""Opaque and channel-derived (Telegram: the HMAC pseudonym the FSM storage keys by)."""

MessageRef = int


class Act(StrEnum):
    """What an option does. The values of the questionnaire's own acts are the ones old
    Telegram buttons carry, so buttons already in chats keep working."""

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
    RECEIPT_SAVED = "rcpt"  # value: the first message of the session
    CLEAR_CHAT = "clr"  # value: the first message of the session
    CELL = "cell"  # question: the row's key "grid.row"; value: a choice id or an integer
    FILL = "fill"  # question: the grid; the rest of its rows take the grid's `fill` choice
    CANCEL_CONFIRM = "cxl-y"  # yes, discard the draft
    CANCEL_KEEP = "cxl-n"  # no, keep going: the question again
    RESTORE = "cxl-r"  # bring back the draft cancelled a moment ago
    FOLLOWUP_ANSWER = "fu-ans"
    FOLLOWUP_REFRESH = "fu-ref"
    FOLLOWUP_END = "fu-end"
    ANNOUNCEMENTS = "ann"  # value: "on" or "off"; handled by the channel (it owns the chat)


@dataclass(frozen=True)
class Action:
    """An option's action: `question` guards against a press on an older question."""

    act: Act
    question: str = ""
    value: str = ""


@dataclass(frozen=True)
class Option:
    """`selected`: None for an option that is not a choice; else whether this choice is the
    current answer (single, scale) or ticked (multi). Channels show it their own way."""

    label: str
    action: Action
    selected: bool | None = None


class InputKind(StrEnum):
    TEXT = "text"
    NUMBER = "number"


@dataclass(frozen=True)
class TextInput:
    """The screen takes a typed answer: words up to `max_length` characters, or a number."""

    kind: InputKind
    max_length: int


@dataclass(frozen=True)
class Progress:
    """Where the cadre is: `position` of `total` sections, and `fraction` (0..1) of the
    questions seen, which never decreases in a forward walk."""

    position: int
    total: int
    label: str  # e.g. "Part 2 of 5", translated
    fraction: float = 0.0


@dataclass(frozen=True)
class GridRow:
    """One row of a grid question: its `number` (the body's list and the keyboard go by it),
    its plain-text `label`, and a cell per choice or integer (`selected` on the chosen one)."""

    number: int
    label: str
    options: tuple[Option, ...]
    required: bool
    answered: bool


@dataclass(frozen=True)
class Screen:
    """One screen: notices first, then the title and progress, then the body; a grid
    question's cells (`grid`) below it, then the rows of other options (navigation)."""

    body: str
    rows: tuple[tuple[Option, ...], ...] = ()
    title: str | None = None
    progress: Progress | None = None
    notices: tuple[str, ...] = ()
    input: TextInput | None = None
    grid: tuple[GridRow, ...] = ()

    @property
    def options(self) -> tuple[Option, ...]:
        """Every option, the grid's cells first."""
        cells = tuple(option for row in self.grid for option in row.options)
        return cells + tuple(option for row in self.rows for option in row)


# --- events ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    """The cadre opened the conversation (Telegram: /start). `ref`: their message.
    `subscribed`: whether announcements are on, for a channel that has them (else None)."""

    ref: MessageRef
    subscribed: bool | None = None


@dataclass(frozen=True)
class Press:
    """An option pressed on the screen `ref`."""

    action: Action
    ref: MessageRef


@dataclass(frozen=True)
class Text:
    """A typed message (not a command)."""

    body: str
    ref: MessageRef


@dataclass(frozen=True)
class Edit:
    """The cadre edited their message `ref`; `body` is its new text or caption, `text`
    False when the message is not a text message (a photo's caption, say)."""

    body: str
    ref: MessageRef
    text: bool = True


@dataclass(frozen=True)
class Media:
    """A voice message, photo, file, sticker, location, contact…: never used as an answer."""

    kind: str
    ref: MessageRef


@dataclass(frozen=True)
class Command:
    """A command other than start: `cancel`, `followup`, `questionnaire_preview`."""

    name: str
    args: str
    ref: MessageRef


Event = Start | Press | Text | Edit | Media | Command


# --- effects --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Show:
    """Show a new screen below everything else. `current`: it is the questionnaire's current
    screen, and the channel must report the reference it got with `screen_shown`.
    `protect`: not to be forwarded or saved (the receipt). `link_previews`: False where a
    link must not be fetched for a preview (the follow-up)."""

    screen: Screen
    current: bool = False
    protect: bool = False
    link_previews: bool = True


@dataclass(frozen=True)
class Replace:
    """Replace the screen the press came from, in place."""

    screen: Screen


@dataclass(frozen=True)
class Retire:
    """The screen `ref` is no longer current: take its options away (its text stays)."""

    ref: MessageRef


@dataclass(frozen=True)
class DeleteMessage:
    """Delete the message of this event (the cadre's own, or the screen pressed on)."""


@dataclass(frozen=True)
class DeleteSession:
    """Delete this session's messages, the cadre's and the channel's, from `first` up to
    the message of this event, as far as the channel allows."""

    first: MessageRef


@dataclass(frozen=True)
class AnswerPress:
    """Acknowledge the press (every press gets exactly one), with an optional short text;
    `alert`: shown as a dialog to dismiss, not a passing note."""

    text: str | None = None
    alert: bool = False


Effect = Show | Replace | Retire | DeleteMessage | DeleteSession | AnswerPress


# --- who the core talks to, and where it keeps their state ----------------------------------


class Channel(StrEnum):
    """Where the cadre is: the wording differs where a channel's means differ (commands in
    Telegram, the page's own buttons on the web) and where it keeps different things."""

    TELEGRAM = "telegram"
    WEB = "web"


class ConversationState(Protocol):
    """This conversation's JSON-safe state, kept by the channel's storage (Telegram: the FSM
    storage: pseudonymous, encrypted, expiring). Empty when nothing is kept."""

    async def load(self) -> dict[str, Any]: ...

    async def save(self, data: dict[str, Any]) -> None: ...

    async def clear(self) -> None: ...


@dataclass(frozen=True)
class Cadre:
    """The other end of one conversation, as far as the core may know it.

    `daily_pseudonym(purpose, day)` is computed by the channel (Telegram: the existing
    `Pseudonymizer.daily` of the user id), so daily limits are counted per person without
    the core ever holding a platform id. Roles are the channel's business: it delivers a
    staff command (the preview of a stored version) only to those allowed to send it."""

    key: ConversationKey
    locale: str
    state: ConversationState
    daily_pseudonym: Callable[[str, date], str] = field(repr=False)
    channel: Channel = Channel.TELEGRAM
