"""Everything the emulator answers has the shape the spec gives it (required fields, types)."""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
)

from bot.harness.emulator import ApiSpec, BotApiEmulator, load_spec, make_png

#: Fields newer than the shipped spec (10.1) that aiogram 3.31 (10.3) requires.
NEWER_FIELDS = {("ChatMemberAdministrator", "can_send_welcome_messages")}
_SCALARS = {
    "Integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "Float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "String": lambda v: isinstance(v, str),
    "Boolean": lambda v: isinstance(v, bool),
    "True": lambda v: v is True,
}


def violations(spec: ApiSpec, type_expr: str, value: Any, path: str) -> list[str]:
    """Where ``value`` departs from ``type_expr`` in the spec (empty if it conforms)."""
    if type_expr.startswith("Array of "):
        if not isinstance(value, list):
            return [f"{path}: expected {type_expr}"]
        item_type = type_expr.removeprefix("Array of ")
        return [
            p
            for i, item in enumerate(value)
            for p in violations(spec, item_type, item, f"{path}[{i}]")
        ]
    if type_expr in _SCALARS:
        return (
            [] if _SCALARS[type_expr](value) else [f"{path}: expected {type_expr}, got {value!r}"]
        )
    type_spec = spec.types.get(type_expr)
    if not isinstance(value, dict):
        return [f"{path}: expected object {type_expr}"]
    if type_spec is None:
        return []  # outside the subset: any object
    if type_spec.subtypes:
        if type_expr == "MaybeInaccessibleMessage":
            chosen = "InaccessibleMessage" if value.get("date") == 0 else "Message"
            return violations(spec, chosen, value, path)
        for name in type_spec.subtypes:
            subtype = spec.types[name]
            key = subtype.discriminator_field
            if key and value.get(key) == subtype.discriminator:
                return violations(spec, name, value, path)
        return [f"{path}: no {type_expr} subtype matches {value!r}"]
    problems: list[str] = []
    fields = {f.name: f for f in type_spec.fields}
    for field in type_spec.fields:
        if field.required and field.name not in value:
            problems.append(f"{path}.{field.name}: required by {type_expr}")
    for name, item in value.items():
        if (type_expr, name) in NEWER_FIELDS:
            continue
        if name not in fields:
            problems.append(f"{path}.{name}: not a field of {type_expr}")
            continue
        alternatives = [violations(spec, t, item, f"{path}.{name}") for t in fields[name].types]
        if all(alternatives):
            problems.extend(alternatives[0])
    return problems


def test_the_checker_catches_departures() -> None:
    spec = load_spec()
    good = {"id": 1, "is_bot": False, "first_name": "张"}
    assert violations(spec, "User", good, "user") == []
    assert violations(spec, "User", {"id": "1", "is_bot": False}, "user") == [
        "user.first_name: required by User",
        "user.id: expected Integer, got '1'",
    ]
    assert violations(spec, "User", {**good, "nickname": "x"}, "u") == [
        "u.nickname: not a field of User"
    ]


async def test_every_response_and_update_conforms(emulator: BotApiEmulator, bot: Bot) -> None:
    spec = load_spec()
    user = emulator.user(user_id=9801, first_name="张", last_name="三", username="zhangsan")
    admin = emulator.user(user_id=9802)
    group = emulator.group(title="调研组", members=[user], admins=[admin], bot_is_admin=True)
    await user.send_command("/start")
    await user.send_photo(caption="照片")
    await user.send_document(b"doc", "a.txt")
    await user.send_sticker()
    await user.send_voice()
    await user.send_video()
    await user.send_location()
    await user.send_contact()
    await group.send_command(user, "/digest")
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="好", callback_data="ok")]]
    )
    text = await bot.send_message(
        user.id, "<b>你好</b> <a href='https://x.org'>链接</a>", parse_mode="HTML",
        reply_markup=keyboard, protect_content=True,
    )  # fmt: skip
    photo = await bot.send_photo(user.id, BufferedInputFile(make_png(400, 300), "c.png"))
    document = await bot.send_document(user.id, BufferedInputFile(b"x", "r.csv"), caption="报表")
    await bot.copy_message(user.id, user.id, 1)
    await bot.forward_message(user.id, user.id, 1)
    await bot.edit_message_text("改", chat_id=user.id, message_id=text.message_id)
    await bot.edit_message_caption(chat_id=user.id, message_id=document.message_id, caption="新")
    await bot.edit_message_reply_markup(
        chat_id=user.id, message_id=photo.message_id, reply_markup=keyboard
    )
    press = await user.press("好")
    await user.press_data("stale", message_id=999)
    await bot.answer_callback_query(press.id, text="收到")
    user.block()
    user.unblock()
    await bot.send_chat_action(user.id, "typing")
    await bot.get_me()
    await bot.get_chat(user.id)
    await bot.get_chat(group.chat_id)
    for member in (user.id, admin.id, bot.id):
        await bot.get_chat_member(group.chat_id, member)
    assert document.document is not None
    await bot.get_file(document.document.file_id)
    await bot.set_my_commands([BotCommand(command="start", description="开始")])
    await bot.get_my_commands()
    await bot.get_webhook_info()
    await bot.set_my_description("描述")
    await bot.get_my_description()
    await bot.get_my_short_description()
    await bot.get_chat_menu_button()
    await bot.delete_message(user.id, text.message_id)
    await bot.get_updates()

    checked = 0
    for record in emulator.calls:
        if not record.ok:
            continue
        returns = spec.methods[record.method].returns
        results = [violations(spec, t, record.result, record.method) for t in returns]
        assert not all(results), results[0]
        checked += 1
    assert checked == len(emulator.calls)
    updates = emulator.calls.last("getUpdates")
    assert updates is not None and len(updates.result) >= 13
