"""Where jobs live: one folder per job, beside the answer cache, that survives restarts.

``<jobs dir>/<id>/`` (``<cache dir>/jobs`` unless configured) holds:

* ``request.jsonl``: the articles as accepted, one a line, each with its id;
* ``job.json``: who owns the job, its options, its state (queued, running, finished,
  cancelled, failed) and times; always written whole (a temporary file renamed over
  it), so that a crash leaves the old state or the new one, never half of either;
* ``out.jsonl`` and ``out.jsonl.ledger.json``: the batch engine's results and cost
  ledger (:func:`~summarizer.batch.runner.run_batch`), exactly as ``summarizer batch
  -o out.jsonl`` writes them.

A new job is written under a temporary name and renamed into place, so a restart
never finds half a job. The folders hold clients' articles, so they are the
server's user's only (0700), and they go when a job expires.

**What a restart trusts.** A ``job.json`` that is not a job this version can show (a
time no clock shows, options of another shape: a hand edit, another version, a bad
disk) and a job folder that is a symbolic link (it would send the job's reads and
writes elsewhere) are left alone, with one log line each: such a job is a 404, never
a 500 on every request for it. A job that ended at a time still to come (the clock
was ahead then, and was put right since) is taken to have ended now, so that it
expires ``--job-ttl`` from now instead of years later; a clock put *forward* deletes
jobs early, which no wall clock can tell from time passing.

**One server per jobs folder.** A second ``summarizer serve`` on the same cache
folder would resume the first one's jobs under it; the folder's lock file
(``flock``, released by the kernel however the holder ends) makes the second one
run without jobs instead, and say so.

Results are read while they are written: :class:`ResultsIndex` keeps where each
whole line of ``out.jsonl`` starts, reading only what was appended since it last
looked, so ``?after=N`` does not re-read a long file on every poll. Lines never move
(jobs run the engine with ``retry_failed`` False), so line N stays line N.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import secrets
import shutil
import threading
import time
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

_LOG = logging.getLogger("summarizer.serve")

JOB_ID = re.compile(r"[0-9a-f]{32}")
Status = Literal["queued", "running", "finished", "cancelled", "failed"]
STATUSES: tuple[Status, ...] = ("queued", "running", "finished", "cancelled", "failed")
FINAL = frozenset({"finished", "cancelled", "failed"})
REQUEST, STATE, OUT = "request.jsonl", "job.json", "out.jsonl"


class JobsUnavailable(Exception):
    """The jobs folder cannot be used (unwritable, or another server holds it).
    ``public`` is what a client may be told: no path of the server's."""

    def __init__(self, message: str, public: str) -> None:
        super().__init__(message)
        self.public = public


#: The latest time a job may have (with --job-ttl added, still a date: year 9999).
_LATEST = 253402300799.0 - 100 * 365 * 24 * 3600.0
_Time = Annotated[float, Field(ge=0, le=_LATEST, allow_inf_nan=False)]
_OPTIONS = {"model": str, "prompt": str, "language": str, "strict": bool}


class JobRecord(BaseModel):
    """A job's ``job.json``."""

    id: str
    owner: str  # the name of the key that made it
    status: Status = "queued"
    created: _Time
    started: _Time | None = None
    ended: _Time | None = None
    total: int = Field(ge=1)
    options: dict[str, Any]
    cancel_requested: bool = False
    idempotency_key: str | None = None
    fingerprint: str | None = None
    error: dict[str, Any] | None = None
    runs: int = 0  # how many times it was started: more than 1 after a restart

    @field_validator("options")
    @classmethod
    def _known_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        """The job options this version has, of their types (None: not given)."""
        for name, value in options.items():
            kind = _OPTIONS.get(name)
            if kind is None or not (value is None or type(value) is kind):
                raise ValueError(f"option {name!r} is not one this version has")
        return options

    def expired(self, now: float, ttl: float) -> bool:
        return self.ended is not None and self.ended + ttl <= now


class ResultsIndex:
    """The whole lines of one ``out.jsonl`` so far; see the module docstring."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.starts: list[int] = []  # byte offset of each whole line
        self.end = 0  # just past the last whole line
        self.ok = 0
        self.failed = 0
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Take in the whole lines appended since the last call."""
        with self._lock:
            try:
                with self.path.open("rb") as f:
                    f.seek(self.end)
                    data = f.read()
            except FileNotFoundError:
                return
            at = 0
            while (stop := data.find(b"\n", at)) >= 0:
                self.starts.append(self.end + at)
                try:
                    status = json.loads(data[at:stop]).get("status")
                except (ValueError, AttributeError):
                    status = None
                self.ok += status == "ok"
                self.failed += status == "error"
                at = stop + 1
            self.end += at

    @property
    def lines(self) -> int:
        return len(self.starts)

    def span(self, after: int, limit: int | None) -> tuple[int, int, int]:
        """Byte range and count of the lines after the first ``after`` (at most ``limit``)."""
        with self._lock:
            first = min(after, len(self.starts))
            last = len(self.starts) if limit is None else min(first + limit, len(self.starts))
            start = self.starts[first] if first < len(self.starts) else self.end
            end = self.starts[last] if last < len(self.starts) else self.end
            return start, end, last - first


def _write_whole(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class JobStore:
    """Every job of this server, on disk and in memory; see the module docstring.

    Methods that touch the disk are blocking (call them in a thread from the event
    loop); the in-memory reads (:meth:`get`, :meth:`find_idempotent`) are not."""

    def __init__(self, root: Path) -> None:
        self.root = root
        try:
            root.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._lockfile = (root / ".lock").open("a+", encoding="utf-8")
        except OSError as e:
            raise JobsUnavailable(
                f"cannot use {root} for jobs: {e.strerror or e}",
                f"its jobs folder cannot be used ({e.strerror or type(e).__name__})",
            ) from e
        try:
            fcntl.flock(self._lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            self._lockfile.seek(0)
            holder = self._lockfile.read().strip() or "?"
            self._lockfile.close()
            raise JobsUnavailable(
                f"another summarizer serve (pid {holder}) keeps its jobs in {root}; give "
                "each server a cache folder of its own (SUMMARIZER_CACHE_DIR)",
                f"another summarizer serve (pid {holder}) keeps its jobs in the same folder",
            ) from e
        self._lockfile.truncate(0)
        self._lockfile.write(str(os.getpid()))
        self._lockfile.flush()
        weakref.finalize(self, self._lockfile.close)  # a store never closed lets go too
        self._jobs: dict[str, JobRecord] = {}
        self._results: dict[str, ResultsIndex] = {}
        self._lock = threading.Lock()
        self._load()

    def close(self) -> None:
        """Let another server have the folder (this one's jobs are saved as they go)."""
        with contextlib.suppress(OSError):
            self._lockfile.close()

    def _load(self) -> None:
        """The jobs a previous server left: a job that was running is queued again
        (its thread is gone), one whose cancel was asked for is cancelled."""
        for entry in sorted(os.scandir(self.root), key=lambda e: e.name):
            if entry.name.startswith(".new-"):  # a job not yet accepted when it stopped
                shutil.rmtree(entry.path, ignore_errors=True)
                continue
            if not JOB_ID.fullmatch(entry.name):
                continue
            if entry.is_symlink():
                _LOG.warning("summarizer: job %s is left alone: a symbolic link", entry.name)
                continue
            try:
                record = JobRecord.model_validate_json((Path(entry.path) / STATE).read_bytes())
            except (OSError, ValidationError) as e:
                said = str(e).splitlines()
                if isinstance(e, ValidationError):  # the field, not its value
                    errors = e.errors(include_url=False, include_input=False)
                    said = [f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in errors]
                _LOG.warning("summarizer: job %s is left alone: %s", entry.name, "; ".join(said))
                continue
            if record.id != entry.name:
                continue
            self.settle_clock(record, time.time())
            if record.status not in FINAL:
                if record.cancel_requested:
                    record.status, record.ended = "cancelled", time.time()
                    self.save(record)
                elif record.status == "running":
                    record.status = "queued"
                    self.save(record)
            self._jobs[record.id] = record

    # -- the jobs ------------------------------------------------------------------------

    def create(
        self, owner: str, lines: Iterable[str], total: int, options: dict[str, Any],
        idempotency_key: str | None, fingerprint: str | None,
    ) -> JobRecord:  # fmt: skip
        """A new queued job of ``lines`` (one JSON article each), on disk first."""
        job_id = secrets.token_hex(16)
        record = JobRecord(
            id=job_id, owner=owner, created=time.time(), total=total, options=options,
            idempotency_key=idempotency_key, fingerprint=fingerprint,
        )  # fmt: skip
        new = self.root / f".new-{job_id}"
        new.mkdir(mode=0o700)
        try:
            with (new / REQUEST).open("w", encoding="utf-8") as f:
                for line in lines:
                    f.write(line + "\n")
                f.flush()
                os.fsync(f.fileno())
            _write_whole(new / STATE, record.model_dump_json(indent=2))
            os.replace(new, self.root / job_id)
        except BaseException:
            shutil.rmtree(new, ignore_errors=True)
            raise
        with self._lock:
            self._jobs[job_id] = record
        return record

    def settle_clock(self, record: JobRecord, now: float) -> bool:
        """A job that ended later than ``now`` (the clock was ahead) ended now; whether
        it did (then it is saved); see the module docstring."""
        if record.ended is None or record.ended <= now:
            return False
        record.ended = now
        self.save(record)
        return True

    def save(self, record: JobRecord) -> None:
        with self._lock:
            _write_whole(self.root / record.id / STATE, record.model_dump_json(indent=2))

    def get(self, job_id: str) -> JobRecord | None:
        return self._jobs.get(job_id) if JOB_ID.fullmatch(job_id) else None

    def all(self) -> list[JobRecord]:
        return list(self._jobs.values())

    def find_idempotent(self, owner: str, key: str) -> JobRecord | None:
        """The job ``owner`` made with this ``Idempotency-Key``, if it is still kept."""
        for record in list(self._jobs.values()):  # a copy: jobs come and go in threads
            if record.owner == owner and record.idempotency_key == key:
                return record
        return None

    def delete(self, job_id: str) -> None:
        with self._lock:
            self._jobs.pop(job_id, None)
            self._results.pop(job_id, None)
        shutil.rmtree(self.root / job_id, ignore_errors=True)

    def counts(self) -> dict[str, int]:
        """Jobs kept, by status (for the metrics)."""
        counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for record in list(self._jobs.values()):
            counts[record.status] += 1
        return counts

    # -- a job's files -------------------------------------------------------------------

    def out(self, job_id: str) -> Path:
        return self.root / job_id / OUT

    def articles(self, job_id: str) -> list[dict[str, Any]]:
        with (self.root / job_id / REQUEST).open(encoding="utf-8") as f:
            return [json.loads(line) for line in f]

    def answered(self, job_id: str) -> set[str]:
        """Ids that have a whole line in ``out.jsonl`` (an error line too)."""
        try:
            data = self.out(job_id).read_bytes()
        except FileNotFoundError:
            return set()
        done = set()
        for line in data[: data.rfind(b"\n") + 1].split(b"\n")[:-1]:
            with contextlib.suppress(ValueError, AttributeError, KeyError):
                done.add(str(json.loads(line)["id"]))
        return done

    def results(self, job_id: str) -> ResultsIndex:
        """The job's results so far (refreshed)."""
        with self._lock:
            index = self._results.get(job_id)
            if index is None:
                index = self._results[job_id] = ResultsIndex(self.out(job_id))
        index.refresh()
        return index

    def ledger(self, job_id: str) -> dict[str, Any] | None:
        """The batch ledger (totals and each run), without the server's process ids."""
        path = self.out(job_id).with_name(OUT + ".ledger.json")
        try:
            ledger = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(ledger, dict):
            return None
        for run in ledger.get("runs") or ():
            if isinstance(run, dict):
                run.pop("pid", None)
        return ledger
