"""What one server process holds: its limits, metrics, answer cache and summarizers.

Built once, when the app is (:func:`summarizer.serve.app.create_app`), so that a bad
setting (an unknown model, an unreadable config file) fails ``summarizer serve`` at
start with one line, not every request later. ``draining`` is set when a SIGTERM
arrives (:mod:`summarizer.serve.run`): ``/readyz`` then answers 503, so a load
balancer stops sending, and new summaries are refused while those in flight finish.
"""

from __future__ import annotations

from typing import Any

from summarizer.cache import ResponseCache
from summarizer.errors import SummarizerError
from summarizer.prompts import list_prompts
from summarizer.serve.config import ServeConfig
from summarizer.serve.limits import Limiter
from summarizer.serve.metrics import Metrics
from summarizer.serve.pool import SummarizerPool


class Service:
    """The state every request of one process shares."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.limiter = Limiter(config.max_inflight, config.max_queue)
        self.metrics = Metrics(self.limiter)
        self.cache = ResponseCache() if config.cache else None
        self.pool = SummarizerPool(config.settings, self.cache)
        self.draining = False

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Whether to send this process work, and each check's result: the prompts
        load, the answer cache is open, the default model's backend was built, and the
        process is not shutting down."""
        checks: dict[str, Any] = {}
        try:
            list_prompts()
            checks["prompts"] = "ok"
        except SummarizerError as e:
            checks["prompts"] = str(e)
        if self.cache is None:
            checks["cache"] = "off"
        else:
            checks["cache"] = "ok" if self.cache.disabled is None else self.cache.disabled
        checks["model"] = self.pool.default_summarizer.backend.model
        checks["draining"] = self.draining
        ready = checks["prompts"] == "ok" and checks["cache"] in ("ok", "off")
        return ready and not self.draining, checks

    async def aclose(self) -> None:
        await self.pool.aclose()
        if self.cache is not None:
            self.cache.close()
