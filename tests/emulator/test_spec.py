"""The shipped spec subset and the generator that produces it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.harness.emulator import load_spec
from bot.harness.emulator.spec import LICENSE_NAME, SUBSET_PATH
from bot.harness.emulator.spec_extract import METHODS, extract_subset, write_subset

FULL_SPEC = Path("/work/shared/telegram/bot-api.min.json")


def test_subset_has_every_method_the_bot_needs() -> None:
    spec = load_spec()
    needed = {
        "getMe", "getUpdates", "sendMessage", "editMessageText", "editMessageReplyMarkup",
        "editMessageCaption", "answerCallbackQuery", "deleteMessage", "deleteMessages",
        "sendPhoto", "sendDocument", "setMyCommands", "deleteMyCommands", "getMyCommands",
        "deleteWebhook", "setWebhook", "getWebhookInfo", "close", "logOut", "sendChatAction",
        "copyMessage", "forwardMessage", "getChat", "getFile",
    }  # fmt: skip
    assert needed <= set(spec.methods)
    assert set(spec.methods) == set(METHODS)


@pytest.mark.parametrize(
    "type_name",
    [
        "InlineKeyboardMarkup",
        "InlineKeyboardButton",
        "ReplyParameters",
        "LinkPreviewOptions",
        "MessageEntity",
        "InputFile",
        "BotCommand",
        "BotCommandScopeChatMember",
        "ReplyKeyboardMarkup",
        "KeyboardButton",
        "User",
    ],
)
def test_subset_has_transitively_referenced_types(type_name: str) -> None:
    assert type_name in load_spec().types


def test_abstract_types_know_their_subtype_discriminators() -> None:
    spec = load_spec()
    scope = spec.types["BotCommandScope"]
    values = {spec.types[name].discriminator for name in scope.subtypes}
    assert values == {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }


def test_licence_ships_next_to_the_subset() -> None:
    licence = SUBSET_PATH.with_name(LICENSE_NAME).read_text(encoding="utf-8")
    assert "MIT License" in licence


def test_extract_follows_parameter_types_and_subtypes_but_not_unrelated_ones() -> None:
    field = {"required": True, "description": ""}
    full = {
        "version": "Bot API 0",
        "release_date": "today",
        "changelog": "",
        "methods": {
            "sendMessage": {
                "fields": [{"name": "reply_markup", "types": ["Markup"], **field}],
                "returns": ["Message"],
            },
            "unusedMethod": {"fields": [{"name": "x", "types": ["Unused"], **field}]},
        },
        "types": {
            "Markup": {
                "fields": [{"name": "rows", "types": ["Array of Array of Button"], **field}]
            },
            "Button": {"fields": [{"name": "scope", "types": ["Scope"], **field}]},
            "Scope": {"subtypes": ["ScopeA"]},
            "ScopeA": {"fields": [{"name": "type", "types": ["String"], **field}]},
            "Message": {"fields": [{"name": "chat", "types": ["Chat"], **field}]},
            "Chat": {"fields": []},
            "Unused": {"fields": []},
        },
    }
    subset = extract_subset(full, methods=["sendMessage"], response_types=["Message"])
    assert set(subset["types"]) == {"Markup", "Button", "Scope", "ScopeA", "Message"}
    assert list(subset["methods"]) == ["sendMessage"]


def test_extract_refuses_names_the_source_lacks() -> None:
    full = {"version": "", "release_date": "", "changelog": "", "methods": {}, "types": {}}
    with pytest.raises(KeyError, match="sendMessage"):
        extract_subset(full, methods=["sendMessage"], response_types=[])


@pytest.mark.skipif(not FULL_SPEC.exists(), reason="full spec not available in this checkout")
def test_committed_subset_is_what_the_generator_produces(tmp_path: Path) -> None:
    target = write_subset(FULL_SPEC, target=tmp_path / "bot-api-subset.json")
    assert json.loads(target.read_text(encoding="utf-8")) == json.loads(
        SUBSET_PATH.read_text(encoding="utf-8")
    )
    assert (tmp_path / LICENSE_NAME).read_bytes() == SUBSET_PATH.with_name(
        LICENSE_NAME
    ).read_bytes()
