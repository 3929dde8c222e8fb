"""The step rule: a running period's figures are released to staff only in steps of K reports.

An investigator who could ask for the current period's digest at any moment would see it
change with every report: asking just before and just after one arrives isolates it. So
`/digest` never shows live figures. It shows the period's *snapshot*: a digest built at some
earlier moment and stored. A new snapshot replaces it only when the view is asked for and at
least K more submissions have arrived since the snapshot it replaces (since the period
began, for the first one); until then the view shows the fixed below-K digest ("nothing
yet"). Any two views of a period therefore show either the same figures or figures at least
K submissions apart, and the digest of the closed period follows the same rule
(`closing_digest`): it counts everything that arrived unless that is fewer than K beyond the
last released snapshot, in which case it repeats that snapshot.

Snapshots are taken when a view asks (not by the scheduler): a period nobody looks at keeps
none, and its closing digest counts every report. One row per view scope (the period, or the
period and a campaign) holds the latest snapshot, encrypted; nothing records when it was
taken. It is replaced by compare-and-swap on a random version, so when two views race, one
snapshot wins and both show it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Final

from bot.anonymity.crypto import DecryptionError
from bot.digest.build import BuiltDigest
from bot.digest.period import Period
from storage.repositories.digests import DigestSnapshotRepository

logger = logging.getLogger(__name__)

SNAPSHOT_SCHEMA_VERSION: Final = 1
SCOPE_SEPARATOR: Final = "@"


def scope_key(period: Period, campaign_id: str | None = None) -> str:
    """The key of a view scope: ``weekly:2026-11-23`` or ``weekly:2026-11-23@CAMPAIGN``."""
    if campaign_id is None:
        return period.key
    return f"{period.key}{SCOPE_SEPARATOR}{campaign_id}"


def period_of_scope(key: str) -> Period:
    """The period a scope key names (ValueError when it names none)."""
    return Period.from_key(key.split(SCOPE_SEPARATOR, 1)[0])


@dataclass(frozen=True)
class Snapshot:
    """A released digest and the number of submissions it counts (the step is measured from
    it)."""

    submissions: int
    built: BuiltDigest

    def to_json(self) -> str:
        return json.dumps(
            {
                "schema": SNAPSHOT_SCHEMA_VERSION,
                "submissions": self.submissions,
                "built": self.built.to_json(),
            },
            ensure_ascii=False,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Snapshot:
        try:
            payload = json.loads(text)
            if payload.get("schema") != SNAPSHOT_SCHEMA_VERSION:
                raise ValueError(f"snapshot schema {payload.get('schema')!r} is unknown")
            submissions = payload["submissions"]
            if isinstance(submissions, bool) or not isinstance(submissions, int):
                raise ValueError("submissions must be an integer")
            return cls(submissions, BuiltDigest.from_json(payload["built"]))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a digest snapshot: {exc}") from exc


def closing_digest(fresh: BuiltDigest, last: Snapshot | None, *, k: int) -> BuiltDigest:
    """The digest a closed period keeps: the fresh build, unless a snapshot was released and
    the fresh build counts fewer than K submissions more (then the snapshot again, so that
    the closing digest cannot be compared with it to isolate the last few reports)."""
    if last is None:
        return fresh
    counted = fresh.data.submissions or 0
    return fresh if counted - last.submissions >= k else last.built


class StepRelease:
    """Releases a scope's figures in steps of K (see the module docstring)."""

    def __init__(self, snapshots: DigestSnapshotRepository, *, k: int) -> None:
        if k < 1:
            raise ValueError("k must be at least 1")
        self._snapshots = snapshots
        self._k = k

    async def last(self, key: str) -> Snapshot | None:
        """The last snapshot released for `key`; DecryptionError or ValueError when it exists
        but cannot be read."""
        stored = await self._snapshots.get(key)
        return None if stored is None else Snapshot.from_json(stored.content)

    async def view(
        self,
        key: str,
        *,
        count: Callable[[], Awaitable[int]],
        build: Callable[[], Awaitable[BuiltDigest]],
        placeholder: Callable[[], Awaitable[BuiltDigest]],
    ) -> BuiltDigest:
        """What a view of `key` shows now, taking a new snapshot first when the step is due.

        `count` is how many submissions the scope has now; `build` a fresh digest of it;
        `placeholder` the fixed below-K digest shown before the first step.
        """
        try:
            stored = await self._snapshots.get(key)
            current = None if stored is None else Snapshot.from_json(stored.content)
        except (DecryptionError, ValueError) as exc:
            # Without the last step's count no new step can be measured: show nothing new.
            logger.warning("digest snapshot unreadable (%s): nothing new is released", exc)
            return await placeholder()
        base = 0 if current is None else current.submissions
        if await count() - base >= self._k:
            built = await build()
            counted = built.data.submissions
            if counted is not None and counted - base >= self._k:
                fresh = Snapshot(counted, built)
                won = await self._snapshots.release(
                    key, fresh.to_json(), replaces=None if stored is None else stored.version
                )
                if won:
                    return built
                # Another view released a step meanwhile: show that one, like everybody.
                current = await self.last(key)
        if current is None:
            return await placeholder()
        return current.built

    async def forget_period(self, period: Period) -> int:
        """Drop the snapshots of every scope of `period` (its closing digest is stored)."""
        keys = [key for key in await self._snapshots.keys() if _names_period(key, period)]
        return await self._snapshots.delete(keys)

    async def forget_ended_before(self, day: date) -> int:
        """Drop the snapshots of periods that ended before `day` (retention)."""
        keys = []
        for key in await self._snapshots.keys():
            try:
                ended = period_of_scope(key).last_day
            except ValueError:
                keys.append(key)  # not a key this code writes: nothing can use it
                continue
            if ended < day:
                keys.append(key)
        return await self._snapshots.delete(keys)


def _names_period(key: str, period: Period) -> bool:
    return key == period.key or key.startswith(period.key + SCOPE_SEPARATOR)
