"""The broadcast sender: Telegram's rate ceiling, one pause for everyone on 429, and
at-most-once delivery that survives a crash.

Delivery state is committed on **both sides of the send**:

1. before: a small window of rows (about 0.2 s of sending) is marked `sending` and committed;
2. the requests go out, evenly spaced by `Pacer`;
3. after: the outcomes (`sent`, `blocked`, `failed`, or `pending` again for a retry) are
   committed in one transaction per window.

A crash between 1 and 3 leaves rows `sending`. The next sender turns them into `unknown` and
never sends them again: a recipient may miss the message (and the report says how many are
unknown) but nobody ever gets it twice. We chose at-most-once because a duplicate official
message to thousands of cadres is visible and embarrassing, while an `unknown` count is
reported and small (at most one window plus the requests in flight). For the same reason a
request whose connection broke *after* it was sent (no response, timeout) is not retried: it
is `unknown`. Connection failures before sending and 5xx answers are retried with backoff.

On 429 every send waits: `Pacer.pause(retry_after)` holds all slots, and rows claimed but not
yet sent are handed back (`pending`) at once, so a crash during the pause loses nothing.

The sender calls the Bot API through a `Bot` **without** the app's `RetryMiddleware` (see
`bot.broadcast.runtime.create_sender_bot`): the middleware would sleep inside one request on
429 while the other requests kept going, and would retry ambiguous network errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, timedelta

from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)

from bot.clock import Monotonic, WallClock, utc_now
from bot.statuses import BroadcastStatus, RecipientStatus
from storage.repositories.broadcasts import (
    RELEASE,
    BroadcastContent,
    BroadcastRepository,
    ClaimedRecipient,
    Outcome,
)

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

# aiogram wraps aiohttp errors as "<ClassName>: ..."; these mean the request never left.
_NOT_SENT_ERRORS = ("ClientConnectorError", "ClientConnectorDNSError", "ClientProxyConnectionError")


class Pacer:
    """Send slots evenly spaced at `rate` per second; `pause` holds every slot.

    Slots are not saved up while the sender is idle, beyond a small slack (a few slots) that
    lets it catch up after a database round trip (at most 10 slots: Telegram tolerates bursts
    of about 30) without running ahead of the configured rate over any longer span.
    """

    def __init__(
        self, rate: float, *, clock: Monotonic = time.monotonic, sleep: Sleep | None = None
    ):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self._slack = min(0.5, 10 * self.interval)
        self._clock = clock
        self._sleep = sleep or asyncio.sleep
        self._next = clock()
        self._paused_until = 0.0
        self.pauses = 0  # how many 429 pauses so far (a generation counter)

    @property
    def paused_until(self) -> float:
        return self._paused_until

    def pause(self, seconds: float) -> None:
        """Hold every slot for `seconds` from now (429 `retry_after`)."""
        until = self._clock() + seconds
        if until > self._paused_until:
            self._paused_until = until
        self._next = max(self._next, self._paused_until)
        self.pauses += 1

    async def wait_unpaused(self) -> None:
        while (left := self._paused_until - self._clock()) > 0:
            await self._sleep(left)

    async def slot(self, generation: int | None = None) -> bool:
        """Wait for the next slot; False (at once) if a pause began since `generation`."""
        if generation is None:
            generation = self.pauses
        while True:
            if self.pauses != generation:
                return False
            now = self._clock()
            if self._paused_until > now:
                await self.wait_unpaused()
                continue
            start = max(self._next, now - self._slack)
            self._next = start + self.interval
            if start > now:
                await self._sleep(start - now)
            if self.pauses != generation:
                return False
            if self._paused_until <= self._clock():
                return True


@dataclass
class SenderReport:
    """What one run of the sender did (the job's totals come from the database)."""

    counts: dict[str, int]
    sent_this_run: int = 0
    recovered_unknown: int = 0
    pauses: int = 0
    elapsed: float = 0.0
    first_send: float | None = None
    last_send: float | None = None
    finished: bool = False  # every recipient has a final status

    @property
    def effective_rate(self) -> float:
        """Messages per second between the first and the last successful send of this run."""
        if self.first_send is None or self.last_send is None or self.sent_this_run < 2:
            return 0.0
        span = self.last_send - self.first_send
        return (self.sent_this_run - 1) / span if span > 0 else 0.0


@dataclass
class Progress:
    counts: dict[str, int]
    total: int
    rate: float  # messages per second over this run
    paused_for: float  # seconds left of a 429 pause

    @property
    def remaining(self) -> int:
        return self.counts.get(RecipientStatus.PENDING, 0) + self.counts.get(
            RecipientStatus.SENDING, 0
        )

    @property
    def eta(self) -> float | None:
        return self.remaining / self.rate if self.rate > 0 else None


ProgressCallback = Callable[[Progress], Awaitable[None]]


@dataclass
class _RunState:
    results: list[Outcome] = field(default_factory=list)
    inflight: set[asyncio.Task[None]] = field(default_factory=set)
    sent: int = 0
    first_send: float | None = None
    last_send: float | None = None


class BroadcastSender:
    """Delivers one broadcast job; `run()` resumes wherever the job's rows say it stopped."""

    def __init__(
        self,
        repository: BroadcastRepository,
        bot: Bot,
        broadcast_id: str,
        content: BroadcastContent,
        *,
        rate: float,
        paid: bool = False,
        window: float = 0.2,
        max_attempts: int = 5,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        max_in_flight: int | None = None,
        on_progress: ProgressCallback | None = None,
        progress_interval: float = 3.0,
        clock: Monotonic = time.monotonic,
        wall_clock: WallClock = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self._repo = repository
        self._bot = bot
        self.broadcast_id = broadcast_id
        self._content = content
        self.rate = rate
        self._paid = paid
        self._window = window
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._in_flight = asyncio.Semaphore(max_in_flight or min(100, max(8, math.ceil(rate / 4))))
        self._on_progress = on_progress
        self._progress_interval = progress_interval
        self._clock = clock
        self._wall = wall_clock
        self._rng = rng or random.Random()
        self.pacer = Pacer(rate, clock=clock)
        self._stop = asyncio.Event()
        self._state = _RunState()
        self._progress_task: asyncio.Task[None] | None = None

    def stop(self) -> None:
        """Finish the requests in flight, record them, and return (pause or cancel)."""
        self._stop.set()

    # --- one request --------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self._max_delay, self._base_delay * (2 ** max(0, attempt - 1)))
        return self._rng.uniform(ceiling / 2, ceiling)

    def _retry_or_fail(self, recipient: ClaimedRecipient, reason: str) -> Outcome:
        if recipient.attempts >= self._max_attempts:
            return Outcome(recipient.chat_hash, RecipientStatus.FAILED, reason)
        delay = timedelta(seconds=self._backoff(recipient.attempts))
        return Outcome(
            recipient.chat_hash, RecipientStatus.PENDING, reason, retry_at=self._wall() + delay
        )

    async def _request(self, chat_id: int) -> None:
        paid = True if self._paid else None
        if self._content.photo:
            await self._bot.send_photo(
                chat_id,
                self._content.photo,
                caption=self._content.text,
                allow_paid_broadcast=paid,
            )
        else:
            await self._bot.send_message(chat_id, self._content.text, allow_paid_broadcast=paid)

    async def _deliver(self, recipient: ClaimedRecipient) -> None:
        state = self._state
        try:
            outcome = await self._outcome(recipient)
        finally:
            self._in_flight.release()
        state.results.append(outcome)

    async def _outcome(self, recipient: ClaimedRecipient) -> Outcome:
        state = self._state
        try:
            await self._request(recipient.chat_id)
        except TelegramRetryAfter as exc:
            self.pacer.pause(float(exc.retry_after))
            logger.info(
                "Broadcast: Telegram asked to wait %ss; all sending paused", exc.retry_after
            )
            return Outcome(recipient.chat_hash, RELEASE)
        except TelegramForbiddenError as exc:
            return Outcome(recipient.chat_hash, RecipientStatus.BLOCKED, exc.message)
        except TelegramBadRequest as exc:
            return Outcome(recipient.chat_hash, RecipientStatus.FAILED, exc.message)
        except (TelegramServerError, ClientDecodeError) as exc:
            return self._retry_or_fail(recipient, f"server error: {exc.message}"[:200])
        except TelegramNetworkError as exc:
            if exc.message.startswith(_NOT_SENT_ERRORS):
                return self._retry_or_fail(recipient, "could not connect")
            # The request may have reached Telegram: never risk a second copy.
            return Outcome(
                recipient.chat_hash,
                RecipientStatus.UNKNOWN,
                "no response (may have been delivered)",
            )
        except TelegramAPIError as exc:
            return Outcome(recipient.chat_hash, RecipientStatus.FAILED, exc.message)
        now = self._clock()
        state.sent += 1
        if state.first_send is None:
            state.first_send = now
        state.last_send = now
        return Outcome(recipient.chat_hash, RecipientStatus.SENT)

    # --- the loop -----------------------------------------------------------------------

    async def _flush(self) -> None:
        results, self._state.results = self._state.results, []
        if results:
            await self._repo.record(self.broadcast_id, results)

    async def _progress(self, started: float) -> None:
        if self._on_progress is None:
            return
        counts = await self._repo.counts(self.broadcast_id)
        elapsed = self._clock() - started
        rate = self._state.sent / elapsed if elapsed > 0 else 0.0
        paused = max(0.0, self.pacer.paused_until - self._clock())
        with contextlib.suppress(Exception):  # progress is best effort, never stops a send
            await self._on_progress(Progress(counts, sum(counts.values()), rate, paused))

    def _progress_soon(self, started: float) -> None:
        """Report progress in the background: a slow or rate-limited edit of the admin's
        message never delays a send (one report at a time; a busy one is skipped)."""
        if self._on_progress is None:
            return
        if self._progress_task is not None and not self._progress_task.done():
            return
        self._progress_task = asyncio.create_task(self._progress(started))

    async def _flush_and_claim(self, batch: int) -> list[ClaimedRecipient]:
        await self._flush()
        return await self._repo.claim(self.broadcast_id, batch, now=self._wall())

    async def run(self) -> SenderReport:
        """Send until every recipient has a final status, or `stop()` is called.

        The next window is claimed (and the last one's outcomes recorded) while the current
        window is being sent, so database round trips never stall the pacer.
        """
        started = self._clock()
        state = self._state
        recovered = await self._repo.recover(self.broadcast_id)
        last_progress = started
        finished = False
        batch = max(1, math.ceil(self.rate * self._window))
        prefetch: asyncio.Task[list[ClaimedRecipient]] | None = None
        try:
            while not self._stop.is_set():
                if prefetch is None:
                    await self._flush()
                    await self.pacer.wait_unpaused()
                    if self._stop.is_set():
                        break
                    claimed = await self._repo.claim(self.broadcast_id, batch, now=self._wall())
                else:
                    claimed, prefetch = await prefetch, None
                    if self._stop.is_set() or self.pacer.paused_until > self._clock():
                        self._release(claimed)  # not during a pause: hand them back now
                        await self._flush()
                        continue
                if self._clock() - last_progress >= self._progress_interval:
                    last_progress = self._clock()
                    self._progress_soon(started)
                if not claimed:
                    if state.inflight:
                        await asyncio.wait(
                            state.inflight, timeout=self._window, return_when="FIRST_COMPLETED"
                        )
                        continue
                    if state.results:
                        continue
                    status = await self._repo.status_of(self.broadcast_id)
                    if status != BroadcastStatus.RUNNING:
                        break  # paused or cancelled, perhaps on another instance
                    retry_at = await self._repo.next_due(self.broadcast_id)
                    if retry_at is None:
                        finished = True
                        break
                    wait = (retry_at.replace(tzinfo=UTC) - self._wall()).total_seconds()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self._stop.wait(), timeout=min(max(wait, 0.01), self._window)
                        )
                    continue
                prefetch = asyncio.create_task(self._flush_and_claim(batch))
                await self._send_window(claimed)
            if prefetch is not None:
                self._release(await prefetch)
                prefetch = None
            if state.inflight:
                await asyncio.wait(state.inflight)
            await self._flush()
        except asyncio.CancelledError:
            # A crash (tests cancel the task): stop everything, write nothing more.
            if self._progress_task is not None:
                self._progress_task.cancel()
            if prefetch is not None:
                prefetch.cancel()
            for task in list(state.inflight):
                task.cancel()
            raise
        if finished:
            await self._repo.set_status(
                self.broadcast_id, BroadcastStatus.DONE, only_from=(BroadcastStatus.RUNNING,)
            )
        if self._progress_task is not None:
            with contextlib.suppress(Exception):
                await self._progress_task
        counts = await self._repo.counts(self.broadcast_id)
        if finished:
            await self._progress(started)
        return SenderReport(
            counts=counts,
            sent_this_run=state.sent,
            recovered_unknown=recovered,
            pauses=self.pacer.pauses,
            elapsed=self._clock() - started,
            first_send=state.first_send,
            last_send=state.last_send,
            finished=finished,
        )

    async def _send_window(self, claimed: list[ClaimedRecipient]) -> None:
        state = self._state
        generation = self.pacer.pauses
        for index, recipient in enumerate(claimed):
            await self._in_flight.acquire()
            if self._stop.is_set() or not await self.pacer.slot(generation):
                self._in_flight.release()
                self._release(claimed[index:])
                await self._flush()  # hand them back now: a crash during the pause loses none
                return
            task = asyncio.create_task(self._deliver(recipient))
            state.inflight.add(task)
            task.add_done_callback(state.inflight.discard)

    def _release(self, recipients: list[ClaimedRecipient]) -> None:
        self._state.results.extend(Outcome(r.chat_hash, "release") for r in recipients)
