"""Staff management: invite codes, joining, listing and revoking staff, digest groups.

The admin commands and buttons sit behind the `IsAdmin` router filter, which asks for the
sender's role on every update, button presses included: the user id in a revoke button is
only a request. Removing a member asks first (a confirm and a cancel button); only the
confirmation removes. Everyone else gets the polite refusal of the router after it. Every change
(invite, join, revoke, digest_here, digest_off) is written to the audit log in the same
transaction as the change itself (`AuditedActions`). Nothing here reads submissions.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import tzinfo
from html import escape

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject, or_f
from aiogram.types import (
    CallbackQuery,
    InaccessibleMessage,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.staff import InviteService, JoinResult, NotAllowed, RevokeResult, StaffEntry, StaffRoles
from bot.staff.admin_input import parse_user_id
from bot.staff.audited import AuditedActions
from bot.staff.callbacks import (
    RevokeCallback,
    RevokeCancelCallback,
    RevokeConfirmCallback,
    StaffPageCallback,
)
from bot.staff.filters import GroupChat, IsAdmin, PrivateChat, restricted
from bot.staff.menus import CommandMenus
from bot.statuses import Role
from storage.repositories import DigestGroupRepository

ADMIN_COMMANDS = ("invite", "staff", "revoke")
GROUP_COMMANDS = ("digest_here", "digest_off")
#: Members per page of /staff and /revoke: one short message, far below 100 buttons.
STAFF_PAGE_SIZE = 20


def _not_allowed() -> str:
    return _("Only administrators can do this.")


def _person(user_id: int, full_name: str | None = None) -> str:
    """The name Telegram gave at joining (escaped), beside a tappable mention by id: staff
    are identified on purpose."""
    mention = f'<a href="tg://user?id={user_id}">{user_id}</a>'
    return f"{escape(full_name)} ({mention})" if full_name else mention


def _staff_line(entry: StaffEntry) -> str:
    person = _person(entry.user_id, entry.full_name)
    if entry.configured:
        return _("{person} — administrator (ADMIN_IDS)").format(person=person)
    role = _("administrator") if entry.role == Role.ADMIN else _("investigator")
    since = entry.added_day.isoformat() if entry.added_day else "?"
    return _("{person} — {role}, since {day}").format(person=person, role=role, day=since)


def _page_of(entries: list[StaffEntry], page: int) -> tuple[list[StaffEntry], int, int]:
    """The entries on `page` (clamped), that page and the number of pages."""
    pages = max(1, -(-len(entries) // STAFF_PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    return entries[page * STAFF_PAGE_SIZE : (page + 1) * STAFF_PAGE_SIZE], page, pages


def _removable(entries: list[StaffEntry], actor_id: int) -> list[StaffEntry]:
    """Who this admin may remove: not themselves, not ADMIN_IDS."""
    return [e for e in entries if not e.configured and e.user_id != actor_id]


def _paging_row(page: int, pages: int) -> list[list[InlineKeyboardButton]]:
    if pages <= 1:
        return []
    row = []
    if page > 0:
        row.append(
            InlineKeyboardButton(text="◀", callback_data=StaffPageCallback(page=page - 1).pack())
        )
    row.append(
        InlineKeyboardButton(
            text=f"{page + 1}/{pages}", callback_data=StaffPageCallback(page=page).pack()
        )
    )
    if page < pages - 1:
        row.append(
            InlineKeyboardButton(text="▶", callback_data=StaffPageCallback(page=page + 1).pack())
        )
    return [row]


async def _staff_screen(
    roles: StaffRoles,
    groups: DigestGroupRepository,
    actor_id: int,
    page: int = 0,
    entries: list[StaffEntry] | None = None,
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of the staff list: short enough for one message and Telegram's 100 buttons."""
    if entries is None:
        entries = await roles.members()
    shown, page, pages = _page_of(entries, page)
    lines = [_("<b>Staff</b> ({count})").format(count=len(entries))]
    lines += [_staff_line(entry) for entry in shown]
    lines.append("")
    lines.append(_("Groups receiving digests: {count}").format(count=len(await groups.list())))
    rows = [
        [
            InlineKeyboardButton(
                text=_("Remove {user_id}").format(user_id=entry.user_id),
                callback_data=RevokeCallback(user_id=entry.user_id, page=page).pack(),
            )
        ]
        for entry in _removable(shown, actor_id)
    ]
    rows += _paging_row(page, pages)
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


async def invite_command(
    message: Message, invites: InviteService, settings: Settings, audited: AuditedActions
) -> None:
    if message.from_user is None:
        return
    try:
        async with audited.transaction() as tx:
            invite = await invites.create(message.from_user.id, connection=tx.connection)
            await tx.record(message.from_user.id, "staff.invite", Role.INVESTIGATOR)
    except NotAllowed:
        await message.answer(_not_allowed())
        return
    zone: tzinfo = settings.zone
    expires = invite.expires_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    await message.answer(
        _(
            "One-time invite code for a new investigator, valid until {expires} ({zone}):\n\n"
            "<code>{code}</code>\n\n"
            "Pass it on privately. The new investigator sends this to the bot:\n"
            "<code>/join {code}</code>"
        ).format(code=invite.code, expires=expires, zone=escape(settings.timezone))
    )


async def join_command(
    message: Message,
    command: CommandObject,
    invites: InviteService,
    command_menus: CommandMenus,
    bot: Bot,
    audited: AuditedActions,
) -> None:
    if message.from_user is None:
        return
    if not command.args:
        await message.answer(_("Send /join followed by your invite code."))
        return
    user_id = message.from_user.id
    async with audited.transaction() as tx:
        result = await invites.redeem(
            command.args, user_id, full_name=message.from_user.full_name, connection=tx.connection
        )
        if result is JoinResult.JOINED:
            await tx.record(user_id, "staff.join", str(user_id))
    if result is JoinResult.JOINED:
        await command_menus.show_staff_menu(bot, message.from_user.id, Role.INVESTIGATOR)
        await message.answer(
            _(
                "Welcome: you are now an investigator. Digests will arrive in this chat.\n"
                "/digest shows the current period so far."
            )
        )
    elif result is JoinResult.ALREADY_STAFF:
        await message.answer(_("You are already on the staff."))
    else:
        await message.answer(
            _(
                "This code is not valid: it may be mistyped, used or expired. "
                "Ask an administrator for a new one."
            )
        )


async def staff_command(
    message: Message, staff_roles: StaffRoles, digest_groups: DigestGroupRepository
) -> None:
    if message.from_user is None:
        return
    text, markup = await _staff_screen(staff_roles, digest_groups, message.from_user.id)
    await message.answer(text, reply_markup=markup)


def _revoke_outcome(result: RevokeResult, user_id: int) -> str:
    match result:
        case RevokeResult.REVOKED:
            return _("Removed {user_id} from the staff.").format(user_id=user_id)
        case RevokeResult.SELF:
            return _("You cannot remove yourself.")
        case RevokeResult.CONFIGURED:
            return _("{user_id} is in ADMIN_IDS: change the configuration instead.").format(
                user_id=user_id
            )
        case RevokeResult.NOT_STAFF:
            return _("{user_id} is not on the staff.").format(user_id=user_id)
        case RevokeResult.NOT_ADMIN:
            return _not_allowed()


async def _revoke(
    staff_roles: StaffRoles, audited: AuditedActions, actor_id: int, target_id: int
) -> RevokeResult:
    """Remove a staff member and audit it, in one transaction."""
    async with audited.transaction() as tx:
        result = await staff_roles.revoke(actor_id, target_id, connection=tx.connection)
        if result is RevokeResult.REVOKED:
            await tx.record(actor_id, "staff.revoke", str(target_id))
    return result


def _not_removable(entries: list[StaffEntry], actor_id: int, target_id: int) -> RevokeResult | None:
    """Why `target_id` cannot be removed by `actor_id`, or None when they can (asked before
    the confirmation; `StaffRoles.revoke` checks again when it is pressed)."""
    if target_id == actor_id:
        return RevokeResult.SELF
    entry = next((e for e in entries if e.user_id == target_id), None)
    if entry is None:
        return RevokeResult.NOT_STAFF
    return RevokeResult.CONFIGURED if entry.configured else None


def _confirm_screen(entry: StaffEntry, page: int) -> tuple[str, InlineKeyboardMarkup]:
    """Remove this member? A confirm and a cancel button (callback data far below 64 bytes)."""
    text = _("Remove {person} from the staff? They lose staff access at once.").format(
        person=_person(entry.user_id, entry.full_name)
    )
    confirm = RevokeConfirmCallback(user_id=entry.user_id, page=page).pack()
    cancel = RevokeCancelCallback(page=page).pack()
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=_("Yes, remove"), callback_data=confirm),
                InlineKeyboardButton(text=_("Cancel"), callback_data=cancel),
            ]
        ]
    )
    return text, markup


async def revoke_command(
    message: Message,
    command: CommandObject,
    staff_roles: StaffRoles,
    digest_groups: DigestGroupRepository,
) -> None:
    """`/revoke` shows a button per removable member; `/revoke ID` asks to confirm removing
    that one. Nothing is removed until the confirmation is pressed."""
    if message.from_user is None:
        return
    actor_id = message.from_user.id
    members = await staff_roles.members()
    if command.args:
        try:
            target_id = parse_user_id(command.args)
        except ValueError:
            await message.answer(_("Send /revoke, or /revoke followed by a Telegram user id."))
            return
        refused = _not_removable(members, actor_id, target_id)
        if refused is not None:
            await message.answer(_revoke_outcome(refused, target_id))
            return
        entry = next(e for e in members if e.user_id == target_id)
        text, confirm = _confirm_screen(entry, 0)
        await message.answer(text, reply_markup=confirm)
        return
    if not _removable(members, actor_id):
        await message.answer(_("Nobody can be removed: only you and ADMIN_IDS are staff."))
        return
    text, markup = await _staff_screen(staff_roles, digest_groups, actor_id, entries=members)
    await message.answer(
        _("Choose whom to remove from the staff:") + "\n\n" + text, reply_markup=markup
    )


async def revoke_pressed(
    query: CallbackQuery, callback_data: RevokeCallback, staff_roles: StaffRoles
) -> None:
    """A member's Remove button: ask to confirm, in place of the list."""
    target_id = callback_data.user_id
    members = await staff_roles.members()
    refused = _not_removable(members, query.from_user.id, target_id)
    if refused is not None:
        await query.answer(_revoke_outcome(refused, target_id))
        return
    message = query.message
    if message is None or isinstance(message, InaccessibleMessage):
        await query.answer()
        return
    entry = next(e for e in members if e.user_id == target_id)
    text, markup = _confirm_screen(entry, callback_data.page)
    with suppress(TelegramBadRequest):  # the same button pressed twice: "not modified"
        await message.edit_text(text, reply_markup=markup)
    await query.answer()


async def revoke_confirmed(
    query: CallbackQuery,
    callback_data: RevokeConfirmCallback,
    staff_roles: StaffRoles,
    digest_groups: DigestGroupRepository,
    command_menus: CommandMenus,
    bot: Bot,
    audited: AuditedActions,
) -> None:
    """The confirmation: remove and audit in one transaction, then the list again."""
    result = await _revoke(staff_roles, audited, query.from_user.id, callback_data.user_id)
    if result is RevokeResult.NOT_ADMIN:
        await query.answer(_not_allowed(), show_alert=True)
        return
    if result is RevokeResult.REVOKED:
        await command_menus.hide_staff_menu(bot, callback_data.user_id)
    outcome = _revoke_outcome(result, callback_data.user_id)
    message = query.message
    if message is not None and not isinstance(message, InaccessibleMessage):
        text, markup = await _staff_screen(
            staff_roles, digest_groups, query.from_user.id, callback_data.page
        )
        with suppress(TelegramBadRequest):  # e.g. "message is not modified" on a stale copy
            await message.edit_text(outcome + "\n\n" + text, reply_markup=markup)
    await query.answer(outcome)


async def revoke_cancelled(
    query: CallbackQuery,
    callback_data: RevokeCancelCallback,
    staff_roles: StaffRoles,
    digest_groups: DigestGroupRepository,
) -> None:
    """Cancel: nobody is removed; the list again, on the page it was."""
    nothing = _("Nobody was removed.")
    message = query.message
    if message is not None and not isinstance(message, InaccessibleMessage):
        text, markup = await _staff_screen(
            staff_roles, digest_groups, query.from_user.id, callback_data.page
        )
        with suppress(TelegramBadRequest):
            await message.edit_text(nothing + "\n\n" + text, reply_markup=markup)
    await query.answer(nothing)


async def staff_page_pressed(
    query: CallbackQuery,
    callback_data: StaffPageCallback,
    staff_roles: StaffRoles,
    digest_groups: DigestGroupRepository,
) -> None:
    message = query.message
    if message is None or isinstance(message, InaccessibleMessage):
        await query.answer()
        return
    text, markup = await _staff_screen(
        staff_roles, digest_groups, query.from_user.id, callback_data.page
    )
    with suppress(TelegramBadRequest):  # the page number itself, pressed: "not modified"
        await message.edit_text(text, reply_markup=markup)
    await query.answer()


async def digest_here_command(
    message: Message, digest_groups: DigestGroupRepository, audited: AuditedActions
) -> None:
    """Register this group for digests. Anonymous group admins cannot be verified: the
    router's `IsAdmin` refuses them."""
    if message.from_user is None:
        return
    async with audited.transaction() as tx:
        added = await digest_groups.add(message.chat.id, connection=tx.connection)
        if added:
            await tx.record(message.from_user.id, "digest.here", str(message.chat.id))
    if added:
        await message.answer(_("This group will now receive the digests."))
    else:
        await message.answer(_("This group already receives the digests."))


async def digest_off_command(
    message: Message, digest_groups: DigestGroupRepository, audited: AuditedActions
) -> None:
    if message.from_user is None:
        return
    async with audited.transaction() as tx:
        removed = await digest_groups.remove(message.chat.id, connection=tx.connection)
        if removed:
            await tx.record(message.from_user.id, "digest.off", str(message.chat.id))
    if removed:
        await message.answer(_("This group will no longer receive the digests."))
    else:
        await message.answer(_("This group was not receiving the digests."))


async def digest_here_in_private(message: Message) -> None:
    await message.answer(_("Send this command in the group chat itself."))


async def refuse_command(message: Message) -> None:
    await message.answer(_not_allowed())


async def refuse_button(query: CallbackQuery) -> None:
    await query.answer(_not_allowed(), show_alert=True)


def create_router() -> Router:
    """A fresh Router (a Router can belong to one Dispatcher only): the admins' router, the
    group admins' router, what anyone may send, then the refusals for everyone else."""
    buttons = or_f(
        RevokeCallback.filter(),
        RevokeConfirmCallback.filter(),
        RevokeCancelCallback.filter(),
        StaffPageCallback.filter(),
    )
    admin = restricted(
        "staff.admin", IsAdmin(), messages=Command(*ADMIN_COMMANDS), callbacks=buttons
    )
    admin.message.register(invite_command, Command("invite"))
    admin.message.register(staff_command, Command("staff"))
    admin.message.register(revoke_command, Command("revoke"))
    admin.callback_query.register(revoke_pressed, RevokeCallback.filter())
    admin.callback_query.register(revoke_confirmed, RevokeConfirmCallback.filter())
    admin.callback_query.register(revoke_cancelled, RevokeCancelCallback.filter())
    admin.callback_query.register(staff_page_pressed, StaffPageCallback.filter())

    group_admin = restricted(
        "staff.group_admin", IsAdmin(), chat=GroupChat(), messages=Command(*GROUP_COMMANDS)
    )
    group_admin.message.register(digest_here_command, Command("digest_here"))
    group_admin.message.register(digest_off_command, Command("digest_off"))

    anyone = Router(name="staff.anyone")
    anyone.message.filter(PrivateChat())
    anyone.message.register(join_command, Command("join"))
    anyone.message.register(digest_here_in_private, Command(*GROUP_COMMANDS))

    refusals = Router(name="staff.refusals")
    refusals.message.register(refuse_command, Command(*ADMIN_COMMANDS), PrivateChat())
    refusals.message.register(refuse_command, Command(*GROUP_COMMANDS), GroupChat())
    refusals.callback_query.register(refuse_button, buttons)

    router = Router(name="staff")
    router.include_routers(admin, group_admin, anyone, refusals)
    return router
