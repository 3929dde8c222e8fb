"""Every response of the web channel carries the security headers and sets no cookie: the
pages, the static files, the health check, the API's answers and each of its refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.harness.offline import OfflineBot
from bot.harness.web_client import SESSION_HEADER, WebCadre
from bot.web.app import BODY_LIMIT
from bot.web.proof_of_work import solve
from tests.web.test_web_flow import begin, start_web_bot


def csp_directives(policy: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def assert_secure(name: str, response: httpx.Response) -> None:
    headers = response.headers
    policy = headers.get("Content-Security-Policy")
    assert policy, f"{name}: no Content-Security-Policy"
    directives = csp_directives(policy)
    assert directives.get("default-src") == ["'self'"], name
    assert directives.get("frame-ancestors") == ["'none'"], name
    assert directives.get("script-src", ["'self'"]) == ["'self'"], name
    assert directives.get("object-src") == ["'none'"], name
    for forbidden in ("'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:"):
        assert forbidden not in policy.split(), f"{name}: {forbidden} in the policy"
    assert headers.get("Referrer-Policy") == "no-referrer", name
    assert headers.get("Cache-Control") == "no-store", name
    assert headers.get("X-Content-Type-Options") == "nosniff", name
    permissions = {
        item.split("=", 1)[0].strip(): item.split("=", 1)[1].strip()
        for item in headers.get("Permissions-Policy", "").split(",")
        if "=" in item
    }
    for feature in ("camera", "microphone", "geolocation"):
        assert permissions.get(feature) == "()", f"{name}: {feature} not denied"
    assert headers.get_list("Set-Cookie") == [], f"{name}: sets a cookie"


@pytest.fixture
async def limited_bot(tmp_path: Path, migrated_data_dir: Any) -> AsyncIterator[OfflineBot]:
    """One action a minute per session: a short burst reaches 429."""
    bot = await start_web_bot(
        migrated_data_dir(tmp_path / "data"), web_session_actions_per_minute=1
    )
    try:
        yield bot
    finally:
        await bot.close()


async def test_every_response_carries_the_security_headers_and_no_cookie(
    limited_bot: OfflineBot,
) -> None:
    responses: list[tuple[str, httpx.Response, int]] = []
    async with httpx.AsyncClient(base_url=limited_bot.web_url, timeout=30) as http:

        async def seen(name: str, status: int, request: Any) -> httpx.Response:
            response: httpx.Response = await request
            responses.append((name, response, status))
            return response

        await seen("page /", 200, http.get("/"))
        await seen("page /?lang=en", 200, http.get("/?lang=en"))
        await seen("page /followup", 200, http.get("/followup"))
        await seen("page /c/unknown", 404, http.get("/c/unknown"))
        await seen("page not routed", 404, http.get("/nowhere"))
        await seen("page POST", 405, http.post("/"))
        await seen("static chat.js", 200, http.get("/static/chat.js"))
        await seen("static chat.css", 200, http.get("/static/chat.css"))
        await seen("static missing", 404, http.get("/static/missing.js"))
        await seen("health", 200, http.get("/healthz"))

        issued = await seen("challenge", 200, http.post("/api/challenge", json={}))
        body = {"pow": solve(issued.json()["challenge"]), "locale": "zh-CN", "campaign": None}
        created = await seen("session", 201, http.post("/api/session", json=body))
        token = created.json()["token"]
        header = {SESSION_HEADER: token}
        start = {"seq": 1, "event": {"type": "start"}}
        await seen("act", 200, http.post("/api/act", json=start, headers=header))
        await seen("act replayed", 200, http.post("/api/act", json=start, headers=header))
        await seen("state", 200, http.post("/api/state", json={}, headers=header))

        await seen("400", 400, http.post("/api/act", content=b"{", headers=header))
        await seen("401", 401, http.post("/api/act", json=start))
        await seen("403", 403, http.post("/api/session", json={**body, "pow": None}))
        await seen("404", 404, http.post("/api/nowhere", json={}))
        await seen("405", 405, http.get("/api/act"))
        await seen("409", 409, http.post("/api/act", json={**start, "seq": 5}, headers=header))
        oversize = b'{"x": "' + b"x" * BODY_LIMIT + b'"}'
        await seen("413", 413, http.post("/api/act", content=oversize, headers=header))
        await seen(
            "422",
            422,
            http.post(
                "/api/act",
                json={"seq": 2, "event": {"type": "text", "body": "x" * 4001}},
                headers=header,
            ),
        )

        flooder = WebCadre(http)
        await begin(flooder)  # two actions of a burst of five
        for seq in range(flooder.seq + 1, flooder.seq + 5):
            response = await http.post(
                "/api/act",
                json={"seq": seq, "event": {"type": "start"}},
                headers={SESSION_HEADER: flooder.token or ""},
            )
            if response.status_code == 429:
                responses.append(("429", response, 429))
                break
        cookies = dict(http.cookies)

    names = [name for name, _response, _status in responses]
    assert "429" in names, "the flood was never limited"
    for name, response, status in responses:
        assert response.status_code == status, (name, response.status_code)
        assert_secure(name, response)
        if name[0].isdigit():
            assert response.headers["content-type"].startswith("application/json"), name
    assert cookies == {}
