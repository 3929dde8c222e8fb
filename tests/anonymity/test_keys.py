"""Secrets: from the environment, or generated once into owner-only files and reused."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import re
import secrets
import stat
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot import cli
from bot.anonymity.keys import (
    KeyMaterialError,
    Keys,
    MissingSecretError,
    ensure_data_dir,
    generate_data_key,
    load_keys,
)
from bot.app import build_services
from bot.config import Settings
from storage.database import Database
from storage.repositories import NewSubmission
from tests.app.test_cli import run


@pytest.fixture(autouse=True)
def _no_secrets_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PSEUDONYM_SECRET", "DATA_KEY", "DATA_KEY_PREVIOUS", "DATA_DIR"):
        monkeypatch.delenv(name, raising=False)


def settings(data_dir: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, **values)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generated_secrets_are_owner_only_and_reused(tmp_path: Path) -> None:
    first = load_keys(settings(tmp_path))
    secrets_dir = tmp_path / "secrets"
    pseudonym_file = secrets_dir / "pseudonym.key"
    data_file = secrets_dir / "data.key"

    assert mode(secrets_dir) == 0o700
    assert mode(pseudonym_file) == 0o600
    assert mode(data_file) == 0o600
    assert len(first.data_key) == 32
    assert len(first.pseudonym_secret) >= 32
    contents = (pseudonym_file.read_bytes(), data_file.read_bytes())

    second = load_keys(settings(tmp_path))

    assert second == first
    assert (pseudonym_file.read_bytes(), data_file.read_bytes()) == contents
    assert sorted(p.name for p in secrets_dir.iterdir()) == ["data.key", "pseudonym.key"]


def test_two_data_dirs_get_different_secrets(tmp_path: Path) -> None:
    one = load_keys(settings(tmp_path / "one"))
    two = load_keys(settings(tmp_path / "two"))
    assert one.data_key != two.data_key
    assert one.pseudonym_secret != two.pseudonym_secret


def test_loose_permissions_are_tightened(tmp_path: Path) -> None:
    load_keys(settings(tmp_path))
    (tmp_path / "secrets").chmod(0o755)
    (tmp_path / "secrets" / "data.key").chmod(0o644)
    load_keys(settings(tmp_path))
    assert mode(tmp_path / "secrets") == 0o700
    assert mode(tmp_path / "secrets" / "data.key") == 0o600


def test_environment_wins_and_writes_no_files(tmp_path: Path) -> None:
    key = generate_data_key()
    keys = load_keys(
        settings(tmp_path, pseudonym_secret="a-long-enough-random-secret-text", data_key=key)
    )
    assert keys.pseudonym_secret == b"a-long-enough-random-secret-text"
    assert keys.data_key == base64.urlsafe_b64decode(key)
    assert not (tmp_path / "secrets").exists()


def test_file_content_copied_into_the_environment_keeps_the_same_secrets(tmp_path: Path) -> None:
    generated = load_keys(settings(tmp_path))
    moved = load_keys(
        settings(
            tmp_path / "elsewhere",
            pseudonym_secret=(tmp_path / "secrets" / "pseudonym.key").read_text(),
            data_key=(tmp_path / "secrets" / "data.key").read_text(),
        )
    )
    assert moved == generated


@pytest.mark.parametrize(
    "bad",
    [
        "not base64 at all!",
        base64.urlsafe_b64encode(b"x" * 16).decode(),  # 16 bytes: too short
        base64.urlsafe_b64encode(b"x" * 33).decode(),  # 33 bytes: too long
    ],
)
def test_malformed_data_key_is_refused_by_name(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="DATA_KEY") as raised:
        load_keys(settings(tmp_path, data_key=bad))
    assert isinstance(raised.value, KeyMaterialError)
    assert bad not in str(raised.value)


def test_blank_settings_count_as_unset(tmp_path: Path) -> None:
    """A `DATA_KEY=` line left empty in .env means "generate", not "malformed"."""
    keys = load_keys(settings(tmp_path, pseudonym_secret=" ", data_key="", data_key_previous=""))
    assert (tmp_path / "secrets" / "data.key").exists()
    assert keys == load_keys(settings(tmp_path))


def test_previous_keys_are_loaded_for_rotation(tmp_path: Path) -> None:
    current, old_one, old_two = generate_data_key(), generate_data_key(), generate_data_key()
    keys = load_keys(
        settings(tmp_path, data_key=current, data_key_previous=f"{old_one}, {old_two}")
    )
    assert keys.previous_data_keys == (
        base64.urlsafe_b64decode(old_one),
        base64.urlsafe_b64decode(old_two),
    )


def test_malformed_previous_key_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="DATA_KEY_PREVIOUS"):
        load_keys(settings(tmp_path, data_key_previous="short"))


def test_short_pseudonym_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PSEUDONYM_SECRET"):
        load_keys(settings(tmp_path, pseudonym_secret="password"))


def test_keys_never_print_their_bytes(tmp_path: Path) -> None:
    keys = load_keys(settings(tmp_path))
    shown = repr(keys) + str(keys)
    assert keys.data_key.hex() not in shown
    assert repr(keys.data_key) not in shown
    assert repr(keys.pseudonym_secret) not in shown
    assert isinstance(keys, Keys)


# --- a lost secret is never silently replaced; DATA_DIR is owner-only -----------------------


INFO_LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ INFO ")


def _seed_install(data_dir: Path) -> None:
    """A running install: secrets generated by start-up, one report stored."""

    async def seed() -> None:
        services = await build_services(settings(data_dir))
        try:
            await services.submissions.store(
                NewSubmission(
                    questionnaire_id="q",
                    questionnaire_version=1,
                    answers={"p1_example": "材料层层加码"},
                    text_question_ids=frozenset({"p1_example"}),
                    day=date(2026, 11, 2),
                    receipt_hash=secrets.token_hex(32),
                )
            )
        finally:
            await services.close()

    asyncio.run(seed())


def test_a_missing_file_is_not_generated_when_told_not_to(tmp_path: Path) -> None:
    with pytest.raises(MissingSecretError, match=re.escape("pseudonym.key is missing")) as raised:
        load_keys(settings(tmp_path), create_missing=False)
    assert isinstance(raised.value, KeyMaterialError)
    assert not (tmp_path / "secrets").exists()  # nothing written, not even the folder
    generated = load_keys(settings(tmp_path))
    assert load_keys(settings(tmp_path), create_missing=False) == generated


@pytest.mark.parametrize("lost", ["data.key", "pseudonym.key"])
async def test_start_up_stops_instead_of_replacing_a_lost_secret(tmp_path: Path, lost: str) -> None:
    data_dir = tmp_path / "data"
    await asyncio.to_thread(_seed_install, data_dir)
    kept = {p.name: p.read_bytes() for p in (data_dir / "secrets").iterdir()}
    (data_dir / "secrets" / lost).unlink()

    with pytest.raises(MissingSecretError, match=re.escape(f"{lost} is missing")):
        await build_services(settings(data_dir))

    left = {p.name: p.read_bytes() for p in (data_dir / "secrets").iterdir()}
    assert left == {name: value for name, value in kept.items() if name != lost}


async def test_a_fresh_install_with_an_empty_database_generates_the_secrets(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    configured = settings(data_dir)
    database = await Database.connect(configured.resolved_database_url)  # `db upgrade` first
    try:
        await database.upgrade()
    finally:
        await database.dispose()
    services = await build_services(configured)
    await services.close()
    assert sorted(p.name for p in (data_dir / "secrets").iterdir()) == [
        "data.key",
        "pseudonym.key",
    ]


def _seed_without_data_key(tmp_path: Path) -> tuple[Path, Path]:
    data_dir = tmp_path / "data"
    _seed_install(data_dir)
    data_key = data_dir / "secrets" / "data.key"
    data_key.unlink()
    return data_dir, data_key


def _assert_one_line_about_the_lost_key(stderr: str, data_key: Path, tmp_path: Path) -> None:
    # `run` logs its start-up at INFO (the migration check); nothing else may be said.
    lines = [
        line for line in stderr.splitlines() if line.strip() and not INFO_LOG_RECORD.match(line)
    ]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("qingfeng: ") and "data.key is missing" in lines[0]
    assert "restore" in lines[0] and "Traceback" not in stderr
    assert not data_key.exists()
    assert not (tmp_path / "out.csv").exists()


def test_run_without_its_data_key_stops_with_one_line_and_exit_2(tmp_path: Path) -> None:
    """The real process, once: what the operator sees on the terminal and the exit status."""
    data_dir, data_key = _seed_without_data_key(tmp_path)
    environment = {"DATA_DIR": str(data_dir), "BOT_TOKEN": "123456:unused-token-for-the-test"}

    result = run("run", env=environment, cwd=tmp_path)

    assert result.returncode == 2, result.stdout + result.stderr
    _assert_one_line_about_the_lost_key(result.stderr, data_key, tmp_path)


@pytest.mark.parametrize(
    "command",
    [
        ["retention", "purge", "--dry-run"],
        ["digest", "--print"],
        ["export", "--format", "csv", "--out", "out.csv"],
        ["keys", "rotate"],
    ],
    ids=lambda command: command[0],
)
def test_every_other_command_that_loads_keys_stops_with_one_line_and_exit_2(
    tmp_path: Path,
    command: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The same entry point as `python -m bot`, in this process (a subprocess costs seconds
    of imports): its exit code, its stderr, and no log record a bare process would print."""
    data_dir, data_key = _seed_without_data_key(tmp_path)
    for name in [name for name in os.environ if name.isupper() and name not in ("PATH", "HOME")]:
        monkeypatch.delenv(name)  # as `run` does for the subprocess: only what we set
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.setenv("BOT_TOKEN", "123456:unused-token-for-the-test")
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()

    with caplog.at_level(logging.WARNING):
        returncode = cli.main(command)

    captured = capsys.readouterr()
    assert returncode == 2, captured.out + captured.err
    # Python prints WARNING and above on stderr when nothing configured logging.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    _assert_one_line_about_the_lost_key(captured.err, data_key, tmp_path)


async def test_a_new_data_dir_is_owner_only(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "data"
    services = await build_services(settings(data_dir))
    await services.close()
    assert mode(data_dir) == 0o700


async def test_an_existing_loose_data_dir_of_ours_is_tightened(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    services = await build_services(settings(data_dir))
    await services.close()
    assert mode(data_dir) == 0o700


def test_a_shared_sticky_directory_is_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    ensure_data_dir(shared)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
