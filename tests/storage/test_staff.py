"""Staff: roles by Telegram user id (staff are identified on purpose)."""

from __future__ import annotations

import pytest

from bot.statuses import Role
from storage.database import Database
from storage.repositories import StaffRepository

BIG_ID = 7_123_456_789  # Telegram ids exceed 32 bits


@pytest.fixture
def staff(database: Database) -> StaffRepository:
    return StaffRepository(database)


async def test_add_change_list_remove(staff: StaffRepository) -> None:
    await staff.add(BIG_ID, Role.INVESTIGATOR)
    await staff.add(42, Role.ADMIN)
    assert await staff.role_of(BIG_ID) == "investigator"
    await staff.add(BIG_ID, Role.ADMIN)
    assert await staff.role_of(BIG_ID) == "admin"
    members = await staff.list()
    assert [(m.user_id, m.role) for m in members] == [(42, "admin"), (BIG_ID, "admin")]
    assert all(m.added_day is not None for m in members)
    assert await staff.remove(42)
    assert not await staff.remove(42)
    assert await staff.role_of(42) is None
    assert [m.user_id for m in await staff.list()] == [BIG_ID]


async def test_unknown_roles_are_refused(staff: StaffRepository) -> None:
    with pytest.raises(ValueError, match="role"):
        await staff.add(1, "owner")  # type: ignore[arg-type]  # an untyped caller's value
    assert await staff.list() == []
