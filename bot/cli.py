"""`python -m bot` — the command line.

    run                          poll Telegram (or TELEGRAM_API_URL) with BOT_TOKEN
    run --webhook                take updates by webhook at WEBHOOK_URL (several instances)
    demo [--keep DIR] [--cadres N]  the whole product offline, against the local emulator
    demo --web [--port P] [--keep DIR]  the web page on the demo database, for a browser
    questionnaire validate FILE  check a questionnaire file
    questionnaire add FILE       validate and store it as a questionnaire version
    campaign poster ID --out DIR  the campaign's web link, QR code and A4 poster (PNG, PDF)
    db upgrade                   migrate the configured database
    db reorder [--no-vacuum]     PostgreSQL: rewrite the report tables in random order
    i18n compile | extract       build the gettext catalogues
    digest --print [--period D]  print a digest (default: the latest complete period)
    digest --send                build and deliver the due digests now
    export --format F --out FILE  closed weeks' submissions as xlsx, csv or sav, generalised to K
           [--include-today] [--with-text] [--campaign ID]
    report --campaign ID --out FILE [--format docx|md] [--locale zh-CN|en]
                                 the campaign's report (Word, or Markdown with PNG charts)
    retention purge [--dry-run]  run the daily purges now (reports past RETENTION_DAYS, …)
    keys rotate [--prepare-only] [--new-key K]  re-encrypt stored text under a new DATA_KEY

A wrong or missing setting ends with one line naming the variable and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from datetime import date
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
    settings = _settings_or_exit()
    if settings.bot_token is None:
        print(
            "qingfeng: configuration error: BOT_TOKEN: required to run the bot "
            "(try `make demo` to see it work without one)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    # Imported only now: aiogram takes seconds to import, a missing token should not wait.
    webhook = bool(getattr(args, "webhook", False)) or settings.webhook_url is not None
    if webhook and settings.webhook_url is None:
        print(
            "qingfeng: configuration error: WEBHOOK_URL: required with --webhook "
            "(the public https:// URL Telegram posts to)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    from bot.app import run_polling, run_webhook
    from bot.logging_setup import configure_logging

    configure_logging(settings.log_level)
    asyncio.run(run_webhook(settings) if webhook else run_polling(settings))
    return 0


def _cmd_web(args: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    from bot.app import run_web
    from bot.logging_setup import configure_logging

    configure_logging(settings.log_level)

    def ready(port: int) -> None:
        print(f"Web channel: http://{settings.web_host}:{port}/  (Ctrl-C stops it)", flush=True)

    asyncio.run(run_web(settings, ready=ready))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from bot.harness.demo import run_demo, serve_web_demo

    try:
        if args.web:
            return asyncio.run(serve_web_demo(keep=args.keep, port=args.port))
        return asyncio.run(
            run_demo(keep=args.keep, cadres=args.cadres, seed=args.seed, web_cadres=args.web_cadres)
        )
    except SettingsError as exc:
        print(f"qingfeng: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _cmd_questionnaire_add(args: argparse.Namespace) -> int:
    """Validate FILE and store it as a questionnaire version."""
    from datetime import datetime

    from bot.questionnaire_versions import add_version
    from storage.database import Database
    from storage.repositories.questionnaire_versions import (
        AddResult,
        QuestionnaireVersionRepository,
    )

    settings = _settings_or_exit()
    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{path.name}: cannot read file: {exc}", file=sys.stderr)
        return EXIT_USAGE

    async def add() -> int:
        database = await Database.connect(settings.resolved_database_url)
        try:
            await database.upgrade()
            repository = QuestionnaireVersionRepository(database)
            today = datetime.now(settings.zone).date()
            upload = await add_version(repository, text, path.name, today)
        finally:
            await database.dispose()
        if upload.result is None:
            for problem in upload.problems:
                print(problem)
            print(f"{path.name}: {len(upload.problems)} problem(s); nothing stored")
            return EXIT_USAGE
        assert upload.questionnaire is not None
        name = f"{upload.questionnaire.id!r} version {upload.questionnaire.version}"
        if upload.result == AddResult.IMMUTABLE:
            print(f"{name} already has answers and cannot change; raise `version:` in the file")
            return EXIT_USAGE
        print(f"{name}: {upload.result.value}")
        return 0

    return asyncio.run(add())


def _cmd_campaign_poster(args: argparse.Namespace) -> int:
    """Write the campaign's link, QR code and poster to DIR; drawn by `bot.campaigns.poster`
    in DEFAULT_LOCALE, the cadres' language."""
    from bot.campaigns.poster import PosterFiles, is_local_url, poster_files
    from storage.database import Database
    from storage.repositories.campaigns import CampaignRepository

    settings = _settings_or_exit()

    async def draw() -> tuple[str, PosterFiles] | None:
        database = await Database.connect(settings.resolved_database_url)
        try:
            await database.upgrade()
            campaign = await CampaignRepository(database).get(args.id)
        finally:
            await database.dispose()
        if campaign is None:
            return None
        files = await asyncio.to_thread(
            poster_files, campaign, settings.web_public_url, locale=settings.default_locale
        )
        return campaign.id, files

    drawn = asyncio.run(draw())
    if drawn is None:
        print(f"qingfeng: no campaign {args.id!r}", file=sys.stderr)
        return EXIT_USAGE
    campaign_id, files = drawn
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    contents = {
        "link.txt": (files.link + "\n").encode(),
        "qr.png": files.qr_png,
        "poster.png": files.poster_png,
        "poster.pdf": files.poster_pdf,
    }
    for suffix, content in contents.items():
        path = out / f"{campaign_id}-{suffix}"
        path.write_bytes(content)
        print(path)
    if is_local_url(settings.web_public_url):
        print(
            f"note: WEB_PUBLIC_URL ({settings.web_public_url}) is a local address; "
            "set it to the public address before handing the link out",
            file=sys.stderr,
        )
    return 0


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


def _cmd_db_reorder(args: argparse.Namespace) -> int:
    """The logic lives in `storage.reorder`."""
    from storage.database import Database
    from storage.reorder import ReorderReport, reorder_submission_tables

    settings = _settings_or_exit()

    async def reorder() -> ReorderReport:
        database = await Database.connect(settings.resolved_database_url)
        try:
            await database.upgrade()
            return await reorder_submission_tables(database, vacuum=not args.no_vacuum)
        finally:
            await database.dispose()

    report = asyncio.run(reorder())
    if not report.reordered:
        print(report.note)
        return 0
    counts = ", ".join(f"{table} {count}" for table, count in report.rows.items())
    print(f"rewrote {report.total} row(s) in random order in one transaction ({counts})")
    if report.vacuumed:
        print("VACUUM (FULL) done: the old row versions are gone from the tables' files")
    else:
        print("no VACUUM (FULL) yet: the old row versions stay as dead rows until it runs")
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


def _cmd_digest(args: argparse.Namespace) -> int:
    """Digests for investigators; the logic lives in `bot.digest.scheduler`."""
    from bot.app import build_services, create_bot
    from bot.digest.scheduler import describe_tick, digest_text
    from bot.logging_setup import configure_logging

    if args.send and args.period:
        print("qingfeng: --period goes with --print only", file=sys.stderr)
        return EXIT_USAGE
    settings = _settings_or_exit()
    if args.send and settings.bot_token is None:
        print("qingfeng: configuration error: BOT_TOKEN: required to send digests", file=sys.stderr)
        return EXIT_USAGE
    if args.send:
        configure_logging(settings.log_level)

    async def digest() -> int:
        services = await build_services(settings)
        try:
            if not args.send:
                try:
                    sys.stdout.write(await digest_text(services.digests, args.period))
                except ValueError as exc:
                    print(f"qingfeng: {exc}", file=sys.stderr)
                    return EXIT_USAGE
                return 0
            bot = create_bot(settings)
            try:
                report = await services.digests.make_scheduler(bot).tick()
            finally:
                await bot.session.close()
            print(describe_tick(report))
            return 0
        finally:
            await services.close()

    return asyncio.run(digest())


#: The actor of audit entries written by the operator's command line (staff ids are > 0).
CLI_ACTOR_ID = 0


def _export_day(text: str) -> date:
    """A --from / --to day (YYYY-MM-DD)."""
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a day (YYYY-MM-DD): {text!r}") from error


def _cmd_export(args: argparse.Namespace) -> int:
    """Submissions of the configured questionnaire to a file (see `bot.export`): closed weeks
    only unless --include-today, generalised to K rows per group, free text only with
    --with-text (which is written to the audit log before anything is read)."""
    from datetime import datetime

    from bot.app import build_services
    from bot.export import ExportOptions, ExportResult, export_submissions
    from storage.repositories import AuditRepository

    settings = _settings_or_exit()

    async def export() -> ExportResult:
        services = await build_services(settings)
        try:
            today = datetime.now(settings.zone).date()
            if args.with_text:
                await AuditRepository(services.database).record(
                    CLI_ACTOR_ID, "export.text", args.campaign or "all", today
                )
            options = ExportOptions(
                until=None if args.include_today else today,
                with_text=args.with_text,
                k=settings.k_anonymity,
                campaign_id=args.campaign,
                first_day=args.first_day,
                last_day=args.last_day,
            )
            return await export_submissions(
                services.database,
                services.cipher,
                services.questionnaire,
                args.out,
                args.format,
                options,
            )
        finally:
            await services.close()

    if args.first_day and args.last_day and args.first_day > args.last_day:
        print("export: --from is after --to", file=sys.stderr)
        return 2
    result = asyncio.run(export())
    print(f"wrote {result.rows} submission(s) to {args.out}")
    if result.codebook is not None:
        print(f"wrote the codebook to {result.codebook}")
    if args.first_day or args.last_day:
        print("covering whole weeks: from the Monday of --from to the Sunday of --to")
    if result.suppressed:
        print(
            f"left out {result.suppressed} submission(s) in groups smaller than "
            f"K_ANONYMITY={settings.k_anonymity}"
        )
    if result.pending:
        print(f"held back {result.pending} submission(s) until their month has closed")
    if result.undecryptable:
        print(f"skipped {result.undecryptable} submission(s) whose text could not be decrypted")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    """A campaign's report (see `bot.report`), from its released figures and the quotes
    staff marked; written to the audit log before anything is read."""
    from datetime import datetime

    from bot.app import build_services
    from bot.report import Report, write_docx, write_markdown
    from storage.repositories import AuditRepository

    settings = _settings_or_exit()

    def today() -> date:
        return datetime.now(settings.zone).date()

    async def report() -> tuple[str, Report] | None:
        services = await build_services(settings)
        try:
            reports = services.report_service(today)
            campaign = await reports.campaign(args.campaign)
            if campaign is None:
                return None
            await AuditRepository(services.database).record(
                CLI_ACTOR_ID, "report.view", campaign.id, today()
            )
            return campaign.id, await reports.report(campaign, locale=args.locale)
        finally:
            await services.close()

    made = asyncio.run(report())
    if made is None:
        print(f"qingfeng: no campaign {args.campaign!r}", file=sys.stderr)
        return EXIT_USAGE
    campaign_id, content = made
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.format == "md":
        written = write_markdown(content, out.stem)
        out.write_text(written.text, encoding="utf-8")
        for name, png in written.images:
            (out.parent / name).write_bytes(png)
            print(f"wrote {out.parent / name}")
    else:
        out.write_bytes(write_docx(content))
    print(f"wrote the report of campaign {campaign_id} to {out}")
    return 0


def _cmd_retention_purge(args: argparse.Namespace) -> int:
    """The daily maintenance, now: one line per kind; the steps live in `bot.maintenance`."""
    from bot.app import build_services
    from bot.maintenance import MaintenanceService

    settings = _settings_or_exit()

    async def purge() -> int:
        services = await build_services(settings)
        try:
            report = await MaintenanceService.around(services.cases.retention).run(
                dry_run=args.dry_run
            )
        finally:
            await services.close()
        for line in report.lines():
            print(line)
        return 1 if report.failed else 0

    return asyncio.run(purge())


def _cmd_keys_rotate(args: argparse.Namespace) -> int:
    """Key rotation; the logic lives in `bot.anonymity.rotation`."""
    from bot.maintenance import keys_rotate

    settings = _settings_or_exit()
    return asyncio.run(
        keys_rotate(
            settings,
            new_key=args.new_key,
            prepare_only=args.prepare_only,
            keep_previous=args.keep_previous,
            batch_size=args.batch_size,
            out=sys.stdout,
            err=sys.stderr,
        )
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Qingfeng (清风) bot")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run", help="poll the Bot API with BOT_TOKEN (and serve the web channel if WEB_PORT)"
    )
    run.add_argument(
        "--webhook",
        action="store_true",
        help="take updates by webhook at WEBHOOK_URL (served on WEB_HOST:WEB_PORT)",
    )
    run.set_defaults(func=_cmd_run)

    web = sub.add_parser("web", help="serve the web channel alone on WEB_HOST:WEB_PORT")
    web.set_defaults(func=_cmd_web)

    demo = sub.add_parser("demo", help="the whole product offline against the local emulator")
    demo.add_argument("--keep", type=Path, default=None, help="use DIR as DATA_DIR and keep it")
    demo.add_argument(
        "--cadres", type=int, default=50, help="simulated cadres in Telegram (default 50)"
    )
    demo.add_argument("--seed", type=int, default=7, help="random seed of the simulation")
    demo.add_argument(
        "--web-cadres",
        type=int,
        default=None,
        help="simulated cadres on the web page beside them (default: a fifth, at least 10)",
    )
    demo.add_argument(
        "--web",
        action="store_true",
        help="serve the web page on the demo database for a browser, until Ctrl-C",
    )
    demo.add_argument(
        "--port", type=int, default=None, help="with --web: the port (default WEB_PORT or 8080)"
    )
    demo.set_defaults(func=_cmd_demo)

    questionnaire = sub.add_parser("questionnaire", help="questionnaire files")
    qsub = questionnaire.add_subparsers(dest="action", required=True)
    validate = qsub.add_parser("validate", help="validate a questionnaire file")
    validate.add_argument("file")
    validate.set_defaults(func=_cmd_questionnaire_validate)
    add_version = qsub.add_parser("add", help="validate and store a questionnaire version")
    add_version.add_argument("file")
    add_version.set_defaults(func=_cmd_questionnaire_add)

    campaign = sub.add_parser("campaign", help="campaigns")
    csub = campaign.add_subparsers(dest="action", required=True)
    poster = csub.add_parser("poster", help="write the web link, QR code and A4 poster")
    poster.add_argument("id", help="the campaign id (see /campaign in Telegram)")
    poster.add_argument("--out", type=Path, required=True, help="folder to write the files to")
    poster.set_defaults(func=_cmd_campaign_poster)

    db = sub.add_parser("db", help="database")
    dbsub = db.add_subparsers(dest="action", required=True)
    upgrade = dbsub.add_parser("upgrade", help="migrate the configured database")
    upgrade.set_defaults(func=_cmd_db_upgrade)
    reorder = dbsub.add_parser(
        "reorder", help="PostgreSQL: rewrite the report tables in random order (new xmin, ctid)"
    )
    reorder.add_argument(
        "--no-vacuum", action="store_true", help="skip the VACUUM (FULL) after the rewrite"
    )
    reorder.set_defaults(func=_cmd_db_reorder)

    i18n = sub.add_parser("i18n", help="gettext catalogues")
    isub = i18n.add_subparsers(dest="action", required=True)
    isub.add_parser("compile", help="compile .po to .mo").set_defaults(func=_cmd_i18n_compile)
    isub.add_parser("extract", help="update .po files from the source").set_defaults(
        func=_cmd_i18n_extract
    )

    digest = sub.add_parser("digest", help="digests for investigators")
    mode = digest.add_mutually_exclusive_group(required=True)
    mode.add_argument("--print", action="store_true", help="print a digest as text")
    mode.add_argument("--send", action="store_true", help="build and deliver the due digests")
    digest.add_argument(
        "--period", default=None, help="with --print: YYYY-MM-DD or a key such as daily:2026-11-28"
    )
    digest.set_defaults(func=_cmd_digest)

    export = sub.add_parser("export", help="export all submissions for investigators")
    export.add_argument(
        "--format", choices=("xlsx", "csv", "sav"), default="xlsx", help="file format"
    )
    export.add_argument("--out", type=Path, required=True, help="file to write")
    export.add_argument("--campaign", default=None, help="only this campaign's submissions")
    export.add_argument(
        "--from",
        dest="first_day",
        type=_export_day,
        default=None,
        help="YYYY-MM-DD: from the week holding this day (still closed weeks only)",
    )
    export.add_argument(
        "--to",
        dest="last_day",
        type=_export_day,
        default=None,
        help="YYYY-MM-DD: up to the end of the week holding this day",
    )
    export.add_argument(
        "--include-today", action="store_true", help="also the week still running (default: not)"
    )
    export.add_argument(
        "--with-text", action="store_true", help="include free text (written to the audit log)"
    )
    export.set_defaults(func=_cmd_export)

    report = sub.add_parser("report", help="a campaign's report for investigators (Word)")
    report.add_argument("--campaign", required=True, help="the campaign id")
    report.add_argument("--out", type=Path, required=True, help="file to write")
    report.add_argument(
        "--format", choices=("docx", "md"), default="docx", help="Word (default) or Markdown"
    )
    report.add_argument(
        "--locale", choices=("zh-CN", "en"), default="zh-CN", help="language of the report"
    )
    report.set_defaults(func=_cmd_report)

    retention = sub.add_parser("retention", help="retention of reports (RETENTION_DAYS)")
    rsub = retention.add_subparsers(dest="action", required=True)
    purge = rsub.add_parser(
        "purge", help="run the daily purges now (reports, counters, drafts, invites, …)"
    )
    purge.add_argument("--dry-run", action="store_true", help="only count what would go")
    purge.set_defaults(func=_cmd_retention_purge)

    keys = sub.add_parser("keys", help="encryption keys")
    ksub = keys.add_subparsers(dest="action", required=True)
    rotate = ksub.add_parser("rotate", help="re-encrypt stored text under a new DATA_KEY")
    rotate.add_argument("--new-key", default=None, help="the new key (default: generate one)")
    rotate.add_argument(
        "--prepare-only", action="store_true", help="only switch the key files; re-encrypt later"
    )
    rotate.add_argument(
        "--keep-previous", action="store_true", help="keep data.key.previous at the end"
    )
    rotate.add_argument("--batch-size", type=int, default=200, help="rows per transaction")
    rotate.set_defaults(func=_cmd_keys_rotate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    from bot.anonymity.keys import KeyMaterialError

    try:
        return func(args)
    except KeyMaterialError as exc:  # a malformed or missing secret: one line, no traceback
        print(f"qingfeng: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
