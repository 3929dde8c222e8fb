"""/broadcast for admins: compose (HTML text, optional photo), preview exactly as recipients
will see it, choose the audience (everyone, or one language), confirm; then pause, resume or
cancel from the progress message. The `IsAdmin` router filter asks for the role on every
message and every button press, so forged or stale callback data grants nothing; everyone
else is refused politely. The sending itself is
`bot.broadcast` (see `BroadcastRuntime`).
"""

from __future__ import annotations

from contextlib import suppress

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, StateFilter, or_f
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.broadcast.callbacks import BroadcastAction, BroadcastCallback
from bot.broadcast.runtime import BroadcastRuntime
from bot.i18n import LANGUAGE_NAMES, SUPPORTED_LOCALES
from bot.staff.filters import IsAdmin, PrivateChat, restricted
from storage.repositories import BroadcastContent, SubscriberRepository

MAX_TEXT = 4096
MAX_CAPTION = 1024


class BroadcastForm(StatesGroup):
    compose = State()
    audience = State()
    confirm = State()


def _not_allowed() -> str:
    return _("Only administrators can do this.")


def _button(text: str, action: BroadcastAction, job: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text, callback_data=BroadcastCallback(a=action, job=job).pack()
    )


async def broadcast_command(message: Message, state: FSMContext) -> None:
    await state.set_state(BroadcastForm.compose)
    await state.set_data({})
    await message.answer(
        _(
            "Send the broadcast: a text (formatting is kept), or a photo with a caption. "
            "You will see a preview before anything is sent."
        ),
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[[_button(_("Discard"), BroadcastAction.DISCARD)]]
        ),
    )


async def _preview(bot: Bot, chat_id: int, content: BroadcastContent) -> None:
    if content.photo:
        await bot.send_photo(chat_id, content.photo, caption=content.text or None)
    else:
        await bot.send_message(chat_id, content.text)


async def composed(
    message: Message,
    state: FSMContext,
    bot: Bot,
    subscribers: SubscriberRepository,
) -> None:
    if message.photo:
        content = BroadcastContent(
            message.html_text if message.caption else "", message.photo[-1].file_id
        )
        too_long = len(message.caption or "") > MAX_CAPTION
    elif message.text:
        content = BroadcastContent(message.html_text)
        too_long = len(message.text) > MAX_TEXT
    else:
        await message.answer(_("Please send a text or a photo with a caption."))
        return
    if too_long:
        await message.answer(_("That is too long for one Telegram message."))
        return
    await offer_broadcast(bot, message.chat.id, state, content, subscribers)


async def offer_broadcast(
    bot: Bot,
    chat_id: int,
    state: FSMContext,
    content: BroadcastContent,
    subscribers: SubscriberRepository,
) -> None:
    """Preview `content` exactly as recipients will get it, then ask for the audience.

    The composer's next steps (audience, confirm) follow from here; campaign announcements
    and reminders enter the same way with a drafted text (the caller checked the role)."""
    await bot.send_message(chat_id, _("Preview — exactly what subscribers will receive:"))
    try:
        await _preview(bot, chat_id, content)
    except TelegramBadRequest as exc:
        await bot.send_message(
            chat_id, _("Telegram refused this message: {reason}").format(reason=exc.message)
        )
        return
    await state.set_state(BroadcastForm.audience)
    await state.set_data({"text": content.text, "photo": content.photo})
    rows = [
        [
            _button(
                _("All subscribers ({count})").format(count=await subscribers.count_active()),
                BroadcastAction.AUDIENCE_ALL,
            )
        ]
    ]
    for locale in SUPPORTED_LOCALES:
        count = await subscribers.count_active(locale)
        rows.append(
            [
                _button(
                    _("{language} only ({count})").format(
                        language=LANGUAGE_NAMES.get(locale, locale), count=count
                    ),
                    BroadcastAction.AUDIENCE_LOCALE,
                    locale,
                )
            ]
        )
    rows.append([_button(_("Discard"), BroadcastAction.DISCARD)])
    await bot.send_message(
        chat_id,
        _("Who should receive it?"),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=rows),
    )


async def broadcast_button(
    query: CallbackQuery,
    callback_data: BroadcastCallback,
    state: FSMContext,
    subscribers: SubscriberRepository,
    broadcasts: BroadcastRuntime,
    i18n: I18n,
) -> None:
    user_id = query.from_user.id
    action = callback_data.a
    if action in (BroadcastAction.PAUSE, BroadcastAction.RESUME, BroadcastAction.CANCEL):
        await _control(query, callback_data, broadcasts, user_id)
        return
    data = await state.get_data()
    current = await state.get_state()
    if action == BroadcastAction.DISCARD:
        if current in (s.state for s in BroadcastForm.__states__):
            await state.clear()
        await query.answer(_("Discarded; nothing was sent."))
        await _drop_keyboard(query)
        return
    if "text" not in data:
        await query.answer(_("This draft has expired; start again with /broadcast."))
        return
    if action in (BroadcastAction.AUDIENCE_ALL, BroadcastAction.AUDIENCE_LOCALE):
        locale = callback_data.job if action == BroadcastAction.AUDIENCE_LOCALE else None
        if locale is not None and locale not in SUPPORTED_LOCALES:
            await query.answer(_("Unknown language."))
            return
        count = await subscribers.count_active(locale)
        await state.set_state(BroadcastForm.confirm)
        await state.update_data(locale=locale)
        await query.answer()
        audience = (
            _("all subscribers")
            if locale is None
            else _("subscribers who chose {language}").format(
                language=LANGUAGE_NAMES.get(locale, locale)
            )
        )
        if query.message is not None:
            await query.message.answer(
                _("Send the preview above to {audience}: {count} chat(s)?").format(
                    audience=audience, count=count
                ),
                reply_markup=InlineKeyboardMarkup(
                    inline_keyboard=[
                        [
                            _button(_("Send"), BroadcastAction.CONFIRM),
                            _button(_("Discard"), BroadcastAction.DISCARD),
                        ]
                    ]
                ),
            )
        return
    if action == BroadcastAction.CONFIRM:
        if current != BroadcastForm.confirm.state:
            await query.answer(_("Choose the audience first."))
            return
        await state.clear()
        await query.answer(_("Broadcast started."))
        await _drop_keyboard(query)
        chat_id = query.message.chat.id if query.message is not None else user_id
        await broadcasts.start(
            BroadcastContent(str(data["text"]), data.get("photo")),
            locale=data.get("locale"),
            actor_user_id=user_id,
            progress_chat_id=chat_id,
            admin_locale=i18n.current_locale,
        )
        return
    await query.answer()


async def _control(
    query: CallbackQuery,
    callback_data: BroadcastCallback,
    broadcasts: BroadcastRuntime,
    user_id: int,
) -> None:
    job = callback_data.job
    if await broadcasts.repository.status_of(job) is None:
        await query.answer(_("No such broadcast."))
        return
    if callback_data.a == BroadcastAction.PAUSE:
        done = await broadcasts.pause(job, user_id)
        await query.answer(_("Paused.") if done else _("It is not running."))
    elif callback_data.a == BroadcastAction.RESUME:
        done = await broadcasts.resume(job, user_id)
        await query.answer(_("Resumed.") if done else _("It is not paused."))
    else:
        done = await broadcasts.cancel(job, user_id)
        await query.answer(_("Cancelled.") if done else _("It has already ended."))


async def _drop_keyboard(query: CallbackQuery) -> None:
    if isinstance(query.message, Message):
        with suppress(TelegramBadRequest):
            await query.message.edit_reply_markup(reply_markup=None)


async def refuse_command(message: Message) -> None:
    await message.answer(_not_allowed())


async def refuse_composed(message: Message, state: FSMContext) -> None:
    """Someone no longer an admin, in the middle of composing: the draft goes."""
    await state.clear()
    await message.answer(_not_allowed())


async def refuse_button(query: CallbackQuery) -> None:
    await query.answer(_not_allowed(), show_alert=True)


def create_router() -> Router:
    """A fresh Router (a Router can belong to one Dispatcher only): the admins' router, then
    the refusals for everyone else."""
    composing = (StateFilter(BroadcastForm.compose), ~F.text.startswith("/"))
    buttons = BroadcastCallback.filter()
    admin = restricted(
        "broadcast.admin",
        IsAdmin(),
        messages=or_f(Command("broadcast"), StateFilter(BroadcastForm.compose)),
        callbacks=buttons,
    )
    admin.message.register(broadcast_command, Command("broadcast"))
    admin.message.register(composed, *composing)
    admin.callback_query.register(broadcast_button, BroadcastCallback.filter())

    refusals = Router(name="broadcast.refusals")
    refusals.message.filter(PrivateChat())
    refusals.message.register(refuse_command, Command("broadcast"))
    refusals.message.register(refuse_composed, *composing)
    refusals.callback_query.register(refuse_button, buttons)

    router = Router(name="broadcast")
    router.include_routers(admin, refusals)
    return router
