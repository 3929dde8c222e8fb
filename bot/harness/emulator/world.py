"""The emulated Telegram: every bot, user, chat and file, and what users do to bots.

Both sides go through here: the HTTP methods (what the bot does) and the user clients (what
people do). Everything is in memory and O(1) per operation, so hundreds of concurrent users
and broadcasts to tens of thousands of chats stay cheap.
"""

from __future__ import annotations

import itertools
import secrets
import string
from collections.abc import Iterable
from typing import Any

from bot.harness.emulator.clock import VirtualClock
from bot.harness.emulator.files import FileStore, StoredFile
from bot.harness.emulator.formatting import format_text
from bot.harness.emulator.rate_limits import Limits, RateLimiter
from bot.harness.emulator.state import (
    BotAccount,
    CallbackQueryState,
    ChatState,
    ChatType,
    JsonObject,
    StoredMessage,
    UserAccount,
)

_TOKEN_ALPHABET = string.ascii_letters + string.digits + "_-"


class TelegramWorld:
    """Registries and the user-side actions; the Bot API methods live in ``methods``."""

    def __init__(
        self, clock: VirtualClock, limits: Limits, *, callback_query_timeout: float
    ) -> None:
        self.clock = clock
        self.limits = limits
        self.callback_query_timeout = callback_query_timeout
        self.files = FileStore()
        self.bots_by_token: dict[str, BotAccount] = {}
        self.bots_by_id: dict[int, BotAccount] = {}
        self.users: dict[int, UserAccount] = {}
        self.closing = False
        self._bot_ids = itertools.count(7_000_000_001)
        self._user_ids = itertools.count(100_000_001)
        self._group_ids = itertools.count(1)
        self._query_ids = itertools.count(1)

    # --- registries ---------------------------------------------------------------------

    def create_bot(
        self,
        *,
        username: str,
        first_name: str,
        token: str | None = None,
        can_join_groups: bool = True,
        can_read_all_group_messages: bool = False,
    ) -> BotAccount:
        if token is None:
            bot_id = next(self._bot_ids)
            while bot_id in self.bots_by_id:
                bot_id = next(self._bot_ids)
            secret = "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(35))
            token = f"{bot_id}:{secret}"
        else:
            bot_part, _, secret = token.partition(":")
            if not bot_part.isdigit() or not secret:
                raise ValueError("a bot token looks like '123456:ABC-DEF...'")
            bot_id = int(bot_part)
        if token in self.bots_by_token or bot_id in self.bots_by_id:
            raise ValueError(f"bot {bot_id} already exists")
        account = UserAccount(id=bot_id, first_name=first_name, username=username, is_bot=True)
        bot = BotAccount(
            account=account,
            token=token,
            rate_limiter=RateLimiter(self.limits, self.clock),
            can_join_groups=can_join_groups,
            can_read_all_group_messages=can_read_all_group_messages,
        )
        self.bots_by_token[token] = bot
        self.bots_by_id[bot_id] = bot
        self.users[bot_id] = account
        return bot

    def bot(self, token: str | None = None) -> BotAccount:
        """The bot with ``token``, or the only/first bot when None."""
        if token is not None:
            try:
                return self.bots_by_token[token]
            except KeyError:
                raise LookupError("no bot with this token; call create_bot() first") from None
        if not self.bots_by_token:
            raise LookupError("no bot yet; call create_bot() first")
        return next(iter(self.bots_by_token.values()))

    def set_limits(self, limits: Limits) -> None:
        """Replace the limits; every bot starts again with full buckets."""
        self.limits = limits
        for bot in self.bots_by_token.values():
            bot.rate_limiter = RateLimiter(limits, self.clock)

    def register_user(
        self,
        *,
        user_id: int | None,
        first_name: str | None,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
        is_premium: bool,
    ) -> UserAccount:
        if user_id is None:
            user_id = next(self._user_ids)
            while user_id in self.users:
                user_id = next(self._user_ids)
        existing = self.users.get(user_id)
        if existing is not None:
            if existing.is_bot:
                raise ValueError(f"{user_id} is a bot")
            return existing
        if user_id <= 0:
            raise ValueError("user ids are positive")
        user = UserAccount(
            id=user_id,
            first_name=first_name or f"用户{user_id}",
            last_name=last_name,
            username=username,
            language_code=language_code,
            is_premium=is_premium,
        )
        self.users[user_id] = user
        return user

    def resolve_user_json(self, user_id: int) -> JsonObject | None:
        user = self.users.get(user_id)
        return user.to_api() if user is not None else None

    def private_chat(self, bot: BotAccount, user: UserAccount) -> ChatState:
        chat = bot.chats.get(user.id)
        if chat is None:
            chat = ChatState(id=user.id, type="private", user=user)
            bot.chats[user.id] = chat
            if user.username:
                bot.chats_by_username.setdefault(user.username.lower(), chat)
        return chat

    def create_group(
        self,
        bot: BotAccount,
        *,
        chat_id: int | None,
        title: str,
        members: Iterable[UserAccount],
        admins: Iterable[UserAccount],
        username: str | None,
        chat_type: ChatType | None,
        bot_is_admin: bool,
    ) -> ChatState:
        if chat_id is None:
            chat_id = -1_001_000_000_000 - next(self._group_ids)
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        if chat_id in bot.chats:
            raise ValueError(f"chat {chat_id} already exists")
        if chat_type is None:
            chat_type = "supergroup" if str(chat_id).startswith("-100") else "group"
        chat = ChatState(
            id=chat_id,
            type=chat_type,
            title=title,
            username=username,
            bot_is_admin=bot_is_admin,
        )
        for member in [*members, *admins]:
            chat.members[member.id] = member
            self.private_chat(bot, member)
        chat.admins = {admin.id for admin in admins}
        bot.chats[chat_id] = chat
        if username:
            bot.chats_by_username[username.lower()] = chat
        return chat

    # --- what users do ------------------------------------------------------------------

    def user_message(
        self,
        bot: BotAccount,
        chat: ChatState,
        sender: UserAccount,
        *,
        kind: str,
        text: str | None = None,
        media: JsonObject | None = None,
        file: StoredFile | None = None,
        reply_to: StoredMessage | None = None,
    ) -> StoredMessage:
        """A user posts in ``chat``; the bot gets a ``message`` update if it would see it."""
        if chat.is_private:
            if chat.blocked:
                self.set_blocked(bot, chat, blocked=False)  # "Restart bot" unblocks first
            chat.started = True
        elif sender.id not in chat.members:
            raise ValueError(f"{sender.display_name} is not a member of {chat.title}")
        entities: list[JsonObject] = []
        if text is not None:
            formatted = format_text(text)
            text, entities = formatted.text, formatted.entities
        message = StoredMessage(
            message_id=chat.next_message_id(),
            chat=chat,
            sender=sender,
            date=self.clock.now(),
            kind=kind,
            text=text,
            entities=entities,
            media=media or {},
            file=file,
            reply_to=reply_to,
        )
        chat.messages[message.message_id] = message
        if self._bot_sees(bot, chat, message):
            bot.updates.push("message", message.to_api())
        chat.notifier.notify()
        return message

    def _bot_sees(self, bot: BotAccount, chat: ChatState, message: StoredMessage) -> bool:
        """Privacy mode: in groups a bot sees commands and replies to its own messages."""
        if chat.is_private or bot.can_read_all_group_messages:
            return True
        if message.reply_to is not None and message.reply_to.sender is bot.account:
            return True
        if message.text and message.kind == "text" and message.text.startswith("/"):
            command = message.text.split(maxsplit=1)[0]
            _, _, addressee = command.partition("@")
            return not addressee or addressee.lower() == bot.username.lower()
        return False

    def press(
        self,
        bot: BotAccount,
        chat: ChatState,
        user: UserAccount,
        *,
        message_id: int | None,
        data: str,
    ) -> CallbackQueryState:
        """A user taps an inline button; the bot gets a ``callback_query`` update."""
        query = CallbackQueryState(
            id=str(4_000_000_000_000_000_000 + next(self._query_ids)),
            user=user,
            chat=chat,
            message_id=message_id,
            data=data,
            created_at=self.clock.time(),
        )
        payload: JsonObject = {"id": query.id, "from": user.to_api()}
        if message_id is not None:
            message = chat.messages.get(message_id)
            if message is not None:
                payload["message"] = message.to_api()
            else:
                payload["message"] = {"chat": chat.to_api(), "message_id": message_id, "date": 0}
        payload["chat_instance"] = str((chat.id * 2_654_435_761 + bot.id) & 0x7FFF_FFFF_FFFF_FFFF)
        payload["data"] = data
        bot.callback_queries[query.id] = query
        chat.callback_queries.append(query)
        bot.updates.push("callback_query", payload)
        chat.notifier.notify()
        return query

    def set_blocked(self, bot: BotAccount, chat: ChatState, *, blocked: bool) -> None:
        """Block/unblock the bot in a private chat; Telegram tells the bot via my_chat_member."""
        if chat.user is None or chat.blocked == blocked:
            return
        chat.blocked = blocked
        member = {"status": "member", "user": bot.account.to_api()}
        kicked = {"status": "kicked", "user": bot.account.to_api(), "until_date": 0}
        bot.updates.push(
            "my_chat_member",
            {
                "chat": chat.to_api(),
                "from": chat.user.to_api(),
                "date": self.clock.now(),
                "old_chat_member": member if blocked else kicked,
                "new_chat_member": kicked if blocked else member,
            },
        )
        chat.notifier.notify()

    def unanswered_callbacks(self, bot: BotAccount | None = None) -> list[CallbackQueryState]:
        bots = [bot] if bot is not None else list(self.bots_by_token.values())
        return [
            query for b in bots for query in b.callback_queries.values() if query.answer is None
        ]

    def wake_everyone(self) -> None:
        """Release every long poll and waiter (shutdown)."""
        for bot in self.bots_by_token.values():
            bot.updates.notifier.notify()
            for chat in bot.chats.values():
                chat.notifier.notify()

    def media_json(self, file: StoredFile, **extra: Any) -> JsonObject:
        """The message field Telegram uses for a stored file of this kind."""
        base = {"file_id": file.file_id, "file_unique_id": file.file_unique_id}
        if file.kind == "photo":
            return {"photo": [size.photo_size_json() for size in file.photo_sizes or [file]]}
        if file.kind == "document":
            document: JsonObject = {**base}
            if file.file_name:
                document["file_name"] = file.file_name
            if file.mime_type:
                document["mime_type"] = file.mime_type
            document["file_size"] = file.size
            return {"document": document}
        if file.kind == "sticker":
            return {
                "sticker": {
                    **base,
                    "type": "regular",
                    "width": file.width or 512,
                    "height": file.height or 512,
                    "is_animated": False,
                    "is_video": False,
                    **extra,
                    "file_size": file.size,
                }
            }
        if file.kind == "voice":
            return {
                "voice": {
                    **base,
                    "duration": file.duration or 0,
                    "mime_type": file.mime_type or "audio/ogg",
                    "file_size": file.size,
                }
            }
        return {
            "video": {
                **base,
                "width": file.width or 0,
                "height": file.height or 0,
                "duration": file.duration or 0,
                "mime_type": file.mime_type or "video/mp4",
                "file_size": file.size,
            }
        }
