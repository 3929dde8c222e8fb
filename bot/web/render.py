"""Conversation screens and effects as the page's JSON.

Bodies arrive in the escaped HTML subset of `bot.conversation.model` (`<b>`, `<i>`, `<code>`
and entities); the page gets them as runs of `[style, text]`, which it builds with text nodes
only, so nothing in a screen (least of all what a cadre typed) can become markup or script.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from bot.conversation.model import (
    Action,
    AnswerPress,
    DeleteMessage,
    DeleteSession,
    Effect,
    GridRow,
    MessageRef,
    Option,
    Replace,
    Retire,
    Screen,
    Show,
)

STYLES = {"b": "b", "strong": "b", "i": "i", "em": "i", "code": "code", "pre": "code"}

Run = list[str]  # [style, text]


# Elements that never have an end tag: they must not open a style that nothing closes.
VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


class _Runs(HTMLParser):
    """Each open element is kept with the tag that opened it, so an end tag closes its own
    element (and those left open inside it), a stray one closes nothing, and a void or
    self-closing element opens nothing."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.runs: list[Run] = []
        self._open: list[tuple[str, str]] = []  # (tag, style)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.handle_data("\n")
            return
        if tag not in VOID:
            self._open.append((tag, STYLES.get(tag, "")))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.handle_data("\n")

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self._open) - 1, -1, -1):
            if self._open[depth][0] == tag:
                del self._open[depth:]
                return

    def handle_data(self, data: str) -> None:
        if not data:
            return
        style = next((s for _tag, s in reversed(self._open) if s), "")
        if self.runs and self.runs[-1][0] == style:
            self.runs[-1][1] += data
        else:
            self.runs.append([style, data])


def runs(html_text: str) -> list[Run]:
    """The text of `html_text` in styled runs; unknown tags keep their text, lose the tag."""
    parser = _Runs()
    parser.feed(html_text)
    parser.close()
    return parser.runs


def action_json(action: Action) -> dict[str, str]:
    return {"a": action.act.value, "q": action.question, "v": action.value}


def option_json(option: Option) -> dict[str, Any]:
    return {
        "label": option.label,
        "action": action_json(option.action),
        "selected": option.selected,
    }


def grid_row_json(row: GridRow) -> dict[str, Any]:
    """One line of a grid question: the page shows its number and label, then its cells."""
    return {
        "number": row.number,
        "label": row.label,
        "required": row.required,
        "answered": row.answered,
        "options": [option_json(option) for option in row.options],
    }


def screen_json(screen: Screen) -> dict[str, Any]:
    progress = screen.progress
    return {
        "title": screen.title,
        "progress": None
        if progress is None
        else {
            "position": progress.position,
            "total": progress.total,
            "label": progress.label,
            "fraction": progress.fraction,
        },
        "notices": [runs(notice) for notice in screen.notices],
        "body": runs(screen.body),
        "grid": [grid_row_json(row) for row in screen.grid],
        "rows": [[option_json(option) for option in row] for row in screen.rows],
        "input": None
        if screen.input is None
        else {"kind": screen.input.kind.value, "max": screen.input.max_length},
    }


class RefCounter:
    """Hands out the page's message references, increasing, from the session's record."""

    def __init__(self, next_ref: int) -> None:
        self.next_ref = next_ref

    def take(self) -> MessageRef:
        ref = self.next_ref
        self.next_ref += 1
        return ref


def op_of(effect: Effect, *, event_ref: MessageRef, refs: RefCounter) -> dict[str, Any] | None:
    """One effect as one op for the page; `event_ref` is the message of the event (the
    cadre's typed message, or the screen pressed on). None: nothing to do on a page."""
    match effect:
        case Show():
            return {
                "op": "show",
                "ref": refs.take(),
                "screen": screen_json(effect.screen),
                "current": effect.current,
            }
        case Replace():
            return {"op": "replace", "ref": event_ref, "screen": screen_json(effect.screen)}
        case Retire():
            return {"op": "retire", "ref": effect.ref}
        case DeleteMessage():
            return {"op": "delete", "ref": event_ref}
        case DeleteSession():
            return {"op": "clear", "from": effect.first}
        case AnswerPress():
            if effect.text is None:
                return None
            return {"op": "toast", "text": effect.text, "alert": effect.alert}
    return None
