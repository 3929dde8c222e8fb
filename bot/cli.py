"""`python -m bot` — the command line.

    run                          poll Telegram (or TELEGRAM_API_URL) with BOT_TOKEN
    demo [--keep DIR] [--cadres N]  the whole product offline, against the local emulator
    questionnaire validate FILE  check a questionnaire file
    db upgrade                   migrate the configured database
    i18n compile | extract       build the gettext catalogues

A wrong or missing setting ends with one line naming the variable and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.config import Settings, SettingsError, load_settings

EXIT_USAGE = 2


def _settings_or_exit(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        print(f"qingfeng: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None


def _cmd_run(args: argparse.Namespace) -> int:
    from bot.app import run_polling
    from bot.logging_setup import configure_logging

    settings = _settings_or_exit()
    if settings.bot_token is None:
        print(
            "qingfeng: configuration error: BOT_TOKEN: required to run the bot "
            "(try `make demo` to see it work without one)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    configure_logging(settings.log_level)
    asyncio.run(run_polling(settings))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    return asyncio.run(run_demo(keep=args.keep, cadres=args.cadres, seed=args.seed))


def _cmd_questionnaire_validate(args: argparse.Namespace) -> int:
    from bot.questionnaire import validate_command

    return validate_command(Path(args.file), sys.stdout)


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from storage.database import Database

    settings = _settings_or_exit()

    async def upgrade() -> None:
        database = await Database.connect(settings.resolved_database_url)
        try:
            await database.upgrade()
        finally:
            await database.dispose()

    asyncio.run(upgrade())
    print(f"database is at the latest schema ({settings.resolved_database_url.split(':')[0]})")
    return 0


def _cmd_i18n_compile(args: argparse.Namespace) -> int:
    from bot.i18n import compile_catalogues

    written = compile_catalogues(force=True)
    print(f"compiled {len(written)} catalogue(s)")
    return 0


def _cmd_i18n_extract(args: argparse.Namespace) -> int:
    from bot.i18n.catalogue import update_catalogues

    report = update_catalogues()
    print(report)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Qingfeng (清风) bot")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="poll the Bot API with BOT_TOKEN")
    run.set_defaults(func=_cmd_run)

    demo = sub.add_parser("demo", help="the whole product offline against the local emulator")
    demo.add_argument("--keep", type=Path, default=None, help="use DIR as DATA_DIR and keep it")
    demo.add_argument("--cadres", type=int, default=50, help="simulated cadres (default 50)")
    demo.add_argument("--seed", type=int, default=7, help="random seed of the simulation")
    demo.set_defaults(func=_cmd_demo)

    questionnaire = sub.add_parser("questionnaire", help="questionnaire files")
    qsub = questionnaire.add_subparsers(dest="action", required=True)
    validate = qsub.add_parser("validate", help="validate a questionnaire file")
    validate.add_argument("file")
    validate.set_defaults(func=_cmd_questionnaire_validate)

    db = sub.add_parser("db", help="database")
    dbsub = db.add_subparsers(dest="action", required=True)
    upgrade = dbsub.add_parser("upgrade", help="migrate the configured database")
    upgrade.set_defaults(func=_cmd_db_upgrade)

    i18n = sub.add_parser("i18n", help="gettext catalogues")
    isub = i18n.add_subparsers(dest="action", required=True)
    isub.add_parser("compile", help="compile .po to .mo").set_defaults(func=_cmd_i18n_compile)
    isub.add_parser("extract", help="update .po files from the source").set_defaults(
        func=_cmd_i18n_extract
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except KeyboardInterrupt:
        return 130
