"""The Responses API's store: each stored response object and the conversation items before its output,
in one SQLite file that every HTTP worker opens (`--responses-store-dir`), so a response created on one
worker continues on another (`previous_response_id`) and outlives a worker's restart.

The statements run in the request's greenlet, which blocks the worker's event loop while they run. That
is acceptable because each is one short statement on an indexed key (a point read, one insert, one delete,
a bounded eviction) on a local file in WAL mode: readers never wait for the writer, and a writer waits for
another worker's writer only for that writer's one short statement (the busy timeout bounds a stuck one).
Running them in gevent's thread pool would cost a thread hop per statement and put gevent below the
protocol layer, which only the runtime bridge and the server entry point import.
"""

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DIR = os.path.join(".ovserve", "responses")  # under the server's working directory
DEFAULT_MAX_COUNT = 10000
DEFAULT_MAX_AGE_HOURS = 720.0  # 30 days, as OpenAI keeps stored responses
FILE_NAME = "responses.sqlite3"
BUSY_TIMEOUT_MS = 2000  # the longest a write waits for another worker's write before it fails

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    response TEXT NOT NULL,
    input_items TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_by_age ON responses (created_at);
"""


@dataclass(frozen=True)
class StoreOptions:
    directory: str = DEFAULT_DIR  # "" keeps the store in this process's memory (tests of the app alone)
    max_count: int = DEFAULT_MAX_COUNT
    max_age_hours: float = DEFAULT_MAX_AGE_HOURS


@dataclass(frozen=True)
class StoredResponse:
    response: dict  # the response object, as answered
    input_items: list  # the conversation's items before its output: earlier turns' items, then its input


class ResponsesStore:
    def __init__(self, options=StoreOptions(), clock=time.time):
        self.options = options
        self._clock = clock
        self._connection = None

    def save(self, response, input_items):
        """Keep a completed response; then drop what is past the age or beyond the count, oldest first."""
        now = self._clock()
        with self._open() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO responses (id, created_at, response, input_items) VALUES (?, ?, ?, ?)",
                (response["id"], now, json.dumps(response), json.dumps(input_items)),
            )
            connection.execute("DELETE FROM responses WHERE created_at < ?", (self._oldest_kept(now),))
            connection.execute(
                "DELETE FROM responses WHERE id IN "
                "(SELECT id FROM responses ORDER BY created_at DESC LIMIT -1 OFFSET ?)",
                (self.options.max_count,),
            )

    def get(self, response_id):
        """The StoredResponse, or None if it was never stored, was deleted or has expired."""
        row = (
            self._open()
            .execute(
                "SELECT response, input_items FROM responses WHERE id = ? AND created_at >= ?",
                (response_id, self._oldest_kept(self._clock())),
            )
            .fetchone()
        )
        return None if row is None else StoredResponse(json.loads(row[0]), json.loads(row[1]))

    def delete(self, response_id):
        """True if a response was deleted."""
        with self._open() as connection:
            return connection.execute("DELETE FROM responses WHERE id = ?", (response_id,)).rowcount > 0

    def close(self):
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _oldest_kept(self, now):
        return now - self.options.max_age_hours * 3600

    def _open(self):
        """The connection, opened on first use: in the worker that uses it, never in a parent before a fork."""
        if self._connection is None:
            if self.options.directory:
                folder = Path(self.options.directory)
                folder.mkdir(parents=True, exist_ok=True)
                connection = sqlite3.connect(folder / FILE_NAME, timeout=BUSY_TIMEOUT_MS / 1000)
                connection.execute("PRAGMA journal_mode=WAL")
                # WAL with NORMAL sync survives a process crash; only a power loss may drop the last commits.
                connection.execute("PRAGMA synchronous=NORMAL")
            else:
                connection = sqlite3.connect(":memory:")
            connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            connection.executescript(_SCHEMA)
            self._connection = connection
        return self._connection
