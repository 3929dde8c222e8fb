"""Staff: admins and investigators, invite codes, and the permission checks every staff
command goes through. Staff are identified on purpose; nothing here touches submissions."""

from bot.staff.invites import (
    INVITE_TTL,
    Invite,
    InviteService,
    JoinResult,
    hash_invite_code,
    normalise_invite_code,
)
from bot.staff.roles import NotAllowed, RevokeResult, StaffEntry, StaffRoles

__all__ = [
    "INVITE_TTL",
    "Invite",
    "InviteService",
    "JoinResult",
    "NotAllowed",
    "RevokeResult",
    "StaffEntry",
    "StaffRoles",
    "hash_invite_code",
    "normalise_invite_code",
]
