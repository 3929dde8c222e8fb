"""Operator commands of issue 5: `retention purge` and `keys rotate` (see README).

Thin on purpose: the work is in `bot.cases.retention` and `bot.anonymity.rotation`; here
only the order of the steps and what the operator is told.
"""

from __future__ import annotations

from typing import TextIO

from bot.config import Settings

EXIT_USAGE = 2


async def retention_purge(settings: Settings, *, dry_run: bool, out: TextIO) -> int:
    from bot.app import build_services
    from bot.cases import build_case_runtime

    services = await build_services(settings)
    try:
        report = await build_case_runtime(services).retention.purge(dry_run=dry_run)
    finally:
        await services.close()
    verb = "would delete" if dry_run else "deleted"
    print(
        f"{verb} {report.count} report(s) with no activity since before "
        f"{report.cutoff.isoformat()} (RETENTION_DAYS={settings.retention_days})",
        file=out,
    )
    return 0


async def keys_rotate(
    settings: Settings,
    *,
    new_key: str | None,
    prepare_only: bool,
    keep_previous: bool,
    batch_size: int,
    out: TextIO,
    err: TextIO,
) -> int:
    from bot.anonymity.crypto import TextCipher
    from bot.anonymity.keys import KeyMaterialError, generate_data_key, load_keys
    from bot.anonymity.rotation import (
        finish_key_files,
        prepare_key_files,
        rotate,
        rotation_in_progress,
    )
    from storage.database import Database

    from_environment = settings.data_key is not None and bool(
        settings.data_key.get_secret_value().strip()
    )
    if from_environment:
        previous = settings.data_key_previous
        if new_key is not None or prepare_only:
            print(
                "qingfeng: DATA_KEY is set in the environment: set DATA_KEY to the new key and "
                "DATA_KEY_PREVIOUS to the old one, restart the bot, then run `keys rotate`",
                file=err,
            )
            return EXIT_USAGE
        if previous is None or not previous.get_secret_value().strip():
            print(
                "qingfeng: DATA_KEY_PREVIOUS is not set: nothing to rotate from "
                "(set DATA_KEY to the new key, DATA_KEY_PREVIOUS to the old one)",
                file=err,
            )
            return EXIT_USAGE
    else:
        load_keys(settings)  # creates data.key on a first run
        if rotation_in_progress(settings.data_dir):
            if new_key is not None:
                print(
                    "qingfeng: a rotation is in progress; run `keys rotate` without --new-key "
                    "to finish it",
                    file=err,
                )
                return EXIT_USAGE
            print("resuming the rotation in progress", file=out)
        else:
            try:
                prepare_key_files(settings.data_dir, new_key or generate_data_key())
            except KeyMaterialError as exc:
                print(f"qingfeng: {exc}", file=err)
                return EXIT_USAGE
            print("new DATA_KEY in place; the old one is kept in data.key.previous", file=out)
        if prepare_only:
            print(
                "restart the bot now (it then encrypts with the new key and still reads the "
                "old one), then run `python -m bot keys rotate` to re-encrypt",
                file=out,
            )
            return 0

    keys = load_keys(settings)
    cipher = TextCipher(keys.data_key, keys.previous_data_keys)
    database = await Database.connect(settings.resolved_database_url)
    try:
        await database.upgrade()
        report = await rotate(database, cipher, batch_size=batch_size)
    finally:
        await database.dispose()
    print(f"re-encrypted {report.total} value(s) in {report.batches} batch(es)", file=out)
    if report.remaining:
        print(
            f"qingfeng: {report.remaining} value(s) still under an old key (the bot kept "
            "writing with it? restart it with the new key); run `keys rotate` again",
            file=err,
        )
        return 1
    if from_environment:
        print("done: remove DATA_KEY_PREVIOUS from the environment and restart the bot", file=out)
    elif keep_previous:
        print("done; data.key.previous kept as asked (remove it with another run)", file=out)
    else:
        finish_key_files(settings.data_dir)
        print("done: data.key.previous removed; restart the bot at leisure", file=out)
    return 0
