"""The batch engines of #15 reviewed as a new user and as an attacker would use them:
``merge`` given edited ledgers and hostile shard files, ``--engine openai-batch`` given
a tampered manifest, a hostile provider and a batch that never ends, ``--engine ray``
given a cluster address where nothing answers and a Ctrl-C while Ray starts.

Each bad input must end as one line and a distinct exit code, never a traceback, and
never lose finished results. Nothing here starts a real Ray (a stand-in module plays
``ray`` where its behaviour matters), so these tests take seconds.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from summarizer.batch import OutputLock
from summarizer.batch.ledger import ledger_path
from summarizer.batch.openai_batch import Limits, manifest_path
from summarizer.batch.openai_batch import engine as engine_module
from summarizer.batch.openai_batch.job import Job
from summarizer.batch.ray_engine import start_ray
from summarizer.cli import app
from summarizer.errors import BackendUnavailableError
from tests.conftest import ROOT
from tests.fakebatch import FakeBatchServer
from tests.test_cli import cli_env
from tests.test_openai_batch import Model, command, inputs, rows

runner = CliRunner()


def _one_line_error(result: Any, code: int, words: str) -> str:
    """The command failed with ``code`` and one error line holding ``words``."""
    errors = [line for line in result.output.splitlines() if "error" in line]
    assert result.exit_code == code, result.output
    assert len(errors) == 1, result.output
    assert words in errors[0], errors[0]
    assert "Traceback" not in result.output
    return errors[0]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- merge --------------------------------------------------------------------------------


@pytest.fixture
def shards(tmp_path: Path) -> list[Path]:
    """Two shard outputs of 6 articles, made with the offline default."""
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(6):
        (folder / f"a{i}.txt").write_text(
            f"Mayor Ann Lee of Townville {i} said on Monday that the city will build a new "
            "bridge by 2027. The council approved the money for the work.",
            encoding="utf-8",
        )
    outs = []
    for k in (1, 2):
        out = tmp_path / f"out-{k}.jsonl"
        result = runner.invoke(app, ["batch", str(folder), "-o", str(out), "--shard", f"{k}/2"])
        assert result.exit_code == 0, result.output
        outs.append(out)
    return outs


def _edit_run(out: Path, **change: Any) -> None:
    path = ledger_path(out)
    ledger = json.loads(path.read_text(encoding="utf-8"))
    for key, value in change.items():
        group, _, name = key.partition("__")
        if name:
            ledger["runs"][0].setdefault(group, {})[name] = value
        else:
            ledger["runs"][0][group] = value
    path.write_text(json.dumps(ledger), encoding="utf-8")  # NaN and Infinity as Python writes them


@pytest.mark.parametrize(
    "change",
    [
        {"cost_usd": -5.0},
        {"cost_usd": math.nan},
        {"cost_usd": math.inf},
        {"cost_usd": 1e300},
        {"cost_usd": "abc"},
        {"cost_usd": True},
        {"usage__total_tokens": "abc"},
        {"usage__total_tokens": -100},
        {"usage__total_tokens": 10**30},
        {"usage__prompt_tokens": math.inf},
        {"usage__completion_tokens": [1]},
        {"usage": [1, 2]},
        {"attempts__reasks": "x"},
    ],
    ids=repr,
)
def test_merge_refuses_a_ledger_whose_figures_cannot_be_summed(
    tmp_path: Path, shards: list[Path], change: dict[str, Any]
) -> None:
    """Before: a negative, NaN or infinite cost was summed into the merged ledger (and
    written as NaN, which is not JSON), a string was an internal error (exit 1)."""
    _edit_run(shards[1], **change)
    out = tmp_path / "merged.jsonl"
    result = runner.invoke(app, ["merge", *map(str, shards), "-o", str(out)])
    line = _one_line_error(result, 15, "not a batch ledger")
    assert "run 1's" in line
    assert not out.exists()
    assert not ledger_path(out).exists()


def test_merge_sums_plausible_figures_as_before(tmp_path: Path, shards: list[Path]) -> None:
    """The check refuses edits, not runs: zero, null and large real figures pass."""
    _edit_run(shards[0], cost_usd=None, usage__total_tokens=0)
    _edit_run(shards[1], cost_usd=12345.678, usage__total_tokens=9_000_000_000)
    out = tmp_path / "merged.jsonl"
    result = runner.invoke(app, ["merge", *map(str, shards), "-o", str(out)])
    assert result.exit_code == 0, result.output
    merged = json.loads(ledger_path(out).read_text(encoding="utf-8"))
    assert merged["total"]["cost_usd"] is None  # one shard's cost is unknown
    assert merged["total"]["total_tokens"] == 9_000_000_000


def test_the_merged_files_are_as_readable_as_a_batchs(tmp_path: Path, shards: list[Path]) -> None:
    """Before: mkstemp's 0600, so a merged output was private where its shards were not."""
    out = tmp_path / "merged.jsonl"
    assert runner.invoke(app, ["merge", *map(str, shards), "-o", str(out)]).exit_code == 0
    umask = os.umask(0)
    os.umask(umask)
    expected = 0o666 & ~umask
    assert shards[0].stat().st_mode & 0o777 == expected  # what the batch wrote
    assert out.stat().st_mode & 0o777 == expected
    assert ledger_path(out).stat().st_mode & 0o777 == expected
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_merge_reads_no_line_over_the_cap(
    tmp_path: Path, shards: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: a line was read whole however long (1 GB: 3.2 GB of RSS, and merged)."""
    from summarizer.batch import shard_merge

    monkeypatch.setattr(shard_merge, "_MAX_LINE", 4096)
    row = {"id": "zz", "status": "error", "error": {"kind": "X", "message": "m" * 10_000}}
    with shards[1].open("a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
    out = tmp_path / "merged.jsonl"
    result = runner.invoke(app, ["merge", *map(str, shards), "-o", str(out)])
    _one_line_error(result, 15, "line 4 is over 0 MB")
    assert not out.exists()


def test_merge_of_hostile_lines_and_ids(tmp_path: Path, shards: list[Path]) -> None:
    """Invalid UTF-8 is refused in one line; an id that is a path stays an id."""
    good = shards[1].read_bytes()
    shards[1].write_bytes(good + b'{"id": "\xff\xfe", "status": "error"}\n')
    out = tmp_path / "merged.jsonl"
    result = runner.invoke(app, ["merge", *map(str, shards), "-o", str(out)])
    _one_line_error(result, 15, "is not UTF-8")

    row = {"id": "../../../etc/passwd", "status": "error", "error": {"kind": "X"}}
    shards[1].write_bytes(good + json.dumps(row).encode() + b"\n")
    result = runner.invoke(app, ["merge", *map(str, shards), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "../../../etc/passwd" in {r["id"] for r in rows(tmp_path, "merged.jsonl")}
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == sorted(
        [*(p.name for p in shards), *(ledger_path(p).name for p in shards),
         "merged.jsonl", "merged.jsonl.ledger.json"]
    )  # fmt: skip


def test_two_merges_into_one_output_one_waits_for_nothing(
    tmp_path: Path, shards: list[Path]
) -> None:
    """A merge into an output another merge (or batch) holds is refused at once."""
    out = tmp_path / "merged.jsonl"
    held, release = threading.Event(), threading.Event()

    def other_merge() -> None:
        with OutputLock(out):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=other_merge)
    thread.start()
    try:
        assert held.wait(10)
        result = runner.invoke(app, ["merge", *map(str, shards), "-o", str(out)])
    finally:
        release.set()
        thread.join()
    _one_line_error(result, 63, "merged.jsonl")
    assert not out.exists()


# -- openai-batch ---------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeBatchServer]:
    with FakeBatchServer(Model()) as server:
        yield server


def test_an_endpoint_nobody_listens_on_is_one_line_and_exit_30(tmp_path: Path) -> None:
    """Before: the probe let the SDK's APIConnectionError through: an internal error."""
    inputs(tmp_path, 2)
    server = SimpleNamespace(url=f"http://127.0.0.1:{_closed_port()}/v1")
    result = runner.invoke(app, [*command(tmp_path, server, "--retries", "0")])  # type: ignore[arg-type]
    _one_line_error(result, 30, "cannot reach")
    assert "internal error" not in result.output


def test_a_model_that_runs_here_is_refused_before_the_batch_api_notice(tmp_path: Path) -> None:
    """Before: "the requests go to the provider's Batch API, which may take up to
    24 h" came first, then the refusal."""
    inputs(tmp_path, 2)
    out = tmp_path / "out.jsonl"
    result = runner.invoke(
        app, ["batch", str(tmp_path / "in.jsonl"), "-o", str(out), "--engine", "openai-batch"]
    )
    _one_line_error(result, 20, "rules is not a model behind an OpenAI-compatible endpoint")
    assert "24 h" not in result.output
    assert not out.exists()


def _held_run(tmp_path: Path, fake: FakeBatchServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run interrupted while its one batch runs: the manifest has it, created."""
    fake.knobs.hold = True
    wait = engine_module.OpenAIBatchEngine._wait

    def interrupted(self: Any, job: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(engine_module.OpenAIBatchEngine, "_wait", interrupted)
    assert runner.invoke(app, command(tmp_path, fake)).exit_code == 130
    monkeypatch.setattr(engine_module.OpenAIBatchEngine, "_wait", wait)


def _edit_manifest(tmp_path: Path, change: Any) -> None:
    path = manifest_path(tmp_path / "out.jsonl")
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data["batches"][0])
    path.write_text(json.dumps(data), encoding="utf-8")


@pytest.mark.parametrize("batch_id", ["..", "../../escape", "batch_1/cancel", "", "a" * 300])
def test_a_manifest_naming_a_batch_id_that_is_a_path_is_refused(
    tmp_path: Path, fake: FakeBatchServer, monkeypatch: pytest.MonkeyPatch, batch_id: str
) -> None:
    """Before: ".." made the SDK raise ValueError (an internal error); a provider that
    answered to "../../escape" would have had its files written outside the folder."""
    inputs(tmp_path, 3)
    _held_run(tmp_path, fake, monkeypatch)
    _edit_manifest(tmp_path, lambda b: b.update(batch_id=batch_id))
    result = runner.invoke(app, command(tmp_path, fake))
    _one_line_error(result, 20, "is not an id")
    assert not list(tmp_path.parent.glob("escape*"))


def test_a_manifest_mapping_a_request_to_another_article_is_refused(
    tmp_path: Path, fake: FakeBatchServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the answer to article 0's request became article 1's answer."""
    inputs(tmp_path, 3)
    _held_run(tmp_path, fake, monkeypatch)

    def swap(batch: dict[str, Any]) -> None:
        (a, where_a), (b, where_b) = list(batch["requests"].items())[:2]
        batch["requests"][a], batch["requests"][b] = where_b, where_a

    _edit_manifest(tmp_path, swap)
    result = runner.invoke(app, command(tmp_path, fake))
    _one_line_error(result, 20, "is not the request of")


def test_a_manifest_pointing_at_another_jobs_batch_is_refused(
    tmp_path: Path, fake: FakeBatchServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the run followed the other job's batch and took its answers."""
    inputs(tmp_path, 3)
    _held_run(tmp_path, fake, monkeypatch)
    mine = fake.order[0]
    other = tmp_path / "other"
    other.mkdir()
    inputs(other, 3)
    _held_run(other, fake, monkeypatch)
    theirs = fake.order[1]
    _edit_manifest(tmp_path, lambda b: b.update(batch_id=theirs))
    fake.knobs.hold = False
    result = runner.invoke(app, command(tmp_path, fake))
    _one_line_error(result, 20, "copied from another job")
    assert not (tmp_path / "out.jsonl").read_text(encoding="utf-8")  # nothing taken
    assert fake.counts["downloads"] == 0  # not even read
    assert {fake.batches[b]["status"] for b in (mine, theirs)} <= {"validating", "in_progress"}


class _HostileBatches(FakeBatchServer):
    """The fake, with a provider's faults it lacks: a batch id that is a path, padded
    result files, a status the spec does not name and that never ends."""

    batch_id: str | None = None
    pad: int = 0
    status: str | None = None

    def _create(self, body: dict[str, Any]) -> Any:
        reply = super()._create(body)
        if self.batch_id is not None:
            reply.body = {**reply.body, "id": self.batch_id}
        return reply

    def _output_file(self, batch_id: str, kind: str, lines: list[dict[str, Any]]) -> str | None:
        file_id = super()._output_file(batch_id, kind, lines)
        if file_id is not None and self.pad:
            self.contents[file_id] += b"\n" * self.pad
        return file_id

    def _advance(self, batch_id: str) -> dict[str, Any] | None:
        batch = super()._advance(batch_id)
        if batch is not None and self.status is not None:
            self.counts["retrieved"] += 1
            batch["status"] = self.status if self.counts["retrieved"] < 50 else "cancelled"
        return batch


def test_a_provider_batch_id_that_is_a_path_is_refused(tmp_path: Path) -> None:
    inputs(tmp_path, 2)
    with _HostileBatches(Model()) as server:
        server.batch_id = "../../../escape"
        result = runner.invoke(app, command(tmp_path, server))
    _one_line_error(result, 33, "whose id is '../../../escape', which is not an id")
    assert not list(tmp_path.parent.parent.glob("escape*"))


def test_a_result_file_over_the_cap_is_not_read_and_what_finished_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: a result file was read whole, whatever its size. The cap is each
    request's answer cap (here 20 KB) plus 4 KB of envelope: a file 10x the size of
    its answers passes, one over the cap ends the run with exit 33."""
    monkeypatch.setattr(engine_module, "Limits", lambda: Limits(answer_bytes=20_000))
    inputs(tmp_path, 3)
    with _HostileBatches(Model()) as server:
        first = runner.invoke(app, command(tmp_path, server))
        assert first.exit_code == 0, first.output
        output = [i for i, f in server.files.items() if f["filename"].endswith("_output.jsonl")]
        size = len(server.contents[output[0]])
        (tmp_path / "out.jsonl").unlink()
        (ledger_path(tmp_path / "out.jsonl")).unlink()
        manifest_path(tmp_path / "out.jsonl").unlink()
        server.pad = 9 * size  # 10x the answers: read, its padding skipped
        again = runner.invoke(app, [*command(tmp_path, server), "--no-cache"])
        assert again.exit_code == 0, again.output
        assert len(rows(tmp_path)) == 3
        server.pad = 4 * 24_096 + 1  # 3 requests (and one more) of 24 KB, and a byte
        inputs(tmp_path, 3, first=3)
        over = runner.invoke(app, [*command(tmp_path, server), "--no-cache"])
    _one_line_error(over, 33, "bytes its batch's answers may take")
    assert len(rows(tmp_path)) == 3  # the finished ones are kept


def test_a_batch_that_never_ends_ends_the_run_after_the_deadline(tmp_path: Path) -> None:
    """Before: a batch in a status the spec does not name (or stuck validating) was
    polled forever. Here the provider's clock says it was created 3 days ago."""
    inputs(tmp_path, 2)
    with _HostileBatches(Model()) as server:
        server.status = "paused_by_provider"
        server._now -= 3 * 86_400
        result = runner.invoke(app, command(tmp_path, server))
        assert server.counts["retrieved"] < 50, "polled until the fake gave up"
    line = _one_line_error(result, 32, "is still 'paused_by_provider'")
    assert "past its 24 h completion window" in line
    assert "--cancel" in line
    saved = json.loads(manifest_path(tmp_path / "out.jsonl").read_text(encoding="utf-8"))
    assert saved["batches"][0]["state"] == "created"  # a rerun or --cancel finds it


def test_an_overdue_batch_can_still_be_cancelled(tmp_path: Path) -> None:
    """The deadline's message says --cancel; --cancel must then not fail on the same
    deadline while the cancellation goes through."""
    inputs(tmp_path, 2)
    with FakeBatchServer(Model()) as server:
        server.knobs.hold = True
        server._now -= 3 * 86_400
        overdue = runner.invoke(app, command(tmp_path, server))
        _one_line_error(overdue, 32, "past its 24 h completion window")
        cancel = runner.invoke(app, command(tmp_path, server, "--cancel"))
        assert cancel.exit_code == 0, cancel.output
        assert server.batches[server.order[0]]["status"] == "cancelled"


def test_a_cancellation_that_never_ends_ends_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs(tmp_path, 2)
    monkeypatch.setattr(engine_module, "Limits", lambda: Limits(cancel_s=0.0))
    with _HostileBatches(Model()) as server:
        _held_run(tmp_path, server, monkeypatch)
        server.status = "cancelling"
        server.counts["retrieved"] = -10_000
        result = runner.invoke(app, command(tmp_path, server, "--cancel"))
    _one_line_error(result, 32, "min after it was asked to cancel")


def test_an_odd_status_is_waited_on_and_said_once(caplog: pytest.LogCaptureFixture) -> None:
    job = Job.__new__(Job)
    job._odd, job._asked, job.limits = set(), {}, Limits()
    job.api = SimpleNamespace(backend=SimpleNamespace(model="m"))  # type: ignore[assignment]
    entry = SimpleNamespace(status="paused", batch_id="batch_1", created_at=int(time.time()))
    with caplog.at_level("WARNING", logger="summarizer.batch.openai_batch"):
        job._check_running(entry)  # type: ignore[arg-type]
        job._check_running(entry)  # type: ignore[arg-type]
    said = [r.getMessage() for r in caplog.records if "does not name" in r.getMessage()]
    assert len(said) == 1
    assert "'paused'" in said[0]


# -- ray ------------------------------------------------------------------------------------


def test_ray_address_where_nothing_listens_is_one_line_and_exit_22_at_once(
    tmp_path: Path,
) -> None:
    """Before: ``ray.init`` waited forever (5 minutes here before it was killed),
    printing a C++ warning every few seconds."""
    (tmp_path / "a.txt").write_text("Mayor Ann Lee said the city will build a bridge.")
    env = cli_env({"RAY_ADDRESS": f"127.0.0.1:{_closed_port()}"})
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "summarizer", "batch", str(tmp_path / "a.txt"), "-o",
             str(tmp_path / "out.jsonl"), "--engine", "ray"],
            capture_output=True, text=True, env=env, cwd=ROOT, timeout=60,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("still waiting for the Ray cluster after 60 s")
    assert time.monotonic() - started < 30
    assert done.returncode == 22, done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()], done.stderr
    assert "no Ray cluster answers at 127.0.0.1:" in done.stderr
    assert "RAY_ADDRESS" in done.stderr


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--shards", "0"], 2, "Invalid value for '--shards'"),
        (["--shards", "9"], 20, "from 1 to the concurrency (-c) 8"),
    ],
)
def test_shard_counts_out_of_range_start_no_ray(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], code: int, says: str
) -> None:
    """More shards than articles is allowed (empty shards), more than -c is not."""
    from summarizer.batch import ray_engine

    monkeypatch.setattr(ray_engine, "start_ray", lambda *a: pytest.fail("Ray was started"))
    (tmp_path / "a.txt").write_text("Mayor Ann Lee said the city will build a bridge.")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(
        app, ["batch", str(tmp_path / "a.txt"), "-o", str(out), "--engine", "ray", *args]
    )
    assert result.exit_code == code, result.output
    assert says in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


class _SlowRay:
    """Stands in for ``ray``: its ``init`` is interrupted by Ctrl-C half-way."""

    def __init__(self) -> None:
        self.started = self.finished = self.shut_down = False

    def is_initialized(self) -> bool:
        return False

    def init(self, **kwargs: Any) -> None:
        self.started = True
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)  # Ray's processes being started
        self.finished = True

    def shutdown(self) -> None:
        self.shut_down = True

    def cluster_resources(self) -> dict[str, float]:
        return {"CPU": 2.0}


def test_ctrl_c_while_ray_starts_waits_for_it_and_stops_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: Ctrl-C cut ``ray.init`` short, and Ray's agents (DashboardAgent,
    RuntimeEnvAgent) ran on with no parent, deaf to SIGTERM."""
    from summarizer.batch import ray_engine

    fake_ray = _SlowRay()
    monkeypatch.setattr(ray_engine, "_ray", lambda: fake_ray)
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        start_ray(num_cpus=1)
    assert fake_ray.finished, "ray.init was cut short"
    assert fake_ray.shut_down
    assert signal.getsignal(signal.SIGINT) is before
    assert "stopping Ray once it has started" in capsys.readouterr().err


def test_ray_address_checks_leave_other_forms_to_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    """``auto`` and ``ray://`` are Ray's to judge (it does so at once); a malformed
    ``host:port`` is one line too."""
    from summarizer.batch import ray_engine

    ray_engine._check_reachable("auto")
    ray_engine._check_reachable("ray://10.0.0.1:10001")
    with pytest.raises(BackendUnavailableError, match=r"no Ray cluster answers at 127\.0\.0\.1:"):
        ray_engine._check_reachable(f"127.0.0.1:{_closed_port()}")
    with pytest.raises(BackendUnavailableError, match="no Ray cluster answers"):
        ray_engine._check_reachable("127.0.0.1:99999")


class _Api:
    """Stands in for the Batch API where only the cutting of a round matters."""

    def __init__(self) -> None:
        self.uploads: list[bytes] = []

    def upload(self, filename: str, data: bytes) -> dict[str, Any]:
        self.uploads.append(data)
        return {"id": f"file-{len(self.uploads)}"}

    def create(self, input_file_id: str, metadata: dict[str, str]) -> dict[str, Any]:
        return {"id": f"batch_{input_file_id}", "status": "validating", "metadata": metadata}


class _Unit:
    def __init__(self, body: dict[str, Any]) -> None:
        self.name, self.attempt, self.inflight = "w", 1, None
        self.failures: dict[int, int] = {}
        self.pending = SimpleNamespace(body=body)

    def needs_request(self) -> bool:
        return self.inflight is None


@pytest.mark.parametrize(
    ("count", "lines", "size_in_lines", "cut"),
    [
        (3, 3, 100, [3]),  # exactly the line limit: one batch
        (4, 3, 100, [3, 1]),  # one over: a second batch
        (5, 100, 2, [2, 2, 1]),  # exactly 2 lines' bytes fit
        (3, 100, 1.99, [1, 1, 1]),  # a byte less: one line each
    ],
)
def test_a_round_is_cut_at_the_line_and_byte_limits_exactly(
    tmp_path: Path, count: int, lines: int, size_in_lines: float, cut: list[int]
) -> None:
    from summarizer.backends.openai_batch import request_line
    from summarizer.batch.openai_batch.manifest import Manifest, custom_id

    body = {"model": "m", "messages": [{"role": "user", "content": "x" * 100}]}
    articles = [
        SimpleNamespace(item=SimpleNamespace(id=f"a{i:03d}"), generation=0, admitted=True,
                        units={"w": _Unit(body)})
        for i in range(count)
    ]  # fmt: skip
    one = len(request_line(custom_id("a000", 0, "w", 1, 1), body))
    limits = Limits(lines=lines, bytes=int(one * size_in_lines))
    api = _Api()
    job = Job(api, Manifest(tmp_path / "out.jsonl", {}), None, limits, lambda s: None)  # type: ignore[arg-type]
    assert job.submit(articles) == count  # type: ignore[arg-type]
    assert [data.count(b"\n") for data in api.uploads] == cut
    assert all(len(data) <= limits.bytes for data in api.uploads)
    saved = json.loads(manifest_path(tmp_path / "out.jsonl").read_text(encoding="utf-8"))
    assert [b["lines"] for b in saved["batches"]] == cut
    assert {b["state"] for b in saved["batches"]} == {"created"}
