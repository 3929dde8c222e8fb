"""Running broadcasts inside the bot process: start, pause, resume, cancel, progress, resume
after a restart. Handlers reach it as `broadcasts` in `dp.workflow_data`.

The sender uses its own `Bot` (`create_sender_bot`): same token and server, but a separate
HTTP session **without** `RetryMiddleware`, so a 429 reaches the sender (which pauses every
send) instead of being slept through inside one request, and no request is retried behind its
back. Progress messages and reports go through the app's normal bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.broadcast.callbacks import BroadcastAction, BroadcastCallback
from bot.broadcast.sender import BroadcastSender, Progress
from bot.config import Settings
from bot.middlewares.response_models import KeepResponseModels
from storage.repositories.broadcasts import (
    BroadcastContent,
    BroadcastJob,
    BroadcastRepository,
    ProgressRef,
)

logger = logging.getLogger(__name__)

FREE_RATE_CEILING = 30.0  # Telegram's overall limit without paid broadcasts


def create_sender_bot(token: str, api_url: str) -> Bot:
    """A Bot for the broadcast sender: no retry middleware (the sender handles 429 itself)."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url), limit=100)
    session.middleware(KeepResponseModels())
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_text(job_id: str, status: str, progress: Progress) -> str:
    """The admin's progress message (call inside an i18n context)."""
    counts = progress.counts
    states = {
        "running": _("sending"),
        "paused": _("paused"),
        "cancelled": _("cancelled"),
        "done": _("finished"),
    }
    lines = [
        _("<b>Broadcast</b> {ref} — {state}").format(
            ref=job_id[:8], state=states.get(status, status)
        ),
        _("Sent: {sent} · blocked: {blocked} · failed: {failed}").format(
            sent=counts["sent"], blocked=counts["blocked"], failed=counts["failed"]
        ),
        _("Remaining: {remaining} of {total}").format(
            remaining=progress.remaining, total=progress.total
        ),
    ]
    if counts["unknown"] or counts["skipped"]:
        lines.append(
            _("Unknown (interrupted, not resent): {unknown} · skipped: {skipped}").format(
                unknown=counts["unknown"], skipped=counts["skipped"]
            )
        )
    if status == "running":
        lines.append(
            _("Rate: {rate:.1f}/s · ETA: {eta}").format(
                rate=progress.rate, eta=_duration(progress.eta)
            )
        )
        if progress.paused_for > 0:
            lines.append(
                _("Telegram asked to wait {seconds}s; all sending is paused.").format(
                    seconds=int(progress.paused_for + 0.999)
                )
            )
    return "\n".join(lines)


def controls(job_id: str, status: str) -> InlineKeyboardMarkup | None:
    """Pause/resume and cancel buttons for a job in `status` (none once it has ended)."""
    if status not in ("running", "paused"):
        return None
    toggle = (
        InlineKeyboardButton(
            text=_("⏸ Pause"),
            callback_data=BroadcastCallback(a=BroadcastAction.PAUSE, job=job_id).pack(),
        )
        if status == "running"
        else InlineKeyboardButton(
            text=_("▶️ Resume"),
            callback_data=BroadcastCallback(a=BroadcastAction.RESUME, job=job_id).pack(),
        )
    )
    cancel = InlineKeyboardButton(
        text=_("✖️ Cancel broadcast"),
        callback_data=BroadcastCallback(a=BroadcastAction.CANCEL, job=job_id).pack(),
    )
    return InlineKeyboardMarkup(inline_keyboard=[[toggle, cancel]])


class BroadcastRuntime:
    """One sender task per running job; jobs still `running` after a restart resume."""

    def __init__(
        self,
        settings: Settings,
        repository: BroadcastRepository,
        *,
        i18n: I18n | None = None,
        progress_interval: float = 5.0,
        sender_options: dict[str, Any] | None = None,
        sender_bot_factory: Callable[[], Bot] | None = None,
    ) -> None:
        self.settings = settings
        self.repository = repository
        self._i18n = i18n
        self.progress_interval = progress_interval
        self.sender_options = dict(sender_options or {})
        self._sender_bot_factory = sender_bot_factory
        self._bot: Bot | None = None
        self._sender_bot: Bot | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._senders: dict[str, BroadcastSender] = {}
        self._shown: dict[str, str] = {}

    def handler_data(self) -> dict[str, Any]:
        return {"broadcasts": self}

    @property
    def rate(self) -> float:
        """BROADCAST_RATE, kept under Telegram's free ceiling unless paid broadcasts are on."""
        if self.settings.allow_paid_broadcast:
            return self.settings.broadcast_rate
        return min(self.settings.broadcast_rate, FREE_RATE_CEILING)

    def _translator(self) -> I18n:
        if self._i18n is None:
            from bot.i18n import make_i18n

            self._i18n = make_i18n(self.settings.default_locale)
        return self._i18n

    # --- lifecycle ----------------------------------------------------------------------

    async def on_startup(self, bot: Bot) -> None:
        self._bot = bot
        for job_id in await self.repository.ids_with_status("running"):
            self.launch(job_id)

    async def on_shutdown(self) -> None:
        for sender in list(self._senders.values()):
            sender.stop()
        tasks = list(self._tasks.values())
        if tasks:
            await asyncio.wait(tasks, timeout=15)
        for task in tasks:
            task.cancel()
        if self._sender_bot is not None:
            await self._sender_bot.session.close()
            self._sender_bot = None

    def _sending_bot(self) -> Bot:
        if self._sender_bot is None:
            if self._sender_bot_factory is not None:
                self._sender_bot = self._sender_bot_factory()
            else:
                token = self.settings.bot_token
                self._sender_bot = create_sender_bot(
                    token.get_secret_value() if token else "", self.settings.telegram_api_url
                )
        return self._sender_bot

    def is_active(self, job_id: str) -> bool:
        task = self._tasks.get(job_id)
        return task is not None and not task.done()

    def task(self, job_id: str) -> asyncio.Task[None] | None:
        return self._tasks.get(job_id)

    def launch(self, job_id: str) -> None:
        if self.is_active(job_id):
            return
        self._tasks[job_id] = asyncio.create_task(self._run(job_id))

    def crash(self, job_id: str) -> None:
        """Kill the sender abruptly, as a crash would (tests): nothing is written."""
        task = self._tasks.get(job_id)
        if task is not None:
            task.cancel()

    # --- admin actions (the handler checked the role; each change and its audit entry are
    # --- committed in one transaction) ----------------------------------------------------

    async def start(
        self,
        content: BroadcastContent,
        *,
        locale: str | None,
        actor_user_id: int,
        progress_chat_id: int,
        admin_locale: str,
    ) -> str:
        async with self.repository.transaction() as connection:
            job_id = await self.repository.create(
                content,
                locale=locale,
                paid=self.settings.allow_paid_broadcast,
                connection=connection,
            )
            await self.repository.audit(
                actor_user_id, "broadcast.start", job_id, connection=connection
            )
        job = await self.repository.get(job_id)
        assert job is not None
        bot = self._require_bot()
        with self._locale(admin_locale):
            counts = await self.repository.counts(job_id)
            text = progress_text(job_id, "running", Progress(counts, job.total, 0.0, 0.0))
            message = await bot.send_message(
                progress_chat_id, text, reply_markup=controls(job_id, "running")
            )
        await self.repository.set_progress_ref(
            job_id, ProgressRef(progress_chat_id, message.message_id, admin_locale)
        )
        self.launch(job_id)
        return job_id

    async def _audited_status(
        self, job_id: str, status: str, only_from: tuple[str, ...], actor_user_id: int
    ) -> bool:
        """Change the job's status and audit it in one transaction; False if unchanged."""
        async with self.repository.transaction() as connection:
            changed = await self.repository.set_status(
                job_id, status, only_from=only_from, connection=connection
            )
            if changed:
                action = {"paused": "pause", "running": "resume", "cancelled": "cancel"}[status]
                await self.repository.audit(
                    actor_user_id, f"broadcast.{action}", job_id, connection=connection
                )
        return changed

    async def pause(self, job_id: str, actor_user_id: int) -> bool:
        if not await self._audited_status(job_id, "paused", ("running",), actor_user_id):
            return False
        await self._stop_sender(job_id)
        await self.refresh(job_id)
        return True

    async def resume(self, job_id: str, actor_user_id: int) -> bool:
        if not await self._audited_status(job_id, "running", ("paused",), actor_user_id):
            return False
        self.launch(job_id)
        await self.refresh(job_id)
        return True

    async def cancel(self, job_id: str, actor_user_id: int) -> bool:
        if not await self._audited_status(
            job_id, "cancelled", ("running", "paused"), actor_user_id
        ):
            return False
        await self._stop_sender(job_id)
        await self._final_report(job_id)
        return True

    async def _stop_sender(self, job_id: str) -> None:
        sender = self._senders.get(job_id)
        if sender is not None:
            sender.stop()
        task = self._tasks.get(job_id)
        if task is not None and not task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- sending and progress -----------------------------------------------------------

    def _require_bot(self) -> Bot:
        if self._bot is None:
            raise RuntimeError("the broadcast runtime has not started (on_startup)")
        return self._bot

    @contextlib.contextmanager
    def _locale(self, locale: str) -> Any:
        i18n = self._translator()
        with i18n.context(), i18n.use_locale(locale):
            yield

    async def _run(self, job_id: str) -> None:
        job = await self.repository.get(job_id)
        if job is None or job.status != "running":
            return

        async def on_progress(progress: Progress) -> None:
            await self._show(job, "running", progress)

        options: dict[str, Any] = {"progress_interval": self.progress_interval}
        options.update(self.sender_options)
        options.setdefault("rate", self.rate)
        sender = BroadcastSender(
            self.repository,
            self._sending_bot(),
            job_id,
            job.content,
            paid=job.paid,
            on_progress=on_progress,
            **options,
        )
        self._senders[job_id] = sender
        try:
            report = await sender.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("Broadcast sender stopped on an error; it resumes on restart")
            return
        finally:
            self._senders.pop(job_id, None)
        if report.finished:
            await self._final_report(job_id)

    async def refresh(self, job_id: str) -> None:
        job = await self.repository.get(job_id)
        if job is None:
            return
        counts = await self.repository.counts(job_id)
        await self._show(job, job.status, Progress(counts, job.total, 0.0, 0.0))

    async def _show(self, job: BroadcastJob, status: str, progress: Progress) -> None:
        ref = job.progress_ref
        if ref is None or self._bot is None:
            return
        with self._locale(ref.locale):
            text = progress_text(job.id, status, progress)
            markup = controls(job.id, status)
        if self._shown.get(job.id) == text:
            return
        try:
            await self._bot.edit_message_text(
                text=text, chat_id=ref.chat_id, message_id=ref.message_id, reply_markup=markup
            )
            self._shown[job.id] = text
        except TelegramBadRequest as exc:
            if "not modified" not in exc.message:
                logger.info("Broadcast progress message not updated: %s", exc.message)
        except TelegramAPIError as exc:
            logger.info("Broadcast progress message not updated: %s", exc.message)

    async def _final_report(self, job_id: str) -> None:
        job = await self.repository.get(job_id)
        if job is None:
            return
        counts = await self.repository.counts(job_id)
        await self._show(job, job.status, Progress(counts, job.total, 0.0, 0.0))
        ref = job.progress_ref
        if ref is None or self._bot is None:
            return
        errors = await self.repository.errors(job_id)
        with self._locale(ref.locale):
            lines = [
                _("<b>Broadcast {ref} report</b>").format(ref=job_id[:8])
                if job.status == "done"
                else _("<b>Broadcast {ref} cancelled</b>").format(ref=job_id[:8]),
                _("Recipients: {total}").format(total=job.total),
                _("Delivered: {sent}").format(sent=counts["sent"]),
                _("Blocked the bot (now unsubscribed): {blocked}").format(
                    blocked=counts["blocked"]
                ),
                _("Failed: {failed}").format(failed=counts["failed"]),
                _("Unknown (interrupted, not resent): {unknown}").format(unknown=counts["unknown"]),
                _("Skipped (unsubscribed or cancelled): {skipped}").format(
                    skipped=counts["skipped"]
                ),
            ]
            from html import escape

            lines += [f"• {escape(reason)}: {count}" for reason, count in errors]
            text = "\n".join(lines)
        try:
            await self._bot.send_message(ref.chat_id, text)
        except TelegramAPIError as exc:
            logger.info("Broadcast report not sent: %s", exc.message)


def build_broadcast_runtime(services: Any) -> BroadcastRuntime:
    """The runtime for `create_dispatcher`; `services.extra["broadcast_options"]` (a dict of
    `BroadcastRuntime` keyword arguments) lets tests shorten the progress interval."""
    from bot.i18n import make_i18n
    from storage.repositories import BroadcastRepository

    settings: Settings = services.settings
    options = dict(services.extra.get("broadcast_options") or {})
    repository = BroadcastRepository(services.database, services.cipher, zone=settings.zone)
    return BroadcastRuntime(
        settings, repository, i18n=make_i18n(settings.default_locale), **options
    )
