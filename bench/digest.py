"""Benchmark: building a digest against the bare SQL aggregate queries it needs.

    python bench/digest.py                      # 100,000 submissions (≈ 2.7M answers), SQLite
    python bench/digest.py --submissions 2000   # a quick run (seconds)
    python bench/digest.py --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test

PostgreSQL runs too when TEST_POSTGRES_URL (or --postgres) is set; the benchmark creates a
database of its own there and drops it afterwards. SQLite uses a temporary file.

Synthetic submissions are inserted straight into the tables in big batches (executemany on
SQLite, COPY on PostgreSQL); only the free-text answers are encrypted, as the digest decrypts
them. Three quarters of the submissions fall in the benchmarked week, the rest in the week
before (for the period-on-period change). Both databases are ANALYZEd after loading.

Timed, each as the median of --repeat runs after one warm-up:
* `sql`: the aggregate queries a digest needs (`DigestQueries`: counts, cross-tab, value
  counts, example candidates), executed and fetched, nothing else;
* `build`: `build_digest` for the same week — the same queries, the disclosure rules,
  decrypting examples, rendering every format and drawing the chart.
The target is build ≤ 2 × sql at 100,000 submissions. The chart costs a fixed ~0.3 s, so small
runs have a large ratio by construction; `ratio_without_chart` shows the rest.

The last line of output is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bot.anonymity.crypto import TextCipher
from bot.config import DEFAULT_QUESTIONNAIRE
from bot.digest.aggregate import DigestLayout, DigestQueries
from bot.digest.build import build_digest
from bot.digest.chart import render_problem_chart
from bot.digest.period import Period
from bot.digest.render import chart_footnote, chart_rows, chart_title
from bot.questionnaire import Questionnaire, load_questionnaire
from storage.database import Database
from storage.repositories.submissions import answer_text_context

WEEK = Period("weekly", date(2026, 11, 23), date(2026, 11, 29))
K = 5
BATCH = 20_000  # submissions per insert batch
FREQUENCY_WEIGHTS = {"never": 10, "sometimes": 40, "often": 30, "very_often": 20}
EXAMPLE_RATE = 0.25
SUGGESTION_RATE = 0.05
SNIPPETS = [
    "文件层层转发，要求当日办结，却没有人真正落实",
    "每项工作都要拍照留痕，工作群里接龙回复收到",
    "同样的材料一个月内报了三次，格式每次都不一样",
    "会议只是念文件，传达精神，凑人数",
    "检查考核太多，忙着补材料写报告",
]


def synthetic_rows(
    questionnaire: Questionnaire, count: int, cipher: TextCipher, seed: int
) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Batches of (submission rows, answer rows) as plain tuples in table column order."""
    rng = random.Random(seed)
    layout = DigestLayout.from_questionnaire(questionnaire)
    frequencies = list(FREQUENCY_WEIGHTS)
    weights = list(FREQUENCY_WEIGHTS.values())
    units = [*questionnaire.question("unit_type").choice_ids, None]
    posts = [*questionnaire.question("post_level").choice_ids, None]
    deadlines = [*questionnaire.question("deadline_share").choice_ids, None]
    measures = list(questionnaire.question("measures").choice_ids)
    # Random ids, inserted in key order: B-tree appends load several times faster than
    # random inserts, and the days are drawn independently of the ids either way.
    ids = sorted(f"{rng.getrandbits(128):032x}" for _ in range(count))
    done = 0
    while done < count:
        heads: list[tuple[Any, ...]] = []
        rows: list[tuple[Any, ...]] = []
        for sid in ids[done : done + BATCH]:
            if rng.random() < 0.75:
                day = WEEK.first_day + timedelta(days=rng.randrange(7))
            else:
                day = WEEK.first_day - timedelta(days=1 + rng.randrange(7))
            heads.append((sid, questionnaire.id, questionnaire.version, None, day, sid * 2))

            for question_id, choices in (("unit_type", units), ("post_level", posts)):
                choice = rng.choice(choices)
                if choice is not None:
                    rows.append(_answer(sid, question_id, 0, False, choice, None, None))
            for problem in layout.problems:
                frequency = rng.choices(frequencies, weights)[0]
                rows.append(_answer(sid, problem.question_id, 0, False, frequency, None, None))
                if frequency != "never" and problem.impact_id is not None:
                    rows.append(
                        _answer(sid, problem.impact_id, 0, False, None, rng.randint(1, 5), None)
                    )
                    if problem.example_id is not None and rng.random() < EXAMPLE_RATE:
                        context = answer_text_context(sid, problem.example_id, 0)
                        blob = cipher.encrypt(rng.choice(SNIPPETS), context=context)
                        rows.append(_answer(sid, problem.example_id, 0, False, None, None, blob))
            rows.append(
                _answer(
                    sid,
                    "meetings_month",
                    0,
                    False,
                    None,
                    min(200, int(rng.expovariate(1 / 12))),
                    None,
                )
            )
            rows.append(
                _answer(
                    sid,
                    "inspections_month",
                    0,
                    False,
                    None,
                    min(100, int(rng.expovariate(1 / 4))),
                    None,
                )
            )
            deadline = rng.choice(deadlines)
            if deadline is not None:
                rows.append(_answer(sid, "deadline_share", 0, False, deadline, None, None))
            for ordinal, choice in enumerate(rng.sample(measures, rng.randint(1, 3))):
                rows.append(_answer(sid, "measures", ordinal, True, choice, None, None))
            if rng.random() < SUGGESTION_RATE:
                context = answer_text_context(sid, "suggestion", 0)
                blob = cipher.encrypt(rng.choice(SNIPPETS), context=context)
                rows.append(_answer(sid, "suggestion", 0, False, None, None, blob))
        done += len(heads)
        yield heads, rows


def _answer(
    submission_id: str,
    question_id: str,
    ordinal: int,
    multi: bool,
    choice: str | None,
    number: int | None,
    blob: bytes | None,
) -> tuple[Any, ...]:
    return (submission_id, question_id, ordinal, multi, choice, number, blob)


SUBMISSION_COLUMNS = [
    "id",
    "questionnaire_id",
    "questionnaire_version",
    "campaign_id",
    "day",
    "receipt_hash",
]
ANSWER_COLUMNS = [
    "submission_id",
    "question_id",
    "ordinal",
    "multi",
    "choice",
    "number",
    "text_enc",
]


def _insert_sql(table: str, columns: list[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


async def load(db: Database, questionnaire: Questionnaire, count: int, cipher: TextCipher) -> int:
    """Insert `count` synthetic submissions; return the number of answers."""
    answers_written = 0
    async with db.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        for heads, rows in synthetic_rows(questionnaire, count, cipher, seed=20261123):
            if db.dialect == "postgresql":
                await driver.copy_records_to_table(
                    "submissions", records=heads, columns=SUBMISSION_COLUMNS
                )
                await driver.copy_records_to_table("answers", records=rows, columns=ANSWER_COLUMNS)
            else:
                # SQLAlchemy stores a Date as 'YYYY-MM-DD' text and a Boolean as 0/1 on SQLite.
                # The driver connection is in autocommit mode: one explicit transaction per
                # batch, or every row would be its own commit.
                await driver.execute("BEGIN")
                await driver.executemany(
                    _insert_sql("submissions", SUBMISSION_COLUMNS),
                    [(*h[:4], h[4].isoformat(), h[5]) for h in heads],
                )
                await driver.executemany(
                    _insert_sql("answers", ANSWER_COLUMNS),
                    [(*r[:3], int(r[3]), *r[4:]) for r in rows],
                )
                await driver.commit()
            answers_written += len(rows)
        await connection.commit()
    async with db.engine.connect() as connection:
        await connection.execute(text("ANALYZE"))
        await connection.commit()
    return answers_written


async def bare_queries(db: Database, questionnaire: Questionnaire) -> None:
    """Just the aggregate SQL a digest of WEEK runs, fetched and thrown away."""
    layout = DigestLayout.from_questionnaire(questionnaire)
    queries = DigestQueries(layout, WEEK, campaign_id=None)
    start_ids = {qid: secrets.token_hex(16) for qid in layout.example_ids}
    async with db.engine.connect() as connection:
        for statement in (
            queries.submission_counts(),
            queries.crosstab(),
            queries.value_counts(),
            queries.example_candidates(start_ids),
        ):
            (await connection.execute(statement)).all()


async def interleaved_medians(
    first: Callable[[], Awaitable[Any]], second: Callable[[], Awaitable[Any]], repeat: int
) -> tuple[float, float]:
    """Median seconds of each action, run alternately so that a change in machine load
    (other processes, caches) affects both alike; one warm-up run of each first."""
    await first()
    await second()
    timings: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for action, bucket in ((first, timings[0]), (second, timings[1])):
            started = time.perf_counter()
            await action()
            bucket.append(time.perf_counter() - started)
    return statistics.median(timings[0]), statistics.median(timings[1])


async def run_one(url: str, label: str, count: int, repeat: int) -> dict[str, Any]:
    questionnaire = load_questionnaire(DEFAULT_QUESTIONNAIRE)
    cipher = TextCipher(secrets.token_bytes(32))
    db = await Database.connect(url)
    try:
        await db.upgrade()
        started = time.perf_counter()
        answer_count = await load(db, questionnaire, count, cipher)
        load_seconds = time.perf_counter() - started

        async def build() -> Any:
            return await build_digest(db, cipher, questionnaire, WEEK, k=K, rng=random.Random(1))

        async def sql() -> None:
            await bare_queries(db, questionnaire)

        sql_seconds, build_seconds = await interleaved_medians(sql, build, repeat)
        built = await build()
        rows = chart_rows(built.data, questionnaire)

        def chart() -> bytes:
            return render_problem_chart(
                rows, title=chart_title(built.data), footnote=chart_footnote(built.data)
            )

        chart_seconds = statistics.median(_timed(chart) for _ in range(repeat))
    finally:
        await db.dispose()
    result = {
        "database": label,
        "submissions": count,
        "answers": answer_count,
        "period_submissions": built.data.submissions,
        "load_s": round(load_seconds, 3),
        "sql_s": round(sql_seconds, 4),
        "build_s": round(build_seconds, 4),
        "chart_s": round(chart_seconds, 4),
        "ratio": round(build_seconds / sql_seconds, 3),
        "ratio_without_chart": round(max(0.0, build_seconds - chart_seconds) / sql_seconds, 3),
    }
    print(
        f"{label:>10}: {count:,} submissions, {answer_count:,} answers "
        f"(loaded in {load_seconds:.1f} s); period of {built.data.submissions or 0:,}\n"
        f"{'':>10}  bare SQL {sql_seconds * 1000:,.0f} ms, "
        f"build_digest {build_seconds * 1000:,.0f} ms "
        f"(chart {chart_seconds * 1000:,.0f} ms) → ratio {result['ratio']:.2f} "
        f"(without chart {result['ratio_without_chart']:.2f}; target ≤ 2 at 100,000)"
    )
    return result


def _timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


async def with_postgres_database(
    base_url: str, run: Callable[[str], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    """Run against a fresh PostgreSQL database, dropped afterwards whatever happens."""
    base = make_url(base_url)
    name = f"qingfeng_bench_{secrets.token_hex(6)}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            return await run(base.set(database=name).render_as_string(hide_password=False))
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--submissions", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure (median)")
    parser.add_argument("--postgres", default=os.environ.get("TEST_POSTGRES_URL") or None)
    parser.add_argument("--no-sqlite", action="store_true", help="only PostgreSQL")
    args = parser.parse_args(argv)
    if args.submissions < 1 or args.repeat < 1:
        parser.error("--submissions and --repeat must be positive")

    results: list[dict[str, Any]] = []
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory(prefix="qingfeng-bench-") as directory:
            url = f"sqlite+aiosqlite:///{directory}/bench.db"
            results.append(await run_one(url, "sqlite", args.submissions, args.repeat))
    if args.postgres:

        async def on_postgres(url: str) -> dict[str, Any]:
            return await run_one(url, "postgresql", args.submissions, args.repeat)

        results.append(await with_postgres_database(args.postgres, on_postgres))
    else:
        print("postgresql: skipped (set TEST_POSTGRES_URL or pass --postgres URL)")
    print(json.dumps({"benchmark": "digest", "target_ratio": 2.0, "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
