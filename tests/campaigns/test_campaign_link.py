"""Getting a campaign's link to cadres, end to end: `/campaign link ID` gives an admin the
link, the QR code and the A4 poster; anyone else is refused and gets no file; the drafted
announcement and reminder carry the link on a line of its own. The CLI writes the same four
files to a folder."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.campaigns.poster import poster_files, qr_png
from bot.cli import EXIT_USAGE, main
from bot.config import load_settings
from bot.harness.emulator import EmulatedUser
from bot.harness.offline import OfflineBot
from storage.database import Database
from storage.repositories.campaigns import CampaignRepository
from tests.e2e.conftest import StartOffline
from tests.e2e.driver import WAIT

# Scheduled digests stay off: they would land in the admin's chat mid-test.
pytestmark = pytest.mark.usefixtures("manual_digests")

ADMIN = 5_580_101
PUBLIC = "https://qingfeng.example.org"
#: Drawing the poster takes a fraction of a second; a loaded machine may take many.
DRAWN = 60.0


async def _command(user: EmulatedUser, args: str) -> str:
    sent = await user.send_command("/campaign", args)
    reply = await user.wait_for_message(after=sent, timeout=WAIT)
    return reply.text or ""


async def _new_campaign(offline: OfflineBot, title: str) -> tuple[EmulatedUser, str]:
    admin = offline.emulator.user(user_id=ADMIN, language_code="en")
    today = date.today()
    span = f"{(today - timedelta(days=1)).isoformat()} | {(today + timedelta(days=5)).isoformat()}"
    assert "Campaign created" in await _command(admin, f"new {title} | {span}")
    campaign_id = (await _command(admin, "list")).split("\n")[1].split()[0]
    return admin, campaign_id


async def test_an_admin_gets_the_link_the_qr_code_and_the_poster(
    start_offline: StartOffline,
) -> None:
    offline = await start_offline(admin_ids=[ADMIN], web_public_url=PUBLIC)
    admin, campaign_id = await _new_campaign(offline, "第三轮 <减负>")
    link = f"{PUBLIC}/c/{campaign_id}"

    sent = await admin.send_command("/campaign", f"link {campaign_id}")
    text = await admin.wait_for_message(link, after=sent, timeout=DRAWN)
    assert "第三轮 <减负>" in (text.text or "")  # escaped on the way, shown as typed
    assert "local address" not in (text.text or "")
    photo = await admin.wait_for_message(
        where=lambda m: m.kind == "photo", after=text, timeout=DRAWN
    )
    pdf = await admin.wait_for_message(
        where=lambda m: m.kind == "document", after=photo, timeout=DRAWN
    )
    png = await admin.wait_for_message(
        where=lambda m: m.kind == "document", after=pdf, timeout=DRAWN
    )
    assert text.message_id < photo.message_id < pdf.message_id < png.message_id

    assert admin.download(photo) == qr_png(link)
    assert (
        pdf.file_name == f"{campaign_id}-poster.pdf"
        and png.file_name == f"{campaign_id}-poster.png"
    )
    assert admin.download(pdf).startswith(b"%PDF-")
    assert f"/URI ({link})".encode() in admin.download(pdf)
    assert admin.download(png).startswith(b"\x89PNG\r\n\x1a\n")
    assert offline.services is not None
    campaign = await offline.services.campaigns.service.get(campaign_id)
    assert campaign is not None
    assert admin.download(png) == poster_files(campaign, PUBLIC).poster_png  # zh-CN, the default

    unknown = await _command(admin, "link 00000000")
    assert "No campaign 00000000" in unknown and "/campaign" in unknown


async def test_a_local_public_url_comes_with_a_warning(start_offline: StartOffline) -> None:
    offline = await start_offline(admin_ids=[ADMIN])  # WEB_PUBLIC_URL left at its default
    admin, campaign_id = await _new_campaign(offline, "第一轮")
    sent = await admin.send_command("/campaign", f"link {campaign_id}")
    text = await admin.wait_for_message(f"/c/{campaign_id}", after=sent, timeout=DRAWN)
    assert "WEB_PUBLIC_URL is a local address" in (text.text or "")


async def test_anyone_else_is_refused_and_gets_no_file(start_offline: StartOffline) -> None:
    offline = await start_offline(admin_ids=[ADMIN], web_public_url=PUBLIC)
    _admin, campaign_id = await _new_campaign(offline, "第一轮")
    intruder = offline.new_user(language_code="en")
    reply = await _command(intruder, f"link {campaign_id}")
    assert "Only administrators" in reply
    assert campaign_id not in reply and PUBLIC not in reply
    # A later message proves the refusal was the whole answer: no photo or file came first.
    await _command(intruder, "list")
    assert {m.kind for m in intruder.bot_messages} == {"text"}
    assert not any(PUBLIC in (m.text or "") for m in intruder.bot_messages)


async def test_announcement_and_reminder_drafts_carry_the_link(
    start_offline: StartOffline,
) -> None:
    offline = await start_offline(admin_ids=[ADMIN], web_public_url=PUBLIC)
    admin, campaign_id = await _new_campaign(offline, "第二轮")
    link = f"{PUBLIC}/c/{campaign_id}"
    opened = await _command(admin, f"open {campaign_id}")
    assert f"/campaign link {campaign_id}" in opened

    for verb in ("announce", "remind"):
        sent = await admin.send_command("/campaign", f"{verb} {campaign_id}")
        preview = await admin.wait_for_message("第二轮", after=sent, timeout=WAIT)
        lines = (preview.text or "").split("\n")
        assert f"填写链接（微信里也能打开）：{link}" in lines, verb


# --- the command line -------------------------------------------------------------------


@pytest.fixture
def cli_campaign(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    migrated_data_dir: Callable[[Path], Path],
) -> str:
    """A campaign in the CLI's DATA_DIR (a migrated SQLite copy); returns its id."""
    monkeypatch.chdir(tmp_path)
    data_dir = migrated_data_dir(tmp_path / "data")
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.setenv("WEB_PUBLIC_URL", PUBLIC + "/")
    for name in ("BOT_TOKEN", "TELEGRAM_API_URL", "DATABASE_URL", "DEFAULT_LOCALE"):
        monkeypatch.delenv(name, raising=False)

    async def create() -> str:
        database = await Database.connect(load_settings().resolved_database_url)
        try:
            campaign = await CampaignRepository(database).create(
                "第一轮", "formalism", 1, date(2026, 10, 1), date(2026, 12, 31)
            )
        finally:
            await database.dispose()
        return campaign.id

    return asyncio.run(create())


def test_the_cli_writes_the_four_files_and_prints_their_paths(
    cli_campaign: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "poster"
    assert main(["campaign", "poster", cli_campaign, "--out", str(out)]) == 0
    printed = capsys.readouterr()
    names = [
        f"{cli_campaign}-{suffix}" for suffix in ("link.txt", "qr.png", "poster.png", "poster.pdf")
    ]
    assert printed.out.split() == [str(out / name) for name in names]
    assert "local address" not in printed.err
    link = f"{PUBLIC}/c/{cli_campaign}"  # the trailing slash of WEB_PUBLIC_URL is dropped
    assert (out / names[0]).read_text(encoding="utf-8") == link + "\n"
    assert (out / names[1]).read_bytes() == qr_png(link)
    assert (out / names[2]).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert (out / names[3]).read_bytes().startswith(b"%PDF-")
    assert sorted(path.name for path in out.iterdir()) == sorted(names)


def test_the_cli_refuses_an_unknown_campaign_and_writes_nothing(
    cli_campaign: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "poster"
    assert main(["campaign", "poster", "00000000", "--out", str(out)]) == EXIT_USAGE
    assert "no campaign '00000000'" in capsys.readouterr().err
    assert not out.exists()
