"""Running broadcasts inside the bot process: start, pause, resume, cancel, progress, resume
after a restart. Handlers receive it as `broadcasts`.

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
from html import escape
from typing import Any, TypedDict

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.anonymity.crypto import TextCipher
from bot.broadcast.callbacks import BroadcastAction, BroadcastCallback
from bot.broadcast.sender import BroadcastSender, Progress
from bot.config import Settings
from bot.i18n import make_i18n
from bot.middlewares.response_models import KeepResponseModels
from bot.staff.audited import AuditedActions
from bot.statuses import BroadcastStatus, RecipientStatus
from storage.database import Database
from storage.repositories.broadcasts import (
    BroadcastContent,
    BroadcastJob,
    BroadcastRepository,
    ProgressRef,
)
from storage.repositories.job_leases import LeaseHolder

logger = logging.getLogger(__name__)

FREE_RATE_CEILING = 30.0  # Telegram's overall limit without paid broadcasts
POLL_SECONDS = 5.0  # how often an instance looks for running jobs that nobody sends


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


def progress_text(job_id: str, status: BroadcastStatus, progress: Progress) -> str:
    """The admin's progress message (call inside an i18n context)."""
    counts = progress.counts
    states = {
        BroadcastStatus.RUNNING: _("sending"),
        BroadcastStatus.PAUSED: _("paused"),
        BroadcastStatus.CANCELLED: _("cancelled"),
        BroadcastStatus.DONE: _("finished"),
    }
    lines = [
        _("<b>Broadcast</b> {ref} — {state}").format(
            ref=job_id[:8], state=states.get(status, status)
        ),
        _("Sent: {sent} · blocked: {blocked} · failed: {failed}").format(
            sent=counts[RecipientStatus.SENT],
            blocked=counts[RecipientStatus.BLOCKED],
            failed=counts[RecipientStatus.FAILED],
        ),
        _("Remaining: {remaining} of {total}").format(
            remaining=progress.remaining, total=progress.total
        ),
    ]
    if counts[RecipientStatus.UNKNOWN] or counts[RecipientStatus.SKIPPED]:
        lines.append(
            _("Unknown (interrupted, not resent): {unknown} · skipped: {skipped}").format(
                unknown=counts[RecipientStatus.UNKNOWN], skipped=counts[RecipientStatus.SKIPPED]
            )
        )
    if status == BroadcastStatus.RUNNING:
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


def controls(job_id: str, status: BroadcastStatus) -> InlineKeyboardMarkup | None:
    """Pause/resume and cancel buttons for a job in `status` (none once it has ended)."""
    if status not in (BroadcastStatus.RUNNING, BroadcastStatus.PAUSED):
        return None
    toggle = (
        InlineKeyboardButton(
            text=_("⏸ Pause"),
            callback_data=BroadcastCallback(a=BroadcastAction.PAUSE, job=job_id).pack(),
        )
        if status == BroadcastStatus.RUNNING
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


class BroadcastData(TypedDict):
    """What the broadcast handlers receive by name."""

    broadcasts: BroadcastRuntime


def lease_name(job_id: str) -> str:
    """The job lease (`storage.repositories.job_leases`) of one broadcast."""
    return f"broadcast:{job_id}"


class BroadcastRuntime:
    """One sender task per running job; jobs still `running` after a restart resume.

    With `leases` (several instances on one database) a job is sent by one instance at a
    time: the sender runs only while this process holds the job's lease, renewed as it
    sends. Every instance looks for running jobs every `poll_interval` seconds and takes
    over any whose lease is free or has run out (an instance died); the new sender marks the
    dead one's `sending` rows `unknown`, as after a restart, so nobody gets a second copy.
    Pause and cancel pressed on any instance reach the sender through the database: it
    claims nothing more once the job is not `running`, and then stops.
    """

    def __init__(
        self,
        settings: Settings,
        repository: BroadcastRepository,
        audited: AuditedActions,
        i18n: I18n,
        sender_bot_factory: Callable[[], Bot],
        *,
        progress_interval: float = 5.0,
        leases: LeaseHolder | None = None,
        poll_interval: float = POLL_SECONDS,
    ) -> None:
        """`sender_bot_factory` makes the sender's own `Bot` when the first job runs."""
        self.settings = settings
        self.repository = repository
        self._audited = audited
        self._i18n = i18n
        self.progress_interval = progress_interval
        self._sender_bot_factory = sender_bot_factory
        self._bot: Bot | None = None
        self._sender_bot: Bot | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._senders: dict[str, BroadcastSender] = {}
        self._shown: dict[str, str] = {}
        self._leases = leases
        self._poll_interval = poll_interval
        self._poller: asyncio.Task[None] | None = None
        self._leased: set[str] = set()  # jobs whose lease this process took
        self.polls = 0  # looks for jobs that nobody sends, so far

    def handler_data(self) -> BroadcastData:
        return {"broadcasts": self}

    @property
    def rate(self) -> float:
        """BROADCAST_RATE, kept under Telegram's free ceiling unless paid broadcasts are on."""
        if self.settings.allow_paid_broadcast:
            return self.settings.broadcast_rate
        return min(self.settings.broadcast_rate, FREE_RATE_CEILING)

    # --- lifecycle ----------------------------------------------------------------------

    async def on_startup(self, bot: Bot) -> None:
        self._bot = bot
        for job_id in await self.repository.ids_with_status(BroadcastStatus.RUNNING):
            self.launch(job_id)
        if self._leases is not None and self._poller is None:
            self._poller = asyncio.create_task(self._poll(), name="broadcast-poller")

    async def _poll(self) -> None:
        """Take over running jobs nobody sends (their lease is free or ran out)."""
        while True:
            await asyncio.sleep(self._poll_interval)
            try:
                for job_id in await self.repository.ids_with_status(BroadcastStatus.RUNNING):
                    self.launch(job_id)
            except Exception as exc:  # the database away for a moment: next round
                logger.warning("Broadcast poll failed: %s", type(exc).__name__)
            self.polls += 1

    async def on_shutdown(self) -> None:
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
        for sender in list(self._senders.values()):
            sender.stop()
        tasks = list(self._tasks.values())
        if tasks:
            await asyncio.wait(tasks, timeout=15)
        for task in tasks:
            task.cancel()
        if self._leases is not None:
            # A clean stop hands the jobs over at once (a sender that crashed in this
            # process included), instead of making the others wait for the leases to run out.
            for job_id in sorted(self._leased):
                with contextlib.suppress(Exception):
                    await self._leases.release(lease_name(job_id))
            self._leased.clear()
        if self._sender_bot is not None:
            await self._sender_bot.session.close()
            self._sender_bot = None

    def _sending_bot(self) -> Bot:
        if self._sender_bot is None:
            self._sender_bot = self._sender_bot_factory()
        return self._sender_bot

    def is_active(self, job_id: str) -> bool:
        task = self._tasks.get(job_id)
        return task is not None and not task.done()

    def sending(self, job_id: str) -> bool:
        """Whether this process's sender of the job is running (holding its lease, if any);
        `is_active` is also true for a moment while a task only tries to take the lease."""
        return job_id in self._senders

    def task(self, job_id: str) -> asyncio.Task[None] | None:
        return self._tasks.get(job_id)

    def launch(self, job_id: str) -> None:
        if self.is_active(job_id):
            return
        self._tasks[job_id] = asyncio.create_task(self._run(job_id))

    def crash(self, job_id: str | None = None) -> None:
        """Kill the sender abruptly, as a crash would (tests): nothing is written, its lease
        is not released. Without `job_id`, the whole runtime dies, as with its process."""
        if job_id is None:
            if self._poller is not None:
                self._poller.cancel()
                self._poller = None
            tasks = list(self._tasks.values())
        else:
            tasks = [task] if (task := self._tasks.get(job_id)) is not None else []
        for task in tasks:
            task.cancel()

    # --- admin actions (the router checked the role; each change and its audit entry are
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
        async with self._audited.transaction() as tx:
            job_id = await self.repository.create(
                content,
                locale=locale,
                paid=self.settings.allow_paid_broadcast,
                connection=tx.connection,
            )
            await tx.record(actor_user_id, "broadcast.start", job_id)
        job = await self.repository.get(job_id)
        assert job is not None
        bot = self._require_bot()
        with self._locale(admin_locale):
            counts = await self.repository.counts(job_id)
            text = progress_text(
                job_id, BroadcastStatus.RUNNING, Progress(counts, job.total, 0.0, 0.0)
            )
            message = await bot.send_message(
                progress_chat_id, text, reply_markup=controls(job_id, BroadcastStatus.RUNNING)
            )
        await self.repository.set_progress_ref(
            job_id, ProgressRef(progress_chat_id, message.message_id, admin_locale)
        )
        self.launch(job_id)
        return job_id

    async def _audited_status(
        self,
        job_id: str,
        status: BroadcastStatus,
        only_from: tuple[BroadcastStatus, ...],
        actor_user_id: int,
    ) -> bool:
        """Change the job's status and audit it in one transaction; False if unchanged."""
        async with self._audited.transaction() as tx:
            changed = await self.repository.set_status(
                job_id, status, only_from=only_from, connection=tx.connection
            )
            if changed:
                action = {
                    BroadcastStatus.PAUSED: "pause",
                    BroadcastStatus.RUNNING: "resume",
                    BroadcastStatus.CANCELLED: "cancel",
                }[status]
                await tx.record(actor_user_id, f"broadcast.{action}", job_id)
        return changed

    async def pause(self, job_id: str, actor_user_id: int) -> bool:
        if not await self._audited_status(
            job_id, BroadcastStatus.PAUSED, (BroadcastStatus.RUNNING,), actor_user_id
        ):
            return False
        await self._stop_sender(job_id)
        await self.refresh(job_id)
        return True

    async def resume(self, job_id: str, actor_user_id: int) -> bool:
        if not await self._audited_status(
            job_id, BroadcastStatus.RUNNING, (BroadcastStatus.PAUSED,), actor_user_id
        ):
            return False
        self.launch(job_id)
        await self.refresh(job_id)
        return True

    async def cancel(self, job_id: str, actor_user_id: int) -> bool:
        if not await self._audited_status(
            job_id,
            BroadcastStatus.CANCELLED,
            (BroadcastStatus.RUNNING, BroadcastStatus.PAUSED),
            actor_user_id,
        ):
            return False
        await self._stop_sender(job_id)
        if self._leases is not None:
            await self._leases.repository.forget(lease_name(job_id))
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
        with self._i18n.context(), self._i18n.use_locale(locale):
            yield

    async def _run(self, job_id: str) -> None:
        leases = self._leases
        if leases is None:
            await self._send(job_id)
            return
        name = lease_name(job_id)
        if not await leases.acquire(name):
            return  # another instance sends it
        self._leased.add(job_id)

        def on_lost() -> None:
            sender = self._senders.get(job_id)
            if sender is not None:
                sender.stop()

        finished = False
        try:
            async with leases.kept(name, on_lost):
                finished = await self._send(job_id)
        except asyncio.CancelledError:
            raise  # a crash: nothing more is written, the lease runs out
        except Exception:
            logger.exception("Broadcast job stopped on an error; it resumes later")
        self._leased.discard(job_id)
        if finished:
            await leases.repository.forget(name)
        else:
            await leases.release(name)

    async def _send(self, job_id: str) -> bool:
        """Run the job's sender; True once it finished (and its report was sent)."""
        job = await self.repository.get(job_id)
        if job is None or job.status != BroadcastStatus.RUNNING:
            return False

        async def on_progress(progress: Progress) -> None:
            await self._show(job, BroadcastStatus.RUNNING, progress)

        options: dict[str, Any] = {"progress_interval": self.progress_interval, "rate": self.rate}
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
            logger.exception("Broadcast sender stopped on an error; it resumes later")
            return False
        finally:
            self._senders.pop(job_id, None)
        # Finished *and* done: a job cancelled elsewhere meanwhile is reported there.
        if not report.finished or await self.repository.status_of(job_id) != BroadcastStatus.DONE:
            return False
        await self._final_report(job_id)
        return True

    async def refresh(self, job_id: str) -> None:
        job = await self.repository.get(job_id)
        if job is None:
            return
        counts = await self.repository.counts(job_id)
        await self._show(job, job.status, Progress(counts, job.total, 0.0, 0.0))

    async def _show(self, job: BroadcastJob, status: BroadcastStatus, progress: Progress) -> None:
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
                if job.status == BroadcastStatus.DONE
                else _("<b>Broadcast {ref} cancelled</b>").format(ref=job_id[:8]),
                _("Recipients: {total}").format(total=job.total),
                _("Delivered: {sent}").format(sent=counts[RecipientStatus.SENT]),
                _("Blocked the bot (now unsubscribed): {blocked}").format(
                    blocked=counts[RecipientStatus.BLOCKED]
                ),
                _("Failed: {failed}").format(failed=counts[RecipientStatus.FAILED]),
                _("Unknown (interrupted, not resent): {unknown}").format(
                    unknown=counts[RecipientStatus.UNKNOWN]
                ),
                _("Skipped (unsubscribed or cancelled): {skipped}").format(
                    skipped=counts[RecipientStatus.SKIPPED]
                ),
            ]
            lines += [f"• {escape(reason)}: {count}" for reason, count in errors]
            text = "\n".join(lines)
        try:
            await self._bot.send_message(ref.chat_id, text)
        except TelegramAPIError as exc:
            logger.info("Broadcast report not sent: %s", exc.message)


def build_broadcast_runtime(
    settings: Settings,
    database: Database,
    cipher: TextCipher,
    audited: AuditedActions,
    *,
    progress_interval: float = 5.0,
    leases: LeaseHolder | None = None,
    poll_interval: float = POLL_SECONDS,
) -> BroadcastRuntime:
    """The broadcast feature; tests shorten `progress_interval` (seconds between progress
    edits). With `leases`, one instance at a time sends each job."""
    repository = BroadcastRepository(database, cipher, zone=settings.zone)
    token = settings.bot_token.get_secret_value() if settings.bot_token else ""

    def sender_bot() -> Bot:
        return create_sender_bot(token, settings.telegram_api_url)

    return BroadcastRuntime(
        settings,
        repository,
        audited,
        make_i18n(settings.default_locale),
        sender_bot,
        progress_interval=progress_interval,
        leases=leases,
        poll_interval=poll_interval,
    )
