"""The people side: what users send, what they see, and waiting on the bot."""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Bot
from aiogram.types import (
    InaccessibleMessage,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)

from bot.harness.emulator import BotApiEmulator, ChatMessage, ChatWaitTimeout, EmulatedUser


def markup(*buttons: InlineKeyboardButton) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[list(buttons)])


async def test_every_kind_of_user_message_is_a_valid_update(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    user = emulator.user(user_id=9601, first_name="张", last_name="三", username="zhangsan")
    await user.send_text("你好")
    await user.send_command("/start", "campaign_7")
    await user.send_sticker("🙂")
    await user.send_photo(caption="现场照片", width=1280, height=960)
    await user.send_voice(duration=4)
    await user.send_video(duration=6)
    await user.send_document(b"%PDF-1.4", "材料.pdf", mime_type="application/pdf")
    await user.send_location(31.2304, 121.4737)
    await user.send_contact()
    updates = await bot.get_updates()
    messages = [u.message for u in updates if u.message]
    assert len(messages) == 9
    text, command, sticker, photo, voice, video, document, location, contact = messages
    assert text.text == "你好" and text.from_user is not None and text.from_user.id == user.id
    assert command.text == "/start campaign_7"
    assert command.entities is not None and command.entities[0].type == "bot_command"
    assert sticker.sticker is not None and sticker.sticker.emoji == "🙂"
    assert photo.photo is not None and (photo.photo[-1].width, photo.photo[-1].height) == (
        1280,
        960,
    )
    assert photo.caption == "现场照片"
    assert voice.voice is not None and voice.voice.duration == 4
    assert video.video is not None and video.video.duration == 6
    assert document.document is not None and document.document.file_name == "材料.pdf"
    assert location.location is not None and location.location.latitude == pytest.approx(31.2304)
    assert contact.contact is not None and contact.contact.user_id == user.id
    file = await bot.get_file(document.document.file_id)
    assert file.file_path is not None
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == b"%PDF-1.4"
    assert [m.message_id for m in messages] == list(range(1, 10))


async def test_the_chat_shows_edits_and_deletions(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=9602, started=True)
    first = await bot.send_message(user.id, "一")
    second = await bot.send_message(
        user.id, "二", reply_markup=markup(InlineKeyboardButton(text="好", callback_data="ok"))
    )
    await bot.edit_message_text("一（改）", chat_id=user.id, message_id=first.message_id)
    await bot.delete_message(user.id, second.message_id)
    assert [(m.text, m.edited) for m in user.messages] == [("一（改）", True)]
    assert user.last_bot_message is not None and user.last_bot_message.text == "一（改）"


async def test_press_finds_the_newest_message_with_the_button(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    user = emulator.user(user_id=9603, started=True)
    older = await bot.send_message(
        user.id, "旧", reply_markup=markup(InlineKeyboardButton(text="继续", callback_data="old"))
    )
    await bot.send_message(
        user.id, "新", reply_markup=markup(InlineKeyboardButton(text="继续", callback_data="new"))
    )
    await bot.send_message(user.id, "无按钮")
    assert (await user.press("继续")).data == "new"
    assert (await user.press("继续", message=older.message_id)).data == "old"
    by_predicate = await user.press(lambda b: (b.callback_data or "").startswith("ol"))
    assert by_predicate.message_id == older.message_id
    updates = await bot.get_updates()
    queries = [u.callback_query for u in updates if u.callback_query]
    assert [q.data for q in queries] == ["new", "old", "old"]
    assert queries[0].message is not None and queries[0].message.message_id == older.message_id + 1
    assert queries[0].from_user.id == user.id
    with pytest.raises(LookupError, match="no inline button"):
        await user.press("不存在")


async def test_press_refuses_url_buttons(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=9604, started=True)
    await bot.send_message(
        user.id, "链接", reply_markup=markup(InlineKeyboardButton(text="官网", url="https://x.org"))
    )
    with pytest.raises(ValueError, match="not a callback button"):
        await user.press("官网")


async def test_press_data_on_a_deleted_message_is_inaccessible(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    user = emulator.user(user_id=9605, started=True)
    sent = await bot.send_message(user.id, "x")
    await bot.delete_message(user.id, sent.message_id)
    forged = await user.press_data("q:999:forged", message_id=sent.message_id)
    updates = await bot.get_updates()
    query = updates[-1].callback_query
    assert query is not None and query.id == forged.id and query.data == "q:999:forged"
    assert isinstance(query.message, InaccessibleMessage)
    assert query.message.message_id == sent.message_id


async def test_wait_for_message_waits_for_the_bot(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=9606)
    sent = await user.send_text("在吗")

    async def reply_later() -> None:
        await asyncio.sleep(0.05)
        await bot.send_message(user.id, "稍等")
        await bot.send_message(user.id, "在的，请讲")

    task = asyncio.create_task(reply_later())
    reply = await user.wait_for_message("请讲", timeout=30)
    await task
    assert reply.text == "在的，请讲"
    assert reply.message_id > sent.message_id
    first = await user.wait_for_message(after=sent)
    assert first.text == "稍等"


async def test_wait_for_times_out_with_the_transcript(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=9607, first_name="李", last_name="四")
    await user.send_text("有人吗")
    await bot.send_message(
        user.id, "请选择", reply_markup=markup(InlineKeyboardButton(text="甲", callback_data="a"))
    )
    with pytest.raises(ChatWaitTimeout) as error:
        await user.wait_for_message("不会出现", timeout=0.05)
    report = str(error.value)
    assert "no bot message containing '不会出现'" in report
    assert "#1 李 四: 有人吗" in report
    assert "#2 bot 清风: 请选择" in report
    assert "[甲 -> a]" in report


async def test_wait_for_predicate_on_the_chat(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=9608, started=True)
    waiter = asyncio.create_task(
        user.wait_for(lambda chat: any(m.edited for m in chat.messages), timeout=30)
    )
    sent = await bot.send_message(user.id, "v1")
    await asyncio.sleep(0.01)
    assert not waiter.done()
    await bot.edit_message_text("v2", chat_id=user.id, message_id=sent.message_id)
    await waiter


async def test_wait_answered(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=9609, started=True)
    await bot.send_message(
        user.id, "q", reply_markup=markup(InlineKeyboardButton(text="A", callback_data="a"))
    )
    press = await user.press("A")
    answering = asyncio.create_task(bot.answer_callback_query(press.id, text="收到"))
    answer = await press.wait_answered(timeout=30)
    await answering
    assert answer.text == "收到"
    unanswered = await user.press("A")
    with pytest.raises(ChatWaitTimeout, match="not answered"):
        await unanswered.wait_answered(timeout=0.05)


async def test_keyboard_views(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=9610, started=True)
    await bot.send_message(
        user.id,
        "q",
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(text="是", callback_data="y"),
                    InlineKeyboardButton(text="否", callback_data="n"),
                ],
                [InlineKeyboardButton(text="说明", url="https://example.org/help")],
            ]
        ),
    )
    message = user.last_bot_message
    assert isinstance(message, ChatMessage)
    assert message.keyboard == [[("是", "y"), ("否", "n")], [("说明", None)]]
    assert message.button_texts == ["是", "否", "说明"]
    help_button = message.button("说明")
    assert help_button is not None and help_button.url == "https://example.org/help"


async def test_same_user_id_gives_the_same_handle(emulator: BotApiEmulator, token: str) -> None:
    first = emulator.user(user_id=9611, first_name="甲")
    again = emulator.user(user_id=9611)
    assert first is again
    assert isinstance(first, EmulatedUser) and again.first_name == "甲"
    generated = emulator.user()
    assert generated.id != first.id and generated.first_name


async def test_block_and_unblock_notify_the_bot(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(user_id=9612, started=True)
    user.block()
    user.unblock()
    updates = await bot.get_updates()
    changes = [u.my_chat_member for u in updates if u.my_chat_member]
    assert [(c.old_chat_member.status, c.new_chat_member.status) for c in changes] == [
        ("member", "kicked"),
        ("kicked", "member"),
    ]


async def test_group_privacy_mode(emulator: BotApiEmulator, bot: Bot) -> None:
    zhang = emulator.user(user_id=9620, first_name="张")
    li = emulator.user(user_id=9621, first_name="李")
    group = emulator.group(chat_id=-1009876543210, title="调研组", members=[zhang, li])
    await group.send_text(zhang, "大家好")  # not for the bot
    await group.send_command(li, "/digest")
    await group.send_command(zhang, "/digest", mention_bot=True)
    await group.send_text(zhang, "/help@some_other_bot")
    reply_target = await bot.send_message(group.chat_id, "本周汇总")
    await group.send_text(li, "谢谢", reply_to=reply_target.message_id)
    updates = await bot.get_updates()
    texts = [u.message.text for u in updates if u.message]
    assert texts == ["/digest", "/digest@qingfeng_bot", "谢谢"]
    first = next(u.message for u in updates if u.message)
    assert first.chat.type == "supergroup" and first.chat.title == "调研组"
    assert group.messages[0].text == "大家好"  # the group still shows everything
    outsider = emulator.user(user_id=9622)
    with pytest.raises(ValueError, match="not a member"):
        await group.send_text(outsider, "我也来")


async def test_group_buttons_and_removal(emulator: BotApiEmulator, bot: Bot) -> None:
    member = emulator.user(user_id=9630)
    group = emulator.group(title="组", members=[member])
    await bot.send_message(
        group.chat_id,
        "投票",
        reply_markup=markup(InlineKeyboardButton(text="赞成", callback_data="y")),
    )
    press = await group.press(member, "赞成")
    await bot.answer_callback_query(press.id, text="已记录")
    assert [a.text for a in member.callback_answers] == ["已记录"]
    group.remove_bot()
    from aiogram.exceptions import TelegramForbiddenError

    with pytest.raises(TelegramForbiddenError, match="bot was kicked from the supergroup chat"):
        await bot.send_message(group.chat_id, "还在吗")


async def test_bot_sees_the_user_as_telegram_describes_them(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    user = emulator.user(
        user_id=9640, first_name="王", last_name="五", username="wangwu", language_code="en"
    )
    await user.send_text("hi")
    update = (await bot.get_updates())[0]
    assert isinstance(update, Update) and update.message is not None
    sender = update.message.from_user
    assert sender is not None
    assert (sender.id, sender.first_name, sender.last_name, sender.username) == (
        9640,
        "王",
        "五",
        "wangwu",
    )
    assert sender.language_code == "en" and sender.is_bot is False
