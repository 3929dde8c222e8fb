"""Re-encrypting stored free text under a new DATA_KEY, in small resumable batches.

Every encrypted column is listed in `ROTATION_TARGETS` with its primary key and the context
its blobs are bound to. `rotate` walks each table in primary-key order, a batch at a time,
each batch its own transaction; a row already under the current key (`TextCipher.is_current`)
is skipped, so an interrupted run simply starts again and finishes the rest. A row that the
running bot changed meanwhile is left alone (the update is conditional on the old blob) and
picked up by the next pass. New tables with encrypted columns add a `RotationTarget` here.

`rebind_legacy_contexts` moves blobs written before contexts named their row (version 1
blobs of answers, follow-ups and notes, bound only to the column or the case) to their row's
own context, under the current key. It runs at every start-up right after the migrations and
at the start of `rotate`; it selects only version 1 blobs, so once everything is re-bound it
costs one scan of those columns and changes nothing. Like `rotate`, it works
in batches (one transaction each), with updates conditional on the old blob.

Key files (when DATA_KEY is not set in the environment) are handled by `prepare_key_files`
and `finish_key_files`: the new key goes to DATA_DIR/secrets/data.key, the old one to
data.key.previous (which `load_keys` reads), and the previous file is removed at the end.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Column, ColumnElement, Table, func, select, true, tuple_, update

from bot.anonymity.crypto import LEGACY_VERSION, DecryptionError, TextCipher
from bot.anonymity.keys import DATA_KEY_FILE, DATA_KEY_PREVIOUS_FILE, SECRETS_DIR, decode_data_key
from storage.database import Database
from storage.repositories.cases import followup_context, note_context
from storage.repositories.submissions import answer_text_context
from storage.tables import metadata

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
MAX_PASSES = 5


@dataclass(frozen=True)
class RotationTarget:
    table: Table
    column: str
    context: Callable[[Any], str]  # the row (with its key columns) -> the blob's context

    @property
    def key_columns(self) -> list[Any]:
        return list(self.table.primary_key.columns)


# (table, column) -> the context its blobs are bound to (see each repository). Tables that do
# not exist (yet) are skipped; a test checks that every `*_enc` column is listed here.
CONTEXTS: dict[tuple[str, str], Callable[[Any], str]] = {
    ("answers", "text_enc"): lambda row: answer_text_context(
        row.submission_id, row.question_id, row.ordinal
    ),
    ("followup_messages", "text_enc"): lambda row: followup_context(row.submission_id, row.seq),
    ("case_notes", "text_enc"): lambda row: note_context(row.submission_id, row.seq),
    ("fsm_entries", "data_enc"): lambda row: f"fsm_entries.data_enc:{row.key}",
    ("subscribers", "chat_id_enc"): lambda row: f"subscribers.chat_id_enc:{row.chat_hash}",
    ("digests", "content_enc"): lambda row: f"digests.content_enc:{row.period_key}",
    ("digest_snapshots", "content_enc"): lambda row: (
        f"digest_snapshots.content_enc:{row.scope_key}"
    ),
    ("broadcasts", "content_enc"): lambda row: f"broadcasts.content_enc:{row.id}",
    ("broadcasts", "progress_ref_enc"): lambda row: f"broadcasts.progress_ref_enc:{row.id}",
}


def rotation_targets() -> list[RotationTarget]:
    """Every encrypted column of the schema that `CONTEXTS` knows."""
    found = []
    for (table_name, column), context in CONTEXTS.items():
        table = metadata.tables.get(table_name)
        if table is not None and column in table.c:
            found.append(RotationTarget(table, column, context))
    return found


ROTATION_TARGETS: list[RotationTarget] = rotation_targets()

# What the version 1 blobs of these columns were bound to before contexts named the row. Read
# only by `rebind_legacy_contexts`: the repositories accept nothing but the row's context.
LEGACY_CONTEXTS: dict[tuple[str, str], Callable[[Any], str]] = {
    ("answers", "text_enc"): lambda row: "answers.text_enc",
    ("followup_messages", "text_enc"): lambda row: (
        f"followup_messages.text_enc:{row.submission_id}"
    ),
    ("case_notes", "text_enc"): lambda row: f"case_notes.text_enc:{row.submission_id}",
}


@dataclass(frozen=True)
class RebindTarget:
    table: Table
    column: str
    legacy_context: Callable[[Any], str]
    context: Callable[[Any], str]

    @property
    def key_columns(self) -> list[Any]:
        return list(self.table.primary_key.columns)


def rebind_targets() -> list[RebindTarget]:
    return [
        RebindTarget(target.table, target.column, legacy, target.context)
        for target in ROTATION_TARGETS
        if (legacy := LEGACY_CONTEXTS.get((target.table.name, target.column))) is not None
    ]


@dataclass
class RebindReport:
    rebound: dict[str, int] = field(default_factory=dict)
    # Version 1 blobs that do not decrypt under their legacy context (moved to another case,
    # damaged, or under a key no longer held): left as they are, and unreadable.
    unreadable: dict[str, int] = field(default_factory=dict)
    batches: int = 0

    @property
    def total(self) -> int:
        return sum(self.rebound.values())


async def rebind_legacy_contexts(
    database: Database,
    cipher: TextCipher,
    *,
    batch_size: int = BATCH_SIZE,
    max_batches: int | None = None,
    on_batch: Callable[[str, int], None] | None = None,
) -> RebindReport:
    """Bind every legacy (version 1) blob of answers, follow-ups and notes to its own row.

    Idempotent (a re-bound blob is version 2 and no longer selected) and resumable (batches
    commit one by one). `on_batch` and `max_batches` behave as in `rotate`."""
    report = RebindReport()
    for target in rebind_targets():
        await _rebind_table(database, cipher, target, batch_size, report, max_batches, on_batch)
    if report.total:
        logger.info("re-bound %d encrypted value(s) to their rows", report.total)
    skipped = sum(report.unreadable.values())
    if skipped:
        logger.warning(
            "%d legacy encrypted value(s) could not be re-bound (%s): they stay unreadable",
            skipped,
            ", ".join(sorted(report.unreadable)),
        )
    return report


async def _rebind_table(
    database: Database,
    cipher: TextCipher,
    target: RebindTarget,
    batch_size: int,
    report: RebindReport,
    max_batches: int | None,
    on_batch: Callable[[str, int], None] | None,
) -> None:
    blob_column = target.table.c[target.column]
    name = target.table.name

    def transform(row: Any, blob: bytes) -> bytes | None:
        return cipher.rebind(
            blob, old_context=target.legacy_context(row), new_context=target.context(row)
        )

    def record(changed: int, unreadable: int) -> None:
        report.batches += 1
        report.rebound[name] = report.rebound.get(name, 0) + changed
        if unreadable:
            report.unreadable[name] = report.unreadable.get(name, 0) + unreadable

    await _rewrite_in_batches(
        database,
        target.table,
        target.key_columns,
        blob_column,
        func.substr(blob_column, 1, 1) == bytes([LEGACY_VERSION]),
        transform,
        batch_size=batch_size,
        max_batches=max_batches,
        batches_done=lambda: report.batches,
        on_batch=on_batch,
        record=record,
        skip_unreadable=True,
    )


async def _rewrite_in_batches(
    database: Database,
    table: Table,
    keys: Sequence[Column[Any]],
    blob_column: Column[Any],
    condition: ColumnElement[bool],
    transform: Callable[[Any, bytes], bytes | None],
    *,
    batch_size: int,
    max_batches: int | None,
    batches_done: Callable[[], int],
    on_batch: Callable[[str, int], None] | None,
    record: Callable[[int, int], None],
    skip_unreadable: bool,
) -> None:
    """Walk `table` in key order, one transaction per batch, replacing each blob by
    `transform(row, blob)` (None: leave it). The UPDATE matches the old blob too, so a row
    changed meanwhile is left alone and a rerun resumes where a crash stopped. With
    `skip_unreadable`, a blob that does not decrypt is counted instead of stopping the walk."""
    last: tuple[Any, ...] | None = None
    while True:
        if max_batches is not None and batches_done() >= max_batches:
            raise RotationInterrupted(f"stopped after {batches_done()} batches")
        query = select(*keys, blob_column).where(blob_column.is_not(None), condition)
        if last is not None:
            query = query.where(tuple_(*keys) > tuple_(*last))
        query = query.order_by(*keys).limit(batch_size)
        unreadable = 0
        async with database.engine.begin() as connection:
            rows = (await connection.execute(query)).all()
            if not rows:
                return
            changed = 0
            for row in rows:
                blob = row._mapping[blob_column.name]
                try:
                    fresh = transform(row, blob)
                except DecryptionError:
                    if not skip_unreadable:
                        raise
                    unreadable += 1
                    continue
                if fresh is None:
                    continue
                where = [column == row._mapping[column.name] for column in keys]
                result = await connection.execute(
                    update(table)
                    .where(*where, blob_column == blob)
                    .values({blob_column.name: fresh})
                )
                changed += int(result.rowcount or 0)
            if on_batch is not None:
                on_batch(table.name, changed)
        record(changed, unreadable)
        last = tuple(row._mapping[column.name] for column in keys)
        if len(rows) < batch_size:
            return


class RotationInterrupted(Exception):
    """`max_batches` was reached (used to stop early, and by tests to simulate a crash)."""


@dataclass
class RotationReport:
    reencrypted: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    remaining: int = 0

    @property
    def total(self) -> int:
        return sum(self.reencrypted.values())


async def count_not_current(
    database: Database, cipher: TextCipher, targets: Sequence[RotationTarget] = ()
) -> dict[str, int]:
    """How many blobs per table are not under the current key (what is left to do)."""
    left: dict[str, int] = {}
    async with database.engine.connect() as connection:
        for target in targets or ROTATION_TARGETS:
            blob_column = target.table.c[target.column]
            rows = await connection.execute(select(blob_column).where(blob_column.is_not(None)))
            left[target.table.name] = sum(1 for (blob,) in rows if not cipher.is_current(blob))
    return left


async def rotate(
    database: Database,
    cipher: TextCipher,
    *,
    batch_size: int = BATCH_SIZE,
    targets: Sequence[RotationTarget] = (),
    max_batches: int | None = None,
    on_batch: Callable[[str, int], None] | None = None,
) -> RotationReport:
    """Re-encrypt every blob not under `cipher`'s current key. Resumable; see the module.

    `on_batch(table, n)` runs inside each batch's transaction before it commits (an exception
    there rolls that batch back, as a crash would)."""
    report = RotationReport()
    chosen = list(targets or ROTATION_TARGETS)
    # Legacy blobs first: re-binding also moves them to the current key.
    rebound = await rebind_legacy_contexts(database, cipher, batch_size=batch_size)
    for table_name, count in rebound.rebound.items():
        report.reencrypted[table_name] = report.reencrypted.get(table_name, 0) + count
    for _ in range(MAX_PASSES):
        for target in chosen:
            await _rotate_table(database, cipher, target, batch_size, report, max_batches, on_batch)
        left = await count_not_current(database, cipher, chosen)
        report.remaining = sum(left.values())
        if report.remaining == 0:
            break
    return report


async def _rotate_table(
    database: Database,
    cipher: TextCipher,
    target: RotationTarget,
    batch_size: int,
    report: RotationReport,
    max_batches: int | None,
    on_batch: Callable[[str, int], None] | None,
) -> None:
    name = target.table.name

    def transform(row: Any, blob: bytes) -> bytes | None:
        if cipher.is_current(blob):
            return None
        return cipher.reencrypt(blob, context=target.context(row))

    def record(changed: int, unreadable: int) -> None:
        report.batches += 1
        report.reencrypted[name] = report.reencrypted.get(name, 0) + changed

    await _rewrite_in_batches(
        database,
        target.table,
        target.key_columns,
        target.table.c[target.column],
        true(),
        transform,
        batch_size=batch_size,
        max_batches=max_batches,
        batches_done=lambda: report.batches,
        on_batch=on_batch,
        record=record,
        skip_unreadable=False,
    )


# --- key files ----------------------------------------------------------------------------


def _write_private(path: Path, value: str) -> None:
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def rotation_in_progress(data_dir: Path) -> bool:
    return (data_dir / SECRETS_DIR / DATA_KEY_PREVIOUS_FILE).exists()


def prepare_key_files(data_dir: Path, new_key: str) -> None:
    """Start a rotation: the current data.key becomes data.key.previous, `new_key` data.key.

    The previous file is written (and synced) before data.key is replaced, so a crash in
    between leaves both keys available. Refuses when a rotation is already in progress."""
    directory = data_dir / SECRETS_DIR
    current = directory / DATA_KEY_FILE
    previous = directory / DATA_KEY_PREVIOUS_FILE
    if previous.exists():
        raise FileExistsError("a key rotation is already in progress")
    decode_data_key(new_key, "the new key")
    old = current.read_text(encoding="utf-8").strip()
    decode_data_key(old, str(current))
    _write_private(previous, old)
    _write_private(current, new_key.strip())


def finish_key_files(data_dir: Path) -> bool:
    """Remove data.key.previous (overwritten first); True if there was one."""
    previous = data_dir / SECRETS_DIR / DATA_KEY_PREVIOUS_FILE
    if not previous.exists():
        return False
    size = previous.stat().st_size
    with previous.open("r+b") as handle:
        handle.write(b"\0" * size)
        handle.flush()
        os.fsync(handle.fileno())
    previous.unlink()
    return True
