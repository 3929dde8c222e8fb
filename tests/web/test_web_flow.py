"""A cadre's whole life on the web channel, through the HTTP API as the page speaks it.

A questionnaire with back, skip, a multiple choice and a typed answer holding a phone
number, an edit from the review, submit and the receipt; a reload and a second tab; "continue
later" with a resume code; the daily limit per session and the per-campaign daily cap;
campaigns by link; and the follow-up of a web report. A web report is an ordinary report:
nothing records the channel, and the counts the digests use include it.

The helpers here are shared by the other web tests.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import MetaData, select

from bot.anonymity.receipt import ALPHABET, normalize_receipt, receipt_hash
from bot.app import FeatureOptions, Services
from bot.campaigns.service import NewCampaign
from bot.conversation import screens
from bot.conversation.model import Channel
from bot.harness.offline import OfflineBot
from bot.harness.web_client import Bubble, WebCadre
from bot.i18n.text import use_locale
from bot.statuses import FollowupOrigin
from bot.web import channel as web_texts
from storage.repositories.submissions import StoredSubmission
from tests.web.conftest import POW_FOR_TESTS

_GROUP = f"[{re.escape(ALPHABET)}]{{4}}"
RECEIPT_CODE = re.compile(rf"{_GROUP}(?:-{_GROUP}){{4}}")
RESUME_CODE = re.compile(rf"(?<![0-9A-Z-]){_GROUP}(?:-{_GROUP}){{3}}(?![0-9A-Z-])")
PHONE = "13912345678"


# --- helpers shared by the web tests ----------------------------------------------------------


async def start_web_bot(data_dir: Path, **overrides: Any) -> OfflineBot:
    """The real app with the web channel, as `web_bot` builds it, with `overrides`."""
    overrides.setdefault("web_pow_max_number", POW_FOR_TESTS)
    overrides.setdefault("web_session_actions_per_minute", 600)
    return await OfflineBot.start(
        data_dir,
        web=True,
        options=FeatureOptions(digest_loop=False, retention_job=False),
        **overrides,
    )


def services_of(bot: OfflineBot) -> Services:
    assert bot.services is not None
    return bot.services


def acts(bubble: Bubble) -> list[tuple[str, str, str]]:
    return [(o["action"]["a"], o["action"]["q"], o["action"]["v"]) for o in bubble.options]


def question_of(bubble: Bubble) -> str | None:
    """The question a screen asks (a grid's own id, not a row's), or None (the review, a
    notice)."""
    if bubble.screen["progress"] is None:
        return None
    question = next((q for _a, q, _v in acts(bubble) if q), None)
    return None if question is None else question.split(".", 1)[0]


def body_text(screen: dict[str, Any]) -> str:
    return "".join(run[1] for run in screen["body"])


def ops_text(answer: dict[str, Any]) -> str:
    """Everything an answer's ops would put on the page, as text."""
    parts: list[str] = []
    for op in answer["ops"]:
        if "screen" in op:
            parts.append(Bubble(op["ref"], op["screen"], False).text)
            parts += [o["label"] for o in Bubble(op["ref"], op["screen"], False).options]
        if op["op"] == "toast":
            parts.append(op["text"])
    return "\n".join(parts)


async def press(
    cadre: WebCadre,
    act: str,
    question: str | None = None,
    value: str | None = None,
    *,
    bubble: Bubble | None = None,
) -> dict[str, Any]:
    """Press the option of the current screen (or `bubble`) with this act, question, value."""
    return await cadre.press(
        lambda o: (
            o["action"]["a"] == act
            and (question is None or o["action"]["q"] == question)
            and (value is None or o["action"]["v"] == value)
        ),
        bubble,
    )


async def begin(cadre: WebCadre) -> None:
    """Open a session, take the welcome and consent: the first question is shown."""
    await cadre.open()
    await cadre.act({"type": "start"})
    await press(cadre, "go")
    assert question_of(cadre.current()) == "unit_type"


async def answer_until(cadre: WebCadre, stop_at: str | None = None) -> None:
    """Answer on (never met each problem, numbers typed, the first choice, text skipped, a
    grid's rows the rest at once or each its first cell) until the question `stop_at` is
    asked, or the review when None."""
    for _ in range(80):
        current = cadre.current()
        question = question_of(current)
        if question is None or question == stop_at:
            break
        options = acts(current)
        kinds = {a for a, _q, _v in options}
        if "cell" in kinds:
            await answer_grid(cadre, question)
        elif ("ans", question, "never") in options:
            await press(cadre, "ans", question, "never")
        elif "ans" in kinds:
            await press(cadre, "ans", question)
        elif "tog" in kinds:
            await press(cadre, "tog", question)
            await press(cadre, "done", question)
        elif current.screen["input"] and current.screen["input"]["kind"] == "number":
            await cadre.type("3")
        else:
            await press(cadre, "skip", question)
    current = cadre.current()
    if stop_at is None:
        assert "sub" in {a for a, _q, _v in acts(current)}, "the review was not reached"
    else:
        assert question_of(current) == stop_at


async def answer_grid(cadre: WebCadre, grid: str, values: dict[str, str] | None = None) -> None:
    """Answer the grid on screen: the rows named in `values` (row id → value) by hand, then
    "the rest: …" where it is offered, else each open row's first cell; then Done."""
    for row, value in (values or {}).items():
        await press(cadre, "cell", f"{grid}.{row}", value)
    if "fill" in {a for a, _q, _v in acts(cadre.current())}:
        await press(cadre, "fill", grid)
    for line in cadre.current().grid:
        if not line["answered"]:
            first = line["options"][0]["action"]
            await press(cadre, "cell", first["q"], first["v"])
    await press(cadre, "done", grid)


async def answer_to_the_first_example(cadre: WebCadre, impact: str) -> None:
    """From the problems grid on to the first problem's example: it met often (the rest
    never), its impact `impact`, and it picked for an example; then p1_example is asked."""
    assert question_of(cadre.current()) == "freq"
    await answer_grid(cadre, "freq", {"p1": "often"})
    assert question_of(cadre.current()) == "impact"
    await answer_grid(cadre, "impact", {"p1": impact})
    assert question_of(cadre.current()) == "examples"
    await press(cadre, "tog", "examples", "p1")
    await press(cadre, "done", "examples")
    assert question_of(cadre.current()) == "p1_example"


async def submit(cadre: WebCadre) -> str:
    """Submit from the review; the receipt code shown."""
    answer = await press(cadre, "sub")
    codes: list[str] = [
        run[1]
        for op in answer["ops"]
        if op["op"] == "show"
        for run in op["screen"]["body"]
        if run[0] == "code"
    ]
    assert len(codes) == 1 and RECEIPT_CODE.fullmatch(codes[0]), answer
    return codes[0]


async def session_data(bot: OfflineBot, token: str) -> dict[str, Any]:
    """What the storage holds for a session: its record ("w") and the core's state ("c"),
    once the steps waiting to be written in a batch are written."""
    assert bot.web is not None
    sessions = bot.web.channel.sessions
    await sessions.writes.flush()
    return await sessions.storage.get_data(sessions.storage_key(token))


async def submission_of(bot: OfflineBot, code: str) -> StoredSubmission:
    services = services_of(bot)
    normalised = normalize_receipt(code)
    assert normalised is not None
    submission_id = await services.submissions.find_by_receipt(
        receipt_hash(normalised, services.survey.receipt_secret)
    )
    assert submission_id is not None
    stored = await services.submissions.get(submission_id)
    assert stored is not None
    return stored


async def open_session(http: httpx.AsyncClient, **body: Any) -> httpx.Response:
    """Solve a fresh challenge and ask for a session with `body` (locale, campaign, mode)."""
    from bot.web.proof_of_work import solve

    challenge = (await http.post("/api/challenge", json={})).json()["challenge"]
    return await http.post("/api/session", json={"pow": solve(challenge), **body})


def web_text(text: Callable[..., str], *args: Any, locale: str = "zh-CN", **kwargs: Any) -> str:
    """A server text as the page receives it: rendered runs joined, in `locale`."""
    from bot.web.render import runs

    with use_locale(locale):
        return "".join(run[1] for run in runs(text(*args, **kwargs)))


# --- a whole questionnaire --------------------------------------------------------------------


async def test_a_whole_questionnaire_on_the_web_is_an_ordinary_report(
    web_bot: OfflineBot, new_cadre: Callable[..., WebCadre]
) -> None:
    cadre = new_cadre()
    await begin(cadre)
    first = cadre.current()
    assert first.screen["progress"]["position"] == 1 and first.current

    # Answer, go back (the answer is still selected), change it; skip an optional question.
    await press(cadre, "ans", "unit_type", "town_street")
    assert question_of(cadre.current()) == "post_level"
    await press(cadre, "back")
    again = cadre.current()
    assert question_of(again) == "unit_type"
    chosen = [o["action"]["v"] for o in again.options if o["selected"]]
    assert chosen == ["town_street"]
    await press(cadre, "ans", "unit_type", "village_community")
    await press(cadre, "skip", "post_level")
    await answer_to_the_first_example(cadre, "4")
    assert cadre.current().screen["input"] == {"kind": "text", "max": 500}

    # A typed answer with a phone number: the typed message goes, the masked echo is shown.
    typed = await cadre.type(f"每周开三次会传达会议精神，联系 {PHONE}")
    assert typed["ops"][0] == {"op": "delete", "ref": typed["ref"]}
    shown = ops_text(typed)
    assert "🛡" in shown and "手机号" in shown and "每周开三次会" in shown
    assert PHONE not in shown
    assert question_of(cadre.current()) == "burden_source"

    # A multiple choice: ticks toggle in place, Done moves on.
    await answer_until(cadre, "measures")
    measures = cadre.current()
    for choice in ("fewer_meetings_docs", "no_trace_judging", "fewer_meetings_docs"):
        toggled = await press(cadre, "tog", "measures", choice)
        assert [op["op"] for op in toggled["ops"]] == ["replace"]
        assert toggled["ops"][0]["ref"] == measures.ref
    await press(cadre, "tog", "measures", "fewer_inspections")
    ticked = {o["action"]["v"] for o in cadre.current().options if o["selected"]}
    assert ticked == {"no_trace_judging", "fewer_inspections"}
    await press(cadre, "done", "measures")
    await answer_until(cadre)

    # Edit from the review: the question again, a new answer, back at the review.
    review = body_text(cadre.current().screen)
    assert "→ 3" in review
    await press(cadre, "edit", "meetings_month")
    assert question_of(cadre.current()) == "meetings_month"
    await cadre.type("9")
    review = body_text(cadre.current().screen)
    assert "sub" in {a for a, _q, _v in acts(cadre.current())}
    assert "多少次会议？\n   → 9" in review

    code = await submit(cadre)
    assert RECEIPT_CODE.fullmatch(code)

    stored = await submission_of(web_bot, code)
    answers = stored.answers
    assert answers["unit_type"] == "village_community"
    assert "post_level" not in answers
    assert (answers["freq.p1"], answers["impact.p1"], answers["examples"]) == ("often", 4, ["p1"])
    example = answers["p1_example"]
    assert isinstance(example, str) and example.startswith("每周开三次会传达会议精神")
    assert PHONE not in example and "139" not in example
    ticked_stored = answers["measures"]
    assert isinstance(ticked_stored, list)
    assert sorted(ticked_stored) == ["fewer_inspections", "no_trace_judging"]
    assert answers["meetings_month"] == 9

    # An ordinary report: nothing names a channel, and the digests' counts include it.
    services = services_of(web_bot)
    assert await services.submissions.count() == 1
    assert (await services.submissions.answer_counts("freq.p1")) == {"often": 1}
    assert (await services.submissions.answer_counts("freq.p2")) == {"never": 1}
    assert (await services.submissions.answer_counts("measures")) == {
        "fewer_inspections": 1,
        "no_trace_judging": 1,
    }
    async with services.database.engine.connect() as connection:
        meta = MetaData()
        await connection.run_sync(meta.reflect)
        for name in ("submissions", "answers", "cases"):
            columns = {column.name for column in meta.tables[name].columns}
            assert not {c for c in columns if re.search("channel|web|telegram|source", c)}
        rows = (await connection.execute(select(meta.tables["submissions"]))).all()
    assert len(rows) == 1
    assert not {value for value in rows[0] if value in set(Channel)}


# --- reload, another tab ----------------------------------------------------------------------


async def test_a_reload_resumes_and_another_tab_starts_fresh(
    web_bot: OfflineBot, http: httpx.AsyncClient, new_cadre: Callable[..., WebCadre]
) -> None:
    cadre = new_cadre()
    await begin(cadre)
    await press(cadre, "ans", "unit_type", "other")
    await press(cadre, "ans", "post_level", "staff")
    before = cadre.current()
    assert question_of(before) == "freq"

    # The same tab reloaded: the token from sessionStorage, the seq asked for.
    reloaded = new_cadre(token=cadre.token)
    state = await reloaded.post("/api/state", {})
    assert state == {"seq": cadre.seq}
    reloaded.seq = state["seq"]
    await reloaded.act({"type": "start"})
    offer = reloaded.current()
    assert {a for a, _q, _v in acts(offer)} == {"res", "new"}
    assert "第 2/5 部分" in offer.text
    await press(reloaded, "res")
    resumed = reloaded.current()
    assert question_of(resumed) == "freq"
    assert resumed.screen["body"] == before.screen["body"]
    assert resumed.screen["progress"] == before.screen["progress"]
    assert resumed.screen["grid"] == before.screen["grid"]
    pressed = await press(reloaded, "cell", "freq.p1", "never")
    assert [(op["op"], op["ref"]) for op in pressed["ops"]] == [("replace", resumed.ref)], (
        "the resumed screen is the current one"
    )
    assert reloaded.current().grid[0]["answered"]

    # Another tab is another session: the welcome, and its own empty state.
    other = new_cadre()
    await other.open()
    assert other.token != cadre.token
    assert await other.post("/api/state", {}) == {"seq": 0}
    await other.act({"type": "start"})
    assert {a for a, _q, _v in acts(other.current())} == {"go"}
    assert (await session_data(web_bot, other.token or ""))["c"] == {}
    draft = (await session_data(web_bot, cadre.token or ""))["c"]["draft"]
    assert draft["answers"]["freq.p1"] == "never"


# --- continue later ---------------------------------------------------------------------------


async def test_continue_later_moves_the_draft_under_a_code_that_works_once(
    web_bot: OfflineBot, new_cadre: Callable[..., WebCadre]
) -> None:
    cadre = new_cadre()
    await begin(cadre)
    await press(cadre, "ans", "unit_type", "district_dept")
    await press(cadre, "skip", "post_level")
    await answer_grid(cadre, "freq", {"p1": "often"})
    assert question_of(cadre.current()) == "impact"
    asked = cadre.current()
    draft = (await session_data(web_bot, cadre.token or ""))["c"]["draft"]

    later = await cadre.act({"type": "later"})
    assert later["ops"][0] == {"op": "retire", "ref": asked.ref}
    codes = RESUME_CODE.findall(ops_text(later))
    assert len(codes) == 1 and not RECEIPT_CODE.search(ops_text(later))
    code = codes[0]
    assert (await session_data(web_bot, cadre.token or ""))["c"] == {}, "moved out, not copied"
    await cadre.act({"type": "start"})
    assert {a for a, _q, _v in acts(cadre.current())} == {"go"}, "nothing left to continue"

    # A new session (the page opened again later) continues with the code, typed loosely.
    again = new_cadre()
    await again.open()
    await again.act({"type": "resume", "code": code.lower().replace("-", " ")})
    assert {a for a, _q, _v in acts(again.current())} == {"res", "new"}
    await press(again, "res")
    assert question_of(again.current()) == "impact"
    assert (await session_data(web_bot, again.token or ""))["c"]["draft"] == draft
    await answer_grid(again, "impact", {"p1": "2"})
    assert question_of(again.current()) == "examples"
    assert (await session_data(web_bot, again.token or ""))["c"]["draft"]["answers"][
        "impact.p1"
    ] == 2

    # The code worked once; a wrong code gets the same kind refusal.
    refused = web_text(web_texts.wrong_resume_code_text)
    for attempt in (code, "ZZZZ-ZZZZ-ZZZZ-ZZZZ"):
        third = new_cadre()
        await third.open()
        answer = await third.act({"type": "resume", "code": attempt})
        assert refused in ops_text(answer)
        assert (await session_data(web_bot, third.token or ""))["c"] == {}

    # Nothing to save: a passing note, and nothing moves.
    idle = new_cadre()
    await idle.open()
    nothing = await idle.act({"type": "later"})
    assert nothing["ops"] == [
        {"op": "toast", "text": web_text(web_texts.nothing_to_save_text), "alert": False}
    ]


# --- limits -----------------------------------------------------------------------------------


async def test_the_daily_limit_counts_per_session(tmp_path: Path, migrated_data_dir: Any) -> None:
    bot = await start_web_bot(migrated_data_dir(tmp_path / "data"), max_submissions_per_day=1)
    try:
        async with httpx.AsyncClient(base_url=bot.web_url, timeout=30) as http:
            services = services_of(bot)
            cadre = WebCadre(http)
            await begin(cadre)
            await answer_until(cadre)
            saved = RESUME_CODE.findall(ops_text(await cadre.act({"type": "later"})))[0]
            await cadre.act({"type": "start"})
            await press(cadre, "go")
            await answer_until(cadre)
            await submit(cadre)
            assert await services.submissions.count() == 1

            # A second report from the same session the same day is refused, kindly.
            await cadre.act({"type": "resume", "code": saved})
            await press(cadre, "res")
            refused = await press(cadre, "sub")
            limit = web_text(screens.limit_reached_text, 1, channel=Channel.WEB)
            assert refused["ops"] == [{"op": "toast", "text": limit, "alert": True}]
            assert await services.submissions.count() == 1
            assert (await session_data(bot, cadre.token or ""))["c"]["draft"], "draft kept"
            await cadre.act({"type": "start"})
            assert {a for a, _q, _v in acts(cadre.current())} == {"res", "new"}

            other = WebCadre(http)
            await begin(other)
            await answer_until(other)
            await submit(other)
            assert await services.submissions.count() == 2
    finally:
        await bot.close()


async def test_the_campaign_daily_cap_turns_new_sessions_away(
    tmp_path: Path, migrated_data_dir: Any
) -> None:
    bot = await start_web_bot(migrated_data_dir(tmp_path / "data"), web_campaign_daily_cap=1)
    try:
        async with httpx.AsyncClient(base_url=bot.web_url, timeout=30) as http:
            services = services_of(bot)
            first, second = WebCadre(http), WebCadre(http)
            for cadre in (first, second):
                await begin(cadre)
                await answer_until(cadre)
            await submit(first)
            assert await services.submissions.count() == 1

            # A draft already open stays a draft: submit is refused for today.
            refused = await press(second, "sub")
            full = web_text(web_texts.campaign_full_text)
            assert refused["ops"] == [{"op": "toast", "text": full, "alert": True}]
            assert await services.submissions.count() == 1
            assert (await session_data(bot, second.token or ""))["c"]["draft"]

            turned_away = await open_session(http, locale="zh-CN", campaign=None)
            assert turned_away.status_code == 503
            body = turned_away.json()
            assert body["error"] == "campaign_full" and body["message"]
            followup = await open_session(http, locale="zh-CN", campaign=None, mode="followup")
            assert followup.status_code == 201, "reading replies is not a report"
    finally:
        await bot.close()


# --- campaigns by link ------------------------------------------------------------------------


async def test_a_campaign_link_opens_that_campaign_and_an_unknown_one_is_not_found(
    web_bot: OfflineBot, http: httpx.AsyncClient
) -> None:
    services = services_of(web_bot)
    missing_page = await http.get("/c/no-such-campaign")
    assert missing_page.status_code == 404
    assert missing_page.headers["content-type"].startswith("text/html")
    missing = await open_session(http, locale="zh-CN", campaign="no-such-campaign")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"

    today = services.clock().astimezone(services.settings.zone).date()
    service = services.campaigns.service
    campaign = await service.create(
        1, NewCampaign("第一轮", today, today + timedelta(days=7), None), services.questionnaire
    )
    assert await service.open(1, campaign.id)
    page = await http.get(f"/c/{campaign.id}")
    assert page.status_code == 200 and campaign.id in page.text
    opened = await open_session(http, locale="zh-CN", campaign=campaign.id)
    assert opened.status_code == 201
    cadre = WebCadre(http, campaign=campaign.id, token=opened.json()["token"])
    await cadre.act({"type": "start"})
    await press(cadre, "go")
    assert question_of(cadre.current()) == "unit_type"
    draft = (await session_data(web_bot, cadre.token or ""))["c"]
    assert draft["campaign"] == campaign.id


def page_config(page: httpx.Response) -> dict[str, Any]:
    """What the page's script is told: the JSON in the body's data-config attribute."""
    found = re.search(r'<body data-config="([^"]*)"', page.text)
    assert found is not None, page.text[:200]
    config: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return config


async def test_a_campaign_link_is_read_like_a_typed_campaign_id(
    web_bot: OfflineBot, http: httpx.AsyncClient
) -> None:
    """A link passed on by hand (full-width digits from a Chinese keyboard, a space) opens
    the campaign as an admin's command finds it, and the page, the session and the draft
    carry the campaign's stored id."""
    services = services_of(web_bot)
    today = services.clock().astimezone(services.settings.zone).date()
    service = services.campaigns.service
    campaign = await service.create(
        1, NewCampaign("第二轮", today, today + timedelta(days=7), None), services.questionnaire
    )
    assert await service.open(1, campaign.id)
    full_width = "".join(chr(ord(char) + 0xFEE0) for char in campaign.id)
    spaced = f"{campaign.id[:2]} {campaign.id[2:]}".upper()
    assert full_width != campaign.id
    closed = web_text(web_texts.campaign_closed_text)
    for typed in (full_width, spaced, campaign.id):
        page = await http.get("/c/" + quote(typed))
        assert page.status_code == 200, typed
        config = page_config(page)
        assert config["campaign"] == campaign.id
        assert [op["op"] for op in config["first"]] == ["show"], "the welcome, not a notice"
        assert closed not in json.dumps(config["first"], ensure_ascii=False)

        opened = await open_session(http, locale="zh-CN", campaign=typed)
        assert opened.status_code == 201, typed
        cadre = WebCadre(http, campaign=typed, token=opened.json()["token"])
        await cadre.act({"type": "start"})
        await press(cadre, "go")
        assert question_of(cadre.current()) == "unit_type"
        data = await session_data(web_bot, cadre.token or "")
        assert data["w"]["campaign"] == campaign.id and data["c"]["campaign"] == campaign.id

    never_an_id = "０" * len(campaign.id)  # ids never begin with 0
    assert (await http.get("/c/" + quote(never_an_id))).status_code == 404
    missing = await open_session(http, locale="zh-CN", campaign=never_an_id)
    assert missing.status_code == 404


# --- the follow-up ----------------------------------------------------------------------------


async def test_a_web_report_is_followed_up_by_its_receipt_code(
    web_bot: OfflineBot, new_cadre: Callable[..., WebCadre]
) -> None:
    services = services_of(web_bot)
    cadre = new_cadre()
    await begin(cadre)
    await answer_until(cadre)
    code = await submit(cadre)
    stored = await submission_of(web_bot, code)

    # An investigator asks a question about the report.
    summary = await services.cases.cases.by_submission(stored.id)
    assert summary is not None
    today = services.clock().astimezone(services.settings.zone).date()
    await services.cases.actions.reply(1, summary, "请问是哪个部门的会议？", today)

    reader = new_cadre()
    await reader.open()
    asked = await reader.act({"type": "followup", "code": ""})
    assert "回执码" in ops_text(asked)
    opened = await reader.type(code)
    assert opened["ops"][0] == {"op": "delete", "ref": opened["ref"]}, "the code leaves"
    assert "请问是哪个部门的会议？" in ops_text(opened)

    await press(reader, "fu-ans")
    saved = await reader.type(f"是乡镇办公室的例会，可打 {PHONE} 核实")
    assert "🛡" in ops_text(saved) and PHONE not in ops_text(saved)

    thread = await services.cases.cases.thread(stored.id)
    assert [m.origin for m in thread] == [FollowupOrigin.INVESTIGATOR, FollowupOrigin.CADRE]
    answer = thread[-1].text
    assert answer.startswith("是乡镇办公室的例会") and PHONE not in answer


async def test_a_wrong_receipt_code_opens_nothing(new_cadre: Callable[..., WebCadre]) -> None:
    reader = new_cadre()
    await reader.open()
    await reader.act({"type": "followup", "code": ""})
    wrong = await reader.type("AAAA-BBBB-CCCC-DDDD-EEEE")
    assert wrong["ops"][0] == {"op": "delete", "ref": wrong["ref"]}
    assert "重新输入" in ops_text(wrong)
