"""A summarizing process of ``summarizer serve --workers N``, and the frames it speaks.

One server process spends most of its CPU in the library (parsing the model's
answer, grounding each quote, the SDK's request and response handling), about 8 ms
an answer, so it tops out near 125 answers a second on one core whatever the
machine has. With ``--workers N`` the process that listens (the *front*) keeps
everything that must be counted in one place (keys, ``--max-inflight`` and
``--max-queue``, the metrics, the jobs) and hands each admitted summary to one of N
of these processes (:mod:`summarizer.serve.worker_pool`), which do only the
summarizing: the library's work, with the same settings resolution, prompts and
answer cache (SQLite, shared between processes) as the front's own.

Frames are a 4-byte big-endian length and a pickle, both ways over a Unix socket
pair that only the front and this process hold (pickle is safe here: nothing else
can write to it). The front sends ``("init", server_settings, cache_on)`` once, and
this process answers ``("ready", pid)`` once it has imported the library and built
the server's default summarizer (the front sends it no summary before); then the front sends
``("run", id, settings, article, title, language)`` and ``("cancel", id)``; this
process answers each run exactly once, with ``("ok", id, json, meta)``,
``("error", id, status, type, message, exit_code, retry_after, meta)`` (the HTTP
answer for a library error, decided here by the same table as in one process),
``("crash", id, text)`` for a bug, or ``("cancelled", id)``. The front keeps the
request's slot until that answer, so work a client abandoned still counts against
``--max-inflight`` until it has stopped.

It ignores SIGINT and SIGTERM: a Ctrl-C or a ``systemctl stop`` reaches the whole
process group, and the front drains (summaries in flight finish) before it closes
the socket, which is this process's signal to end. If the front dies instead, the
kernel ends this one (``PR_SET_PDEATHSIG``) or the socket's end of file does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import signal
import socket
import struct
import sys
from collections.abc import Mapping
from typing import Any

HEADER = struct.Struct(">I")


def frame(message: tuple[Any, ...]) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


async def read_frame(reader: asyncio.StreamReader) -> tuple[Any, ...]:
    """The next message; ``asyncio.IncompleteReadError`` at the end of the stream."""
    (size,) = HEADER.unpack(await reader.readexactly(HEADER.size))
    message: tuple[Any, ...] = pickle.loads(await reader.readexactly(size))
    return message


class _Worker:
    """This process's side: a summarizer pool like the front's, and its runs by id."""

    def __init__(self, writer: asyncio.StreamWriter, server: Mapping[str, Any], cache_on: bool):
        from summarizer.cache import ResponseCache
        from summarizer.serve.pool import SummarizerPool

        self.writer = writer
        self.cache = ResponseCache() if cache_on else None
        self.pool = SummarizerPool(server, self.cache)
        self.runs: dict[int, asyncio.Task[None]] = {}

    def start(self, message: tuple[Any, ...]) -> None:
        _, run_id, *job = message
        task = asyncio.ensure_future(self._run(run_id, *job))
        self.runs[run_id] = task
        task.add_done_callback(lambda _: self._done(run_id, task))

    def _done(self, run_id: int, task: asyncio.Task[None]) -> None:
        """A task cancelled before its first step never enters ``_run`` (a ``cancel``
        read in the same batch as its ``run``): answer it here, or the front would keep
        its slot for good."""
        self.runs.pop(run_id, None)
        if task.cancelled():
            with contextlib.suppress(ConnectionError, RuntimeError):
                self.writer.write(frame(("cancelled", run_id)))

    def cancel(self, run_id: int) -> None:
        task = self.runs.get(run_id)
        if task is not None:
            task.cancel()

    async def _run(self, run_id: int, settings: Any, article: Any, title: Any, lang: Any) -> None:
        from summarizer.errors import SummarizerError
        from summarizer.serve.errors import from_library

        try:
            async with self.pool.lease(settings) as entry:
                if entry.in_thread:
                    # A thread cannot be stopped: answer once it has ended, so that
                    # the front's slot counts the work until then (as in one process).
                    work = asyncio.ensure_future(asyncio.to_thread(entry.run, article, title, lang))
                    try:
                        summary = await asyncio.shield(work)
                    except asyncio.CancelledError:
                        await asyncio.wait({work})
                        if not work.cancelled():
                            work.exception()  # nobody wants this answer any more
                        raise
                else:
                    summary = await entry.arun(article, title, lang)
            answer: tuple[Any, ...] = (
                "ok", run_id, summary.model_dump_json().encode(), summary.meta
            )  # fmt: skip
        except asyncio.CancelledError:
            answer = ("cancelled", run_id)
        except SummarizerError as e:
            error = from_library(e)
            answer = ("error", run_id, error.status, error.type, error.message,
                      error.exit_code, error.retry_after, e.meta)  # fmt: skip
        except Exception as e:  # noqa: BLE001 - a bug: the front answers 500, this process goes on
            answer = ("crash", run_id, f"{type(e).__name__}: {e}")
        try:
            self.writer.write(frame(answer))
            await self.writer.drain()
        except (ConnectionError, RuntimeError):
            pass  # the front has gone; the read loop ends this process

    async def aclose(self) -> None:
        for task in list(self.runs.values()):
            task.cancel()
        await asyncio.gather(*self.runs.values(), return_exceptions=True)
        await self.pool.aclose()
        if self.cache is not None:
            self.cache.close()


async def _serve(sock: socket.socket) -> None:
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    try:
        kind, server, cache_on = await read_frame(reader)
    except (asyncio.IncompleteReadError, ConnectionError):
        return
    assert kind == "init"
    worker = _Worker(writer, server, cache_on)
    from summarizer.batch.workers import tune_gc

    tune_gc()
    writer.write(frame(("ready", os.getpid())))
    try:
        while True:
            try:
                message = await read_frame(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                return  # the front closed its end: it is done with this process
            if message[0] == "run":
                worker.start(message)
            elif message[0] == "cancel":
                worker.cancel(message[1])
    finally:
        await worker.aclose()
        writer.close()


def main(argv: list[str]) -> None:
    """``python -m summarizer.serve.worker_process FD``: serve the front on socket FD."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from summarizer.batch.workers import die_with_parent

    die_with_parent(int(argv[2]))
    sock = socket.socket(fileno=int(argv[1]))
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve(sock))
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(_serve(sock))
    sys.stdout.flush()
    os._exit(0)  # no interpreter teardown: the answers are all written


if __name__ == "__main__":
    main(sys.argv)
