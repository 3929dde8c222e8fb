"""The web channel's aiohttp application: the page, its static files and the JSON API.

Nothing about the client is kept: no cookie is set, no access log is written (the runner is
made without one), errors are logged by their type only, and the client address is read
only for the optional in-memory per-address limit. Every response, errors and static files
included, carries the security headers below.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.i18n.text import DEFAULT_LOCALE, SUPPORTED_LOCALES, use_locale
from bot.i18n.text import gettext as _
from bot.web.channel import WebChannel, WebError
from bot.web.limits import AddressLimiter
from bot.web.page import STATIC_DIR, page_html
from bot.web.proof_of_work import ProofOfWork
from bot.web.sessions import WebSessions

logger = logging.getLogger(__name__)

BODY_LIMIT = 16 * 1024  # bytes of one API request
SESSION_HEADER = "X-Qingfeng-Session"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}

WebChannelKey = web.AppKey("web_channel", WebChannel)


def error_message(code: str) -> str:
    """A short, kind sentence for each refusal, in the current locale."""
    messages = {
        "bad_json": _("The request could not be read."),
        "bad_request": _("The request could not be read."),
        "unknown_event": _("This action is not known."),
        "unknown_action": _("This button is not known."),
        "session_unknown": _("This session has ended. A new one is starting."),
        "pow_invalid": _("The security check did not pass. Please reload the page."),
        "not_found": _("Not found."),
        "method_not_allowed": _("Not allowed."),
        "out_of_order": _("Please wait for the previous step to finish."),
        "replay_expired": _("Please reload the page."),
        "too_large": _("That is too long to send."),
        "text_too_long": _("That answer is too long to send."),
        "rate_limited": _("Too fast. Please wait a moment."),
        "campaign_full": _("This survey round cannot take more reports today."),
        "address_limited": _("Too many new sessions from this network. Please try later."),
    }
    return messages.get(code, _("Something went wrong. Please try again."))


def _locale_of(request: web.Request) -> str:
    lang = request.query.get("lang") or request.headers.get("X-Qingfeng-Locale")
    return lang if lang in SUPPORTED_LOCALES else DEFAULT_LOCALE


def error_response(request: web.Request, status: int, code: str, **extra: Any) -> web.Response:
    with use_locale(_locale_of(request)):
        body = {"error": code, "message": error_message(code), **extra}
    headers = {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    return web.json_response(body, status=status, headers=headers)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


@web.middleware
async def errors_as_json(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Refusals as JSON with a 4xx status; anything unexpected as a plain 500 whose log
    line names the error's type and place, never the request or what it carried."""
    try:
        return await handler(request)
    except WebError as refusal:
        return error_response(request, refusal.status, refusal.code, **refusal.extra)
    except web.HTTPException as http:
        if http.status in _HTTP_CODES and (request.path.startswith("/api/") or http.status == 413):
            response = error_response(request, http.status, _HTTP_CODES[http.status])
            if "Allow" in http.headers:  # a 405 says which methods the path takes
                response.headers["Allow"] = http.headers["Allow"]
            return response
        raise
    except Exception as exc:
        frame = exc.__traceback__
        while frame is not None and frame.tb_next is not None:
            frame = frame.tb_next
        where = (
            f"{frame.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.tb_lineno}"
            if frame is not None
            else "?"
        )
        logger.error("Web request failed: %s at %s", type(exc).__name__, where)
        return error_response(request, 500, "internal")


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)
    response.headers.pop("Set-Cookie", None)
    response.headers["Server"] = "qingfeng"


async def _json_body(request: web.Request) -> Any:
    if request.content_length is not None and request.content_length > BODY_LIMIT:
        raise WebError(413, "too_large")
    raw = await request.read()  # the application's client_max_size stops a longer body
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WebError(400, "bad_json") from None


class WebRoutes:
    """The handlers, given what they need."""

    def __init__(
        self,
        channel: WebChannel,
        proof: ProofOfWork,
        addresses: AddressLimiter,
        *,
        trusted_proxy_header: str | None,
        find_campaign: Callable[[str], Awaitable[str | None]],
        campaign_full: Callable[[], Awaitable[bool]],
    ) -> None:
        self.channel = channel
        self.proof = proof
        self.addresses = addresses
        self.trusted_proxy_header = trusted_proxy_header
        self.find_campaign = find_campaign
        self.campaign_full = campaign_full

    @property
    def sessions(self) -> WebSessions:
        return self.channel.sessions

    def _address(self, request: web.Request) -> str | None:
        """Only for the in-memory per-address limit; never stored, never logged.

        Behind the proxy, the last address in its header: the one the proxy itself saw (a
        proxy appends to X-Forwarded-For; whatever the client sent comes before it)."""
        if self.trusted_proxy_header:
            values = request.headers.getall(self.trusted_proxy_header, [])
            entries = [entry.strip() for value in values for entry in value.split(",")]
            return next((entry for entry in reversed(entries) if entry), None)
        return request.remote

    async def page(self, request: web.Request) -> web.Response:
        campaign = request.match_info.get("campaign")
        mode = "followup" if request.path.rstrip("/") == "/followup" else "survey"
        status = 200
        if campaign is not None:
            found = await self.find_campaign(campaign)
            if found is None:
                status = 404  # the page names the link's id as it came, escaped
            else:
                campaign = found
        locale = _locale_of(request)
        first = None
        if mode == "survey" and status == 200:
            first = await self.channel.first_screen(locale, campaign)
        text = page_html(
            locale=locale,
            mode=mode,
            campaign=campaign,
            challenge=self.proof.challenge(),
            first=first,
        )
        response = web.Response(text=text, status=status, content_type="text/html", charset="utf-8")
        response.enable_compression()
        return response

    async def challenge(self, request: web.Request) -> web.Response:
        await _json_body(request)
        if not self.addresses.allow(self._address(request)):
            raise WebError(429, "address_limited", retry_after=3600)
        return web.json_response({"challenge": self.proof.challenge()})

    async def session(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise WebError(400, "bad_request")
        locale = body.get("locale", DEFAULT_LOCALE)
        campaign = body.get("campaign")
        mode = body.get("mode", "survey")
        if locale not in SUPPORTED_LOCALES or mode not in ("survey", "followup"):
            raise WebError(400, "bad_request")
        if campaign is not None and (not isinstance(campaign, str) or len(campaign) > 64):
            raise WebError(400, "bad_request", field="campaign")
        if not self.proof.accept(body.get("pow")):
            raise WebError(403, "pow_invalid")
        if campaign is not None:
            campaign = await self.find_campaign(campaign)
            if campaign is None:
                raise WebError(404, "not_found")
        if mode == "survey" and await self.campaign_full():
            raise WebError(503, "campaign_full")
        token = await self.sessions.create(locale=locale, campaign=campaign)
        return web.json_response({"token": token, "seq": 0}, status=201)

    async def state(self, request: web.Request) -> web.Response:
        await _json_body(request)
        seq = await self.channel.last_seq(request.headers.get(SESSION_HEADER))
        return web.json_response({"seq": seq})

    async def act(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        answer = await self.channel.act(request.headers.get(SESSION_HEADER), body)
        return web.json_response(answer)

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})


class WithoutClientDetails(logging.Filter):
    """aiohttp's own server log lines name the client ("Error handling request from
    ADDRESS") and carry the request in tracebacks: keep only that something failed, and its
    type."""

    def filter(self, record: logging.LogRecord) -> bool:
        kind = record.exc_info[1] if record.exc_info else None
        record.msg = "Web server: %s" % (type(kind).__name__ if kind else "request not handled")
        record.args = ()
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True


_AIOHTTP_LOGGERS = ("aiohttp.server", "aiohttp.web", "aiohttp.access", "aiohttp.internal")


def quiet_aiohttp_logs() -> None:
    for name in _AIOHTTP_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, WithoutClientDetails) for f in target.filters):
            target.addFilter(WithoutClientDetails())


def create_web_app(routes: WebRoutes) -> web.Application:
    quiet_aiohttp_logs()
    app = web.Application(middlewares=[errors_as_json], client_max_size=BODY_LIMIT)
    app[WebChannelKey] = routes.channel
    app.on_response_prepare.append(_security_headers)
    app.router.add_get("/", routes.page)
    app.router.add_get("/followup", routes.page)
    app.router.add_get("/c/{campaign}", routes.page)
    app.router.add_get("/healthz", routes.health)
    app.router.add_post("/api/challenge", routes.challenge)
    app.router.add_post("/api/session", routes.session)
    app.router.add_post("/api/state", routes.state)
    app.router.add_post("/api/act", routes.act)
    app.router.add_get("/static/{name}", StaticFiles(STATIC_DIR).handle)
    return app


STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


class StaticFiles:
    """The page's few files, read once and compressed once (a cheap phone on a slow line
    gets about a quarter of the bytes); nothing outside the folder, nothing but its files."""

    def __init__(self, folder: Path) -> None:
        self._files: dict[str, tuple[bytes, bytes, str]] = {}
        for path in folder.iterdir():
            kind = STATIC_TYPES.get(path.suffix)
            if kind is not None and path.is_file():
                raw = path.read_bytes()
                self._files[path.name] = (raw, gzip.compress(raw, 9, mtime=0), kind)

    async def handle(self, request: web.Request) -> web.Response:
        kept = self._files.get(request.match_info["name"])
        if kept is None:
            raise web.HTTPNotFound()
        raw, packed, kind = kept
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            response = web.Response(body=packed, content_type=kind, charset="utf-8")
            response.headers["Content-Encoding"] = "gzip"
        else:
            response = web.Response(body=raw, content_type=kind, charset="utf-8")
        response.headers["Vary"] = "Accept-Encoding"
        return response
