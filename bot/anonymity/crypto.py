"""AES-256-GCM for what is sensitive at rest: free text, drafts, subscriber chat ids.

Blob layout: ``version (1 byte) | key fingerprint (4 bytes) | nonce (12 bytes) | ciphertext+tag``.
The fingerprint says which key encrypted a blob, so DATA_KEY can be rotated: the new key
encrypts, the keys in DATA_KEY_PREVIOUS still decrypt, and `is_current` / `reencrypt` let a
job move old rows forward. The header and an optional *context* (for instance the table and
column) are authenticated, so a blob copied into another column, or with its header altered,
fails to decrypt instead of being read as something it is not.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12
FINGERPRINT_BYTES = 4
_HEADER_BYTES = 1 + FINGERPRINT_BYTES
_TAG_BYTES = 16


class DecryptionError(ValueError):
    """The blob is damaged, was encrypted under an unknown key, or belongs to another context."""


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
        if len(blob) < _HEADER_BYTES + NONCE_BYTES + _TAG_BYTES or blob[0] != VERSION:
            raise DecryptionError("not a Qingfeng ciphertext (bad length or version)")
        header = blob[:_HEADER_BYTES]
        nonce = blob[_HEADER_BYTES : _HEADER_BYTES + NONCE_BYTES]
        sealed = blob[_HEADER_BYTES + NONCE_BYTES :]
        candidates = self._by_fingerprint.get(header[1:])
        if not candidates:
            raise DecryptionError("encrypted under a key that is neither DATA_KEY nor previous")
        for aead in candidates:
            try:
                return aead.decrypt(nonce, sealed, _associated(header, context))
            except InvalidTag:
                continue
        raise DecryptionError("authentication failed (damaged blob or wrong context)")

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
            and blob[0] == VERSION
            and blob[1:_HEADER_BYTES] == self._fingerprint
        )

    def reencrypt(self, blob: bytes, *, context: str = "") -> bytes:
        """The same plaintext under the current key, for a rotation job (same blob if current)."""
        if self.is_current(blob):
            return blob
        return self.encrypt_bytes(self.decrypt_bytes(blob, context=context), context=context)


def _associated(header: bytes, context: str) -> bytes:
    return header + context.encode("utf-8")
