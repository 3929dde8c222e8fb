"""Where an open follow-up lives while the cadre reads or answers: never in the database.

A follow-up session ties the cadre's pseudonym (the one the FSM storage keys drafts by) to a
report, through the receipt hash. Stored in SQL that tie would outlive the conversation in
rows, dead tuples and WAL, so it lives here instead: in this process's memory, or with
`FSM_STORAGE=redis` in Redis (value encrypted and bound to its own key, TTL = the idle
timeout). Either way it goes when the cadre ends or cancels, after `IDLE_TIMEOUT` without a
step, and when the bot restarts: the memory store dies with the process, and every Redis key
carries a per-boot epoch, so a new process finds nothing of the old one's sessions and deletes
them at start-up. The cadre then types the code again.

The whole follow-up state is kept here (its step too), so nothing in the FSM storage says
that a pseudonym has a follow-up open. Sessions are keyed by the conversation key (for
Telegram that same pseudonym; an aiogram `StorageKey` is pseudonymised here first).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from aiogram.fsm.storage.base import StorageKey
from redis.asyncio import Redis

from bot.anonymity.crypto import DecryptionError, TextCipher
from bot.anonymity.pseudonym import Pseudonymizer
from bot.clock import WallClock, utc_now
from bot.conversation.ports import FollowupSession, Step
from storage.fsm import storage_key_pseudonym

IDLE_TIMEOUT = timedelta(minutes=10)
REDIS_PREFIX = "qingfeng:followup"

SessionKey = str | StorageKey
"""A conversation key (already a pseudonym), or an aiogram `StorageKey` to pseudonymise."""


def _owner(pseudonymizer: Pseudonymizer, key: SessionKey) -> str:
    return key if isinstance(key, str) else storage_key_pseudonym(pseudonymizer, key)


class FollowupSessions(Protocol):
    """The session store the follow-up handlers are given."""

    idle_timeout: timedelta

    async def get(self, key: SessionKey) -> FollowupSession | None: ...

    async def put(self, key: SessionKey, session: FollowupSession) -> None: ...

    async def drop(self, key: SessionKey) -> None: ...

    async def sweep(self) -> int: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class MemorySessions:
    """Sessions in this process's memory: gone on restart by construction.

    Expiry is checked against `clock` (injectable), and every access sweeps out the sessions
    that have been idle too long, so an abandoned one does not wait for its owner to return.
    """

    def __init__(
        self,
        pseudonymizer: Pseudonymizer,
        *,
        idle_timeout: timedelta = IDLE_TIMEOUT,
        clock: WallClock = utc_now,
    ) -> None:
        if not timedelta(0) < idle_timeout <= IDLE_TIMEOUT:
            raise ValueError(f"idle_timeout must be positive and at most {IDLE_TIMEOUT}")
        self._pseudonymizer = pseudonymizer
        self.idle_timeout = idle_timeout
        self._clock = clock
        self._sessions: dict[str, tuple[FollowupSession, datetime]] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def _owner(self, key: SessionKey) -> str:
        return _owner(self._pseudonymizer, key)

    async def sweep(self) -> int:
        return self._sweep()

    def _sweep(self) -> int:
        """Forget every session idle for longer than the timeout; returns how many went."""
        now = self._clock()
        stale = [owner for owner, (_, until) in self._sessions.items() if until <= now]
        for owner in stale:
            del self._sessions[owner]
        return len(stale)

    async def get(self, key: SessionKey) -> FollowupSession | None:
        self._sweep()
        found = self._sessions.get(self._owner(key))
        return None if found is None else found[0]

    async def put(self, key: SessionKey, session: FollowupSession) -> None:
        self._sweep()
        self._sessions[self._owner(key)] = (session, self._clock() + self.idle_timeout)

    async def drop(self, key: SessionKey) -> None:
        self._sessions.pop(self._owner(key), None)
        self._sweep()

    async def start(self) -> None:
        """Nothing survives from an earlier process: there is nothing to clean."""

    async def close(self) -> None:
        self._sessions.clear()


class RedisSessions:
    """Sessions in Redis (`FSM_STORAGE=redis`), encrypted, with an idle TTL.

    Key ``qingfeng:followup:<epoch>:<pseudonym>``; `epoch` is random per process, so after a
    restart the old keys are neither found nor kept: `start` deletes every key of another
    epoch, `close` deletes this process's own. (One bot process per Redis database, as with
    long polling.) The value is bound to its key as encryption context, and also holds its
    own deadline, so the idle timeout holds by `clock` even before Redis expires the key.
    """

    def __init__(
        self,
        redis: Redis,
        pseudonymizer: Pseudonymizer,
        cipher: TextCipher,
        *,
        idle_timeout: timedelta = IDLE_TIMEOUT,
        clock: WallClock = utc_now,
        prefix: str = REDIS_PREFIX,
        epoch: str | None = None,
    ) -> None:
        if not timedelta(0) < idle_timeout <= IDLE_TIMEOUT:
            raise ValueError(f"idle_timeout must be positive and at most {IDLE_TIMEOUT}")
        self._redis = redis
        self._pseudonymizer = pseudonymizer
        self._cipher = cipher
        self.idle_timeout = idle_timeout
        self._clock = clock
        self._prefix = prefix
        self.epoch = epoch or secrets.token_hex(8)

    @classmethod
    def from_url(
        cls, url: str, pseudonymizer: Pseudonymizer, cipher: TextCipher, **kwargs: Any
    ) -> RedisSessions:
        return cls(Redis.from_url(url), pseudonymizer, cipher, **kwargs)

    def redis_key(self, key: SessionKey) -> str:
        return f"{self._prefix}:{self.epoch}:{_owner(self._pseudonymizer, key)}"

    async def get(self, key: SessionKey) -> FollowupSession | None:
        name = self.redis_key(key)
        raw = await self._redis.get(name)
        if raw is None:
            return None
        session = self._read(name, raw)
        if session is None:
            await self._redis.delete(name)
        return session

    async def put(self, key: SessionKey, session: FollowupSession) -> None:
        name = self.redis_key(key)
        until = self._clock() + self.idle_timeout
        payload = json.dumps({"session": session.to_json(), "until": until.isoformat()})
        blob = self._cipher.encrypt(payload, context=name)
        await self._redis.set(name, blob, ex=int(self.idle_timeout.total_seconds()))

    async def drop(self, key: SessionKey) -> None:
        await self._redis.delete(self.redis_key(key))

    async def sweep(self) -> int:
        """Delete this process's sessions that are idle by `clock`, before Redis's own TTL."""
        gone = 0
        async for name in self._redis.scan_iter(match=f"{self._prefix}:{self.epoch}:*", count=500):
            text = name.decode() if isinstance(name, bytes) else str(name)
            raw = await self._redis.get(text)
            if raw is None:
                continue
            if self._read(text, raw) is None:
                gone += int(await self._redis.delete(text))
        return gone

    def _read(self, name: str, raw: bytes | str) -> FollowupSession | None:
        """The session in a stored value; None if unreadable or idle too long."""
        blob = raw.encode("latin-1") if isinstance(raw, str) else bytes(raw)
        try:
            payload = json.loads(self._cipher.decrypt(blob, context=name))
            until = datetime.fromisoformat(str(payload["until"]))
            session = FollowupSession.from_json(str(payload["session"]))
        except (DecryptionError, ValueError, KeyError, TypeError):
            return None
        return None if until <= self._clock() else session

    async def _delete_matching(self, keep: Callable[[str], bool]) -> int:
        gone = 0
        async for name in self._redis.scan_iter(match=f"{self._prefix}:*", count=500):
            text = name.decode() if isinstance(name, bytes) else str(name)
            if not keep(text):
                gone += int(await self._redis.delete(text))
        return gone

    async def start(self) -> None:
        """Delete the sessions of earlier processes: a restart ends every follow-up."""
        mine = f"{self._prefix}:{self.epoch}:"
        await self._delete_matching(lambda name: name.startswith(mine))

    async def close(self) -> None:
        """Delete this process's sessions, then let the connection go."""
        mine = f"{self._prefix}:{self.epoch}:"
        try:
            await self._delete_matching(lambda name: not name.startswith(mine))
        finally:
            await self._redis.aclose()


__all__ = [
    "IDLE_TIMEOUT",
    "FollowupSession",
    "FollowupSessions",
    "MemorySessions",
    "RedisSessions",
    "Step",
]
