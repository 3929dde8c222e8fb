"""Fixtures for outbox tests: a migrated database per dialect, keys, a hand-moved clock, and
small stand-ins for a built digest and for a channel."""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from bot.anonymity.crypto import TextCipher
from bot.anonymity.pseudonym import Pseudonymizer
from bot.config import WebhookTarget
from bot.delivery.outbox import (
    DeliverableDigest,
    Destination,
    DestinationDirectory,
    ProgressCallback,
)
from bot.delivery.sender import DeliveryResult
from bot.delivery.webhooks import DigestMessage
from bot.staff import StaffRoles
from storage.database import Database
from storage.repositories import DigestGroupRepository, StaffRepository

ADMIN = 910_001


class ManualClock:
    """Aware UTC time that moves only when a test moves it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta | float) -> None:
        self.now += delta if isinstance(delta, timedelta) else timedelta(seconds=delta)


@dataclass(frozen=True)
class FakeDigest:
    """Satisfies `DeliverableDigest`; the real one comes from `bot.digest.build`."""

    period_key: str
    title: str
    telegram_parts: list[str]
    message: DigestMessage


def fake_digest(period_key: str = "daily:2026-11-27", lines: int = 3) -> FakeDigest:
    body = "\n".join(f"第{i}行 内容" for i in range(lines))
    return FakeDigest(
        period_key=period_key,
        title=f"清风日报 {period_key}",
        telegram_parts=[f"<b>清风日报</b>\n{body}"],
        message=DigestMessage(title=f"清风日报 {period_key}", markdown=body, plain=body),
    )


@dataclass
class RecordingChannel:
    """Records (period, destination) per delivery; optionally yields to let others interleave."""

    rng: random.Random = field(default_factory=lambda: random.Random(3))
    deliveries: list[tuple[str, str]] = field(default_factory=list)
    first_parts: list[int] = field(default_factory=list)
    seen: list[tuple[str, ...]] = field(default_factory=list)  # Telegram parts, every attempt
    script: list[DeliveryResult] = field(default_factory=list)  # consumed before succeeding
    parts: int = 1
    delivered: asyncio.Event = field(default_factory=asyncio.Event)  # set on each success

    async def deliver(
        self,
        destination: Destination,
        digest: DeliverableDigest,
        *,
        message_id: str,
        first_part: int,
        on_progress: ProgressCallback,
    ) -> DeliveryResult:
        for _ in range(self.rng.randint(0, 3)):
            await asyncio.sleep(0)
        self.first_parts.append(first_part)
        self.seen.append(tuple(digest.telegram_parts))
        if self.script:
            return self.script.pop(0)
        self.deliveries.append((digest.period_key, destination.ref))
        self.delivered.set()
        for done in range(first_part + 1, self.parts + 1):
            await on_progress(done)
        return DeliveryResult(
            ok=True,
            retryable=False,
            detail="ok",
            delivered_parts=self.parts,
            total_parts=self.parts,
        )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 28, 1, 0, tzinfo=UTC))


@pytest.fixture
def pseudonymizer() -> Pseudonymizer:
    return Pseudonymizer(secrets.token_bytes(32))


@pytest.fixture
def cipher() -> TextCipher:
    return TextCipher(secrets.token_bytes(32))


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    db = await Database.connect(db_url)
    try:
        await db.upgrade()
        yield db
    finally:
        await db.dispose()


def directory_for(
    db: Database, pseudonymizer: Pseudonymizer, webhooks: Sequence[WebhookTarget] = ()
) -> DestinationDirectory:
    """The real directory over `db`: staff private chats (ADMIN configured), groups, webhooks."""
    roles = StaffRoles(StaffRepository(db), [ADMIN])
    return DestinationDirectory(roles, DigestGroupRepository(db), webhooks, pseudonymizer)
