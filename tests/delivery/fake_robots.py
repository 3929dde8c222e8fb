"""Local stand-ins for the WeCom, DingTalk and Feishu robots and a generic webhook receiver.

Each one checks what the real service checks — path and key, exact JSON shape, size limits,
timestamp window and signature — and answers with the service's real success or error body.
The signatures are verified here from the documented formulas (docs: field notes), written
independently of `bot.delivery.webhooks`, so a signing bug in the bot fails the tests.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from pydantic import SecretStr

from bot.config import WebhookTarget

WECOM_KEY = "wecom-key-3f9a61c0-7d2e-4b8a"
DINGTALK_TOKEN = "dingtoken0a1b2c3d4e5f60718293"
DINGTALK_SECRET = "SECdingtalk5d41402abc4b2a76b9719d911017c592"
FEISHU_TOKEN = "feishu-hook-9b2c7e1a-55aa-4c3d"
FEISHU_SECRET = "feishuSecret7Hk2QpZx9"
GENERIC_SECRET = "whsec_" + base64.b64encode(b"generic-webhook-secret-32-bytes!").decode()

OK_WECOM = {"errcode": 0, "errmsg": "ok"}
OK_DINGTALK = {"errcode": 0, "errmsg": "ok"}
OK_FEISHU = {"code": 0, "data": {}, "msg": "success"}
SIGNATURE_WINDOW_S = 3600
GENERIC_TOLERANCE_S = 300
FEISHU_MAX_BODY = 20 * 1024


@dataclass
class Received:
    """One request a robot accepted."""

    kind: str
    body: Any
    raw: bytes
    headers: dict[str, str]
    arrived_at: float


@dataclass
class Scripted:
    """An answer to give instead of the real check, for the next request (any robot)."""

    status: int = 200
    body: Any = None
    hang: bool = False


@dataclass
class FakeRobots:
    """All four receivers on one aiohttp server bound to 127.0.0.1."""

    wall_clock: Callable[[], float] = time.time
    arrival_clock: Callable[[], float] = time.monotonic
    received: list[Received] = field(default_factory=list)
    rejected: list[tuple[str, Any]] = field(default_factory=list)
    script: deque[Scripted | None] = field(default_factory=deque)  # None: answer normally
    release: asyncio.Event = field(default_factory=asyncio.Event)
    base_url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/cgi-bin/webhook/send", self._wecom)
        app.router.add_post("/robot/send", self._dingtalk)
        app.router.add_post("/open-apis/bot/v2/hook/{token}", self._feishu)
        app.router.add_post("/hooks/digest", self._generic)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"

    async def close(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def target(self, kind: str, *, secret: str | None = "default") -> WebhookTarget:
        """A WebhookTarget for `kind` pointing here, with the robot's real secret by default."""
        urls = {
            "wecom": f"{self.base_url}/cgi-bin/webhook/send?key={WECOM_KEY}",
            "dingtalk": f"{self.base_url}/robot/send?access_token={DINGTALK_TOKEN}",
            "feishu": f"{self.base_url}/open-apis/bot/v2/hook/{FEISHU_TOKEN}",
            "generic": f"{self.base_url}/hooks/digest",
        }
        secrets = {"wecom": None, "dingtalk": DINGTALK_SECRET, "feishu": FEISHU_SECRET}
        secrets["generic"] = GENERIC_SECRET
        value = secrets[kind] if secret == "default" else secret
        return WebhookTarget.model_validate(
            {
                "kind": kind,
                "url": urls[kind],
                "secret": SecretStr(value) if value is not None else None,
                "name": f"test-{kind}",
            }
        )

    def of_kind(self, kind: str) -> list[Received]:
        return [item for item in self.received if item.kind == kind]

    async def _scripted(self) -> web.Response | None:
        if not self.script:
            return None
        step = self.script.popleft()
        if step is None:
            return None
        if step.hang:
            await self.release.wait()
        return web.json_response(step.body, status=step.status)

    def _reject(self, kind: str, body: Any, status: int = 200) -> web.Response:
        self.rejected.append((kind, body))
        return web.json_response(body, status=status)

    def _accept(self, kind: str, request: web.Request, raw: bytes, body: Any) -> None:
        self.received.append(
            Received(kind, body, raw, dict(request.headers), arrived_at=self.arrival_clock())
        )

    # --- WeCom: key in the query; errors are HTTP 200 with errcode -----------------------
    async def _wecom(self, request: web.Request) -> web.Response:
        if (scripted := await self._scripted()) is not None:
            return scripted
        if request.query.get("key") != WECOM_KEY:
            return self._reject("wecom", {"errcode": 93000, "errmsg": "invalid webhook url"})
        raw = await request.read()
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return self._reject("wecom", {"errcode": 40035, "errmsg": "invalid parameter"})
        bad = {"errcode": 40008, "errmsg": "invalid message type"}
        if body.get("msgtype") == "markdown":
            content = body.get("markdown", {}).get("content")
            if set(body) != {"msgtype", "markdown"} or not isinstance(content, str) or not content:
                return self._reject("wecom", bad)
            if len(content.encode("utf-8")) > 4096:
                return self._reject(
                    "wecom", {"errcode": 40058, "errmsg": "content exceed max length"}
                )
        elif body.get("msgtype") == "image":
            image = body.get("image", {})
            try:
                data = base64.b64decode(image.get("base64", ""), validate=True)
            except (binascii.Error, ValueError):
                return self._reject("wecom", {"errcode": 40009, "errmsg": "invalid image"})
            if not data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")):
                return self._reject("wecom", {"errcode": 40009, "errmsg": "invalid image"})
            if len(data) > 2 * 1024 * 1024:
                return self._reject("wecom", {"errcode": 40009, "errmsg": "invalid image size"})
            if image.get("md5") != hashlib.md5(data, usedforsecurity=False).hexdigest():
                return self._reject("wecom", {"errcode": 301019, "errmsg": "media md5 not match"})
        else:
            return self._reject("wecom", bad)
        self._accept("wecom", request, raw, body)
        return web.json_response(OK_WECOM)

    # --- DingTalk: token, millisecond timestamp and sign in the query ----------------------
    async def _dingtalk(self, request: web.Request) -> web.Response:
        if (scripted := await self._scripted()) is not None:
            return scripted
        # parse_qs decodes "+" as a space, like the real server: an un-encoded sign fails.
        query = parse_qs(request.query_string, keep_blank_values=True)
        if query.get("access_token") != [DINGTALK_TOKEN]:
            return self._reject("dingtalk", {"errcode": 300001, "errmsg": "token is not exist"})
        sign_mismatch = {
            "errcode": 310000,
            "errmsg": "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]",
        }
        try:
            timestamp_ms = int(query["timestamp"][0])
            sign = query["sign"][0]
        except (KeyError, IndexError, ValueError):
            return self._reject("dingtalk", sign_mismatch)
        if abs(self.wall_clock() * 1000 - timestamp_ms) > SIGNATURE_WINDOW_S * 1000:
            return self._reject("dingtalk", sign_mismatch)
        expected = base64.b64encode(
            hmac.new(
                DINGTALK_SECRET.encode(),
                f"{timestamp_ms}\n{DINGTALK_SECRET}".encode(),
                hashlib.sha256,
            ).digest()
        ).decode()
        if not hmac.compare_digest(sign, expected):
            return self._reject("dingtalk", sign_mismatch)
        raw = await request.read()
        body = json.loads(raw.decode("utf-8"))
        markdown = body.get("markdown", {})
        if (
            body.get("msgtype") != "markdown"
            or not isinstance(markdown.get("title"), str)
            or not markdown["title"]
            or not isinstance(markdown.get("text"), str)
            or not markdown["text"]
        ):
            return self._reject("dingtalk", {"errcode": 40035, "errmsg": "缺少参数 json"})
        if len(markdown["text"].encode("utf-8")) > 20000:
            return self._reject("dingtalk", {"errcode": 460101, "errmsg": "message too long"})
        self._accept("dingtalk", request, raw, body)
        return web.json_response(OK_DINGTALK)

    # --- Feishu: token in the path; second timestamp and sign in the body -----------------
    async def _feishu(self, request: web.Request) -> web.Response:
        if (scripted := await self._scripted()) is not None:
            return scripted
        if request.match_info["token"] != FEISHU_TOKEN:
            return self._reject(
                "feishu",
                {
                    "code": 19001,
                    "data": {},
                    "msg": "param invalid: incoming webhook access token invalid",
                },
            )
        raw = await request.read()
        if len(raw) > FEISHU_MAX_BODY:
            return self._reject("feishu", {"code": 9499, "data": {}, "msg": "Bad Request"}, 400)
        body = json.loads(raw.decode("utf-8"))
        sign_fail = {
            "code": 19021,
            "data": {},
            "msg": "sign match fail or timestamp is not within one hour from current time",
        }
        timestamp = body.get("timestamp")
        if not isinstance(timestamp, str) or not timestamp.isdigit():
            return self._reject("feishu", sign_fail)
        if abs(self.wall_clock() - int(timestamp)) > SIGNATURE_WINDOW_S:
            return self._reject("feishu", sign_fail)
        expected = base64.b64encode(
            hmac.new(f"{timestamp}\n{FEISHU_SECRET}".encode(), b"", hashlib.sha256).digest()
        ).decode()
        if not hmac.compare_digest(str(body.get("sign")), expected):
            return self._reject("feishu", sign_fail)
        if not _is_feishu_post(body):
            return self._reject("feishu", {"code": 9499, "data": {}, "msg": "Bad Request"}, 400)
        self._accept("feishu", request, raw, body)
        return web.json_response(OK_FEISHU)

    # --- Generic: Standard Webhooks headers ----------------------------------------------
    async def _generic(self, request: web.Request) -> web.Response:
        if (scripted := await self._scripted()) is not None:
            return scripted
        raw = await request.read()
        message_id = request.headers.get("webhook-id", "")
        timestamp = request.headers.get("webhook-timestamp", "")
        signature = request.headers.get("webhook-signature", "")
        if not message_id or not timestamp.isdigit():
            return self._reject("generic", {"error": "missing headers"}, 400)
        if abs(self.wall_clock() - int(timestamp)) > GENERIC_TOLERANCE_S:
            return self._reject("generic", {"error": "timestamp outside tolerance"}, 401)
        key = base64.b64decode(GENERIC_SECRET.removeprefix("whsec_"))
        signed = f"{message_id}.{timestamp}.".encode() + raw
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        offered = [s.split(",", 1)[1] for s in signature.split() if s.startswith("v1,")]
        if not any(hmac.compare_digest(value, expected) for value in offered):
            return self._reject("generic", {"error": "bad signature"}, 401)
        body = json.loads(raw.decode("utf-8"))
        if (
            set(body) != {"type", "title", "markdown", "text", "chart_png_base64"}
            or body["type"] != "digest"
        ):
            return self._reject("generic", {"error": "bad body"}, 400)
        self._accept("generic", request, raw, body)
        return web.Response(status=204)


def _is_feishu_post(body: dict[str, Any]) -> bool:
    if body.get("msg_type") != "post":
        return False
    zh_cn = body.get("content", {}).get("post", {}).get("zh_cn", {})
    if not isinstance(zh_cn.get("title"), str) or not isinstance(zh_cn.get("content"), list):
        return False
    return all(
        isinstance(paragraph, list)
        and all(
            isinstance(element, dict)
            and element.get("tag") == "text"
            and isinstance(element.get("text"), str)
            for element in paragraph
        )
        for paragraph in zh_cn["content"]
    )
