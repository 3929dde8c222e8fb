"""Sending, editing, deleting and answering, driven through a real aiogram Bot."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
)

from bot.harness.emulator import BotApiEmulator, VirtualClock

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


def keyboard(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=text, callback_data=data) for text, data in row]
            for row in rows
        ]
    )


async def test_send_message_returns_a_full_message(
    emulator: BotApiEmulator, bot: Bot, clock: VirtualClock
) -> None:
    user = emulator.user(user_id=7001, first_name="张", last_name="三", username="zhangsan")
    await user.send_command("/start")
    sent = await bot.send_message(
        user.id,
        "<b>欢迎</b>",
        parse_mode="HTML",
        reply_markup=keyboard([("开始", "start")]),
        protect_content=True,
    )
    assert sent.message_id == 2  # the user's /start was message 1 in this chat
    assert sent.date.timestamp() == clock.now()
    assert sent.chat.id == user.id
    assert sent.chat.type == "private"
    assert (sent.chat.first_name, sent.chat.last_name, sent.chat.username) == (
        "张",
        "三",
        "zhangsan",
    )
    assert sent.from_user is not None and sent.from_user.is_bot
    assert sent.from_user.username == "qingfeng_bot"
    assert sent.text == "欢迎"
    assert sent.entities is not None and sent.entities[0].type == "bold"
    assert sent.has_protected_content is True
    assert sent.reply_markup is not None
    assert sent.reply_markup.model_dump(exclude_none=True) == {
        "inline_keyboard": [[{"text": "开始", "callback_data": "start"}]]
    }


async def test_message_ids_increase_per_chat(emulator: BotApiEmulator, bot: Bot) -> None:
    first = emulator.user(user_id=7002, started=True)
    second = emulator.user(user_id=7003, started=True)
    ids_first = [(await bot.send_message(first.id, f"m{i}")).message_id for i in range(3)]
    ids_second = [(await bot.send_message(second.id, "x")).message_id for _ in range(2)]
    assert ids_first == [1, 2, 3]
    assert ids_second == [1, 2]


async def test_reply_parameters(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=7004)
    question = await user.send_text("我想反映一个问题")
    reply = await bot.send_message(
        user.id, "收到", reply_parameters=ReplyParameters(message_id=question.message_id)
    )
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.text == "我想反映一个问题"
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(user.id, "x", reply_parameters=ReplyParameters(message_id=999))
    tolerant = ReplyParameters(message_id=999, allow_sending_without_reply=True)
    assert (
        await bot.send_message(user.id, "y", reply_parameters=tolerant)
    ).reply_to_message is None


async def test_who_the_bot_may_write_to(emulator: BotApiEmulator, bot: Bot) -> None:
    never_started = emulator.user(user_id=7005)
    with pytest.raises(TelegramForbiddenError) as error:
        await bot.send_message(never_started.id, "hi")
    assert error.value.message == "Forbidden: bot can't initiate conversation with a user"

    with pytest.raises(TelegramBadRequest) as not_found:
        await bot.send_message(123_456_789, "hi")
    assert not_found.value.message == "Bad Request: chat not found"

    blocker = emulator.user(user_id=7006)
    await blocker.send_command("/start")
    blocker.block()
    with pytest.raises(TelegramForbiddenError) as blocked:
        await bot.send_message(blocker.id, "hi")
    assert blocked.value.message == "Forbidden: bot was blocked by the user"
    blocker.unblock()
    assert (await bot.send_message(blocker.id, "back")).text == "back"

    gone = emulator.user(user_id=7007, started=True)
    gone.deactivate()
    with pytest.raises(TelegramForbiddenError, match="user is deactivated"):
        await bot.send_chat_action(gone.id, "typing")


async def test_writing_to_a_blocking_user_again_unblocks(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    user = emulator.user(user_id=7008, started=True)
    user.block()
    await user.send_command("/start")  # the "Restart" button
    assert not user.is_blocked
    assert (await bot.send_message(user.id, "hi")).text == "hi"


@pytest.mark.parametrize(
    ("button", "description"),
    [
        (
            InlineKeyboardButton(text="x", callback_data="d" * 65),
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            InlineKeyboardButton(text="x", callback_data="数" * 22),
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (InlineKeyboardButton(text=" ", callback_data="d"), "Bad Request: BUTTON_TEXT_INVALID"),
        (
            InlineKeyboardButton(text="x"),
            "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the "
            "inline keyboard",
        ),
        (
            InlineKeyboardButton(text="x", callback_data="d", url="https://example.com"),
            "Bad Request: can't parse inline keyboard button: exactly one of the optional fields "
            "must be used, got callback_data, url",
        ),
        (InlineKeyboardButton(text="x", url="not a url"), "Bad Request: BUTTON_URL_INVALID"),
    ],
)
async def test_inline_button_rules(
    emulator: BotApiEmulator, bot: Bot, button: InlineKeyboardButton, description: str
) -> None:
    user = emulator.user(user_id=7010, started=True)
    with pytest.raises(TelegramBadRequest) as error:
        await bot.send_message(
            user.id, "choose", reply_markup=InlineKeyboardMarkup(inline_keyboard=[[button]])
        )
    assert error.value.message == description
    assert user.messages == []


async def test_callback_data_limit_is_in_bytes_and_64_is_fine(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    user = emulator.user(user_id=7011, started=True)
    sent = await bot.send_message(
        user.id, "ok", reply_markup=keyboard([("a", "d" * 64), ("b", "数" * 21)])
    )
    assert sent.reply_markup is not None


async def test_at_most_100_buttons(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=7012, started=True)
    hundred = [[(f"{r}-{c}", f"{r}-{c}") for c in range(10)] for r in range(10)]
    await bot.send_message(user.id, "ok", reply_markup=keyboard(*hundred))
    with pytest.raises(TelegramBadRequest, match="reply markup is too long"):
        await bot.send_message(user.id, "no", reply_markup=keyboard(*hundred, [("x", "x")]))


async def test_reply_keyboards_are_chat_state(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=7013, started=True)
    markup = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="是"), KeyboardButton(text="否")]])
    sent = await bot.send_message(user.id, "同意吗？", reply_markup=markup)
    assert sent.reply_markup is None  # Telegram only echoes inline keyboards
    assert user.reply_keyboard == [["是", "否"]]
    answer = await user.tap_reply_keyboard("是")
    assert answer.text == "是"
    with pytest.raises(LookupError):
        await user.tap_reply_keyboard("也许")
    await bot.send_message(user.id, "好", reply_markup=ReplyKeyboardRemove())
    assert user.reply_keyboard is None


async def test_edit_message_text(emulator: BotApiEmulator, bot: Bot, clock: VirtualClock) -> None:
    user = emulator.user(user_id=7020, started=True)
    sent = await bot.send_message(user.id, "问题 1", reply_markup=keyboard([("是", "y")]))
    clock.advance(5)
    edited = await bot.edit_message_text(
        "问题 1 <b>已回答</b>",
        chat_id=user.id,
        message_id=sent.message_id,
        parse_mode="HTML",
        reply_markup=keyboard([("下一题", "next")]),
    )
    assert not isinstance(edited, bool)
    assert edited.text == "问题 1 已回答"
    assert edited.edit_date == clock.now()
    view = user.message(sent.message_id)
    assert view is not None and view.text == "问题 1 已回答" and view.edited
    assert view.keyboard == [[("下一题", "next")]]


async def test_edit_without_markup_removes_the_keyboard(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=7021, started=True)
    sent = await bot.send_message(user.id, "q", reply_markup=keyboard([("a", "a")]))
    await bot.edit_message_text("q!", chat_id=user.id, message_id=sent.message_id)
    view = user.message(sent.message_id)
    assert view is not None and view.buttons == ()


async def test_not_modified(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=7022, started=True)
    markup = keyboard([("a", "a")])
    sent = await bot.send_message(user.id, "<b>q</b>", parse_mode="HTML", reply_markup=markup)
    for attempt in (
        bot.edit_message_text(
            "<b>q</b>",
            chat_id=user.id,
            message_id=sent.message_id,
            parse_mode="HTML",
            reply_markup=markup,
        ),
        bot.edit_message_reply_markup(
            chat_id=user.id, message_id=sent.message_id, reply_markup=markup
        ),
    ):
        with pytest.raises(TelegramBadRequest) as error:
            await attempt
        assert error.value.message == NOT_MODIFIED
    # same text, different entities: that is a modification
    await bot.edit_message_text(
        "q", chat_id=user.id, message_id=sent.message_id, reply_markup=markup
    )


async def test_edit_errors(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=7023)
    own = await user.send_text("用户的消息")
    with pytest.raises(TelegramBadRequest, match="Bad Request: message to edit not found"):
        await bot.edit_message_text("x", chat_id=user.id, message_id=404)
    with pytest.raises(TelegramBadRequest, match="Bad Request: message can't be edited"):
        await bot.edit_message_text("x", chat_id=user.id, message_id=own.message_id)
    from aiogram.types import BufferedInputFile

    from bot.harness.emulator import make_png

    photo = await bot.send_photo(user.id, BufferedInputFile(make_png(8, 8), "a.png"))
    with pytest.raises(TelegramBadRequest, match="there is no text in the message to edit"):
        await bot.edit_message_text("x", chat_id=user.id, message_id=photo.message_id)
    text = await bot.send_message(user.id, "t")
    with pytest.raises(TelegramBadRequest, match="there is no caption in the message to edit"):
        await bot.edit_message_caption(chat_id=user.id, message_id=text.message_id, caption="c")


async def test_edit_caption_and_reply_markup(emulator: BotApiEmulator, bot: Bot) -> None:
    from aiogram.types import BufferedInputFile

    from bot.harness.emulator import make_png

    user = emulator.user(user_id=7024, started=True)
    photo = await bot.send_photo(
        user.id, BufferedInputFile(make_png(8, 8), "a.png"), caption="图表"
    )
    edited = await bot.edit_message_caption(
        chat_id=user.id, message_id=photo.message_id, caption="<i>新图表</i>", parse_mode="HTML"
    )
    assert not isinstance(edited, bool)
    assert edited.caption == "新图表"
    assert edited.caption_entities is not None and edited.caption_entities[0].type == "italic"
    with_keyboard = await bot.edit_message_reply_markup(
        chat_id=user.id, message_id=photo.message_id, reply_markup=keyboard([("下载", "dl")])
    )
    assert not isinstance(with_keyboard, bool)
    assert with_keyboard.caption == "新图表"
    cleared = await bot.edit_message_reply_markup(chat_id=user.id, message_id=photo.message_id)
    assert not isinstance(cleared, bool) and cleared.reply_markup is None


async def test_delete_message_rules(
    emulator: BotApiEmulator, bot: Bot, clock: VirtualClock
) -> None:
    user = emulator.user(user_id=7030, started=True)
    old = await bot.send_message(user.id, "old")
    incoming = await user.send_text("我的回答")
    assert await bot.delete_message(user.id, incoming.message_id) is True  # incoming, private
    assert [m.text for m in user.messages] == ["old"]
    with pytest.raises(TelegramBadRequest) as missing:
        await bot.delete_message(user.id, incoming.message_id)
    assert missing.value.message == "Bad Request: message to delete not found"

    clock.advance(48 * 3600 - 1)
    fresh = await bot.send_message(user.id, "fresh")
    clock.advance(1)
    with pytest.raises(TelegramBadRequest) as too_old:
        await bot.delete_message(user.id, old.message_id)
    assert too_old.value.message == "Bad Request: message can't be deleted"
    assert await bot.delete_message(user.id, fresh.message_id) is True
    assert [m.text for m in user.messages] == ["old"]


async def test_delete_messages_skips_what_it_cannot_delete(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    user = emulator.user(user_id=7031, started=True)
    ids = [(await bot.send_message(user.id, str(i))).message_id for i in range(4)]
    assert await bot.delete_messages(user.id, [ids[0], ids[2], 999]) is True
    assert [m.text for m in user.messages] == ["1", "3"]
    with pytest.raises(TelegramBadRequest, match="too many messages to delete"):
        await bot.delete_messages(user.id, list(range(1, 102)))


async def test_group_deletion_needs_admin_for_others_messages(
    emulator: BotApiEmulator, bot: Bot, clock: VirtualClock
) -> None:
    member = emulator.user(user_id=7032)
    group = emulator.group(title="调研组", members=[member])
    command = await group.send_command(member, "/help")
    with pytest.raises(TelegramBadRequest, match="message can't be deleted"):
        await bot.delete_message(group.chat_id, command.message_id)
    own = await bot.send_message(group.chat_id, "帮助")
    assert await bot.delete_message(group.chat_id, own.message_id)
    admin_group = emulator.group(title="管理组", members=[member], bot_is_admin=True)
    note = await admin_group.send_command(member, "/x")
    clock.advance(72 * 3600)
    assert await bot.delete_message(admin_group.chat_id, note.message_id)


async def test_answer_callback_query(
    emulator: BotApiEmulator, bot: Bot, clock: VirtualClock
) -> None:
    user = emulator.user(user_id=7040, started=True)
    await bot.send_message(user.id, "选", reply_markup=keyboard([("甲", "a"), ("乙", "b")]))
    press = await user.press("乙")
    assert press.data == "b"
    assert not press.answered
    assert await bot.answer_callback_query(press.id, text="已选择乙", show_alert=True)
    assert press.answer is not None and press.answer.text == "已选择乙" and press.answer.show_alert
    assert [a.text for a in user.callback_answers] == ["已选择乙"]

    with pytest.raises(TelegramBadRequest) as twice:
        await bot.answer_callback_query(press.id)
    assert twice.value.message == (
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    )
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query("12345")

    late = await user.press("甲")
    clock.advance(16)
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(late.id)

    long = await user.press("甲")
    with pytest.raises(TelegramBadRequest, match="MESSAGE_TOO_LONG"):
        await bot.answer_callback_query(long.id, text="长" * 201)
    assert await bot.answer_callback_query(long.id, text="长" * 200)
    assert [q.id for q in emulator.unanswered_callbacks()] == [late.id]


async def test_photo_and_document_uploads(emulator: BotApiEmulator, bot: Bot) -> None:
    from aiogram.types import BufferedInputFile

    from bot.harness.emulator import make_png

    user = emulator.user(user_id=7050, started=True)
    png = make_png(1600, 900)
    photo = await bot.send_photo(user.id, BufferedInputFile(png, "chart.png"), caption="趋势")
    assert [(s.width, s.height) for s in photo.photo or []] == [
        (90, 51),
        (320, 180),
        (800, 450),
        (1280, 720),
        (1600, 900),
    ]
    largest = (photo.photo or [])[-1]
    assert largest.file_size == len(png)
    assert emulator.file_content(largest.file_id) == png
    again = await bot.send_photo(user.id, largest.file_id)
    assert [s.file_id for s in again.photo or []] == [s.file_id for s in photo.photo or []]

    report = b"\x50\x4b\x03\x04 fake xlsx"
    document = await bot.send_document(
        user.id, BufferedInputFile(report, "汇总.xlsx"), caption="导出"
    )
    assert document.document is not None
    assert document.document.file_name == "汇总.xlsx"
    assert document.document.mime_type == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert user.download(user.messages[-1]) == report
    file = await bot.get_file(document.document.file_id)
    assert file.file_path is not None
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == report

    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(user.id, BufferedInputFile(b"not an image", "x.png"))
    with pytest.raises(TelegramBadRequest, match="wrong file identifier/HTTP URL specified"):
        await bot.send_photo(user.id, "AgACAgUAAxk-unknown")
    with pytest.raises(TelegramBadRequest, match="can't use file of type Document as Photo"):
        await bot.send_photo(user.id, document.document.file_id)
    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("nope")


async def test_raw_multipart_with_a_directly_named_file_part(
    emulator: BotApiEmulator, raw: object
) -> None:
    import aiohttp

    from bot.harness.emulator import make_png

    from .conftest import RawApi

    assert isinstance(raw, RawApi)
    user = emulator.user(user_id=7051, started=True)
    form = aiohttp.FormData()
    form.add_field("chat_id", str(user.id))
    form.add_field("photo", make_png(30, 20), filename="p.png", content_type="image/png")
    response = await raw.multipart("sendPhoto", form)
    assert response.status == 200
    assert response.body["result"]["photo"][-1]["width"] == 30

    missing = aiohttp.FormData()
    missing.add_field("chat_id", str(user.id))
    missing.add_field("document", "attach://nothing")
    missing.add_field("other", b"x", filename="x.bin")
    response = await raw.multipart("sendDocument", missing)
    assert response.status == 400
    assert (
        response.description
        == "Bad Request: can't parse document: can't find attached file \"nothing\""
    )


async def test_copy_and_forward(emulator: BotApiEmulator, bot: Bot) -> None:
    author = emulator.user(user_id=7060, first_name="李")
    reader = emulator.user(user_id=7061, started=True)
    original = await author.send_text("原文 #标签")
    copied = await bot.copy_message(reader.id, author.id, original.message_id)
    assert reader.message(copied.message_id) is not None
    assert reader.messages[-1].text == "原文 #标签"
    assert "forward_origin" not in reader.messages[-1].raw
    forwarded = await bot.forward_message(reader.id, author.id, original.message_id)
    assert forwarded.forward_origin is not None
    assert forwarded.forward_origin.type == "user"
    protected = await bot.send_message(reader.id, "机密", protect_content=True)
    with pytest.raises(TelegramBadRequest, match="protected content"):
        await bot.forward_message(reader.id, reader.id, protected.message_id)
    with pytest.raises(TelegramBadRequest, match="message to copy not found"):
        await bot.copy_message(reader.id, author.id, 999)


async def test_chat_actions(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=7070, started=True)
    assert await bot.send_chat_action(user.id, "upload_document")
    assert user.chat_actions == ["upload_document"]
    with pytest.raises(TelegramBadRequest, match="wrong parameter action in request"):
        await bot.send_chat_action(user.id, "dancing")


async def test_commands_per_scope_and_language(emulator: BotApiEmulator, bot: Bot) -> None:
    zh_user = emulator.user(user_id=7080, language_code="zh-hans")
    en_user = emulator.user(user_id=7081, language_code="en")
    vip = emulator.user(user_id=7082, language_code="zh-hans")
    default = [BotCommand(command="start", description="开始")]
    english = [BotCommand(command="start", description="Start")]
    private = [
        BotCommand(command="start", description="开始"),
        BotCommand(command="help", description="帮助"),
    ]
    personal = [BotCommand(command="admin", description="管理")]
    assert await bot.set_my_commands(default)
    assert await bot.set_my_commands(english, language_code="en")
    assert await bot.set_my_commands(
        private, scope=BotCommandScopeAllPrivateChats(), language_code="zh"
    )
    assert await bot.set_my_commands(personal, scope=BotCommandScopeChat(chat_id=vip.id))

    async def listed(
        scope: BotCommandScopeChat | None = None, language_code: str | None = None
    ) -> list[tuple[str, str]]:
        commands = await bot.get_my_commands(scope=scope, language_code=language_code)
        return [(c.command, c.description) for c in commands]

    assert await listed() == [("start", "开始")]
    assert await listed(language_code="en") == [("start", "Start")]
    assert await listed(scope=BotCommandScopeChat(chat_id=vip.id)) == [("admin", "管理")]
    assert await listed(language_code="fr") == []
    assert zh_user.command_menu == [("start", "开始"), ("help", "帮助")]
    assert en_user.command_menu == [("start", "Start")]
    assert vip.command_menu == [("admin", "管理")]

    assert await bot.delete_my_commands(scope=BotCommandScopeChat(chat_id=vip.id))
    assert vip.command_menu == [("start", "开始"), ("help", "帮助")]

    for bad, message in (
        ([BotCommand(command="Start!", description="x")], "BOT_COMMAND_INVALID"),
        ([BotCommand(command="ok", description=" ")], "BOT_COMMAND_DESCRIPTION_INVALID"),
    ):
        with pytest.raises(TelegramBadRequest, match=message):
            await bot.set_my_commands(bad)
    with pytest.raises(TelegramBadRequest, match="LANG_CODE_INVALID"):
        await bot.set_my_commands(default, language_code="zh-hans")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.set_my_commands(default, scope=BotCommandScopeChat(chat_id=1))


async def test_get_chat_and_chat_member(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=7090, first_name="王")
    admin = emulator.user(user_id=7091)
    outsider = emulator.user(user_id=7092)
    group = emulator.group(
        chat_id=-1001234567890, title="调研组", members=[user], admins=[admin], bot_is_admin=True
    )
    private = await bot.get_chat(user.id)
    assert (private.id, private.type, private.first_name) == (user.id, "private", "王")
    chat = await bot.get_chat(group.chat_id)
    assert (chat.type, chat.title) == ("supergroup", "调研组")
    assert (await bot.get_chat_member(group.chat_id, user.id)).status == "member"
    assert (await bot.get_chat_member(group.chat_id, admin.id)).status == "administrator"
    assert (await bot.get_chat_member(group.chat_id, outsider.id)).status == "left"
    assert (await bot.get_chat_member(group.chat_id, bot.id)).status == "administrator"
    with pytest.raises(TelegramBadRequest, match="user not found"):
        await bot.get_chat_member(group.chat_id, 1)


async def test_descriptions_and_menu_button(emulator: BotApiEmulator, bot: Bot) -> None:
    from aiogram.types import MenuButtonCommands

    user = emulator.user(user_id=7095)
    assert await bot.set_my_description("匿名问卷", language_code="zh")
    assert (await bot.get_my_description(language_code="zh")).description == "匿名问卷"
    assert (await bot.get_my_description()).description == ""
    assert await bot.set_my_short_description("清风")
    assert (await bot.get_my_short_description()).short_description == "清风"
    assert (await bot.get_chat_menu_button(chat_id=user.id)).type == "default"
    assert await bot.set_chat_menu_button(chat_id=user.id, menu_button=MenuButtonCommands())
    assert (await bot.get_chat_menu_button(chat_id=user.id)).type == "commands"
