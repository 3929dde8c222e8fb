"""SQLite's WAL checkpoints on a thread and a connection of their own, not inside a commit.

In WAL mode SQLite folds the log back into the database file once the log holds 1,000
pages, in whichever commit crosses that mark; with `synchronous=NORMAL` that commit also
waits for the file to reach the disk. The bot's connection commits in the event loop
(`storage.inline_sqlite`), so one unlucky tap held every chat for a few milliseconds.

Here the bot's connection checkpoints by itself only past a far larger mark
(`FALLBACK_PAGES`, in case this thread falls behind), and every `every_commits` commits a
PASSIVE checkpoint runs on a second connection, on a thread of its own. A passive
checkpoint never waits for, nor blocks, the bot's reads and writes; what it cannot fold in
yet, the next one does.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from concurrent.futures import Future, ThreadPoolExecutor

logger = logging.getLogger(__name__)

FALLBACK_PAGES = 10_000  # the bot's own connection checkpoints only past this (~40 MB of log)
EVERY_COMMITS = 100


class WalCheckpoints:
    """Passive checkpoints of one database file, started by the commits of its connection."""

    def __init__(self, path: str, *, every_commits: int = EVERY_COMMITS) -> None:
        if every_commits < 1:
            raise ValueError("every_commits must be at least 1")
        self._path = path
        self._every = every_commits
        self._commits = 0
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._running: Future[None] | None = None
        self._connection: sqlite3.Connection | None = None
        self._closed = False
        self.done = 0  # checkpoints run (for tests)
        self.last: tuple[int, int, int] | None = None  # SQLite's (busy, log pages, folded in)

    def committed(self) -> None:
        """One more commit of the bot's connection; every `every_commits`, a checkpoint
        starts on the thread unless the last one is still running."""
        self._commits += 1
        if self._commits < self._every or self._closed:
            return
        if self._running is not None and not self._running.done():
            return
        self._commits = 0
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="sqlite-checkpoint")
        self._running = self._executor.submit(self._checkpoint)

    def _checkpoint(self) -> None:
        with self._lock:
            if self._closed:
                return
            try:
                if self._connection is None:
                    self._connection = sqlite3.connect(
                        self._path, timeout=0, isolation_level=None, check_same_thread=False
                    )
                busy, log, folded = self._connection.execute(
                    "PRAGMA wal_checkpoint(PASSIVE)"
                ).fetchone()
                self.last = (int(busy), int(log), int(folded))
                self.done += 1
            except sqlite3.Error as exc:  # the bot's own fallback mark still applies
                logger.warning("WAL checkpoint not run: %s", type(exc).__name__)

    def wait(self) -> None:
        """Until the checkpoint started last has run (blocking; for tests and shutdown)."""
        running = self._running
        if running is not None:
            running.result()

    def close(self) -> None:
        """Wait for a checkpoint in progress, then close the thread and its connection
        (blocking: call it from a worker thread)."""
        self._closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
