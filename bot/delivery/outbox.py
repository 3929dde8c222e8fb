"""The delivery worker: every (period, destination) in the outbox delivered exactly once.

How "exactly once" holds across restarts and several bot processes:

* A worker takes a row by a conditional UPDATE (`OutboxRepository.claim`) that sets a lease
  (a random token and an expiry); only the worker whose UPDATE changed the row sends. Every
  later change to the row requires the same token.
* After each Telegram message the worker records how many went out and extends the lease. If
  a worker dies mid-delivery, the lease runs out and another worker resumes at the recorded
  part. **The one gap:** a crash after a message went out but before it was recorded sends
  that one message again. Generic webhooks carry a `webhook-id` that stays the same on every
  retry of a digest to a destination, so receivers can drop such a duplicate.
* The digest itself is stored when first built (`DigestRepository`), so a retry, or another
  process, sends the very same content.

Failures that may pass (HTTP 429/5xx, network, Telegram flood control) are retried with
exponential backoff and full jitter, never sooner than the service's own `retry_after`.
After the last attempt — or at once, for failures that will not pass — the row is marked
failed and the admins are told.

The outbox stores destinations only as HMAC references; the worker resolves them against
the destinations registered *now*, so a revoked investigator or removed group gets nothing
that was still queued (the row is cancelled).
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final, Literal, Protocol

from bot.anonymity.pseudonym import Pseudonymizer
from bot.clock import WallClock, utc_now
from bot.config import WebhookTarget
from bot.delivery.backoff import backoff_delay
from bot.delivery.sender import DeliveryResult, WebhookSender
from bot.delivery.webhooks import DigestMessage, destination_label
from bot.staff.roles import StaffRoles
from bot.statuses import OutboxChannel
from storage.repositories import DigestGroupRepository, OutboxEntry, OutboxItem, OutboxRepository

logger = logging.getLogger(__name__)

DestinationKind = Literal["staff", "group", "webhook"]

DEFAULT_MAX_ATTEMPTS: Final = 8
DEFAULT_BASE_DELAY: Final = 30.0  # seconds; doubles per failure, full jitter
DEFAULT_MAX_DELAY: Final = 3600.0
MIN_RETRY_DELAY: Final = 1.0  # jitter can draw ~0: never retry within the same pass
DEFAULT_LEASE: Final = timedelta(minutes=15)  # renewed after every Telegram message
DEFAULT_CONCURRENCY: Final = 4
_REF_PURPOSE: Final = "digest-destination"


class DeliverableDigest(Protocol):
    """What delivery needs from a built digest (`bot.digest.build.BuiltDigest` fits)."""

    @property
    def period_key(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def telegram_parts(self) -> Sequence[str]: ...

    @property
    def message(self) -> DigestMessage: ...


@dataclass(frozen=True)
class Destination:
    """Somewhere a digest goes. `label` is safe for logs (no id, URL or secret)."""

    ref: str
    kind: DestinationKind
    label: str
    chat_id: int | None = None
    webhook: WebhookTarget | None = field(default=None, repr=False)

    @property
    def channel(self) -> OutboxChannel:
        return OutboxChannel.WEBHOOK if self.kind == "webhook" else OutboxChannel.TELEGRAM


def destination_ref(pseudonymizer: Pseudonymizer, channel: OutboxChannel, identity: object) -> str:
    """The outbox's reference to a destination: an HMAC, so the table holds no chat id/URL."""
    return pseudonymizer.of(_REF_PURPOSE, channel, identity)


class DestinationDirectory:
    """The destinations of the moment: every staff member's private chat (admins included,
    ADMIN_IDS too), the registered groups, and every webhook in DIGEST_WEBHOOKS."""

    def __init__(
        self,
        roles: StaffRoles,
        groups: DigestGroupRepository,
        webhooks: Sequence[WebhookTarget],
        pseudonymizer: Pseudonymizer,
    ) -> None:
        self._roles = roles
        self._groups = groups
        self._webhooks = tuple(webhooks)
        self._pseudonymizer = pseudonymizer

    def _telegram(self, kind: DestinationKind, chat_id: int) -> Destination:
        ref = destination_ref(self._pseudonymizer, OutboxChannel.TELEGRAM, chat_id)
        noun = "staff private chat" if kind == "staff" else "group chat"
        return Destination(ref, kind, f"{noun} #{ref[:8]}", chat_id=chat_id)

    async def current(self) -> dict[str, Destination]:
        """Reference → destination, for everything that should receive a digest now."""
        found: list[Destination] = [
            self._telegram("staff", member.user_id) for member in await self._roles.members()
        ]
        found += [self._telegram("group", chat_id) for chat_id in await self._groups.list()]
        for target in self._webhooks:
            ref = destination_ref(self._pseudonymizer, OutboxChannel.WEBHOOK, target.url)
            found.append(Destination(ref, "webhook", destination_label(target), webhook=target))
        return {destination.ref: destination for destination in found}

    async def outbox_entries(self) -> list[OutboxEntry]:
        return [
            OutboxEntry(destination=ref, channel=destination.channel)
            for ref, destination in sorted((await self.current()).items())
        ]


ProgressCallback = Callable[[int], Awaitable[None]]


class LeaseLost(Exception):
    """Raised from a progress callback: another worker owns the row now, so stop sending
    (carrying on would send the rest of the digest twice)."""


class DigestChannel(Protocol):
    """Sends one digest to one destination, resumable at `first_part`."""

    async def deliver(
        self,
        destination: Destination,
        digest: DeliverableDigest,
        *,
        message_id: str,
        first_part: int,
        on_progress: ProgressCallback,
    ) -> DeliveryResult: ...


class WebhookChannel:
    """Group robots and generic webhooks, through the shared `WebhookSender`."""

    def __init__(self, sender: WebhookSender) -> None:
        self._sender = sender

    async def deliver(
        self,
        destination: Destination,
        digest: DeliverableDigest,
        *,
        message_id: str,
        first_part: int,
        on_progress: ProgressCallback,
    ) -> DeliveryResult:
        if destination.webhook is None:
            raise ValueError("a webhook destination needs its target")
        return await self._sender.send(
            destination.webhook, digest.message, message_id=message_id, first_part=first_part
        )


@dataclass(frozen=True)
class GaveUp:
    """A delivery that will not be tried again; the admins are told about it."""

    period_key: str
    destination: Destination
    attempts: int
    detail: str


GiveUpHandler = Callable[[GaveUp], Awaitable[None]]
DigestLoader = Callable[[str], Awaitable[DeliverableDigest | None]]


@dataclass
class PassReport:
    """What one pass over the outbox did (for logs, the CLI and tests)."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    lost_leases: int = 0


def webhook_message_id(item: OutboxItem) -> str:
    """Stable across retries of this (period, destination): receivers deduplicate on it."""
    return f"qingfeng-{item.period_key.replace(':', '-')}-{item.destination[:16]}"


class OutboxWorker:
    """Delivers due outbox rows. Several workers, in one process or many, may run at once."""

    def __init__(
        self,
        outbox: OutboxRepository,
        directory: DestinationDirectory,
        load_digest: DigestLoader,
        channels: Mapping[str, DigestChannel],
        *,
        on_give_up: GiveUpHandler | None = None,
        clock: WallClock = utc_now,
        rng: random.Random | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        base_delay: float = DEFAULT_BASE_DELAY,
        max_delay: float = DEFAULT_MAX_DELAY,
        lease: timedelta = DEFAULT_LEASE,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        if max_attempts < 1 or concurrency < 1:
            raise ValueError("max_attempts and concurrency must be at least 1")
        self._outbox = outbox
        self._directory = directory
        self._load_digest = load_digest
        self._channels = dict(channels)
        self._on_give_up = on_give_up
        self._clock = clock
        self._rng = rng or random.Random()
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._lease = lease
        self._concurrency = concurrency

    async def run_once(self) -> PassReport:
        """Deliver every row due now; rows rescheduled during the pass wait for a later one."""
        due_by = self._clock()
        destinations = await self._directory.current()
        digests: dict[str, DeliverableDigest | None] = {}
        report = PassReport()

        async def load(period_key: str) -> DeliverableDigest | None:
            if period_key not in digests:
                digests[period_key] = await self._load_digest(period_key)
            return digests[period_key]

        async def drain() -> None:
            token = secrets.token_hex(16)
            while True:
                item = await self._outbox.claim(
                    due_by=due_by, lease_until=self._clock() + self._lease, token=token
                )
                if item is None:
                    return
                await self._deliver(item, destinations, load, report)

        async with asyncio.TaskGroup() as group:
            for _ in range(self._concurrency):
                group.create_task(drain())
        return report

    async def _deliver(
        self,
        item: OutboxItem,
        destinations: Mapping[str, Destination],
        load: DigestLoader,
        report: PassReport,
    ) -> None:
        destination = destinations.get(item.destination)
        if destination is None:
            if await self._outbox.cancel(item, reason="destination no longer registered"):
                report.cancelled += 1
            return
        digest = await load(item.period_key)
        if digest is None:  # the foreign key makes this a bug, not a state
            await self._give_up(item, destination, item.parts_done, "stored digest missing", report)
            return
        parts_done = item.parts_done

        async def progress(done: int) -> None:
            nonlocal parts_done
            parts_done = max(parts_done, done)
            if not await self._outbox.record_progress(
                item, parts_done=parts_done, lease_until=self._clock() + self._lease
            ):
                raise LeaseLost

        channel = self._channels[destination.channel]
        try:
            result = await channel.deliver(
                destination,
                digest,
                message_id=webhook_message_id(item),
                first_part=item.parts_done,
                on_progress=progress,
            )
        except LeaseLost:
            logger.warning("outbox lease lost while delivering to %s", destination.label)
            report.lost_leases += 1
            return
        except Exception as exc:
            # Type only: an exception's text could quote the URL or the digest.
            logger.error("digest delivery to %s raised %s", destination.label, type(exc).__name__)
            result = DeliveryResult(
                ok=False,
                retryable=True,
                detail=f"{destination.label}: unexpected {type(exc).__name__}",
                delivered_parts=parts_done,
            )
        parts_done = max(parts_done, result.delivered_parts)
        if result.ok:
            if await self._outbox.mark_sent(item, parts_done=parts_done):
                report.sent += 1
                logger.info("digest %s delivered to %s", item.period_key, destination.label)
            else:
                report.lost_leases += 1
            return
        if result.retryable and item.attempts < self._max_attempts:
            delay = backoff_delay(
                item.attempts, base=self._base_delay, cap=self._max_delay, rng=self._rng
            )
            delay = max(delay, result.retry_after or 0.0, MIN_RETRY_DELAY)
            if await self._outbox.reschedule(
                item,
                next_attempt_at=self._clock() + timedelta(seconds=delay),
                parts_done=parts_done,
                error=result.detail,
            ):
                report.retrying += 1
                logger.info(
                    "digest %s to %s: attempt %d failed, next in %.0fs",
                    item.period_key,
                    destination.label,
                    item.attempts,
                    delay,
                )
            else:
                report.lost_leases += 1
            return
        await self._give_up(item, destination, parts_done, result.detail, report)

    async def _give_up(
        self,
        item: OutboxItem,
        destination: Destination,
        parts_done: int,
        detail: str,
        report: PassReport,
    ) -> None:
        if not await self._outbox.mark_failed(item, parts_done=parts_done, error=detail):
            report.lost_leases += 1
            return  # someone else owns the row now; they will decide
        report.failed += 1
        logger.warning(
            "digest %s to %s failed for good after %d attempt(s)",
            item.period_key,
            destination.label,
            item.attempts,
        )
        if self._on_give_up is None:
            return
        try:
            await self._on_give_up(GaveUp(item.period_key, destination, item.attempts, detail))
        except Exception as exc:
            logger.error("could not tell the admins about a failed digest: %s", type(exc).__name__)
