"""The Bot API methods: what Telegram does with a validated request, and what it refuses.

Every handler receives parameters already converted by ``validation`` (types checked,
unknown fields dropped) and either returns the ``result`` or raises ``ApiError``. Checks run in
Telegram's order as far as it is observable: the chat (exists, not blocked, bot can write),
then the content (text length after entity parsing, keyboard rules), then flood control, and
only then side effects, so a refused request changes nothing.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bot.harness.emulator import errors
from bot.harness.emulator.errors import ApiError, bad_request, conflict, forbidden
from bot.harness.emulator.files import (
    MAX_DOWNLOAD_BYTES,
    MAX_PHOTO_BYTES,
    MAX_UPLOAD_BYTES,
    StoredFile,
    UploadedFile,
    guess_mime_type,
    image_dimensions,
)
from bot.harness.emulator.formatting import (
    FormattedText,
    FormattingError,
    format_text,
    normalize_url,
)
from bot.harness.emulator.spec import ApiSpec
from bot.harness.emulator.state import (
    DEFAULT_UPDATE_TYPES,
    BotAccount,
    CallbackAnswer,
    ChatState,
    JsonObject,
    StoredMessage,
)
from bot.harness.emulator.validation import FileReference
from bot.harness.emulator.world import TelegramWorld

Params = dict[str, Any]
Handler = Callable[[BotAccount, Params], Awaitable[Any]]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_BUTTONS = 100
MAX_CALLBACK_ANSWER_LENGTH = 200
DELETE_WINDOW_SECONDS = 48 * 3600
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_LANGUAGE = re.compile(r"[a-z]{2}")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_WEBHOOK_PORTS = frozenset({80, 88, 443, 8443})
#: InlineKeyboardButton fields that are not an action (everything else is one).
_BUTTON_DECORATION = frozenset({"text", "icon_custom_emoji_id", "style"})


@dataclass(frozen=True, slots=True)
class Described:
    """A successful result that Telegram accompanies with a ``description``."""

    result: Any
    description: str


class BotApiMethods:
    """Handlers for every method in the spec subset, keyed by their Bot API names."""

    def __init__(self, world: TelegramWorld, spec: ApiSpec) -> None:
        self.world = world
        button = spec.types.get("InlineKeyboardButton")
        fields = {f.name for f in button.fields} if button else {"callback_data", "url"}
        self._button_actions = frozenset(fields - _BUTTON_DECORATION)
        self._polls = 0

    def handlers(self) -> dict[str, Handler]:
        return {
            "getMe": self.get_me,
            "logOut": self.log_out,
            "close": self.close,
            "getUpdates": self.get_updates,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "sendMessage": self.send_message,
            "sendPhoto": self.send_photo,
            "sendDocument": self.send_document,
            "copyMessage": self.copy_message,
            "forwardMessage": self.forward_message,
            "sendChatAction": self.send_chat_action,
            "editMessageText": self.edit_message_text,
            "editMessageCaption": self.edit_message_caption,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "deleteMessages": self.delete_messages,
            "answerCallbackQuery": self.answer_callback_query,
            "getFile": self.get_file,
            "getChat": self.get_chat,
            "getChatMember": self.get_chat_member,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "setMyDescription": self.set_my_description,
            "getMyDescription": self.get_my_description,
            "setMyShortDescription": self.set_my_short_description,
            "getMyShortDescription": self.get_my_short_description,
            "setChatMenuButton": self.set_chat_menu_button,
            "getChatMenuButton": self.get_chat_menu_button,
        }

    # --- shared checks ------------------------------------------------------------------

    def chat(self, bot: BotAccount, chat_id: int | str) -> ChatState:
        chat: ChatState | None
        if isinstance(chat_id, str):
            chat = (
                bot.chats_by_username.get(chat_id[1:].lower()) if chat_id.startswith("@") else None
            )
        else:
            chat = bot.chats.get(chat_id)
        if chat is None:
            raise bad_request(errors.CHAT_NOT_FOUND)
        return chat

    def writable_chat(self, bot: BotAccount, chat_id: int | str) -> ChatState:
        """The chat, if the bot may post there now (403 otherwise, as Telegram)."""
        chat = self.chat(bot, chat_id)
        if chat.is_private:
            assert chat.user is not None
            if chat.user.deactivated:
                raise forbidden(errors.USER_DEACTIVATED)
            if chat.blocked:
                raise forbidden(errors.BOT_BLOCKED)
            if not chat.started:
                raise forbidden(errors.CANT_INITIATE)
        elif not chat.bot_is_member:
            raise forbidden(f"bot was kicked from the {chat.type} chat")
        return chat

    def formatted(
        self,
        text: str,
        params: Params,
        *,
        entities_key: str,
        limit: int,
        too_long: str,
        empty: str | None,
    ) -> FormattedText:
        try:
            formatted = format_text(
                text,
                parse_mode=params.get("parse_mode"),
                entities=params.get(entities_key),
                resolve_user=self.world.resolve_user_json,
            )
        except FormattingError as error:
            raise bad_request(str(error)) from error
        if not formatted.text and empty is not None:
            raise bad_request(empty)
        if len(formatted.text) > limit:
            raise bad_request(too_long)
        return formatted

    def caption(self, params: Params) -> FormattedText | None:
        raw = params.get("caption")
        if raw is None:
            return None
        formatted = self.formatted(
            raw,
            params,
            entities_key="caption_entities",
            limit=MAX_CAPTION_LENGTH,
            too_long=errors.CAPTION_TOO_LONG,
            empty=None,
        )
        return formatted if formatted.text else None

    def inline_keyboard(self, markup: Mapping[str, Any] | None) -> JsonObject | None:
        """Validate an InlineKeyboardMarkup as Telegram does; None when absent."""
        if markup is None or "inline_keyboard" not in markup:
            return None
        rows: list[list[JsonObject]] = []
        total = 0
        for row in markup["inline_keyboard"]:
            buttons: list[JsonObject] = []
            for button in row:
                total += 1
                if total > MAX_INLINE_BUTTONS:
                    raise bad_request("reply markup is too long")
                buttons.append(self.inline_button(button))
            if buttons:
                rows.append(buttons)
        return {"inline_keyboard": rows}

    def inline_button(self, button: Mapping[str, Any]) -> JsonObject:
        if not str(button.get("text", "")).strip():
            raise bad_request("BUTTON_TEXT_INVALID")
        actions = [name for name in button if name in self._button_actions]
        if not actions:
            raise bad_request(
                "can't parse inline keyboard button: Text buttons are unallowed in the inline "
                "keyboard"
            )
        if len(actions) > 1:
            raise bad_request(
                "can't parse inline keyboard button: exactly one of the optional fields must be "
                f"used, got {', '.join(sorted(actions))}"
            )
        if "callback_data" in button:
            size = len(str(button["callback_data"]).encode("utf-8"))
            if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
                raise bad_request("BUTTON_DATA_INVALID")
        if "url" in button and normalize_url(str(button["url"])) is None:
            raise bad_request("BUTTON_URL_INVALID")
        return dict(button)

    def reply_keyboard_change(self, markup: Mapping[str, Any] | None) -> JsonObject | None:
        """A ReplyKeyboardMarkup/ReplyKeyboardRemove to apply to the chat, if any."""
        if markup is None:
            return None
        if "keyboard" in markup:
            for row in markup["keyboard"]:
                for button in row:
                    if not str(button.get("text", "")).strip():
                        raise bad_request("keyboard button text is empty")
            return dict(markup)
        if markup.get("remove_keyboard"):
            return {"remove_keyboard": True}
        return None

    def reply_target(self, chat: ChatState, params: Params) -> StoredMessage | None:
        reply = params.get("reply_parameters")
        if reply is None:
            return None
        target = chat.messages.get(reply["message_id"])
        if target is None and not reply.get("allow_sending_without_reply"):
            raise bad_request("message to be replied not found")
        return target

    def store_bot_message(
        self,
        bot: BotAccount,
        chat: ChatState,
        params: Params,
        *,
        kind: str,
        formatted: FormattedText | None,
        media: JsonObject | None = None,
        file: StoredFile | None = None,
        inline_markup: JsonObject | None = None,
        keyboard_change: JsonObject | None = None,
        reply_to: StoredMessage | None = None,
        forward_origin: JsonObject | None = None,
    ) -> StoredMessage:
        message = StoredMessage(
            message_id=chat.next_message_id(),
            chat=chat,
            sender=bot.account,
            date=self.world.clock.now(),
            kind=kind,
            text=formatted.text if formatted else None,
            entities=formatted.entities if formatted else [],
            media=media or {},
            file=file,
            reply_markup=inline_markup,
            protect_content=bool(params.get("protect_content")),
            reply_to=reply_to,
            forward_origin=forward_origin,
            show_caption_above_media=bool(params.get("show_caption_above_media")),
        )
        chat.messages[message.message_id] = message
        if keyboard_change is not None:
            chat.reply_keyboard = None if "remove_keyboard" in keyboard_change else keyboard_change
        chat.notifier.notify()
        return message

    def acquire_message_slot(self, bot: BotAccount, chat: ChatState, params: Params) -> None:
        bot.rate_limiter.acquire_message(
            chat.id, is_private=chat.is_private, paid=bool(params.get("allow_paid_broadcast"))
        )

    def existing_file(self, reference: FileReference, expected: str) -> StoredFile:
        if reference.is_url:
            raise bad_request("failed to get HTTP URL content")
        stored = self.world.files.get(reference.value)
        if stored is None:
            raise bad_request(errors.WRONG_FILE_ID)
        if stored.kind != expected:
            raise bad_request(f"can't use file of type {stored.kind.title()} as {expected.title()}")
        return stored

    def editable_message(self, bot: BotAccount, params: Params) -> StoredMessage:
        if params.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        if params.get("chat_id") is None:
            raise bad_request("chat_id is empty")
        if params.get("message_id") is None:
            raise bad_request("message identifier is not specified")
        chat = self.chat(bot, params["chat_id"])
        if chat.is_private and chat.blocked:
            raise forbidden(errors.BOT_BLOCKED)
        message = chat.messages.get(params["message_id"])
        if message is None:
            raise bad_request(errors.MESSAGE_TO_EDIT_NOT_FOUND)
        if message.sender is not bot.account:
            raise bad_request(errors.MESSAGE_CANT_BE_EDITED)
        return message

    def finish_edit(self, bot: BotAccount, message: StoredMessage) -> JsonObject:
        message.edit_date = self.world.clock.now()
        message.chat.notifier.notify()
        return message.to_api()

    # --- bot and updates ----------------------------------------------------------------

    async def get_me(self, bot: BotAccount, params: Params) -> JsonObject:
        return bot.get_me()

    async def log_out(self, bot: BotAccount, params: Params) -> bool:
        return True

    async def close(self, bot: BotAccount, params: Params) -> bool:
        return True

    async def get_updates(self, bot: BotAccount, params: Params) -> list[JsonObject]:
        """Long polling: wait up to ``timeout`` s for updates at or after ``offset``."""
        queue = bot.updates
        if bot.webhook.url:
            raise conflict(
                "can't use getUpdates method while webhook is active; use deleteWebhook to "
                "delete the webhook first"
            )
        self._polls += 1
        poll = self._polls
        queue.newest_poll = poll
        queue.notifier.notify()  # an older poll still waiting must give way (409)
        if "offset" in params:
            queue.confirm(params["offset"])
        if "allowed_updates" in params:
            allowed = params["allowed_updates"]
            queue.allowed = frozenset(allowed) if allowed else DEFAULT_UPDATE_TYPES
        limit = min(100, max(1, params.get("limit", 100)))
        timeout = max(0, params.get("timeout", 0))
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            batch = queue.peek(limit)
            if batch or self.world.closing:
                return batch
            try:
                async with asyncio.timeout_at(deadline):
                    await queue.notifier.wait()
            except TimeoutError:
                return queue.peek(limit)
            if queue.newest_poll != poll:
                raise conflict(
                    "terminated by other getUpdates request; make sure that only one bot "
                    "instance is running"
                )
            if bot.webhook.url:
                raise conflict(
                    "can't use getUpdates method while webhook is active; use deleteWebhook to "
                    "delete the webhook first"
                )

    async def set_webhook(self, bot: BotAccount, params: Params) -> Described:
        url = params["url"].strip()
        if not url:
            return await self.delete_webhook(bot, params)
        if not url.lower().startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        port = _url_port(url)
        if port not in _WEBHOOK_PORTS:
            raise bad_request(
                "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
            )
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")
        max_connections = params.get("max_connections", 40)
        if not 1 <= max_connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        unchanged = bot.webhook.url == url
        webhook = bot.webhook
        webhook.url = url
        webhook.secret_token = secret
        webhook.max_connections = max_connections
        webhook.ip_address = params.get("ip_address")
        webhook.has_custom_certificate = "certificate" in params
        if "allowed_updates" in params:
            webhook.allowed_updates = params["allowed_updates"] or None
            bot.updates.allowed = (
                frozenset(params["allowed_updates"])
                if params["allowed_updates"]
                else DEFAULT_UPDATE_TYPES
            )
        if params.get("drop_pending_updates"):
            bot.updates.clear()
        bot.updates.notifier.notify()
        return Described(True, "Webhook is already set" if unchanged else "Webhook was set")

    async def delete_webhook(self, bot: BotAccount, params: Params) -> Described:
        was_set = bool(bot.webhook.url)
        bot.webhook.url = ""
        bot.webhook.secret_token = None
        if params.get("drop_pending_updates"):
            bot.updates.clear()
        return Described(True, "Webhook was deleted" if was_set else "Webhook is already deleted")

    async def get_webhook_info(self, bot: BotAccount, params: Params) -> JsonObject:
        webhook = bot.webhook
        info: JsonObject = {
            "url": webhook.url,
            "has_custom_certificate": webhook.has_custom_certificate if webhook.url else False,
            "pending_update_count": len(bot.updates),
        }
        if webhook.url:
            info["max_connections"] = webhook.max_connections
            if webhook.ip_address:
                info["ip_address"] = webhook.ip_address
            if webhook.allowed_updates:
                info["allowed_updates"] = webhook.allowed_updates
            if webhook.last_error_message and webhook.last_error_date:
                info["last_error_date"] = webhook.last_error_date
                info["last_error_message"] = webhook.last_error_message
        return info

    # --- sending --------------------------------------------------------------------------

    async def send_message(self, bot: BotAccount, params: Params) -> JsonObject:
        chat = self.writable_chat(bot, params["chat_id"])
        formatted = self.formatted(
            params["text"],
            params,
            entities_key="entities",
            limit=MAX_TEXT_LENGTH,
            too_long=errors.MESSAGE_TOO_LONG,
            empty=errors.MESSAGE_TEXT_EMPTY,
        )
        markup = params.get("reply_markup")
        inline = self.inline_keyboard(markup)
        keyboard_change = self.reply_keyboard_change(markup)
        reply_to = self.reply_target(chat, params)
        self.acquire_message_slot(bot, chat, params)
        message = self.store_bot_message(
            bot,
            chat,
            params,
            kind="text",
            formatted=formatted,
            inline_markup=inline,
            keyboard_change=keyboard_change,
            reply_to=reply_to,
        )
        return message.to_api()

    async def send_photo(self, bot: BotAccount, params: Params) -> JsonObject:
        chat = self.writable_chat(bot, params["chat_id"])
        photo = params["photo"]
        dimensions: tuple[int, int] | None = None
        existing: StoredFile | None = None
        if isinstance(photo, UploadedFile):
            if not photo.data:
                raise bad_request("file must be non-empty")
            if len(photo.data) > MAX_PHOTO_BYTES:
                raise bad_request("file is too big")
            dimensions = image_dimensions(photo.data)
            if dimensions is None:
                raise bad_request("IMAGE_PROCESS_FAILED")
            width, height = dimensions
            if width + height > 10_000 or max(width, height) > 20 * min(width, height):
                raise bad_request("PHOTO_INVALID_DIMENSIONS")
        else:
            existing = self.existing_file(photo, "photo")
        caption = self.caption(params)
        markup = params.get("reply_markup")
        inline = self.inline_keyboard(markup)
        keyboard_change = self.reply_keyboard_change(markup)
        reply_to = self.reply_target(chat, params)
        self.acquire_message_slot(bot, chat, params)
        if existing is None:
            assert isinstance(photo, UploadedFile) and dimensions is not None
            sizes = self.world.files.add_photo(photo.data, *dimensions)
            existing = sizes[-1]
        message = self.store_bot_message(
            bot,
            chat,
            params,
            kind="photo",
            formatted=caption,
            media=self.world.media_json(existing),
            file=existing.photo_sizes[-1] if existing.photo_sizes else existing,
            inline_markup=inline,
            keyboard_change=keyboard_change,
            reply_to=reply_to,
        )
        return message.to_api()

    async def send_document(self, bot: BotAccount, params: Params) -> JsonObject:
        chat = self.writable_chat(bot, params["chat_id"])
        document = params["document"]
        existing: StoredFile | None = None
        if isinstance(document, UploadedFile):
            if not document.data:
                raise bad_request("file must be non-empty")
            if len(document.data) > MAX_UPLOAD_BYTES:
                raise ApiError(413, "Request Entity Too Large")
        else:
            existing = self.existing_file(document, "document")
        caption = self.caption(params)
        markup = params.get("reply_markup")
        inline = self.inline_keyboard(markup)
        keyboard_change = self.reply_keyboard_change(markup)
        reply_to = self.reply_target(chat, params)
        self.acquire_message_slot(bot, chat, params)
        if existing is None:
            assert isinstance(document, UploadedFile)
            name = document.filename or "document"
            existing = self.world.files.add(
                "document",
                document.data,
                file_name=name,
                mime_type=guess_mime_type(name, document.content_type),
            )
        message = self.store_bot_message(
            bot,
            chat,
            params,
            kind="document",
            formatted=caption,
            media=self.world.media_json(existing),
            file=existing,
            inline_markup=inline,
            keyboard_change=keyboard_change,
            reply_to=reply_to,
        )
        return message.to_api()

    def _source_message(self, bot: BotAccount, params: Params, action: str) -> StoredMessage:
        source_chat = self.chat(bot, params["from_chat_id"])
        source = source_chat.messages.get(params["message_id"])
        if source is None:
            raise bad_request(f"message to {action} not found")
        if source.protect_content:
            raise bad_request("message has protected content and can't be forwarded")
        return source

    async def copy_message(self, bot: BotAccount, params: Params) -> JsonObject:
        chat = self.writable_chat(bot, params["chat_id"])
        source = self._source_message(bot, params, "copy")
        if source.is_text:
            formatted: FormattedText | None = FormattedText(source.text or "", source.entities)
        elif "caption" in params:
            formatted = self.caption(params)
        else:
            formatted = FormattedText(source.text, source.entities) if source.text else None
        markup = params.get("reply_markup")
        inline = self.inline_keyboard(markup)
        keyboard_change = self.reply_keyboard_change(markup)
        reply_to = self.reply_target(chat, params)
        self.acquire_message_slot(bot, chat, params)
        message = self.store_bot_message(
            bot,
            chat,
            params,
            kind=source.kind,
            formatted=formatted,
            media=dict(source.media),
            file=source.file,
            inline_markup=inline,
            keyboard_change=keyboard_change,
            reply_to=reply_to,
        )
        return {"message_id": message.message_id}

    async def forward_message(self, bot: BotAccount, params: Params) -> JsonObject:
        chat = self.writable_chat(bot, params["chat_id"])
        source = self._source_message(bot, params, "forward")
        origin = source.forward_origin or {
            "type": "user",
            "date": source.date,
            "sender_user": source.sender.to_api(),
        }
        self.acquire_message_slot(bot, chat, params)
        formatted = FormattedText(source.text, source.entities) if source.text else None
        message = self.store_bot_message(
            bot,
            chat,
            params,
            kind=source.kind,
            formatted=formatted,
            media=dict(source.media),
            file=source.file,
            forward_origin=origin,
        )
        return message.to_api()

    async def send_chat_action(self, bot: BotAccount, params: Params) -> bool:
        chat = self.writable_chat(bot, params["chat_id"])
        if params["action"] not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        chat.chat_actions.append(params["action"])
        chat.notifier.notify()
        return True

    # --- editing and deleting -------------------------------------------------------------

    async def edit_message_text(self, bot: BotAccount, params: Params) -> JsonObject:
        message = self.editable_message(bot, params)
        if not message.is_text:
            raise bad_request("there is no text in the message to edit")
        formatted = self.formatted(
            params["text"],
            params,
            entities_key="entities",
            limit=MAX_TEXT_LENGTH,
            too_long=errors.MESSAGE_TOO_LONG,
            empty=errors.MESSAGE_TEXT_EMPTY,
        )
        markup = self.inline_keyboard(params.get("reply_markup"))
        if (
            formatted.text == message.text
            and formatted.entities == message.entities
            and markup == message.reply_markup
        ):
            raise bad_request(errors.MESSAGE_NOT_MODIFIED)
        bot.rate_limiter.acquire_edit(message.chat.id)
        message.text, message.entities, message.reply_markup = (
            formatted.text,
            formatted.entities,
            markup,
        )
        return self.finish_edit(bot, message)

    async def edit_message_caption(self, bot: BotAccount, params: Params) -> JsonObject:
        message = self.editable_message(bot, params)
        if not message.has_caption_slot:
            raise bad_request("there is no caption in the message to edit")
        caption = self.caption(params)
        text, entities = (caption.text, caption.entities) if caption else (None, [])
        markup = self.inline_keyboard(params.get("reply_markup"))
        above = bool(params.get("show_caption_above_media"))
        if (
            text == message.text
            and entities == message.entities
            and markup == message.reply_markup
            and above == message.show_caption_above_media
        ):
            raise bad_request(errors.MESSAGE_NOT_MODIFIED)
        bot.rate_limiter.acquire_edit(message.chat.id)
        message.text, message.entities, message.reply_markup = text, entities, markup
        message.show_caption_above_media = above
        return self.finish_edit(bot, message)

    async def edit_message_reply_markup(self, bot: BotAccount, params: Params) -> JsonObject:
        message = self.editable_message(bot, params)
        markup = self.inline_keyboard(params.get("reply_markup"))
        if markup == message.reply_markup:
            raise bad_request(errors.MESSAGE_NOT_MODIFIED)
        bot.rate_limiter.acquire_edit(message.chat.id)
        message.reply_markup = markup
        return self.finish_edit(bot, message)

    def deletable(self, bot: BotAccount, message: StoredMessage) -> bool:
        """Telegram's rules: 48 h window; own messages anywhere, incoming only in private
        chats, anything for a group administrator."""
        chat = message.chat
        if not chat.is_private and chat.bot_is_admin:
            return True
        if self.world.clock.time() - message.date >= DELETE_WINDOW_SECONDS:
            return False
        return chat.is_private or message.sender is bot.account

    async def delete_message(self, bot: BotAccount, params: Params) -> bool:
        chat = self.chat(bot, params["chat_id"])
        message = chat.messages.get(params["message_id"])
        if message is None:
            raise bad_request(errors.MESSAGE_TO_DELETE_NOT_FOUND)
        if not self.deletable(bot, message):
            raise bad_request(errors.MESSAGE_CANT_BE_DELETED)
        del chat.messages[message.message_id]
        chat.notifier.notify()
        return True

    async def delete_messages(self, bot: BotAccount, params: Params) -> bool:
        """Deletes what it can; missing or undeletable ids are skipped, as Telegram does."""
        chat = self.chat(bot, params["chat_id"])
        message_ids: list[int] = params["message_ids"]
        if not message_ids:
            raise bad_request("message_ids is empty")
        if len(message_ids) > 100:
            raise bad_request("too many messages to delete")
        for message_id in message_ids:
            message = chat.messages.get(message_id)
            if message is not None and self.deletable(bot, message):
                del chat.messages[message_id]
        chat.notifier.notify()
        return True

    # --- callback queries ---------------------------------------------------------------

    async def answer_callback_query(self, bot: BotAccount, params: Params) -> bool:
        query = bot.callback_queries.get(params["callback_query_id"])
        now = self.world.clock.time()
        if (
            query is None
            or query.answer is not None
            or now - query.created_at > self.world.callback_query_timeout
        ):
            raise bad_request(errors.QUERY_TOO_OLD)
        text = params.get("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise bad_request("MESSAGE_TOO_LONG")
        query.answer = CallbackAnswer(
            query_id=query.id,
            text=text or None,
            show_alert=bool(params.get("show_alert")),
            url=params.get("url"),
            cache_time=params.get("cache_time"),
            answered_at=now,
        )
        query.chat.notifier.notify()
        return True

    # --- files and chats ----------------------------------------------------------------

    async def get_file(self, bot: BotAccount, params: Params) -> JsonObject:
        stored = self.world.files.get(params["file_id"].strip())
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.size > MAX_DOWNLOAD_BYTES:
            raise bad_request("file is too big")
        return stored.file_json()

    async def get_chat(self, bot: BotAccount, params: Params) -> JsonObject:
        chat = self.chat(bot, params["chat_id"])
        info: JsonObject = {
            **chat.to_api(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        }
        if not chat.is_private:
            info["permissions"] = {"can_send_messages": True}
        return info

    async def get_chat_member(self, bot: BotAccount, params: Params) -> JsonObject:
        chat = self.chat(bot, params["chat_id"])
        user_id: int = params["user_id"]
        if user_id == bot.id:
            status = "administrator" if chat.bot_is_admin else "member"
            return _chat_member(bot.account.to_api(), status)
        user = self.world.users.get(user_id)
        if user is None:
            raise bad_request("user not found")
        if chat.is_private:
            if user_id != chat.id:
                raise bad_request("user not found")
            return _chat_member(user.to_api(), "member")
        if user_id not in chat.members:
            return _chat_member(user.to_api(), "left")
        status = "administrator" if user_id in chat.admins else "member"
        return _chat_member(user.to_api(), status)

    # --- commands, descriptions, menu -----------------------------------------------------

    def command_scope_key(self, bot: BotAccount, params: Params) -> tuple[str | int, ...]:
        scope = params.get("scope") or {"type": "default"}
        kind: str = scope["type"]
        if kind in ("chat", "chat_administrators", "chat_member"):
            chat = self.chat(bot, scope["chat_id"])
            if kind == "chat_member":
                user_id = scope["user_id"]
                if not chat.is_private and user_id not in chat.members:
                    raise bad_request("user not found")
                return (kind, chat.id, user_id)
            return (kind, chat.id)
        return (kind,)

    @staticmethod
    def language(params: Params) -> str:
        code: str = params.get("language_code") or ""
        if code and not _LANGUAGE.fullmatch(code):
            raise bad_request("LANG_CODE_INVALID")
        return code

    async def set_my_commands(self, bot: BotAccount, params: Params) -> bool:
        commands: list[JsonObject] = params["commands"]
        if len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        cleaned: list[JsonObject] = []
        for command in commands:
            if not _COMMAND.fullmatch(command["command"]):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(command["description"].strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command["command"], "description": command["description"]})
        key = (self.command_scope_key(bot, params), self.language(params))
        if cleaned:
            bot.commands[key] = cleaned
        else:
            bot.commands.pop(key, None)
        return True

    async def get_my_commands(self, bot: BotAccount, params: Params) -> list[JsonObject]:
        key = (self.command_scope_key(bot, params), self.language(params))
        return list(bot.commands.get(key, []))

    async def delete_my_commands(self, bot: BotAccount, params: Params) -> bool:
        bot.commands.pop((self.command_scope_key(bot, params), self.language(params)), None)
        return True

    async def set_my_description(self, bot: BotAccount, params: Params) -> bool:
        return _set_text(bot.descriptions, params, "description", self.language(params), 512)

    async def get_my_description(self, bot: BotAccount, params: Params) -> JsonObject:
        return {"description": bot.descriptions.get(self.language(params), "")}

    async def set_my_short_description(self, bot: BotAccount, params: Params) -> bool:
        return _set_text(
            bot.short_descriptions, params, "short_description", self.language(params), 120
        )

    async def get_my_short_description(self, bot: BotAccount, params: Params) -> JsonObject:
        return {"short_description": bot.short_descriptions.get(self.language(params), "")}

    async def set_chat_menu_button(self, bot: BotAccount, params: Params) -> bool:
        chat_id = params.get("chat_id")
        if chat_id is not None:
            chat = self.chat(bot, chat_id)
            if not chat.is_private:
                raise bad_request("menu button can be changed only in private chats")
            chat_id = chat.id
        bot.menu_buttons[chat_id] = params.get("menu_button") or {"type": "default"}
        return True

    async def get_chat_menu_button(self, bot: BotAccount, params: Params) -> JsonObject:
        chat_id = params.get("chat_id")
        if chat_id is not None:
            chat_id = self.chat(bot, chat_id).id
            if chat_id in bot.menu_buttons:
                return bot.menu_buttons[chat_id]
        return bot.menu_buttons.get(None, {"type": "default"})


def _chat_member(user: JsonObject, status: str) -> JsonObject:
    if status != "administrator":
        return {"status": status, "user": user}
    rights = (
        "can_manage_chat",
        "can_delete_messages",
        "can_manage_video_chats",
        "can_restrict_members",
        "can_promote_members",
        "can_change_info",
        "can_invite_users",
        "can_post_stories",
        "can_edit_stories",
        "can_delete_stories",
        "can_send_welcome_messages",  # Bot API 10.3; aiogram 3.31 requires it
    )
    return {
        "status": status,
        "user": user,
        "can_be_edited": False,
        "is_anonymous": False,
        **dict.fromkeys(rights, True),
    }


def _set_text(store: dict[str, str], params: Params, field: str, language: str, limit: int) -> bool:
    text: str = params.get(field) or ""
    if len(text) > limit:
        raise bad_request(f"{field} is too long")
    if text:
        store[language] = text
    else:
        store.pop(language, None)
    return True


def _url_port(url: str) -> int:
    try:
        port = urlsplit(url).port
    except ValueError:
        return -1
    return 443 if port is None else port
