"""One-time invite codes that make someone an investigator.

An admin asks for a code (`/invite`) and passes it on out of band; the new investigator sends
`/join CODE`. A code is 80 random bits written as 16 Crockford base32 characters in groups of
four (`7KQ2-M9XD-…`), valid for 24 hours and usable once. Only a SHA-256 of the normalised code
is stored: with 80 random bits nobody can recover a code from its hash within its lifetime,
so a database leak does not hand out staff access.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.clock import WallClock, utc_now
from bot.staff.roles import StaffRoles
from bot.statuses import Role
from storage.repositories import InviteRepository, StaffRepository

INVITE_TTL: Final = timedelta(hours=24)
CODE_LENGTH: Final = 16  # characters, 5 bits each
GROUP_LENGTH: Final = 4
CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Crockford base32 reads the letters people confuse with digits as those digits.
_READ_AS: Final = str.maketrans({"O": "0", "I": "1", "L": "1"})
_HASH_PREFIX: Final = b"qingfeng-invite-v1:"

RandomBits = Callable[[int], int]


def normalise_invite_code(text: str) -> str | None:
    """The canonical form of a typed code (case, dashes and spaces ignored), or None."""
    cleaned = "".join(text.split()).replace("-", "").upper().translate(_READ_AS)
    if len(cleaned) != CODE_LENGTH or any(char not in CROCKFORD for char in cleaned):
        return None
    return cleaned


def hash_invite_code(normalised: str) -> str:
    return hashlib.sha256(_HASH_PREFIX + normalised.encode("ascii")).hexdigest()


def _format_code(value: int) -> str:
    chars = [CROCKFORD[(value >> (5 * i)) & 31] for i in range(CODE_LENGTH)]
    text = "".join(chars)
    return "-".join(text[i : i + GROUP_LENGTH] for i in range(0, CODE_LENGTH, GROUP_LENGTH))


@dataclass(frozen=True)
class Invite:
    """A freshly made code, shown once to the admin who asked for it."""

    code: str
    expires_at: datetime


class JoinResult(StrEnum):
    JOINED = "joined"
    ALREADY_STAFF = "already_staff"  # the code is left unused for someone else
    INVALID = "invalid"  # unknown, used, expired or malformed: indistinguishable on purpose


class InviteService:
    """Makes and redeems invite codes; only admins may make them."""

    def __init__(
        self,
        invites: InviteRepository,
        staff: StaffRepository,
        roles: StaffRoles,
        *,
        clock: WallClock = utc_now,
        ttl: timedelta = INVITE_TTL,
        random_bits: RandomBits = secrets.randbits,
    ) -> None:
        self._invites = invites
        self._staff = staff
        self._roles = roles
        self._clock = clock
        self._ttl = ttl
        self._random_bits = random_bits

    async def create(self, issuer_id: int, *, connection: AsyncConnection | None = None) -> Invite:
        """A new single-use code; raises `NotAllowed` unless `issuer_id` is an admin. Stored
        in the caller's `connection` (with its audit entry) when given."""
        await self._roles.require_admin(issuer_id, connection=connection)
        now = self._clock()
        code = _format_code(self._random_bits(5 * CODE_LENGTH))
        normalised = normalise_invite_code(code)
        assert normalised is not None
        expires_at = now + self._ttl
        await self._invites.add(
            hash_invite_code(normalised), expires_at=expires_at, now=now, connection=connection
        )
        return Invite(code=code, expires_at=expires_at)

    async def redeem(
        self,
        code: str,
        user_id: int,
        *,
        full_name: str | None = None,
        connection: AsyncConnection | None = None,
    ) -> JoinResult:
        """Make `user_id` an investigator if `code` is live, using the code up (both in one
        transaction: the caller's `connection` when given). `full_name` is the name Telegram
        gives the joining user, kept for the admins' staff list."""
        normalised = normalise_invite_code(code)
        if normalised is None:
            return JoinResult.INVALID
        async with self._staff_transaction(connection) as transaction:
            if await self._roles.is_staff(user_id, connection=transaction):
                # Joining must never demote an admin, and a spare code stays usable.
                return JoinResult.ALREADY_STAFF
            if not await self._invites.consume(
                hash_invite_code(normalised), now=self._clock(), connection=transaction
            ):
                return JoinResult.INVALID
            await self._staff.add(
                user_id, Role.INVESTIGATOR, full_name=full_name, connection=transaction
            )
        return JoinResult.JOINED

    def _staff_transaction(
        self, connection: AsyncConnection | None
    ) -> AbstractAsyncContextManager[AsyncConnection]:
        return self._staff.transaction(connection)
