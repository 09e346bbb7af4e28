"""``batch --engine ray``: one Ray task per shard, each the ordinary batch runner.

Ray is not a new scheduler here: each task is :func:`~summarizer.batch.runner.run_batch`
on one shard (``--shard K/N``: the same partition, and 1/N of the rate limits, budget
and concurrency, since the shards run at once); the driver joins the shards with
:func:`~summarizer.batch.shards.merge_outputs`. Articles are not Ray rows (no Ray Data
function per article): that would bypass the runner's validation, grounding, re-asks,
ledger and resume, and add Ray's overhead to every article.

**The shard outputs live on the driver** (``<out>.shards/K-of-N.jsonl`` and ledgers),
never on worker nodes: a task runs its batch in a temporary folder of its node and
streams whole lines and ledger snapshots back through Ray's object store as they are
written (a streaming generator task). So a cluster needs no shared file system (most
have none, and ``flock`` on NFS is no lock), and Ctrl-C or a dead task or node loses at
most the last :data:`POLL_S` of lines: each shard output stays a batch output, which the
next run resumes (its summaries so far go to its task, which skips those articles and
retries the failed ones). The driver alone reads the inputs, as only it surely sees them.

**Ray** is started on 127.0.0.1 only (a Ray node runs code from anyone who reaches its
ports; one machine has no reason to listen on a network), without a dashboard, its logs
kept in its session folder, off the terminal; or joined, where ``RAY_ADDRESS`` names a
cluster. Tasks carry the driver's resolved settings (model, endpoint, key): worker nodes
need summarizer installed, nothing configured. Only this module imports ``ray``.

It is one module because it is the only one that imports ``ray``: starting Ray (or
joining a cluster), its tasks and stopping it stay in one place, where what Ray
listens on and leaves running can be read at once.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from summarizer.batch.items import BatchItem, collect_items
from summarizer.batch.ledger import BatchStats, error_record, ledger_path, load_finished
from summarizer.batch.lock import OutputLock
from summarizer.batch.pricing import Price
from summarizer.batch.runner import run_batch
from summarizer.batch.scheduling import BatchOptions, split_evenly
from summarizer.batch.shards import Shard, merge_outputs, shard_of
from summarizer.batch.workers import tune_gc
from summarizer.errors import (
    BackendUnavailableError,
    ConfigurationError,
    SummarizerError,
    WorkerDiedError,
)
from summarizer.inputs.fetch import is_url
from summarizer.settings import Settings

__all__ = ["RaySession", "require_ray", "run_ray_batch", "shard_folder", "start_ray"]

logger = logging.getLogger(__name__)

#: Seconds between two looks of a task at its shard's output: what a crash can lose.
POLL_S = 0.25
#: Seconds a cluster address (RAY_ADDRESS) has to accept a connection.
_REACH_S = 10.0
_SHARD_FILE = re.compile(r"(\d+)-of-(\d+)\.jsonl")


def require_ray() -> None:
    """The one-line error for a missing ``[ray]`` extra, without importing Ray (its
    import must come after :func:`start_ray` has chosen the local settings)."""
    if importlib.util.find_spec("ray") is None:
        raise BackendUnavailableError("the Ray engine (--engine ray) needs the [ray] extra (ray "
                                      "is missing): install it, e.g. pip install "
                                      "'summarizer[ray]'")  # fmt: skip


@dataclass(frozen=True)
class RaySession:
    """The Ray this batch runs on; ``started``: by us, so ours to shut down."""

    started: bool
    init_s: float
    cpus: int
    address: str | None  # None: a local Ray


def start_ray(num_cpus: int | None = None, address: str | None = None) -> RaySession:
    """Join ``address`` or ``RAY_ADDRESS``, else start a quiet Ray on this machine with
    ``num_cpus`` (default: its CPU count). A Ray already initialized is used as it is."""
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is None:
        # Ray's single-machine mode (its default on macOS and Windows): every process
        # on 127.0.0.1, no address of this machine's network. Read when ray is imported.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    elif num_cpus is not None:
        raise ConfigurationError(f"num_cpus (--ray-cpus) is for a Ray started here; the "
                                 f"cluster at {address} (RAY_ADDRESS) has its own")  # fmt: skip
    ray = _ray()
    ours = not ray.is_initialized()
    if ours and address is not None:
        _check_reachable(address)
    started = time.perf_counter()
    quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR}
    try:
        with _interrupt_held(ray) if ours else contextlib.nullcontext():
            if ours and address is None:
                ray.init(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False,
                         **quiet)  # fmt: skip
            elif ours:
                ray.init(address=address, **quiet)
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as e:
        where = f"join the Ray cluster at {address} (RAY_ADDRESS)" if address else "start Ray here"
        raise BackendUnavailableError(f"could not {where}: {e}".splitlines()[0]) from None
    init_s = time.perf_counter() - started if ours else 0.0
    return RaySession(ours, init_s, max(1, int(ray.cluster_resources().get("CPU", 1))), address)


def _check_reachable(address: str) -> None:
    """``ray.init`` waits forever where no cluster answers (logging to the terminal
    every few seconds), so a ``host:port`` address is tried first."""
    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit():
        return  # "auto", ray://... (Ray Client): Ray says at once what is wrong
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=_REACH_S).close()
    except (OSError, ValueError, OverflowError) as e:
        raise BackendUnavailableError(f"no Ray cluster answers at {address} (RAY_ADDRESS): {e}; "
                                      "start one there (ray start --head) or unset RAY_ADDRESS "
                                      "to run Ray on this machine") from None  # fmt: skip


@contextlib.contextmanager
def _interrupt_held(ray: ModuleType) -> Iterator[None]:
    """Ctrl-C while Ray starts waits until it has started, then stops it and is raised:
    an interrupted ``ray.init`` leaves Ray's agents running with nothing to stop them.
    A second Ctrl-C does not wait."""
    pressed: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        if pressed:
            raise KeyboardInterrupt
        pressed.append(signum)
        print("summarizer: interrupted; stopping Ray once it has started (Ctrl-C again: now, "
              "leaving its processes behind)", file=sys.stderr, flush=True)  # fmt: skip

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, hold) if main else None
    try:
        yield
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
    if pressed:
        ray.shutdown()
        raise KeyboardInterrupt


def _ray() -> ModuleType:
    require_ray()
    import ray

    return ray


def shard_folder(out: Path) -> Path:
    """Where the Ray engine keeps the shard outputs of ``out``: ``<out>.shards/``."""
    return out.with_name(out.name + ".shards")


@dataclass(frozen=True)
class _ShardJob:
    shard: Shard
    items: list[BatchItem]
    settings: Settings
    options: BatchOptions
    prices: dict[str, Price]
    lines: bytes  # the shard's output so far (load_finished), and its ledger
    ledger: bytes | None


def _shard_task(job: _ShardJob) -> Iterator[tuple[bytes, bytes | None, BatchStats]]:
    """In a Ray worker: the shard's batch in a temporary folder, in a thread, while
    this generator yields what is new every POLL_S: whole lines, the ledger (None:
    unchanged) and the totals. A cancelled task sets ``stop``, which ends the batch.
    The worker's garbage collector is tuned as a live batch's workers' are."""
    tune_gc()
    with tempfile.TemporaryDirectory(prefix="summarizer-ray-") as tmp:
        out = Path(tmp) / "shard.jsonl"
        out.write_bytes(job.lines)
        if job.ledger is not None:
            ledger_path(out).write_bytes(job.ledger)
        stop = threading.Event()
        outcome: dict[str, Any] = {"stats": BatchStats()}

        def work() -> None:
            try:
                outcome["stats"] = run_batch(
                    [], out, job.settings, job.options, prices=job.prices, items=job.items,
                    stop=stop, shard=job.shard, on_change=lambda s: outcome.update(stats=s),
                )  # fmt: skip
            except BaseException as e:  # noqa: BLE001 - the driver gets it
                outcome["error"] = e

        thread = threading.Thread(target=work, name="summarizer-shard", daemon=True)
        thread.start()
        # The driver's copy went through load_finished, which leaves such a file as it
        # is, so the batch appends after these bytes.
        sent, ledger_sent = len(job.lines), job.ledger
        try:
            finished = False
            while not finished:
                thread.join(POLL_S)
                finished = not thread.is_alive()  # before reading: nothing is missed
                with out.open("rb") as f:
                    f.seek(sent)
                    chunk = f.read()
                chunk = chunk[: chunk.rfind(b"\n") + 1]  # whole lines only
                sent += len(chunk)
                has = ledger_path(out).exists()  # from the batch's start on
                ledger = ledger_path(out).read_bytes() if has else ledger_sent
                if ledger == ledger_sent and not chunk and not finished:
                    continue
                if "error" in outcome:
                    raise outcome["error"]
                yield chunk, None if ledger == ledger_sent else ledger, replace(outcome["stats"])
                ledger_sent = ledger
        finally:
            stop.set()
            thread.join(30)


def run_ray_batch(
    targets: Sequence[str | Path],
    out: Path,
    settings: Settings,
    options: BatchOptions,
    *,
    prices: dict[str, Price],
    shards: int | None = None,
    num_cpus: int | None = None,
    address: str | None = None,
    items: Iterable[BatchItem] | None = None,
    on_change: Callable[[BatchStats], None] | None = None,
) -> BatchStats:
    """Summarize ``targets`` (or ``items``) into ``out`` with one Ray task per shard.

    ``shards`` defaults to those already in ``<out>.shards/`` (a resume), else to Ray's
    CPUs, at most ``options.concurrency`` (the job's, split like the rate limits and
    budget). ``num_cpus`` and ``address`` go to :func:`start_ray`; a Ray this call
    starts, it shuts down. Returns the totals over every shard. ``out`` is the merge of
    the shard outputs, written at the end and on Ctrl-C (``KeyboardInterrupt`` then
    propagates), so it must be absent or an earlier merge of this engine. A task that
    dies fails its unfinished articles (``WorkerDiedError`` lines, retried by a rerun);
    an error that stops a batch before it runs (a bad setting) stops every shard.
    """
    out = Path(out)
    folder = shard_folder(out)
    if options.workers not in (None, 1):
        raise ConfigurationError(f"workers (--workers) {options.workers}: the Ray engine runs "
                                 "one process per shard; choose shards (--shards)")  # fmt: skip
    if shards is not None and not 1 <= shards <= options.concurrency:
        raise ConfigurationError(f"shards (--shards) {shards}: from 1 to the concurrency (-c) "
                                 f"{options.concurrency}, as each needs a request")  # fmt: skip
    if any(os.path.realpath(t) == os.path.realpath(out) for t in targets if not is_url(str(t))):
        raise ConfigurationError(f"the output file (out, --out) {out} is one of the inputs; "
                                 "choose another output file")  # fmt: skip
    with OutputLock(out):
        _check_out_is_ours(out, folder)
        found = _shards_found(folder)
        if shards is not None and found not in (None, shards):
            raise ConfigurationError(
                f"{folder} holds {found} shards; run with --shards {found} to resume them, or "
                "remove that folder (and the output) to start again"
            )
        every = list(items) if items is not None else collect_items(targets)
        session = start_ray(num_cpus, address)
        try:
            n = shards or found or max(1, min(session.cpus, options.concurrency))
            logger.info("Ray %s, %d CPUs, ready in %.1f s: %d shards", session.address or
                        "local", session.cpus, session.init_s, n)  # fmt: skip
            return _run_shards(every, out, folder, n, settings, options, prices, on_change)
        finally:
            if session.started:
                _ray().shutdown()


def _run_shards(
    every: list[BatchItem],
    out: Path,
    folder: Path,
    n: int,
    settings: Settings,
    options: BatchOptions,
    prices: dict[str, Price],
    on_change: Callable[[BatchStats], None] | None,
) -> BatchStats:
    ray = _ray()
    task = ray.remote(num_cpus=1, max_retries=0)(_shard_task)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{k}-of-{n}.jsonl" for k in range(1, n + 1)]
    parts: list[list[BatchItem]] = [[] for _ in range(n)]
    for item in every:
        parts[shard_of(item.id, n) - 1].append(item)
    concurrency = split_evenly(options.concurrency, n)
    stats = [BatchStats() for _ in range(n)]
    died = [0] * n  # articles of a dead task, given an error line here
    total = BatchStats(total=len(every))
    running: dict[Any, int] = {}
    status = "failed"
    with contextlib.ExitStack() as locks:
        try:  # from the first task on: a Ctrl-C cancels those started
            for k, path in enumerate(paths, 1):
                locks.enter_context(OutputLock(path))
                load_finished(path)  # as the task's batch will: summaries kept, errors retried
                job = _ShardJob(
                    Shard(k, n), parts[k - 1], settings,
                    replace(options, concurrency=concurrency[k - 1], workers=1), prices,
                    path.read_bytes() if path.exists() else b"",
                    ledger_path(path).read_bytes() if ledger_path(path).exists() else None,
                )  # fmt: skip
                running[task.remote(job)] = k - 1
            while running:
                ready, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
                for gen in ready:
                    index = running[gen]
                    try:
                        lines, ledger, stats[index] = ray.get(next(gen))
                    except StopIteration:
                        del running[gen]
                        continue
                    except ray.exceptions.RayTaskError as e:
                        for other in running:
                            ray.cancel(other)
                        if isinstance(e.cause, SummarizerError):
                            raise e.cause from None
                        raise
                    except ray.exceptions.RayError as e:  # the worker or its node died
                        del running[gen]
                        died[index] = _fail_unfinished(
                            paths[index], parts[index], e, Shard(index + 1, n)
                        )
                        continue
                    with paths[index].open("ab") as f:
                        f.write(lines)
                    if ledger is not None:
                        _write_whole(ledger_path(paths[index]), ledger)
                    if on_change is not None:
                        on_change(_sum(total, stats, died))
            status = "finished"
        except KeyboardInterrupt:
            status = "interrupted"
            for gen in running:
                ray.cancel(gen)
            raise
        finally:
            for path in paths:
                _settle(ledger_path(path), status)
            locks.close()  # merge refuses a shard whose lock is held
            if status != "failed":  # interrupted too: out then has what is finished
                with contextlib.suppress(*(() if status == "finished" else (SummarizerError,))):
                    begun = [p for p in paths if ledger_path(p).exists()]  # Ctrl-C: maybe not all
                    merged = merge_outputs(begun, out, overwrite=True)
                    logger.info("merged %d shards into %s: %d articles", n, out, merged.articles)
    return _sum(total, stats, died)


def _check_out_is_ours(out: Path, folder: Path) -> None:
    """``out`` is rewritten by each run's merge: refuse one that is anything else."""
    if not out.exists() and not ledger_path(out).exists():
        return
    try:
        ledger = json.loads(ledger_path(out).read_text(encoding="utf-8"))
        sources = [Path(str(r["merged_from"])) for r in ledger["runs"]]
        ours = "merged" in ledger and all(
            s.parent.name == folder.name and _SHARD_FILE.fullmatch(s.name) for s in sources
        )
    except (OSError, ValueError, KeyError, TypeError):
        ours = False
    if not ours:
        raise ConfigurationError(f"{out} exists and is not the Ray engine's merge of {folder}, "
                                 "which each run rewrites; choose another -o")  # fmt: skip


def _shards_found(folder: Path) -> int | None:
    counts = {
        int(m[2]) for p in folder.glob("*-of-*.jsonl") if (m := _SHARD_FILE.fullmatch(p.name))
    }
    if len(counts) > 1:
        raise ConfigurationError(f"{folder} holds {sorted(counts)} shards: remove all but one")
    return counts.pop() if counts else None


def _fail_unfinished(path: Path, items: list[BatchItem], error: Exception, shard: Shard) -> int:
    """A dead task's articles without a line get a ``WorkerDiedError`` line each (no
    tokens known to be spent), as a dead worker process's do: a rerun retries them."""
    done = set()
    for raw in path.read_bytes().splitlines() if path.exists() else []:
        with contextlib.suppress(ValueError, TypeError, KeyError):
            done.add(str(json.loads(raw)["id"]))
    why = WorkerDiedError(f"its Ray task died: {type(error).__name__}: {error}".splitlines()[0])
    todo = [i for i in items if i.id not in done]
    with path.open("a", encoding="utf-8") as f:
        f.writelines(error_record(i.id, i.source, why, Price(0, 0))[1] + "\n" for i in todo)
    if not ledger_path(path).exists():  # it died before its batch wrote one: merge needs it
        run = BatchStats(total=len(items), done=len(todo), failed=len(todo)).as_dict()
        runs = [{"shard": str(shard), "status": "failed", **run}]
        ledger = {"total": {"runs": 1, "total_tokens": 0, "cost_usd": 0.0}, "runs": runs}
        _write_whole(ledger_path(path), json.dumps(ledger, indent=2).encode("utf-8"))
    return len(todo)


def _sum(total: BatchStats, parts: list[BatchStats], died: list[int]) -> BatchStats:
    """The shards' totals as one run's (``total`` and the start are the job's), with the
    ``died`` articles of dead tasks as failed."""
    summed = replace(total, done=sum(died), failed=sum(died), not_started=-sum(died))
    for name in (f.name for f in fields(BatchStats)):
        if name not in ("total", "started", "cost_usd", "budget_hit", "interrupted"):
            setattr(summed, name, getattr(summed, name) + sum(getattr(p, name) for p in parts))
    costs = [p.cost_usd for p in parts]
    summed.cost_usd = None if None in costs else sum(c or 0.0 for c in costs)
    summed.budget_hit = any(p.budget_hit for p in parts)
    summed.interrupted = any(p.interrupted for p in parts)
    summed.not_started = max(0, summed.not_started)
    return summed


def _settle(path: Path, status: str) -> None:
    """A run the driver stopped hearing from is still ``running`` in its ledger copy:
    say how it ended (a later run would call it ``killed``)."""
    with contextlib.suppress(OSError, ValueError, KeyError, IndexError, TypeError):
        ledger = json.loads(path.read_text(encoding="utf-8"))
        if ledger["runs"][-1].get("status") == "running":
            ended = "interrupted" if status == "interrupted" else "failed"
            ledger["runs"][-1].update(status=ended, interrupted=ended == "interrupted")
            _write_whole(path, (json.dumps(ledger, indent=2) + "\n").encode("utf-8"))


def _write_whole(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
