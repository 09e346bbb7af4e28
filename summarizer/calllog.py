"""A local log of every model call, like ``llm logs``: what was sent, what came back.

When a summary looks wrong, or a run is slow or costly, the question is what the
model was asked and what it answered, request by request: re-asks and transport
failures included, which ``meta`` only counts. Each request is one row of
``<cache dir>/logs.db`` (SQLite; the cache dir is ``SUMMARIZER_CACHE_DIR`` or
``~/.cache/summarizer``): time, model, endpoint (credentials redacted; the API key is
never in a request body), prompt, source, the request's messages (the article is in
them: this is the user's own machine) and parameters (the response schema left
out), the raw answer (what looks like a key or password in it redacted), tokens,
latency, attempt number and outcome: ``ok``, ``reask: why`` (the answer did not
validate and was sent back), ``invalid: why`` (the last answer did not validate
either; it is salvaged or the run fails), or
``error: Class: message`` (no answer arrived, after the transport's retries: a
request sent again after a transport fault is one row; ``-v`` shows each retry).

**When.** Like ``llm``, the command line logs by default and the library does not
(:func:`enable` turns it on for a process; the CLI does). ``SUMMARIZER_LOG=0``, or
``summarizer logs off`` (a ``logs-off`` file beside the log), turns it off;
``SUMMARIZER_LOG=1`` turns it on whatever that file says (``0/1``, ``false/true``,
``off/on``, ``no/yes``; anything else is a configuration error, not a guess).
Methods without a model (``rules``, the baselines) make no calls and log nothing.

**Growth.** The last :data:`MAX_ROWS` (10,000) calls are kept, and rows of at most
:data:`MAX_BYTES` (100 MB) in all: with a 3,000-character article a row is about
19 KB, so the row count binds first. Every :data:`PRUNE_EVERY` rows a process
writes, older rows are deleted (their pages are reused, so the file stops growing).
Writing a row costs about 0.26 ms of CPU, redacting it included (median, measured: a
3 KB article, an 11 KB answer; 0.31 ms for a re-ask, which carries the answer too). The
rows are written by :mod:`summarizer.backends.calls`, which sees every request.

**Never in the way.** Each row is one short transaction in WAL mode, so batch
workers (processes) and threads write side by side and readers never block them;
a write that waits more than :data:`BUSY_TIMEOUT_S` for the lock drops its row (a
process says so once: the file is busy, not broken). A file that cannot be opened or
written (corrupt, read-only, a full disk) is one warning on the
``summarizer.calllog`` logger, and the process goes on without it. Both warnings
start ``summarizer: warning:``, as the command line's others do.

**Secrets.** :mod:`summarizer.backends.calls` redacts what it writes (the request's
messages and parameters, the answer, the outcome): see :mod:`summarizer.redact`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from summarizer.errors import ConfigurationError

MAX_ROWS = 10_000
MAX_BYTES = 100 * 1024 * 1024
PRUNE_EVERY = 100
BUSY_TIMEOUT_S = 1.0
LOG_FILE = "logs.db"
OFF_FILE = "logs-off"
_LIST_COLUMNS = (
    "id, time, model, base_url, prompt, source, prompt_tokens, completion_tokens, "
    "latency_s, outcome, attempt"
)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    model TEXT,
    base_url TEXT,
    prompt TEXT,
    source TEXT,
    request TEXT,
    answer TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    latency_s REAL,
    outcome TEXT NOT NULL,
    attempt INTEGER
)
"""
_LOG = logging.getLogger(__name__)
_FAULTS = (sqlite3.Error, OSError)
_SQLITE_INT = range(-(2**63), 2**63)  # what an INTEGER PRIMARY KEY can be
ENV = "SUMMARIZER_LOG"
_ON, _OFF = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class CallLog:
    """The rows of one ``logs.db``; see the module docstring for faults and growth."""

    def __init__(
        self, path: Path, *, max_rows: int = MAX_ROWS, max_bytes: int = MAX_BYTES, warn: bool = True
    ):
        """``warn``: say a fault on the logger (a reader, ``summarizer logs``, reports
        :attr:`disabled` as its error instead)."""
        self.path = path
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        #: Why the log is off (``None`` while it works).
        self.disabled: str | None = None
        self._warned = not warn
        self._warned_busy = not warn
        self._written = 0
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
            self._init_schema()
        except _FAULTS as e:
            self._fault(e, disable=True)

    def _init_schema(self) -> None:
        """WAL and the table, retried while another process does the same: switching
        to WAL takes an exclusive lock that the busy timeout does not wait for."""
        assert self._db is not None
        for attempt in range(30):
            try:
                with self._lock, self._db:
                    if self._db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                        self._db.execute("PRAGMA journal_mode=WAL")
                    self._db.execute("PRAGMA synchronous=NORMAL")
                    self._db.execute(_SCHEMA)
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or attempt == 29:
                    raise
                time.sleep(0.01 * (attempt + 1))

    def _fault(self, error: BaseException, *, disable: bool) -> None:
        if not disable:  # busy: another writer held the lock too long; the next row may go
            if not self._warned_busy:
                self._warned_busy = True
                _LOG.warning(
                    "summarizer: warning: the call log at %s is busy (another process held "
                    "it over %gs); this call's row was skipped and the run goes on",
                    self.path,
                    BUSY_TIMEOUT_S,
                )
            return
        from summarizer.redact import one_line  # an error path: not worth an import

        if not self._warned:
            self._warned = True
            # Only a file SQLite cannot make sense of is worth removing; a read-only
            # file, a full disk or a folder in its place is not fixed that way.
            corrupt = type(error) is sqlite3.DatabaseError
            _LOG.warning(
                "summarizer: warning: the call log at %s cannot be used (%s); going on "
                "without it (%sSUMMARIZER_LOG=0 turns it off)",
                self.path,
                one_line(error, 200),
                "remove the file to start a new one; " if corrupt else "",
            )
        if disable:
            self.disabled = one_line(error, 200)
            db, self._db = self._db, None
            if db is not None:
                with contextlib.suppress(sqlite3.Error):
                    db.close()

    def add(self, row: dict[str, Any]) -> None:
        """Append one call (the columns of ``_SCHEMA``, ``id`` and ``time`` aside)."""
        if self._db is None:
            return
        row = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), **row}
        names = ", ".join(row)
        try:
            with self._lock, self._db:
                self._db.execute(
                    f"INSERT INTO calls ({names}) VALUES ({', '.join('?' * len(row))})",
                    tuple(row.values()),
                )
                if self._written % PRUNE_EVERY == 0:  # the first row too: a new process
                    self._prune()
                self._written += 1
        except _FAULTS as e:
            busy = isinstance(e, sqlite3.OperationalError) and "locked" in str(e)
            self._fault(e, disable=not busy)

    def _prune(self) -> None:
        """Keep the last ``max_rows`` rows, and drop the oldest tenth while the rows
        take more than ``max_bytes`` (in the caller's transaction)."""
        assert self._db is not None
        self._db.execute(
            "DELETE FROM calls WHERE id <= (SELECT MAX(id) FROM calls) - ?", (self.max_rows,)
        )
        for _ in range(10):
            pages = self._db.execute("PRAGMA page_count").fetchone()[0]
            free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
            size = self._db.execute("PRAGMA page_size").fetchone()[0]
            if (pages - free) * size <= self.max_bytes:
                return
            (count,) = self._db.execute("SELECT COUNT(*) FROM calls").fetchone()
            self._db.execute(
                "DELETE FROM calls WHERE id IN (SELECT id FROM calls ORDER BY id LIMIT ?)",
                (max(count // 10, 1),),
            )

    def calls(
        self,
        *,
        limit: int = 20,
        model: str | None = None,
        source: str | None = None,
        outcome: str | None = None,
    ) -> list[dict[str, Any]]:
        """The last ``limit`` calls, newest first, without their texts; ``model`` and
        ``source`` match a part of the value, ``outcome`` its kind (``ok``, ``reask``,
        ``invalid``, ``error``)."""
        if self._db is None:
            return []
        where, args = ["1"], []
        for column, value in (("model", model), ("source", source)):
            if value:
                where.append(f"instr({column}, ?) > 0")
                args.append(value)
        if outcome:
            where.append("(outcome = ? OR outcome LIKE ? || ':%')")
            args += [outcome, outcome]
        query = (
            f"SELECT {_LIST_COLUMNS} FROM calls WHERE {' AND '.join(where)} "
            "ORDER BY id DESC LIMIT ?"
        )
        return self._rows(query, (*args, limit))

    def get(self, call_id: int) -> dict[str, Any] | None:
        """One call with its request (parsed back to JSON) and raw answer; None for an
        id that is not there (one past SQLite's integers included)."""
        if call_id not in _SQLITE_INT:
            return None
        rows = self._rows("SELECT * FROM calls WHERE id = ?", (call_id,))
        if not rows:
            return None
        row = rows[0]
        with contextlib.suppress(TypeError, ValueError):
            row["request"] = json.loads(row["request"])
        return row

    def _rows(self, query: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        if self._db is None:
            return []
        try:
            with self._lock:
                cursor = self._db.execute(query, args)
                names = [c[0] for c in cursor.description]
                return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
        except _FAULTS as e:
            self._fault(e, disable=True)
            return []

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


# -- when a process logs -------------------------------------------------------------

_enabled = False
_open: dict[tuple[int, Path], CallLog] = {}
_open_lock = threading.Lock()


def log_dir() -> Path:
    # Imported here: the CLI enables logging for every command, and those that call
    # no model (``eval score``, ``schema``) should not pay for the cache's imports.
    from summarizer.cache import default_cache_dir

    return default_cache_dir()


def enable(on: bool = True) -> None:
    """Log this process's model calls (the CLI does; library users may). Turning it
    on checks ``SUMMARIZER_LOG`` first: a value that is not a yes or a no is an error
    before any work, not a guess."""
    global _enabled
    if on:
        _switch()  # the `logs off` file is read by each call's ``current()``, not here
    _enabled = on


def _switch() -> tuple[bool, str] | None:
    """What ``SUMMARIZER_LOG`` says, and why (as :func:`status`), or None when unset."""
    env = os.environ.get(ENV, "").strip().lower()
    if env in _OFF:
        return False, f"off: {ENV}={env}"
    if env in _ON:
        return True, f"on: {ENV}={env}"
    if env:
        raise ConfigurationError(
            f"{ENV}={os.environ[ENV].strip()!r} is neither on nor off: use one of "
            f"{', '.join(_ON + _OFF)}"
        )
    return None


def status(where: Path | None = None) -> tuple[bool, str]:
    """Whether calls are logged when logging is enabled, and why (for ``logs status``);
    ``where``: the log's folder, when the caller has it already.

    Raises ConfigurationError for a ``SUMMARIZER_LOG`` that is neither on nor off.
    """
    if (said := _switch()) is not None:
        return said
    if ((where or log_dir()) / OFF_FILE).exists():
        return False, "off: `summarizer logs off` (`summarizer logs on` turns it back on)"
    return True, "on (the default; `summarizer logs off` or SUMMARIZER_LOG=0 turns it off)"


def open_log(where: Path | None = None) -> CallLog:
    """This process's log at the current cache dir, opened once. A forked batch worker
    opens its own and leaves the parent's alone, not even closing it: SQLite must not
    touch a connection across a fork (closing one may checkpoint and remove the WAL
    under the parent). A process that moves to another cache dir closes its old one."""
    pid = os.getpid()
    key = (pid, (where or log_dir()) / LOG_FILE)
    with _open_lock:
        if key not in _open:
            for old in [k for k in _open if k[0] == pid]:
                _open.pop(old).close()
            _open[key] = CallLog(key[1])
        return _open[key]


def close_all() -> None:
    """Close the log this process opened (it reopens on the next call)."""
    pid = os.getpid()
    with _open_lock:
        for key in [k for k in _open if k[0] == pid]:
            _open.pop(key).close()


def current() -> CallLog | None:
    """The log calls go to now, or None (not enabled, turned off, or broken)."""
    if not _enabled:
        return None
    where = log_dir()  # once: it reads the config file (unless SUMMARIZER_CACHE_DIR)
    if not status(where)[0]:
        return None
    log = open_log(where)
    return None if log.disabled else log


# -- what a call is for --------------------------------------------------------------


@dataclass(frozen=True)
class Label:
    """What a call is for, beyond what the backend knows (set by the pipeline)."""

    source: str | None = None
    prompt: str | None = None


_LABEL: ContextVar[Label | None] = ContextVar("summarizer_call_label", default=None)


def label(*, source: str, prompt: str) -> None:
    """Calls made from here on in this context (task, thread) are for ``source``."""
    _LABEL.set(Label(source, prompt))


def current_label() -> Label:
    return _LABEL.get() or Label()
