"""Proof of work when a web session starts: ALTCHA challenges, signed and checked here.

No third-party CAPTCHA can be reached from mainland China, and none may learn who visits.
The page finds the number whose SHA-256 with the salt gives the challenge (about a second
on a cheap phone at the default difficulty); a solved challenge is taken once, before it
expires, and the set of taken ones lives in memory until they would have expired anyway.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast

from altcha.v1 import (
    ChallengeOptions,
    PayloadType,
    create_challenge,
    solve_challenge,
    verify_solution,
)

CHALLENGE_LIFETIME = timedelta(minutes=10)
ALGORITHM: Final = "SHA-256"
_FIELDS = ("algorithm", "challenge", "number", "salt", "signature")


class ProofOfWork:
    """Issues and checks challenges under a key of this process (a restart only asks the
    pages that were solving at that moment to solve again)."""

    def __init__(
        self,
        max_number: int,
        *,
        key: bytes | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.max_number = max_number
        self._key = key or secrets.token_bytes(32)
        self._now = now
        self._taken: dict[str, float] = {}  # challenge -> when it would expire

    def challenge(self) -> dict[str, Any]:
        expires = datetime.fromtimestamp(self._now(), UTC) + CHALLENGE_LIFETIME
        options = ChallengeOptions(
            algorithm=ALGORITHM,
            max_number=self.max_number,
            hmac_key=self._key,
            expires=expires,
        )
        issued = create_challenge(options)
        return dict(issued.to_dict())

    def accept(self, payload: object) -> bool:
        """Whether `payload` solves a challenge of ours that has not expired nor been used;
        a solved one is used up."""
        if not isinstance(payload, Mapping) or any(f not in payload for f in _FIELDS):
            return False
        fields = {name: payload[name] for name in _FIELDS}
        if not all(isinstance(fields[name], str) for name in _FIELDS if name != "number"):
            return False
        if not isinstance(fields["number"], int) or isinstance(fields["number"], bool):
            return False
        if fields["algorithm"] != ALGORITHM or not 0 <= fields["number"] <= self.max_number:
            return False
        expires = _expiry(fields["salt"])
        now = self._now()
        if expires is None or expires < now:
            return False
        self._forget_expired(now)
        if fields["challenge"] in self._taken:
            return False
        checked = cast(PayloadType, fields)
        valid, _error = verify_solution(checked, self._key, check_expires=False)
        if not valid:
            return False
        self._taken[fields["challenge"]] = expires
        return True

    def _forget_expired(self, now: float) -> None:
        for challenge in [c for c, expires in self._taken.items() if expires < now]:
            del self._taken[challenge]


def _expiry(salt: str) -> float | None:
    """The expiry the salt carries (`…?expires=UNIX&`), which its signature covers."""
    _head, _sep, query = salt.partition("?")
    for part in query.split("&"):
        name, _eq, value = part.partition("=")
        if name == "expires" and value.isdigit():
            return float(value)
    return None


def solve(challenge: Mapping[str, Any]) -> dict[str, Any]:
    """What the page does, for tests, the demo and the benchmark."""
    solution = solve_challenge(
        str(challenge["challenge"]),
        str(challenge["salt"]),
        "SHA-256",
        int(challenge["maxNumber"]),
    )
    if solution is None:
        raise ValueError("unsolvable challenge")
    return {
        "algorithm": challenge["algorithm"],
        "challenge": challenge["challenge"],
        "number": solution.number,
        "salt": challenge["salt"],
        "signature": challenge["signature"],
    }
