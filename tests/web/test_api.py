"""Bad input to the web channel's HTTP API: each gets a clear JSON error with a 4xx status,
and nothing is stored, applied twice or lost.

"Nothing stored or lost" is checked on what the storage holds for the session (its record and
the core's draft), the rows of the FSM table and the submissions, before and after; and the
session goes on with the next sequence number afterwards.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import delete, func, select, update

from bot.harness.offline import OfflineBot
from bot.harness.web_client import SESSION_HEADER, WebCadre
from bot.web.app import BODY_LIMIT, WebRoutes
from bot.web.channel import FIELD_LIMIT, TEXT_LIMIT
from bot.web.limits import ActionRate
from bot.web.proof_of_work import solve
from storage.fsm import storage_key_pseudonym
from storage.tables import fsm_entries
from tests.web.conftest import POW_FOR_TESTS
from tests.web.test_web_flow import (
    answer_to_the_first_example,
    answer_until,
    begin,
    body_text,
    ops_text,
    press,
    question_of,
    services_of,
    session_data,
    start_web_bot,
    submission_of,
    submit,
)


async def act(
    http: httpx.AsyncClient, token: str | None, payload: Any = None, *, raw: bytes | None = None
) -> httpx.Response:
    headers = {} if token is None else {SESSION_HEADER: token}
    if raw is not None:
        headers["Content-Type"] = "application/json"
        return await http.post("/api/act", content=raw, headers=headers)
    return await http.post("/api/act", json=payload, headers=headers)


def refusal(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is the JSON refusal `code` with `status` and a message to show."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["error"] == code, body
    assert isinstance(body["message"], str) and body["message"].strip()
    return body


async def fsm_rows(bot: OfflineBot) -> int:
    assert bot.web is not None
    await bot.web.channel.sessions.writes.flush()  # the rows as stored, batch included
    async with services_of(bot).database.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(fsm_entries)) or 0)


async def everything(bot: OfflineBot, token: str) -> tuple[dict[str, Any], int, int]:
    """What a refused request must leave as it was."""
    return (
        await session_data(bot, token),
        await fsm_rows(bot),
        await services_of(bot).submissions.count(),
    )


async def at_first_question(new_cadre: Callable[..., WebCadre]) -> tuple[WebCadre, str]:
    cadre = new_cadre()
    await begin(cadre)
    assert cadre.token is not None
    return cadre, cadre.token


async def goes_on(cadre: WebCadre) -> None:
    """The session still takes its next action, and the page's question is still current."""
    question = question_of(cadre.current())
    answered = await press(cadre, "skip", question)
    assert answered["seq"] == cadre.seq
    assert question_of(cadre.current()) != question


# --- malformed requests -----------------------------------------------------------------------


MALFORMED = [
    (b"{", "bad_json"),
    (b"", "bad_json"),
    (b"\xff\xfe{}", "bad_json"),
    (b'{"seq": 3, "event": {"type": "start"}', "bad_json"),
    (b"[]", "bad_request"),
    (b'"start"', "bad_request"),
    (b"null", "bad_request"),
    (b"{}", "bad_request"),
    (b'{"seq": "3", "event": {"type": "start"}}', "bad_request"),
    (b'{"seq": true, "event": {"type": "start"}}', "bad_request"),
    (b'{"seq": 0, "event": {"type": "start"}}', "bad_request"),
    (b'{"seq": 2.5, "event": {"type": "start"}}', "bad_request"),
    (b'{"seq": 3}', "bad_request"),
    (b'{"seq": 3, "event": "start"}', "bad_request"),
    (b'{"seq": 3, "event": {"type": "text", "body": 5}}', "bad_request"),
    (b'{"seq": 3, "event": {"type": "text", "body": "   "}}', "bad_request"),
    (b'{"seq": 3, "event": {"type": "press", "action": "ans", "ref": 3}}', "bad_request"),
    (b'{"seq": 3, "event": {"type": "press", "action": {"a": "skip"}}}', "bad_request"),
    (b'{"seq": 3, "event": {"type": "locale", "locale": "fr"}}', "bad_request"),
    (b'{"seq": 3, "event": {"type": "dance"}}', "unknown_event"),
    (b'{"seq": 3, "event": {}}', "unknown_event"),
    (b'{"seq": 3, "event": {"type": "press", "action": {"a": "zap"}, "ref": 3}}', "unknown_action"),
    (
        b'{"seq": 3, "event": {"type": "press", "action": {"a": "ann", "v": "on"}, "ref": 3}}',
        "unknown_action",
    ),
]


async def test_a_malformed_action_is_refused_and_changes_nothing(
    web_bot: OfflineBot, http: httpx.AsyncClient, new_cadre: Callable[..., WebCadre]
) -> None:
    cadre, token = await at_first_question(new_cadre)
    before = await everything(web_bot, token)
    for raw, code in MALFORMED:
        refusal(await act(http, token, raw=raw), 400, code)
    assert await everything(web_bot, token) == before
    await goes_on(cadre)


TOO_LONG_OR_ODD: list[dict[str, Any]] = [
    {"type": "press", "action": {"a": "ans", "q": "q" * (FIELD_LIMIT + 1), "v": "x"}, "ref": 3},
    {
        "type": "press",
        "action": {"a": "ans", "q": "unit_type", "v": "v" * (FIELD_LIMIT + 1)},
        "ref": 3,
    },
    {"type": "press", "action": {"a": "ans", "q": ["unit_type"], "v": "other"}, "ref": 3},
    {"type": "followup", "code": "A" * (FIELD_LIMIT + 1)},
    {"type": "resume", "code": "A" * (FIELD_LIMIT + 1)},
    {"type": "resume", "code": 12345},
]


async def test_a_field_too_long_or_of_the_wrong_type_is_refused(
    web_bot: OfflineBot, http: httpx.AsyncClient, new_cadre: Callable[..., WebCadre]
) -> None:
    cadre, token = await at_first_question(new_cadre)
    before = await everything(web_bot, token)
    for event in TOO_LONG_OR_ODD:
        response = await act(http, token, {"seq": cadre.seq + 1, "event": event})
        refusal(response, 400, "bad_request")
    assert await everything(web_bot, token) == before
    await goes_on(cadre)


async def test_a_bad_session_request_is_refused_and_opens_nothing(
    web_bot: OfflineBot, http: httpx.AsyncClient
) -> None:
    rows = await fsm_rows(web_bot)

    async def pow_() -> dict[str, Any]:
        return solve((await http.post("/api/challenge", json={})).json()["challenge"])

    refusal(await http.post("/api/session", content=b"{", headers={}), 400, "bad_json")
    refusal(await http.post("/api/session", json=[await pow_()]), 400, "bad_request")
    for wrong in (
        {"locale": "fr"},
        {"mode": "admin"},
        {"campaign": 7},
        {"campaign": "c" * 65},
    ):
        body = {"pow": await pow_(), "locale": "zh-CN", "campaign": None, **wrong}
        refusal(await http.post("/api/session", json=body), 400, "bad_request")
    assert await fsm_rows(web_bot) == rows


# --- sizes ------------------------------------------------------------------------------------


async def test_an_oversize_body_is_refused_with_413_json(
    web_bot: OfflineBot, http: httpx.AsyncClient, new_cadre: Callable[..., WebCadre]
) -> None:
    cadre, token = await at_first_question(new_cadre)
    before = await everything(web_bot, token)
    filler = "x" * BODY_LIMIT
    oversize = f'{{"seq": {cadre.seq + 1}, "event": {{"type": "text", "body": "{filler}"}}}}'

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: the limit still holds
        yield oversize.encode()

    headers = {SESSION_HEADER: token, "Content-Type": "application/json"}
    for path in ("/api/act", "/api/session", "/api/challenge", "/api/state"):
        sized = await http.post(path, content=oversize.encode(), headers=headers)
        refusal(sized, 413, "too_large")
        refusal(await http.post(path, content=chunked(), headers=headers), 413, "too_large")
    assert await everything(web_bot, token) == before
    await goes_on(cadre)


async def test_text_over_the_limit_is_refused_with_422_and_stores_nothing(
    web_bot: OfflineBot, http: httpx.AsyncClient, new_cadre: Callable[..., WebCadre]
) -> None:
    cadre, token = await at_first_question(new_cadre)
    await press(cadre, "ans", "unit_type", "other")
    await press(cadre, "skip", "post_level")
    await answer_to_the_first_example(cadre, "3")
    before = await everything(web_bot, token)
    event = {"type": "text", "body": "会" * (TEXT_LIMIT + 1)}  # 12 KiB in UTF-8: under 16 KiB
    body = refusal(
        await act(http, token, {"seq": cadre.seq + 1, "event": event}), 422, "text_too_long"
    )
    assert body["limit"] == TEXT_LIMIT
    assert await everything(web_bot, token) == before

    # Within the page's limit but over the question's: the core's kind refusal, a copy to
    # shorten, and the question again; nothing is stored.
    long_answer = await cadre.type("会" * TEXT_LIMIT)
    assert long_answer["ops"][0] == {"op": "delete", "ref": long_answer["ref"]}
    assert "500" in ops_text(long_answer) and "⚠️" in ops_text(long_answer)
    assert question_of(cadre.current()) == "p1_example"
    draft = (await session_data(web_bot, token))["c"]["draft"]
    assert "p1_example" not in draft["answers"]
    over = await cadre.type("议" * 501)
    assert question_of(cadre.current()) == "p1_example" and "⚠️" in ops_text(over)
    assert "p1_example" not in (await session_data(web_bot, token))["c"]["draft"]["answers"]
    fits = await cadre.type("议" * 500)
    assert "📝" in ops_text(fits) and question_of(cadre.current()) == "burden_source"


# --- tokens -----------------------------------------------------------------------------------


MISSHAPEN = [None, "", "abc", "a" * 42, "a" * 44, "a" * 42 + "=", "a" * 42 + "/", "a" * 42 + "."]


async def test_a_missing_or_misshapen_token_is_refused(
    web_bot: OfflineBot, http: httpx.AsyncClient
) -> None:
    rows = await fsm_rows(web_bot)
    event = {"seq": 1, "event": {"type": "start"}}
    for token in MISSHAPEN:
        headers = {} if token is None else {SESSION_HEADER: token}
        response = await http.post("/api/act", json=event, headers=headers)
        refusal(response, 401, "session_unknown")
        refusal(await http.post("/api/state", json={}, headers=headers), 401, "session_unknown")
    assert await fsm_rows(web_bot) == rows


async def test_a_forged_token_opens_nothing_and_creates_nothing(
    web_bot: OfflineBot, http: httpx.AsyncClient, new_cadre: Callable[..., WebCadre]
) -> None:
    cadre, token = await at_first_question(new_cadre)
    rows = await fsm_rows(web_bot)
    forged = secrets.token_urlsafe(32)  # the right shape, never issued
    assert forged != token and len(forged) == len(token)
    for seq in (1, cadre.seq, cadre.seq + 1):
        response = await act(http, forged, {"seq": seq, "event": {"type": "start"}})
        refusal(response, 401, "session_unknown")
    refusal(
        await http.post("/api/state", json={}, headers={SESSION_HEADER: forged}),
        401,
        "session_unknown",
    )
    assert await fsm_rows(web_bot) == rows


@pytest.mark.parametrize("how", ["deleted", "expired"])
async def test_a_stale_token_is_refused_once_its_record_is_gone(
    web_bot: OfflineBot,
    http: httpx.AsyncClient,
    new_cadre: Callable[..., WebCadre],
    how: str,
) -> None:
    cadre, token = await at_first_question(new_cadre)
    assert web_bot.web is not None
    sessions = web_bot.web.channel.sessions
    row_key = storage_key_pseudonym(services_of(web_bot).pseudonymizer, sessions.storage_key(token))
    await sessions.writes.flush()  # the session's last step is stored before its row goes
    async with services_of(web_bot).database.engine.begin() as connection:
        if how == "deleted":  # the daily purge, or the row lost
            statement: Any = delete(fsm_entries).where(fsm_entries.c.key == row_key)
        else:  # DRAFT_TTL has passed: the row is still there but reads as nothing
            statement = (
                update(fsm_entries)
                .where(fsm_entries.c.key == row_key)
                .values(expires_at=datetime(2000, 1, 1))
            )
        assert (await connection.execute(statement)).rowcount == 1
    sessions.storage.forget_cache()  # type: ignore[attr-defined]  # the table was edited by hand

    response = await act(http, token, {"seq": cadre.seq + 1, "event": {"type": "start"}})
    refusal(response, 401, "session_unknown")
    refusal(
        await http.post("/api/state", json={}, headers={SESSION_HEADER: token}),
        401,
        "session_unknown",
    )
    replayed = await act(http, token, {"seq": cadre.seq, "event": {"type": "start"}})
    refusal(replayed, 401, "session_unknown")
    assert await session_data(web_bot, token) == {}, "a refused token writes nothing back"


# --- sequence numbers -------------------------------------------------------------------------


async def test_a_replayed_press_returns_the_same_answer_and_applies_once(
    web_bot: OfflineBot, http: httpx.AsyncClient, new_cadre: Callable[..., WebCadre]
) -> None:
    cadre, token = await at_first_question(new_cadre)
    shown = cadre.current()
    payload = {
        "seq": cadre.seq + 1,
        "event": {
            "type": "press",
            "action": {"a": "ans", "q": "unit_type", "v": "other"},
            "ref": shown.ref,
        },
    }
    first = await act(http, token, payload)
    assert first.status_code == 200
    after = await everything(web_bot, token)
    assert after[0]["c"]["draft"]["answers"] == {"unit_type": "other"}
    for _ in range(3):  # the network failed after the server answered: the page retries
        again = await act(http, token, payload)
        assert again.status_code == 200 and again.json() == first.json()
    together = await asyncio.gather(*(act(http, token, payload) for _ in range(5)))
    assert {r.status_code for r in together} == {200}
    assert all(r.json() == first.json() for r in together)
    assert await everything(web_bot, token) == after
    assert (await http.post("/api/state", json={}, headers={SESSION_HEADER: token})).json() == {
        "seq": payload["seq"]
    }
    cadre.seq += 1
    cadre.apply(first.json()["ops"])
    assert question_of(cadre.current()) == "post_level", "the draft advanced exactly once"
    await goes_on(cadre)


async def test_a_replayed_submit_gives_the_same_receipt_and_one_report(
    web_bot: OfflineBot, http: httpx.AsyncClient, new_cadre: Callable[..., WebCadre]
) -> None:
    services = services_of(web_bot)
    cadre, token = await at_first_question(new_cadre)
    await answer_until(cadre)
    review = cadre.current()
    payload = {
        "seq": cadre.seq + 1,
        "event": {"type": "press", "action": {"a": "sub", "q": "", "v": ""}, "ref": review.ref},
    }
    answers = await asyncio.gather(*(act(http, token, payload) for _ in range(4)))
    answers.append(await act(http, token, payload))
    assert {r.status_code for r in answers} == {200}
    bodies = [r.json() for r in answers]
    assert all(body == bodies[0] for body in bodies)
    assert await services.submissions.count() == 1
    code = next(
        run[1]
        for op in bodies[0]["ops"]
        if op["op"] == "show"
        for run in op["screen"]["body"]
        if run[0] == "code"
    )
    await submission_of(web_bot, code)  # the one stored report is the receipt's


async def test_a_seq_out_of_order_is_refused_with_the_one_expected(
    web_bot: OfflineBot, http: httpx.AsyncClient, new_cadre: Callable[..., WebCadre]
) -> None:
    cadre, token = await at_first_question(new_cadre)
    await press(cadre, "ans", "unit_type", "other")
    before = await everything(web_bot, token)
    skip = {
        "type": "press",
        "action": {"a": "skip", "q": "post_level", "v": ""},
        "ref": cadre.current().ref,
    }
    for seq in (cadre.seq + 2, cadre.seq + 100, cadre.seq - 1, 1):
        body = refusal(await act(http, token, {"seq": seq, "event": skip}), 409, "out_of_order")
        assert body["expected"] == cadre.seq + 1
    assert await everything(web_bot, token) == before
    await goes_on(cadre)


# --- what is typed ----------------------------------------------------------------------------


async def test_html_and_script_typed_come_back_as_plain_text_and_are_stored_as_text(
    web_bot: OfflineBot, new_cadre: Callable[..., WebCadre]
) -> None:
    typed = '<b>开会</b><script>alert("x")</script><img src=x onerror=alert(1)> &amp; 完'
    cadre, _token = await at_first_question(new_cadre)
    await press(cadre, "ans", "unit_type", "other")
    await press(cadre, "skip", "post_level")
    await answer_to_the_first_example(cadre, "3")
    echoed = await cadre.type(typed)
    runs = [run for op in echoed["ops"] if op["op"] == "show" for run in op["screen"]["body"]]
    echo = next(run for run in runs if typed in run[1])
    assert echo[0] == "", "what a cadre typed is never styled"
    assert all("开会" not in text or style == "" for style, text in runs)

    await answer_until(cadre)
    assert typed[:20] in body_text(cadre.current().screen)
    code = await submit(cadre)
    stored = await submission_of(web_bot, code)
    assert stored.answers["p1_example"] == typed


# --- proof of work ----------------------------------------------------------------------------


def _routes(bot: OfflineBot) -> WebRoutes:
    """The server's route handlers (their proof of work), found through the router."""
    assert bot.web is not None
    for route in bot.web.app.router.routes():
        owner = getattr(route.handler, "__self__", None)
        if isinstance(owner, WebRoutes):
            return owner
    raise LookupError("no WebRoutes behind the router")


async def test_a_missing_or_wrong_proof_of_work_opens_no_session(
    web_bot: OfflineBot, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = await fsm_rows(web_bot)

    async def challenge() -> dict[str, Any]:
        issued: dict[str, dict[str, Any]] = (await http.post("/api/challenge", json={})).json()
        return issued["challenge"]

    async def session(pow_: Any, *, omit: bool = False) -> httpx.Response:
        body: dict[str, Any] = {"locale": "zh-CN", "campaign": None}
        if not omit:
            body["pow"] = pow_
        return await http.post("/api/session", json=body)

    refusal(await session(None, omit=True), 403, "pow_invalid")
    refusal(await session(None), 403, "pow_invalid")
    refusal(await session("solved"), 403, "pow_invalid")
    refusal(await session({}), 403, "pow_invalid")

    solved = solve(await challenge())
    wrong_number = {**solved, "number": (solved["number"] + 1) % (POW_FOR_TESTS + 1)}
    refusal(await session(wrong_number), 403, "pow_invalid")
    flipped = ("0" if solved["signature"][0] != "0" else "1") + solved["signature"][1:]
    refusal(await session({**solved, "signature": flipped}), 403, "pow_invalid")
    refusal(await session({**solved, "salt": solved["salt"] + "x"}), 403, "pow_invalid")

    assert (await session(solved)).status_code == 201
    refusal(await session(solved), 403, "pow_invalid")  # a reused solution

    # A challenge issued more than its lifetime ago (the server's clock, wound back).
    proof = _routes(web_bot).proof
    with monkeypatch.context() as patched:
        patched.setattr(proof, "_now", lambda: time.time() - 3600)
        stale = await challenge()
    refusal(await session(solve(stale)), 403, "pow_invalid")
    assert await fsm_rows(web_bot) == rows + 1, "only the one good solution opened a session"


# --- a flood ----------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def slow_bot(tmp_path: Path, migrated_data_dir: Any) -> AsyncIterator[OfflineBot]:
    """One action a minute per session (bursts of five), two new sessions an hour per
    address; the session's bucket on a clock the test moves."""
    bot = await start_web_bot(
        migrated_data_dir(tmp_path / "data"),
        web_session_actions_per_minute=1,
        web_address_sessions_per_hour=2,
    )
    try:
        yield bot
    finally:
        await bot.close()


async def test_a_flood_from_one_session_is_slowed_down_and_loses_nothing(
    slow_bot: OfflineBot,
) -> None:
    assert slow_bot.web is not None
    clock = Clock()
    channel = slow_bot.web.channel
    channel.rate = ActionRate(slow_bot.settings.web_session_actions_per_minute, now=clock)
    async with httpx.AsyncClient(base_url=slow_bot.web_url, timeout=30) as http:
        cadre = WebCadre(http)
        await begin(cadre)  # two actions of the burst of five
        await press(cadre, "ans", "unit_type", "other")
        await press(cadre, "ans", "post_level", "staff")
        await press(cadre, "cell", "freq.p1", "never")
        token = cadre.token or ""
        before = await everything(slow_bot, token)
        cell = {
            "type": "press",
            "action": {"a": "cell", "q": "freq.p2", "v": "never"},
            "ref": cadre.current().ref,
        }
        payload = {"seq": cadre.seq + 1, "event": cell}
        for _ in range(5):
            flooded = await act(http, token, payload)
            body = refusal(flooded, 429, "rate_limited")
            assert int(flooded.headers["Retry-After"]) == body["retry_after"]
            assert 1 <= body["retry_after"] <= 60
        assert await everything(slow_bot, token) == before, "the draft is unharmed"
        state = await http.post("/api/state", json={}, headers={SESSION_HEADER: token})
        assert state.json() == {"seq": cadre.seq}

        clock.now += 60  # the wait the server asked for
        applied = await act(http, token, payload)
        assert applied.status_code == 200
        cadre.seq += 1
        cadre.apply(applied.json()["ops"])
        assert [line["answered"] for line in cadre.current().grid[:3]] == [True, True, False]
        answers = (await session_data(slow_bot, token))["c"]["draft"]["answers"]
        assert (answers["freq.p1"], answers["freq.p2"]) == ("never", "never")
        assert "freq.p3" not in answers

        # New sessions per address: the third challenge within the hour is refused.
        assert (await http.post("/api/challenge", json={})).status_code == 200
        limited = await http.post("/api/challenge", json={})
        body = refusal(limited, 429, "address_limited")
        assert limited.headers["Retry-After"] == str(body["retry_after"])


# --- paths and methods ------------------------------------------------------------------------


async def test_an_unknown_api_path_is_404_and_a_get_is_405_both_json(
    http: httpx.AsyncClient,
) -> None:
    for path in ("/api/nope", "/api/act/1", "/api/"):
        refusal(await http.post(path, json={}), 404, "not_found")
        refusal(await http.get(path), 404, "not_found")
    for path in ("/api/act", "/api/session", "/api/challenge", "/api/state"):
        got = await http.get(path)
        refusal(got, 405, "method_not_allowed")
        assert got.headers["Allow"] == "POST"
        refusal(await http.put(path, json={}), 405, "method_not_allowed")


async def test_the_refusals_speak_the_page_language(http: httpx.AsyncClient) -> None:
    chinese = refusal(await http.get("/api/act"), 405, "method_not_allowed")["message"]
    english = refusal(await http.get("/api/act?lang=en"), 405, "method_not_allowed")["message"]
    assert chinese != english and english == "Not allowed."


async def test_behind_a_proxy_the_address_it_saw_is_counted_not_what_the_client_sent(
    tmp_path: Path, migrated_data_dir: Any
) -> None:
    bot = await start_web_bot(
        migrated_data_dir(tmp_path / "data"),
        web_trusted_proxy_header="X-Forwarded-For",
        web_address_sessions_per_hour=1,
    )
    try:
        async with httpx.AsyncClient(base_url=bot.web_url, timeout=30) as http:

            async def challenge(forwarded: str) -> int:
                headers = {"X-Forwarded-For": forwarded}
                return (await http.post("/api/challenge", json={}, headers=headers)).status_code

            assert await challenge("198.51.100.1, 203.0.113.5") == 200
            # The same address behind a made-up first entry is still the same address.
            assert await challenge("192.0.2.99, 203.0.113.5") == 429
            assert await challenge("203.0.113.5") == 429
            assert await challenge("203.0.113.5, 203.0.113.6") == 200, "another address"
    finally:
        await bot.close()


async def test_a_hostile_campaign_id_in_the_link_stays_text(http: httpx.AsyncClient) -> None:
    hostile = '"><img src=x onerror=alert(1)>'
    page = await http.get("/c/" + quote(hostile))
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "<img" not in page.text and "onerror=alert(1)>" not in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
