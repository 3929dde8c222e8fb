"""Wire behaviour: routes, encodings, status codes and Telegram's error bodies."""

from __future__ import annotations

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramNotFound, TelegramUnauthorizedError
from aiogram.methods import TelegramMethod

from bot.harness.emulator import BotApiEmulator

from .conftest import RawApi, bot_session


async def test_unknown_method_is_404_not_found(raw: RawApi) -> None:
    response = await raw.form("sendTelepathy", {"chat_id": 1})
    assert response.status == 404
    assert response.body == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_unknown_token_is_401_unauthorized(raw: RawApi) -> None:
    response = await raw.form("getMe", token="123:not-a-real-token")
    assert response.status == 401
    assert response.body == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_aiogram_maps_401_and_404(emulator: BotApiEmulator, bot: Bot) -> None:
    async with Bot("42:wrong-secret", session=bot_session(emulator)) as stranger:
        with pytest.raises(TelegramUnauthorizedError):
            await stranger.get_me()

    class SendTelepathy(TelegramMethod[bool]):
        __returning__ = bool
        __api_method__ = "sendTelepathy"

    with pytest.raises(TelegramNotFound):
        await bot(SendTelepathy())


async def test_get_me_over_get_post_and_json(raw: RawApi, token: str) -> None:
    expected_id = int(token.split(":")[0])
    for response in (await raw.get("getMe"), await raw.form("getMe"), await raw.json("getMe")):
        assert response.status == 200
        assert response.body["ok"] is True
        me = response.body["result"]
        assert me["id"] == expected_id
        assert me["is_bot"] is True
        assert me["username"] == "qingfeng_bot"
        assert me["first_name"] == "清风"


async def test_method_names_are_case_insensitive(raw: RawApi) -> None:
    assert (await raw.get("GETME")).status == 200
    assert (await raw.get("getme")).status == 200


@pytest.mark.parametrize(
    ("fields", "description"),
    [
        ({"text": "hi"}, "Bad Request: chat_id is empty"),
        ({"chat_id": 1}, "Bad Request: message text is empty"),
        ({"chat_id": 1, "text": ""}, "Bad Request: message text is empty"),
    ],
)
async def test_missing_required_parameters(
    raw: RawApi, fields: dict[str, object], description: str
) -> None:
    response = await raw.form("sendMessage", fields)
    assert (response.status, response.description) == (400, description)


async def test_missing_parameter_of_another_method(raw: RawApi) -> None:
    response = await raw.form("answerCallbackQuery", {})
    assert (response.status, response.description) == (400, "Bad Request: query_id is empty")
    response = await raw.form("getFile", {})
    assert (response.status, response.description) == (400, "Bad Request: file_id is empty")


@pytest.mark.parametrize(
    ("method", "fields", "description"),
    [
        (
            "deleteMessage",
            {"chat_id": "1", "message_id": "seven"},
            'Bad Request: field "message_id" must be of type Integer',
        ),
        (
            "deleteMessage",
            {"chat_id": "1", "message_id": "1.5"},
            'Bad Request: field "message_id" must be of type Integer',
        ),
        (
            "sendMessage",
            {"chat_id": "1", "text": "x", "disable_notification": "maybe"},
            'Bad Request: field "disable_notification" must be of type Boolean',
        ),
        (
            "sendMessage",
            {"chat_id": "1", "text": "x", "reply_markup": "{not json"},
            "Bad Request: can't parse reply_markup JSON object",
        ),
        (
            "sendMessage",
            {"chat_id": "1", "text": "x", "reply_markup": '{"inline_keyboard": "rows"}'},
            'Bad Request: can\'t parse reply_markup: Field "inline_keyboard" must be of type '
            "Array of Array of InlineKeyboardButton",
        ),
        (
            "sendMessage",
            {
                "chat_id": "1",
                "text": "x",
                "reply_markup": '{"inline_keyboard": [[{"callback_data": "a"}]]}',
            },
            "Bad Request: can't parse reply_markup: Can't find field \"text\"",
        ),
        (
            "sendMessage",
            {
                "chat_id": "1",
                "text": "x",
                "reply_markup": '{"inline_keyboard": [[{"text": {"a": 1}, "callback_data": "a"}]]}',
            },
            'Bad Request: can\'t parse reply_markup: Field "text" must be of type String',
        ),
        (
            "deleteMessages",
            {"chat_id": "1", "message_ids": '["a"]'},
            'Bad Request: field "message_ids" must be of type Array of Integer',
        ),
        (
            "setMyCommands",
            {"commands": "[]", "scope": '{"type": "everyone"}'},
            'Bad Request: can\'t parse scope: Unsupported BotCommandScope type "everyone"',
        ),
        (
            "getUpdates",
            {"allowed_updates": '"message"'},
            'Bad Request: field "allowed_updates" must be of type Array of String',
        ),
    ],
)
async def test_wrong_types_are_rejected_in_telegram_words(
    raw: RawApi, method: str, fields: dict[str, str], description: str
) -> None:
    response = await raw.form(method, fields)
    assert response.status == 400
    assert response.body == {"ok": False, "error_code": 400, "description": description}


async def test_integer_or_string_chat_id(emulator: BotApiEmulator, raw: RawApi) -> None:
    user = emulator.user(user_id=5001, started=True)
    group = emulator.group(title="调研组", members=[user], username="survey_group")
    by_number = await raw.json("sendMessage", {"chat_id": user.id, "text": "a"})
    by_string = await raw.form("sendMessage", {"chat_id": str(user.id), "text": "b"})
    by_username = await raw.form("sendMessage", {"chat_id": "@survey_group", "text": "c"})
    unknown = await raw.form("sendMessage", {"chat_id": "@nobody_here", "text": "d"})
    assert [by_number.status, by_string.status, by_username.status] == [200, 200, 200]
    assert by_username.body["result"]["chat"]["id"] == group.chat_id
    assert (unknown.status, unknown.description) == (400, "Bad Request: chat not found")


async def test_json_body_takes_typed_values_and_objects(
    emulator: BotApiEmulator, raw: RawApi
) -> None:
    user = emulator.user(user_id=5002, started=True)
    response = await raw.json(
        "sendMessage",
        {
            "chat_id": user.id,
            "text": "选择",
            "protect_content": True,
            "reply_markup": {"inline_keyboard": [[{"text": "是", "callback_data": "yes"}]]},
        },
    )
    assert response.status == 200
    message = response.body["result"]
    assert message["has_protected_content"] is True
    assert message["reply_markup"] == {
        "inline_keyboard": [[{"text": "是", "callback_data": "yes"}]]
    }


async def test_unknown_parameters_and_fields_are_ignored(
    emulator: BotApiEmulator, raw: RawApi
) -> None:
    user = emulator.user(user_id=5003, started=True)
    response = await raw.form(
        "sendMessage",
        {
            "chat_id": user.id,
            "text": "hi",
            "telepathy": "on",
            "reply_markup": {
                "inline_keyboard": [[{"text": "a", "callback_data": "a", "sparkle": True}]]
            },
        },
    )
    assert response.status == 200
    assert response.body["result"]["reply_markup"]["inline_keyboard"][0][0] == {
        "text": "a",
        "callback_data": "a",
    }


async def test_query_string_parameters_work_for_get(emulator: BotApiEmulator, raw: RawApi) -> None:
    user = emulator.user(user_id=5004, started=True)
    response = await raw.get("sendMessage", {"chat_id": str(user.id), "text": "via GET"})
    assert response.status == 200
    assert user.last_bot_message is not None
    assert user.last_bot_message.text == "via GET"


async def test_malformed_json_body_is_a_bad_request(emulator: BotApiEmulator, raw: RawApi) -> None:
    async with raw.session.post(
        raw.url("sendMessage"), data=b"{oops", headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 400
        assert "can't parse JSON" in (await response.json())["description"]


async def test_aiogram_surfaces_bad_request(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(chat_id=999_999, text="hello")


async def test_file_download_route(emulator: BotApiEmulator, raw: RawApi) -> None:
    user = emulator.user(user_id=5005)
    sent = await user.send_document(b"col1,col2\n1,2\n", "data.csv")
    assert sent.file_id is not None
    info = await raw.form("getFile", {"file_id": sent.file_id})
    path = info.body["result"]["file_path"]
    assert path.endswith(".csv")
    async with raw.session.get(f"{emulator.base_url}/file/bot{raw.token}/{path}") as response:
        assert response.status == 200
        assert await response.read() == b"col1,col2\n1,2\n"
    async with raw.session.get(f"{emulator.base_url}/file/bot{raw.token}/nope.txt") as response:
        assert response.status == 404
    async with raw.session.get(f"{emulator.base_url}/file/bot1:x/{path}") as response:
        assert response.status == 401


async def test_server_binds_loopback_only(emulator: BotApiEmulator) -> None:
    assert emulator.base_url.startswith("http://127.0.0.1:")


async def test_stopped_emulator_refuses_connections(clock: object) -> None:
    emu = BotApiEmulator()
    await emu.start()
    url = emu.base_url
    await emu.stop()
    with pytest.raises(RuntimeError):
        _ = emu.base_url
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(f"{url}/bot1:x/getMe")
