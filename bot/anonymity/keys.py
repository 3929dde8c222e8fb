"""The two secrets that protect respondents, and where they come from.

`pseudonym_secret` keys every HMAC pseudonym (drafts, rate limits, subscriber rows, receipt
hashes); `data_key` encrypts free text, drafts and subscriber chat ids at rest. Neither is ever
written to the database: someone holding only the database file learns neither who answered nor
what they wrote in free text. Both come from the environment (PSEUDONYM_SECRET, DATA_KEY) or,
when unset, from files generated once under DATA_DIR/secrets with owner-only permissions.

A file is generated only while the database holds nothing written with it: a missing file next
to a database full of ciphertexts and pseudonyms is a lost or misplaced backup, and a new
secret would silently make every stored text unreadable and every pseudonym unrecognisable.
`load_keys_for_database` checks that; start-up then stops with `MissingSecretError`.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from bot.config import Settings

if TYPE_CHECKING:  # storage is imported when first needed: the CLI imports this module early
    from storage.database import Database

logger = logging.getLogger(__name__)

DATA_KEY_BYTES = 32
MIN_PSEUDONYM_SECRET_BYTES = 16
SECRETS_DIR = "secrets"
PSEUDONYM_FILE = "pseudonym.key"
DATA_KEY_FILE = "data.key"
# During `python -m bot keys rotate`: the old key, still able to decrypt (see rotation.py).
DATA_KEY_PREVIOUS_FILE = "data.key.previous"


class KeyMaterialError(ValueError):
    """A secret is malformed or missing; the message names the variable or file, never the
    value."""


class MissingSecretError(KeyMaterialError):
    """A secret file is missing while the database holds data written with it."""


@dataclass(frozen=True)
class Keys:
    """The process's secrets. `previous_data_keys` still decrypt, but never encrypt."""

    pseudonym_secret: bytes
    data_key: bytes
    previous_data_keys: tuple[bytes, ...] = ()

    def __repr__(self) -> str:  # a stray log line or traceback must not print key bytes
        return f"Keys(previous_data_keys={len(self.previous_data_keys)})"


async def holds_secret_bound_data(database: Database) -> bool:
    """Whether any row of the (migrated) database was written with the current secrets.

    Those are the tables whose rows hold a ciphertext under DATA_KEY or a pseudonym under
    PSEUDONYM_SECRET (answers, follow-ups and notes hang off `submissions`, whose receipt hash
    is keyed)."""
    from sqlalchemy import select

    from storage.tables import (
        broadcasts,
        digest_outbox,
        digests,
        fsm_entries,
        rate_counters,
        submissions,
        subscribers,
    )

    bound = (
        submissions,
        subscribers,
        fsm_entries,
        rate_counters,
        broadcasts,
        digests,
        digest_outbox,
    )
    async with database.engine.connect() as connection:
        for table in bound:
            if await connection.scalar(select(1).select_from(table).limit(1)) is not None:
                return True
    return False


async def load_keys_for_database(settings: Settings, database: Database) -> Keys:
    """`load_keys`, generating a missing secret file only while the database holds nothing
    written with the secrets (a fresh install); otherwise `MissingSecretError`."""
    return load_keys(settings, create_missing=not await holds_secret_bound_data(database))


def load_keys(settings: Settings, *, create_missing: bool = True) -> Keys:
    """Read the secrets from settings, else from (or into) DATA_DIR/secrets.

    The pseudonym secret is the UTF-8 text itself, so copying the generated file's content into
    PSEUDONYM_SECRET keeps every pseudonym and receipt hash unchanged. DATA_KEY is urlsafe
    base64 of 32 bytes, in the variable and in the file alike. With `create_missing` false a
    missing file raises `MissingSecretError` and nothing is written.
    """
    secrets_dir = settings.data_dir / SECRETS_DIR
    configured_pseudonym = _configured(settings.pseudonym_secret)
    configured_key = _configured(settings.data_key)
    configured_previous = _configured(settings.data_key_previous)
    if configured_pseudonym is not None:
        pseudonym_text = configured_pseudonym
        pseudonym_source = "PSEUDONYM_SECRET"
    else:
        path = secrets_dir / PSEUDONYM_FILE
        pseudonym_text = _read_or_create(
            path, _new_pseudonym_secret, create=create_missing, variable="PSEUDONYM_SECRET"
        )
        pseudonym_source = str(path)
    pseudonym_secret = _pseudonym_secret(pseudonym_text, pseudonym_source)

    if configured_key is not None:
        data_key = decode_data_key(configured_key, "DATA_KEY")
    else:
        path = secrets_dir / DATA_KEY_FILE
        text = _read_or_create(path, generate_data_key, create=create_missing, variable="DATA_KEY")
        data_key = decode_data_key(text, str(path))

    previous: tuple[bytes, ...] = ()
    previous_path = secrets_dir / DATA_KEY_PREVIOUS_FILE
    if configured_previous is None and configured_key is None and previous_path.exists():
        _ensure_private_file(previous_path)
        text = previous_path.read_text(encoding="utf-8")
        previous = (decode_data_key(text, str(previous_path)),)
    if configured_previous is not None:
        previous = tuple(
            decode_data_key(part, "DATA_KEY_PREVIOUS")
            for part in re.split(r"[,\s]+", configured_previous)
            if part
        )
    return Keys(
        pseudonym_secret=pseudonym_secret,
        data_key=data_key,
        previous_data_keys=tuple(key for key in previous if key != data_key),
    )


def _configured(value: SecretStr | None) -> str | None:
    """The setting's text, or None when unset or blank (a `DATA_KEY=` line left in .env)."""
    if value is None or not value.get_secret_value().strip():
        return None
    return value.get_secret_value()


def _new_pseudonym_secret() -> str:
    return secrets.token_urlsafe(32)


def generate_data_key() -> str:
    """A fresh DATA_KEY value: urlsafe base64 of 32 random bytes."""
    return base64.urlsafe_b64encode(secrets.token_bytes(DATA_KEY_BYTES)).decode("ascii")


def decode_data_key(text: str, source: str) -> bytes:
    """Decode a DATA_KEY-style value; `source` names it in the error (the value never appears)."""
    cleaned = text.strip()
    padded = cleaned + "=" * (-len(cleaned) % 4)
    try:
        key = base64.b64decode(padded, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise KeyMaterialError(
            f"{source} must be urlsafe base64 of {DATA_KEY_BYTES} bytes "
            '(generate one with: python -c "import base64,os;'
            'print(base64.urlsafe_b64encode(os.urandom(32)).decode())")'
        ) from None
    if len(key) != DATA_KEY_BYTES:
        raise KeyMaterialError(f"{source} must decode to {DATA_KEY_BYTES} bytes, not {len(key)}")
    return key


def _pseudonym_secret(text: str, source: str) -> bytes:
    secret = text.strip().encode("utf-8")
    if len(secret) < MIN_PSEUDONYM_SECRET_BYTES:
        raise KeyMaterialError(
            f"{source} must be at least {MIN_PSEUDONYM_SECRET_BYTES} characters of random text"
        )
    return secret


def _read_or_create(
    path: Path, generate: Callable[[], str], *, create: bool = True, variable: str = ""
) -> str:
    """Return the file's text, creating it atomically (0600, in a 0700 dir) the first time.

    The new file is written beside the final name and hard-linked into place, so two processes
    starting together agree on one secret and a crash never leaves a half-written key behind.
    """
    if not create and not path.exists():
        raise MissingSecretError(
            f"{path} is missing, but the database holds data written with it: restore the file "
            f"from your backup (or set {variable}); no new secret was generated"
        )
    _ensure_private_dir(path.parent)
    if not path.exists():
        value = generate()
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(value + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(temporary, path)
                logger.info("Generated a new secret file %s", path.name)
            except FileExistsError:
                pass  # another process won the race; use its secret
        finally:
            temporary.unlink(missing_ok=True)
    _ensure_private_file(path)
    return path.read_text(encoding="utf-8").strip()


def ensure_data_dir(directory: Path) -> None:
    """Create DATA_DIR owner-only (0700). An existing one that others can enter is tightened
    when this process owns it and it is not a shared sticky directory such as /tmp; otherwise
    a warning says so (the database and secrets inside are owner-only either way)."""
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.chmod(0o700)  # whatever the umask
        return
    status = directory.stat()
    if not stat.S_IMODE(status.st_mode) & 0o077:
        return
    if status.st_uid == os.getuid() and not status.st_mode & stat.S_ISVTX:
        directory.chmod(0o700)
        logger.warning("Tightened permissions of DATA_DIR %s to 0700", directory.name)
    else:
        logger.warning("DATA_DIR %s can be entered by other users; make it 0700", directory.name)


def _ensure_private_dir(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(directory.stat().st_mode) & 0o077:
        directory.chmod(0o700)
        logger.warning("Tightened permissions of %s to 0700", directory.name)


def _ensure_private_file(path: Path) -> None:
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o600)
        logger.warning("Tightened permissions of %s to 0600", path.name)
