"""The people side: users and groups that talk to the bot, press buttons and block it.

Handles read the emulator's chat state directly (no HTTP), so ``user.messages`` is always what
the user's Telegram app would show: deleted messages gone, edits applied, keyboards current.
Every ``wait_for*`` is woken by changes to that chat, not by polling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Self

from bot.harness.emulator.files import StoredFile, make_png
from bot.harness.emulator.formatting import format_text
from bot.harness.emulator.state import (
    BotAccount,
    CallbackAnswer,
    CallbackQueryState,
    ChatState,
    JsonObject,
    StoredMessage,
    UserAccount,
)
from bot.harness.emulator.world import TelegramWorld

ButtonMatcher = str | Callable[["InlineButton"], bool]
_FAKE_WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8X\n\x00\x00\x00\x00\x00\x00\xff\x01\x00\xff\x01\x00"


class ChatWaitTimeout(AssertionError):
    """A ``wait_for*`` gave up; the message carries the chat transcript."""


@dataclass(frozen=True, slots=True)
class InlineButton:
    text: str
    callback_data: str | None
    url: str | None
    raw: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """A snapshot of one visible message, as the user sees it."""

    message_id: int
    from_bot: bool
    sender_id: int
    date: int
    kind: str
    #: The text of a text message, or the caption of a media message.
    text: str | None
    entities: tuple[Mapping[str, Any], ...]
    buttons: tuple[tuple[InlineButton, ...], ...]
    edit_date: int | None
    reply_to_message_id: int | None
    file_id: str | None
    file_name: str | None
    #: The Bot API ``Message`` object for this message.
    raw: Mapping[str, Any]

    @classmethod
    def from_stored(cls, message: StoredMessage) -> ChatMessage:
        rows: list[tuple[InlineButton, ...]] = []
        if message.reply_markup is not None:
            for row in message.reply_markup.get("inline_keyboard", []):
                rows.append(
                    tuple(
                        InlineButton(
                            text=button["text"],
                            callback_data=button.get("callback_data"),
                            url=button.get("url"),
                            raw=button,
                        )
                        for button in row
                    )
                )
        return cls(
            message_id=message.message_id,
            from_bot=message.from_bot,
            sender_id=message.sender.id,
            date=message.date,
            kind=message.kind,
            text=message.text,
            entities=tuple(message.entities),
            buttons=tuple(rows),
            edit_date=message.edit_date,
            reply_to_message_id=message.reply_to.message_id if message.reply_to else None,
            file_id=message.file.file_id if message.file else None,
            file_name=message.file.file_name if message.file else None,
            raw=message.to_api(),
        )

    @property
    def keyboard(self) -> list[list[tuple[str, str | None]]]:
        """Inline keyboard rows as ``(text, callback_data)`` pairs."""
        return [[(b.text, b.callback_data) for b in row] for row in self.buttons]

    @property
    def button_texts(self) -> list[str]:
        return [button.text for row in self.buttons for button in row]

    @property
    def edited(self) -> bool:
        return self.edit_date is not None

    def button(self, matcher: ButtonMatcher) -> InlineButton | None:
        for row in self.buttons:
            for candidate in row:
                if _matches(matcher, candidate):
                    return candidate
        return None

    def describe(self, sender_name: str) -> str:
        body = self.text if self.text is not None else ""
        label = f"[{self.kind}] " if self.kind != "text" else ""
        line = f"  #{self.message_id} {sender_name}{' (edited)' if self.edited else ''}: "
        line += label + body.replace("\n", "\n      ")
        for row in self.buttons:
            line += "\n      " + " ".join(
                f"[{b.text} -> {b.callback_data if b.callback_data is not None else b.url}]"
                for b in row
            )
        return line


def _matches(matcher: ButtonMatcher, button: InlineButton) -> bool:
    return button.text == matcher if isinstance(matcher, str) else matcher(button)


class CallbackQueryHandle:
    """A button press in flight; the bot should answer it (``answerCallbackQuery``)."""

    def __init__(self, query: CallbackQueryState) -> None:
        self._query = query

    @property
    def id(self) -> str:
        return self._query.id

    @property
    def data(self) -> str:
        return self._query.data

    @property
    def message_id(self) -> int | None:
        return self._query.message_id

    @property
    def answer(self) -> CallbackAnswer | None:
        return self._query.answer

    @property
    def answered(self) -> bool:
        return self._query.answer is not None

    async def wait_answered(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109 - test-facing API; raises a readable error
    ) -> CallbackAnswer:
        """Wait for the bot's answerCallbackQuery."""
        try:
            async with asyncio.timeout(timeout):
                while self._query.answer is None:
                    await self._query.chat.notifier.wait()
        except TimeoutError:
            raise ChatWaitTimeout(
                f"callback query {self.id} (data {self.data!r}) not answered in {timeout} s"
            ) from None
        return self._query.answer


class ChatView:
    """What both a private chat and a group offer: the visible messages and waiting on them."""

    def __init__(self, world: TelegramWorld, bot: BotAccount, chat: ChatState) -> None:
        self.world = world
        self.bot = bot
        self.chat = chat
        self._last_sent_id = 0

    @property
    def chat_id(self) -> int:
        return self.chat.id

    @property
    def messages(self) -> list[ChatMessage]:
        """Visible messages, oldest first, with edits applied."""
        return [ChatMessage.from_stored(m) for m in self.chat.messages.values()]

    @property
    def bot_messages(self) -> list[ChatMessage]:
        return [ChatMessage.from_stored(m) for m in self.chat.messages.values() if m.from_bot]

    @property
    def last_message(self) -> ChatMessage | None:
        if not self.chat.messages:
            return None
        return ChatMessage.from_stored(next(reversed(self.chat.messages.values())))

    @property
    def last_bot_message(self) -> ChatMessage | None:
        for message in reversed(self.chat.messages.values()):
            if message.from_bot:
                return ChatMessage.from_stored(message)
        return None

    @property
    def chat_actions(self) -> list[str]:
        """sendChatAction actions the bot showed here, oldest first."""
        return list(self.chat.chat_actions)

    def message(self, message_id: int) -> ChatMessage | None:
        stored = self.chat.messages.get(message_id)
        return ChatMessage.from_stored(stored) if stored is not None else None

    def _sender_name(self, message: StoredMessage) -> str:
        return (
            f"bot {message.sender.first_name}" if message.from_bot else message.sender.display_name
        )

    def transcript(self) -> str:
        """The chat as text, for failure messages."""
        chat = self.chat
        name = chat.user.display_name if chat.user is not None else chat.title
        lines = [f"chat {chat.id} ({chat.type}, {name}), {len(chat.messages)} visible messages:"]
        for stored in chat.messages.values():
            lines.append(ChatMessage.from_stored(stored).describe(self._sender_name(stored)))
        answers = [q.answer for q in chat.callback_queries if q.answer is not None]
        for answer in answers:
            alert = " (alert)" if answer.show_alert else ""
            lines.append(f"  callback answer{alert}: {answer.text!r}")
        if chat.chat_actions:
            lines.append(f"  chat actions: {', '.join(chat.chat_actions[-5:])}")
        return "\n".join(lines)

    async def wait_for(
        self,
        predicate: Callable[[Self], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - test-facing API; raises with the transcript
    ) -> None:
        """Wait until ``predicate(self)`` holds; re-checked whenever this chat changes."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate(self):
                    await self.chat.notifier.wait()
        except TimeoutError:
            raise ChatWaitTimeout(
                f"condition not met within {timeout} s\n{self.transcript()}"
            ) from None

    async def wait_for_message(
        self,
        contains: str | None = None,
        *,
        where: Callable[[ChatMessage], bool] | None = None,
        after: ChatMessage | int | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - test-facing API; raises with the transcript
    ) -> ChatMessage:
        """The first bot message newer than ``after`` (default: what this handle last sent)
        whose text contains ``contains`` and that satisfies ``where``."""
        if after is None:
            after_id = self._last_sent_id
        else:
            after_id = after.message_id if isinstance(after, ChatMessage) else after
        found: list[ChatMessage] = []

        def matching(_: Self) -> bool:
            for stored in self.chat.messages.values():
                if stored.message_id <= after_id or not stored.from_bot:
                    continue
                if contains is not None and contains not in (stored.text or ""):
                    continue
                snapshot = ChatMessage.from_stored(stored)
                if where is None or where(snapshot):
                    found.append(snapshot)
                    return True
            return False

        what = f" containing {contains!r}" if contains is not None else ""
        try:
            await self.wait_for(matching, timeout)
        except ChatWaitTimeout:
            raise ChatWaitTimeout(
                f"no bot message{what} after #{after_id} within {timeout} s\n{self.transcript()}"
            ) from None
        return found[-1]

    def _find_button(
        self, matcher: ButtonMatcher, message: ChatMessage | int | None
    ) -> tuple[StoredMessage, InlineButton]:
        if message is not None:
            message_id = message.message_id if isinstance(message, ChatMessage) else message
            stored = self.chat.messages.get(message_id)
            if stored is None:
                raise LookupError(f"message #{message_id} is not visible\n{self.transcript()}")
            candidates = [stored]
        else:
            candidates = [m for m in reversed(self.chat.messages.values()) if m.reply_markup]
        for stored in candidates:
            button = ChatMessage.from_stored(stored).button(matcher)
            if button is not None:
                return stored, button
        raise LookupError(f"no inline button matching {matcher!r}\n{self.transcript()}")

    def _press(
        self, sender: UserAccount, matcher: ButtonMatcher, message: ChatMessage | int | None
    ) -> CallbackQueryHandle:
        stored, button = self._find_button(matcher, message)
        if button.callback_data is None:
            raise ValueError(
                f"button {button.text!r} is not a callback button (it has {dict(button.raw)})"
            )
        query = self.world.press(
            self.bot, self.chat, sender, message_id=stored.message_id, data=button.callback_data
        )
        return CallbackQueryHandle(query)

    def _press_data(
        self, sender: UserAccount, data: str, message_id: int | None
    ) -> CallbackQueryHandle:
        if message_id is None:
            last = self.last_bot_message
            message_id = last.message_id if last is not None else None
        query = self.world.press(self.bot, self.chat, sender, message_id=message_id, data=data)
        return CallbackQueryHandle(query)

    def _post(
        self,
        sender: UserAccount,
        *,
        kind: str,
        text: str | None = None,
        media: JsonObject | None = None,
        reply_to: ChatMessage | int | None = None,
        file: StoredFile | None = None,
    ) -> ChatMessage:
        replied: StoredMessage | None = None
        if reply_to is not None:
            reply_id = reply_to.message_id if isinstance(reply_to, ChatMessage) else reply_to
            replied = self.chat.messages.get(reply_id)
            if replied is None:
                raise LookupError(f"message #{reply_id} is not visible")
        stored = self.world.user_message(
            self.bot,
            self.chat,
            sender,
            kind=kind,
            text=text,
            media=media,
            file=file,
            reply_to=replied,
        )
        self._last_sent_id = stored.message_id
        return ChatMessage.from_stored(stored)


class EmulatedUser(ChatView):
    """A person in a private chat with the bot."""

    def __init__(
        self, world: TelegramWorld, bot: BotAccount, account: UserAccount, chat: ChatState
    ) -> None:
        super().__init__(world, bot, chat)
        self.account = account

    def __repr__(self) -> str:
        return f"<EmulatedUser {self.account.id} {self.account.display_name!r}>"

    @property
    def id(self) -> int:
        return self.account.id

    @property
    def first_name(self) -> str:
        return self.account.first_name

    @property
    def last_name(self) -> str | None:
        return self.account.last_name

    @property
    def username(self) -> str | None:
        return self.account.username

    @property
    def language_code(self) -> str | None:
        return self.account.language_code

    @property
    def is_blocked(self) -> bool:
        return self.chat.blocked

    @property
    def started(self) -> bool:
        return self.chat.started

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        """Answers to this user's button presses (in any chat with the bot), oldest first."""
        return [
            query.answer
            for query in self.bot.callback_queries.values()
            if query.user is self.account and query.answer is not None
        ]

    @property
    def reply_keyboard(self) -> list[list[str]] | None:
        """The custom (reply) keyboard currently shown, as rows of button texts."""
        keyboard = self.chat.reply_keyboard
        if keyboard is None:
            return None
        return [[button["text"] for button in row] for row in keyboard["keyboard"]]

    @property
    def command_menu(self) -> list[tuple[str, str]]:
        """The "/" menu this user's app shows, resolved by Telegram's scope/language rules."""
        language = (self.account.language_code or "")[:2]
        for scope in (("chat", self.chat.id), ("all_private_chats",), ("default",)):
            for code in (language, ""):
                commands = self.bot.commands.get((scope, code))
                if commands:
                    return [(c["command"], c["description"]) for c in commands]
        return []

    # --- sending ------------------------------------------------------------------------

    async def send_text(
        self, text: str, *, reply_to: ChatMessage | int | None = None
    ) -> ChatMessage:
        return self._post(self.account, kind="text", text=text, reply_to=reply_to)

    async def edit_text(self, message: ChatMessage | int, text: str) -> ChatMessage:
        """Edit one of this user's own visible text messages, as the app's "Edit" does: the
        bot gets an ``edited_message`` update (none when the text is unchanged). A message
        already deleted cannot be edited (``LookupError``)."""
        message_id = message.message_id if isinstance(message, ChatMessage) else message
        stored = self.chat.messages.get(message_id)
        if stored is None:
            raise LookupError(f"message #{message_id} is not visible\n{self.transcript()}")
        if stored.sender is not self.account or not stored.is_text:
            raise ValueError(f"message #{message_id} is not a text message of this user")
        formatted = format_text(text)
        if formatted.text == stored.text and formatted.entities == stored.entities:
            return ChatMessage.from_stored(stored)
        stored.text, stored.entities = formatted.text, formatted.entities
        stored.edit_date = self.world.clock.now()
        if not self.chat.blocked:  # a bot the user blocked hears nothing
            self.bot.updates.push("edited_message", stored.to_api())
        self.chat.notifier.notify()
        return ChatMessage.from_stored(stored)

    async def send_command(self, command: str, args: str | None = None) -> ChatMessage:
        """``send_command("/start")``, ``send_command("start", "payload")``."""
        text = command if command.startswith("/") else f"/{command}"
        if args:
            text = f"{text} {args}"
        return self._post(self.account, kind="text", text=text)

    async def send_sticker(self, emoji: str = "👍") -> ChatMessage:
        stored = self.world.files.add("sticker", _FAKE_WEBP, width=512, height=512)
        media = self.world.media_json(stored, emoji=emoji)
        return self._post(self.account, kind="sticker", media=media, file=stored)

    async def send_photo(
        self,
        data: bytes | None = None,
        *,
        caption: str | None = None,
        width: int = 640,
        height: int = 480,
    ) -> ChatMessage:
        """A photo (a generated PNG of ``width``x``height`` unless ``data`` is given)."""
        payload = data if data is not None else make_png(width, height)
        sizes = self.world.files.add_photo(payload, width, height)
        media = self.world.media_json(sizes[-1])
        return self._post(self.account, kind="photo", text=caption, media=media, file=sizes[-1])

    async def send_voice(self, duration: int = 3, data: bytes | None = None) -> ChatMessage:
        stored = self.world.files.add(
            "voice", data or b"OggS\x00" + bytes(64), mime_type="audio/ogg", duration=duration
        )
        return self._post(
            self.account, kind="voice", media=self.world.media_json(stored), file=stored
        )

    async def send_video(
        self,
        duration: int = 5,
        *,
        width: int = 640,
        height: int = 360,
        caption: str | None = None,
        data: bytes | None = None,
    ) -> ChatMessage:
        stored = self.world.files.add(
            "video",
            data or b"\x00\x00\x00\x18ftypmp42" + bytes(64),
            mime_type="video/mp4",
            width=width,
            height=height,
            duration=duration,
        )
        media = self.world.media_json(stored)
        return self._post(self.account, kind="video", text=caption, media=media, file=stored)

    async def send_document(
        self,
        data: bytes = b"hello\n",
        file_name: str = "note.txt",
        *,
        mime_type: str | None = None,
        caption: str | None = None,
    ) -> ChatMessage:
        stored = self.world.files.add(
            "document", data, file_name=file_name, mime_type=mime_type or "text/plain"
        )
        media = self.world.media_json(stored)
        return self._post(self.account, kind="document", text=caption, media=media, file=stored)

    async def send_location(
        self, latitude: float = 39.9042, longitude: float = 116.4074
    ) -> ChatMessage:
        media = {"location": {"latitude": latitude, "longitude": longitude}}
        return self._post(self.account, kind="location", media=media)

    async def send_contact(
        self,
        phone_number: str = "+8613800138000",
        first_name: str | None = None,
        last_name: str | None = None,
        *,
        own: bool = True,
    ) -> ChatMessage:
        """Share a contact; ``own=True`` shares the user's own (with their user_id)."""
        contact: JsonObject = {
            "phone_number": phone_number,
            "first_name": first_name or self.account.first_name,
        }
        if last_name or (own and self.account.last_name):
            contact["last_name"] = last_name or self.account.last_name
        if own:
            contact["user_id"] = self.account.id
        return self._post(self.account, kind="contact", media={"contact": contact})

    async def tap_reply_keyboard(self, text: str) -> ChatMessage:
        """Press a button of the custom keyboard: the app sends its text."""
        keyboard = self.reply_keyboard or []
        if not any(text in row for row in keyboard):
            raise LookupError(f"no reply keyboard button {text!r}\n{self.transcript()}")
        return await self.send_text(text)

    # --- buttons and blocking -----------------------------------------------------------

    async def press(
        self, button: ButtonMatcher, message: ChatMessage | int | None = None
    ) -> CallbackQueryHandle:
        """Press the inline button with this text (or matching the predicate) on the newest
        bot message that has one, or on ``message``."""
        return self._press(self.account, button, message)

    async def press_data(self, data: str, message_id: int | None = None) -> CallbackQueryHandle:
        """A callback query with arbitrary data (forged or stale) on ``message_id`` (default:
        the last bot message; an id that is not visible arrives as an inaccessible message)."""
        return self._press_data(self.account, data, message_id)

    def block(self) -> None:
        self.world.set_blocked(self.bot, self.chat, blocked=True)

    def unblock(self) -> None:
        self.world.set_blocked(self.bot, self.chat, blocked=False)

    def deactivate(self) -> None:
        """Delete the account: the bot gets 403 "user is deactivated"."""
        self.account.deactivated = True

    def download(self, message: ChatMessage) -> bytes:
        """The bytes of the photo/document in ``message``."""
        if message.file_id is None:
            raise ValueError(f"message #{message.message_id} has no file")
        stored = self.world.files.get(message.file_id)
        assert stored is not None
        return stored.data


class EmulatedGroup(ChatView):
    """A group with the bot in it; members post and press buttons."""

    def __repr__(self) -> str:
        return f"<EmulatedGroup {self.chat.id} {self.chat.title!r}>"

    @property
    def title(self) -> str:
        return self.chat.title or ""

    @property
    def member_ids(self) -> list[int]:
        return list(self.chat.members)

    def add_member(self, user: EmulatedUser, *, admin: bool = False) -> None:
        self.chat.members[user.id] = user.account
        if admin:
            self.chat.admins.add(user.id)

    def remove_member(self, user: EmulatedUser) -> None:
        self.chat.members.pop(user.id, None)
        self.chat.admins.discard(user.id)

    def remove_bot(self) -> None:
        """Kick the bot: further sends get 403 and the bot gets a my_chat_member update."""
        if not self.chat.bot_is_member:
            return
        self.chat.bot_is_member = False
        bot_user = self.bot.account.to_api()
        self.bot.updates.push(
            "my_chat_member",
            {
                "chat": self.chat.to_api(),
                "from": next(iter(self.chat.members.values())).to_api()
                if self.chat.members
                else bot_user,
                "date": self.world.clock.now(),
                "old_chat_member": {"status": "member", "user": bot_user},
                "new_chat_member": {"status": "left", "user": bot_user},
            },
        )

    async def send_text(
        self, sender: EmulatedUser, text: str, *, reply_to: ChatMessage | int | None = None
    ) -> ChatMessage:
        return self._post(sender.account, kind="text", text=text, reply_to=reply_to)

    async def send_command(
        self,
        sender: EmulatedUser,
        command: str,
        args: str | None = None,
        *,
        mention_bot: bool = False,
    ) -> ChatMessage:
        """A command from ``sender``; ``mention_bot`` writes ``/cmd@bot_username``."""
        text = command if command.startswith("/") else f"/{command}"
        if mention_bot:
            text = f"{text}@{self.bot.username}"
        if args:
            text = f"{text} {args}"
        return self._post(sender.account, kind="text", text=text)

    async def press(
        self,
        sender: EmulatedUser,
        button: ButtonMatcher,
        message: ChatMessage | int | None = None,
    ) -> CallbackQueryHandle:
        return self._press(sender.account, button, message)

    async def press_data(
        self, sender: EmulatedUser, data: str, message_id: int | None = None
    ) -> CallbackQueryHandle:
        return self._press_data(sender.account, data, message_id)
