"""`summarizer batch` end to end against the fake server: inputs, failures, resume,
cache, budget, workers, Ctrl-C; and the rate limiter and price table on their own."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from summarizer.backends.http import SEND_TRACKER, ShardedTransport
from summarizer.batch import BatchItem, BatchOptions, collect_items, run_batch
from summarizer.batch.ledger import ledger_path
from summarizer.batch.pricing import Price, load_prices, price_for, usage_cost
from summarizer.batch.ratelimit import RateLimiter, _Bucket, parse_rate_limit
from summarizer.batch.scheduling import split_evenly
from summarizer.batch.workers import pick_worker
from summarizer.cache import ResponseCache
from summarizer.errors import ConfigurationError, DatasetError
from summarizer.settings import Settings
from tests.conftest import ROOT
from tests.fakeserver import FakeOpenAI, Reply, completion, error_reply, summary_reply
from tests.test_cli import run_cli, start_cli

FAST = {"retry_initial_wait": 0.01, "retry_max_wait": 0.05}


def _article(seed_text: str, i: int) -> str:
    """A distinct article that the seed summary's quotes still ground in."""
    return f"{seed_text}\n\nEditor's note {i}: this copy is number {i}."


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _articles_jsonl(tmp_path: Path, seed_text: str, prefix: str, n: int) -> Path:
    """``n`` distinct articles, ids ``<prefix>0``..., as a batch's JSONL input."""
    rows = [json.dumps({"id": f"{prefix}{i}", "text": _article(seed_text, i)}) for i in range(n)]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(rows), encoding="utf-8")
    return path


@pytest.fixture
def inputs(tmp_path: Path, seed_text: str) -> Path:
    """A folder of 3 articles (one empty) and a JSONL of 2 good and 2 bad lines."""
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text(_article(seed_text, 1), encoding="utf-8")
    (folder / "sub" / "b.txt").write_text(_article(seed_text, 2), encoding="utf-8")
    (folder / "empty.txt").write_text("  \n", encoding="utf-8")
    lines = [
        json.dumps({"id": "j1", "text": _article(seed_text, 3)}),
        json.dumps({"id": "j2", "text": _article(seed_text, 4), "title": "T"}),
        "{not json",
        json.dumps({"id": "j4"}),
    ]
    (tmp_path / "more.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def test_batch_cli_mixed_inputs_failures_then_resume(
    fake_openai: FakeOpenAI, inputs: Path, seed_text: str, seed_summary: dict[str, Any]
) -> None:
    fake_openai.default = summary_reply(seed_summary)
    out = inputs / "out" / "results.jsonl"
    args = ["batch", str(inputs / "in"), str(inputs / "more.jsonl"), "-o", str(out),
            "--model", "fake-model", "--base-url", fake_openai.url, "-c", "3"]  # fmt: skip
    first = run_cli(*args)
    err = first.stderr.decode()
    assert first.returncode == 60, err
    assert "Traceback" not in err
    assert "3 of 7 article(s) failed" in err
    rows = _rows(out)
    by_id = {r["id"]: r for r in rows}
    assert len(rows) == len(by_id) == 7
    assert {i for i, r in by_id.items() if r["status"] == "ok"} == {"a", "sub/b", "j1", "j2"}
    assert by_id["empty"]["error"]["exit_code"] == 10
    bad_json = next(r for i, r in by_id.items() if i.endswith("more.jsonl:3"))
    assert bad_json["error"]["kind"] == "DatasetError"
    assert "not JSON" in bad_json["error"]["message"]
    ok = by_id["j2"]
    assert ok["summary"]["meta"]["input"]["title"] == "T"
    assert ok["usage"] == {"prompt_tokens": 700, "completion_tokens": 300, "total_tokens": 1000}
    assert ok["attempts"] == {"responses": 1, "reasks": 0, "transport_retries": 0}
    text = _article(seed_text, 4)
    for ev in ok["summary"]["actors"][0]["evidence"]:
        assert text[ev["start"] : ev["end"]] == ev["quote"]
    ledger = json.loads(ledger_path(out).read_text())
    run = ledger["runs"][0]
    assert run["articles"]["ok"] == 4
    assert run["articles"]["failed"] == 3
    assert run["usage"]["total_tokens"] == 4000
    assert run["cost_usd"] is None  # no price for a self-hosted model
    assert len(fake_openai.requests) == 4

    # Fix one input; the same command retries only the failed articles.
    (inputs / "in" / "empty.txt").write_text(_article(seed_text, 5), encoding="utf-8")
    second = run_cli(*args)
    assert second.returncode == 60, second.stderr.decode()  # the two bad JSONL lines remain
    assert len(fake_openai.requests) == 5  # only the fixed article called the model
    rows = _rows(out)
    assert len(rows) == len({r["id"] for r in rows}) == 7
    assert {r["id"] for r in rows if r["status"] == "ok"} >= {"a", "sub/b", "j1", "j2", "empty"}
    assert len(json.loads(ledger_path(out).read_text())["runs"]) == 2


def test_transient_errors_and_bad_answers_are_retried_and_counted(
    fake_openai: FakeOpenAI, tmp_path: Path, seed_text: str, seed_summary: dict[str, Any]
) -> None:
    fake_openai.default = summary_reply(seed_summary)
    fake_openai.queue(
        error_reply(429, "slow down", **{"retry-after": "0"}),
        error_reply(503, "busy"),
        Reply(body=completion(content="not json at all")),
    )
    items = [BatchItem(f"n{i}", f"n{i}", _article(seed_text, i)) for i in range(6)]
    settings = Settings.resolve(model="fake-model", base_url=fake_openai.url, **FAST)
    out = tmp_path / "r.jsonl"
    stats = run_batch(
        [], out, settings, BatchOptions(concurrency=1, use_cache=False), prices={}, items=items
    )
    rows = _rows(out)
    assert [r["status"] for r in rows] == ["ok"] * 6
    assert len({r["id"] for r in rows}) == 6
    assert stats.transport_retries == 2
    assert stats.reasks == 1
    assert stats.throttled == 1
    assert len(fake_openai.requests) == 9


@pytest.mark.timeout(60)
def test_a_day_long_retry_after_is_capped_in_a_batch_too(
    fake_openai: FakeOpenAI, tmp_path: Path, seed_text: str, seed_summary: dict[str, Any]
) -> None:
    """A 429 with ``Retry-After: 86400`` paused the whole batch for that long (the
    single-article path already capped it at --retry-max-wait; the limiter did not)."""
    fake_openai.default = summary_reply(seed_summary)
    fake_openai.queue(error_reply(429, "come back tomorrow", **{"retry-after": "86400"}))
    items = [BatchItem(f"d{i}", f"d{i}", _article(seed_text, i)) for i in range(4)]
    settings = Settings.resolve(model="fake-model", base_url=fake_openai.url, **FAST)
    stats = run_batch(
        [], tmp_path / "r.jsonl", settings, BatchOptions(concurrency=2, use_cache=False),
        prices={}, items=items,
    )  # fmt: skip
    assert stats.throttled == 1
    assert [r["status"] for r in _rows(tmp_path / "r.jsonl")] == ["ok"] * 4


def test_cache_second_run_sends_no_requests(
    fake_openai: FakeOpenAI, tmp_path: Path, seed_text: str, seed_summary: dict[str, Any]
) -> None:
    fake_openai.default = summary_reply(seed_summary)
    items = [BatchItem(f"c{i}", f"c{i}", _article(seed_text, i)) for i in range(5)]
    settings = Settings.resolve(model="fake-model", base_url=fake_openai.url)
    prices = {"compatible/fake-model": Price(1.0, 2.0)}
    first = run_batch([], tmp_path / "1.jsonl", settings, BatchOptions(concurrency=5),
                      prices=prices, items=items)  # fmt: skip
    assert len(fake_openai.requests) == 5
    assert first.cost_usd == pytest.approx(5 * (700 * 1.0 + 300 * 2.0) / 1e6)
    again = run_batch([], tmp_path / "2.jsonl", settings, BatchOptions(concurrency=5),
                      prices=prices, items=items)  # fmt: skip
    assert len(fake_openai.requests) == 5
    assert again.cached == 5
    assert again.cost_usd == 0.0
    assert all(r["cached"] and r["status"] == "ok" for r in _rows(tmp_path / "2.jsonl"))


def test_max_cost_stops_starting_new_articles(
    fake_openai: FakeOpenAI, tmp_path: Path, seed_text: str, seed_summary: dict[str, Any]
) -> None:
    fake_openai.default = summary_reply(seed_summary)
    (tmp_path / "in").mkdir()
    for i in range(8):
        (tmp_path / "in" / f"{i}.txt").write_text(_article(seed_text, i), encoding="utf-8")
    (tmp_path / "prices.toml").write_text('["compatible/fake-model"]\ninput = 1000\noutput = 0\n')
    out = tmp_path / "r.jsonl"
    proc = run_cli("batch", str(tmp_path / "in"), "-o", str(out), "--model", "fake-model",
                "--base-url", fake_openai.url, "-c", "1", "--max-reasks", "0",
                "--prices", str(tmp_path / "prices.toml"), "--max-cost", "6")  # fmt: skip
    err = proc.stderr.decode()
    assert proc.returncode == 61, err
    assert "--max-cost 6 reached" in err
    run = json.loads(ledger_path(out).read_text())["runs"][0]
    done = len(_rows(out))
    assert 0 < done < 8
    assert run["articles"]["not_started"] == 8 - done
    assert run["cost_usd"] <= 6
    assert len(fake_openai.requests) == done


def test_worker_processes_share_the_batch(
    fake_openai: FakeOpenAI, tmp_path: Path, seed_text: str, seed_summary: dict[str, Any]
) -> None:
    fake_openai.default = summary_reply(seed_summary)
    inp = _articles_jsonl(tmp_path, seed_text, "w", 12)
    out = tmp_path / "r.jsonl"
    proc = run_cli("batch", str(inp), "-o", str(out), "--model", "fake-model",
                "--base-url", fake_openai.url, "-c", "4", "--workers", "2",
                "--progress")  # fmt: skip
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    assert "summarizing" in err  # the bar, forced on although stderr is a pipe
    assert "12 ok, 0 failed" in err
    result = _rows(out)
    assert sorted(r["id"] for r in result) == sorted(f"w{i}" for i in range(12))
    assert len(fake_openai.requests) == 12
    assert json.loads(ledger_path(out).read_text())["runs"][0]["workers"] == 2


def test_workers_together_never_exceed_the_concurrency(
    fake_openai: FakeOpenAI, tmp_path: Path, seed_text: str, seed_summary: dict[str, Any]
) -> None:
    """-c is the provider-facing limit: 5 over 3 workers is 2+2+1, not 2 each."""
    fake_openai.default = Reply(**{**summary_reply(seed_summary).__dict__, "delay": 0.3})
    items = [BatchItem(f"p{i}", f"p{i}", _article(seed_text, i)) for i in range(15)]
    settings = Settings.resolve(model="fake-model", base_url=fake_openai.url)
    stats = run_batch([], tmp_path / "r.jsonl", settings,
                      BatchOptions(concurrency=5, workers=3, use_cache=False),
                      prices={}, items=items)  # fmt: skip
    assert (stats.done, stats.failed) == (15, 0)
    assert fake_openai.peak_in_flight == 5
    assert split_evenly(5, 3) == [2, 2, 1]
    assert split_evenly(50, 2) == [25, 25]


def test_articles_are_dealt_in_proportion_to_each_workers_slots() -> None:
    shares, windows = [2, 2, 1], [5, 5, 4]
    dealt, outstanding = [0, 0, 0], [0, 0, 0]
    for _ in range(50):  # every worker always has room: a pure count split
        w = pick_worker(range(3), dealt, shares, outstanding, windows)
        dealt[w] += 1
    assert dealt == [20, 20, 10]
    # Room decides first; among the workers with room, the least dealt.
    assert pick_worker([1, 2], [3, 9, 8], [1, 1, 1], [0, 0, 0], [4, 4, 4]) == 2


def test_ctrl_c_keeps_finished_lines_and_the_rerun_completes(
    fake_openai: FakeOpenAI, tmp_path: Path, seed_text: str, seed_summary: dict[str, Any]
) -> None:
    fake_openai.default = Reply(**{**summary_reply(seed_summary).__dict__, "delay": 0.25})
    inp = _articles_jsonl(tmp_path, seed_text, "k", 30)
    out = tmp_path / "r.jsonl"
    args = ["batch", str(inp), "-o", str(out), "--model", "fake-model",
            "--base-url", fake_openai.url, "-c", "1"]  # fmt: skip
    proc = start_cli(*args)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or len(_rows(out)) < 3):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr.decode()
    assert "Traceback" not in stderr.decode()
    assert "run the same command again to continue" in stderr.decode()
    done = _rows(out)  # every line parses
    assert 3 <= len(done) < 30
    assert all(r["status"] == "ok" for r in done)
    assert json.loads(ledger_path(out).read_text())["runs"][0]["interrupted"] is True

    fake_openai.default = summary_reply(seed_summary)
    before = len(fake_openai.requests)
    rerun = run_cli(*args)
    assert rerun.returncode == 0, rerun.stderr.decode()
    assert f"{len(done)} already done" in rerun.stderr.decode()
    final = _rows(out)
    assert sorted(r["id"] for r in final) == sorted(f"k{i}" for i in range(30))
    # the article in flight at Ctrl-C may have reached the server; none of the
    # finished ones are asked again
    assert len(fake_openai.requests) - before == 30 - len(done)


def test_duplicate_ids_stop_before_any_work(tmp_path: Path) -> None:
    rows = [json.dumps({"id": "x", "text": "a b c"}), json.dumps({"id": "x", "text": "d e f"})]
    (tmp_path / "dup.jsonl").write_text("\n".join(rows), encoding="utf-8")
    with pytest.raises(DatasetError, match="duplicate article id 'x'"):
        collect_items([tmp_path / "dup.jsonl"])
    proc = run_cli("batch", str(tmp_path / "dup.jsonl"), "-o", str(tmp_path / "o.jsonl"),
                "--model", "m", "--base-url", "http://127.0.0.1:9/v1")  # fmt: skip
    assert proc.returncode == 15
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--rate-limit", "fast"], "--rate-limit 'fast'"),
        (["--max-cost", "1"], "--max-cost) needs a price"),
    ],
)
def test_bad_batch_options_are_configuration_errors(
    tmp_path: Path, seed_text: str, args: list[str], fragment: str
) -> None:
    (tmp_path / "a.txt").write_text(seed_text, encoding="utf-8")
    proc = run_cli("batch", str(tmp_path / "a.txt"), "-o", str(tmp_path / "o.jsonl"),
                "--model", "m", "--base-url", "http://127.0.0.1:9/v1", *args)  # fmt: skip
    err = proc.stderr.decode()
    assert proc.returncode == 20, err
    assert fragment in err
    assert len(err.strip().splitlines()) == 1


# -- rate limiter ----------------------------------------------------------------------


def test_parse_rate_limit() -> None:
    assert parse_rate_limit("500rpm") == (500, None)
    assert parse_rate_limit("500rpm, 90000tpm") == (500, 90000)
    for bad in ("500", "0rpm", "-3tpm", "5rps"):
        with pytest.raises(ConfigurationError):
            parse_rate_limit(bad)


def test_bucket_refills_at_its_rate() -> None:
    bucket = _Bucket(60.0)  # one per second, bursts of ten
    now = bucket.stamp
    assert bucket.capacity == 10
    bucket.take(10)
    assert bucket.wait_time(1, now) == pytest.approx(1.0)
    assert bucket.wait_time(1, now + 0.5) == pytest.approx(0.5)
    assert bucket.wait_time(1, now + 1.0) == 0.0
    assert bucket.wait_time(50, now + 1.0) == pytest.approx(9.0)  # capped at a full bucket


async def test_limiter_bounds_requests_in_flight() -> None:
    limiter = RateLimiter(3)
    tickets = [await limiter.acquire() for _ in range(3)]
    blocked = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.05)
    assert not blocked.done()
    await limiter.release(tickets[0])
    await asyncio.wait_for(blocked, 1)
    assert limiter.in_flight == 3


async def test_cpu_work_waits_for_requests_being_sent_but_not_for_long() -> None:
    """Requests go out first: work after an answer waits until every request the
    transport is writing is on the wire (mark_sent), and never longer than the cap."""
    limiter = RateLimiter(4)
    sending = await limiter.acquire()
    await asyncio.wait_for(limiter.requests_sent(), 0.01)  # not being written yet
    sending.mark_sending()
    waiter = asyncio.create_task(limiter.requests_sent())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    sending.mark_sent()
    await asyncio.wait_for(waiter, 0.01)
    sending.mark_sent()  # idempotent: counted once
    await asyncio.wait_for(limiter.requests_sent(), 0.01)

    stuck = await limiter.acquire()  # a request whose body never gets out
    stuck.mark_sending()
    started = time.monotonic()
    await limiter.requests_sent()
    assert 0.04 <= time.monotonic() - started < 0.5
    await limiter.release(stuck, outcome="error")  # release counts it as done
    await asyncio.wait_for(limiter.requests_sent(), 0.01)


class _Tracker:
    def __init__(self) -> None:
        self.events: list[str] = []

    def mark_sending(self) -> None:
        self.events.append("sending")

    def mark_sent(self) -> None:
        self.events.append("sent")


async def test_transport_reports_when_the_request_body_is_written(
    fake_openai: FakeOpenAI, seed_summary: dict[str, Any]
) -> None:
    fake_openai.queue(summary_reply(seed_summary))
    tracker = _Tracker()
    token = SEND_TRACKER.set(tracker)
    try:
        async with httpx.AsyncClient(transport=ShardedTransport(4)) as http:
            response = await http.post(
                f"{fake_openai.url}/chat/completions",
                json={"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]},
            )
    finally:
        SEND_TRACKER.reset(token)
    assert response.status_code == 200
    assert tracker.events == ["sending", "sent"]


async def test_the_library_client_shards_its_pool_and_still_caps_answers(
    fake_openai: FakeOpenAI, seed_summary: dict[str, Any]
) -> None:
    """``async_client`` (the SDK client of ``asummarize`` and the server) spreads its
    connections over small pools: one pool of 1,000 cost 18 ms of CPU per request at
    50 in flight (benchmarks/serve.py); the answer cap holds on every shard."""
    from summarizer.backends.http import AnswerTooLargeError, async_client, limits

    http = async_client(10)
    transport = http._transport
    assert isinstance(transport, ShardedTransport)
    assert len(transport._shards) > 1
    fake_openai.queue(*[summary_reply(seed_summary) for _ in range(12)])
    body = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
    async with http:
        answers = await asyncio.gather(
            *[http.post(f"{fake_openai.url}/chat/completions", json=body) for _ in range(12)]
        )
        assert [a.status_code for a in answers] == [200] * 12
        fake_openai.queue(Reply(200, '{"x": "' + "y" * (5 << 20) + '"}'))
        with limits(10, 1 << 20), pytest.raises(AnswerTooLargeError):
            await http.post(f"{fake_openai.url}/chat/completions", json=body)


async def test_a_429_halves_the_window_once_per_generation_and_pauses_everyone() -> None:
    limiter = RateLimiter(8)
    tickets = [await limiter.acquire() for _ in range(4)]
    await limiter.release(tickets[0], outcome="rate_limited", retry_after=0.3)
    await limiter.release(tickets[1], outcome="rate_limited", retry_after=0.3)
    assert limiter.window == 4  # two 429s from one generation: one halving
    assert limiter.stats.throttled == 2
    assert limiter.stats.backoffs == 1
    started = time.monotonic()
    later = await limiter.acquire()
    assert time.monotonic() - started >= 0.25  # waited out Retry-After
    await limiter.release(later, outcome="rate_limited", retry_after=0.0)
    assert limiter.window == 2  # a request sent after the backoff: a new generation
    for t in tickets[2:]:
        await limiter.release(t)
    assert 2 < limiter.window < 4  # successes grow it back slowly


async def test_token_budget_is_corrected_by_actual_usage() -> None:
    limiter = RateLimiter(10, tpm=600)  # 10 tokens/s, bursts of 100
    ticket = await limiter.acquire(100)
    await limiter.release(ticket, used_tokens=20)  # 80 come back
    started = time.monotonic()
    await limiter.acquire(80)
    assert time.monotonic() - started < 0.5


# -- prices ----------------------------------------------------------------------------


def test_prices_builtin_file_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prices = load_prices()
    assert price_for("openai/gpt-4o-mini", prices) == Price(0.15, 0.60)
    assert price_for("local", prices, free=True) == Price(0.0, 0.0)
    assert price_for("compatible/mine", prices) is None
    env_file = tmp_path / "env.toml"
    env_file.write_text('["compatible/mine"]\ninput = 1\noutput = 2\n')
    monkeypatch.setenv("SUMMARIZER_PRICES", str(env_file))
    user = tmp_path / "user.toml"
    user.write_text('["openai/gpt-4o-mini"]\ninput = 0.1\noutput = 0.2\n')
    prices = load_prices(user)
    assert price_for("compatible/mine", prices) == Price(1.0, 2.0)
    assert price_for("openai/gpt-4o-mini", prices) == Price(0.1, 0.2)
    usage = {"prompt_tokens": 1_000_000, "completion_tokens": 500_000}
    assert usage_cost(Price(1.0, 2.0), usage) == pytest.approx(2.0)
    assert usage_cost(None, usage) is None
    bad = tmp_path / "bad.toml"
    bad.write_text('["x"]\ninput = "cheap"\n')
    with pytest.raises(ConfigurationError, match="numeric 'input' and 'output'"):
        load_prices(bad)


def test_batch_benchmark_runs_and_its_checks_hold(tmp_path: Path) -> None:
    """The benchmark script in small sizes: it still works, and the correctness
    checks it reports (not its timings) hold."""
    proc = subprocess.run(
        [sys.executable, "benchmarks/batch.py", "--quick", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, timeout=240, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    result = json.loads((tmp_path / "batch.json").read_text())
    assert all(result["faults"]["check"].values()), result["faults"]
    assert result["cache"]["server_requests_on_second_run"] == 0
    assert result["throughput"]["workers_auto"][0]["ok"] == result["config"]["articles"]
    assert result["throughput"]["plain_instructor_one_event_loop"]["ok"] == 40


def test_a_killed_worker_fails_only_its_articles_and_a_rerun_recovers(
    fake_openai: FakeOpenAI, tmp_path: Path, seed_text: str, seed_summary: dict[str, Any]
) -> None:
    fake_openai.default = Reply(**{**summary_reply(seed_summary).__dict__, "delay": 0.3})
    inp = _articles_jsonl(tmp_path, seed_text, "d", 16)
    out = tmp_path / "r.jsonl"
    args = ["batch", str(inp), "-o", str(out), "--model", "fake-model",
            "--base-url", fake_openai.url, "-c", "2", "--workers", "2"]  # fmt: skip
    proc = start_cli(*args)
    children: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(children) < 2:
        path = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        children = path.read_text().split() if path.exists() else []
        time.sleep(0.05)
    assert len(children) == 2, "the batch did not start two workers"
    while time.monotonic() < deadline and len(fake_openai.requests) < 2:
        time.sleep(0.02)
    os.kill(int(children[0]), signal.SIGKILL)
    _, stderr = proc.communicate(timeout=120)
    err = stderr.decode()
    assert proc.returncode == 60, err
    assert "Traceback" not in err
    result = _rows(out)
    assert sorted(r["id"] for r in result) == sorted(f"d{i}" for i in range(16))
    died = [r for r in result if r["status"] == "error"]
    assert died
    assert all(r["error"]["kind"] == "WorkerDiedError" for r in died)
    rerun = run_cli(*args)
    assert rerun.returncode == 0, rerun.stderr.decode()
    assert all(r["status"] == "ok" for r in _rows(out))
    assert len(_rows(out)) == 16


def test_an_output_file_that_is_not_ours_is_left_alone(tmp_path: Path, seed_text: str) -> None:
    rows = "\n".join(json.dumps({"id": f"x{i}", "text": seed_text}) for i in range(2))
    (tmp_path / "in.jsonl").write_text(rows, encoding="utf-8")
    (tmp_path / "notes.jsonl").write_text('{"note": "mine"}\n', encoding="utf-8")
    base = ["--model", "m", "--base-url", "http://127.0.0.1:9/v1"]
    for target in ("in.jsonl", "notes.jsonl"):
        before = (tmp_path / target).read_bytes()
        proc = run_cli("batch", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / target), *base)
        err = proc.stderr.decode()
        assert proc.returncode == 20, err
        assert "choose another" in err
        assert (tmp_path / target).read_bytes() == before


def _open_cache(path: Path, start: Any, results: Any) -> None:
    start.wait()
    try:
        cache = ResponseCache(path)
        cache.put(f"k{os.getpid()}", {"ok": True})
        cache.close()
        results.put("ok")
    except Exception as e:  # noqa: BLE001 - reported to the test
        results.put(f"{type(e).__name__}: {e}")


def test_workers_opening_a_new_cache_at_once_all_succeed(tmp_path: Path) -> None:
    """Two batch workers create the cache file at the same moment; before the retry,
    switching it to WAL failed with "database is locked" about once in twenty."""
    context = multiprocessing.get_context("fork")
    outcomes = []
    for i in range(30):
        start, results = context.Barrier(2), context.Queue()
        path = tmp_path / f"c{i}" / "answers.sqlite3"
        procs = [context.Process(target=_open_cache, args=(path, start, results)) for _ in "ab"]
        for p in procs:
            p.start()
        for p in procs:
            p.join(30)
        outcomes += [results.get(timeout=5) for _ in procs]
    assert outcomes == ["ok"] * 60


def test_a_model_without_a_price_says_so_once_and_costs_unknown(
    fake_openai: FakeOpenAI, tmp_path: Path, seed_text: str, seed_summary: dict[str, Any]
) -> None:
    """No price is no failure (unless --max-cost needs one): the cost is unknown, not
    0, and the run says so once, on stderr and in the ledger."""
    fake_openai.default = summary_reply(seed_summary)
    (tmp_path / "in").mkdir()
    for i in range(3):
        (tmp_path / "in" / f"{i}.txt").write_text(_article(seed_text, i), encoding="utf-8")
    out = tmp_path / "r.jsonl"
    proc = run_cli("batch", str(tmp_path / "in"), "-o", str(out), "--model", "fake-model",
                   "--base-url", fake_openai.url, "-c", "1")  # fmt: skip
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    assert err.count("no price known for compatible/fake-model") == 1
    assert "cost unknown (no price known for compatible/fake-model; --prices)" in err
    run = json.loads(ledger_path(out).read_text())["runs"][0]
    assert run["cost_usd"] is None
    assert run["warning"].startswith("no price known for compatible/fake-model")
