"""Worker processes: at low latency and high concurrency one event loop's Python
cannot keep up, so ``workers`` > 1 forks that many, each running
:func:`~summarizer.batch.scheduling.summarize_all` with its share of the
concurrency and rate limits, while the parent alone deals articles out and writes
results (see :mod:`summarizer.batch.runner`).

A worker's death is its own articles' failure, never the batch's: every read and
write on its pipe survives the other end going away (EOF, reset, broken pipe), and
the articles it held become ``WorkerDiedError`` lines, which a rerun retries. The
parent's death is its workers' end: on Linux the kernel kills them
(``PR_SET_PDEATHSIG``); elsewhere they exit when their pipe reports the parent gone,
which it does because each worker closes every inherited copy of the parent's ends
(and the output file and its lock) as it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any, NoReturn

from summarizer.backends._speedups import preload
from summarizer.backends.http import ssl_context
from summarizer.batch.items import BatchItem
from summarizer.batch.ledger import BatchStats, Recorder, RunLedger, error_record
from summarizer.batch.pricing import Price
from summarizer.batch.ratelimit import RateLimiter
from summarizer.batch.scheduling import BatchOptions, article_tasks, split_evenly, summarize_all
from summarizer.errors import WorkerDiedError
from summarizer.pipeline import Summarizer
from summarizer.settings import Settings


def tune_gc() -> None:
    """Fewer garbage collections in a process that serves many requests: the SDKs
    allocate many short-lived objects per request, and with the default thresholds
    the collector took about a quarter of a worker's CPU (measured). What the process
    holds by now (inherited from a parent, or built at start) is frozen so that
    collections skip it (and a forked child leaves its pages shared). A summary
    leaves no reference cycles (tests/test_answer_path.py), so in steady use the
    young generation never fills and the collector does not run at all."""
    gc.freeze()
    gc.set_threshold(50_000, 50, 1000)


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when the parent dies (Linux); elsewhere the
    pipe's end of file says so (see ``readable`` below)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # it died before that took effect
        os._exit(1)


def _parent_gone() -> NoReturn:
    """The parent's end of the pipe is closed or broken: nobody will write these
    results, so stop now (the parent only closes it after telling us to stop)."""
    os._exit(1)


def _worker_main(
    conn: Connection,
    settings: Settings,
    options: BatchOptions,
    concurrency: int,
    fraction: float,
    price: Price | None,
    parent: int,
    inherited: Sequence[Connection],
    close_inherited: Callable[[], None] | None,
    runs_locally: bool,
) -> None:
    """A forked worker: items arrive on ``conn``, result lines go back on it.

    It runs ``concurrency`` requests at once and ``fraction`` of the batch's rate
    limits. ``inherited`` are the parent's ends of the workers' pipes (its own
    included) and ``close_inherited`` lets go of the parent's other files: kept open
    here, they would hide the parent's death from the other workers and keep the
    output locked."""
    die_with_parent(parent)
    for end in inherited:
        end.close()
    if close_inherited is not None:
        close_inherited()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    tune_gc()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[BatchItem | None] = asyncio.Queue()

        def readable() -> None:
            # Everything that has arrived, not one message per wake-up: at the start
            # the parent sends dozens at once, and the tasks should not wait for them.
            while True:
                try:
                    message = conn.recv()
                except (EOFError, OSError):
                    _parent_gone()
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
            try:
                conn.send(("record", record, line))
            except OSError:
                _parent_gone()

        rpm = options.rpm * fraction if options.rpm else None
        tpm = options.tpm * fraction if options.tpm else None
        await summarize_all(
            settings, options, concurrency, rpm, tpm, None, queue, emit, price, limiters.append,
            runs_locally=runs_locally,
        )  # fmt: skip
        try:
            conn.send(("done", sum(limiter.stats.throttled for limiter in limiters), None))
        except OSError:
            _parent_gone()

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


def run_workers(
    todo: list[BatchItem],
    settings: Settings,
    options: BatchOptions,
    recorder: Recorder,
    price: Price | None,
    workers: int,
    stats: BatchStats,
    runs_locally: bool,
    close_inherited: Callable[[], None] | None = None,
) -> None:
    """Deal ``todo`` to ``workers`` forked processes and record what they send back.

    ``close_inherited`` runs first thing in each worker: it closes what the parent
    has open that a worker must not keep (the output file and its lock)."""
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
    parent = os.getpid()
    for share in shares:
        parent_end, child_end = context.Pipe()
        proc = context.Process(
            target=_worker_main,
            args=(child_end, settings, options, share, share / sum(shares), price,
                  parent, [*conns, parent_end], close_inherited, runs_locally),
            daemon=True,
        )  # fmt: skip
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

    def died(w: int) -> None:
        """Worker ``w``'s pipe ended or broke: its articles fail, to retry on a rerun."""
        running.discard(w)
        told_to_stop.add(w)
        proc = procs[w]
        proc.join(timeout=1.0)  # reaped, to say how it ended
        if proc.is_alive():  # alive but cut off: it can no longer report anything
            proc.kill()
            proc.join(timeout=5)
        lost = WorkerDiedError(
            f"worker process {proc.pid} died ({_how(proc.exitcode)}) with this article "
            "in flight; run the same command again to retry it"
        )
        for item in in_flight[w].values():
            recorder.write(*error_record(item.id, item.source, lost, price))
        in_flight[w].clear()

    def send(w: int, message: BatchItem | None) -> None:
        try:
            conns[w].send(message)
        except OSError:  # BrokenPipeError, ConnectionResetError: it is gone
            died(w)

    try:
        while running:
            # One article at a time (see pick_worker), so a short batch is shared
            # out rather than queued on the first worker.
            while undealt:
                open_workers = running - told_to_stop
                limits = windows if undealt > tail else shares
                ready = [w for w in open_workers if outstanding[w] < limits[w]]
                if not ready:
                    break
                w = pick_worker(ready, dealt, shares, outstanding, windows)
                item = next(pending, None)
                if item is None or not recorder.admit(item):
                    undealt = 0
                    break
                undealt -= 1
                dealt[w] += 1
                outstanding[w] += 1
                in_flight[w][item.id] = item
                send(w, item)
            if not undealt:
                for w in sorted(running - told_to_stop):
                    told_to_stop.add(w)
                    send(w, None)
            for conn in wait([conns[w] for w in running], timeout=RunLedger.INTERVAL):
                assert isinstance(conn, Connection)
                w = conns.index(conn)
                if w not in running:  # found dead while sending, earlier in this loop
                    continue
                try:
                    kind, payload, line = conn.recv()
                except (EOFError, OSError):  # the worker died, maybe mid-message
                    died(w)
                    continue
                if kind == "record":
                    recorder.write(payload, line)
                    outstanding[w] -= 1
                    in_flight[w].pop(payload["id"], None)
                else:
                    stats.throttled += int(payload)
                    running.discard(w)
            recorder.tick()
    finally:
        for proc in procs:
            if running:  # interrupted or failed: do not wait for work in flight
                proc.terminate()
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
        for conn in conns:
            conn.close()


def _how(exitcode: int | None) -> str:
    if exitcode is None:
        return "it stopped answering"
    if exitcode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-exitcode).name}"
        return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"
