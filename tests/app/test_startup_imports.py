"""A bot serving cadres does not load what only staff reports, exports and migrations need.

ARCHITECTURE's "Memory" says matplotlib, pandas, pyreadstat, openpyxl and python-docx are
imported where they are used, and Alembic only to migrate: checked in a fresh interpreter,
where an import made by another test cannot hide one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
HEAVY = ("matplotlib", "pandas", "pyreadstat", "openpyxl", "docx", "alembic")

PROGRAM = """
import asyncio, json, sys
from pathlib import Path

async def main(data_dir):
    from pydantic import SecretStr
    from bot.app import build_services, create_dispatcher
    from bot.config import load_settings
    settings = load_settings(data_dir=Path(data_dir), bot_token=SecretStr("42:TOKEN"))
    services = await build_services(settings)  # migrates the database if it must
    create_dispatcher(services)
    await services.close()
    heavy = {json.dumps(list(HEAVY))}
    print(json.dumps([m for m in heavy if m in sys.modules]))

asyncio.run(main(sys.argv[1]))
"""


def _loaded(data_dir: Path) -> list[str]:
    """The heavy modules a fresh `python` holds once the bot is built on `data_dir`."""
    program = PROGRAM.replace("{json.dumps(list(HEAVY))}", json.dumps(list(HEAVY)))
    result = subprocess.run(
        [sys.executable, "-c", program, str(data_dir)],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return list(json.loads(result.stdout.strip().splitlines()[-1]))


def test_a_started_bot_loads_no_report_export_or_chart_library_nor_alembic_once_migrated(
    tmp_path: Path,
) -> None:
    assert _loaded(tmp_path) == ["alembic"]  # the first start migrates a fresh database
    assert _loaded(tmp_path) == []  # a restart finds it at the head
