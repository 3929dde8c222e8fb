"""Invite codes: admins only, single use, 24 hours, stored only as a hash; revocation rules."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.staff import (
    InviteService,
    JoinResult,
    NotAllowed,
    RevokeResult,
    StaffRoles,
    hash_invite_code,
    normalise_invite_code,
)
from bot.statuses import Role
from storage.database import Database
from storage.repositories import StaffRepository
from storage.tables import staff_invites

from .conftest import CONFIGURED_ADMIN, ManualClock

NEWCOMER = 700_001
OTHER = 700_002


async def test_an_admin_invites_and_the_code_makes_an_investigator(
    invites: InviteService, roles: StaffRoles
) -> None:
    invite = await invites.create(CONFIGURED_ADMIN)
    assert await roles.role_of(NEWCOMER) is None
    assert await invites.redeem(invite.code, NEWCOMER) is JoinResult.JOINED
    assert await roles.role_of(NEWCOMER) == "investigator"


async def test_a_code_works_only_once(invites: InviteService, roles: StaffRoles) -> None:
    invite = await invites.create(CONFIGURED_ADMIN)
    assert await invites.redeem(invite.code, NEWCOMER) is JoinResult.JOINED
    assert await invites.redeem(invite.code, OTHER) is JoinResult.INVALID
    assert await roles.role_of(OTHER) is None


async def test_a_code_expires_after_24_hours(
    invites: InviteService, roles: StaffRoles, clock: ManualClock
) -> None:
    early = await invites.create(CONFIGURED_ADMIN)
    late = await invites.create(CONFIGURED_ADMIN)
    assert early.expires_at == clock.now + timedelta(hours=24)
    clock.advance(timedelta(hours=24) - timedelta(seconds=1))
    assert await invites.redeem(early.code, NEWCOMER) is JoinResult.JOINED
    clock.advance(timedelta(seconds=1))
    assert await invites.redeem(late.code, OTHER) is JoinResult.INVALID
    assert await roles.role_of(OTHER) is None


async def test_only_admins_create_codes(
    invites: InviteService, staff_repository: StaffRepository, database: Database
) -> None:
    await staff_repository.add(NEWCOMER, Role.INVESTIGATOR)
    with pytest.raises(NotAllowed):
        await invites.create(NEWCOMER)  # an investigator
    with pytest.raises(NotAllowed):
        await invites.create(OTHER)  # a stranger
    async with database.engine.connect() as connection:
        assert (await connection.execute(select(staff_invites))).all() == []
    await staff_repository.add(OTHER, Role.ADMIN)  # an admin by staff row, not ADMIN_IDS
    assert (await invites.create(OTHER)).code


async def test_only_the_hash_is_stored(invites: InviteService, database: Database) -> None:
    invite = await invites.create(CONFIGURED_ADMIN)
    async with database.engine.connect() as connection:
        rows = (await connection.execute(select(staff_invites))).all()
    normalised = invite.code.replace("-", "")
    assert len(rows) == 1
    stored = str(tuple(rows[0]))
    assert normalised not in stored and invite.code not in stored
    assert rows[0].code_hash == hash_invite_code(normalised)
    assert rows[0].code_hash != hashlib.sha256(normalised.encode()).hexdigest()  # prefixed


async def test_codes_are_random_and_readable(invites: InviteService) -> None:
    codes = {(await invites.create(CONFIGURED_ADMIN)).code for _ in range(20)}
    assert len(codes) == 20
    for code in codes:
        groups = code.split("-")
        assert [len(group) for group in groups] == [4, 4, 4, 4]


async def test_typing_variations_are_accepted(invites: InviteService, roles: StaffRoles) -> None:
    invite = await invites.create(CONFIGURED_ADMIN)
    typed = "  " + invite.code.lower().replace("-", " ") + " "
    assert await invites.redeem(typed, NEWCOMER) is JoinResult.JOINED


@pytest.mark.parametrize(
    "text", ["", "abc", "AAAA-BBBB-CCCC-DDDU", "AAAA-BBBB-CCCC-DDDD-E", "片片"]
)
def test_malformed_codes_are_refused_without_a_lookup(text: str) -> None:
    assert normalise_invite_code(text) is None


def test_confusable_letters_read_as_digits() -> None:
    assert normalise_invite_code("oOiI-lL00-1111-2222") == "0011110011112222"


async def test_joining_never_demotes_an_admin_and_leaves_the_code(
    invites: InviteService, staff_repository: StaffRepository, roles: StaffRoles
) -> None:
    await staff_repository.add(OTHER, Role.ADMIN)
    invite = await invites.create(CONFIGURED_ADMIN)
    assert await invites.redeem(invite.code, OTHER) is JoinResult.ALREADY_STAFF
    assert await invites.redeem(invite.code, CONFIGURED_ADMIN) is JoinResult.ALREADY_STAFF
    assert await roles.role_of(OTHER) == "admin"
    assert await invites.redeem(invite.code, NEWCOMER) is JoinResult.JOINED


async def test_two_people_racing_for_one_code_one_wins(
    invites: InviteService, roles: StaffRoles
) -> None:
    invite = await invites.create(CONFIGURED_ADMIN)
    contenders = list(range(800_000, 800_008))
    results = await asyncio.gather(*(invites.redeem(invite.code, uid) for uid in contenders))
    assert results.count(JoinResult.JOINED) == 1
    assert results.count(JoinResult.INVALID) == len(contenders) - 1
    staff = [uid for uid in contenders if await roles.role_of(uid) is not None]
    assert len(staff) == 1


async def test_revoking_needs_an_admin_every_time(
    roles: StaffRoles, staff_repository: StaffRepository
) -> None:
    await staff_repository.add(NEWCOMER, Role.INVESTIGATOR)
    await staff_repository.add(OTHER, Role.INVESTIGATOR)
    assert await roles.revoke(OTHER, NEWCOMER) is RevokeResult.NOT_ADMIN
    assert await roles.revoke(999, NEWCOMER) is RevokeResult.NOT_ADMIN
    assert await roles.role_of(NEWCOMER) == "investigator"
    assert await roles.revoke(CONFIGURED_ADMIN, NEWCOMER) is RevokeResult.REVOKED
    assert await roles.role_of(NEWCOMER) is None
    assert await roles.revoke(CONFIGURED_ADMIN, NEWCOMER) is RevokeResult.NOT_STAFF


async def test_admins_cannot_remove_themselves_or_configured_admins(
    roles: StaffRoles, staff_repository: StaffRepository
) -> None:
    await staff_repository.add(OTHER, Role.ADMIN)
    assert await roles.revoke(OTHER, OTHER) is RevokeResult.SELF
    assert await roles.revoke(OTHER, CONFIGURED_ADMIN) is RevokeResult.CONFIGURED
    assert await roles.is_admin(OTHER) and await roles.is_admin(CONFIGURED_ADMIN)
    # A revoked admin loses the power at once.
    assert await roles.revoke(CONFIGURED_ADMIN, OTHER) is RevokeResult.REVOKED
    assert await roles.revoke(OTHER, CONFIGURED_ADMIN) is RevokeResult.NOT_ADMIN


async def test_members_lists_configured_admins_first(
    roles: StaffRoles, staff_repository: StaffRepository
) -> None:
    await staff_repository.add(NEWCOMER, Role.INVESTIGATOR)
    await staff_repository.add(OTHER, Role.ADMIN)
    members = await roles.members()
    assert [(m.user_id, m.role, m.configured) for m in members] == [
        (OTHER, "admin", False),
        (CONFIGURED_ADMIN, "admin", True),
        (NEWCOMER, "investigator", False),
    ]
    assert await roles.admin_ids() == [OTHER, CONFIGURED_ADMIN]
