"""The web page's way into the conversation core: one JSON action in, the page's ops out.

Each action carries the session's next sequence number; the same number again gets the very
same answer (kept in memory for a while) and changes nothing, any other number is refused.
Events become the core's events (`start`, `press`, `text`, `cancel`, `followup`); what only
a page has — continue later with a resume code, switch language — is handled here, around
the core, never instead of it.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Any

from aiogram.fsm.storage.base import StorageKey

from bot.conversation import screens
from bot.conversation.core import (
    DRAFT_KEY,
    FIRST_KEY,
    MESSAGE_KEY,
    PREVIEW_KEY,
    TYPED_KEY,
    Conversation,
)
from bot.conversation.model import (
    Act,
    Action,
    Cadre,
    Channel,
    Command,
    ConversationKey,
    Event,
    MessageRef,
    Press,
    Screen,
    Show,
    Start,
    Text,
)
from bot.conversation.state import MemoryState
from bot.i18n.text import SUPPORTED_LOCALES, use_locale
from bot.i18n.text import gettext as _
from bot.web.limits import ActionRate
from bot.web.render import RefCounter, op_of, screen_json
from bot.web.sessions import SessionState, WebSessions, new_resume_code

TEXT_LIMIT = 4000  # characters of one typed message (Telegram's own is 4096)
FIELD_LIMIT = 64  # characters of an action's question id or value, of a code
PAGE_ACTS = frozenset(Act) - {Act.ANNOUNCEMENTS}


class WebError(Exception):
    """A refusal the page is told about: an HTTP status, a code, and extra fields."""

    def __init__(self, status: int, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.extra = extra


# --- texts only a page has ------------------------------------------------------------------


def saved_for_later_text(code: str, hours: int) -> str:
    return (
        _("📌 <b>Saved for later.</b> Your continue code:")
        + f"\n\n<code>{escape(code)}</code>\n\n"
        + _(
            "It is shown only this once: write it down. To go on, open this page again on "
            "this phone within {hours} hours and tap “Continue with a code”. Only a scrambled "
            "form of the code is kept."
        ).format(hours=hours)
    )


def nothing_to_save_text() -> str:
    return _("There is no unfinished questionnaire to save.")


def wrong_resume_code_text() -> str:
    return _(
        "This continue code does not open a saved questionnaire. It may be mistyped, used "
        "already, or expired."
    )


def draft_open_text() -> str:
    return _("You already have a questionnaire open here. Submit or cancel it first.")


def campaign_closed_text() -> str:
    return _("This survey round is not open now. Thank you for your interest.")


def campaign_full_text() -> str:
    return _(
        "This survey round has received as many reports today as it can take. Your answers "
        "stay here as a draft: please submit tomorrow."
    )


# --- parsing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageEvent:
    """An action as the page sent it, checked."""

    kind: str
    action: Action | None = None
    ref: MessageRef = 0
    text: str = ""


def _field(raw: Mapping[str, Any], name: str, limit: int = FIELD_LIMIT) -> str:
    value = raw.get(name, "")
    if not isinstance(value, str) or len(value) > limit:
        raise WebError(400, "bad_request", field=name)
    return value


def parse_action(payload: object) -> tuple[int, PageEvent]:
    if not isinstance(payload, dict):
        raise WebError(400, "bad_request")
    seq = payload.get("seq")
    event = payload.get("event")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise WebError(400, "bad_request", field="seq")
    if not isinstance(event, dict):
        raise WebError(400, "bad_request", field="event")
    kind = event.get("type")
    match kind:
        case "start" | "cancel" | "later":
            return seq, PageEvent(kind)
        case "press":
            raw = event.get("action")
            ref = event.get("ref")
            if not isinstance(raw, dict) or not isinstance(ref, int) or isinstance(ref, bool):
                raise WebError(400, "bad_request", field="action")
            try:
                act = Act(_field(raw, "a"))
            except ValueError:
                raise WebError(400, "unknown_action") from None
            if act not in PAGE_ACTS:
                raise WebError(400, "unknown_action")
            action = Action(act, _field(raw, "q"), _field(raw, "v"))
            return seq, PageEvent("press", action=action, ref=max(ref, 0))
        case "text":
            body = event.get("body")
            if not isinstance(body, str):
                raise WebError(400, "bad_request", field="body")
            if len(body) > TEXT_LIMIT:
                raise WebError(422, "text_too_long", limit=TEXT_LIMIT)
            if not body.strip():
                raise WebError(400, "bad_request", field="body")
            return seq, PageEvent("text", text=body)
        case "followup" | "resume":
            return seq, PageEvent(kind, text=_field(event, "code").strip())
        case "locale":
            locale = event.get("locale")
            if locale not in SUPPORTED_LOCALES:
                raise WebError(400, "bad_request", field="locale")
            return seq, PageEvent("locale", text=str(locale))
    raise WebError(400, "unknown_event")


# --- the channel ------------------------------------------------------------------------------


def _no_daily_pseudonym(purpose: str, day: date) -> str:
    raise RuntimeError("the page's first screen counts nothing")


CampaignOpen = Callable[[str], Awaitable[bool]]
CampaignFull = Callable[[], Awaitable[bool]]


class WebChannel:
    """Every page's sessions, one action at a time per session."""

    def __init__(
        self,
        conversation: Conversation,
        sessions: WebSessions,
        *,
        rate: ActionRate,
        campaign_open: CampaignOpen,
        campaign_full: CampaignFull,
        draft_hours: int,
        today: Callable[[], date],
    ) -> None:
        self.conversation = conversation
        self.sessions = sessions
        self.rate = rate
        self._campaign_open = campaign_open
        self._campaign_full = campaign_full
        self._draft_hours = draft_hours
        self._today = today

    async def first_screen(self, locale: str, campaign: str | None) -> list[dict[str, Any]]:
        """What a new session's `start` shows (ref 0), to be put in the page itself: the
        cadre reads and taps the welcome while the page sets up the session."""
        refs = RefCounter(0)
        with use_locale(locale):
            if campaign is not None and not await self._campaign_open(campaign):
                return [self._show(screens.notice(campaign_closed_text()), refs)]
            nobody = Cadre(
                key=ConversationKey("web-page:" + secrets.token_hex(16)),
                locale=locale,
                state=MemoryState(),
                daily_pseudonym=_no_daily_pseudonym,
                channel=Channel.WEB,
            )
            effects = await self.conversation.handle(Start(0), nobody)
        ops = [op_of(effect, event_ref=0, refs=refs) for effect in effects]
        return [op for op in ops if op is not None]

    def _key(self, token: str | None) -> StorageKey:
        if token is None or not self.sessions.valid_token(token):
            raise WebError(401, "session_unknown")
        return self.sessions.storage_key(token)

    async def last_seq(self, token: str | None) -> int:
        key = self._key(token)
        state = await self.sessions.open(key)
        if state is None:
            raise WebError(401, "session_unknown")
        return state.record.seq

    async def act(self, token: str | None, payload: object) -> dict[str, Any]:
        key = self._key(token)
        seq, event = parse_action(payload)
        conversation_key = self.sessions.conversation_key(key)
        async with self.sessions.lock(conversation_key):
            state = await self.sessions.open(key)
            if state is None:
                raise WebError(401, "session_unknown")
            last = state.record.seq
            if seq == last:
                kept = self.sessions.replay(conversation_key, seq)
                if kept is None:
                    raise WebError(409, "replay_expired", expected=last + 1)
                return kept.body
            if seq != last + 1:
                raise WebError(409, "out_of_order", expected=last + 1)
            wait = self.rate.retry_after(conversation_key)
            if wait > 0:
                raise WebError(429, "rate_limited", retry_after=max(1, round(wait)))
            cadre = self.sessions.cadre(key, state)
            refs = RefCounter(state.record.next_ref)
            with use_locale(state.record.locale):
                ops, event_ref = await self._run(event, cadre, state, refs)
            state.record.seq = seq
            state.record.next_ref = refs.next_ref
            await self.sessions.write(key, state)
            body = {"seq": seq, "ref": event_ref, "ops": ops}
            self.sessions.remember(conversation_key, seq, body)
            return body

    async def _run(
        self, event: PageEvent, cadre: Cadre, state: SessionState, refs: RefCounter
    ) -> tuple[list[dict[str, Any]], MessageRef | None]:
        match event.kind:
            case "press":
                assert event.action is not None
                if event.action.act == Act.SUBMIT and await self._campaign_full():
                    toast = {"op": "toast", "text": campaign_full_text(), "alert": True}
                    return [toast], event.ref
                return await self._core(Press(event.action, event.ref), event.ref, cadre, refs), (
                    event.ref
                )
            case "locale":
                state.record.locale = event.text
                return [], None
            case "later":
                return await self._later(state, refs), None
        ref = refs.take()
        match event.kind:
            case "start":
                campaign = state.record.campaign
                if campaign is not None and not await self._campaign_open(campaign):
                    return [self._show(screens.notice(campaign_closed_text()), refs)], ref
                core_event: Event = Start(ref)
            case "text":
                core_event = Text(event.text, ref)
            case "cancel":
                core_event = Command("cancel", "", ref)
            case "followup":
                core_event = Command("followup", event.text, ref)
            case _:  # resume
                resumed = await self._resume(event.text, state, ref, refs)
                if resumed is not None:
                    return resumed, ref
                core_event = Start(ref)
        return await self._core(core_event, ref, cadre, refs), ref

    async def _core(
        self, event: Event, event_ref: MessageRef, cadre: Cadre, refs: RefCounter
    ) -> list[dict[str, Any]]:
        effects = await self.conversation.handle(event, cadre)
        ops: list[dict[str, Any]] = []
        for effect in effects:
            op = op_of(effect, event_ref=event_ref, refs=refs)
            if op is None:
                continue
            ops.append(op)
            if isinstance(effect, Show) and effect.current:
                await self.conversation.screen_shown(cadre, op["ref"])
        return ops

    @staticmethod
    def _show(screen: Screen, refs: RefCounter) -> dict[str, Any]:
        return {"op": "show", "ref": refs.take(), "screen": screen_json(screen), "current": False}

    async def _later(self, state: SessionState, refs: RefCounter) -> list[dict[str, Any]]:
        """Move the draft aside under a new resume code, shown once."""
        core = state.core
        if not core.get(DRAFT_KEY) or core.get(PREVIEW_KEY) is True:
            return [{"op": "toast", "text": nothing_to_save_text(), "alert": False}]
        code = new_resume_code()
        aside = {k: v for k, v in core.items() if k not in (MESSAGE_KEY, TYPED_KEY)}
        await self.sessions.put_aside(code.replace("-", ""), aside)
        current = core.get(MESSAGE_KEY)
        await state.clear()
        ops: list[dict[str, Any]] = []
        if isinstance(current, int):
            ops.append({"op": "retire", "ref": current})
        text = saved_for_later_text(code, self._draft_hours)
        ops.append(self._show(screens.notice(text), refs))
        return ops

    async def _resume(
        self, code: str, state: SessionState, ref: MessageRef, refs: RefCounter
    ) -> list[dict[str, Any]] | None:
        """Bring a draft kept under `code` into this session; None: it is in, greet it."""
        if state.core.get(DRAFT_KEY):
            return [self._show(screens.notice(draft_open_text()), refs)]
        taken = await self.sessions.take_back(code)
        if taken is None:
            return [self._show(screens.notice(wrong_resume_code_text()), refs)]
        await state.save({**taken, FIRST_KEY: ref})
        return None
