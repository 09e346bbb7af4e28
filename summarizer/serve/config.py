"""The service's own settings: who may call it, how much it takes on, what it fetches.

Model settings are not here: they are resolved per request exactly as the command
line resolves them (:meth:`summarizer.settings.Settings.resolve`: request field, then
the server's ``--model``/``--base-url``, then the environment, the config file, the
defaults). This holds what only a service has: the keys, the limits on requests in
flight, waiting and in size, the per-request deadline, the URL policy, and the jobs'
caps, concurrency, lifetime and folder.

Nothing here imports the web stack, so the CLI can check its options (``--max-body
2MB``) before FastAPI is imported.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from summarizer.errors import ConfigurationError
from summarizer.serve.auth import KeyRing
from summarizer.serve.ssrf import UrlPolicy

DEFAULT_MAX_BODY = 2 * 1024 * 1024
DEFAULT_MAX_JOB_BODY = 32 * 1024 * 1024
DEFAULT_JOB_TTL = 7 * 24 * 3600.0
#: A job an hour for the default week (168), with room.
DEFAULT_MAX_JOBS_PER_KEY = 250
#: Worker processes at most: each is a Python process with the library loaded (about
#: 100 MB), and more than the cores only adds switching.
MAX_WORKERS = 64
MAX_JOB_TTL = 100 * 365 * 24 * 3600.0  # a date past it is not one a clock shows
_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2,
          "mib": 1024**2, "g": 1024**3, "gb": 1024**3, "gib": 1024**3}  # fmt: skip


def parse_size(text: str, option: str = "--max-body") -> int:
    """``2MB`` -> 2097152: bytes, with an optional K/M/G unit (powers of 1024, as the
    rest of the tool counts its caps)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise ConfigurationError(
            f"{option} {text!r}: expected a size such as 2MB, 512KB or 1048576 (bytes)"
        )
    size = int(float(match.group(1)) * _UNITS[unit])
    if size < 1:
        raise ConfigurationError(f"{option} {text!r}: must be at least 1 byte")
    return size


_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, option: str = "--job-ttl") -> float:
    """``7d`` -> 604800.0: seconds, with an optional s/m/h/d unit."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]?)\s*", text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _SECONDS:
        raise ConfigurationError(
            f"{option} {text!r}: expected a duration such as 7d, 12h, 30m or 3600 (seconds)"
        )
    seconds = float(match.group(1)) * _SECONDS[unit]
    if not 0 < seconds <= MAX_JOB_TTL:
        raise ConfigurationError(
            f"{option} {text!r}: must be more than 0 seconds and at most 100 years"
        )
    return seconds


@dataclass(frozen=True)
class ServeConfig:
    """What ``summarizer serve`` was started with.

    ``settings`` are explicit model settings for every request (the server's
    ``--model`` and ``--base-url``; tests pass others, such as
    ``max_transport_retries``), as :meth:`Settings.resolve` takes them. ``cache``
    False runs without the answer cache (tests of the model's failures).

    Jobs (``POST /v1/jobs``): a body of at most ``max_job_body`` bytes and
    ``max_job_articles`` articles; one job runs at a time, ``job_concurrency``
    articles at once (at most ``max_inflight``); a job that has ended is deleted
    ``job_ttl`` seconds later. They are kept in ``jobs_dir``, by default ``jobs`` in
    the cache folder (``SUMMARIZER_CACHE_DIR``). A key keeps at most
    ``max_jobs_per_key`` jobs (any status, until they expire): without a cap, one
    client's stream of tiny jobs fills the disk (about 20 KB each) and the queue
    every other key's jobs wait in.
    """

    keys: KeyRing = field(default_factory=KeyRing)
    max_inflight: int = 32
    max_queue: int = 64
    timeout: float = 120.0
    max_body: int = DEFAULT_MAX_BODY
    allow_url: bool = False
    url_policy: UrlPolicy = field(default_factory=UrlPolicy)
    settings: Mapping[str, Any] = field(default_factory=dict)
    cache: bool = True
    max_job_body: int = DEFAULT_MAX_JOB_BODY
    max_job_articles: int = 1000
    job_concurrency: int = 8
    job_ttl: float = DEFAULT_JOB_TTL
    jobs_dir: Path | None = None
    max_jobs_per_key: int = DEFAULT_MAX_JOBS_PER_KEY
    workers: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.workers <= MAX_WORKERS:
            raise ConfigurationError(f"--workers must be from 1 to {MAX_WORKERS}")
        if self.max_inflight < 1:
            raise ConfigurationError("--max-inflight must be 1 or more")
        if self.max_queue < 0:
            raise ConfigurationError("--max-queue must be 0 or more")
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            raise ConfigurationError("--timeout must be more than 0 seconds")
        if self.max_body < 1:
            raise ConfigurationError("--max-body must be at least 1 byte")
        if self.max_job_body < 1:
            raise ConfigurationError("--max-job-body must be at least 1 byte")
        if self.max_job_articles < 1:
            raise ConfigurationError("--max-job-articles must be 1 or more")
        if self.job_concurrency < 1:
            raise ConfigurationError("--job-concurrency must be 1 or more")
        if self.max_jobs_per_key < 1:
            raise ConfigurationError("--max-jobs-per-key must be 1 or more")
        if not 0 < self.job_ttl <= MAX_JOB_TTL:  # NaN too
            raise ConfigurationError("--job-ttl must be more than 0 seconds and at most 100 years")

    @property
    def job_slots(self) -> int:
        """Articles of a job summarized at once: ``job_concurrency``, at most
        ``max_inflight``."""
        return min(self.job_concurrency, self.max_inflight)
