"""Many articles at once: concurrent, rate-limited, resumable, with a cost ledger.

With a remote model a batch spends its time waiting on the network, so N articles at
concurrency C and latency L should take about N·L/C. Three things get in the way,
and each has its answer here:

* **Client CPU.** Each article costs a few milliseconds of Python (request
  building, parsing, validation, grounding); at low latency and high concurrency
  one event loop cannot keep up. ``workers`` > 1 forks that many processes, each
  with its own event loop and a share of the concurrency and rate limits, while
  the parent alone reads inputs, deals articles in proportion to those shares,
  admits work under the budget and writes results. Within a loop, requests are
  written out before answers are parsed (see :mod:`summarizer.batch.ratelimit`).
* **Provider limits.** A :class:`~summarizer.batch.ratelimit.RateLimiter` per event loop
  keeps requests and tokens per minute under ``--rate-limit`` and backs the whole
  loop off on 429s.
* **Failures and interruptions.** Each article ends as exactly one JSONL line:
  its summary, or a structured error. Lines are written whole and flushed as they
  finish, so Ctrl-C or a crash leaves a valid file; re-running the same command
  skips the articles that already have a summary there and retries the failed
  ones.

The embedded model runs one article at a time in the parent process: the model is
loaded once, and llama.cpp already uses every core for one generation.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import math
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import httpx

from summarizer.backends import backend_for
from summarizer.backends._speedups import preload, remembered_async_validator_checks
from summarizer.backends.http import ShardedTransport, ssl_context
from summarizer.batch.ledger import (
    BatchStats,
    append_ledger,
    error_record,
    load_finished,
    success_record,
)
from summarizer.batch.pricing import Price, price_for
from summarizer.batch.ratelimit import RateLimiter
from summarizer.cache import ResponseCache
from summarizer.errors import ConfigurationError, DatasetError, SummarizerError, WorkerDiedError
from summarizer.inputs.fetch import is_url
from summarizer.inputs.read import decode, read_article
from summarizer.pipeline import Summarizer
from summarizer.settings import Settings
from summarizer.tokens import answer_tokens, estimate_tokens

# ``auto`` workers: one process per this many concurrent requests, up to the cores.
_REQUESTS_PER_WORKER = 25
_SUFFIXES = (".txt", ".html", ".htm")


# -- inputs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchItem:
    """One article to summarize, or the reason its input could not be read."""

    id: str
    source: str
    text: str | None = None
    title: str | None = None
    error: SummarizerError | None = None
    meta: dict[str, Any] | None = None


def collect_items(targets: Sequence[str | Path]) -> list[BatchItem]:
    """Articles from files, directories of ``.txt`` files and JSONL files.

    A JSONL line is ``{"id": ..., "text": ..., "title": ... (optional)}``. An input
    that cannot be read becomes an item carrying its error, so that it is reported
    in the output like any failed article. Two articles with one id would make the
    output ambiguous, so that stops the batch before it starts.
    """
    items: list[BatchItem] = []
    for target in targets:
        path = Path(target)
        if is_url(str(target)):
            items.append(_file_item(str(target), str(target)))
        elif path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES and p.is_file())
            if not files:
                raise DatasetError(f"{path}: no .txt or .html files in this directory")
            items += [_file_item(p, p.relative_to(path).with_suffix("").as_posix()) for p in files]
        elif path.suffix == ".jsonl":
            items += _jsonl_items(path)
        else:
            items.append(_file_item(path, path.stem))
    seen: dict[str, str] = {}
    for item in items:
        if item.id in seen:
            raise DatasetError(
                f"duplicate article id {item.id!r} ({seen[item.id]} and {item.source}); "
                "ids name output lines, so each must be unique"
            )
        seen[item.id] = item.source
    return items


def _file_item(path: Path | str, item_id: str) -> BatchItem:
    try:
        article = read_article(path)
    except SummarizerError as e:
        return BatchItem(item_id, str(path), error=e)
    return BatchItem(item_id, article.source, article.text, article.title, meta=article.meta)


def _jsonl_items(path: Path) -> list[BatchItem]:
    try:
        text = decode(path.read_bytes(), str(path))
    except FileNotFoundError:
        return [BatchItem(path.stem, str(path), error=DatasetError(f"{path}: no such file"))]
    except SummarizerError as e:
        return [BatchItem(path.stem, str(path), error=e)]
    items = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            items.append(BatchItem(where, where, error=DatasetError(f"{where}: not JSON: {e}")))
            continue
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            message = f'{where}: expected an object with a "text" string'
            items.append(BatchItem(where, where, error=DatasetError(message)))
            continue
        item_id = str(row["id"]) if row.get("id") not in (None, "") else where
        title = row.get("title") if isinstance(row.get("title"), str) else None
        items.append(BatchItem(item_id, where, row["text"], title))
    return items


class Recorder:
    """The single writer: appends result lines, keeps totals, enforces ``max_cost``.

    ``max_cost`` is checked before an article starts, against what was spent plus
    the worst case of everything in flight (prompt estimate plus ``max_tokens`` of
    output, per request), so the budget is not overrun by work already started.
    """

    def __init__(
        self,
        out: Path,
        stats: BatchStats,
        *,
        price: Price | None,
        max_cost: float | None,
        worst_case_tokens: Callable[[BatchItem], tuple[int, int]],
        on_change: Callable[[BatchStats], None] | None = None,
    ) -> None:
        self.stats = stats
        self.price = price
        self.max_cost = max_cost
        self.worst_case_tokens = worst_case_tokens
        self.on_change = on_change
        self.reserved: dict[str, float] = {}
        self._file = out.open("a", encoding="utf-8")

    def admit(self, item: BatchItem) -> bool:
        if self.max_cost is None or item.error is not None:
            return True
        assert self.price is not None  # checked when the batch starts
        need = self.price.cost(*self.worst_case_tokens(item))
        spent = self.stats.cost_usd or 0.0
        if spent + sum(self.reserved.values()) + need > self.max_cost:
            self.stats.budget_hit = True
            return False
        self.reserved[item.id] = need
        return True

    def write(self, record: dict[str, Any], line: str) -> None:
        self._file.write(line + "\n")
        self._file.flush()
        self.reserved.pop(record["id"], None)
        s = self.stats
        s.done += 1
        s.failed += record["status"] == "error"
        s.cached += bool(record["cached"])
        s.prompt_tokens += record["usage"]["prompt_tokens"]
        s.completion_tokens += record["usage"]["completion_tokens"]
        if s.cost_usd is not None:
            s.cost_usd = None if record["cost_usd"] is None else s.cost_usd + record["cost_usd"]
        s.responses += record["attempts"]["responses"]
        s.reasks += record["attempts"]["reasks"]
        s.transport_retries += record["attempts"]["transport_retries"]
        if self.on_change is not None:
            self.on_change(s)

    def close(self) -> None:
        self._file.close()


# -- running ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchOptions:
    concurrency: int = 8
    workers: int | None = None  # None: auto
    rpm: float | None = None
    tpm: float | None = None
    max_cost: float | None = None
    use_cache: bool = True
    language: str | None = None  # output language; None: each article's own


def article_tasks(concurrency: int) -> int:
    """Articles under way per event loop: half again as many as request slots.

    ``concurrency`` bounds requests in flight (the limiter enforces it); the extra
    articles wait, request ready, for a slot freed while others are being parsed
    and grounded. Measured on the batch benchmark (median of 5 runs, wall / ideal,
    before articles were dealt in proportion to the workers' slots):
    1.155 with 1x, 1.147 with 1.25x, 1.144 with 1.5x, 1.153 with 2x.
    """
    return math.ceil(concurrency * 1.5)


def resolve_workers(runs_locally: bool, options: BatchOptions, articles: int) -> int:
    """How many processes: for remote models one per 25 requests in flight; for the
    embedded model one per core, up to 2, each with its own copy of the model on
    its own cores (measured on 2 cores: 4 articles in 147 s with two one-thread
    processes, 213 s with one two-thread process; benchmarks/local_batch.py)."""
    cores = os.cpu_count() or 1
    if runs_locally:
        wanted = options.workers if options.workers is not None else min(cores, 2)
        return max(1, min(wanted, articles))
    if options.workers is not None:
        return max(1, min(options.workers, options.concurrency))
    auto = math.ceil(options.concurrency / _REQUESTS_PER_WORKER)
    return max(1, min(auto, cores))


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` requests in flight shared by ``parts`` workers, never more in all
    (a provider's concurrency limit is the batch's, not each worker's)."""
    return [total // parts + (i < total % parts) for i in range(parts)]


def _http_client(concurrency: int, settings: Settings) -> httpx.AsyncClient:
    """One connection pool sized to the concurrency, shared by every request."""
    return httpx.AsyncClient(
        transport=ShardedTransport(concurrency),
        verify=ssl_context(),
        timeout=httpx.Timeout(settings.timeout, connect=min(settings.timeout, 10.0)),
    )


async def _summarize_all(
    settings: Settings,
    options: BatchOptions,
    concurrency: int,
    rpm: float | None,
    tpm: float | None,
    next_item: Callable[[], BatchItem | None] | None,
    queue: asyncio.Queue[BatchItem | None] | None,
    emit: Callable[[dict[str, Any], str], None],
    price: Price | None,
    on_limiter: Callable[[RateLimiter], None] | None = None,
) -> None:
    """Summarize items with ``concurrency`` tasks on this event loop.

    Items come from ``next_item`` (inline: the parent admits each one) or from
    ``queue`` (a worker: the parent already admitted them); ``None`` ends a task.
    """
    limiter = RateLimiter(concurrency, rpm, tpm)
    if on_limiter is not None:
        on_limiter(limiter)
    cache = ResponseCache() if options.use_cache else None
    runs_locally = backend_for(settings).runs_locally
    http = None if runs_locally else _http_client(concurrency, settings)
    try:
        async with Summarizer(
            settings, async_http_client=http, cache=cache, throttle=limiter
        ) as summarizer:

            async def run_one(item: BatchItem) -> None:
                if item.error is not None:
                    emit(*error_record(item.id, item.source, item.error, price))
                    return
                assert item.text is not None
                try:
                    summary = await summarizer.asummarize(
                        item.text, source=item.source, title=item.title,
                        language=options.language, input_meta=item.meta,
                    )  # fmt: skip
                except Exception as e:  # noqa: BLE001 - every failure is one line, the rest go on
                    emit(*error_record(item.id, item.source, e, price))
                else:
                    emit(*success_record(item.id, item.source, summary, price))

            async def task() -> None:
                while True:
                    if queue is not None:
                        item = await queue.get()
                    else:
                        assert next_item is not None
                        item = next_item()
                    if item is None:
                        return
                    await limiter.requests_sent()  # see summarizer.batch.ratelimit
                    await run_one(item)

            tasks = concurrency if runs_locally else article_tasks(concurrency)
            await asyncio.gather(*(task() for _ in range(tasks)))
    finally:
        if http is not None:
            await http.aclose()
        if cache is not None:
            cache.close()


def run_batch(
    targets: Sequence[str | Path],
    out: Path,
    settings: Settings,
    options: BatchOptions,
    *,
    prices: dict[str, Price],
    on_change: Callable[[BatchStats], None] | None = None,
    items: Iterable[BatchItem] | None = None,
) -> BatchStats:
    """Summarize every article in ``targets`` into ``out`` (JSONL); see the module doc.

    Returns the run's totals; they are also appended to ``<out>.ledger.json``. On
    Ctrl-C the lines written so far stay, the totals are marked ``interrupted`` and
    ``KeyboardInterrupt`` propagates.
    """
    with Summarizer(settings) as probe:
        backend = probe.backend
        params = probe.generation_params()
        prompt = probe.prompt.ref
    price = price_for(backend.model, prices, free=backend.runs_locally)
    if options.max_cost is not None and price is None:
        raise ConfigurationError(
            f"--max-cost needs a price for {backend.model}: add it to a --prices file"
        )
    if any(Path(t).resolve() == out.resolve() for t in targets if not is_url(str(t))):
        raise ConfigurationError(f"{out} is one of the inputs; choose another --out")
    all_items = list(items) if items is not None else collect_items(targets)
    out.parent.mkdir(parents=True, exist_ok=True)
    finished = load_finished(out)
    todo = [item for item in all_items if item.id not in finished]
    stats = BatchStats(total=len(all_items), skipped=len(all_items) - len(todo))
    if price is None:
        stats.cost_usd = None
    max_out = answer_tokens(params)
    attempts = 1 + settings.max_reasks

    def worst_case(item: BatchItem) -> tuple[int, int]:
        prompt = estimate_tokens(item.text or "") + 1500  # + instructions and schema
        return prompt * attempts, max_out * attempts

    recorder = Recorder(
        out,
        stats,
        price=price,
        max_cost=options.max_cost,
        worst_case_tokens=worst_case,
        on_change=on_change,
    )
    workers = resolve_workers(backend.runs_locally, options, len(todo))
    started = datetime.now(UTC)
    try:
        if workers == 1:
            _run_inline(todo, settings, options, recorder, price, stats, backend.runs_locally)
        else:
            _run_workers(
                todo, settings, options, recorder, price, workers, stats, backend.runs_locally
            )
    except KeyboardInterrupt:
        stats.interrupted = True
        raise
    finally:
        recorder.close()
        stats.not_started = len(todo) - stats.done
        run = {
            "started": started.isoformat(timespec="seconds"),
            "model": backend.model,
            "prompt": prompt,
            "concurrency": options.concurrency,
            "workers": workers,
            "rate_limit": {"rpm": options.rpm, "tpm": options.tpm},
            "max_cost": options.max_cost,
        }
        append_ledger(out, run, stats)
    return stats


def _run_inline(
    todo: list[BatchItem],
    settings: Settings,
    options: BatchOptions,
    recorder: Recorder,
    price: Price | None,
    stats: BatchStats,
    runs_locally: bool,
) -> None:
    pending = iter(todo)
    stopped = False

    def next_item() -> BatchItem | None:
        nonlocal stopped
        if stopped:
            return None
        item = next(pending, None)
        if item is not None and not recorder.admit(item):
            stopped = True
            return None
        return item

    limiters: list[RateLimiter] = []
    concurrency = 1 if runs_locally else options.concurrency
    try:
        with remembered_async_validator_checks():
            asyncio.run(
                _summarize_all(
                    settings,
                    options,
                    concurrency,
                    options.rpm,
                    options.tpm,
                    next_item,
                    None,
                    recorder.write,
                    price,
                    limiters.append,
                )
            )
    finally:
        stats.throttled += sum(limiter.stats.throttled for limiter in limiters)


# -- worker processes ------------------------------------------------------------------


def _tune_gc() -> None:
    """Fewer garbage collections in a worker: the SDKs allocate many short-lived
    objects per request, and with the default thresholds the collector took about a
    quarter of a worker's CPU (measured). Objects inherited from the parent are
    frozen so that collections skip them (and leave their pages shared)."""
    gc.freeze()
    gc.set_threshold(50_000, 50, 1000)


def _worker_main(
    conn: Connection,
    settings: Settings,
    options: BatchOptions,
    concurrency: int,
    fraction: float,
    price: Price | None,
) -> None:
    """A forked worker: items arrive on ``conn``, result lines go back on it.

    It runs ``concurrency`` requests at once and ``fraction`` of the batch's rate
    limits."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    _tune_gc()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[BatchItem | None] = asyncio.Queue()

        def readable() -> None:
            # Everything that has arrived, not one message per wake-up: at the start
            # the parent sends dozens at once, and the tasks should not wait for them.
            while True:
                try:
                    message = conn.recv()
                except EOFError:
                    message = None
                if message is None:
                    loop.remove_reader(conn.fileno())
                    for _ in range(article_tasks(concurrency)):  # one per task
                        queue.put_nowait(None)
                    return
                queue.put_nowait(message)
                if not conn.poll():
                    return

        loop.add_reader(conn.fileno(), readable)
        limiters: list[RateLimiter] = []

        def emit(record: dict[str, Any], line: str) -> None:
            conn.send(("record", record, line))

        rpm = options.rpm * fraction if options.rpm else None
        tpm = options.tpm * fraction if options.tpm else None
        await _summarize_all(
            settings, options, concurrency, rpm, tpm, None, queue, emit, price, limiters.append
        )
        conn.send(("done", sum(limiter.stats.throttled for limiter in limiters), None))

    with remembered_async_validator_checks():
        asyncio.run(main())
    conn.close()


def pick_worker(
    ready: Iterable[int],
    dealt: Sequence[int],
    shares: Sequence[int],
    outstanding: Sequence[int],
    windows: Sequence[int],
) -> int:
    """The worker the next article goes to, of those with room for one.

    In proportion to the workers' request slots first: with articles of equal
    length, one article over its share costs a worker a whole extra round of
    requests at the end (measured at 1 s latency: 11.1 s with 251 and 249 articles,
    10.2-10.3 s with 250 each). Then the least loaded.
    """
    return min(ready, key=lambda w: (dealt[w] / shares[w], outstanding[w] / windows[w]))


def _run_workers(
    todo: list[BatchItem],
    settings: Settings,
    options: BatchOptions,
    recorder: Recorder,
    price: Price | None,
    workers: int,
    stats: BatchStats,
    runs_locally: bool,
) -> None:
    # Workers inherit what is done here once: imports and, for a remote model, the
    # response model and its schema, the parsed and compiled prompt, the TLS context.
    # Each worker is sent a little more than its concurrency in flight (its window),
    # so none sits idle between finishing an article and hearing about the next.
    if runs_locally:
        preload()
        # One article at a time per process, on an equal share of the cores; it
        # takes a minute, so the next one is sent when one is done.
        shares, windows = [1] * workers, [1] * workers
        threads = settings.local_threads or max(1, (os.cpu_count() or 1) // workers)
        settings = settings.with_(local_threads=threads)
    else:
        with Summarizer(settings) as warm:
            warm.prepare()
        ssl_context()
        shares = split_evenly(options.concurrency, workers)
        windows = [article_tasks(share) + 2 for share in shares]
    context = multiprocessing.get_context("fork")
    conns: list[Connection] = []
    procs = []
    for share in shares:
        parent_end, child_end = context.Pipe()
        proc = context.Process(
            target=_worker_main,
            args=(child_end, settings, options, share, share / sum(shares), price),
            daemon=True,
        )
        proc.start()
        child_end.close()
        conns.append(parent_end)
        procs.append(proc)
    outstanding = [0] * workers
    dealt = [0] * workers
    in_flight: list[dict[str, BatchItem]] = [{} for _ in range(workers)]
    pending = iter(todo)
    undealt = len(todo)
    # Articles queued in a worker beyond its request slots cannot move to another
    # worker; near the end they would leave one worker busy while the other idles
    # (measured: 255 against 245 articles, the last answer 50-100 ms later). So the
    # last ones are dealt only to a worker with a slot free.
    tail = sum(windows) - sum(shares)
    running = set(range(workers))  # workers that have not reported "done"
    told_to_stop: set[int] = set()
    try:
        while running:
            # One article at a time (see pick_worker), so a short batch is shared
            # out rather than queued on the first worker.
            open_workers = running - told_to_stop
            while undealt and open_workers:
                limits = windows if undealt > tail else shares
                ready = [w for w in open_workers if outstanding[w] < limits[w]]
                if not ready:
                    break
                w = pick_worker(ready, dealt, shares, outstanding, windows)
                item = next(pending, None)
                if item is None or not recorder.admit(item):
                    undealt = 0
                    break
                conns[w].send(item)
                undealt -= 1
                dealt[w] += 1
                outstanding[w] += 1
                in_flight[w][item.id] = item
            if not undealt:
                for w in running - told_to_stop:
                    with contextlib.suppress(OSError):
                        conns[w].send(None)
                    told_to_stop.add(w)
            for conn in wait([conns[w] for w in running], timeout=1.0):
                assert isinstance(conn, Connection)
                w = conns.index(conn)
                try:
                    kind, payload, line = conn.recv()
                except EOFError:  # the worker died: its articles fail, to retry on a rerun
                    running.discard(w)
                    code = procs[w].exitcode
                    lost = WorkerDiedError(f"the worker process died (exit code {code})")
                    for item in in_flight[w].values():
                        recorder.write(*error_record(item.id, item.source, lost, price))
                    in_flight[w].clear()
                    continue
                if kind == "record":
                    recorder.write(payload, line)
                    outstanding[w] -= 1
                    in_flight[w].pop(payload["id"], None)
                else:
                    stats.throttled += int(payload)
                    running.discard(w)
    finally:
        for proc in procs:
            if running:  # interrupted or failed: do not wait for work in flight
                proc.terminate()
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
        for conn in conns:
            conn.close()
