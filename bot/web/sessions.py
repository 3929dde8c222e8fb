"""Web sessions without cookies: a random token in the tab, an HMAC of it on the server.

The page keeps a 256-bit token in `sessionStorage` (so another tab is another session) and
sends it in a header. The server never stores the token: the session's record and the
conversation's state live in the bot's FSM storage (pseudonymous, encrypted, expiring, purged
by its job) under a key made from an HMAC of the token, like a Telegram draft. A token whose
record is gone (expired, purged, forged, never issued) opens nothing.

A record holds the session's own bookkeeping (`w`: last sequence number, next message
reference, locale, campaign) beside the core's state (`c`). The core clearing its state on
submit or cancel empties `c` only; the bookkeeping holds no answer and expires like a draft.

A resume code ("continue later") moves the draft to a record keyed by an HMAC of the code,
shown once and stored nowhere else; entering it moves the draft back into a session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
import unicodedata
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from aiogram.fsm.storage.base import BaseStorage, StorageKey

from bot.anonymity.pseudonym import Pseudonymizer
from bot.anonymity.receipt import ALPHABET
from bot.conversation.model import Cadre, Channel, ConversationKey
from storage.fsm import storage_key_pseudonym

logger = logging.getLogger(__name__)

SESSION_PURPOSE = "web-session"
RESUME_PURPOSE = "web-resume"
DAILY_PURPOSE_PREFIX = "web"
TOKEN_BYTES = 32
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
RESUME_CHARS = 16  # 80 bits in Crockford base32, four groups (receipt codes have five)
_RESUME_SEPARATORS = re.compile(r"[\s\-_.\u2010-\u2015\u2212\u30fc]+")

_CONFUSABLE = str.maketrans("OIL", "011")

RECORD = "w"
CORE = "c"


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_resume_code() -> str:
    chars = "".join(ALPHABET[secrets.randbelow(len(ALPHABET))] for _ in range(RESUME_CHARS))
    return "-".join(chars[i : i + 4] for i in range(0, RESUME_CHARS, 4))


def normalize_resume_code(text: str) -> str | None:
    """The canonical form of a typed resume code (forgiving like receipt codes), or None."""
    compact = _RESUME_SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).upper()
    compact = compact.translate(_CONFUSABLE)
    if len(compact) != RESUME_CHARS or any(c not in ALPHABET for c in compact):
        return None
    return compact


@dataclass
class Record:
    """A session's bookkeeping (no answer, no identity)."""

    seq: int
    next_ref: int
    locale: str
    campaign: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "ref": self.next_ref,
            "locale": self.locale,
            "campaign": self.campaign,
        }

    @classmethod
    def from_json(cls, raw: object) -> Record | None:
        if not isinstance(raw, dict):
            return None
        seq, ref, locale = raw.get("seq"), raw.get("ref"), raw.get("locale")
        campaign = raw.get("campaign")
        if not isinstance(seq, int) or not isinstance(ref, int) or not isinstance(locale, str):
            return None
        return cls(
            seq=seq,
            next_ref=ref,
            locale=locale,
            campaign=campaign if isinstance(campaign, str) else None,
        )


def _copied(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of JSON-safe data, as a storage round trip would give (containers copied,
    values shared: they are immutable); several times cheaper than `copy.deepcopy`."""

    def copy_of(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: copy_of(item) for key, item in value.items()}
        if isinstance(value, list):
            return [copy_of(item) for item in value]
        return value

    copied: dict[str, Any] = copy_of(data)
    return copied


class SessionState:
    """The core's `ConversationState` for one request: read once, written once at its end.
    `cleared`: the core deleted its state (submit, cancel), which must reach storage at once."""

    def __init__(self, record: Record, core: dict[str, Any]) -> None:
        self.record = record
        self._core = core
        self.changed = False
        self.cleared = False

    async def load(self) -> dict[str, Any]:
        return _copied(self._core)

    async def save(self, data: dict[str, Any]) -> None:
        self._core = _copied(data)
        self.changed = True

    async def clear(self) -> None:
        self._core = {}
        self.changed = True
        self.cleared = True

    @property
    def core(self) -> dict[str, Any]:
        return self._core

    def stored(self) -> dict[str, Any]:
        return {RECORD: self.record.to_json(), CORE: self._core}


class WriteBehind:
    """Session records reach storage in batches, a moment after each action: one commit for
    many sessions' steps instead of one per step, and no write on the answer's path.

    What is waiting is read back first, so a session always sees its own last step. A
    deletion (the draft gone on submit or cancel) is written at once, after any batch that
    could still carry the older state. A clean stop writes what is waiting; a crash loses at
    most the last `delay` seconds of steps, which the page then asks again (its sequence
    number is ahead of the stored one)."""

    def __init__(self, storage: BaseStorage, *, delay: float = 0.05) -> None:
        self.storage = storage
        self.delay = delay
        self._pending: dict[StorageKey, dict[str, Any]] = {}
        self._flushing: dict[StorageKey, dict[str, Any]] = {}
        self._flush_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # how many batches were written (for tests and the benchmark)

    def peek(self, key: StorageKey) -> dict[str, Any] | None:
        found = self._pending.get(key)
        return found if found is not None else self._flushing.get(key)

    def put(self, key: StorageKey, data: dict[str, Any]) -> None:
        self._pending[key] = data
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="web-session-writes")
        self._wake.set()

    async def write_now(self, key: StorageKey, data: dict[str, Any]) -> None:
        async with self._flush_lock:  # a batch in flight must not land after this
            self._pending.pop(key, None)
            await self.storage.set_data(key, data)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(self.delay)
            try:
                await self.flush()
            except Exception as exc:  # kept for the next batch; the log says only its type
                logger.error("Web session batch not written: %s", type(exc).__name__)
                await asyncio.sleep(1.0)
                self._wake.set()

    async def flush(self) -> None:
        async with self._flush_lock:
            if not self._pending:
                return
            self._flushing, self._pending = self._pending, {}
            try:
                items = list(self._flushing.items())
                set_many = getattr(self.storage, "set_many", None)
                if set_many is not None:
                    await set_many(items)
                else:
                    for key, data in items:
                        await self.storage.set_data(key, data)
                self.batches += 1
            except BaseException:
                for key, data in self._flushing.items():
                    self._pending.setdefault(key, data)  # a newer step stays newer
                raise
            finally:
                self._flushing = {}

    async def close(self) -> None:
        """Write what is waiting, and stop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()


@dataclass
class Replay:
    seq: int
    body: dict[str, Any]
    until: float


class WebSessions:
    """Session records in the FSM storage, one lock per session, and the answers to the
    last action of each session for a retried request (in memory only, for `replay_ttl`)."""

    def __init__(
        self,
        storage: BaseStorage,
        pseudonymizer: Pseudonymizer,
        *,
        replay_ttl: float = 120.0,
        monotonic: Callable[[], float] = time.monotonic,
        replay_size: int = 50_000,
        write_delay: float = 0.05,
    ) -> None:
        self.storage = storage
        self.writes = WriteBehind(storage, delay=write_delay)
        self._pseudonymizer = pseudonymizer
        self._replay_ttl = replay_ttl
        self._monotonic = monotonic
        self._replay_size = replay_size
        self._replays: OrderedDict[ConversationKey, Replay] = OrderedDict()
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    # --- keys -----------------------------------------------------------------------------

    @staticmethod
    def valid_token(token: str | None) -> bool:
        return token is not None and _TOKEN.fullmatch(token) is not None

    def storage_key(self, token: str) -> StorageKey:
        destiny = "web:" + self._pseudonymizer.of(SESSION_PURPOSE, token)
        return StorageKey(bot_id=0, chat_id=0, user_id=0, destiny=destiny)

    def resume_key(self, code: str) -> StorageKey:
        destiny = "web-resume:" + self._pseudonymizer.of(RESUME_PURPOSE, code)
        return StorageKey(bot_id=0, chat_id=0, user_id=0, destiny=destiny)

    def conversation_key(self, key: StorageKey) -> ConversationKey:
        return ConversationKey(storage_key_pseudonym(self._pseudonymizer, key))

    def lock(self, key: ConversationKey) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    def cadre(self, key: StorageKey, state: SessionState) -> Cadre:
        conversation_key = self.conversation_key(key)

        def daily(purpose: str, day: date) -> str:
            return self._pseudonymizer.daily(purpose, day, DAILY_PURPOSE_PREFIX, conversation_key)

        return Cadre(
            key=conversation_key,
            locale=state.record.locale,
            state=state,
            daily_pseudonym=daily,
            channel=Channel.WEB,
        )

    # --- records --------------------------------------------------------------------------

    async def create(self, *, locale: str, campaign: str | None) -> str:
        token = new_token()
        record = Record(seq=0, next_ref=1, locale=locale, campaign=campaign)
        await self.storage.set_data(self.storage_key(token), SessionState(record, {}).stored())
        return token

    async def open(self, key: StorageKey) -> SessionState | None:
        """The session's state, or None when no such session is kept."""
        waiting = self.writes.peek(key)
        data = waiting if waiting is not None else await self.storage.get_data(key)
        record = Record.from_json(data.get(RECORD))
        if record is None:
            return None
        core = data.get(CORE)
        return SessionState(record, core if isinstance(core, dict) else {})

    async def write(self, key: StorageKey, state: SessionState) -> None:
        """At once when the core deleted its state (the draft must go now), else batched."""
        if state.cleared:
            await self.writes.write_now(key, state.stored())
        else:
            self.writes.put(key, state.stored())

    async def close(self) -> None:
        await self.writes.close()

    async def put_aside(self, code: str, core: dict[str, Any]) -> None:
        """Keep a draft under a resume code's key until DRAFT_TTL."""
        aside = Record(seq=0, next_ref=0, locale="", campaign=None)
        await self.storage.set_data(self.resume_key(code), SessionState(aside, core).stored())

    async def take_back(self, code: str) -> dict[str, Any] | None:
        """The draft kept under `code`, which is deleted from there; None when none is."""
        normalized = normalize_resume_code(code)
        if normalized is None:
            return None
        key = self.resume_key(normalized)
        data = await self.storage.get_data(key)
        core = data.get(CORE)
        if not isinstance(core, dict) or not core:
            return None
        await self.storage.set_data(key, {})
        return core

    # --- replays --------------------------------------------------------------------------

    def remember(self, key: ConversationKey, seq: int, body: dict[str, Any]) -> None:
        now = self._monotonic()
        self._replays[key] = Replay(seq, body, now + self._replay_ttl)
        self._replays.move_to_end(key)
        while self._replays and (
            len(self._replays) > self._replay_size or next(iter(self._replays.values())).until < now
        ):
            self._replays.popitem(last=False)

    def replay(self, key: ConversationKey, seq: int) -> Replay | None:
        kept = self._replays.get(key)
        if kept is None or kept.seq != seq or kept.until < self._monotonic():
            return None
        return kept
