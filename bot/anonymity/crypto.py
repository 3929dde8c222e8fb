"""AES-256-GCM for what is sensitive at rest: free text, drafts, subscriber chat ids.

Blob layout: ``version (1 byte) | key fingerprint (4 bytes) | nonce (12 bytes) | ciphertext+tag``.
The fingerprint says which key encrypted a blob, so DATA_KEY can be rotated: the new key
encrypts, the keys in DATA_KEY_PREVIOUS still decrypt, and `is_current` / `reencrypt` let a
job move old rows forward. The header and an optional *context* (the table and column, and
the row's own key) are authenticated, so a blob copied into another column or another row,
or with its header altered, fails to decrypt instead of being read as something it is not.

Version 2 is written since every context names its row; version 1 blobs are still read (same
layout). In the columns whose context used to name only the column or the case (answers,
follow-ups, notes) a version 1 blob is a legacy one, which `bot.anonymity.rotation`
re-binds to its row once; `blob_version` lets it find them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = 2
LEGACY_VERSION = 1  # same layout; written before contexts named the row
_READABLE_VERSIONS = frozenset({LEGACY_VERSION, VERSION})
KEY_BYTES = 32
NONCE_BYTES = 12
FINGERPRINT_BYTES = 4
_HEADER_BYTES = 1 + FINGERPRINT_BYTES
_TAG_BYTES = 16


class DecryptionError(ValueError):
    """The blob is damaged, was encrypted under an unknown key, or belongs to another context.

    `where` is the context's first part (a table and column such as ``answers.text_enc``),
    never the row key after it, so the message can be logged or shown to an operator."""

    def __init__(self, reason: str, context: str = "") -> None:
        self.where = context_location(context)
        self.reason = reason
        super().__init__(f"{self.where}: {reason}" if self.where else reason)


def context_location(context: str) -> str:
    """The part of a context that says where a blob lives, without the row key."""
    return context.split(":", 1)[0]


def blob_version(blob: bytes) -> int | None:
    """The version byte of a blob, None if it is too short to be one."""
    return blob[0] if blob else None


def key_fingerprint(key: bytes) -> bytes:
    """Four bytes that name a key without revealing anything usable about it."""
    return hmac.new(key, b"qingfeng/key-fingerprint/v1", hashlib.sha256).digest()[
        :FINGERPRINT_BYTES
    ]


class TextCipher:
    """Encrypts under the current key; decrypts under the current or any previous key."""

    def __init__(self, key: bytes, previous: Sequence[bytes] = ()) -> None:
        for candidate in (key, *previous):
            if len(candidate) != KEY_BYTES:
                raise ValueError(f"data keys must be {KEY_BYTES} bytes, got {len(candidate)}")
        self._current = AESGCM(key)
        self._fingerprint = key_fingerprint(key)
        # Fingerprints are 32 bits, so two keys may share one: keep every candidate.
        self._by_fingerprint: dict[bytes, list[AESGCM]] = {}
        for candidate in (key, *previous):
            self._by_fingerprint.setdefault(key_fingerprint(candidate), []).append(
                AESGCM(candidate)
            )

    def __repr__(self) -> str:
        return f"TextCipher(fingerprint={self._fingerprint.hex()})"

    def encrypt_bytes(self, data: bytes, *, context: str = "") -> bytes:
        """Encrypt `data` with a fresh random nonce; `context` must match on decryption."""
        header = bytes([VERSION]) + self._fingerprint
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._current.encrypt(nonce, data, _associated(header, context))
        return header + nonce + sealed

    def decrypt_bytes(self, blob: bytes, *, context: str = "") -> bytes:
        """Decrypt a blob made by `encrypt_bytes` under the current or a previous key."""
        if (
            len(blob) < _HEADER_BYTES + NONCE_BYTES + _TAG_BYTES
            or blob[0] not in _READABLE_VERSIONS
        ):
            raise DecryptionError("not a Qingfeng ciphertext (bad length or version)", context)
        header = blob[:_HEADER_BYTES]
        nonce = blob[_HEADER_BYTES : _HEADER_BYTES + NONCE_BYTES]
        sealed = blob[_HEADER_BYTES + NONCE_BYTES :]
        candidates = self._by_fingerprint.get(header[1:])
        if not candidates:
            raise DecryptionError(
                "encrypted under a key that is neither DATA_KEY nor previous", context
            )
        for aead in candidates:
            try:
                return aead.decrypt(nonce, sealed, _associated(header, context))
            except InvalidTag:
                continue
        raise DecryptionError(
            "authentication failed (damaged, or copied from another row or column)", context
        )

    def encrypt(self, text: str, *, context: str = "") -> bytes:
        """Encrypt UTF-8 text."""
        return self.encrypt_bytes(text.encode("utf-8"), context=context)

    def decrypt(self, blob: bytes, *, context: str = "") -> str:
        """Decrypt to text."""
        return self.decrypt_bytes(blob, context=context).decode("utf-8")

    def is_current(self, blob: bytes) -> bool:
        """Whether the blob was encrypted under the current key (no re-encryption needed)."""
        return (
            len(blob) > _HEADER_BYTES
            and blob[0] in _READABLE_VERSIONS
            and blob[1:_HEADER_BYTES] == self._fingerprint
        )

    def reencrypt(self, blob: bytes, *, context: str = "") -> bytes:
        """The same plaintext under the current key, for a rotation job (same blob if current)."""
        if self.is_current(blob):
            return blob
        return self.encrypt_bytes(self.decrypt_bytes(blob, context=context), context=context)

    def rebind(self, blob: bytes, *, old_context: str, new_context: str) -> bytes:
        """The same plaintext, bound to `new_context` and under the current key.

        For moving a blob written under a coarser context to its row's own context; fails
        (`DecryptionError`) unless the blob really was bound to `old_context`."""
        return self.encrypt_bytes(
            self.decrypt_bytes(blob, context=old_context), context=new_context
        )


def _associated(header: bytes, context: str) -> bytes:
    return header + context.encode("utf-8")
