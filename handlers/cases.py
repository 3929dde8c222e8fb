"""Investigators' case handling: `/cases` (by status, paged), a case's answers, follow-up
thread, labels, notes and history; replying, changing the status, labelling, noting; and the
admins' `/audit`.

Staff-only throughout: every command, button press and typed input re-checks the role with
`StaffRoles` (a button shown earlier, or forged callback data, grants nothing). Every action
on a case, viewing included, is written to the audit log in the action's own transaction
(`CaseActions`): who (the staff id), what, which case ref, which day. A long case is shown in
pages, so its thread and buttons are always reachable.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import date

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InaccessibleMessage, Message

from bot.cases import CaseRuntime, screens
from bot.cases.actions import CaseActions
from bot.cases.callbacks import CaseAct, CaseCallback
from bot.questionnaire import Questionnaire
from bot.respondent.screens import Screen
from bot.staff import StaffRoles
from storage.repositories import (
    AuditRepository,
    CaseRepository,
    CaseSummary,
    SubmissionRepository,
)
from storage.tables import CASE_STATUSES

CASE_KEY = "case_ref"
ACT_KEY = "case_act"
TEXT_ACTS = {CaseAct.REPLY, CaseAct.NOTE, CaseAct.LABEL}


class CaseInput(StatesGroup):
    text = State()


async def _is_staff(user_id: int | None, staff_roles: StaffRoles) -> bool:
    return user_id is not None and await staff_roles.is_staff(user_id)


async def _case_view(
    actor: int,
    summary: CaseSummary,
    day: date,
    case_actions: CaseActions,
    submissions: SubmissionRepository,
    questionnaire: Questionnaire,
    page: int = 0,
) -> Screen | None:
    """A page of the case, read in the transaction that audits the view."""
    detail = await case_actions.view(actor, summary, day)
    if detail is None:
        return None
    submission = await submissions.get(summary.submission_id)
    return screens.case_screen(detail, submission, questionnaire, page)


async def cases_command(message: Message, staff_roles: StaffRoles, cases: CaseRepository) -> None:
    if not await _is_staff(message.from_user.id if message.from_user else None, staff_roles):
        await message.answer(screens.staff_only_text())
        return
    await cases.ensure_cases()
    screen = screens.overview_screen(await cases.counts_by_status())
    await message.answer(screen.text, reply_markup=screen.markup)


async def audit_command(message: Message, staff_roles: StaffRoles, audit: AuditRepository) -> None:
    user_id = message.from_user.id if message.from_user else None
    if user_id is None or not await staff_roles.is_admin(user_id):
        await message.answer(screens.admin_only_text())
        return
    await message.answer(screens.audit_text(await audit.recent(50)))


async def case_button(
    query: CallbackQuery,
    callback_data: CaseCallback,
    state: FSMContext,
    bot: Bot,
    staff_roles: StaffRoles,
    cases: CaseRepository,
    case_actions: CaseActions,
    submissions: SubmissionRepository,
    questionnaire: Questionnaire,
    case_runtime: CaseRuntime,
) -> None:
    actor = query.from_user.id
    if not await staff_roles.is_staff(actor):
        await query.answer(screens.staff_only_text(), show_alert=True)
        return
    message = query.message
    if message is None or isinstance(message, InaccessibleMessage):
        await query.answer()
        return
    act = callback_data.a
    screen: Screen | None
    if act == CaseAct.OVERVIEW:
        screen = screens.overview_screen(await cases.counts_by_status())
    elif act == CaseAct.LIST:
        if callback_data.s not in CASE_STATUSES:
            await query.answer(screens.case_missing_text())
            return
        page = max(0, callback_data.p)
        items, total = await cases.list_by_status(
            callback_data.s, offset=page * screens.PAGE_SIZE, limit=screens.PAGE_SIZE
        )
        screen = screens.list_screen(callback_data.s, page, items, total)
    else:
        summary = await cases.by_ref(callback_data.r)
        if summary is None:
            await query.answer(screens.case_missing_text(), show_alert=True)
            return
        day = case_runtime.today()
        if act == CaseAct.VIEW:
            screen = await _case_view(
                actor, summary, day, case_actions, submissions, questionnaire, callback_data.p
            )
        elif act == CaseAct.STATUS_MENU:
            screen = screens.status_menu_screen(summary)
        elif act == CaseAct.SET_STATUS:
            if callback_data.s not in CASE_STATUSES:
                await query.answer(screens.case_missing_text())
                return
            await case_actions.set_status(actor, summary, callback_data.s, day)
            fresh = await cases.by_ref(summary.ref)
            screen = (
                None
                if fresh is None
                else await _case_view(actor, fresh, day, case_actions, submissions, questionnaire)
            )
        elif act in TEXT_ACTS:
            await state.set_state(CaseInput.text)
            await state.set_data({CASE_KEY: summary.ref, ACT_KEY: act.value})
            await query.answer()
            await bot.send_message(message.chat.id, screens.prompt_text(act, summary.ref))
            return
        else:
            await query.answer()
            return
    await query.answer()
    if screen is None:
        await bot.send_message(message.chat.id, screens.case_missing_text())
        return
    with suppress(TelegramBadRequest):  # "message is not modified" after a double tap
        await message.edit_text(screen.text, reply_markup=screen.markup)


async def case_text(
    message: Message,
    state: FSMContext,
    staff_roles: StaffRoles,
    cases: CaseRepository,
    case_actions: CaseActions,
    submissions: SubmissionRepository,
    questionnaire: Questionnaire,
    case_runtime: CaseRuntime,
) -> None:
    data = await state.get_data()
    await state.clear()
    actor = message.from_user.id if message.from_user else None
    if actor is None or not await staff_roles.is_staff(actor):
        await message.answer(screens.staff_only_text())
        return
    summary = await cases.by_ref(str(data.get(CASE_KEY, "")))
    try:
        act = CaseAct(str(data.get(ACT_KEY, "")))
    except ValueError:
        act = None
    if summary is None or act not in TEXT_ACTS:
        await message.answer(screens.case_missing_text())
        return
    text = message.text or ""
    day = case_runtime.today()
    if act == CaseAct.REPLY:
        await case_actions.reply(actor, summary, text, day)
    elif act == CaseAct.NOTE:
        await case_actions.note(actor, summary, text, day)
    else:
        await case_actions.toggle_label(actor, summary, text.strip(), day)
    await message.answer(screens.done_text(act, summary.ref))
    fresh = await cases.by_ref(summary.ref)
    screen = (
        None
        if fresh is None
        else await _case_view(actor, fresh, day, case_actions, submissions, questionnaire)
    )
    if screen is not None:
        await message.answer(screen.text, reply_markup=screen.markup)


async def cancel_case_input(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(screens.input_cancelled_text())


def create_router() -> Router:
    """A fresh Router (a Router can belong to one Dispatcher only)."""
    router = Router(name="cases")
    private = F.chat.type == ChatType.PRIVATE
    router.message.register(cases_command, Command("cases"), private)
    router.message.register(audit_command, Command("audit"), private)
    router.message.register(
        cancel_case_input, Command("cancel"), StateFilter(CaseInput.text), private
    )
    router.message.register(
        case_text, StateFilter(CaseInput.text), private, F.text, ~F.text.startswith("/")
    )
    router.callback_query.register(case_button, CaseCallback.filter())
    return router
