"""The web chat in a real browser on a phone-sized screen: a whole questionnaire, reload,
a second tab, the follow-up, the language switch, typed markup, retries, and what the page
and the server leave behind (no cookie, no User-Agent, no address)."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot.anonymity.receipt import normalize_receipt, receipt_hash
from bot.harness.offline import OfflineBot
from bot.statuses import FollowupOrigin
from tests.web.browser.support import RECEIPT, RESUME_CODE, USER_AGENT, Chat, LogRecords

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Route

pytestmark = pytest.mark.asyncio(loop_scope="module")

PHONE = "13812345678"
MARKUP = "<img src=x onerror=alert(1)><script>window.pwned=1</script><b>粗</b>"
INVESTIGATOR_QUESTION = "请问这件事大约发生在什么时候？"
CADRE_ANSWER = "大约是上个月中旬"


async def new_chat(phone: BrowserContext, url: str) -> Chat:
    chat = Chat(await phone.new_page())
    await chat.open(url)
    return chat


async def consent(chat: Chat) -> None:
    await chat.tap("go")
    await chat.page.locator("#progress").wait_for(state="visible")


async def answer_until_review(
    chat: Chat, *, typed: str = "无", over_the_limit: bool = False
) -> list[str]:
    """Answer every screen up to the review: the first choice, two choices of a multiple
    choice (trying one too many first with `over_the_limit`, where it has a limit), the
    middle of a scale, a grid's rows (`answer_grid`), 3 for a number, `typed` for a text.
    Returns the questions met."""
    met: list[str] = []
    for _ in range(80):
        kind = await chat.kind()
        if kind == "review":
            return met
        met.append(await chat.question())
        if kind == "multi":
            limited = "最多选" in await chat.current.locator(".text").inner_text()
            if over_the_limit and limited:
                await one_choice_too_many(chat)
            await answer_multi(chat)
        elif kind == "grid":
            await answer_grid(chat)
        elif kind == "scale":
            await chat.current.locator(".row.scale .chip").nth(2).tap()
            await chat.idle()
        elif kind == "single":
            await chat.tap("ans")
        else:
            await chat.send("3" if await chat.typed_kind() == "numeric" else typed)
        assert await chat.overlay_text() is None
    raise AssertionError(f"no review after {len(met)} screens: {met[-3:]}")


async def answer_grid(chat: Chat) -> None:
    """ "The rest: …" where the grid offers it, else each open row's middle chip; then Done."""
    fill = chat.current.locator('.chip[data-act="fill"]')
    if await fill.count():
        await chat.tap("fill")
    rows = chat.current.locator(".grid-row:not(.answered)")
    while await rows.count():
        chips = rows.first.locator('.chip[data-act="cell"]')
        await chips.nth((await chips.count()) // 2).tap()
        await chat.idle()
    await chat.tap("done")


async def to_the_first_example(chat: Chat, impact: int) -> None:
    """From the problems grid on to the first problem's example: it met often (not never:
    its follow-ups are asked), the rest never; its impact the `impact`-th chip of the scale;
    and it picked for an example."""
    assert await chat.kind() == "grid"
    first_row = chat.current.locator(".grid-row").nth(0)
    await first_row.locator('.chip[data-act="cell"][data-v="often"]').tap()
    await chat.idle()
    await chat.tap("fill")
    await chat.tap("done")
    assert await chat.kind() == "grid"  # how much it weighs: only the problem met often
    assert await chat.current.locator(".grid-row").count() == 1
    scale = chat.current.locator(".grid-cells.scale .chip")
    assert await scale.all_inner_texts() == [str(n) for n in range(1, 6)]
    await scale.nth(impact).tap()
    await chat.idle()
    await chat.tap("done")
    assert await chat.kind() == "multi"
    assert await chat.current.locator('.chip[data-act="tog"]').count() == 1  # the one met
    await chat.tap("tog")
    await chat.tap("done")
    assert await chat.kind() == "typed"


async def answer_multi(chat: Chat) -> None:
    """Two choices toggle on (shown at once and kept by the server), then Done."""
    bubble = chat.current
    first = await bubble.locator('.chip[data-act="tog"]').nth(0).inner_text()
    third = await bubble.locator('.chip[data-act="tog"]').nth(2).inner_text()
    await bubble.locator('.chip[data-act="tog"]').nth(0).tap()
    await bubble.locator('.chip[data-act="tog"]').nth(2).tap()
    await chat.idle()
    on = chat.current.locator('.chip[data-act="tog"][aria-pressed="true"]')
    assert await on.all_inner_texts() == [first, third]
    assert await chat.current.locator(".chip.on").count() == 2
    await chat.tap("done")
    assert await chat.page.locator(".bubble.me").last.inner_text() == f"{first}、{third}"


async def one_choice_too_many(chat: Chat) -> None:
    """At most three: a fourth is refused in a dialog and shown off again; then none is
    left on."""
    chips = chat.current.locator('.chip[data-act="tog"]')
    assert "3" in await chat.question()
    for nth in (1, 3, 5, 7):
        await chips.nth(nth).tap()
    await chat.page.locator(".overlay .dialog").wait_for()
    await chat.idle()
    assert "3" in (await chat.overlay_text() or "")
    assert await chat.current.locator('.chip[aria-pressed="true"]').count() == 3
    assert await chips.nth(7).get_attribute("aria-pressed") == "false"
    await chat.page.locator('.dialog [data-act="ok"]').tap()
    assert await chat.overlay_text() is None
    for nth in (1, 3, 5):
        await chips.nth(nth).tap()
    await chat.idle()
    assert await chat.current.locator(".chip.on").count() == 0


async def submitted_receipt(chat: Chat) -> str:
    await consent(chat)
    await answer_until_review(chat)
    await chat.tap("sub")
    code = chat.current.locator("code").filter(has_text=RECEIPT)
    return await code.inner_text()


async def test_a_whole_questionnaire_by_tapping_and_typing(
    served: OfflineBot, phone: BrowserContext
) -> None:
    chat = await new_chat(phone, served.web_url + "/")
    assert await chat.page.locator("html").get_attribute("lang") == "zh-CN"
    assert await chat.page.locator("#later").is_hidden()
    await consent(chat)
    assert await chat.page.locator("#later").is_visible()
    first_question = await chat.question()
    start = await chat.progress()
    assert start == ("1/5", 0.0)

    label = await chat.tap("ans")
    assert await chat.page.locator(".bubble.me").last.inner_text() == label
    second_question = await chat.question()
    assert second_question != first_question
    part, seen = await chat.progress()
    assert part == "1/5" and seen > start[1]  # the same part, the bar further on

    await chat.tap("back")
    assert await chat.question() == first_question
    await chat.tap("skip")
    assert await chat.question() == second_question
    await chat.tap("ans")
    part, further = await chat.progress()
    assert part == "2/5" and further > seen

    await to_the_first_example(chat, 2)
    await chat.page.fill("#text", f"主任让我打{PHONE}汇报")
    assert re.fullmatch(r"\d+/500", await chat.page.locator("#counter").inner_text())
    await chat.page.locator("#send").tap()
    await chat.idle()
    await chat.log.filter(has_text="已隐去").wait_for()
    assert "[手机号]" in await chat.log.inner_text()
    assert PHONE not in await chat.page.content()

    await answer_until_review(chat, over_the_limit=True)
    review = await chat.current.inner_text()
    assert "[手机号]" in review and PHONE not in review
    assert await chat.page.locator("#progress").is_hidden()

    await chat.tap("edit")  # the first question, skipped before
    assert await chat.question() == first_question
    edited = await chat.tap("ans", 1)
    assert await chat.kind() == "review"
    assert edited in await chat.current.inner_text()

    await chat.tap("sub")
    code = await chat.current.locator("code").inner_text()
    assert RECEIPT.fullmatch(code)
    assert await chat.page.locator("#later").is_hidden()

    await chat.tap("clr")  # clear the conversation: nothing of it stays on the page
    assert await chat.page.locator(".bubble").count() == 0
    await chat.page.locator('.sys.again .chip[data-act="again"]').tap()
    await chat.idle()
    await chat.chip("go").wait_for()
    assert chat.problems == [] and chat.dialogs == []


async def test_the_first_screen_needs_no_request_beyond_the_page_and_its_two_files(
    served: OfflineBot, phone: BrowserContext
) -> None:
    """On slow 3G every round trip costs 400 ms: the welcome comes inside the page itself,
    tappable before the session exists, with the API held back until the cadre has seen it.
    (How long it takes on a slow line and a slow CPU is `bench/web_page.py`'s to measure.)"""
    page = await phone.new_page()
    held: list[Route] = []
    holding = True
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))

    async def hold(route: Route) -> None:
        if holding:
            held.append(route)
        else:
            await route.continue_()

    await page.route("**/api/**", hold)
    await page.goto(served.web_url + "/")
    await page.locator('.chip[data-act="go"]').wait_for(state="visible")
    assert "清风" in await page.locator("#log").inner_text()
    before_api = [url for url in fetched if "/api/" not in url]
    assert sorted(url.rsplit("/", 1)[-1] for url in before_api) == ["", "chat.css", "chat.js"]
    holding = False
    for route in held:
        await route.continue_()
    chat = Chat(page)
    await chat.idle()
    await consent(chat)  # tappable at once; the session is set up behind it
    assert chat.problems == []


async def test_a_reload_in_the_middle_resumes(served: OfflineBot, phone: BrowserContext) -> None:
    chat = await new_chat(phone, served.web_url + "/")
    await consent(chat)
    await chat.tap("ans")
    question = await chat.question()
    token = await chat.page.evaluate("sessionStorage.getItem('qingfeng.token')")

    await chat.page.reload()
    await chat.idle()
    await chat.chip("res").wait_for()
    assert await chat.page.evaluate("sessionStorage.getItem('qingfeng.token')") == token
    await chat.tap("res")
    assert await chat.question() == question
    await chat.tap("ans")  # the session goes on with the right sequence number
    assert await chat.question() != question
    assert chat.problems == []


async def test_a_second_tab_starts_fresh(served: OfflineBot, phone: BrowserContext) -> None:
    first = await new_chat(phone, served.web_url + "/")
    await consent(first)
    await first.tap("ans")
    second = await new_chat(phone, served.web_url + "/")
    await second.chip("go").wait_for()
    assert await second.page.locator('.chip[data-act="res"]').count() == 0
    await consent(second)  # its own session: the first question, not the first tab's
    tokens = [
        await tab.page.evaluate("sessionStorage.getItem('qingfeng.token')")
        for tab in (first, second)
    ]
    assert tokens[0] and tokens[1] and tokens[0] != tokens[1]
    assert await second.question() != await first.question()
    assert (await second.progress())[1] < (await first.progress())[1]


async def test_the_follow_up_shows_the_reply_and_takes_an_answer(
    served: OfflineBot, phone: BrowserContext
) -> None:
    survey = await new_chat(phone, served.web_url + "/")
    code = await submitted_receipt(survey)
    services = served.services
    assert services is not None
    hashed = receipt_hash(normalize_receipt(code) or "", services.keys.pseudonym_secret)
    submission = await services.submissions.find_by_receipt(hashed)
    assert submission is not None
    cases = services.cases
    await cases.cases.ensure_cases()
    summary = await cases.cases.by_submission(submission)
    assert summary is not None
    await cases.actions.reply(1, summary, INVESTIGATOR_QUESTION, date.today())

    chat = await new_chat(phone, served.web_url + "/followup")
    assert await chat.page.locator("#subtitle").is_visible()
    await chat.log.filter(has_text="回执码").wait_for()
    await chat.send(code)
    await chat.log.filter(has_text=INVESTIGATOR_QUESTION).wait_for()
    assert code not in await chat.log.inner_text()  # the typed code leaves the page
    await chat.tap("fu-ans")
    await chat.send(CADRE_ANSWER + f"，电话{PHONE}")
    await chat.log.filter(has_text="已加入").wait_for()

    thread = await cases.cases.thread(submission)
    assert [(m.origin, m.text) for m in thread] == [
        (FollowupOrigin.INVESTIGATOR, INVESTIGATOR_QUESTION),
        (FollowupOrigin.CADRE, CADRE_ANSWER + "，电话[手机号]"),
    ]
    assert chat.problems == []


async def test_the_language_switch_keeps_the_session(
    served: OfflineBot, phone: BrowserContext
) -> None:
    chat = await new_chat(phone, served.web_url + "/")
    await consent(chat)
    await chat.tap("ans")
    await chat.page.locator("#lang").tap()
    await chat.page.wait_for_url(re.compile(r"\?lang=en$"))
    await chat.idle()
    assert await chat.page.locator("html").get_attribute("lang") == "en"
    assert await chat.page.locator("#send").inner_text() == "Send"
    assert await chat.page.locator("#lang").inner_text() == "中文"
    continue_label = await chat.tap("res")
    assert re.search(r"[A-Za-z]{4}", continue_label)
    question = await chat.question()
    assert re.search(r"[A-Za-z]{3,}", question) and not re.search(r"[\u4e00-\u9fff]", question)


async def test_typed_markup_is_shown_as_text_and_never_runs(
    served: OfflineBot, phone: BrowserContext
) -> None:
    chat = await new_chat(phone, served.web_url + "/")
    await consent(chat)
    await chat.tap("ans")
    await chat.tap("ans")
    await to_the_first_example(chat, 0)
    await chat.send(MARKUP)
    await chat.log.filter(has_text=MARKUP).wait_for()
    assert await chat.page.evaluate("typeof window.pwned") == "undefined"
    assert await chat.page.locator("#log img, #log script").count() == 0
    assert await chat.page.locator("#log b", has_text="粗").count() == 0
    assert chat.dialogs == [] and await chat.overlay_text() is None


async def test_no_cookie_and_the_security_headers_on_every_response(
    served: OfflineBot, phone: BrowserContext
) -> None:
    responses: list[tuple[str, dict[str, str]]] = []
    page = await phone.new_page()
    page.on("response", lambda r: responses.append((r.url, r.headers)))
    chat = Chat(page)
    await chat.open(served.web_url + "/")
    await consent(chat)
    await chat.tap("ans")
    await chat.page.reload()
    await chat.idle()
    await chat.tap("res")

    assert await phone.cookies() == []
    assert await page.evaluate("document.cookie") == ""
    paths = {url.removeprefix(served.web_url) for url, _ in responses}
    assert {"/", "/static/chat.js", "/static/chat.css", "/api/act", "/api/state"} <= paths
    assert "/api/session" in paths
    for url, headers in responses:
        assert "set-cookie" not in headers, url
        policy = headers.get("content-security-policy", "")
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, url
        assert "'unsafe-inline'" not in policy, url
        assert headers.get("referrer-policy") == "no-referrer", url
        assert "no-store" in headers.get("cache-control", ""), url
        assert headers.get("x-content-type-options") == "nosniff", url
        permissions = headers.get("permissions-policy", "")
        for feature in ("camera=()", "microphone=()", "geolocation=()"):
            assert feature in permissions, url
    assert chat.problems == []  # nothing the policy refused (no inline script or style)


async def test_a_lost_answer_is_fetched_again_and_applied_once(
    served: OfflineBot, phone: BrowserContext
) -> None:
    chat = await new_chat(phone, served.web_url + "/")
    await consent(chat)
    sent: list[dict[str, Any]] = []

    async def lose_the_first_answer(route: Route) -> None:
        sent.append(json.loads(route.request.post_data or "{}"))
        response = await route.fetch()  # the server takes the action…
        if len(sent) == 1:
            await route.abort("connectionreset")  # …and the page never hears of it
        else:
            await route.fulfill(response=response)

    await chat.page.route("**/api/act", lose_the_first_answer)
    bots = await chat.page.locator(".bubble.bot").count()
    mine = await chat.page.locator(".bubble.me").count()
    first_question = await chat.question()
    start = await chat.progress()
    assert start[0] == "1/5"
    await chat.tap("ans")
    assert len(sent) == 2 and sent[0] == sent[1]  # the same seq and event again
    # Applied once: the second question of the first part, not the part after it.
    part, seen = await chat.progress()
    assert part == "1/5" and seen > start[1]
    assert await chat.question() != first_question
    assert await chat.page.locator(".bubble.bot").count() == bots + 1
    assert await chat.page.locator(".bubble.me").count() == mine + 1
    await chat.tap("ans")  # and the next action follows with the next number
    assert (await chat.progress())[0] == "2/5" and await chat.kind() == "grid"
    assert [body["seq"] for body in sent] == [2, 2, 3]


async def test_a_wrong_number_and_a_lost_session_are_recovered_from(
    served: OfflineBot, phone: BrowserContext
) -> None:
    chat = await new_chat(phone, served.web_url + "/")
    await consent(chat)
    refusals: list[tuple[int, dict[str, Any]]] = []
    asked: list[str] = []
    chat.page.on("request", lambda request: asked.append(request.url))

    async def refuse_once(route: Route) -> None:
        if refusals:
            status, body = refusals.pop(0)
            await route.fulfill(status=status, json=body)
        else:
            await route.continue_()

    await chat.page.route("**/api/act", refuse_once)
    refusals.append((409, {"error": "out_of_order", "expected": 1, "message": "…"}))
    first_question = await chat.question()
    start = await chat.progress()
    await chat.tap("ans")
    assert served.web_url + "/api/state" in asked  # it asked where the session stands…
    part, seen = await chat.progress()  # …and sent the answer again, taken this time
    assert part == start[0] == "1/5" and seen > start[1]
    assert await chat.question() != first_question

    token = await chat.page.evaluate("sessionStorage.getItem('qingfeng.token')")
    refusals.append((401, {"error": "session_unknown", "message": "…"}))
    await chat.tap("ans")
    await chat.chip("go").wait_for()  # …and a session it lost starts afresh, by itself
    fresh = await chat.page.evaluate("sessionStorage.getItem('qingfeng.token')")
    assert fresh and fresh != token
    assert served.web_url + "/api/challenge" in asked
    assert await chat.page.locator(".bubble.bot[data-ref]").count() == 1
    await consent(chat)
    assert chat.dialogs == [] and await chat.overlay_text() is None


async def test_the_later_code_continues_in_a_new_tab(
    served: OfflineBot, phone: BrowserContext
) -> None:
    chat = await new_chat(phone, served.web_url + "/")
    await consent(chat)
    await chat.tap("ans")
    question = await chat.question()
    await chat.page.locator("#later").tap()
    await chat.idle()
    code = await chat.log.locator("code").filter(has_text=RESUME_CODE).last.inner_text()
    assert await chat.page.locator("#later").is_hidden()

    other = await new_chat(phone, served.web_url + "/")
    await other.page.locator('.link[data-act="resume"]').tap()
    await other.page.fill("#resume-code", code.lower().replace("-", " "))
    await other.page.locator('.dialog [data-act="ok"]').tap()
    await other.idle()
    await other.tap("res")
    assert await other.question() == question


def leaks_in(folder: Path, needles: list[str]) -> tuple[set[str], list[tuple[str, str]]]:
    """The files under `folder`, and which of them hold which needle (as UTF-8 or UTF-16)."""
    seen: set[str] = set()
    found: list[tuple[str, str]] = []
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        seen.add(path.name)
        content = path.read_bytes()
        for needle in needles:
            if needle.encode() in content or needle.encode("utf-16-le") in content:
                found.append((needle, path.name))
    return seen, found


async def test_nothing_about_the_browser_is_kept(
    served: OfflineBot, phone: BrowserContext, module_logs: LogRecords
) -> None:
    """Run after the other flows of this module (and one of its own): the User-Agent and the
    client's address are nowhere in the database, the data folder or the logs."""
    chat = await new_chat(phone, served.web_url + "/")
    assert await chat.page.evaluate("navigator.userAgent") == USER_AGENT
    await submitted_receipt(chat)
    await chat.page.reload()
    await chat.idle()

    needles = [USER_AGENT, "QfAuditUA", "QF-Audit-Phone", "127.0.0.1"]
    seen, found = leaks_in(Path(served.settings.data_dir), [*needles, "formalism"])
    assert "qingfeng.db" in seen
    # what is stored in the clear (the questionnaire's id) is found; nothing else is
    assert {needle for needle, _file in found} == {"formalism"}
    logs = "\n".join(module_logs.lines)
    assert "Web channel listening" in logs  # the capture did see the app's lines
    for needle in needles:
        leaks = [line for line in module_logs.lines if needle in line]
        assert leaks == [], (needle, leaks[:3])
