"""Investigators' case handling: `/cases` (by status, paged), a case's answers, follow-up
thread, labels, notes and history; replying, changing the status, labelling, noting, marking a
free-text answer as quotable (for a later report); and the admins' `/audit`.

Staff-only throughout: the `IsStaff` router filter asks for the role on every command,
button press and typed input (a button shown earlier, or forged callback data, grants
nothing), `/audit` sits behind `IsAdmin`, and everyone else is refused politely. Every action
on a case, viewing included, is written to the audit log in the action's own transaction
(`CaseActions`): who (the staff id), what, which case ref, which day. A long case is shown in
pages, so its thread and buttons are always reachable.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import date

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, StateFilter, or_f
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InaccessibleMessage, Message

from bot.cases import CaseRuntime, screens
from bot.cases.actions import CaseActions
from bot.cases.callbacks import CaseAct, CaseCallback
from bot.cases.screens import Screen
from bot.questionnaire import Questionnaire
from bot.staff.filters import IsAdmin, IsStaff, PrivateChat, restricted
from bot.statuses import CaseStatus
from storage.repositories import (
    AuditRepository,
    CaseRepository,
    CaseSummary,
    SubmissionRepository,
)

CASE_KEY = "case_ref"
ACT_KEY = "case_act"
TEXT_ACTS = {CaseAct.REPLY, CaseAct.NOTE, CaseAct.LABEL}


class CaseInput(StatesGroup):
    text = State()


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


async def cases_command(message: Message, cases: CaseRepository) -> None:
    await cases.ensure_cases()
    screen = screens.overview_screen(await cases.counts_by_status())
    await message.answer(screen.text, reply_markup=screen.markup)


async def audit_command(message: Message, audit: AuditRepository) -> None:
    await message.answer(screens.audit_text(await audit.recent(50)))


async def case_button(
    query: CallbackQuery,
    callback_data: CaseCallback,
    state: FSMContext,
    bot: Bot,
    cases: CaseRepository,
    case_actions: CaseActions,
    submissions: SubmissionRepository,
    questionnaire: Questionnaire,
    case_runtime: CaseRuntime,
) -> None:
    actor = query.from_user.id
    message = query.message
    if message is None or isinstance(message, InaccessibleMessage):
        await query.answer()
        return
    act = callback_data.a
    screen: Screen | None
    if act == CaseAct.OVERVIEW:
        screen = screens.overview_screen(await cases.counts_by_status())
    elif act == CaseAct.LIST:
        if not CaseStatus.has(callback_data.s):
            await query.answer(screens.case_missing_text())
            return
        status = CaseStatus(callback_data.s)
        page = max(0, callback_data.p)
        items, total = await cases.list_by_status(
            status, offset=page * screens.PAGE_SIZE, limit=screens.PAGE_SIZE
        )
        screen = screens.list_screen(status, page, items, total)
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
            if not CaseStatus.has(callback_data.s):
                await query.answer(screens.case_missing_text())
                return
            await case_actions.set_status(actor, summary, CaseStatus(callback_data.s), day)
            fresh = await cases.by_ref(summary.ref)
            screen = (
                None
                if fresh is None
                else await _case_view(actor, fresh, day, case_actions, submissions, questionnaire)
            )
        elif act in (CaseAct.QUOTE, CaseAct.UNQUOTE):
            submission = await submissions.get(summary.submission_id)
            keys = [] if submission is None else screens.quote_keys(submission)
            if not callback_data.s.isdecimal() or int(callback_data.s) >= len(keys):
                await query.answer(screens.case_missing_text())
                return
            question_id = keys[int(callback_data.s)]
            await case_actions.set_quotable(actor, summary, question_id, act == CaseAct.QUOTE, day)
            screen = await _case_view(
                actor, summary, day, case_actions, submissions, questionnaire, callback_data.p
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
    cases: CaseRepository,
    case_actions: CaseActions,
    submissions: SubmissionRepository,
    questionnaire: Questionnaire,
    case_runtime: CaseRuntime,
) -> None:
    data = await state.get_data()
    await state.clear()
    if message.from_user is None:
        return
    actor = message.from_user.id
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


async def refuse_staff_command(message: Message) -> None:
    await message.answer(screens.staff_only_text())


async def refuse_admin_command(message: Message) -> None:
    await message.answer(screens.admin_only_text())


async def refuse_case_text(message: Message, state: FSMContext) -> None:
    """Someone no longer staff, still in the middle of typing for a case."""
    await state.clear()
    await message.answer(screens.staff_only_text())


async def refuse_case_button(query: CallbackQuery) -> None:
    await query.answer(screens.staff_only_text(), show_alert=True)


def create_router() -> Router:
    """A fresh Router (a Router can belong to one Dispatcher only): leaving the text input,
    the staff's router, the admins' `/audit`, then the refusals for everyone else."""
    typing = StateFilter(CaseInput.text)
    case_text_filters = (typing, F.text, ~F.text.startswith("/"))

    anyone = Router(name="cases.anyone")
    anyone.message.filter(PrivateChat())
    anyone.message.register(cancel_case_input, Command("cancel"), typing)

    buttons = CaseCallback.filter()
    staff = restricted(
        "cases.staff", IsStaff(), messages=or_f(Command("cases"), typing), callbacks=buttons
    )
    staff.message.register(cases_command, Command("cases"))
    staff.message.register(case_text, *case_text_filters)
    staff.callback_query.register(case_button, CaseCallback.filter())

    admin = restricted("cases.admin", IsAdmin(), messages=Command("audit"))
    admin.message.register(audit_command, Command("audit"))

    refusals = Router(name="cases.refusals")
    refusals.message.filter(PrivateChat())
    refusals.message.register(refuse_staff_command, Command("cases"))
    refusals.message.register(refuse_admin_command, Command("audit"))
    refusals.message.register(refuse_case_text, *case_text_filters)
    refusals.callback_query.register(refuse_case_button, buttons)

    router = Router(name="cases")
    router.include_routers(anyone, staff, admin, refusals)
    return router
