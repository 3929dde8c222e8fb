"""A record of every request the emulator answered, for assertions and counters."""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bot.harness.emulator.state import ChangeNotifier


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One request. ``params`` are the validated values when validation passed, else raw.

    ``status`` is the HTTP status sent, or 0 when the connection was dropped on purpose.
    """

    seq: int
    at: float
    bot_id: int | None
    method: str
    params: Mapping[str, Any]
    status: int
    description: str | None = None
    result: Any = None
    fault: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


class CallLog:
    """Bounded list of :class:`CallRecord` plus unbounded per-method/status counters."""

    def __init__(self, max_records: int | None = None) -> None:
        self._records: deque[CallRecord] = deque(maxlen=max_records)
        self._seq = 0
        self.by_method: Counter[str] = Counter()
        self.by_status: Counter[tuple[str, int]] = Counter()
        self.notifier = ChangeNotifier()

    def add(
        self,
        *,
        at: float,
        bot_id: int | None,
        method: str,
        params: Mapping[str, Any],
        status: int,
        description: str | None = None,
        result: Any = None,
        fault: str | None = None,
    ) -> CallRecord:
        self._seq += 1
        record = CallRecord(
            self._seq, at, bot_id, method, params, status, description, result, fault
        )
        self._records.append(record)
        self.by_method[method] += 1
        self.by_status[(method, status)] += 1
        self.notifier.notify()
        return record

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[CallRecord]:
        return iter(list(self._records))

    def of(self, method: str | None = None, *, status: int | None = None) -> list[CallRecord]:
        """Recorded calls of ``method`` (case-insensitive; None for all), optionally by status."""
        wanted = method.lower() if method else None
        return [
            record
            for record in self._records
            if (wanted is None or record.method.lower() == wanted)
            and (status is None or record.status == status)
        ]

    def last(self, method: str | None = None) -> CallRecord | None:
        wanted = method.lower() if method else None
        for record in reversed(self._records):
            if wanted is None or record.method.lower() == wanted:
                return record
        return None

    def count(self, method: str | None = None, *, status: int | None = None) -> int:
        """From the counters, so it stays exact even when old records were evicted."""
        if method is None:
            if status is None:
                return sum(self.by_method.values())
            return sum(n for (_, code), n in self.by_status.items() if code == status)
        if status is None:
            return sum(n for name, n in self.by_method.items() if name.lower() == method.lower())
        return sum(
            n
            for (name, code), n in self.by_status.items()
            if name.lower() == method.lower() and code == status
        )

    async def wait_for(
        self,
        predicate: Callable[[CallLog], bool],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a test-facing convenience, like wait_for
    ) -> None:
        """Wait until ``predicate(self)`` holds, re-checked after every call."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate(self):
                    await self.notifier.wait()
        except TimeoutError:
            raise TimeoutError(f"calls did not satisfy the condition within {timeout} s") from None

    def clear(self) -> None:
        self._records.clear()
        self.by_method.clear()
        self.by_status.clear()
