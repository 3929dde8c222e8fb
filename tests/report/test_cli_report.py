"""`python -m bot report`: Word by default, Markdown with the chart beside it, English on
request, audited under the command line's actor; an unknown campaign exits 2."""

from __future__ import annotations

import asyncio
from io import BytesIO
from pathlib import Path

import pytest
from docx import Document

from bot.app import build_services
from bot.cli import CLI_ACTOR_ID, EXIT_USAGE, main
from bot.config import load_settings
from storage.repositories import AuditRepository

from .seed import MARKED_SUGGESTION, UNMARKED, seed_campaign


@pytest.fixture
async def campaign_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    for name in ("BOT_TOKEN", "TELEGRAM_API_URL", "DATABASE_URL", "DIGEST_WEBHOOKS"):
        monkeypatch.delenv(name, raising=False)
    services = await build_services(load_settings())
    try:
        seeded = await seed_campaign(services.database, services.cipher, services.questionnaire)
    finally:
        await services.close()
    return seeded.campaign.id


async def _run(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def _audited() -> list[tuple[int, str, str]]:
    services = await build_services(load_settings())
    try:
        entries = await AuditRepository(services.database).recent()
    finally:
        await services.close()
    return [(e.actor_user_id, e.action, e.subject) for e in entries]


async def test_word_then_markdown_in_english(campaign_id: str, tmp_path: Path) -> None:
    docx_path = tmp_path / "out" / "report.docx"
    assert await _run("report", "--campaign", campaign_id, "--out", str(docx_path)) == 0
    word = Document(BytesIO(docx_path.read_bytes()))
    text = "\n".join(p.text for p in word.paragraphs)
    assert "一、调研基本情况" in text and MARKED_SUGGESTION in text and UNMARKED not in text

    md_path = tmp_path / "out" / "report.md"
    argv = ("report", "--campaign", campaign_id, "--out", str(md_path), "--format", "md")
    assert await _run(*argv, "--locale", "en") == 0
    markdown = md_path.read_text(encoding="utf-8")
    assert markdown.startswith("# Report on the anonymous survey")
    assert "(report-1.png)" in markdown
    assert (tmp_path / "out" / "report-1.png").read_bytes().startswith(b"\x89PNG")
    assert await _audited() == [
        (CLI_ACTOR_ID, "report.view", campaign_id),
        (CLI_ACTOR_ID, "report.view", campaign_id),
    ]


async def test_an_unknown_campaign(
    campaign_id: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "none.docx"
    other = "0000" if campaign_id != "0000" else "0001"
    assert await _run("report", "--campaign", other, "--out", str(out)) == EXIT_USAGE
    assert f"no campaign '{other}'" in capsys.readouterr().err
    assert not out.exists() and await _audited() == []
