"""The Ray engine (#15, part 3): ``batch --engine ray``, one Ray task per shard, each
the batch runner, the shard outputs merged into ``-o`` by the driver.

The proof: on a local Ray with 2 CPUs, 2 shards give what one ``run_batch`` gives (ids,
statuses, summaries, ledger totals), with the offline default and with the fake model
server (which runs in this process, on 127.0.0.1, and answers the Ray workers' requests);
Ctrl-C on the command line leaves outputs a rerun finishes, and Ray says nothing on the
terminal; a task killed outright fails its own articles only, and a rerun retries them.
Starting Ray takes 5-15 s, so the tests marked ``ray`` share one Ray, started with the
module's own cache and config (its workers keep the environment of that moment); the
command-line interrupt starts its own, as a user's command would.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from summarizer.batch import BatchItem, BatchOptions, run_batch
from summarizer.batch.pricing import Price
from summarizer.batch.ray_engine import RaySession, run_ray_batch, shard_folder, start_ray
from summarizer.batch.shards import shard_of
from summarizer.cli import app
from summarizer.errors import ConfigurationError
from summarizer.settings import Settings
from tests.conftest import BATCH_ARTICLES, ROOT
from tests.fakeserver import FakeOpenAI, Reply, completion, summary_reply
from tests.test_cli import cli_env
from tests.test_shards import _ledger

runner = CliRunner()


HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="needs the [ray] extra")
PRICES = {"compatible/fake-model": Price(1.0, 2.0)}  # USD per 1M tokens


@pytest.fixture(scope="module")
def ray_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RaySession]:
    if not HAS_RAY:
        pytest.skip("needs the [ray] extra")
    home = tmp_path_factory.mktemp("ray-env")
    (home / "config.toml").touch()
    with pytest.MonkeyPatch.context() as env:
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SUMMARIZER_MODEL", "RAY_ADDRESS"):
            env.delenv(name, raising=False)
        env.setenv("SUMMARIZER_CACHE_DIR", str(home / "cache"))
        env.setenv("SUMMARIZER_CONFIG", str(home / "config.toml"))
        env.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # what start_ray sets: undone
        env.setenv("RAY_USAGE_STATS_ENABLED", "0")
        session = start_ray(num_cpus=2)
    assert session.started
    assert session.cpus == 2
    yield session
    import ray

    ray.shutdown()


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _statuses(path: Path) -> dict[str, str]:
    rows = _rows(path)
    assert len(rows) == len({r["id"] for r in rows}), "an id has two lines"
    return {r["id"]: r["status"] for r in rows}


def _summaries(path: Path) -> dict[str, Any]:
    """Each summary without its meta (times, latencies)."""
    return {
        r["id"]: {k: v for k, v in r["summary"].items() if k != "meta"}
        for r in _rows(path)
        if r["status"] == "ok"
    }


# -- the proof: 2 shards on Ray = one run ------------------------------------------------


@pytest.mark.ray
def test_two_shards_on_ray_equal_one_run_and_a_rerun_resumes(
    ray_session: RaySession, tmp_path: Path, corpus: Path
) -> None:
    settings = Settings.resolve(model="rules")
    single = tmp_path / "all.jsonl"
    one = run_batch([corpus], single, settings, BatchOptions(workers=1), prices={})
    out = tmp_path / "out.jsonl"
    seen: list[int] = []
    stats = run_ray_batch([corpus], out, settings, BatchOptions(concurrency=8), prices={},
                          shards=2, on_change=lambda s: seen.append(s.done))  # fmt: skip
    assert (
        (stats.total, stats.done, stats.failed) == (one.total, one.done, one.failed) == (13, 13, 1)
    )
    assert seen[-1] == 13  # the progress bar saw every article
    assert _statuses(out) == _statuses(single)
    assert _statuses(out)["empty"] == "error"
    assert _summaries(out) == _summaries(single)
    merged, whole = _ledger(out), _ledger(single)
    for key in ("total_tokens", "cost_usd"):
        assert merged["total"][key] == whole["total"][key]
    assert merged["total"]["runs"] == 2
    assert merged["merged"]["shards"] == ["1/2", "2/2"]
    assert merged["merged"]["articles"] == {"total": 13, "ok": 12, "failed": 1}
    folder = shard_folder(out)
    assert sorted(p.name for p in folder.iterdir()) == [
        "1-of-2.jsonl", "1-of-2.jsonl.ledger.json", "2-of-2.jsonl", "2-of-2.jsonl.ledger.json",
    ]  # fmt: skip
    for k in (1, 2):
        shard = folder / f"{k}-of-2.jsonl"
        assert all(shard_of(i, 2) == k for i in _statuses(shard))
        (run,) = _ledger(shard)["runs"]
        assert (run["shard"], run["status"], run["concurrency"]) == (f"{k}/2", "finished", 4)

    # A rerun finds the 2 shards, skips the summaries and retries the failed article.
    (corpus / "empty.txt").write_text("The mayor said the bridge will reopen.", encoding="utf-8")
    again = run_ray_batch([corpus], out, settings, BatchOptions(concurrency=8), prices={})
    assert (again.skipped, again.done, again.failed) == (12, 1, 0)
    assert set(_statuses(out).values()) == {"ok"}
    assert len(_statuses(out)) == 13
    assert _ledger(out)["total"]["runs"] == 4


@pytest.mark.ray
def test_with_the_fake_server_tokens_and_cost_add_up(
    ray_session: RaySession,
    fake_openai: FakeOpenAI,
    tmp_path: Path,
    seed_text: str,
    seed_summary: dict[str, Any],
) -> None:
    """Ray workers are processes of their own; the fake server in this process answers
    them on 127.0.0.1. One article fails after spending its tokens."""
    good = summary_reply(seed_summary)

    def answer(body: dict[str, Any]) -> Reply:
        sent = json.dumps(body["messages"])
        return Reply(body=completion(content="not json")) if "number 3." in sent else good

    fake_openai.responder = answer
    items = [BatchItem(f"n{i}", f"n{i}", f"{seed_text}\n\nThis copy is number {i}.")
             for i in range(10)]  # fmt: skip
    settings = Settings.resolve(model="fake-model", base_url=fake_openai.url, max_reasks=0)
    options = BatchOptions(concurrency=4, use_cache=False, rpm=600)
    single = tmp_path / "all.jsonl"
    whole = run_batch([], single, settings, options, prices=PRICES, items=items)
    out = tmp_path / "out.jsonl"
    stats = run_ray_batch([], out, settings, options, prices=PRICES, items=items, shards=2)
    assert len(fake_openai.requests) == 20  # every article asked once per run
    assert (stats.tokens, stats.failed) == (whole.tokens, whole.failed) == (10_000, 1)
    assert stats.cost_usd == pytest.approx(whole.cost_usd)
    assert stats.cost_usd is not None
    assert stats.cost_usd > 0
    assert _statuses(out) == _statuses(single)
    assert _summaries(out) == _summaries(single)
    assert next(r for r in _rows(out) if r["id"] == "n3")["error"]["kind"] == "InvalidOutputError"
    merged, one = _ledger(out), _ledger(single)
    assert merged["total"]["total_tokens"] == one["total"]["total_tokens"] == 10_000
    assert merged["total"]["cost_usd"] == pytest.approx(one["total"]["cost_usd"])
    assert merged["merged"]["usage"] == one["runs"][0]["usage"]
    for k in (1, 2):  # each shard: half the job's requests in flight and rate limit
        (run,) = _ledger(shard_folder(out) / f"{k}-of-2.jsonl")["runs"]
        assert (run["concurrency"], run["rate_limit"]["rpm"], run["model"]) == (
            2, 300.0, "compatible/fake-model"
        )  # fmt: skip


def _shard_task_pids() -> list[int]:
    """Ray workers running a shard, among this process's descendants (its Ray)."""
    parents: dict[int, int] = {}
    titles: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                titles[int(entry.name)] = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])

    def ours(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == os.getpid():
                return True
        return False

    return [p for p, t in titles.items() if t.startswith("ray::_shard_task") and ours(p)]


@pytest.mark.ray
def test_a_task_killed_outright_fails_its_own_articles_and_a_rerun_retries_them(
    ray_session: RaySession,
    fake_openai: FakeOpenAI,
    tmp_path: Path,
    seed_text: str,
    seed_summary: dict[str, Any],
) -> None:
    good = summary_reply(seed_summary)
    killed: list[int] = []

    def answer(body: dict[str, Any]) -> Reply:
        if not killed:  # the first request: no article is finished yet
            pids = _shard_task_pids()
            assert pids, "no Ray worker runs a shard"
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])
        return good

    fake_openai.responder = answer
    items = [BatchItem(f"n{i}", f"n{i}", f"{seed_text}\n\nThis copy is number {i}.")
             for i in range(8)]  # fmt: skip
    settings = Settings.resolve(model="fake-model", base_url=fake_openai.url)
    options = BatchOptions(concurrency=2, use_cache=False)
    out = tmp_path / "out.jsonl"
    stats = run_ray_batch([], out, settings, options, prices=PRICES, items=items, shards=2)
    rows = _rows(out)
    died = [r for r in rows if r["status"] == "error"]
    assert died, "the killed task's articles have error lines"
    assert {r["error"]["kind"] for r in died} == {"WorkerDiedError"}
    assert {r["error"]["exit_code"] for r in died} == {62}
    (dead,) = {shard_of(r["id"], 2) for r in died}  # one shard's articles, none of the other's
    assert all(r["status"] == "ok" for r in rows if shard_of(r["id"], 2) != dead)
    assert len(rows) == 8
    assert stats.failed == len(died)
    assert _ledger(shard_folder(out) / f"{dead}-of-2.jsonl")["runs"][-1]["status"] == "failed"

    fake_openai.responder = lambda body: good
    again = run_ray_batch([], out, settings, options, prices=PRICES, items=items)
    assert (again.done, again.failed) == (len(died), 0)
    assert set(_statuses(out).values()) == {"ok"}
    assert len(_statuses(out)) == 8


@pytest.mark.ray
def test_an_error_that_stops_a_shards_batch_stops_the_run_as_itself(
    ray_session: RaySession, tmp_path: Path
) -> None:
    """Raised in a Ray worker (a budget without a price), it reaches the caller as the
    library's own error, with its exit code, not as Ray's wrapper; nothing is merged."""
    settings = Settings.resolve(model="fake-model", base_url="http://127.0.0.1:9/v1")
    out = tmp_path / "out.jsonl"
    items = [BatchItem(f"n{i}", f"n{i}", "The mayor said the bridge will reopen.")
             for i in range(4)]  # fmt: skip
    with pytest.raises(ConfigurationError, match="needs a price") as raised:
        run_ray_batch([], out, settings, BatchOptions(max_cost=1.0), prices={}, items=items,
                      shards=2)  # fmt: skip
    assert raised.value.exit_code == 20
    assert not out.exists()


@pytest.mark.ray
def test_the_command_line_on_the_same_ray(
    ray_session: RaySession, tmp_path: Path, corpus: Path
) -> None:
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["batch", str(corpus), "-o", str(out), "--engine", "ray"])
    assert result.exit_code == 60, result.stderr  # the empty article
    assert "12 ok, 1 failed" in result.stderr
    assert len(_statuses(out)) == 13
    assert _ledger(out)["merged"]["shards"] == ["1/2", "2/2"]  # Ray's 2 CPUs, by default


@pytest.mark.ray
def test_ctrl_c_leaves_outputs_that_a_rerun_finishes_and_ray_stays_quiet(
    ray_session: RaySession, fake_openai: FakeOpenAI, tmp_path: Path, seed_text: str,
    seed_summary: dict[str, Any],
) -> None:  # fmt: skip
    """The command in its own process group, as a terminal runs it, interrupted as a
    terminal does (SIGINT to the whole group: Ray's processes get it too)."""
    reply = summary_reply(seed_summary)
    fake_openai.responder = lambda body: Reply(reply.status, reply.body, delay=0.3)
    items = tmp_path / "in.jsonl"
    items.write_text("".join(json.dumps({"id": f"n{i}", "text": f"{seed_text}\n\nCopy {i}."})
                             + "\n" for i in range(24)), encoding="utf-8")  # fmt: skip
    out = tmp_path / "out.jsonl"
    folder = shard_folder(out)
    proc = subprocess.Popen(
        [sys.executable, "-m", "summarizer", "batch", str(items), "-o", str(out), "--engine",
         "ray", "--ray-cpus", "2", "-c", "2", "--model", "fake-model", "--base-url",
         fake_openai.url, "--no-cache"],
        cwd=ROOT, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            written = sum(p.read_bytes().count(b"\n") for p in folder.glob("*-of-2.jsonl"))
            if written >= 4:
                break
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err.decode()
    assert err.decode().splitlines() == [
        f"summarizer: interrupted; finished articles are in {out}: run the same command "
        "again to continue"
    ]  # nothing from Ray
    done = _statuses(out)
    assert 4 <= len(done) < 24
    assert set(done.values()) == {"ok"}
    for k in (1, 2):
        assert _ledger(folder / f"{k}-of-2.jsonl")["runs"][-1]["status"] == "interrupted"

    fake_openai.responder = lambda body: reply
    sent = len(fake_openai.requests)
    settings = Settings.resolve(model="fake-model", base_url=fake_openai.url)
    again = run_ray_batch([items], out, settings, BatchOptions(concurrency=2, use_cache=False),
                          prices=PRICES)  # fmt: skip
    assert again.skipped == len(done)
    assert (again.total, again.failed) == (24, 0)
    assert len(fake_openai.requests) - sent == 24 - again.skipped
    assert set(_statuses(out).values()) == {"ok"}
    assert len(_statuses(out)) == 24
    assert _ledger(out)["total"]["runs"] == 4


# -- refusals: one line each, nothing written, no Ray started ----------------------------


def test_without_the_extra_one_line_and_exit_22(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "ray" else real(name, *a))  # fmt: skip
    out = tmp_path / "out.jsonl"
    article = str(BATCH_ARTICLES[0])
    result = runner.invoke(app, ["batch", article, "-o", str(out), "--engine", "ray"])
    assert result.exit_code == 22, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "[ray] extra" in line
    assert "pip install 'summarizer[ray]'" in line
    assert not out.exists()


@needs_ray
@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--engine", "ray", "--shards", "3", "-c", "2"], "from 1 to the concurrency"),
        (["--engine", "ray", "--shard", "1/2"], "--shards N runs them all"),
        (["--shards", "2"], "are for --engine ray"),
        (["--engine", "ray", "--workers", "2"], "one process per shard"),
        (["--engine", "ray", "--ray-cpus", "2"], "has its own"),  # with RAY_ADDRESS
        (["--engine", "ray", "--shards", "3"], "holds 2 shards"),
        (["--engine", "ray", "-o", "LIVE"], "is not the Ray engine's merge"),
    ],
)
def test_bad_values_are_refused_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], says: str
) -> None:
    article = tmp_path / "a.txt"
    article.write_text("The mayor said the bridge will reopen.", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    folder = shard_folder(out)
    folder.mkdir()
    (folder / "1-of-2.jsonl").touch()  # an earlier run's 2 shards
    live = tmp_path / "live.jsonl"
    run_batch([article], live, Settings.resolve(model="rules"), BatchOptions(workers=1), prices={})
    before = live.read_bytes()
    if "--ray-cpus" in args:
        monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")  # a cluster, never reached
    args = [str(live) if a == "LIVE" else a for a in args]
    result = runner.invoke(app, ["batch", str(article), "-o", str(out), *args])
    assert result.exit_code == 20, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert says in line
    assert not out.exists()
    assert live.read_bytes() == before


def test_engine_is_a_choice(tmp_path: Path) -> None:
    result = runner.invoke(app, ["batch", str(BATCH_ARTICLES[0]), "-o", str(tmp_path / "o.jsonl"),
                                 "--engine", "spark"])  # fmt: skip
    assert result.exit_code == 2
    assert "spark" in result.stderr
