"""What one server process holds: its limits, metrics, answer cache and summarizers.

Built once, when the app is (:func:`summarizer.serve.app.create_app`), so that a bad
setting (an unknown model, an unreadable config file) fails ``summarizer serve`` at
start with one line, not every request later. ``draining`` is set when a SIGTERM
arrives (:mod:`summarizer.serve.run`): ``/readyz`` then answers 503, so a load
balancer stops sending, and new summaries are refused while those in flight finish.

``jobs`` (:mod:`summarizer.serve.jobs_runner`) runs the jobs API's background work,
or is None when the jobs folder cannot be used (``jobs_off`` says why): the server
then serves summaries without jobs rather than not at all. Its loops start on the
running event loop: at once when the service is built inside one, else when uvicorn
starts (:mod:`summarizer.serve.run`) or a jobs route is first called.
"""

from __future__ import annotations

import asyncio
from typing import Any

from summarizer.cache import ResponseCache
from summarizer.errors import ConfigurationError, SummarizerError
from summarizer.prompts import list_prompts
from summarizer.serve.config import ServeConfig
from summarizer.serve.jobs_runner import open_jobs
from summarizer.serve.jobs_store import STATUSES
from summarizer.serve.limits import Limiter
from summarizer.serve.metrics import Metrics
from summarizer.serve.pool import SummarizerPool
from summarizer.serve.readiness import ModelCheck
from summarizer.serve.worker_pool import WorkerPool
from summarizer.settings import LOCAL, Settings


class Service:
    """The state every request of one process shares."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        if config.workers > 1 and Settings.resolve(**config.settings).model_ref.provider == LOCAL:
            raise ConfigurationError(
                f"--workers {config.workers}: the embedded model generates one answer at a "
                "time and uses every core while it does, so more processes only make each "
                "slower (and load the model N times); serve it with one"
            )
        self.limiter = Limiter(config.max_inflight, config.max_queue)
        self.metrics = Metrics(self.limiter)
        self.cache = ResponseCache() if config.cache else None
        self.pool = SummarizerPool(config.settings, self.cache)
        self.model_check = ModelCheck(self.pool.default, self.pool.default_summarizer.backend)
        self.workers: WorkerPool | None = None
        if config.workers > 1:
            self.workers = WorkerPool(config.workers, config.settings, config.cache)
        self.draining = False
        self.jobs, self.jobs_off = open_jobs(config, self.pool)
        if self.jobs is not None:
            self.metrics.watch_jobs(self.jobs.store.counts, STATUSES)
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                pass  # started with the server's loop
            else:
                self.jobs.start()

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Whether to send this process work, and each check's result: the prompts
        load, the answer cache is open, the default model's backend was built and its
        model answers (:mod:`summarizer.serve.readiness`; as last checked: see
        :meth:`areadiness`), and the process is not shutting down."""
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
        model_ready, checks["draining"] = True, self.draining
        if self.workers is not None:
            running = self.workers.running
            checks["workers"] = f"{running} of {self.workers.count} running"
            model_ready = running > 0
        if self.model_check.name is not None:
            model_ready, said = self.model_check.last or (False, "not checked yet")
            checks[self.model_check.name] = said
        ready = checks["prompts"] == "ok" and checks["cache"] in ("ok", "off") and model_ready
        return ready and not self.draining, checks

    async def areadiness(self) -> tuple[bool, dict[str, Any]]:
        """:meth:`readiness`, with the model checked again if the last check is stale
        (not while draining: the answer is 503 anyway)."""
        if not self.draining:
            await self.model_check.check()
        return self.readiness()

    def checkpoint(self) -> None:
        """Shutting down (a signal): stop the job under way so that it stays resumable."""
        if self.jobs is not None:
            self.jobs.checkpoint()

    def start(self) -> None:
        """Start the background work on the running loop: the jobs' loops and the
        worker processes (which then import the library while the server starts)."""
        if self.jobs is not None:
            self.jobs.start()
        if self.workers is not None:
            self.workers.start()

    async def aclose(self) -> None:
        if self.jobs is not None:
            await self.jobs.aclose()
        if self.workers is not None:
            await self.workers.aclose()
        await self.pool.aclose()
        if self.cache is not None:
            self.cache.close()
