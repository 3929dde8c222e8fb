"""A cancelled draft, kept for one minute so that a slip of the thumb on 「放弃」 is forgiven.

Only in this process's memory, keyed by the conversation's opaque key, and never written to
storage: a restart forgets it, which is the promise ("deleted for good in a minute") kept
early rather than late. Every `put` and `take` sweeps out what has run out, and `Sweeper`
does it once in a while too, so a draft nobody comes back for does not wait for the next
cancel to go.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from typing import Any, Final

from bot.clock import Monotonic
from bot.conversation.model import ConversationKey

KEEP_SECONDS: Final = 60.0
SWEEP_SECONDS: Final = 5.0


class CancelledDrafts:
    """What was in a conversation's state when its draft was cancelled, for `keep` seconds
    of the monotonic `clock`. Taken at most once."""

    def __init__(self, *, keep: float = KEEP_SECONDS, clock: Monotonic = time.monotonic) -> None:
        if keep <= 0:
            raise ValueError("keep must be positive")
        self.keep = keep
        self._clock = clock
        self._kept: dict[ConversationKey, tuple[dict[str, Any], float]] = {}

    def __len__(self) -> int:
        return len(self._kept)

    def sweep(self) -> int:
        """Forget everything kept for longer than `keep`; returns how many went."""
        now = self._clock()
        gone = [key for key, (_, until) in self._kept.items() if until <= now]
        for key in gone:
            del self._kept[key]
        return len(gone)

    def put(self, key: ConversationKey, data: dict[str, Any]) -> None:
        """Keep a copy of `data` (a conversation state) for `keep` seconds from now."""
        self.sweep()
        self._kept[key] = (copy.deepcopy(data), self._clock() + self.keep)

    def take(self, key: ConversationKey) -> dict[str, Any] | None:
        """What was kept for `key`, if it has not run out; it is no longer kept."""
        self.sweep()
        found = self._kept.pop(key, None)
        return None if found is None else found[0]

    def holds(self, key: ConversationKey) -> bool:
        """Whether something is still kept for `key` (it stays kept)."""
        self.sweep()
        return key in self._kept

    def clear(self) -> None:
        self._kept.clear()


class Sweeper:
    """The job that sweeps `CancelledDrafts` every `interval` seconds while the feature runs."""

    def __init__(self, drafts: CancelledDrafts, *, interval: float = SWEEP_SECONDS) -> None:
        self.drafts = drafts
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop sweeping and forget what is kept: nothing outlives the process's work."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.drafts.clear()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.drafts.sweep()
