"""`make demo`: the main job on a fresh machine, with no token, no network and no settings.

Starts the local Bot API emulator and the real bot on a fresh SQLite database in a temporary
folder, with the web channel beside it, drives simulated cadres through the real
conversation — most in Telegram, some on the web page through its HTTP API (some go back,
skip, edit at the review, cancel, resume or reload the page) — then prints what was stored,
through which channel, what today's digest counts, and how long it took. The cadres answer
within a campaign the demo opens first; afterwards an investigator marks a few of their
written examples and suggestions as quotable, as `/cases` does, and the campaign's report is
written into the data folder (`report.docx`).

`demo --web` instead serves the web channel on a local port with the demo's database, so a
person can try the page in a browser, until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx

from bot.app import DEFAULT_WEB_PORT, run_web
from bot.campaigns import NewCampaign
from bot.campaigns.poster import qr_png
from bot.clock import utc_now
from bot.config import load_settings
from bot.harness.emulator import Limits
from bot.harness.offline import OfflineBot
from bot.harness.simulation import (
    WAIT,
    Behaviour,
    Cadre,
    CadreResult,
    Via,
    WebRespondent,
    behaviour_for,
)
from bot.harness.web_client import WebCadre
from bot.report import write_docx
from bot.report.content import SUGGESTION_QUESTION
from bot.statuses import CaseStatus
from storage.repositories.campaigns import Campaign

CONCURRENCY = 25
#: Simulated cadres tap far faster than people; the page's per-session limit (60 a minute)
#: would only make them wait.
DEMO_ACTIONS_PER_MINUTE = 600
QR_FILE = "web-demo-qr.png"
REPORT_FILE = "report.docx"
DEMO_CAMPAIGN_TITLE = "基层减负专项调研（演示）"
DEMO_CAMPAIGN_DAYS = 14
#: The audit actor of the demo's own staff steps (opening the campaign, marking quotes), like
#: the command line's: staff ids are > 0.
DEMO_ACTOR_ID = 0
#: How many written examples and suggestions the demo's investigator marks as quotable.
MARKED_EXAMPLES = 4
MARKED_SUGGESTIONS = 2
#: A text shorter than this is not worth quoting (the simulation types a few short ones).
QUOTABLE_MIN_CHARS = 8


def web_share(cadres: int) -> int:
    """How many web cadres go beside `cadres` Telegram ones: a fifth, at least ten."""
    return max(10, cadres // 5)


async def run_demo(
    *, keep: Path | None, cadres: int = 50, seed: int = 7, web_cadres: int | None = None
) -> int:
    """Run the simulation (`cadres` in Telegram, `web_cadres` on the web page, default
    `web_share(cadres)`); returns the process exit status."""
    on_web = web_share(cadres) if web_cadres is None else web_cadres
    data_dir = keep or Path(tempfile.mkdtemp(prefix="qingfeng-demo-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    print(f"清风 Qingfeng demo — data in {data_dir}")
    print(
        "Starting the local Bot API emulator, the bot and the web channel (no token, no network)…"
    )
    offline = await OfflineBot.start(
        data_dir,
        limits=Limits(),
        web=True,
        web_session_actions_per_minute=DEMO_ACTIONS_PER_MINUTE,
    )
    campaign: Campaign | None = None
    try:
        assert offline.services is not None
        questionnaire = offline.services.questionnaire
        campaign = await _open_campaign(offline)
        rng = random.Random(seed)
        print(
            f"Questionnaire {questionnaire.id} v{questionnaire.version}: "
            f"{len(questionnaire.questions)} questions. Driving {cadres} simulated cadres "
            f"in Telegram and {on_web} on the web page ({offline.web_url})…"
        )
        gate = asyncio.Semaphore(CONCURRENCY)

        async def in_telegram(index: int) -> CadreResult:
            async with gate:
                user = offline.new_user(
                    user_id=700_000_000 + index,
                    first_name=f"干部{index}",
                    username=f"cadre_{index}",
                )
                cadre = Cadre(
                    user, questionnaire, random.Random(rng.random()), behaviour_for(index)
                )
                return await cadre.run()

        page_gate = asyncio.Semaphore(CONCURRENCY)  # the page's cadres need no emulator
        async with httpx.AsyncClient(base_url=offline.web_url, timeout=WAIT) as http:

            async def on_page(index: int) -> CadreResult:
                async with page_gate:
                    respondent = WebRespondent(
                        WebCadre(http),
                        questionnaire,
                        random.Random(rng.random()),
                        behaviour_for(index),
                    )
                    return await respondent.run()

            results = list(
                await asyncio.gather(
                    *(in_telegram(i) for i in range(cadres)), *(on_page(j) for j in range(on_web))
                )
            )
        elapsed = time.perf_counter() - started
        digest_total = await _report(offline, results, elapsed)
        marked = await mark_quotes(offline)
        written = await write_campaign_report(offline, campaign, data_dir / REPORT_FILE)
        print(
            f"Campaign report: {data_dir / REPORT_FILE} ({written // 1024} KB, "
            f"{marked} texts marked quotable by the demo's investigator)"
        )
        return _check(results, digest_total)
    finally:
        day = offline.services.survey.today().isoformat() if offline.services else ""
        await offline.close()
        if keep is None:
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"\nKept {data_dir}. Try:")
            print(f"  DATA_DIR={data_dir} python -m bot digest --print --period {day}")
            print(f"  DATA_DIR={data_dir} python -m bot export --format xlsx --out export.xlsx")
            if campaign is not None:
                print(
                    f"  DATA_DIR={data_dir} python -m bot report --campaign {campaign.id} "
                    "--out report.docx"
                )
            print(f"  python -m bot demo --web --keep {data_dir}")


async def _open_campaign(offline: OfflineBot) -> Campaign:
    """The campaign the cadres answer in, created and opened as an admin would."""
    services = offline.services
    assert services is not None
    today = services.survey.today()
    new = NewCampaign(
        DEMO_CAMPAIGN_TITLE, today, today + timedelta(days=DEMO_CAMPAIGN_DAYS - 1), None
    )
    campaigns = services.campaigns.service
    campaign = await campaigns.create(DEMO_ACTOR_ID, new, services.questionnaire)
    if not await campaigns.open(DEMO_ACTOR_ID, campaign.id):
        raise RuntimeError("the demo's campaign could not be opened")
    opened = await campaigns.get(campaign.id)
    assert opened is not None
    return opened


async def mark_quotes(offline: OfflineBot) -> int:
    """Mark the first few written examples and suggestions as quotable, in the order `/cases`
    lists new reports, as an investigator would with "可引用"; returns how many."""
    services = offline.services
    assert services is not None
    runtime = services.cases
    summaries, _total = await runtime.cases.list_by_status(CaseStatus.NEW, limit=1000)
    left = {"example": MARKED_EXAMPLES, SUGGESTION_QUESTION: MARKED_SUGGESTIONS}
    marked = 0
    for summary in summaries:
        submission = await services.submissions.get(summary.submission_id)
        if submission is None:
            continue
        for question_id in sorted(submission.text_question_ids):
            kind = SUGGESTION_QUESTION if question_id == SUGGESTION_QUESTION else "example"
            text = submission.answers.get(question_id)
            if left[kind] == 0 or not isinstance(text, str) or len(text) < QUOTABLE_MIN_CHARS:
                continue
            if await runtime.actions.set_quotable(
                DEMO_ACTOR_ID, summary, question_id, True, runtime.today()
            ):
                left[kind] -= 1
                marked += 1
        if not any(left.values()):
            break
    return marked


async def write_campaign_report(offline: OfflineBot, campaign: Campaign, path: Path) -> int:
    """The campaign's report as `python -m bot report` writes it; returns its size."""
    services = offline.services
    assert services is not None
    reports = services.report_service(services.survey.today)
    content = await asyncio.to_thread(write_docx, await reports.report(campaign))
    await asyncio.to_thread(path.write_bytes, content)
    return len(content)


def _check(results: list[CadreResult], digest_total: int | None) -> int:
    """Exit status: every cadre who did not cancel has a receipt, and the digest (when it
    shows a total) counts each of them, whatever the channel."""
    receipts = [r.receipt for r in results if r.receipt]
    expected = sum(1 for r in results if r.behaviour is not Behaviour.CANCELLING)
    if len(receipts) != expected:
        print(
            f"FAILED: {expected} cadres should have a receipt, {len(receipts)} do",
            file=sys.stderr,
        )
        return 1
    if digest_total is not None and digest_total != len(receipts):
        print(
            f"FAILED: today's digest counts {digest_total} reports, "
            f"{len(receipts)} receipts were shown",
            file=sys.stderr,
        )
        return 1
    return 0


async def _report(offline: OfflineBot, results: list[CadreResult], elapsed: float) -> int | None:
    """Print what happened; returns the total today's digest shows (None below K)."""
    services = offline.services
    assert services is not None
    behaviours = Counter(r.behaviour.value for r in results)
    stored = await services.submissions.count()
    print()
    print("Simulated cadres:", ", ".join(f"{k} {v}" for k, v in sorted(behaviours.items())))
    print(f"Receipts shown:   {sum(1 for r in results if r.receipt)}")
    print(f"Cancelled:        {sum(1 for r in results if r.cancelled)}")
    print(
        f"Masked notices:   {sum(r.masked_notices for r in results)} "
        "(phone numbers etc. removed from free text)"
    )
    print(f"Submissions stored: {stored}")
    print(
        f"Announcements:    {sum(1 for r in results if r.subscribed)} cadres opted in, "
        f"{await services.subscribers.count_active()} subscriber rows stored"
    )
    print(f"Receipts deleted by the cadre after saving: {sum(r.receipt_deleted for r in results)}")
    print()
    print("Reports by channel (counted by the demo: a submission records no channel):")
    for via, name in ((Via.TELEGRAM, "Telegram"), (Via.WEB, "web page")):
        mine = [r for r in results if r.via is via]
        print(
            f"  {name:<9} {sum(1 for r in mine if r.receipt):>3} reports from {len(mine)} "
            f"cadres ({sum(1 for r in mine if r.cancelled)} cancelled)"
        )
    digests = services.digests.service
    period = digests.schedule.period_containing(services.survey.today())
    total = (await digests.build(period)).data.submissions
    if total is None:
        print(f"  Today's digest ({period.key}): fewer than K={digests.k}, no figures shown")
    else:
        print(f"  Today's digest ({period.key}) counts {total} reports, both channels alike")
    print()
    print("Answers per question (choice or value: count):")
    for answer_field in services.questionnaire.answer_fields:
        key = answer_field.key
        counts = await services.submissions.answer_counts(key)
        label = answer_field.label_for("zh-CN")
        if answer_field.type == "text":
            print(f"  {key:<18} {label[:24]:<24} free text (scrubbed, encrypted)")
            continue
        if not counts:
            print(f"  {key:<18} {label[:24]:<24} —")
            continue
        if answer_field.type in ("single", "multi"):
            shown = ", ".join(
                f"{answer_field.choice_label(choice, 'zh-CN')}: {n}"
                for choice, n in sorted(counts.items(), key=lambda kv: -kv[1])
            )
        else:
            answered = sum(counts.values())
            mean = sum(int(v) * n for v, n in counts.items()) / answered
            shown = f"{answered} answers, mean {mean:.1f}"
        print(f"  {key:<18} {label[:24]:<24} {shown}")
    calls = offline.emulator.calls
    print()
    print(
        f"Bot API calls: {len(calls.of())} "
        f"(429 Too Many Requests answered: {calls.count(status=429)})"
    )
    print(f"Time: {elapsed:.1f} s")
    return total


def _shown_host(host: str) -> str:
    """The address to print for a listening host: one that listens everywhere is reached
    from this machine as 127.0.0.1 (where the page's WebCrypto works without https)."""
    try:
        if not host or ipaddress.ip_address(host).is_unspecified:
            return "127.0.0.1"
    except ValueError:  # a host name
        return host
    return f"[{host}]" if ":" in host else host


async def serve_web_demo(
    *,
    keep: Path | None,
    port: int | None = None,
    stop: asyncio.Event | None = None,
    ready: Callable[[str], None] | None = None,
) -> int:
    """`demo --web`: the web channel on WEB_HOST, port `port` (else WEB_PORT, else 8080; 0:
    any free port), on the demo's database, until Ctrl-C or `stop`. Prints the link and
    the path of a PNG of its QR code; `ready` gets the link once it answers. Returns the
    exit status (2: the port cannot be listened on)."""
    data_dir = keep or Path(tempfile.mkdtemp(prefix="qingfeng-demo-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = load_settings(data_dir=data_dir)
    day = utc_now().astimezone(settings.zone).date().isoformat()
    shown: list[str] = []

    def listening(bound: int) -> None:
        link = f"http://{_shown_host(settings.web_host)}:{bound}/"
        qr_path = data_dir / QR_FILE
        qr_path.write_bytes(qr_png(link))
        print(f"清风 Qingfeng demo — the web page, data in {data_dir}")
        print(f"Open {link} in a browser on this machine (Ctrl-C stops it).")
        print(f"QR code of that link: {qr_path}")
        sys.stdout.flush()
        shown.append(link)
        if ready is not None:
            ready(link)

    try:
        wanted = port if port is not None else settings.web_port or DEFAULT_WEB_PORT
        try:
            await run_web(settings, stop=stop, ready=listening, port=wanted)
        except OSError as exc:  # the port is taken, or the host is not this machine's
            print(
                f"qingfeng: cannot listen on {settings.web_host}:{wanted}: {exc.strerror} "
                "(choose another with --port)",
                file=sys.stderr,
            )
            return 2
    finally:
        if keep is None:
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"\nKept {data_dir}. Try:")
            print(f"  DATA_DIR={data_dir} python -m bot digest --print --period {day}")
    return 0
