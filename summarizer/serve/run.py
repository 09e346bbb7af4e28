"""Running the app under uvicorn, one process, and stopping it gently.

The listening socket is bound here, before uvicorn starts, so that a port in use or
a host that is not this machine's is one line and exit 20 like any other bad option,
and so that ``--port 0`` (any free port) can say which port it got.

**SIGTERM** (what a container runtime or systemd sends) drains: ``/readyz`` turns
503 at once and new summaries are refused with 503 ``Draining``, uvicorn stops
accepting connections, summaries in flight get up to ``grace`` seconds to finish
(uvicorn's ``timeout_graceful_shutdown``), then the summarizers and the cache are
closed and the process exits 0. uvicorn re-raises the signal once it has stopped,
which under the default handler would kill the process with SIGTERM's status; for
that moment a handler that does nothing is in place, so the exit is a clean 0.
Ctrl-C (SIGINT) drains the same way and ends with the CLI's 130.

**Jobs** are checkpointed at the signal, not after the grace: the job under way
starts no more articles and cancels those in flight (they have no line yet, so
nothing is lost), and is saved as ``queued``; the next server started on the same
cache folder resumes it. New jobs are refused with 503 ``Draining``. The jobs' loops
start once uvicorn has started, on its event loop.

**Worker processes.** The limits (``--max-inflight``, ``--max-queue``), the metrics
and the jobs are counted in this process; with ``--workers N`` it hands the summaries
to N processes that only summarize (:mod:`summarizer.serve.worker_pool`), started
with uvicorn and ended after the drain, so the counts stay one server's.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
from types import FrameType

import uvicorn
from fastapi import FastAPI

from summarizer.batch.workers import tune_gc
from summarizer.errors import ConfigurationError
from summarizer.serve.protocol import HEAD_TIMEOUT, http_protocol
from summarizer.serve.service import Service


class _Server(uvicorn.Server):
    """uvicorn's server, telling the service it drains when a signal arrives."""

    def __init__(self, config: uvicorn.Config, service: Service) -> None:
        super().__init__(config)
        self.service = service

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.service.start()
        # What is built by now (the app, its routes and schemas, the library) lives as
        # long as the process: frozen, collections skip it. With the default
        # thresholds a full collection walked all of it, 93 ms with every request in
        # the process waiting (measured under load), and a young one every few
        # requests found nothing to free (requests leave no cycles).
        tune_gc()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.service.draining = True
        self.service.checkpoint()
        super().handle_exit(sig, frame)


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (``port`` 0: any free one); ConfigurationError
    when the address cannot be had."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as e:
        raise ConfigurationError(
            f"cannot listen on {host}:{port}: {e.strerror or e}; choose another --host or --port"
        ) from e
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _log_requests() -> None:
    """The request log on stderr, one line each (the library logs nothing else here
    unless -v asks for it)."""
    access = logging.getLogger("summarizer.serve.access")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False  # not twice when -v also logs summarizer.*


def run(app: FastAPI, sock: socket.socket, *, grace: int) -> None:
    """Serve ``app`` on ``sock`` until SIGTERM or Ctrl-C; see the module docstring."""
    service: Service = app.state.service
    config = uvicorn.Config(
        app, lifespan="on", access_log=False, log_config=None, log_level="warning",
        timeout_graceful_shutdown=grace, server_header=False,
        http=http_protocol(min(HEAD_TIMEOUT, service.config.timeout)),
    )  # fmt: skip
    _log_requests()
    server = _Server(config, service)
    previous = signal.signal(signal.SIGTERM, _stopped)
    try:
        server.run(sockets=[sock])
    finally:
        signal.signal(signal.SIGTERM, previous)
        sock.close()
    if not server.started:
        raise ConfigurationError("the server did not start (see the lines above)")


def _stopped(sig: int, frame: FrameType | None) -> None:
    """SIGTERM after the drain: the process is ending anyway; nothing to do."""
