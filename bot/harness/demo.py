"""`make demo`: the main job on a fresh machine, with no token, no network and no settings.

Starts the local Bot API emulator and the real bot on a fresh SQLite database in a temporary
folder, drives simulated cadres through the real conversation (some go back, skip, edit at
the review, cancel or resume), then prints what was stored and how long it took.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bot.harness.emulator import Limits
from bot.harness.offline import OfflineBot
from bot.harness.simulation import Behaviour, Cadre, CadreResult, behaviour_for

CONCURRENCY = 25


async def run_demo(*, keep: Path | None, cadres: int = 50, seed: int = 7) -> int:
    """Run the simulation; returns the process exit status."""
    data_dir = keep or Path(tempfile.mkdtemp(prefix="qingfeng-demo-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    print(f"清风 Qingfeng demo — data in {data_dir}")
    print("Starting the local Bot API emulator and the bot (no token, no network)…")
    offline = await OfflineBot.start(data_dir, limits=Limits())
    try:
        assert offline.services is not None
        questionnaire = offline.services.questionnaire
        rng = random.Random(seed)
        print(
            f"Questionnaire {questionnaire.id} v{questionnaire.version}: "
            f"{len(questionnaire.questions)} questions. Driving {cadres} simulated cadres…"
        )
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(index: int) -> CadreResult:
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

        results = await asyncio.gather(*(one(i) for i in range(cadres)))
        elapsed = time.perf_counter() - started
        await _report(offline, results, elapsed)
        receipts = [r.receipt for r in results if r.receipt]
        expected = sum(1 for r in results if r.behaviour is not Behaviour.CANCELLING)
        if len(receipts) != expected:
            print(
                f"FAILED: {expected} cadres should have a receipt, {len(receipts)} do",
                file=sys.stderr,
            )
            return 1
        return 0
    finally:
        day = offline.services.survey.today().isoformat() if offline.services else ""
        await offline.close()
        if keep is None:
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"\nKept {data_dir}. Try:")
            print(f"  DATA_DIR={data_dir} python -m bot digest --print --period {day}")
            print(f"  DATA_DIR={data_dir} python -m bot export --format xlsx --out export.xlsx")


async def _report(offline: OfflineBot, results: list[CadreResult], elapsed: float) -> None:
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
    print("Answers per question (choice or value: count):")
    for question in services.questionnaire.questions:
        counts = await services.submissions.answer_counts(question.id)
        label = question.label_for("zh-CN")
        if question.type == "text":
            print(f"  {question.id:<18} {label[:24]:<24} free text (scrubbed, encrypted)")
            continue
        if not counts:
            print(f"  {question.id:<18} {label[:24]:<24} —")
            continue
        if question.type in ("single", "multi"):
            shown = ", ".join(
                f"{question.choice_label(choice, 'zh-CN')}: {n}"
                for choice, n in sorted(counts.items(), key=lambda kv: -kv[1])
            )
        else:
            total = sum(counts.values())
            mean = sum(int(v) * n for v, n in counts.items()) / total
            shown = f"{total} answers, mean {mean:.1f}"
        print(f"  {question.id:<18} {label[:24]:<24} {shown}")
    calls = offline.emulator.calls
    print()
    print(
        f"Bot API calls: {len(calls.of())} "
        f"(429 Too Many Requests answered: {calls.count(status=429)})"
    )
    print(f"Time: {elapsed:.1f} s")
