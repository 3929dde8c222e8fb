"""AES-GCM at rest: round trips, random nonces, key rotation, tamper and context detection."""

from __future__ import annotations

import os

import pytest

from bot.anonymity.crypto import (
    LEGACY_VERSION,
    VERSION,
    DecryptionError,
    TextCipher,
    blob_version,
    key_fingerprint,
)
from tests.anonymity.legacy import legacy_encrypt

KEY, OLD_KEY, OTHER_KEY = os.urandom(32), os.urandom(32), os.urandom(32)
TEXT = "乡镇每周要填三张内容重复的表格"


def test_round_trip_and_no_plaintext_in_the_blob() -> None:
    cipher = TextCipher(KEY)
    blob = cipher.encrypt(TEXT)
    assert cipher.decrypt(blob) == TEXT
    assert TEXT.encode() not in blob
    assert cipher.decrypt_bytes(cipher.encrypt_bytes(b"\x00\xff")) == b"\x00\xff"


def test_blob_layout_version_fingerprint_nonce() -> None:
    blob = TextCipher(KEY).encrypt("x")
    assert blob[0] == VERSION == 2
    assert blob[1:5] == key_fingerprint(KEY)
    assert len(blob) == 1 + 4 + 12 + len("x") + 16


def test_same_text_encrypts_differently_each_time() -> None:
    cipher = TextCipher(KEY)
    assert cipher.encrypt(TEXT) != cipher.encrypt(TEXT)


def test_previous_keys_decrypt_but_only_the_current_key_encrypts() -> None:
    old_blob = TextCipher(OLD_KEY).encrypt(TEXT)
    rotated = TextCipher(KEY, previous=[OLD_KEY])
    assert rotated.decrypt(old_blob) == TEXT
    assert not rotated.is_current(old_blob)
    new_blob = rotated.reencrypt(old_blob)
    assert rotated.is_current(new_blob)
    assert TextCipher(KEY).decrypt(new_blob) == TEXT
    assert rotated.reencrypt(new_blob) is new_blob


def test_unknown_key_is_an_error() -> None:
    with pytest.raises(DecryptionError, match="key"):
        TextCipher(KEY).decrypt(TextCipher(OTHER_KEY).encrypt(TEXT))


@pytest.mark.parametrize("position", [0, 1, 6, 20, -1])
def test_any_altered_byte_is_detected(position: int) -> None:
    cipher = TextCipher(KEY)
    blob = bytearray(cipher.encrypt(TEXT))
    blob[position] ^= 0x01
    with pytest.raises(DecryptionError):
        cipher.decrypt(bytes(blob))


def test_truncated_blob_is_an_error() -> None:
    cipher = TextCipher(KEY)
    with pytest.raises(DecryptionError):
        cipher.decrypt(cipher.encrypt(TEXT)[:20])


def test_context_binds_a_blob_to_where_it_belongs() -> None:
    cipher = TextCipher(KEY)
    blob = cipher.encrypt("42", context="subscribers.chat_id_enc:abc")
    assert cipher.decrypt(blob, context="subscribers.chat_id_enc:abc") == "42"
    with pytest.raises(DecryptionError):
        cipher.decrypt(blob, context="subscribers.chat_id_enc:def")
    with pytest.raises(DecryptionError):
        cipher.decrypt(blob)


def test_keys_must_be_32_bytes() -> None:
    with pytest.raises(ValueError):
        TextCipher(b"k" * 16)
    with pytest.raises(ValueError):
        TextCipher(KEY, previous=[b"k" * 31])


def test_repr_does_not_show_the_key() -> None:
    assert KEY.hex() not in repr(TextCipher(KEY))


def test_the_error_names_the_column_but_not_the_row() -> None:
    cipher = TextCipher(KEY)
    blob = cipher.encrypt("42", context="answers.text_enc:aaaa:0:story")
    with pytest.raises(DecryptionError) as caught:
        cipher.decrypt(blob, context="answers.text_enc:bbbb:0:story")
    assert caught.value.where == "answers.text_enc"
    assert str(caught.value).startswith("answers.text_enc: ")
    assert "another row" in str(caught.value)
    assert "bbbb" not in str(caught.value) and "aaaa" not in str(caught.value)


def test_legacy_version_1_blobs_still_decrypt() -> None:
    """Blobs written before contexts named the row have the same layout and version 1."""
    old = legacy_encrypt(OLD_KEY, TEXT, "answers.text_enc")
    assert blob_version(old) == LEGACY_VERSION
    cipher = TextCipher(KEY, previous=[OLD_KEY])
    assert cipher.decrypt(old, context="answers.text_enc") == TEXT
    # The version byte is authenticated: a legacy blob cannot pass as a new one, nor back.
    with pytest.raises(DecryptionError):
        cipher.decrypt(bytes([VERSION]) + old[1:], context="answers.text_enc")
    new = cipher.encrypt(TEXT, context="answers.text_enc")
    with pytest.raises(DecryptionError):
        cipher.decrypt(bytes([LEGACY_VERSION]) + new[1:], context="answers.text_enc")


def test_rebind_moves_a_blob_to_its_row_context_under_the_current_key() -> None:
    cipher = TextCipher(KEY, previous=[OLD_KEY])
    old = legacy_encrypt(OLD_KEY, TEXT, "case_notes.text_enc:abc")
    bound = cipher.rebind(
        old, old_context="case_notes.text_enc:abc", new_context="case_notes.text_enc:abc:3"
    )
    assert cipher.is_current(bound) and blob_version(bound) == VERSION
    assert TextCipher(KEY).decrypt(bound, context="case_notes.text_enc:abc:3") == TEXT
    with pytest.raises(DecryptionError):
        TextCipher(KEY).decrypt(bound, context="case_notes.text_enc:abc")
    with pytest.raises(DecryptionError):  # only a blob really bound to the old context
        cipher.rebind(
            old, old_context="case_notes.text_enc:xyz", new_context="case_notes.text_enc:xyz:0"
        )
