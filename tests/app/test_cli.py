"""The command line: clear one-line errors (exit 2), questionnaire validation, migrations."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import DEFAULT_QUESTIONNAIRE

ROOT = Path(__file__).resolve().parents[2]


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.isupper() or k in ("PATH", "HOME")}
    full_env.update(env or {})
    full_env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or ROOT,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("K_ANONYMITY", "one", "K_ANONYMITY"),
        ("K_ANONYMITY", "1", "K_ANONYMITY"),
        ("TIMEZONE", "Mars/Olympus", "TIMEZONE"),
        ("DRAFT_TTL", "soon", "DRAFT_TTL"),
        ("ADMIN_IDS", "12,abc", "ADMIN_IDS"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL"),
        ("DIGEST_WEBHOOKS", "[{", "DIGEST_WEBHOOKS"),
        ("DIGEST_SCHEDULE", "hourly", "DIGEST_SCHEDULE"),
        ("QUESTIONNAIRE", "/nope.yaml", "QUESTIONNAIRE"),
        ("EXPORT_PROTECT_CONTENT", "maybe", "EXPORT_PROTECT_CONTENT"),
    ],
)
def test_a_wrong_setting_stops_with_one_clear_line(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    result = run("db", "upgrade", env={variable: value, "DATA_DIR": str(tmp_path)}, cwd=tmp_path)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


def test_run_without_a_token_says_so(tmp_path: Path) -> None:
    result = run("run", env={"DATA_DIR": str(tmp_path)}, cwd=tmp_path)
    assert result.returncode == 2
    assert "BOT_TOKEN" in result.stderr and "Traceback" not in result.stderr


def test_validate_the_shipped_questionnaire_and_a_broken_copy(tmp_path: Path) -> None:
    ok = run("questionnaire", "validate", str(DEFAULT_QUESTIONNAIRE))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "formalism" in ok.stdout
    broken = tmp_path / "broken.yaml"
    text = DEFAULT_QUESTIONNAIRE.read_text(encoding="utf-8")
    broken.write_text(
        text.replace("relevant: examples has p3\n", "relevant: examples has p33\n", 1),
        encoding="utf-8",
    )
    assert broken.read_text(encoding="utf-8") != text
    bad = run("questionnaire", "validate", str(broken))
    assert bad.returncode == 2
    assert "p3_example" in bad.stdout + bad.stderr


def test_db_upgrade_creates_the_schema_on_sqlite(tmp_path: Path) -> None:
    result = run("db", "upgrade", env={"DATA_DIR": str(tmp_path)}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "qingfeng.db").exists()


def test_db_upgrade_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    result = run(
        "db", "upgrade", env={"DATA_DIR": str(tmp_path), "DATABASE_URL": postgres_url}, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "postgresql" in result.stdout


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (("--from", "2026-13-01"), "not a day"),
        (("--from", "2026-11-30", "--to", "2026-11-02"), "--from is after --to"),
        (("--format", "pdf"), "invalid choice"),
    ],
)
def test_a_wrong_export_range_or_format_stops_with_a_clear_line(
    tmp_path: Path, flags: tuple[str, ...], expected: str
) -> None:
    out = tmp_path / "x.csv"
    result = run("export", "--out", str(out), *flags, env={"DATA_DIR": str(tmp_path)}, cwd=tmp_path)
    assert result.returncode == 2
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()
