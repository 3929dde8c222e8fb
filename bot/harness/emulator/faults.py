"""Injected failures: slow, failing, vanishing or throttled responses for the next N calls."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class FaultKind(Enum):
    DELAY = "delay"
    SERVER_ERROR = "server_error"
    DROP_CONNECTION = "drop_connection"
    TOO_MANY_REQUESTS = "too_many_requests"


@dataclass(slots=True)
class Fault:
    """One armed fault. ``method`` is None for any method; ``remaining`` counts down per hit."""

    kind: FaultKind
    method: str | None
    remaining: int
    delay: float = 0.0
    status: int = 502
    retry_after: int = 1
    after_processing: bool = False

    def matches(self, method: str) -> bool:
        return self.remaining > 0 and (self.method is None or self.method == method.lower())


class FaultInjector:
    """Arms faults; the server consumes the first matching one on every request.

    A faulted request is not executed (except a drop with ``after_processing=True``, which runs
    the method and then loses the response: the "did my message go out?" case) and a delay
    postpones a request that then runs normally.
    """

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def _arm(self, fault: Fault) -> Fault:
        if fault.remaining < 1:
            raise ValueError("times must be at least 1")
        self._faults.append(fault)
        return fault

    def delay(self, seconds: float, *, method: str | None = None, times: int = 1) -> Fault:
        """Answer the next ``times`` calls ``seconds`` late (real time, for client timeouts)."""
        return self._arm(Fault(FaultKind.DELAY, _key(method), times, delay=seconds))

    def server_error(
        self, status: int = 502, *, method: str | None = None, times: int = 1
    ) -> Fault:
        """Respond 5xx (``502 Bad Gateway``, ``500 Internal Server Error``...) without running."""
        if not 500 <= status <= 599:
            raise ValueError("server errors are 5xx")
        return self._arm(Fault(FaultKind.SERVER_ERROR, _key(method), times, status=status))

    def drop_connection(
        self, *, method: str | None = None, times: int = 1, after_processing: bool = False
    ) -> Fault:
        """Close the connection without any response (aiogram: TelegramNetworkError)."""
        return self._arm(
            Fault(FaultKind.DROP_CONNECTION, _key(method), times, after_processing=after_processing)
        )

    def too_many_requests(
        self, retry_after: int = 5, *, method: str | None = None, times: int = 1
    ) -> Fault:
        """A forced 429 regardless of the rate limiter."""
        return self._arm(
            Fault(FaultKind.TOO_MANY_REQUESTS, _key(method), times, retry_after=retry_after)
        )

    def clear(self) -> None:
        self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        return [fault for fault in self._faults if fault.remaining > 0]

    def take(self, method: str) -> Fault | None:
        """Consume one hit of the first armed fault matching ``method``."""
        if not self._faults:
            return None
        for fault in self._faults:
            if fault.matches(method):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None


def _key(method: str | None) -> str | None:
    return None if method is None else method.lower()
