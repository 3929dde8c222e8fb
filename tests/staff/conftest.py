"""Fixtures for staff tests: a migrated database on each dialect and a hand-moved clock."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.harness.emulator import EmulatedUser, Limits
from bot.harness.offline import OfflineBot
from bot.staff import InviteService, StaffRoles
from storage.database import Database
from storage.repositories import InviteRepository, StaffRepository

CONFIGURED_ADMIN = 900_001
INVITE_CODE = re.compile(r"\b[0-9A-Z]{4}(?:-[0-9A-Z]{4}){3}\b")


async def join_as_investigator(
    offline: OfflineBot, user_id: int, *, wait: float = 10.0
) -> EmulatedUser:
    """A new user who joins through a one-time code from the configured admin."""
    admin = offline.new_user(user_id=CONFIGURED_ADMIN)
    sent = await admin.send_command("/invite")
    invite = await admin.wait_for_message(after=sent, timeout=wait)
    match = INVITE_CODE.search(invite.text or "")
    assert match
    user = offline.new_user(user_id=user_id)
    sent = await user.send_command("/join", match.group(0))
    await user.wait_for_message(after=sent, timeout=wait)
    return user


class ManualClock:
    """Aware UTC time that moves only when a test moves it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 28, 10, 0, tzinfo=UTC))


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    db = await Database.connect(db_url)
    try:
        await db.upgrade()
        yield db
    finally:
        await db.dispose()


@pytest.fixture
def staff_repository(database: Database) -> StaffRepository:
    return StaffRepository(database)


@pytest.fixture
def roles(staff_repository: StaffRepository) -> StaffRoles:
    return StaffRoles(staff_repository, [CONFIGURED_ADMIN])


@pytest.fixture
def invites(
    database: Database, staff_repository: StaffRepository, roles: StaffRoles, clock: ManualClock
) -> InviteService:
    return InviteService(InviteRepository(database), staff_repository, roles, clock=clock)


@pytest.fixture
async def offline(tmp_path: Path, manual_digests: None) -> AsyncIterator[OfflineBot]:
    """The real bot against the emulator, with CONFIGURED_ADMIN in ADMIN_IDS."""
    running = await OfflineBot.start(
        tmp_path / "data", limits=Limits.unlimited(), admin_ids=[CONFIGURED_ADMIN]
    )
    try:
        yield running
    finally:
        await running.close()
