"""In-memory Telegram state: bots, users, chats, messages, pending updates, callback queries."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.harness.emulator.files import StoredFile
from bot.harness.emulator.rate_limits import RateLimiter

ChatType = Literal["private", "group", "supergroup"]
JsonObject = dict[str, Any]

#: Update types delivered when allowed_updates is empty or never set (Telegram's default).
DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)


class ChangeNotifier:
    """Wakes everyone waiting for "the next change"; ``notify`` is synchronous.

    Equivalent to an ``asyncio.Condition`` notified on every change, without needing the lock
    from plain (non-async) code paths. The event is created only when somebody waits.
    """

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def notify(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    async def wait(self) -> None:
        """Wait for the next notify (bound it with ``asyncio.timeout``)."""
        if self._event is None:
            self._event = asyncio.Event()
        await self._event.wait()


@dataclass(slots=True, eq=False)
class UserAccount:
    """A Telegram user (human or bot) as ``User`` objects describe it."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_premium: bool = False
    is_bot: bool = False
    deactivated: bool = False

    def to_api(self) -> JsonObject:
        user: JsonObject = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code and not self.is_bot:
            user["language_code"] = self.language_code
        if self.is_premium:
            user["is_premium"] = True
        return user

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name


@dataclass(slots=True, eq=False)
class StoredMessage:
    """One message in a chat; ``to_api`` renders the Bot API ``Message`` object."""

    message_id: int
    chat: ChatState
    sender: UserAccount
    date: int
    kind: str
    text: str | None = None
    entities: list[JsonObject] = field(default_factory=list)
    media: JsonObject = field(default_factory=dict)
    file: StoredFile | None = None
    reply_markup: JsonObject | None = None
    edit_date: int | None = None
    protect_content: bool = False
    reply_to: StoredMessage | None = None
    forward_origin: JsonObject | None = None
    show_caption_above_media: bool = False

    @property
    def from_bot(self) -> bool:
        return self.sender.is_bot

    @property
    def is_text(self) -> bool:
        return self.kind == "text"

    @property
    def has_caption_slot(self) -> bool:
        return self.kind in {"photo", "document", "video", "voice"}

    def to_api(self, *, with_reply: bool = True) -> JsonObject:
        message: JsonObject = {
            "message_id": self.message_id,
            "from": self.sender.to_api(),
            "chat": self.chat.to_api(),
            "date": self.date,
        }
        if self.forward_origin is not None:
            message["forward_origin"] = self.forward_origin
        if with_reply and self.reply_to is not None:
            message["reply_to_message"] = self.reply_to.to_api(with_reply=False)
        if self.edit_date is not None:
            message["edit_date"] = self.edit_date
        if self.protect_content:
            message["has_protected_content"] = True
        if self.is_text:
            message["text"] = self.text or ""
            if self.entities:
                message["entities"] = self.entities
        else:
            message.update(self.media)
            if self.text:
                message["caption"] = self.text
                if self.entities:
                    message["caption_entities"] = self.entities
                if self.show_caption_above_media:
                    message["show_caption_above_media"] = True
        if self.reply_markup is not None:
            message["reply_markup"] = self.reply_markup
        return message


@dataclass(slots=True, eq=False)
class ChatState:
    """A chat as one bot sees it: a private chat with a user, or a group."""

    id: int
    type: ChatType
    title: str | None = None
    username: str | None = None
    user: UserAccount | None = None
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    last_message_id: int = 0
    notifier: ChangeNotifier = field(default_factory=ChangeNotifier)
    #: Private chats: the user pressed Start (sent anything) / blocked the bot.
    started: bool = False
    blocked: bool = False
    #: Groups: members by id, administrators, and the bot's own membership.
    members: dict[int, UserAccount] = field(default_factory=dict)
    admins: set[int] = field(default_factory=set)
    bot_is_member: bool = True
    bot_is_admin: bool = False
    reply_keyboard: JsonObject | None = None
    chat_actions: list[str] = field(default_factory=list)
    callback_queries: list[CallbackQueryState] = field(default_factory=list)
    _api: JsonObject | None = None

    @property
    def is_private(self) -> bool:
        return self.type == "private"

    def next_message_id(self) -> int:
        self.last_message_id += 1
        return self.last_message_id

    def to_api(self) -> JsonObject:
        """The short ``Chat`` object embedded in messages (cached; chats do not change)."""
        if self._api is None:
            chat: JsonObject = {"id": self.id}
            if self.is_private and self.user is not None:
                chat["first_name"] = self.user.first_name
                if self.user.last_name:
                    chat["last_name"] = self.user.last_name
                if self.user.username:
                    chat["username"] = self.user.username
            else:
                chat["title"] = self.title or ""
                if self.username:
                    chat["username"] = self.username
            chat["type"] = self.type
            self._api = chat
        return self._api


@dataclass(frozen=True, slots=True)
class CallbackAnswer:
    """What the bot answered to a callback query (what the user would see as a toast/alert)."""

    query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None
    answered_at: float


@dataclass(slots=True, eq=False)
class CallbackQueryState:
    id: str
    user: UserAccount
    chat: ChatState
    message_id: int | None
    data: str
    created_at: float
    answer: CallbackAnswer | None = None


@dataclass(slots=True)
class WebhookState:
    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    ip_address: str | None = None
    has_custom_certificate: bool = False
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


class UpdateQueue:
    """Pending updates of one bot, in order, until getUpdates confirms them with ``offset``."""

    def __init__(self, first_update_id: int = 100_000_001) -> None:
        self._pending: deque[JsonObject] = deque()
        self._first_id = first_update_id
        self._next_id = first_update_id
        self.allowed: frozenset[str] = DEFAULT_UPDATE_TYPES
        self.notifier = ChangeNotifier()
        #: Sequence number of the newest getUpdates; an older one still waiting gets 409.
        self.newest_poll = 0
        self.filtered_out = 0

    def push(self, kind: str, payload: JsonObject) -> int | None:
        """Queue an update unless allowed_updates excludes its type; return its id."""
        if kind not in self.allowed:
            self.filtered_out += 1
            return None
        update_id = self._next_id
        self._next_id += 1
        self._pending.append({"update_id": update_id, kind: payload})
        self.notifier.notify()
        return update_id

    @property
    def issued(self) -> range:
        """Every update id this queue has handed out (what a run may leave claimed in Redis,
        even for an update whose delivery was cut short when the run ended)."""
        return range(self._first_id, self._next_id)

    def confirm(self, offset: int) -> None:
        if offset < 0:
            keep = -offset
            while len(self._pending) > keep:
                self._pending.popleft()
            return
        pending = self._pending
        while pending and pending[0]["update_id"] < offset:
            pending.popleft()

    def peek(self, limit: int) -> list[JsonObject]:
        if limit >= len(self._pending):
            return list(self._pending)
        return [self._pending[index] for index in range(limit)]

    def remove(self, update_id: int) -> None:
        """Take one update off the queue (delivered by webhook, not necessarily the first)."""
        for index, update in enumerate(self._pending):
            if update["update_id"] == update_id:
                del self._pending[index]
                return

    def clear(self) -> None:
        self._pending.clear()

    def __len__(self) -> int:
        return len(self._pending)


@dataclass(eq=False)
class BotAccount:
    """A bot registered with the emulator, with everything Telegram keeps for it."""

    account: UserAccount
    token: str
    rate_limiter: RateLimiter
    can_join_groups: bool = True
    can_read_all_group_messages: bool = False
    chats: dict[int, ChatState] = field(default_factory=dict)
    chats_by_username: dict[str, ChatState] = field(default_factory=dict)
    updates: UpdateQueue = field(default_factory=UpdateQueue)
    callback_queries: dict[str, CallbackQueryState] = field(default_factory=dict)
    commands: dict[tuple[tuple[str | int, ...], str], list[JsonObject]] = field(
        default_factory=dict
    )
    webhook: WebhookState = field(default_factory=WebhookState)
    descriptions: dict[str, str] = field(default_factory=dict)
    short_descriptions: dict[str, str] = field(default_factory=dict)
    menu_buttons: dict[int | None, JsonObject] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return self.account.id

    @property
    def username(self) -> str:
        return self.account.username or ""

    def get_me(self) -> JsonObject:
        return {
            **self.account.to_api(),
            "can_join_groups": self.can_join_groups,
            "can_read_all_group_messages": self.can_read_all_group_messages,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
