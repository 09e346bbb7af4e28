"""The front's side of ``summarizer serve --workers N``: N summarizing processes.

Why processes, and what each side keeps: see :mod:`summarizer.serve.worker_process`.
Here: each admitted summary goes to the process with the fewest runs under way; the
request's slot is kept until that process has answered (also when the client left
or the deadline passed: then it is asked to cancel, and the slot is freed when it
says it has), so ``--max-inflight`` bounds the work the processes do, not only the
requests that still wait.

A process that dies fails only the summaries it held (503 ``WorkerDiedError`` with
Retry-After: a retry goes to another process), and is started again, after a pause
that doubles while it keeps dying young, so a process that cannot start (a broken
install) costs a line a minute rather than a busy loop. A summary that finds none
running waits up to ``START_WAIT`` seconds for one (the server has just started, or
one is being replaced), then is answered 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from summarizer.errors import WorkerDiedError
from summarizer.inputs import Article
from summarizer.serve.errors import ServeError
from summarizer.serve.limits import Slot
from summarizer.serve.worker_process import frame, read_frame
from summarizer.settings import Settings

#: Seconds a summary waits for a process to be running before it is answered 503.
START_WAIT = 10.0
#: Seconds a new process has to say it is ready (import the library, build its
#: summarizer: 1 to 3 s here) before it is killed and started again.
READY_WAIT = 120.0
#: Seconds a process gets to end after its socket closes, before it is killed.
STOP_WAIT = 5.0
#: Pause before starting a process again, doubled while each lives < YOUNG seconds.
RESTART_PAUSE, MAX_RESTART_PAUSE, YOUNG = 0.5, 60.0, 10.0


@dataclass(frozen=True)
class Answer:
    """A summary as the contract's JSON bytes, and its ``meta`` for the metrics."""

    json: bytes
    meta: Mapping[str, Any]


class WorkerError(ServeError):
    """A worker's failure to summarize, as its HTTP answer, with ``meta`` for the metrics."""

    def __init__(self, *args: Any, meta: Mapping[str, Any] | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.meta: Mapping[str, Any] = meta or {}


def _died(detail: str) -> WorkerError:
    return WorkerError(
        503, WorkerDiedError.__name__, f"the worker process summarizing this {detail}; retry",
        WorkerDiedError.exit_code, retry_after=1.0,
    )  # fmt: skip


class _Process:
    """One running worker process and its runs awaiting an answer."""

    def __init__(self, proc: asyncio.subprocess.Process, writer: asyncio.StreamWriter) -> None:
        self.proc = proc
        self.writer = writer
        self.pending: dict[int, asyncio.Future[tuple[Any, ...]]] = {}

    def send(self, message: tuple[Any, ...]) -> None:
        self.writer.write(frame(message))

    def fail_all(self, error: WorkerError) -> None:
        for future in self.pending.values():
            if not future.done():
                future.set_exception(error)
        self.pending.clear()


class WorkerPool:
    """N worker processes, kept running from :meth:`start` to :meth:`aclose`."""

    def __init__(self, count: int, server: Mapping[str, Any], cache_on: bool) -> None:
        self.count = count
        self._init = ("init", dict(server), cache_on)
        self._live: list[_Process | None] = [None] * count
        self._started: set[_Process] = set()  # live ones and those not ready yet
        self._keepers: list[asyncio.Task[None]] = []
        self._ids = itertools.count()
        self._closing = False
        self._up = asyncio.Event()  # set while at least one process runs
        self.restarts = 0

    @property
    def running(self) -> int:
        return sum(p is not None for p in self._live)

    def start(self) -> None:
        """Start the processes on the running loop (once; later calls do nothing)."""
        if not self._keepers and not self._closing:
            self._keepers = [asyncio.ensure_future(self._keep(i)) for i in range(self.count)]

    async def _spawn(self) -> tuple[_Process, asyncio.StreamReader]:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "summarizer.serve.worker_process",
                str(theirs.fileno()), str(os.getpid()),
                pass_fds=(theirs.fileno(),), stdin=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        process = _Process(proc, writer)
        process.send(self._init)
        self._started.add(process)
        return process, reader

    async def _keep(self, index: int) -> None:
        """Keep process ``index`` running until :meth:`aclose`."""
        pause = RESTART_PAUSE
        while not self._closing:
            began = time.monotonic()
            try:
                process, reader = await self._spawn()
            except OSError as e:
                print(f"summarizer: cannot start a worker process: {e}", file=sys.stderr)
            else:
                if await self._ready(process, reader) and not self._closing:
                    self._live[index] = process
                    self._up.set()
                    await self._read(process, reader)
                    self._live[index] = None
                    if not self.running:
                        self._up.clear()
                code = await self._stop(process)
                self._started.discard(process)
                process.fail_all(_died(f"ended (exit {code})"))
                if self._closing:
                    return
                print(f"summarizer: worker process {process.proc.pid} ended (exit {code}); "
                      "starting another", file=sys.stderr)  # fmt: skip
                self.restarts += 1
            pause = pause * 2 if time.monotonic() - began < YOUNG else RESTART_PAUSE
            await asyncio.sleep(min(pause, MAX_RESTART_PAUSE))

    async def _ready(self, process: _Process, reader: asyncio.StreamReader) -> bool:
        """Whether the process said it is ready (it has imported the library and built
        the server's default summarizer) within ``READY_WAIT`` seconds."""
        try:
            message = await asyncio.wait_for(read_frame(reader), READY_WAIT)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, EOFError, ValueError):
            return False
        return bool(message[0] == "ready")

    async def _read(self, process: _Process, reader: asyncio.StreamReader) -> None:
        """Hand each answer to its run until the process's end of the socket closes."""
        while True:
            try:
                message = await read_frame(reader)
            except (asyncio.IncompleteReadError, ConnectionError, EOFError, ValueError):
                return
            future = process.pending.pop(message[1], None)
            if future is not None and not future.done():
                future.set_result(message)

    async def _stop(self, process: _Process) -> int | None:
        process.writer.close()
        try:
            return await asyncio.wait_for(process.proc.wait(), STOP_WAIT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.proc.kill()
            return await process.proc.wait()

    async def summarize(
        self, slot: Slot, settings: Settings, article: Article, title: str | None,
        language: str | None,
    ) -> Answer:  # fmt: skip
        """The summary of ``article`` from the least busy process; a :class:`WorkerError`
        with the HTTP answer when it failed."""
        self.start()
        live = [p for p in self._live if p is not None]
        if not live:
            try:
                await asyncio.wait_for(self._up.wait(), START_WAIT)
            except TimeoutError:
                raise WorkerError(
                    503, WorkerDiedError.__name__, "no worker process is running; retry",
                    WorkerDiedError.exit_code, retry_after=RESTART_PAUSE * 4,
                ) from None  # fmt: skip
            live = [p for p in self._live if p is not None]
        process = min(live, key=lambda p: len(p.pending))
        run_id = next(self._ids)
        future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        process.pending[run_id] = future
        process.send(("run", run_id, settings, article, title, language))
        slot.follow(future)
        try:
            message = await asyncio.shield(future)
        except asyncio.CancelledError:
            if not future.done():
                with contextlib.suppress(ConnectionError, RuntimeError):
                    process.send(("cancel", run_id))
            raise
        return _answer(message)

    async def aclose(self) -> None:
        """Close every process's socket (their cue to end) and wait for them."""
        self._closing = True
        for process in self._started:
            process.writer.close()
        if self._keepers:
            _, sleeping = await asyncio.wait(self._keepers, timeout=STOP_WAIT + 1)
            for keeper in sleeping:  # pausing before a restart: nothing to wait for
                keeper.cancel()
            await asyncio.gather(*self._keepers, return_exceptions=True)


def _answer(message: tuple[Any, ...]) -> Answer:
    kind = message[0]
    if kind == "ok":
        return Answer(message[2], message[3])
    if kind == "error":
        _, _, status, type_, text, exit_code, retry_after, meta = message
        raise WorkerError(status, type_, text, exit_code, retry_after=retry_after, meta=meta)
    if kind == "crash":
        raise RuntimeError(f"a worker process failed: {message[2]}")
    raise _died("stopped it")  # "cancelled": only a run nobody waits for any more
