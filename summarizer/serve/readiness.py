"""Whether the server's model can answer, for ``/readyz``: :class:`ModelCheck`.

A process whose model endpoint is down takes requests only to answer each with a
503 after a connection attempt; a load balancer should send them to another
instance instead, which it learns from ``/readyz``. What "can answer" means
depends on the server's default model:

* **no model** (``rules``, the baselines): always; there is nothing to check, and
  ``/readyz`` shows no check for it;
* **an OpenAI-compatible endpoint**: ``GET {base_url}/models`` gets an HTTP answer
  within :data:`TIMEOUT` seconds. Any answer counts, a 401 or a 404 too: the
  endpoint is there, and whether it takes our key is a matter for each request
  (502), not for routing. A refused connection, a name that does not resolve or
  no answer in time is "unreachable". The server's key is not sent: reachability
  needs none. Requests may name other models, but only on this same endpoint
  (:mod:`summarizer.serve.pool`), so this one check covers them;
* **the embedded model**: loaded, or loadable: its file is there (or the bundled
  weights' package is installed). Loading 250 MB to answer a health probe would
  be its own outage, so a model not loaded yet is loaded by the first summary,
  as it would be anyway.

A result is kept for :data:`TTL` seconds, and concurrent ``/readyz`` calls share
one probe, so a load balancer polling every second asks the endpoint at most once
per TTL. What ``/readyz`` shows is public: a short state, never the endpoint's
address or a file path (those go to the server's log, once per change of state).
"""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
from pydantic import BaseModel, Field

from summarizer.backends import Backend, Composer
from summarizer.errors import SummarizerError
from summarizer.redact import redact_url
from summarizer.settings import Settings

TTL = 5.0
TIMEOUT = 2.0
OPENAI = "https://api.openai.com/v1"
_LOG = logging.getLogger("summarizer.serve")


class Readiness(BaseModel):
    """What ``/readyz`` answers, 200 or 503 alike."""

    ready: bool = Field(description="Whether to send this process work.")
    checks: dict[str, str | bool] = Field(
        description="Each check's state: prompts, cache, model (its name), draining, and "
        "endpoint (a model endpoint answers) or embedded (the embedded model is loaded or "
        "loadable) when the model has one."
    )


class ModelCheck:
    """The readiness of one backend's model; see the module docstring.

    ``name`` is the check's name in ``/readyz`` (``endpoint`` or ``embedded``), None
    when there is no model to check. ``last`` is the latest result, ``(ready, state)``,
    or None before the first :meth:`check`."""

    def __init__(
        self, settings: Settings, backend: Backend, *, ttl: float = TTL, timeout: float = TIMEOUT
    ) -> None:
        self.backend = backend
        self.ttl = ttl
        self.timeout = timeout
        if isinstance(backend, Composer):
            self.name: str | None = None
        elif backend.runs_locally:
            self.name = "embedded"
        else:
            self.name = "endpoint"
        self.url = (settings.effective_base_url or OPENAI).rstrip("/") + "/models"
        self.last: tuple[bool, str] | None = (True, "none") if self.name is None else None
        self._at = -float("inf")
        self._lock = asyncio.Lock()

    async def check(self) -> tuple[bool, str]:
        """The result, probed again when the last one is older than ``ttl``."""
        if self.name is None:
            return True, "none"
        async with self._lock:  # callers meanwhile wait for this probe, not one each
            if self.last is None or time.monotonic() - self._at >= self.ttl:
                if self.name == "endpoint":
                    ready, state, detail = await self._endpoint()
                else:
                    ready, state, detail = await asyncio.to_thread(self._embedded)
                if self.last is None or ready != self.last[0]:  # a line per change
                    (_LOG.info if ready else _LOG.warning)("model %s: %s", self.name, detail)
                self.last, self._at = (ready, state), time.monotonic()
            return self.last

    async def _endpoint(self) -> tuple[bool, str, str]:
        """Any HTTP answer from ``GET /models``; its body is not read."""
        where = redact_url(self.url)
        try:
            async with (
                asyncio.timeout(self.timeout),
                httpx.AsyncClient(timeout=self.timeout) as client,
                client.stream("GET", self.url) as response,
            ):
                status = response.status_code
        except (TimeoutError, httpx.TimeoutException):
            said = f"no answer within {self.timeout:g} s"
            return False, f"unreachable: {said}", f"{where}: {said}"
        except httpx.HTTPError as e:  # refused, no such host, TLS, a proxy's failure
            said = "cannot connect" if isinstance(e, httpx.ConnectError) else type(e).__name__
            return False, f"unreachable: {said}", f"{where}: {type(e).__name__}: {e}"
        return True, f"ok (HTTP {status})", f"{where} answers (HTTP {status})"

    def _embedded(self) -> tuple[bool, str, str]:
        """Loaded already, or loadable without loading it (see the module docstring)."""
        if getattr(self.backend, "_model", None) is not None:  # LocalBackend's loaded model
            return True, "loaded", "loaded"
        try:
            # The file by path, size and time, or the bundled weights' known hash:
            # what the model is, found without loading it.
            self.backend.cache_identity()
        except SummarizerError as e:
            return False, "not loadable (see the server's log)", str(e)
        return True, "loadable (loads with the first summary)", "loadable"
