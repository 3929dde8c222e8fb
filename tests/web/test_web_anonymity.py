"""The web channel's anonymity, checked the hard way.

A cadre's whole web life — a report with a phone number typed, "continue later" and the
code, a cancelled draft, a follow-up answered — with a distinctive User-Agent, a Referer and
an X-Forwarded-For on every request (the proxy header trusted, the per-address limit on, so
the address really passes through the server). Then every table is dumped, the SQLite file
and its WAL are read byte for byte, every file of the data folder too, and every log record
of every logger at DEBUG is read: none holds the User-Agent, the Referer, the addresses, a
session token, the receipt or resume code, or the phone number.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import MetaData, select

from bot.harness.offline import OfflineBot
from bot.harness.web_client import WebCadre
from storage.fsm import storage_key_pseudonym
from storage.tables import fsm_entries
from tests.web.test_web_flow import (
    PHONE,
    RESUME_CODE,
    answer_to_the_first_example,
    answer_until,
    begin,
    ops_text,
    press,
    services_of,
    session_data,
    start_web_bot,
    submission_of,
    submit,
)

USER_AGENT = "QingfengAuditUA/9.9 (Linux; Android 9)"
REFERER = "https://audit-referer.example/qun/8877"
FORWARDED = "203.0.113.77"
CLIENT = "127.0.0.1"
# The test's own HTTP client logs the URLs it calls (127.0.0.1 among them): that is the
# cadre's phone, not the server, and nothing of it reaches the server's logs.
CLIENT_SIDE_LOGGERS = ("httpx", "httpcore")


async def _start_audited(data_dir: Path) -> OfflineBot:
    """The proxy's header trusted and the per-address limit on: the address is used."""
    return await start_web_bot(
        data_dir, web_trusted_proxy_header="X-Forwarded-For", web_address_sessions_per_hour=100
    )


async def _dump_tables(bot: OfflineBot) -> dict[str, str]:
    dump: dict[str, str] = {}
    async with services_of(bot).database.engine.connect() as connection:
        meta = MetaData()
        await connection.run_sync(meta.reflect)
        for name, table in meta.tables.items():
            rows = (await connection.execute(select(table))).all()
            dump[name] = "\n".join(repr(tuple(row)) for row in rows)
    return dump


def _found_in(raw: bytes, needle: str) -> bool:
    return any(
        form in raw
        for form in (needle.encode(), needle.encode("utf-16-le"), needle.lower().encode())
    )


async def test_nothing_about_the_client_is_stored_or_logged(
    tmp_path: Path, migrated_data_dir: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    audited_bot = await _start_audited(migrated_data_dir(tmp_path / "data"))
    try:
        await _audit(audited_bot, caplog)
    finally:
        await audited_bot.close()


async def _audit(audited_bot: OfflineBot, caplog: pytest.LogCaptureFixture) -> None:
    services = services_of(audited_bot)
    headers = {"User-Agent": USER_AGENT, "Referer": REFERER, "X-Forwarded-For": FORWARDED}
    async with httpx.AsyncClient(base_url=audited_bot.web_url, headers=headers, timeout=30) as http:
        cadre = WebCadre(http)
        await begin(cadre)
        await press(cadre, "ans", "unit_type", "village_community")
        await press(cadre, "ans", "post_level", "staff")
        await answer_to_the_first_example(cadre, "5")
        await cadre.type(f"天天开会传达会议精神，电话 {PHONE}")
        assert cadre.token is not None
        token = cadre.token

        # While the draft is open its row is keyed by an HMAC of the token, never the token.
        assert audited_bot.web is not None
        sessions = audited_bot.web.channel.sessions
        row_key = storage_key_pseudonym(services.pseudonymizer, sessions.storage_key(token))
        async with services.database.engine.connect() as connection:
            keys = set((await connection.scalars(select(fsm_entries.c.key))).all())
        assert row_key in keys
        assert all(token not in key for key in keys)

        saved = await cadre.act({"type": "later"})
        resume_code = RESUME_CODE.findall(ops_text(saved))[0]
        again = WebCadre(http)
        await again.open()
        await again.act({"type": "resume", "code": resume_code})
        await press(again, "res")
        await answer_until(again)
        code = await submit(again)
        assert again.token is not None

        # After submit the core keeps nothing of the draft in the session.
        after = await session_data(audited_bot, again.token)
        assert after["c"] == {}
        assert set(after["w"]) == {"seq", "ref", "locale", "campaign"}

        quitter = WebCadre(http)
        await begin(quitter)
        await press(quitter, "ans", "unit_type", "other")
        await quitter.act({"type": "cancel"})
        await press(quitter, "cxl-y")  # yes, discard it
        assert (await session_data(audited_bot, quitter.token or ""))["c"] == {}

        stored = await submission_of(audited_bot, code)
        summary = await services.cases.cases.by_submission(stored.id)
        assert summary is not None
        today = services.clock().astimezone(services.settings.zone).date()
        await services.cases.actions.reply(1, summary, "请补充一下时间。", today)
        reader = WebCadre(http)
        await reader.open()
        await reader.act({"type": "followup", "code": ""})
        await reader.type(code)
        await press(reader, "fu-ans")
        await reader.type(f"上个月，电话 {PHONE}")
        tokens = [t for t in (cadre.token, again.token, quitter.token, reader.token) if t]

    await services.database.checkpoint()
    needles = {
        "User-Agent": USER_AGENT,
        "User-Agent product": "QingfengAuditUA",
        "Referer": REFERER,
        "Referer host": "audit-referer.example",
        "forwarded address": FORWARDED,
        "client address": CLIENT,
        "receipt code": code,
        "receipt code, compact": code.replace("-", ""),
        "resume code": resume_code,
        "resume code, compact": resume_code.replace("-", ""),
        "phone number": PHONE,
        **{f"session token {n}": t for n, t in enumerate(tokens)},
    }

    dump = await _dump_tables(audited_bot)
    assert dump["submissions"] and dump["answers"] and dump["followup_messages"]
    for table, content in dump.items():
        for what, needle in needles.items():
            assert needle not in content, f"{what} found in table {table}"

    data_dir = audited_bot.settings.data_dir
    files = [path for path in data_dir.rglob("*") if path.is_file()]
    assert any(path.name == "qingfeng.db" for path in files)
    for path in files:
        raw = path.read_bytes()
        for what, needle in needles.items():
            assert not _found_in(raw, needle), f"{what} found in {path.relative_to(data_dir)}"

    server_records = [r for r in caplog.records if not r.name.startswith(CLIENT_SIDE_LOGGERS)]
    assert any(r.name.startswith("bot.web") for r in server_records), "the log audit is vacuous"
    logs = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''} {getattr(r, 'args', '')}"
        for r in server_records
    )
    for what, needle in needles.items():
        assert needle not in logs, f"{what} found in the logs"
    assert "天天开会" not in logs and "上个月" not in logs, "answer text in the logs"
