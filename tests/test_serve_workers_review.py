"""A review of ``summarizer serve --workers N`` as a hostile client would use it: the
worker's side of the socket driven from this process (as in test_serve_workers), so
each check is exact about what the worker answers and when."""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from summarizer.inputs import Article
from summarizer.serve import worker_process
from summarizer.settings import Settings
from tests.conftest import SEED

SEED_TEXT = SEED.read_text(encoding="utf-8")


@contextlib.contextmanager
def _worker() -> Iterator[socket.socket]:
    """The front's end of a worker served on a thread of this process (rules model)."""
    front, back = socket.socketpair()
    served = threading.Thread(target=asyncio.run, args=(worker_process._serve(back),))
    served.start()
    try:
        front.settimeout(10)
        front.sendall(worker_process.frame(("init", {"model": "rules"}, False)))
        assert _next(front)[0] == "ready"
        yield front
    finally:
        front.close()  # the worker's cue to end
        served.join(timeout=10)
    assert not served.is_alive()


def _next(front: socket.socket) -> tuple[Any, ...]:
    def exactly(size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = front.recv(size - len(data))
            assert chunk, "the worker closed the socket"
            data += chunk
        return data

    (size,) = worker_process.HEADER.unpack(exactly(worker_process.HEADER.size))
    message: tuple[Any, ...] = pickle.loads(exactly(size))
    return message


def test_a_run_cancelled_before_it_starts_is_still_answered() -> None:
    """A client that leaves at once: its ``cancel`` can reach the worker in the same
    read as its ``run``. Unanswered, the front would hold that request's slot for
    good, and a burst of such clients ends with every summary refused 429."""
    rules = Settings.resolve(model="rules")
    with _worker() as front:
        front.sendall(
            worker_process.frame(("run", 1, rules, Article(SEED_TEXT), None, None))
            + worker_process.frame(("cancel", 1))
            + worker_process.frame(("run", 2, rules, Article(SEED_TEXT), None, None))
        )
        answers: dict[int, str] = {}
        while len(answers) < 2:
            try:
                message = _next(front)
            except TimeoutError:
                pytest.fail(f"run(s) never answered: {sorted({1, 2} - set(answers))}")
            answers[message[1]] = message[0]
    assert answers == {1: "cancelled", 2: "ok"}


def test_a_cancelled_run_in_a_thread_is_answered_once_the_thread_has_ended(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The rules model runs in a thread, which a cancel cannot stop: answering
    ``cancelled`` before it ends frees the front's slot while the worker still
    computes, so clients that send a big text and leave get past --max-inflight (one
    process keeps the slot until the thread ends: ``in_thread_bounded``)."""
    entered, release = threading.Event(), threading.Event()

    def slow(self: Any, article: Article, title: str | None, language: str | None) -> Any:
        entered.set()
        release.wait(10)
        return real(self, article, title, language)

    from summarizer.serve.pool import Entry

    real = Entry.run
    monkeypatch.setattr(Entry, "run", slow)
    rules = Settings.resolve(model="rules")
    try:
        with _worker() as front:
            front.sendall(worker_process.frame(("run", 1, rules, Article(SEED_TEXT), None, None)))
            assert entered.wait(10)
            front.sendall(worker_process.frame(("cancel", 1)))
            front.settimeout(0.5)
            try:
                early: tuple[Any, ...] | None = _next(front)
            except TimeoutError:
                early = None  # right: nothing to say while the thread runs
            assert early is None, f"answered {early} while its thread still runs"
            release.set()
            front.settimeout(10)
            assert _next(front) == ("cancelled", 1)
    finally:
        release.set()
