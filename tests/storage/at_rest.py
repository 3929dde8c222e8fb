"""What the database physically holds, for tests that look for leaked plaintext.

SQLite: the bytes of the database file and its WAL (after a checkpoint), so deleted-but-not-
overwritten pages count too. PostgreSQL: every row of every table rendered as text (bytea
appears as hex, so needles are looked for in hex as well).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, select, text
from sqlalchemy.engine import make_url

from bot.anonymity.crypto import TextCipher
from storage.database import Database
from storage.tables import metadata


async def dump_at_rest(db: Database) -> bytes:
    if db.dialect == "sqlite":
        await db.checkpoint()
        database = make_url(str(db.engine.url)).database
        assert database
        path = Path(database)
        files = [path, path.with_name(path.name + "-wal")]
        return b"".join(file.read_bytes() for file in files if file.exists())
    lines: list[str] = []
    async with db.engine.connect() as connection:
        for table in metadata.sorted_tables:
            result = await connection.execute(text(f'SELECT t::text FROM "{table.name}" t'))
            lines.extend(row[0] for row in result)
    return "\n".join(lines).encode()


async def assert_not_at_rest(db: Database, *needles: str | bytes) -> None:
    """None of `needles` is stored anywhere, in any of the forms the backend could show."""
    data = await dump_at_rest(db)
    assert data, "nothing was read back: the check would be vacuous"
    for needle in needles:
        raw = needle.encode("utf-8") if isinstance(needle, str) else needle
        assert raw not in data, f"{needle!r} is stored in plain form"
        if db.dialect == "postgresql":
            assert raw.hex().encode() not in data, f"{needle!r} is stored as bytea"


async def assert_at_rest(db: Database, needle: str | bytes) -> None:
    """The positive control: shows that `assert_not_at_rest` would see `needle` if stored."""
    data = await dump_at_rest(db)
    raw = needle.encode("utf-8") if isinstance(needle, str) else needle
    assert raw in data or raw.hex().encode() in data


@dataclass(frozen=True)
class ReadableRow:
    """One stored row as text: its columns, then each of its ciphertexts decrypted."""

    table: str
    row: Any
    texts: list[str]
    decrypted: int


async def readable_rows(db: Database, cipher: TextCipher) -> list[ReadableRow]:
    """Every row of every table in the migrated database, with every ciphertext decrypted
    under its row's own context (a blob that does not decrypt fails the caller's test)."""
    from bot.anonymity.rotation import ROTATION_TARGETS

    found: list[ReadableRow] = []
    async with db.engine.connect() as connection:
        meta = MetaData()
        await connection.run_sync(meta.reflect)
        for name, table in meta.tables.items():
            targets = [t for t in ROTATION_TARGETS if t.table.name == name]
            for row in (await connection.execute(select(table))).all():
                texts = [repr(tuple(row))]
                for target in targets:
                    blob = row._mapping[target.column]
                    if blob is not None:
                        texts.append(cipher.decrypt(blob, context=target.context(row)))
                found.append(ReadableRow(name, row, texts, len(texts) - 1))
    return found
