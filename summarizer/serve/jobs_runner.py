"""Running jobs on the batch engine: one at a time, in a thread, resumable.

A job is :func:`~summarizer.batch.runner.run_batch` over its articles into its
``out.jsonl``, so its results are ``summarizer batch``'s lines, its cost is the
batch ledger, and a restart resumes it: the engine skips the articles that already
have a line. What the service adds:

* **One job at a time**, in a thread of its own (the engine runs its own event loop;
  ``workers`` is 1, so the server never forks), with ``--job-concurrency`` articles
  at once (at most ``--max-inflight``). Jobs do not take ``/v1/summaries`` slots: a
  queue of jobs must not make interactive requests wait or fail with 429. So the
  model endpoint sees at most ``--max-inflight`` summaries plus one job's
  concurrency. The embedded model generates one answer at a time: a job on it takes
  the same lock as the summaries route, article by article, so it shares the model
  instead of holding it for the whole job.
* **Cancel** stops admitting articles and cancels those under way (the engine's
  ``stop``): they get no line and count as not started.
* **Shutdown** (SIGTERM, or the app closing) does the same without cancelling the
  job: it goes back to ``queued``, and the next server on this cache folder resumes
  it where it stopped. A server killed outright leaves it ``running``, which the
  next one treats the same way.
* **Errors stay**: an article's error line is its answer, also across restarts
  (``retry_failed`` False), so lines never move under a client reading them by
  number. A job ``failed`` only when the job itself could not run (its model or
  prompt no longer valid on this server, an unreadable folder).
* **Expiry**: a job that has ended is deleted ``--job-ttl`` later, by a sweep that
  runs every minute (more often for a short TTL); until the sweep, the routes
  already answer 404 for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from summarizer.batch import BatchItem, BatchOptions, BatchStats, load_prices, run_batch
from summarizer.cache import default_cache_dir
from summarizer.errors import InputDecodeError, SummarizerError, UrlRefusedError
from summarizer.inputs import Article, decode
from summarizer.inputs.fetch import transport_for_fetches
from summarizer.inputs.read import read_html, read_url
from summarizer.redact import one_line
from summarizer.serve.config import ServeConfig
from summarizer.serve.jobs_store import FINAL, JobRecord, JobStore, JobsUnavailable
from summarizer.serve.pool import SummarizerPool
from summarizer.serve.ssrf import UrlPolicy
from summarizer.settings import Settings

_LOG = logging.getLogger("summarizer.serve")
#: Seconds :meth:`JobRunner.aclose` waits for the job under way to stop.
CLOSE_WAIT = 60.0
TEXT, HTML = "<text>", "<html>"  # as /v1/summaries names them


def _utf8(value: str, source: str) -> bytes:
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as e:  # a lone surrogate (the body's parser refuses them)
        raise InputDecodeError(f"{source}: not Unicode text (a lone surrogate)") from e


def _read(article: dict[str, Any], policy: UrlPolicy) -> Article:
    """As ``/v1/summaries`` reads one (``summaries.read_input``, which this module
    cannot import: that one imports the service, which holds this runner)."""
    if (text := article.get("text")) is not None:
        return Article(decode(_utf8(text, TEXT), TEXT), TEXT)
    if (page := article.get("html")) is not None:
        return read_html(_utf8(page, HTML), HTML)
    url = str(article["url"])
    try:
        with transport_for_fetches(policy.transport):
            return read_url(url)
    except UrlRefusedError as e:
        raise UrlRefusedError(f"{url}: {e}") from e


def read_item(article: dict[str, Any], policy: UrlPolicy, allow_url: bool) -> BatchItem:
    """A job's article as the engine's item; one that cannot be read is an item with
    its error (its line says why, as in ``summarizer batch``)."""
    url = article.get("url")
    source = TEXT if "text" in article else HTML if "html" in article else str(url)
    if url is not None and not allow_url:  # allowed when it was sent, not since a restart
        refused = UrlRefusedError(f"{url}: url inputs are off on this server (--allow-url)")
        return BatchItem(article["id"], source, error=refused)
    try:
        read = _read(article, policy)
    except SummarizerError as e:
        return BatchItem(article["id"], source, error=e)
    title = article.get("title") or read.title
    return BatchItem(article["id"], read.source, read.text, title, meta=read.meta)


class JobRunner:
    """The jobs of one server: its :class:`JobStore` and the one job running."""

    def __init__(self, store: JobStore, config: ServeConfig, pool: SummarizerPool) -> None:
        self.store = store
        self.config = config
        self.pool = pool
        queued = sorted((r for r in store.all() if r.status == "queued"), key=lambda r: r.created)
        self._queue: deque[str] = deque(r.id for r in queued)
        self._wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._current: tuple[JobRecord, threading.Event] | None = None
        self._closing = False
        self._busy = False  # the thread is in a job (it may outlive a cancelled wait)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="summarizer-job")
        #: Held while a POST looks for its Idempotency-Key and creates the job.
        self.creating = asyncio.Lock()

    def start(self) -> None:
        """Run queued jobs and the expiry sweep on the running loop (once)."""
        if self._tasks or self._closing:
            return
        self._wake = asyncio.Event()
        self._tasks = [asyncio.create_task(self._schedule()), asyncio.create_task(self._sweeps())]

    def submit(self, record: JobRecord) -> None:
        self._queue.append(record.id)
        if self._wake is not None:
            self._wake.set()

    async def cancel(self, record: JobRecord) -> None:
        """Cancel ``record``: at once when queued; a running one stops admitting
        articles, its articles under way are cancelled, and it ends ``cancelled``."""
        if record.status in FINAL or record.cancel_requested:
            return
        record.cancel_requested = True
        if self._current is not None and self._current[0] is record:
            self._current[1].set()
        else:
            with contextlib.suppress(ValueError):
                self._queue.remove(record.id)
            record.status, record.ended = "cancelled", time.time()
        try:
            await asyncio.to_thread(self.store.save, record)
        except OSError:  # a full disk: cancelled here all the same (not across a restart)
            _LOG.exception("job %s: its cancel could not be saved", record.id)

    def checkpoint(self) -> None:
        """Shutting down: start no job, and stop the one running so that it stays
        resumable. Safe from a signal handler (it only sets flags)."""
        self._closing = True
        current = self._current
        if current is not None:
            current[1].set()

    async def aclose(self) -> None:
        """Checkpoint, wait (up to :data:`CLOSE_WAIT`) for the job under way to be
        saved, stop the loops, and let go of the folder."""
        self.checkpoint()
        if self._wake is not None:
            self._wake.set()  # an idle scheduler sees it is closing, and ends
        if self._tasks:
            await asyncio.wait({self._tasks[0]}, timeout=CLOSE_WAIT)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._executor.shutdown(wait=False)
        if not self._busy:  # else the process ends with the thread, and so does the lock
            self.store.close()

    async def sweep(self) -> int:
        """Delete the jobs that have expired; how many. A job that ended later than now
        (the clock was put back since) is taken to have ended now
        (:meth:`JobStore.settle_clock`)."""
        now = time.time()
        for record in self.store.all():
            if record.ended is not None and record.ended > now:
                await asyncio.to_thread(self.store.settle_clock, record, now)
        expired = [r.id for r in self.store.all() if r.expired(now, self.config.job_ttl)]
        for job_id in expired:
            await asyncio.to_thread(self.store.delete, job_id)
        return len(expired)

    async def _sweeps(self) -> None:
        every = min(60.0, max(0.1, self.config.job_ttl / 4))
        while True:
            try:
                await self.sweep()
            except Exception:  # noqa: BLE001 - a bad disk or a bug: said, tried again later
                _LOG.exception("summarizer: cannot delete expired jobs")
            await asyncio.sleep(every)

    async def _schedule(self) -> None:
        assert self._wake is not None
        while not self._closing:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            record = self.store.get(self._queue.popleft())
            if record is not None and record.status == "queued":
                try:
                    await self._run(record)
                except Exception:  # noqa: BLE001 - its state not saved (a full disk): the
                    # next jobs still run; this one is resumed by the next server
                    _LOG.exception("job %s: its state could not be saved", record.id)

    async def _run(self, record: JobRecord) -> None:
        stop = threading.Event()
        record.status, record.started, record.error = "running", time.time(), None
        record.runs += 1
        self._current = (record, stop)
        stats: BatchStats | None = None
        try:
            await asyncio.to_thread(self.store.save, record)
            options = record.options
            settings = self.pool.settings_for(
                options.get("model"), options.get("prompt"), options.get("strict")
            )
            async with self.pool.lease(settings) as entry:
                lock = entry.lock if entry.one_at_a_time else None
                work = asyncio.get_running_loop().run_in_executor(
                    self._executor, self._work, record, settings, stop, lock
                )
                stats = await asyncio.shield(work)
        except SummarizerError as e:
            record.error = {"type": type(e).__name__, "message": one_line(e),
                            "exit_code": e.exit_code}  # fmt: skip
        except Exception:  # noqa: BLE001 - a bug fails its job, not the server
            _LOG.exception("job %s: internal error", record.id)
            record.error = {"type": "InternalError", "exit_code": 1, "message": "an unexpected "
                            f"error (a bug); please report it with job id {record.id}"}  # fmt: skip
        finally:
            self._current = None
        if record.error is not None:
            record.status, record.ended = "failed", time.time()
        elif stats is not None and not stats.interrupted:
            record.status, record.ended = "finished", time.time()
        elif record.cancel_requested:
            record.status, record.ended = "cancelled", time.time()
        else:  # stopped by a shutdown: the next server resumes it
            record.status = "queued"
        await asyncio.to_thread(self.store.save, record)

    def _work(
        self, record: JobRecord, settings: Settings, stop: threading.Event,
        lock: threading.Lock | None,
    ) -> BatchStats | None:  # fmt: skip
        """In the job thread: read the articles that have no line yet, run the engine."""
        self._busy = True
        try:
            done = self.store.answered(record.id)
            items = []
            for article in self.store.articles(record.id):
                if stop.is_set():
                    return None
                if article["id"] in done:  # the engine skips it: no need to read it again
                    items.append(BatchItem(article["id"], "<done>"))
                else:
                    items.append(read_item(article, self.config.url_policy, self.config.allow_url))
            options = BatchOptions(
                concurrency=self.config.job_slots, workers=1, use_cache=self.config.cache,
                language=record.options.get("language"),
            )  # fmt: skip
            return run_batch(
                [], self.store.out(record.id), settings, options, prices=load_prices(),
                items=items, stop=stop, model_lock=lock, retry_failed=False,
            )  # fmt: skip
        finally:
            self._busy = False


def open_jobs(config: ServeConfig, pool: SummarizerPool) -> tuple[JobRunner | None, str | None]:
    """The server's jobs, or None and why there are none, as a client may be told it
    (no path: the full reason is in the log). The server runs without them rather
    than not at all: summaries need no folder."""
    try:
        root = config.jobs_dir or default_cache_dir() / "jobs"
        return JobRunner(JobStore(root), config, pool), None
    except JobsUnavailable as e:
        reason, public = str(e), e.public
    except (OSError, RuntimeError) as e:  # RuntimeError: no home directory
        reason = f"no folder for jobs: {one_line(e)}"
        public = f"no folder for jobs ({type(e).__name__})"
    _LOG.warning("summarizer: jobs are off: %s", reason)
    return None, f"{public}; see the server's log"
