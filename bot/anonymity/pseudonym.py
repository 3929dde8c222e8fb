"""HMAC-SHA256 pseudonyms: stable handles for a person that only the secret can recompute.

Drafts, rate limits and subscriber rows need "the same person as before" without storing who
that person is. An HMAC under a secret kept outside the database gives exactly that: with the
database alone, a pseudonym cannot be turned back into (or checked against) a Telegram id.
`daily` pseudonyms also change every day, so rate-limit rows from different days cannot be
linked to each other even by someone who watches the table over time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict
from datetime import date

_DOMAIN = b"qingfeng/pseudonym/v1"


_Memo = tuple[str, tuple[tuple[type, object], ...]]


class Pseudonymizer:
    """Turns (purpose, parts…) into a hex HMAC; distinct purposes never collide.

    The last `memo_size` results are remembered: one update asks for the same chat's
    pseudonym several times (the FSM row, the conversation key). The memory holds nothing
    the secret beside it could not recompute."""

    def __init__(self, secret: bytes, *, memo_size: int = 4096) -> None:
        if len(secret) < 16:
            raise ValueError("the pseudonym secret must be at least 16 bytes")
        self._secret = secret
        self._memo: OrderedDict[_Memo, str] = OrderedDict()
        self._memo_size = memo_size

    def __repr__(self) -> str:
        return "Pseudonymizer(<secret>)"

    def of(self, purpose: str, *parts: object) -> str:
        """The pseudonym of `parts` for `purpose` (64 hex characters)."""
        # Typed: 1 and True are equal in Python but must not share a pseudonym.
        memo = (purpose, tuple((type(part), part) for part in parts))
        try:
            found = self._memo.get(memo)
        except TypeError:  # an unhashable part: `_encode` refuses it below
            found = None
        if found is not None:
            self._memo.move_to_end(memo)
            return found
        message = bytearray(_DOMAIN)
        for field in (purpose, *parts):
            encoded = _encode(field)
            message += len(encoded).to_bytes(4, "big") + encoded
        pseudonym = hmac.new(self._secret, bytes(message), hashlib.sha256).hexdigest()
        if self._memo_size > 0:
            self._memo[memo] = pseudonym
            if len(self._memo) > self._memo_size:
                self._memo.popitem(last=False)
        return pseudonym

    def daily(self, purpose: str, day: date, *parts: object) -> str:
        """Like `of`, but a different, unlinkable pseudonym on each calendar day."""
        return self.of(f"{purpose}@daily", day, *parts)


def _encode(value: object) -> bytes:
    """A typed, unambiguous encoding: `1`, `"1"` and `True` give different pseudonyms.

    Only plain values are accepted: an arbitrary object's `str` might include a memory
    address, which would make the pseudonym change from one run to the next.
    """
    if value is None:
        return b"n"
    if isinstance(value, bool):
        return b"b1" if value else b"b0"
    if isinstance(value, int):
        return b"i" + str(value).encode("ascii")
    if isinstance(value, str):
        return b"s" + value.encode("utf-8")
    if isinstance(value, bytes):
        return b"x" + value
    if isinstance(value, date):
        return b"d" + value.isoformat().encode("ascii")
    raise TypeError(f"cannot make a pseudonym from a {type(value).__name__}")
