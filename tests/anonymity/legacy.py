"""Blobs as the previous release wrote them (version 1), for tests of the re-binding pass."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select, update

from bot.anonymity.crypto import LEGACY_VERSION, TextCipher, key_fingerprint
from storage.database import Database


def legacy_encrypt(key: bytes, text: str, context: str) -> bytes:
    """What `TextCipher.encrypt(text, context=context)` returned before version 2."""
    header = bytes([LEGACY_VERSION]) + key_fingerprint(key)
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, text.encode("utf-8"), header + context.encode("utf-8"))
    return header + nonce + sealed


async def write_as_legacy(database: Database, cipher: TextCipher, legacy_key: bytes) -> int:
    """Rewrite every blob of answers, follow-ups and notes as the previous release stored it:
    version 1, under `legacy_key`, bound only to the column (answers) or the case. Returns how
    many blobs were rewritten."""
    from bot.anonymity.rotation import rebind_targets

    rewritten = 0
    async with database.engine.begin() as connection:
        for target in rebind_targets():
            keys = target.key_columns
            blob_column = target.table.c[target.column]
            rows = (
                await connection.execute(select(*keys, blob_column).where(blob_column.is_not(None)))
            ).all()
            for row in rows:
                text = cipher.decrypt(row._mapping[target.column], context=target.context(row))
                legacy = legacy_encrypt(legacy_key, text, target.legacy_context(row))
                where = [column == row._mapping[column.name] for column in keys]
                await connection.execute(
                    update(target.table).where(*where).values({target.column: legacy})
                )
                rewritten += 1
    return rewritten
