"""The service's own settings: who may call it, how much it takes on, what it fetches.

Model settings are not here: they are resolved per request exactly as the command
line resolves them (:meth:`summarizer.settings.Settings.resolve`: request field, then
the server's ``--model``/``--base-url``, then the environment, the config file, the
defaults). This holds what only a service has: the keys, the limits on requests in
flight, waiting and in size, the per-request deadline, and the URL policy.

Nothing here imports the web stack, so the CLI can check its options (``--max-body
2MB``) before FastAPI is imported.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from summarizer.errors import ConfigurationError
from summarizer.serve.auth import KeyRing
from summarizer.serve.ssrf import UrlPolicy

DEFAULT_MAX_BODY = 2 * 1024 * 1024
_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2,
          "mib": 1024**2, "g": 1024**3, "gb": 1024**3, "gib": 1024**3}  # fmt: skip


def parse_size(text: str) -> int:
    """``2MB`` -> 2097152: bytes, with an optional K/M/G unit (powers of 1024, as the
    rest of the tool counts its caps)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise ConfigurationError(
            f"--max-body {text!r}: expected a size such as 2MB, 512KB or 1048576 (bytes)"
        )
    size = int(float(match.group(1)) * _UNITS[unit])
    if size < 1:
        raise ConfigurationError(f"--max-body {text!r}: must be at least 1 byte")
    return size


@dataclass(frozen=True)
class ServeConfig:
    """What ``summarizer serve`` was started with.

    ``settings`` are explicit model settings for every request (the server's
    ``--model`` and ``--base-url``; tests pass others, such as
    ``max_transport_retries``), as :meth:`Settings.resolve` takes them. ``cache``
    False runs without the answer cache (tests of the model's failures).
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

    def __post_init__(self) -> None:
        if self.max_inflight < 1:
            raise ConfigurationError("--max-inflight must be 1 or more")
        if self.max_queue < 0:
            raise ConfigurationError("--max-queue must be 0 or more")
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            raise ConfigurationError("--timeout must be more than 0 seconds")
        if self.max_body < 1:
            raise ConfigurationError("--max-body must be at least 1 byte")
