"""The cadre's conversation: consent, one question at a time, review, submit, receipt, clear.

Thin by design: the questionnaire engine decides, `bot.respondent.screens` renders, the
survey service stores. One message is edited in place while buttons are pressed; after a
typed answer the question moves below it, so the current question is always at the bottom.

Nothing the cadre types is left in the chat: a message typed while answering is deleted
once read, and the bot shows the scrubbed answer it stored instead. A message holding a
receipt code is deleted at once. An edit is applied (scrubbed again) only to the answer just
given; any other edit is refused, and an edited message is deleted like a typed one.
"""

from __future__ import annotations

from contextlib import suppress
from html import escape
from typing import Any

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject, CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InaccessibleMessage, Message
from aiogram.utils.i18n import gettext as _

from bot.anonymity.receipt import contains_receipt
from bot.anonymity.scrubber import scrub
from bot.config import Settings
from bot.questionnaire.engine import (
    Draft,
    Engine,
    InputError,
    Outcome,
    QuestionStep,
    ReviewStep,
)
from bot.respondent import screens
from bot.respondent.callbacks import (
    Act,
    ClearChatCallback,
    ReceiptSavedCallback,
    SurveyCallback,
)
from bot.respondent.survey import (
    CAMPAIGN_KEY,
    DRAFT_KEY,
    FIRST_KEY,
    MESSAGE_KEY,
    PREVIEW_KEY,
    TYPED_KEY,
    LimitReached,
    SurveyService,
)
from bot.staff import StaffRoles
from storage.repositories import SubscriberRepository


class Survey(StatesGroup):
    answering = State()


CLEAR_WINDOW = 1000  # at most this many messages back are deleted on "clear this chat"
DELETE_BATCH = 100  # deleteMessages takes at most 100 ids


def _screen_for(
    engine: Engine,
    outcome_step: QuestionStep | ReviewStep,
    locale: str,
    *,
    notice: str | None = None,
    error: InputError | None = None,
) -> screens.Screen:
    if isinstance(outcome_step, ReviewStep):
        screen = screens.review_screen(outcome_step, locale)
        if notice:
            return screens.Screen(notice + "\n\n" + screen.text, screen.markup)
        return screen
    return screens.question_screen(
        outcome_step, engine.questionnaire, locale, notice=notice, error=error
    )


async def _delete(bot: Bot, message: Message) -> None:
    """Delete a message of the chat, as far as Telegram allows (48 hours in private chats)."""
    with suppress(TelegramBadRequest):
        await bot.delete_message(message.chat.id, message.message_id)


async def _drop_keyboard(bot: Bot, chat_id: int, message_id: int | None) -> None:
    if message_id is None:
        return
    with suppress(TelegramBadRequest):
        await bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id)


async def _show_at_bottom(
    bot: Bot, chat_id: int, state: FSMContext, data: dict[str, Any], screen: screens.Screen
) -> None:
    """Retire the previous question message and send the current screen below the user's."""
    await _drop_keyboard(bot, chat_id, data.get(MESSAGE_KEY))
    sent = await bot.send_message(chat_id, screen.text, reply_markup=screen.markup)
    await state.update_data({MESSAGE_KEY: sent.message_id})


async def _begin(
    bot: Bot,
    chat_id: int,
    state: FSMContext,
    survey: SurveyService,
    engine: Engine,
    locale: str,
    first_message_id: int,
) -> None:
    outcome = engine.start()
    screen = _screen_for(engine, outcome.step, locale)
    sent = await bot.send_message(chat_id, screen.text, reply_markup=screen.markup)
    await state.set_state(Survey.answering)
    await state.set_data(survey.draft_data(outcome.draft, sent.message_id, first_message_id))


# --- commands ---------------------------------------------------------------------------


async def start(
    message: Message,
    state: FSMContext,
    survey: SurveyService,
    subscribers: SubscriberRepository,
    settings: Settings,
    locale: str,
) -> None:
    """Welcome (or offer to resume). Subscribes nobody: announcements are a button."""
    data = await state.get_data()
    draft = await survey.draft_in(data)
    if draft is not None:
        screen = screens.resume_screen(survey.engine_of(draft).step(draft))
        await message.answer(screen.text, reply_markup=screen.markup)
        return
    if data:
        await state.clear()
    engine = await survey.engine_now()
    screen = screens.welcome_screen(
        engine.questionnaire,
        locale,
        settings.k_anonymity,
        message.message_id,
        subscribed=await subscribers.is_active(message.chat.id),
    )
    await message.answer(screen.text, reply_markup=screen.markup)


async def cancel_command(message: Message, state: FSMContext, bot: Bot) -> None:
    data = await state.get_data()
    if not data:
        await message.answer(screens.nothing_to_cancel_text())
        return
    await state.clear()
    await _drop_keyboard(bot, message.chat.id, data.get(MESSAGE_KEY))
    await message.answer(screens.cancelled_text())


async def preview_command(
    message: Message,
    command: CommandObject,
    state: FSMContext,
    survey: SurveyService,
    staff_roles: StaffRoles,
    bot: Bot,
    locale: str,
) -> None:
    """`/questionnaire_preview QID vN` (admins): walk a stored version; nothing is stored."""
    user = message.from_user
    if user is None or not await staff_roles.is_admin(user.id):
        await message.answer(_("Only administrators can do this."))
        return
    words = (command.args or "").split()
    version = words[1].removeprefix("v") if len(words) == 2 else ""
    if not version.isdigit():
        await message.answer(_("Usage: /questionnaire_preview QID vN"))
        return
    engine = await survey.engine_for(words[0], int(version))
    if engine is None:
        await message.answer(
            _("No stored questionnaire {id} version {version}.").format(
                id=escape(words[0]), version=int(version)
            )
        )
        return
    data = await state.get_data()
    await _drop_keyboard(bot, message.chat.id, data.get(MESSAGE_KEY))
    questionnaire = engine.questionnaire
    await message.answer(screens.preview_started_text(questionnaire.id, questionnaire.version))
    await _begin(bot, message.chat.id, state, survey, engine, locale, message.message_id)
    await state.update_data({PREVIEW_KEY: True})


# --- buttons ----------------------------------------------------------------------------


async def consent(
    query: CallbackQuery,
    callback_data: SurveyCallback,
    state: FSMContext,
    survey: SurveyService,
    bot: Bot,
    locale: str,
) -> None:
    message = query.message
    if message is None:
        await query.answer(screens.expired_button_text())
        return
    chat_id = message.chat.id
    data = await state.get_data()
    if await survey.draft_in(data) is not None:
        await query.answer(screens.stale_button_text())
        return
    accepting, campaign_id = await survey.availability()  # campaigns (issue 6)
    if not accepting:
        await query.answer()
        await bot.send_message(chat_id, screens.no_open_campaign_text())
        return
    if await survey.limit_reached(query.from_user.id):
        await query.answer()
        await bot.send_message(chat_id, screens.limit_reached_text(survey.max_per_day))
        return
    await _drop_keyboard(bot, chat_id, message.message_id)
    first = int(callback_data.v) if callback_data.v.isdigit() else message.message_id
    engine = await survey.engine_now()  # the open campaign's version (issue 6)
    await _begin(bot, chat_id, state, survey, engine, locale, first)
    if campaign_id is not None:
        await state.update_data({CAMPAIGN_KEY: campaign_id})
    await query.answer()


async def resume_or_restart(
    query: CallbackQuery,
    callback_data: SurveyCallback,
    state: FSMContext,
    survey: SurveyService,
    bot: Bot,
    locale: str,
) -> None:
    message = query.message
    data = await state.get_data()
    draft = await survey.draft_in(data)
    if message is None or draft is None:
        await query.answer(screens.expired_button_text())
        return
    await _drop_keyboard(bot, message.chat.id, message.message_id)
    if callback_data.a == Act.RESTART:
        await _drop_keyboard(bot, message.chat.id, data.get(MESSAGE_KEY))
        engine = survey.engine_of(draft)  # a restart stays on the draft's version
        await _begin(bot, message.chat.id, state, survey, engine, locale, data.get(FIRST_KEY, 0))
        kept = {key: data[key] for key in (CAMPAIGN_KEY, PREVIEW_KEY) if key in data}
        if kept:  # a restarted preview stays a preview, a campaign's draft stays in it
            await state.update_data(kept)
    else:
        engine = survey.engine_of(draft)
        screen = _screen_for(engine, engine.step(draft), locale)
        await _show_at_bottom(bot, message.chat.id, state, data, screen)
    await query.answer()


def _apply(engine: Engine, draft: Draft, cb: SurveyCallback) -> Outcome:
    question = cb.q or None
    match cb.a:
        case Act.ANSWER:
            return engine.answer(draft, cb.v, question_id=question)
        case Act.TOGGLE:
            return engine.toggle(draft, cb.v, question_id=question)
        case Act.DONE:
            return engine.confirm(draft, question_id=question)
        case Act.SKIP:
            return engine.skip(draft, question_id=question)
        case Act.BACK:
            return engine.back(draft)
        case Act.EDIT:
            return engine.edit(draft, cb.q)
        case _:
            return engine.to_review(draft)


async def survey_button(
    query: CallbackQuery,
    callback_data: SurveyCallback,
    state: FSMContext,
    survey: SurveyService,
    bot: Bot,
    locale: str,
) -> None:
    message = query.message
    data = await state.get_data()
    draft = await survey.draft_in(data)
    if message is None or isinstance(message, InaccessibleMessage) or draft is None:
        await query.answer(screens.expired_button_text())
        if message is not None and draft is None:
            await _drop_keyboard(bot, message.chat.id, message.message_id)
        return
    if message.message_id != data.get(MESSAGE_KEY):
        await query.answer(screens.stale_button_text())
        return
    if callback_data.a == Act.CANCEL:
        await state.clear()
        with suppress(TelegramBadRequest):
            await message.edit_text(screens.cancelled_text())
        await query.answer()
        return
    if callback_data.a == Act.SUBMIT:
        await _submit(query, message, state, survey, draft, data, bot)
        return
    engine = survey.engine_of(draft)
    outcome = _apply(engine, draft, callback_data)
    if outcome.error is not None:
        if outcome.error.code == "stale":
            await query.answer(screens.stale_button_text())
        else:
            await query.answer(screens.error_text(outcome.error), show_alert=True)
        return
    # A button moves past the last typed answer: an edit of it is no longer taken.
    await state.update_data({DRAFT_KEY: outcome.draft.to_json(), TYPED_KEY: None})
    screen = _screen_for(engine, outcome.step, locale)
    with suppress(TelegramBadRequest):  # "message is not modified" after a double tap
        await message.edit_text(screen.text, reply_markup=screen.markup)
    await query.answer()


async def _submit(
    query: CallbackQuery,
    message: Message,
    state: FSMContext,
    survey: SurveyService,
    draft: Draft,
    data: dict[str, Any],
    bot: Bot,
) -> None:
    if not isinstance(survey.engine_of(draft).step(draft), ReviewStep):
        await query.answer(screens.stale_button_text())
        return
    if data.get(PREVIEW_KEY) is True:  # an admin's preview: no submission, no limit used
        await state.clear()
        with suppress(TelegramBadRequest):
            await message.edit_text(screens.preview_submitted_text())
        await query.answer()
        return
    campaign = data.get(CAMPAIGN_KEY)
    result = await survey.submit(
        draft, query.from_user.id, campaign_id=campaign if isinstance(campaign, str) else None
    )
    if isinstance(result, LimitReached):
        await query.answer(screens.limit_reached_text(result.limit), show_alert=True)
        return
    await state.clear()  # the draft is gone before anything else happens
    with suppress(TelegramBadRequest):
        await message.edit_text(screens.submitted_text())
    first = data.get(FIRST_KEY) or message.message_id
    screen = screens.receipt_screen(result.receipt_code, int(first))
    await bot.send_message(
        message.chat.id, screen.text, reply_markup=screen.markup, protect_content=True
    )
    await query.answer()


async def receipt_saved(
    query: CallbackQuery, callback_data: ReceiptSavedCallback, bot: Bot
) -> None:
    """ "I have saved it": the receipt message goes; the clear-chat button stays offered."""
    message = query.message
    if message is None or message.chat.type != ChatType.PRIVATE:
        await query.answer(screens.expired_button_text())
        return
    with suppress(TelegramBadRequest):
        await bot.delete_message(message.chat.id, message.message_id)
    await query.answer(screens.receipt_deleted_answer())
    screen = screens.receipt_deleted_screen(callback_data.first)
    await bot.send_message(message.chat.id, screen.text, reply_markup=screen.markup)


async def clear_chat(query: CallbackQuery, callback_data: ClearChatCallback, bot: Bot) -> None:
    """Delete this session's messages, the user's and the bot's, as far as Telegram allows."""
    message = query.message
    if message is None or message.chat.type != ChatType.PRIVATE:
        await query.answer(screens.expired_button_text())
        return
    last = message.message_id
    first = max(callback_data.first, last - CLEAR_WINDOW + 1, 1)
    await query.answer(screens.chat_cleared_text())
    ids = list(range(first, last + 1))
    for start_at in range(0, len(ids), DELETE_BATCH):
        batch = ids[start_at : start_at + DELETE_BATCH]
        with suppress(TelegramBadRequest):
            await bot.delete_messages(chat_id=message.chat.id, message_ids=batch)


# --- typed input and media while answering ------------------------------------------------


async def typed_answer(
    message: Message,
    state: FSMContext,
    survey: SurveyService,
    bot: Bot,
    locale: str,
) -> None:
    text = message.text or ""
    await _delete(bot, message)  # read: nothing the cadre typed stays in the chat
    data = await state.get_data()
    draft = await survey.draft_in(data)
    if draft is None:
        await state.clear()
        await message.answer(screens.stray_text_reply())
        return
    engine = survey.engine_of(draft)
    step = engine.step(draft)
    chat_id = message.chat.id
    if contains_receipt(text):
        await bot.send_message(chat_id, screens.receipt_in_answer_text())
        await _show_at_bottom(bot, chat_id, state, data, _screen_for(engine, step, locale))
        return
    if isinstance(step, ReviewStep):
        await message.answer(screens.use_buttons_review_text())
        await _show_at_bottom(bot, chat_id, state, data, _screen_for(engine, step, locale))
        return
    question = step.question
    if question.type in ("single", "multi"):
        screen = _screen_for(engine, step, locale, notice=screens.use_buttons_text())
        await _show_at_bottom(bot, chat_id, state, data, screen)
        return
    masked: tuple[str, ...] = ()
    value = text
    if question.type == "text":
        scrubbed = scrub(text)
        value, masked = scrubbed.text, scrubbed.masked
    outcome = engine.answer(draft, value, question_id=question.id)
    if outcome.error is not None:
        if outcome.error.code == "too_long":
            await bot.send_message(chat_id, screens.too_long_copy_text(outcome.error, value))
        screen = _screen_for(engine, step, locale, error=outcome.error)
        await _show_at_bottom(bot, chat_id, state, data, screen)
        return
    stored = outcome.draft.answers.get(question.id)
    typed = {"m": message.message_id, "q": question.id, "before": draft.to_json()}
    await state.update_data({DRAFT_KEY: outcome.draft.to_json(), TYPED_KEY: typed})
    await bot.send_message(chat_id, screens.recorded_text(str(stored), masked))
    await _show_at_bottom(bot, chat_id, state, data, _screen_for(engine, outcome.step, locale))


def _editable_answer(
    data: dict[str, Any], message_id: int, draft: Draft, engine: Engine
) -> tuple[Draft, str] | None:
    """The draft before the edited message's answer and its question, when that message is
    the last typed answer and nothing has moved on since; otherwise None."""
    typed = data.get(TYPED_KEY)
    if not isinstance(typed, dict) or typed.get("m") != message_id:
        return None
    question_id = typed.get("q")
    if not isinstance(question_id, str) or not engine.questionnaire.has_question(question_id):
        return None
    try:
        before = Draft.from_json(typed.get("before"))
    except ValueError:
        return None
    current = draft.answers.get(question_id)
    if not engine.accepts(before) or current is None:
        return None
    replayed = engine.answer(before, current, question_id=question_id)
    if replayed.error is not None or replayed.draft != draft:
        return None
    return before, question_id


async def edited_answer(
    message: Message,
    state: FSMContext,
    survey: SurveyService,
    bot: Bot,
    locale: str,
) -> None:
    """An edited message while answering: replaces the answer just given, scrubbed again;
    any other edit is refused. The edited message is deleted either way."""
    text = message.text or message.caption or ""
    await _delete(bot, message)
    chat_id = message.chat.id
    data = await state.get_data()
    draft = await survey.draft_in(data)
    if draft is None:
        await bot.send_message(chat_id, screens.edit_not_taken_text())
        return
    engine = survey.engine_of(draft)
    editable = _editable_answer(data, message.message_id, draft, engine)
    if contains_receipt(text) or editable is None or message.text is None:
        notice = (
            screens.receipt_in_answer_text()
            if contains_receipt(text)
            else screens.edit_not_taken_text()
        )
        await bot.send_message(chat_id, notice)
        await _show_at_bottom(
            bot, chat_id, state, data, _screen_for(engine, engine.step(draft), locale)
        )
        return
    before, question_id = editable
    question = engine.questionnaire.question(question_id)
    masked: tuple[str, ...] = ()
    value = text
    if question.type == "text":
        scrubbed = scrub(text)
        value, masked = scrubbed.text, scrubbed.masked
    outcome = engine.answer(before, value, question_id=question_id)
    if outcome.error is not None:
        await bot.send_message(chat_id, screens.edit_refused_text(outcome.error))
        await _show_at_bottom(
            bot, chat_id, state, data, _screen_for(engine, engine.step(draft), locale)
        )
        return
    await state.update_data({DRAFT_KEY: outcome.draft.to_json()})
    stored = outcome.draft.answers.get(question_id)
    await bot.send_message(chat_id, screens.edit_recorded_text(str(stored), masked))
    await _show_at_bottom(bot, chat_id, state, data, _screen_for(engine, outcome.step, locale))


async def edited_in_idle_chat(message: Message, bot: Bot) -> None:
    """An edit outside the questionnaire changes nothing; a receipt code in it is deleted."""
    text = message.text or message.caption or ""
    if contains_receipt(text):
        await _delete(bot, message)
        await bot.send_message(message.chat.id, screens.receipt_in_idle_chat_text())
        return
    await bot.send_message(message.chat.id, screens.idle_edit_text())


async def media_while_answering(
    message: Message, state: FSMContext, survey: SurveyService, bot: Bot, locale: str
) -> None:
    """Voice, photos, files, stickers, locations, contacts: removed from the chat, explained
    kindly, and the question is asked again."""
    await _delete(bot, message)
    data = await state.get_data()
    draft = await survey.draft_in(data)
    kind = message.content_type
    await message.answer(screens.media_refusal(getattr(kind, "value", str(kind))))
    if draft is not None:
        engine = survey.engine_of(draft)
        screen = _screen_for(engine, engine.step(draft), locale)
        await _show_at_bottom(bot, message.chat.id, state, data, screen)


def create_router() -> Router:
    """A fresh Router (a Router can belong to one Dispatcher only)."""
    router = Router(name="respondent")
    router.message.filter(F.chat.type == ChatType.PRIVATE)
    router.message.register(start, CommandStart())
    router.message.register(cancel_command, Command("cancel"))
    router.message.register(preview_command, Command("questionnaire_preview"))
    router.callback_query.register(consent, SurveyCallback.filter(F.a == Act.CONSENT))
    router.callback_query.register(
        resume_or_restart, SurveyCallback.filter(F.a.in_({Act.RESUME, Act.RESTART}))
    )
    router.callback_query.register(
        survey_button,
        SurveyCallback.filter(
            F.a.in_(
                {
                    Act.ANSWER,
                    Act.TOGGLE,
                    Act.DONE,
                    Act.SKIP,
                    Act.BACK,
                    Act.EDIT,
                    Act.REVIEW,
                    Act.SUBMIT,
                    Act.CANCEL,
                }
            )
        ),
    )
    router.callback_query.register(clear_chat, ClearChatCallback.filter())
    router.callback_query.register(receipt_saved, ReceiptSavedCallback.filter())
    router.message.register(
        typed_answer, StateFilter(Survey.answering), F.text, ~F.text.startswith("/")
    )
    router.message.register(media_while_answering, StateFilter(Survey.answering), ~F.text)
    router.edited_message.filter(F.chat.type == ChatType.PRIVATE)
    router.edited_message.register(edited_answer, StateFilter(Survey.answering))
    router.edited_message.register(edited_in_idle_chat, StateFilter(None))
    return router
