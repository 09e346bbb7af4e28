"""`summarizer batch --engine openai-batch` against a fake Files + Batches server
(tests/fakebatch.py): compressed time, OpenAI's published objects, fault knobs."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from summarizer.batch.ledger import ledger_path
from summarizer.batch.openai_batch import Limits, manifest_path
from summarizer.batch.openai_batch import engine as engine_module
from summarizer.batch.openai_batch.job import Job
from summarizer.batch.openai_batch.manifest import custom_id
from summarizer.batch.openai_batch.pricing import batch_price
from summarizer.batch.pricing import Price, price_for
from summarizer.cli import app
from summarizer.settings import Settings
from tests.conftest import DATA, ROOT
from tests.fakebatch import FakeBatchServer
from tests.fakeserver import completion
from tests.test_cli import cli_env

runner = CliRunner()
ENVELOPES = DATA / "openai-batch"
PRICE = Price(1.0, 2.0)  # the --prices file's, USD per 1M tokens: the batch pays half


# -- articles and a model that answers them ----------------------------------------------


def article(i: int) -> str:
    return (
        f"Mayor Ann Lee of Townville {i} said on Monday that the city will build a new "
        f"bridge over the river by 2027. The council approved {i} million dollars for the "
        "work. It is unclear who will run the project."
    )


def answer(i: int, good: bool = True) -> dict[str, Any]:
    """A grounded answer for article ``i``; not ``good``: one quote is not in it."""
    quote = "the city will build a new bridge over the river by 2027"
    return {
        "key_summary": {
            "headline": f"Townville {i} will build a bridge by 2027",
            "summary": "The mayor said the city will build a bridge by 2027.",
            "key_points": [
                {
                    "text": "The city will build a new bridge by 2027.",
                    "evidence": [{"quote": quote if good else "the city will dig a tunnel"}],
                }
            ],
        },
        "actors": [
            {
                "name": "Ann Lee",
                "kind": "person",
                "role": "Mayor",
                "affiliation": f"Townville {i}",
                "aliases": [],
                "evidence": [{"quote": f"Mayor Ann Lee of Townville {i} said on Monday"}],
            }
        ],
        "commitments": [],
        "open_questions": [],
    }


def every_20th(i: int) -> bool:
    return i % 20 == 0


class Model:
    """Answers chat bodies: article ``i``'s first answer is invalid when ``bad(i)``."""

    def __init__(self, bad: Any = lambda i: False) -> None:
        self.bad = bad

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        found = re.search(r"Townville (\d+)", user)
        assert found, user[:200]
        i = int(found[1])
        attempt = 1 + sum(m["role"] == "assistant" for m in body["messages"])
        text = json.dumps(answer(i, good=not (attempt == 1 and self.bad(i))))
        if body.get("tools"):
            name = body["tools"][0]["function"]["name"]
            return completion(tool_arguments=text, tool_name=name, prompt_tokens=len(user) // 4,
                              completion_tokens=len(text) // 4)  # fmt: skip
        return completion(text, prompt_tokens=len(user) // 4, completion_tokens=len(text) // 4)


@pytest.fixture
def fake() -> Iterator[FakeBatchServer]:
    with FakeBatchServer(Model()) as server:
        yield server


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """200 lines a batch (OpenAI's limit is 50,000), so a round is several batches."""
    monkeypatch.setattr(engine_module, "Limits", lambda: Limits(lines=200))


def inputs(tmp_path: Path, n: int, first: int = 0) -> Path:
    path = tmp_path / "in.jsonl"
    rows = [{"id": f"feeds/été/{i:03d}.txt", "text": article(i)} for i in range(first, first + n)]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    (tmp_path / "prices.toml").write_text('["fake-model"]\ninput = 1.0\noutput = 2.0\n')
    return path


def command(
    tmp_path: Path, fake: FakeBatchServer, *extra: str, engine: str = "openai-batch",
    out: str = "out.jsonl",
) -> list[str]:  # fmt: skip
    return [
        "batch", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / out),
        "--engine", engine, "--poll", "0", "--model", "fake-model", "--base-url", fake.url,
        "--prices", str(tmp_path / "prices.toml"), *extra,
    ]  # fmt: skip


def rows(tmp_path: Path, out: str = "out.jsonl") -> list[dict[str, Any]]:
    text = (tmp_path / out).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def last_run(tmp_path: Path) -> dict[str, Any]:
    return json.loads(ledger_path(tmp_path / "out.jsonl").read_text())["runs"][-1]  # type: ignore[no-any-return]


def check_spec(fake: FakeBatchServer, validate_openai: Any) -> None:
    """Every object the fake returned and every request the client sent, against
    OpenAI's spec (and the line envelopes against the repo's schemas)."""
    for schema, obj in fake.objects:
        validate_openai(obj, schema)
    for body in fake.creations:
        validate_openai(body, "CreateBatchRequest")
    request_line = json.loads((ENVELOPES / "request-input.schema.json").read_text())
    output_line = json.loads((ENVELOPES / "request-output.schema.json").read_text())
    for line in fake.lines:
        jsonschema.validate(line, request_line)
        validate_openai(line["body"], "CreateChatCompletionRequest")
    for file_id, data in fake.contents.items():
        if fake.files[file_id]["purpose"] == "batch_output":
            for raw in data.splitlines():
                jsonschema.validate(json.loads(raw), output_line)
    for body in fake.chat_requests:
        validate_openai(body, "CreateChatCompletionRequest")


# -- the whole job, with every fault -----------------------------------------------------


def test_500_articles_with_every_fault_end_as_one_line_each(
    tmp_path: Path, fake: FakeBatchServer, small_batches: None, validate_openai: Any
) -> None:
    fake.knobs.fail_validation = {1}  # round 1: 200 requests, none answered
    fake.knobs.expire = {2}  # 200 requests, half answered, half batch_expired
    fake.knobs.error_rate, fake.knobs.error_batches = 0.1, {3}  # 10 % error lines
    fake.knobs.duplicate = {3}  # one output line twice
    fake.knobs.forbid_download_once = True  # a 403 on the first download
    fake.responder = Model(bad=every_20th)  # 25 invalid first answers
    inputs(tmp_path, 500)
    result = runner.invoke(app, command(tmp_path, fake))
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output

    lines = rows(tmp_path)
    assert len(lines) == 500
    assert sorted(r["id"] for r in lines) == sorted(f"feeds/été/{i:03d}.txt" for i in range(500))
    assert {r["status"] for r in lines} == {"ok"}
    # Re-asks: the 25 articles whose first answer was invalid, each once.
    reasked = {r["id"] for r in lines if r["attempts"]["reasks"]}
    assert reasked == {f"feeds/été/{i:03d}.txt" for i in range(0, 500, 20)}
    assert all(r["attempts"] == {"responses": 2, "reasks": 1, "transport_retries": 0}
               for r in lines if r["id"] in reasked)  # fmt: skip
    # Failed requests: what the fake injected, each sent again in a later round.
    failed = fake.counts["failed_validation_lines"] + fake.counts["expired_lines"]
    failed += fake.counts["error_lines"]
    assert fake.counts["failed_validation_lines"] == 200
    assert fake.counts["expired_lines"] == 100
    assert 5 <= fake.counts["error_lines"] <= 18  # 10 % of batch 3's 100 lines
    assert len(fake.lines) == 500 + 25 + failed  # every request once, plus resends
    assert fake.counts["answered_lines"] == 525
    run = last_run(tmp_path)
    api = run["batch_api"]
    assert api["requests_failed"] == failed
    assert api["requests_sent"] == len(fake.lines)
    assert api["duplicate_lines"] == fake.counts["duplicates_injected"] == 1
    assert api["batches_created"] == len(fake.order)
    # Round 1 answers the articles of batches 2 and 3 (some invalid: re-asked in
    # round 2); round 2 the failed ones, whose invalid first answers make round 3.
    assert api["rounds"] == 3
    assert fake.counts["forbidden"] == 1
    assert run["attempts"]["reasks"] == 25
    assert run["attempts"]["responses"] == 525
    # Ledger = sum of usage x batch price (half the --prices figure).
    prompt = sum(r["usage"]["prompt_tokens"] for r in lines)
    answer_tokens = sum(r["usage"]["completion_tokens"] for r in lines)
    expected = (prompt * 0.5 + answer_tokens * 1.0) / 1e6
    assert run["cost_usd"] == pytest.approx(expected, abs=1e-6)
    assert sum(r["cost_usd"] for r in lines) == pytest.approx(expected)
    assert run["usage"]["total_tokens"] == prompt + answer_tokens
    # The manifest: every batch done, every custom_id a hash within OpenAI's rules.
    manifest = json.loads(manifest_path(tmp_path / "out.jsonl").read_text())
    assert [b["state"] for b in manifest["batches"]] == ["done"] * len(fake.order)
    assert {b["batch_id"] for b in manifest["batches"]} == set(fake.order)
    for line in fake.lines:
        assert re.fullmatch(r"[0-9a-f]{32}-g0-w-a[12]-t[1-5]", line["custom_id"])
    check_spec(fake, validate_openai)
    assert "Batch API: 3 round(s)" in result.output


def test_lines_are_the_live_engines_for_the_same_answers(
    tmp_path: Path, fake: FakeBatchServer
) -> None:
    """Same request bodies, same summaries, same line shape as `--engine live`."""
    fake.responder = Model(bad=every_20th)
    inputs(tmp_path, 12)
    live = runner.invoke(app, command(tmp_path, fake, "--no-cache", engine="live", out="live"))
    assert live.exit_code == 0, live.output
    live_bodies = list(fake.chat_requests)
    fake.chat_requests.clear()
    batch = runner.invoke(app, [*command(tmp_path, fake, "--no-cache")])
    assert batch.exit_code == 0, batch.output
    assert fake.chat_requests == []  # no live request
    sent = sorted(json.dumps(line["body"], sort_keys=True) for line in fake.lines)
    assert sent == sorted(json.dumps(body, sort_keys=True) for body in live_bodies)

    def comparable(row: dict[str, Any]) -> dict[str, Any]:
        summary = dict(row["summary"])
        meta = {k: v for k, v in summary.pop("meta").items() if k not in ("created_at",)}
        meta["usage"] = {k: v for k, v in meta["usage"].items() if k != "per_attempt"}
        meta.pop("latency_s")
        return {**row, "summary": summary, "meta": meta, "cost_usd": None}

    by_id = {r["id"]: r for r in rows(tmp_path, "live")}
    for row in rows(tmp_path):
        mine, theirs = comparable(row), comparable(by_id[row["id"]])
        assert mine == theirs
        assert list(row) == list(by_id[row["id"]])  # the same keys, in the same order
        assert row["cost_usd"] == pytest.approx(by_id[row["id"]]["cost_usd"] / 2)


def test_answers_fill_the_cache_the_live_engine_reads(
    tmp_path: Path, fake: FakeBatchServer
) -> None:
    inputs(tmp_path, 3)
    assert runner.invoke(app, command(tmp_path, fake)).exit_code == 0
    (tmp_path / "out.jsonl").unlink()
    again = runner.invoke(app, command(tmp_path, fake, engine="live"))
    assert again.exit_code == 0, again.output
    assert fake.chat_requests == []
    assert all(r["cached"] for r in rows(tmp_path))


# -- interruptions, resumes, cancel --------------------------------------------------------


def test_killed_between_create_and_manifest_write_the_rerun_creates_no_batch(
    tmp_path: Path, fake: FakeBatchServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs(tmp_path, 30)
    attach = Job._attach

    def killed(self: Job, entry: Any, batch: dict[str, Any]) -> None:
        raise KeyboardInterrupt  # the batch exists at the provider; its id is not written

    monkeypatch.setattr(Job, "_attach", killed)
    first = runner.invoke(app, command(tmp_path, fake))
    assert first.exit_code == 130, first.output
    assert "keep running" in first.output
    assert "--cancel" in first.output
    assert len(fake.order) == 1
    saved = json.loads(manifest_path(tmp_path / "out.jsonl").read_text())["batches"]
    assert [b["state"] for b in saved] == ["uploaded"]
    monkeypatch.setattr(Job, "_attach", attach)
    second = runner.invoke(app, command(tmp_path, fake))
    assert second.exit_code == 0, second.output
    assert len(fake.order) == 1  # found by its name, not created again
    assert fake.counts["uploads"] == 1
    assert last_run(tmp_path)["batch_api"]["batches_found"] == 1
    assert len(rows(tmp_path)) == 30


def test_killed_between_upload_and_create_the_rerun_uploads_nothing_again(
    tmp_path: Path, fake: FakeBatchServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs(tmp_path, 5)
    from summarizer.backends.openai_batch import BatchAPI

    upload = BatchAPI.upload

    def upload_then_die(self: BatchAPI, filename: str, data: bytes) -> dict[str, Any]:
        upload(self, filename, data)
        raise KeyboardInterrupt  # uploaded; the file id is not written

    monkeypatch.setattr(BatchAPI, "upload", upload_then_die)
    assert runner.invoke(app, command(tmp_path, fake)).exit_code == 130
    monkeypatch.setattr(BatchAPI, "upload", upload)
    second = runner.invoke(app, command(tmp_path, fake))
    assert second.exit_code == 0, second.output
    assert fake.counts["uploads"] == 1  # the file was found by its name
    assert len(fake.order) == 1
    assert len(rows(tmp_path)) == 5


def test_a_killed_process_leaves_its_batches_running_and_the_rerun_reattaches(
    tmp_path: Path, fake: FakeBatchServer
) -> None:
    """SIGKILL between create and download: no Ctrl-C handler runs, nothing tidies up."""
    inputs(tmp_path, 40)
    fake.knobs.hold = True
    proc = subprocess.Popen(
        [sys.executable, "-m", "summarizer", *command(tmp_path, fake), "--poll", "0.05"],
        cwd=ROOT, env=cli_env({"SUMMARIZER_CACHE_DIR": os.environ["SUMMARIZER_CACHE_DIR"]}),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (fake.order and fake.calls.count(("GET", f"/v1/batches/{fake.order[0]}")) > 2):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the batch was never polled"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        if proc.stderr:
            proc.stderr.close()
    assert not (tmp_path / "out.jsonl").exists() or rows(tmp_path) == []
    fake.knobs.hold = False
    second = runner.invoke(app, command(tmp_path, fake))
    assert second.exit_code == 0, second.output
    assert len(fake.order) == 1
    assert fake.counts["uploads"] == 1
    assert len(rows(tmp_path)) == 40
    runs = json.loads(ledger_path(tmp_path / "out.jsonl").read_text())["runs"]
    assert [r["status"] for r in runs] == ["killed", "finished"]


def test_ctrl_c_leaves_batches_running_and_cancel_cancels_them(
    tmp_path: Path, fake: FakeBatchServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs(tmp_path, 10)
    fake.knobs.hold = True
    wait = engine_module.OpenAIBatchEngine._wait

    def interrupted(self: Any, job: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(engine_module.OpenAIBatchEngine, "_wait", interrupted)
    first = runner.invoke(app, command(tmp_path, fake))
    assert first.exit_code == 130
    assert "1 remote batch(es) keep running" in first.output, first.output
    assert fake.counts["cancels"] == 0
    monkeypatch.setattr(engine_module.OpenAIBatchEngine, "_wait", wait)

    cancel = runner.invoke(app, command(tmp_path, fake, "--cancel"))
    assert cancel.exit_code == 0, cancel.output
    assert fake.counts["cancels"] == 1
    assert fake.batches[fake.order[0]]["status"] == "cancelled"
    assert len(fake.order) == 1  # --cancel sends nothing
    assert "1 cancelled" in cancel.output
    saved = json.loads(manifest_path(tmp_path / "out.jsonl").read_text())["batches"]
    assert saved[0]["cancel_requested"]
    assert saved[0]["status"] == "cancelled"

    fake.knobs.hold = False
    resumed = runner.invoke(app, command(tmp_path, fake))
    assert resumed.exit_code == 0, resumed.output
    assert len(rows(tmp_path)) == 10
    assert len(fake.lines) == 10  # the cancelled batch was never validated
    assert all(line["custom_id"].endswith("-t2") for line in fake.lines)


def test_a_failed_article_is_retried_afresh_by_a_rerun(
    tmp_path: Path, fake: FakeBatchServer
) -> None:
    inputs(tmp_path, 4)
    fake.responder = Model(bad=lambda i: i == 2)
    first = runner.invoke(app, command(tmp_path, fake, "--max-reasks", "0", "--strict"))
    assert first.exit_code == 60, first.output
    failed = [r for r in rows(tmp_path) if r["status"] == "error"]
    assert [r["error"]["kind"] for r in failed] == ["UngroundedError"]
    assert failed[0]["cost_usd"] == pytest.approx(
        (failed[0]["usage"]["prompt_tokens"] * 0.5 + failed[0]["usage"]["completion_tokens"]) / 1e6
    )
    fake.responder = Model(bad=lambda i: False)
    second = runner.invoke(app, command(tmp_path, fake, "--max-reasks", "0", "--strict"))
    assert second.exit_code == 0, second.output
    assert {r["status"] for r in rows(tmp_path)} == {"ok"}
    assert fake.lines[-1]["custom_id"].split("-")[1:3] == ["g1", "w"]  # a new generation


def test_finish_live_sends_the_last_stragglers_live_at_the_live_price(
    tmp_path: Path, fake: FakeBatchServer
) -> None:
    fake.responder = Model(bad=every_20th)
    inputs(tmp_path, 10)  # article 0's first answer is invalid: one re-ask left over
    result = runner.invoke(app, command(tmp_path, fake, "--finish-live", "1"))
    assert result.exit_code == 0, result.output
    assert len(fake.order) == 1
    assert len(fake.chat_requests) == 1
    run = last_run(tmp_path)
    assert run["batch_api"]["live_requests"] == 1
    assert run["batch_api"]["rounds"] == 1
    line = next(r for r in rows(tmp_path) if r["attempts"]["reasks"])
    first, second = line["summary"]["meta"]["usage"]["per_attempt"]
    expected = (first["prompt_tokens"] * 0.5 + first["completion_tokens"] * 1.0) / 1e6
    expected += (second["prompt_tokens"] * 1.0 + second["completion_tokens"] * 2.0) / 1e6
    assert line["cost_usd"] == pytest.approx(expected)


def test_a_long_article_goes_in_parts_then_its_key_summary(
    tmp_path: Path, fake: FakeBatchServer
) -> None:
    text = "\n\n".join(f"{article(7)} Report {k} adds detail." for k in range(40))
    (tmp_path / "in.jsonl").write_text(json.dumps({"id": "long", "text": text}) + "\n")
    (tmp_path / "prices.toml").write_text('["fake-model"]\ninput = 1.0\noutput = 2.0\n')
    window = ["--context-window", "3000", "--max-tokens", "800", "--no-cache"]
    live_dir = tmp_path / "live"
    live_dir.mkdir()
    (live_dir / "in.jsonl").write_text((tmp_path / "in.jsonl").read_text())
    (live_dir / "prices.toml").write_text((tmp_path / "prices.toml").read_text())
    live = runner.invoke(app, command(live_dir, fake, *window, engine="live"))
    assert live.exit_code == 0, live.output
    result = runner.invoke(app, command(tmp_path, fake, *window))
    assert result.exit_code == 0, result.output
    (line,) = rows(tmp_path)
    (live_line,) = rows(live_dir)
    parts = line["summary"]["meta"]["parts"]
    assert len(parts) >= 2
    assert last_run(tmp_path)["batch_api"]["rounds"] == 2  # the parts, then the key summary
    assert len(fake.lines) == len(parts) + 1 == len(fake.chat_requests)  # as many calls as live
    assert line["summary"]["key_summary"] == live_line["summary"]["key_summary"]
    assert line["summary"]["actors"] == live_line["summary"]["actors"]


# -- refusals ------------------------------------------------------------------------------


def test_an_endpoint_without_the_batch_api_is_a_config_error_before_any_upload(
    tmp_path: Path,
) -> None:
    inputs(tmp_path, 3)
    with FakeBatchServer(Model(), batches=False) as server:
        result = runner.invoke(app, command(tmp_path, server))
    assert result.exit_code == 26, result.output
    error = [line for line in result.output.splitlines() if "error" in line]
    assert len(error) == 1
    assert "has no Batch API" in error[0]
    assert "--engine live" in error[0]
    assert "Traceback" not in result.output
    assert not [c for c in server.calls if c[0] == "POST"]  # nothing uploaded or created
    assert not (tmp_path / "out.jsonl").exists() or rows(tmp_path) == []


def test_models_that_are_not_behind_an_endpoint_are_refused(tmp_path: Path) -> None:
    inputs(tmp_path, 1)
    out = str(tmp_path / "out.jsonl")
    result = runner.invoke(app, ["batch", str(tmp_path / "in.jsonl"), "-o", out,
                                 "--engine", "openai-batch"])  # fmt: skip
    assert result.exit_code == 20, result.output
    assert "--engine openai-batch" in result.output
    assert "rules" in result.output
    result = runner.invoke(app, ["batch", str(tmp_path / "in.jsonl"), "-o", out, "--cancel"])
    assert result.exit_code == 20
    assert "for --engine openai-batch" in result.output
    result = runner.invoke(app, ["batch", str(tmp_path / "in.jsonl"), "-o", out,
                                 "--engine", "openai-batch", "--poll", "-1"])  # fmt: skip
    assert result.exit_code == 2


def test_max_cost_checks_the_worst_case_before_each_submission(
    tmp_path: Path, fake: FakeBatchServer
) -> None:
    inputs(tmp_path, 20)
    # Each article's worst case (its prompt and max_tokens of answer, for each of its 3
    # allowed answers) is about 0.015 USD at the batch price: 0.05 admits 3 of them.
    result = runner.invoke(app, command(tmp_path, fake, "--max-cost", "0.05"))
    assert result.exit_code == 61, result.output
    assert "--max-cost 0.05 reached: 17 article(s) not started" in result.output
    run = last_run(tmp_path)
    assert len({line["custom_id"].split("-")[0] for line in fake.lines}) == 3
    assert run["articles"]["ok"] == 3
    assert run["articles"]["not_started"] == 17
    assert 0 < run["cost_usd"] <= 0.05
    again = runner.invoke(app, command(tmp_path, fake, "--max-cost", "1"))
    assert again.exit_code == 0, again.output
    assert len(rows(tmp_path)) == 20


def test_a_manifest_made_with_another_prompt_is_refused(
    tmp_path: Path, fake: FakeBatchServer
) -> None:
    inputs(tmp_path, 2)
    assert runner.invoke(app, command(tmp_path, fake)).exit_code == 0
    inputs(tmp_path, 2, first=5)
    custom = tmp_path / "p.toml"
    custom.write_text((ROOT / "prompts" / "summarize" / "v1.toml").read_text() + "\n# changed\n")
    result = runner.invoke(app, command(tmp_path, fake, "--prompt", str(custom)))
    assert result.exit_code == 20, result.output
    assert "batches.json was made with" in result.output


def test_a_broken_manifest_is_not_replaced(tmp_path: Path, fake: FakeBatchServer) -> None:
    inputs(tmp_path, 2)
    manifest_path(tmp_path / "out.jsonl").write_text("{not json")
    result = runner.invoke(app, command(tmp_path, fake))
    assert result.exit_code == 20, result.output
    assert "not a readable batch manifest" in result.output
    assert manifest_path(tmp_path / "out.jsonl").read_text() == "{not json"
    assert fake.order == []


# -- prices and ids ----------------------------------------------------------------------------


def test_batch_prices_come_from_genai_prices_else_half_the_live_price() -> None:
    settings = Settings.resolve(model="openai/gpt-4o-mini")
    live = price_for("openai/gpt-4o-mini", {})
    assert live is not None
    listed = batch_price(live, settings)
    assert listed is not None
    assert "batch price" in listed.source
    assert (listed.input, listed.output) == pytest.approx((live.input / 2, live.output / 2))
    own = batch_price(Price(3.0, 9.0, "prices.toml"), settings)
    assert own is not None
    assert (own.input, own.output) == (1.5, 4.5)
    assert "50%" in own.source
    assert batch_price(None, settings) is None


def test_custom_ids_fit_openais_rules_whatever_the_article_id() -> None:
    for item_id in ("a", "x" * 5000, "feeds/été/1.txt", "a\ud800b", "", "../../etc/passwd"):
        cid = custom_id(item_id, 12, "p16", 3, 5)
        assert len(cid) <= 64, cid
        assert re.fullmatch(r"[A-Za-z0-9-]+", cid), cid
    assert custom_id("a", 0, "w", 1, 1) != custom_id("b", 0, "w", 1, 1)


def test_shards_each_run_their_own_batches(tmp_path: Path, fake: FakeBatchServer) -> None:
    inputs(tmp_path, 12)
    for k in (1, 2):
        result = runner.invoke(app, command(tmp_path, fake, "--shard", f"{k}/2", out=f"o{k}"))
        assert result.exit_code == 0, result.output
        assert manifest_path(tmp_path / f"o{k}").exists()
    one, two = ({r["id"] for r in rows(tmp_path, f"o{k}")} for k in (1, 2))
    assert one
    assert two
    assert not one & two
    assert one | two == {f"feeds/été/{i:03d}.txt" for i in range(12)}
    assert len(fake.order) == 2
    assert len(fake.lines) == 12


def test_hostile_result_lines_are_skipped_and_a_bad_answer_is_sent_again(
    tmp_path: Path, fake: FakeBatchServer, validate_openai: Any
) -> None:
    fake.knobs.garbage = {1}
    inputs(tmp_path, 6)
    result = runner.invoke(app, command(tmp_path, fake))
    assert result.exit_code == 0, result.output
    assert {r["status"] for r in rows(tmp_path)} == {"ok"}
    assert len(rows(tmp_path)) == 6
    api = last_run(tmp_path)["batch_api"]
    assert api["unknown_lines"] == fake.counts["garbage_lines"] == 3
    assert api["requests_failed"] == 1  # the answer that was not a chat completion
    assert api["rounds"] == 2
    assert len(fake.lines) == 7


def test_a_tampered_manifest_is_refused_in_one_line(tmp_path: Path, fake: FakeBatchServer) -> None:
    inputs(tmp_path, 2)
    assert runner.invoke(app, command(tmp_path, fake)).exit_code == 0
    path = manifest_path(tmp_path / "out.jsonl")
    data = json.loads(path.read_text())
    cid = next(iter(data["batches"][0]["requests"]))
    data["batches"][0]["requests"][cid] = ["feeds/été/000.txt", "0", "w"]
    path.write_text(json.dumps(data))
    (tmp_path / "out.jsonl").unlink()
    result = runner.invoke(app, command(tmp_path, fake))
    assert result.exit_code == 20, result.output
    assert "not a valid batch manifest" in result.output
    assert "Traceback" not in result.output


def test_an_openai_model_in_tools_mode_at_genai_prices_batch_price(
    tmp_path: Path, fake: FakeBatchServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OpenAI's own models: tool calls, re-asks built by Instructor's tools mode (which
    appends to the messages it is given), and genai-prices' batch price."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", fake.url)
    fake.responder = Model(bad=every_20th)
    inputs(tmp_path, 41)  # articles 0, 20 and 40 are re-asked
    base = ["batch", str(tmp_path / "in.jsonl"), "--model", "openai/gpt-4o-mini", "--no-cache",
            "--mode", "tools"]  # fmt: skip
    live = runner.invoke(app, [*base, "-o", str(tmp_path / "live")])
    assert live.exit_code == 0, live.output
    live_bodies = sorted(json.dumps(b, sort_keys=True) for b in fake.chat_requests)
    batch = runner.invoke(app, [*base, "-o", str(tmp_path / "out.jsonl"),
                                "--engine", "openai-batch", "--poll", "0"])  # fmt: skip
    assert batch.exit_code == 0, batch.output
    assert sorted(json.dumps(line["body"], sort_keys=True) for line in fake.lines) == live_bodies
    assert all(line["body"]["tools"] for line in fake.lines)
    assert sum(r["attempts"]["reasks"] for r in rows(tmp_path)) == 3
    live_price = price_for("openai/gpt-4o-mini", {})
    listed = batch_price(live_price, Settings.resolve(model="openai/gpt-4o-mini"))
    assert listed is not None
    lines = rows(tmp_path)
    expected = sum(
        listed.cost(r["usage"]["prompt_tokens"], r["usage"]["completion_tokens"]) for r in lines
    )
    assert last_run(tmp_path)["cost_usd"] == pytest.approx(expected, abs=1e-6)
    meta_price = lines[0]["summary"]["meta"]["usage"]["price"]
    assert meta_price["input"] == listed.input
    assert "batch price" in meta_price["source"]
