"""Receipt codes: the reporter's only handle on a submission (as in GlobaLeaks and SecureDrop).

A code is 100 random bits written as 20 Crockford base32 characters in groups of four, for
example ``7KQ4-M2XD-9TRW-PB3H-C6NE``. Only a keyed hash of it is stored, so the database alone
can neither show a code nor test guesses against it. Reading back is forgiving: case, spaces,
dashes, full-width characters and the O/0, I/L/1 confusions do not matter.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Iterator

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
CODE_CHARS = 20
GROUP = 4
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATOR = r"[\s\-_.\u2010-\u2015\u2212\u30fc]"  # spaces, dashes of every width, _ and .
_SEPARATORS = re.compile(rf"{_SEPARATOR}+")
# A code pasted into free text: 20 code-ish characters, grouped by separators or not.
_EMBEDDED = re.compile(
    rf"(?<![0-9A-Za-z])[0-9A-Za-z]{{4}}(?:{_SEPARATOR}?[0-9A-Za-z]{{4}}){{4}}(?![0-9A-Za-z])",
    re.ASCII,
)


def new_receipt_code() -> str:
    """A fresh 100-bit code from `secrets`, grouped for reading aloud.

    Codes with fewer than two digits or two letters are drawn again (about 0.6 % of draws,
    costing under 0.01 bit): that lets `contains_receipt` tell a code from a long English word.
    """
    while True:
        chars = [ALPHABET[secrets.randbelow(len(ALPHABET))] for _ in range(CODE_CHARS)]
        digits = sum(c.isdigit() for c in chars)
        if 2 <= digits <= CODE_CHARS - 2:
            return _grouped("".join(chars))


def normalize_receipt(text: str) -> str | None:
    """The canonical grouped form of a code typed by a human, or None if it is not one."""
    compact = _SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).upper()
    compact = compact.translate(_CONFUSABLE)
    if len(compact) != CODE_CHARS or any(c not in ALPHABET for c in compact):
        return None
    return _grouped(compact)


def receipt_hash(code: str, secret: bytes) -> str:
    """HMAC-SHA256 of the normalised code under the pseudonym secret (hex); what is stored."""
    normalised = normalize_receipt(code)
    if normalised is None:
        raise ValueError("not a receipt code")
    message = b"qingfeng/receipt/v1\x00" + normalised.encode("ascii")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def contains_receipt(text: str) -> bool:
    """Whether free text holds something that reads as a receipt code (so it can be refused).

    A grouped ``XXXX-XXXX-…`` form always counts; an ungrouped run of 20 letters and digits
    counts only with at least two of each, so a long word is not mistaken for a code.
    """
    return any(True for _ in _receipt_spans(unicodedata.normalize("NFKC", text)))


def redact_receipts(text: str, placeholder: str = "[receipt]") -> str:
    """`text` (NFKC-normalised) with every receipt-like code replaced, for log lines."""
    normalised = unicodedata.normalize("NFKC", text)
    pieces: list[str] = []
    cursor = 0
    for start, end in _receipt_spans(normalised):
        pieces.append(normalised[cursor:start])
        pieces.append(placeholder)
        cursor = end
    pieces.append(normalised[cursor:])
    return "".join(pieces)


def _receipt_spans(normalised: str) -> Iterator[tuple[int, int]]:
    for match in _EMBEDDED.finditer(normalised):
        candidate = match.group()
        if normalize_receipt(candidate) is None:
            continue
        fully_grouped = len(candidate) == CODE_CHARS + CODE_CHARS // GROUP - 1
        digits = sum(c.isdigit() for c in candidate)
        if fully_grouped or 2 <= digits <= CODE_CHARS - 2:
            yield match.span()


def _grouped(compact: str) -> str:
    return "-".join(compact[i : i + GROUP] for i in range(0, CODE_CHARS, GROUP))
