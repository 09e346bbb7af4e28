"""A persistent cache of model answers, so unchanged inputs never call the model twice.

The key (built by the pipeline) covers everything that can change an answer: the
article's hash, the rendered messages, the prompt's name, version and content hash,
the backend's identity (model, endpoint, mode; for a local GGUF its file), the
generation parameters, strictness, the schema version, and a fingerprint of the code
that turns an answer into a summary. Change any of them and the entry no longer
matches.

SQLite (stdlib) keeps it one file, safe across processes, with no extra dependency.
Location: ``SUMMARIZER_CACHE_DIR`` or ``~/.cache/summarizer``.

The cache is an optimisation, so it never stops work: a file that cannot be opened,
read or written (corrupt, read-only, a full disk, no home directory) is reported once
as a warning on the ``summarizer.cache`` logger (a line on stderr in a program that
configures no logging) and the run goes on without it. A corrupt entry is a miss.
:meth:`ResponseCache.stats` and :meth:`ResponseCache.clear` work on a broken file;
``clear`` removes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from summarizer.config_keys import user_setting
from summarizer.errors import ConfigurationError
from summarizer.redact import one_line

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    created REAL NOT NULL,
    summary TEXT NOT NULL
)
"""

_INIT_ATTEMPTS = 30  # about 4.5 s of waiting in all
_LOG = logging.getLogger("summarizer.cache")
# What a broken cache raises: SQLite's errors, the file system's, and JSON that is not.
_FAULTS = (sqlite3.Error, OSError, ValueError)


def default_cache_dir() -> Path:
    """``SUMMARIZER_CACHE_DIR``, else the config file's ``cache_dir``, else
    ``~/.cache/summarizer`` (read when called, never at import)."""
    where = user_setting("cache_dir").value
    return Path(where) if where else Path.home() / ".cache" / "summarizer"


def cache_key(parts: dict[str, Any]) -> str:
    """A stable hash of the key parts (sorted JSON)."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """Summary JSON by key, in one SQLite file; see the module docstring for faults."""

    def __init__(self, path: Path | None = None) -> None:
        self.hits = 0
        self.misses = 0
        #: Why the cache is off (``None`` while it works).
        self.disabled: str | None = None
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self.path = path or Path("~/.cache/summarizer/answers.sqlite3")  # if no home
        try:
            self.path = path or default_cache_dir() / "answers.sqlite3"
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            self._init_schema()
        except (*_FAULTS, RuntimeError) as e:  # RuntimeError: no home directory
            self._disable(e)

    def _disable(self, error: BaseException) -> None:
        if self.disabled is None:
            self.disabled = one_line(error)
            _LOG.warning(
                "summarizer: the answer cache at %s cannot be used (%s); going on without "
                "it (`summarizer cache clear` removes a broken file)",
                self.path,
                self.disabled,
            )
        if self._db is not None:
            db, self._db = self._db, None
            with contextlib.suppress(sqlite3.Error):
                db.close()

    def _init_schema(self) -> None:
        """WAL mode and the table, retried while another process does the same.

        Switching to WAL needs an exclusive lock and SQLite's busy timeout does not
        cover it: two batch workers opening a new cache file at once failed with
        "database is locked" 22 times in 400 (measured), and a worker that fails
        here loses its articles for the run.
        """
        assert self._db is not None
        for attempt in range(_INIT_ATTEMPTS):
            try:
                with self._lock, self._db:
                    if self._db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                        self._db.execute("PRAGMA journal_mode=WAL")
                    # No fsync per answer (FULL's default): in WAL mode NORMAL cannot
                    # corrupt the file, and a power cut loses at most the last answers,
                    # which a cache can ask for again. It was an fsync on the event loop
                    # for every summary a server made (benchmarks/serve.py).
                    self._db.execute("PRAGMA synchronous=NORMAL")
                    self._db.execute(_SCHEMA)
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or attempt == _INIT_ATTEMPTS - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))

    def get(self, key: str) -> dict[str, Any] | None:
        if self._db is None:
            return None
        try:
            with self._lock:
                row = self._db.execute(
                    "SELECT summary FROM answers WHERE key = ?", (key,)
                ).fetchone()
            found = json.loads(row[0]) if row is not None else None
        except _FAULTS as e:
            if isinstance(e, ValueError):  # one bad entry: a miss, the cache stays on
                found = None
            else:
                self._disable(e)
                return None
        if not isinstance(found, dict):
            self.misses += 1
            return None
        self.hits += 1
        return found

    def put(self, key: str, summary: dict[str, Any]) -> None:
        self.put_json(key, json.dumps(summary, ensure_ascii=False))

    def put_json(self, key: str, summary: str) -> None:
        """Store a summary already in JSON: Pydantic's ``model_dump_json`` writes it
        about 4 times faster than ``json.dumps`` of a dump (0.03 ms against 0.15 ms for
        the seed's summary, measured), on the path of every answer a server makes."""
        if self._db is None:
            return
        try:
            with self._lock, self._db:
                self._db.execute(
                    "INSERT OR REPLACE INTO answers (key, created, summary) VALUES (?, ?, ?)",
                    (key, time.time(), summary),
                )
        except _FAULTS as e:
            self._disable(e)

    def stats(self) -> dict[str, Any]:
        """Where the cache is, how many entries and bytes; ``error`` when it is broken."""
        size = self.path.stat().st_size if self.path.is_file() else 0
        out: dict[str, Any] = {"path": str(self.path), "entries": None, "bytes": size}
        if self._db is not None:
            try:
                with self._lock:
                    (out["entries"],) = self._db.execute("SELECT COUNT(*) FROM answers").fetchone()
            except _FAULTS as e:
                self._disable(e)
        if self.disabled is not None:
            out["error"] = self.disabled
        return out

    def clear(self) -> int:
        """Delete every entry, or the whole file when it is broken; returns entries removed."""
        if self._db is not None:
            try:
                with self._lock, self._db:
                    return int(self._db.execute("DELETE FROM answers").rowcount)
            except _FAULTS as e:
                self._disable(e)
        try:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        except OSError as e:
            raise ConfigurationError(
                f"cannot remove the broken cache file {self.path}: {one_line(e)}"
            ) from e
        return 0

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
