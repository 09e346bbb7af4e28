"""``summarizer batch --engine openai-batch``: the articles through the provider's Batch
API, at its batch price (half the live one at OpenAI), with the live engine's
requests, validation, grounding, re-asks, cache, output lines and ledger.

A run, in order:

1. **Probe**: the endpoint must list batches and files, or nothing is uploaded
   (:class:`~summarizer.errors.BatchAPIUnavailableError`).
2. **Manifest** (``<out>.batches.json``): the answers kept from earlier runs are
   replayed, the batches still running are followed again, and a batch a killed run
   created without writing its id down is found by name instead of created twice.
3. **Rounds**: every request the articles need goes out as one round of batches (cut
   at 50,000 lines and 200 MB a file), which is polled every ``--poll`` seconds until
   each ends; both its files are read and every answer is replayed through the
   extraction (:mod:`summarizer.backends.replay`). An answer that does not validate is
   re-asked in the next round (up to ``--max-reasks``), a request that failed (error
   line, expiry, a batch that failed) is sent again (up to ``--retries``), an article
   ends as one line, as live.
4. **Stragglers**: once at most ``--finish-live N`` articles still need a request and
   no batch runs, they are finished with live requests (one at a time, at the live
   price) instead of another round that may take a day.

Ctrl-C leaves the remote batches running (the manifest has them); the same command
picks them up. ``--cancel`` cancels them, keeps what they finished, sends nothing new.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from summarizer.backends.base import Backend, CallStats
from summarizer.batch.items import BatchItem
from summarizer.batch.ledger import Recorder
from summarizer.batch.openai_batch.articles import Article
from summarizer.batch.openai_batch.job import EngineStats, Job, Limits
from summarizer.batch.openai_batch.manifest import Manifest
from summarizer.batch.openai_batch.pricing import batch_price
from summarizer.batch.pricing import Price
from summarizer.batch.scheduling import BatchOptions
from summarizer.cache import ResponseCache
from summarizer.contract import SCHEMA_VERSION
from summarizer.errors import ConfigurationError
from summarizer.pipeline import Summarizer
from summarizer.settings import Settings


class OpenAIBatchEngine:
    """Runs a batch's articles through the Batch API (see the module doc); handed to
    :func:`~summarizer.batch.runner.run_batch` as its ``engine``."""

    name = "openai-batch"

    def __init__(
        self,
        *,
        poll: float = 60.0,
        finish_live: int = 0,
        cancel: bool = False,
        limits: Limits | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if poll < 0 or finish_live < 0:
            raise ConfigurationError("--poll and --finish-live must be 0 or more")
        self.poll = poll
        self.finish_live = finish_live
        self.cancel = cancel
        self.limits = limits or Limits()
        self.sleep = sleep
        #: What the last run did at the provider.
        self.stats = EngineStats()

    def check(self, backend: Backend) -> None:
        """Refuse a model that is not behind an OpenAI-compatible endpoint."""
        from summarizer.backends.openai import OpenAIBackend

        if not isinstance(backend, OpenAIBackend):
            raise ConfigurationError(
                f"--engine openai-batch sends requests to a provider's Batch API, and "
                f"{backend.model} is not a model behind an OpenAI-compatible endpoint; "
                "use --engine live"
            )

    def price(self, live: Price | None, settings: Settings) -> Price | None:
        """The price the ledger charges: the batch price (see ``pricing.py``)."""
        return batch_price(live, settings)

    def describe(self) -> dict[str, Any]:
        return {"engine": self.name, "poll_s": self.poll, "finish_live": self.finish_live}

    def run(
        self, todo: list[BatchItem], settings: Settings, options: BatchOptions,
        recorder: Recorder, out: Path, live_price: Price | None,
    ) -> None:  # fmt: skip
        """Summarize ``todo`` into ``recorder`` (see the module doc)."""
        from summarizer.backends.openai_batch import BatchAPI

        cache = ResponseCache() if options.use_cache else None
        try:
            with Summarizer(settings, cache=cache) as summarizer:
                api = BatchAPI(summarizer.backend)  # type: ignore[arg-type]  # check()ed
                try:
                    self._run(todo, summarizer, api, options, recorder, out, live_price)
                finally:
                    api.close()
        finally:
            if cache is not None:
                cache.close()

    def _run(
        self, todo: list[BatchItem], summarizer: Summarizer, api: Any, options: BatchOptions,
        recorder: Recorder, out: Path, live_price: Price | None,
    ) -> None:  # fmt: skip
        backend = summarizer.backend
        identity = {
            "model": backend.model,
            "endpoint": getattr(backend, "where", None),
            "prompt": summarizer.prompt.ref,
            "prompt_sha256": summarizer.prompt.sha256,
            "schema_version": SCHEMA_VERSION,
            "mode": backend.mode,
        }
        manifest = Manifest.load(out, identity)
        if not todo and all(e.state == "done" for e in manifest.entries):
            return  # nothing to send, nothing to follow
        api.probe()  # before anything is uploaded

        def publish(stats: EngineStats) -> None:
            self.stats = stats
            if recorder.ledger is not None:
                recorder.ledger.run["batch_api"] = stats.as_dict()
                recorder.ledger.changed()

        job = Job(api, manifest, recorder, self.limits, publish)
        publish(job.stats)
        articles = []
        for item in todo:
            article = Article(item, manifest.generations.get(item.id, 0), summarizer,
                              recorder.price, live_price)  # fmt: skip
            article.start(options.language)
            articles.append(article)
        job.add(articles)
        job.resolve(create=not self.cancel)
        if self.cancel:
            job.cancel()
            self._wait(job)
            return
        job.settle()
        while True:
            needing = job.needing()
            if needing and not job.open() and len(needing) <= self.finish_live:
                self._finish_live(job, backend, needing)  # each of them ends there
                needing = job.needing()
            if needing:
                job.submit(needing)
            if not job.open():
                return
            self._wait(job)

    def _wait(self, job: Job) -> None:
        while not job.poll():
            self.sleep(self.poll)

    def _finish_live(self, job: Job, backend: Backend, articles: list[Article]) -> None:
        """The last articles' remaining calls as live requests, one at a time."""

        def send(body: dict[str, Any], stats: CallStats) -> Any:
            job.stats.live_requests += 1
            return backend.create(body, stats)

        job.settle([a.item.id for a in articles], send=send)
        job._publish()
