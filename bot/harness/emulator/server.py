"""``BotApiEmulator``: a local Telegram Bot API server plus the handles tests drive it with.

Serves ``/bot<token>/<method>`` (GET or POST; query string, urlencoded or multipart form, or
JSON body) and ``/file/bot<token>/<path>`` on 127.0.0.1. Answers look like Telegram's: the same
status codes, ``{"ok": false, "error_code", "description"}`` bodies, ``parameters.retry_after``
on 429. Webhooks are stored and reported by getWebhookInfo but updates are not pushed to them:
a bot under test uses long polling.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Mapping
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from bot.harness.emulator.call_log import CallLog
from bot.harness.emulator.clock import VirtualClock
from bot.harness.emulator.errors import (
    NOT_FOUND,
    UNAUTHORIZED,
    ApiError,
    bad_request,
    too_many_requests,
)
from bot.harness.emulator.faults import Fault, FaultInjector, FaultKind
from bot.harness.emulator.files import MAX_UPLOAD_BYTES, UploadedFile
from bot.harness.emulator.methods import BotApiMethods, Described, Handler
from bot.harness.emulator.rate_limits import Limits
from bot.harness.emulator.spec import ApiSpec, load_spec
from bot.harness.emulator.state import BotAccount, CallbackQueryState, ChatType
from bot.harness.emulator.users import EmulatedGroup, EmulatedUser
from bot.harness.emulator.validation import RequestValidator, compile_validators
from bot.harness.emulator.world import TelegramWorld

logger = logging.getLogger(__name__)

#: How long Telegram lets a bot answer a callback query before it becomes "too old".
CALLBACK_QUERY_TIMEOUT = 15.0


def _dumps(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


class BotApiEmulator:
    """A fake Telegram that behaves like the real one for this bot's needs.

    >>> async with BotApiEmulator() as emu:
    ...     token = emu.create_bot(username="qingfeng_bot", first_name="清风")
    ...     user = emu.user(first_name="张", last_name="三")
    ...     await user.send_command("/start")
    """

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        spec: ApiSpec | None = None,
        clock: VirtualClock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        callback_query_timeout: float = CALLBACK_QUERY_TIMEOUT,
        max_recorded_calls: int | None = None,
    ) -> None:
        self.spec = spec or load_spec()
        self.clock = clock or VirtualClock()
        self.world = TelegramWorld(
            self.clock, limits or Limits(), callback_query_timeout=callback_query_timeout
        )
        self.faults = FaultInjector()
        self.calls = CallLog(max_recorded_calls)
        self._host = host
        self._port = port
        self._validators: dict[str, RequestValidator] = compile_validators(self.spec)
        handlers = BotApiMethods(self.world, self.spec).handlers()
        self._handlers: dict[str, tuple[str, Handler]] = {
            name.lower(): (name, handler) for name, handler in handlers.items()
        }
        missing = set(self._validators) ^ set(self._handlers)
        if missing:
            raise RuntimeError(f"spec and handlers disagree on: {', '.join(sorted(missing))}")
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._closing: asyncio.Event | None = None
        self._users: dict[tuple[int, int], EmulatedUser] = {}
        self._groups: dict[tuple[int, int], EmulatedGroup] = {}

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Bind ``host`` (a free port unless one was given) and serve."""
        if self._runner is not None:
            raise RuntimeError("already started")
        self.world.closing = False
        self._closing = asyncio.Event()
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_download)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        site = web.SockSite(runner, sock)
        await site.start()
        self._runner = runner
        host, port = sock.getsockname()[:2]
        self._base_url = f"http://{host}:{port}"

    async def stop(self) -> None:
        """Release long polls and delayed requests, then close the server."""
        if self._runner is None:
            return
        self.world.closing = True
        if self._closing is not None:
            self._closing.set()
        self.world.wake_everyone()
        runner, self._runner = self._runner, None
        await runner.cleanup()
        self._base_url = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` for ``TelegramAPIServer.from_base``."""
        if self._base_url is None:
            raise RuntimeError("the emulator is not running; await start() first")
        return self._base_url

    # --- configuration and setup --------------------------------------------------------

    @property
    def limits(self) -> Limits:
        return self.world.limits

    @limits.setter
    def limits(self, limits: Limits) -> None:
        """Replace the flood limits (buckets start full), e.g. ``Limits.unlimited()``."""
        self.world.set_limits(limits)

    def create_bot(
        self,
        username: str = "qingfeng_bot",
        first_name: str = "清风",
        *,
        token: str | None = None,
        can_join_groups: bool = True,
        can_read_all_group_messages: bool = False,
    ) -> str:
        """Register a bot and return its token (``"<bot id>:<secret>"``)."""
        bot = self.world.create_bot(
            username=username,
            first_name=first_name,
            token=token,
            can_join_groups=can_join_groups,
            can_read_all_group_messages=can_read_all_group_messages,
        )
        return bot.token

    def user(
        self,
        user_id: int | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "zh-hans",
        *,
        is_premium: bool = False,
        started: bool = False,
        bot: str | None = None,
    ) -> EmulatedUser:
        """A user and their private chat with the bot (``bot`` token; default: first bot).

        ``started=True`` means they pressed Start earlier, so the bot may message them at once
        (broadcast benchmarks); otherwise the bot gets 403 until the user writes. Asking again
        for the same ``user_id`` returns the same handle.
        """
        bot_account = self.world.bot(bot)
        account = self.world.register_user(
            user_id=user_id,
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            is_premium=is_premium,
        )
        key = (bot_account.id, account.id)
        handle = self._users.get(key)
        if handle is None:
            chat = self.world.private_chat(bot_account, account)
            handle = EmulatedUser(self.world, bot_account, account, chat)
            self._users[key] = handle
        if started:
            handle.chat.started = True
        return handle

    def group(
        self,
        chat_id: int | None = None,
        title: str = "测试群",
        members: list[EmulatedUser] | tuple[EmulatedUser, ...] = (),
        *,
        admins: list[EmulatedUser] | tuple[EmulatedUser, ...] = (),
        username: str | None = None,
        chat_type: ChatType | None = None,
        bot_is_admin: bool = False,
        bot: str | None = None,
    ) -> EmulatedGroup:
        """A group the bot is in; ids starting with -100 are supergroups unless told."""
        bot_account = self.world.bot(bot)
        chat = self.world.create_group(
            bot_account,
            chat_id=chat_id,
            title=title,
            members=[member.account for member in members],
            admins=[admin.account for admin in admins],
            username=username,
            chat_type=chat_type,
            bot_is_admin=bot_is_admin,
        )
        handle = EmulatedGroup(self.world, bot_account, chat)
        self._groups[(bot_account.id, chat.id)] = handle
        return handle

    def unanswered_callbacks(self, bot: str | None = None) -> list[CallbackQueryState]:
        """Callback queries nobody answered (every press deserves an answerCallbackQuery)."""
        return self.world.unanswered_callbacks(self.world.bot(bot) if bot else None)

    def pending_updates(self, bot: str | None = None) -> int:
        return len(self.world.bot(bot).updates)

    def file_content(self, file_id: str) -> bytes:
        stored = self.world.files.get(file_id)
        if stored is None:
            raise LookupError(f"no file {file_id!r}")
        return stored.data

    # --- HTTP -----------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        requested = request.match_info["method"]
        known = self._handlers.get(requested.lower())
        method = known[0] if known else requested
        bot = self.world.bots_by_token.get(token)
        fault = self.faults.take(method)
        if fault is not None:
            refusal = self._refuse_by_fault(request, bot, fault, method)
            if refusal is not None:
                return refusal
        raw: Mapping[str, Any] = {}
        params: Mapping[str, Any] | None = None
        try:
            raw, uploads = await self._read_params(request)
            if fault is not None and fault.kind is FaultKind.DELAY:
                await self._sleep(fault.delay)  # after the body arrived: the request is "sent"
            if bot is None:
                raise UNAUTHORIZED
            if known is None:
                raise NOT_FOUND
            params = self._validators[method.lower()].validate(raw, uploads)
            result = await known[1](bot, params)
        except ApiError as error:
            self._record(bot, method, params or raw, error.status, error.description, fault)
            return self._json(error.to_body(), error.status)
        description = None
        if isinstance(result, Described):
            result, description = result.result, result.description
        body: dict[str, Any] = {"ok": True, "result": result}
        if description is not None:
            body["description"] = description
        if fault is not None and fault.kind is FaultKind.DROP_CONNECTION:
            self._record(
                bot, method, params, 0, "connection dropped after processing", fault, result
            )
            return self._drop(request)
        self._record(bot, method, params, 200, description, fault, result)
        return self._json(body, 200)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up when the emulator stops."""
        assert self._closing is not None
        try:
            async with asyncio.timeout(seconds):
                await self._closing.wait()
        except TimeoutError:
            pass

    def _refuse_by_fault(
        self, request: web.Request, bot: BotAccount | None, fault: Fault, method: str
    ) -> web.StreamResponse | None:
        """The response for a fault that replaces processing; None if the request proceeds."""
        if fault.kind is FaultKind.DELAY:
            return None
        if fault.kind is FaultKind.DROP_CONNECTION:
            if fault.after_processing:
                return None
            self._record(bot, method, dict(request.query), 0, "connection dropped", fault)
            return self._drop(request)
        if fault.kind is FaultKind.TOO_MANY_REQUESTS:
            error = too_many_requests(fault.retry_after)
        else:
            error = ApiError(fault.status, HTTPStatus(fault.status).phrase)
        self._record(bot, method, dict(request.query), error.status, error.description, fault)
        return self._json(error.to_body(), error.status)

    async def _read_params(
        self, request: web.Request
    ) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
        raw: dict[str, Any] = dict(request.query)
        uploads: dict[str, UploadedFile] = {}
        if request.method != "POST" or not request.can_read_body:
            return raw, uploads
        content_type = request.content_type
        try:
            if content_type == "application/json":
                try:
                    body = json.loads(await request.read() or b"{}")
                except ValueError as error:
                    raise bad_request("can't parse JSON request body") from error
                if not isinstance(body, dict):
                    raise bad_request("JSON request body must be an object")
                raw.update(body)
            elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for name, value in form.items():
                    if isinstance(value, web.FileField):
                        upload = UploadedFile(
                            field_name=name,
                            filename=value.filename,
                            content_type=value.content_type,
                            data=value.file.read(),
                        )
                        uploads[name] = upload
                        raw[name] = upload
                    else:
                        raw[name] = value
        except web.HTTPRequestEntityTooLarge as error:
            raise ApiError(413, "Request Entity Too Large") from error
        return raw, uploads

    async def _handle_download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] not in self.world.bots_by_token:
            return self._json(UNAUTHORIZED.to_body(), 401)
        stored = self.world.files.by_path(request.match_info["path"])
        if stored is None:
            return self._json(NOT_FOUND.to_body(), 404)
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    def _record(
        self,
        bot: BotAccount | None,
        method: str,
        params: Mapping[str, Any],
        status: int,
        description: str | None,
        fault: Fault | None,
        result: Any = None,
    ) -> None:
        self.calls.add(
            at=self.clock.time(),
            bot_id=bot.id if bot is not None else None,
            method=method,
            params=params,
            status=status,
            description=description,
            result=result,
            fault=fault.kind.value if fault is not None else None,
        )

    @staticmethod
    def _json(body: Mapping[str, Any], status: int) -> web.Response:
        return web.Response(text=_dumps(body), status=status, content_type="application/json")

    @staticmethod
    def _drop(request: web.Request) -> web.Response:
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=204)
