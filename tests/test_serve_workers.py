"""``summarizer serve --workers N`` (#14): summaries made in worker processes while the
keys, limits, metrics and jobs stay in the front process.

Each test that starts worker processes pays for their start (an import of the
library and the model SDK, about a second each), so the checks share a few apps.
The uvicorn subprocess with ``--workers 2`` (SIGTERM drain, workers ending with the
front) is tests/test_serve.py's drain test, run for 1 and 2 workers.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from summarizer import ArticleSummary
from summarizer.errors import WorkerDiedError
from summarizer.inputs import Article
from summarizer.serve import worker_process
from summarizer.serve.auth import add_key
from summarizer.serve.worker_pool import WorkerPool
from summarizer.settings import Settings
from tests.conftest import SEED
from tests.fakeserver import FakeOpenAI, Reply, error_reply, summary_reply
from tests.test_serve import error_of, fake_model, serving

SEED_TEXT = SEED.read_text(encoding="utf-8")


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "keys.toml"
    return path, add_key(path, "alice")


async def _until(check: Any, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


async def _started(client: httpx.AsyncClient) -> None:
    """Both workers ready (a summary waits at most 10 s for one; a loaded CI machine
    may take longer to start a Python process that imports the library)."""
    pool: WorkerPool = client.app.state.service.workers  # type: ignore[attr-defined]
    pool.start()
    await _until(lambda: pool.running == 2, seconds=90)


def _worker_pids(client: httpx.AsyncClient) -> list[int]:
    pool: WorkerPool = client.app.state.service.workers  # type: ignore[attr-defined]
    return [p.proc.pid for p in pool._live if p is not None]


async def test_workers_answer_as_one_process_does_and_the_front_counts(
    keys: tuple[Path, str], fake_openai: FakeOpenAI, seed_summary: dict[str, Any]
) -> None:
    fake_openai.default = summary_reply(seed_summary)
    async with serving(keys, **fake_model(fake_openai)) as client:
        alone = await client.post("/v1/summaries", json={"text": SEED_TEXT})
    fake_openai.requests.clear()
    other = SEED_TEXT.replace("Putin", "Putin", 1) + "\n"  # not in the cache of the first
    async with serving(keys, workers=2, **fake_model(fake_openai)) as client:
        await _started(client)
        first = await client.post("/v1/summaries", json={"text": other})
        second = await client.post("/v1/summaries", json={"text": other})
        bad = await client.post("/v1/summaries", json={"text": "  \n "})
        metrics = (await client.get("/metrics")).text
        ready = await client.get("/readyz")
        pids = _worker_pids(client)
    assert first.status_code == 200, first.text
    assert len(pids) == 2
    assert os.getpid() not in pids
    served = ArticleSummary.model_validate_json(first.content)
    direct = ArticleSummary.model_validate_json(alone.content)
    assert served.model_dump(exclude={"meta"}) == direct.model_dump(exclude={"meta"})
    assert set(served.meta) == set(direct.meta)
    assert served.meta["cache"]["hit"] is False
    assert second.json()["meta"]["cache"]["hit"] is True  # the workers share one cache
    assert len(fake_openai.requests) == 1
    assert (bad.status_code, error_of(bad)["type"]) == (422, "EmptyInputError")
    # Tokens are the workers' work, counted by the front that serves /metrics.
    assert 'summarizer_model_tokens_total{kind="prompt"} 700.0' in metrics
    assert 'summarizer_cache_lookups_total{result="hit"} 1.0' in metrics
    assert ready.json()["checks"]["workers"] == "2 of 2 running"


async def test_model_errors_in_a_worker_keep_their_status_and_retry_after(
    keys: tuple[Path, str], fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(error_reply(401, "bad key"), error_reply(429, "slow", **{"retry-after": "7"}))
    async with serving(keys, workers=2, cache=False, **fake_model(fake_openai)) as client:
        await _started(client)
        denied = await client.post("/v1/summaries", json={"text": SEED_TEXT})
        limited = await client.post("/v1/summaries", json={"text": SEED_TEXT})
    assert denied.status_code == 502, denied.text
    assert (error_of(denied)["type"], error_of(denied)["exit_code"]) == ("AuthenticationError", 31)
    assert limited.status_code == 503
    assert (error_of(limited)["type"], limited.headers["retry-after"]) == ("ProviderError", "7")


async def test_a_dead_worker_fails_its_summaries_only_and_is_replaced(
    keys: tuple[Path, str], fake_openai: FakeOpenAI, seed_summary: dict[str, Any]
) -> None:
    fake_openai.queue(Reply(body=summary_reply(seed_summary).body, delay=10.0))
    fake_openai.default = summary_reply(seed_summary)
    async with serving(keys, workers=2, cache=False, **fake_model(fake_openai)) as client:
        await _started(client)
        service = client.app.state.service  # type: ignore[attr-defined]
        slow = asyncio.create_task(client.post("/v1/summaries", json={"text": SEED_TEXT}))
        await _until(lambda: fake_openai.requests)
        holder = next(p for p in service.workers._live if p is not None and p.pending)
        os.kill(holder.proc.pid, signal.SIGKILL)
        died = await slow
        assert died.status_code == 503, died.text
        assert error_of(died)["type"] == WorkerDiedError.__name__
        assert int(died.headers["retry-after"]) >= 1
        assert service.limiter.in_flight == 0
        await _until(lambda: service.workers.running == 2 and service.workers.restarts == 1, 90)
        assert holder.proc.pid not in _worker_pids(client)
        answers = await asyncio.gather(
            *(client.post("/v1/summaries", json={"text": SEED_TEXT}) for _ in range(4))
        )
    assert [a.status_code for a in answers] == [200] * 4


async def test_a_timeout_cancels_the_call_in_the_worker_and_frees_the_slot(
    keys: tuple[Path, str], fake_openai: FakeOpenAI, seed_summary: dict[str, Any]
) -> None:
    fake_openai.default = Reply(body=summary_reply(seed_summary).body, delay=5.0)
    async with serving(keys, workers=2, timeout=1.0, **fake_model(fake_openai)) as client:
        await _started(client)
        service = client.app.state.service  # type: ignore[attr-defined]
        started = time.monotonic()
        response = await client.post("/v1/summaries", json={"text": SEED_TEXT})
        # The slot is held until the worker says its call has stopped: it must say so
        # long before the model's 5 s answer.
        await _until(lambda: service.limiter.in_flight == 0, seconds=2.5)
        freed = time.monotonic() - started
    assert response.status_code == 504, response.text
    assert freed < 3.5


def test_a_bug_in_a_worker_is_answered_and_the_worker_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker's side of the socket, in this process: a run that raises something
    that is not a library error comes back as ``crash``, the next run still works."""
    calls = 0

    def broken(self: Any, article: Article, title: str | None, language: str | None) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise KeyError("a bug")
        return real(self, article, title, language)

    from summarizer.serve.pool import Entry

    real = Entry.run
    monkeypatch.setattr(Entry, "run", broken)
    front, back = socket.socketpair()
    served = threading.Thread(target=asyncio.run, args=(worker_process._serve(back),))
    served.start()
    try:
        rules = Settings.resolve(model="rules")
        front.sendall(worker_process.frame(("init", {"model": "rules"}, False)))
        for run_id in (1, 2):
            job = ("run", run_id, rules, Article(SEED_TEXT), None, None)
            front.sendall(worker_process.frame(job))
        messages = []
        with front.makefile("rb") as stream:
            for _ in range(3):
                (size,) = worker_process.HEADER.unpack(stream.read(4))
                messages.append(pickle.loads(stream.read(size)))
    finally:
        front.close()  # the worker's cue to end
        served.join(timeout=30)
    assert not served.is_alive()
    assert messages[0] == ("ready", os.getpid())  # before any answer
    answers = {message[1]: message for message in messages[1:]}
    assert answers[1][0] == "crash"
    assert "KeyError" in answers[1][2]
    assert answers[2][0] == "ok"
    assert ArticleSummary.model_validate_json(answers[2][2]).meta["model"] == "rules"
