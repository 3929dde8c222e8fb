"""An aiosqlite connection that runs its calls in the event loop while it can.

aiosqlite runs every call (cursor, execute, fetch, commit, close) on a worker thread and
wakes the event loop for each result. A tap's write is five or six such calls; each
round trip cost far more than the statement itself (a single-row upsert takes tens of
microseconds in SQLite). `InlineSqliteConnection` runs a call at once, in the loop's
thread, unless the worker still has calls of this connection in hand (those keep their
order: a call made meanwhile queues behind them) or the caller asked for the thread
(`in_worker_thread`: a report or a purge that reads many rows lets the loop go on).

SQLite never waits for a lock in the loop: the connection's own busy timeout is zero,
and a call that finds the database locked by another process (the CLI, a backup) is
tried again on the worker thread, which keeps retrying for up to `busy_seconds`. A call
that failed with SQLITE_BUSY changed nothing, so trying it again is safe.
"""

from __future__ import annotations

import contextlib
import contextvars
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import aiosqlite

SQLITE_BUSY = 5
SQLITE_BUSY_SNAPSHOT = 517  # a read transaction outrun by a writer: waiting does not help
BUSY_RETRY_SECONDS = 0.005

_in_worker_thread: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "sqlite_in_worker_thread", default=False
)


@contextlib.contextmanager
def in_worker_thread() -> Iterator[None]:
    """Within this block (and the tasks it starts) SQLite calls run on the worker thread."""
    token = _in_worker_thread.set(True)
    try:
        yield
    finally:
        _in_worker_thread.reset(token)


def _is_busy(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if not isinstance(exc, sqlite3.OperationalError) or code is None:
        return False
    return bool(code & 0xFF == SQLITE_BUSY and code != SQLITE_BUSY_SNAPSHOT)


class InlineSqliteConnection(aiosqlite.Connection):
    """`aiosqlite.Connection` whose calls run inline when its worker thread is idle."""

    def __init__(
        self,
        connector: Callable[[], sqlite3.Connection],
        *,
        busy_seconds: float,
        iter_chunk_size: int = 64,
    ) -> None:
        super().__init__(connector, iter_chunk_size)
        self._thread.daemon = True  # as SQLAlchemy sets it for aiosqlite's own connections
        self.busy_seconds = busy_seconds
        self._in_worker = 0  # calls queued for the worker and not yet finished there
        self._in_worker_lock = threading.Lock()
        self.inline_calls = 0  # for tests and the benchmark
        self.worker_calls = 0

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        if self._in_worker == 0 and not _in_worker_thread.get():
            self.inline_calls += 1
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
        return await self._on_worker(fn, *args, **kwargs)

    async def _on_worker(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`fn` on the worker thread, retried while another connection holds the lock. The
        count drops on the worker itself once `fn` is done, so a call made after that may
        run inline even if this caller was cancelled while it waited."""
        self.worker_calls += 1
        with self._in_worker_lock:
            self._in_worker += 1
        deadline = time.monotonic() + self.busy_seconds

        def patiently() -> Any:
            try:
                while True:
                    try:
                        return fn(*args, **kwargs)
                    except sqlite3.OperationalError as exc:
                        if not _is_busy(exc) or time.monotonic() >= deadline:
                            raise
                    time.sleep(BUSY_RETRY_SECONDS)
            finally:
                with self._in_worker_lock:
                    self._in_worker -= 1

        # Queued: the connection is open (checked above, with no await since).
        return await super()._execute(patiently)  # type: ignore[no-untyped-call]
