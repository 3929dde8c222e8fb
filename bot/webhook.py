"""Webhook mode: Telegram POSTs updates to an aiohttp route on the web channel's application.

Design (why it looks like this):
- Updates are handled *before* the 2xx is returned (`handle_in_background=False`). Telegram,
  like the emulator, sends one chat's next update only after the previous request was
  answered, so a chat's updates are handled in order even when a load balancer spreads them
  over several instances. Answering at once and handling in a task would let two updates of
  one chat race for the cross-instance lock, and Redis locks are not first-come-first-served.
- A replayed update (same `update_id`, e.g. Telegram retrying after a timeout, to any
  instance) is acknowledged and not handled again: `SET qingfeng:update:<id> 1 NX EX 3600`
  in Redis, or a bounded in-process set without Redis. If handling fails the mark is removed
  so that Telegram's retry is handled (an update is never lost for a crash in a handler).
- The per-chat lock across instances is a Redis lock under the pseudonymous key builder (no
  raw id in the key space), renewed while its update is handled, preceded by an in-process
  FIFO lock per key so that, within a process, waiting updates of a chat still go in arrival
  order.
- The webhook is never deleted when an instance stops (another replica still serves it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.fsm.storage.base import BaseEventIsolation, KeyBuilder, StorageKey
from aiogram.types import TelegramObject, Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError

from bot.anonymity.pseudonym import Pseudonymizer
from bot.config import Settings

logger = logging.getLogger(__name__)

DEFAULT_WEBHOOK_PATH = "/telegram/webhook"
REPLAY_WINDOW_SECONDS = 3600
#: How long a chat's lock outlives an instance that died while holding it.
CHAT_LOCK_SECONDS = 30.0


def webhook_secret(settings: Settings, pseudonymizer: Pseudonymizer) -> str:
    """WEBHOOK_SECRET, or a value every replica derives alike from PSEUDONYM_SECRET (an HMAC:
    hex, within Telegram's A-Z, a-z, 0-9, _ and - up to 256 characters). Never logged."""
    if settings.webhook_secret is not None:
        return settings.webhook_secret.get_secret_value()
    return pseudonymizer.of("telegram-webhook-secret")


class SeenUpdates(Protocol):
    """Remembers which update ids were taken by some instance."""

    async def claim(self, update_id: int) -> bool:
        """True for the first claim of `update_id`, False for a replay."""
        ...

    async def release(self, update_id: int) -> None:
        """Forget a claim whose handling failed, so that the retry is handled."""
        ...


class SeenInRedis:
    """Update ids claimed across every instance sharing one Redis."""

    def __init__(self, redis: Redis, *, ttl_seconds: int = REPLAY_WINDOW_SECONDS) -> None:
        self._redis = redis
        self._ttl = ttl_seconds

    @staticmethod
    def key(update_id: int) -> str:
        return f"qingfeng:update:{update_id}"

    async def claim(self, update_id: int) -> bool:
        return bool(await self._redis.set(self.key(update_id), 1, nx=True, ex=self._ttl))

    async def release(self, update_id: int) -> None:
        await self._redis.delete(self.key(update_id))


class SeenInMemory:
    """Update ids claimed by this process, the newest `limit` of them (a single instance)."""

    def __init__(self, limit: int = 100_000) -> None:
        self._ids: OrderedDict[int, None] = OrderedDict()
        self._limit = limit

    async def claim(self, update_id: int) -> bool:
        if update_id in self._ids:
            return False
        self._ids[update_id] = None
        while len(self._ids) > self._limit:
            self._ids.popitem(last=False)
        return True

    async def release(self, update_id: int) -> None:
        self._ids.pop(update_id, None)


class OrderedRedisEventIsolation(BaseEventIsolation):
    """A Redis lock per FSM key across instances, taken in arrival order within this process.

    The lock lasts `lock_seconds` and is renewed every third of that while its update is
    handled, so a slow handler (one waiting its turn under Telegram's rate, say) keeps its
    chat to itself however long it takes, while the chat of an instance that died is free
    again within `lock_seconds`. (aiogram's `RedisEventIsolation` lets a lock run out after
    60 s even while its update is still being handled.)"""

    def __init__(
        self, redis: Redis, key_builder: KeyBuilder, *, lock_seconds: float = CHAT_LOCK_SECONDS
    ) -> None:
        self._redis = redis
        self._key_builder = key_builder
        self._lock_seconds = lock_seconds
        self._local: dict[StorageKey, asyncio.Lock] = {}
        self._waiting: dict[StorageKey, int] = {}

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncGenerator[None, None]:
        local = self._local.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with local:
                chat_lock = self._redis.lock(
                    self._key_builder.build(key, "lock"), timeout=self._lock_seconds
                )
                await chat_lock.acquire()
                renewal = asyncio.create_task(self._keep(chat_lock))
                try:
                    yield None
                finally:
                    renewal.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await renewal
                    try:
                        await chat_lock.release()
                    except LockError:
                        logger.warning("A chat lock ran out before its update was handled")
        finally:
            self._waiting[key] -= 1
            if self._waiting[key] == 0:
                del self._waiting[key]
                self._local.pop(key, None)

    async def _keep(self, chat_lock: Lock) -> None:
        """Renew the lock until cancelled (or until it is found lost)."""
        while True:
            await asyncio.sleep(self._lock_seconds / 3)
            try:
                await chat_lock.reacquire()
            except LockError:
                logger.warning("A chat lock was lost while its update was handled")
                return

    async def close(self) -> None:
        pass


class DropReplayedUpdates(BaseMiddleware):
    """Outer update middleware: an update id some instance already took is acknowledged
    (the webhook answers 200) and not handled again. An update whose handling fails so that
    the webhook answers 500 is released by the request handler, so Telegram's retry counts."""

    def __init__(self, seen: SeenUpdates) -> None:
        self.seen = seen

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        if not await self.seen.claim(event.update_id):
            logger.info("Replayed update acknowledged without handling")
            return None
        return await handler(event, data)


class KeepWebhookRequestHandler(SimpleRequestHandler):
    """aiogram's handler: the secret token is checked first (401, nothing handled), and the
    update is handled before the answer (see the module's docstring for why)."""

    def __init__(
        self, dispatcher: Dispatcher, bot: Bot, *, secret_token: str, seen: SeenUpdates | None
    ) -> None:
        super().__init__(dispatcher, bot, handle_in_background=False, secret_token=secret_token)
        self._seen = seen

    async def _handle_request(self, bot: Bot, request: web.Request) -> web.Response:
        try:
            return await super()._handle_request(bot, request)
        except Exception:
            update = await request.json(loads=bot.session.json_loads)
            update_id = update.get("update_id") if isinstance(update, dict) else None
            if self._seen is not None and isinstance(update_id, int):
                await self._seen.release(update_id)
            raise

    async def close(self) -> None:
        """Close the bot's session only; never delete the webhook (other replicas serve it)."""
        await self.bot.session.close()


class HealthRoutes:
    """`/healthz`: the process answers. `/readyz`: every dependency answers (503 otherwise).
    Nothing about the caller is logged."""

    def __init__(self, ready: Callable[[], Awaitable[Any]]) -> None:
        self._ready = ready

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(self, request: web.Request) -> web.Response:
        try:
            await asyncio.wait_for(self._ready(), timeout=5)
        except Exception as exc:
            logger.warning("Not ready: %s", type(exc).__name__)
            return web.json_response({"status": "unavailable"}, status=503)
        return web.json_response({"status": "ready"})

    def register(self, app: web.Application) -> None:
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)


async def ensure_webhook(
    bot: Bot, url: str, *, secret_token: str, max_connections: int, allowed_updates: list[str]
) -> bool:
    """Set the webhook unless it is already set alike (setWebhook is idempotent at Telegram,
    but every replica starting need not call it); True when it was called. Never drops
    pending updates."""
    info = await bot.get_webhook_info()
    same = (
        info.url == url
        and info.max_connections == max_connections
        and sorted(info.allowed_updates or []) == sorted(allowed_updates)
    )
    if same:
        return False
    await bot.set_webhook(
        url,
        secret_token=secret_token,
        max_connections=max_connections,
        allowed_updates=allowed_updates,
        drop_pending_updates=False,
    )
    logger.info("Webhook set")
    return True


def add_webhook_routes(
    app: web.Application,
    dispatcher: Dispatcher,
    bot: Bot,
    *,
    path: str,
    secret: str,
    ready: Callable[[], Awaitable[Any]],
    replays: DropReplayedUpdates | None = None,
) -> None:
    """Telegram's webhook route, /healthz and /readyz on `app`; the dispatcher's start-up and
    shutdown hooks run with the application's."""
    seen = replays.seen if replays is not None else None
    handler = KeepWebhookRequestHandler(dispatcher, bot, secret_token=secret, seen=seen)
    handler.register(app, path=path)
    HealthRoutes(ready).register(app)
    setup_application(app, dispatcher, bot=bot)


async def register_webhook(
    bot: Bot, settings: Settings, secret: str, dispatcher: Dispatcher
) -> bool:
    """setWebhook with WEBHOOK_URL, only when Telegram's current one differs."""
    if settings.webhook_url is None:
        raise ValueError("webhook mode needs WEBHOOK_URL")
    return await ensure_webhook(
        bot,
        settings.webhook_url,
        secret_token=secret,
        max_connections=settings.webhook_max_connections,
        allowed_updates=dispatcher.resolve_used_update_types(),
    )
