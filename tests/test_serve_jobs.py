"""``summarizer serve``'s jobs API (#14): ``POST /v1/jobs`` and its status, results and
cancel, on the batch engine; in process through ``httpx.ASGITransport`` with the
offline default (``rules``) and the fake model server, and once as uvicorn
subprocesses (SIGTERM checkpoints a running job, the next server resumes it).

Also the engine's hooks the jobs need (``run_batch``'s ``stop``, ``model_lock`` and
``retry_failed``), which leave ``summarizer batch`` as it was.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from summarizer.batch import BatchItem, BatchOptions, run_batch
from summarizer.cli import app as cli
from summarizer.serve.app import create_app, openapi_document
from summarizer.serve.auth import KeyRing, add_key
from summarizer.serve.config import ServeConfig, parse_duration
from summarizer.settings import Settings
from tests.conftest import SEED, start_serve
from tests.fakeserver import FakeOpenAI, Reply, summary_reply

runner = CliRunner()
SEED_TEXT = SEED.read_text(encoding="utf-8")
FINAL = {"finished", "cancelled", "failed"}


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, str, str]:
    """A keys file with two keys, alice's and bob's, and those keys."""
    path = tmp_path / "keys.toml"
    return path, add_key(path, "alice"), add_key(path, "bob")


@asynccontextmanager
async def serving(keys: tuple[Path, str, str], **config: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh app (``config``: ServeConfig fields), sending alice's key."""
    app = create_app(ServeConfig(keys=KeyRing.load(keys[0]), **config))
    transport = httpx.ASGITransport(app=app)
    headers = {"authorization": f"Bearer {keys[1]}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://serve.test",
                                 headers=headers, timeout=30) as client:  # fmt: skip
        client.app = app  # type: ignore[attr-defined]
        try:
            yield client
        finally:
            await app.state.service.aclose()


def fake_model(fake: FakeOpenAI) -> dict[str, Any]:
    return {"settings": {"model": "m", "base_url": fake.url, "max_transport_retries": 0}}


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The error object, after checking it is the one shape and no traceback."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"type", "message", "exit_code"}
    assert "Traceback" not in response.text
    return body["error"]  # type: ignore[no-any-return]


def numbered(n: int) -> str:
    """The seed article with a marker of its own (the seed summary's quotes still hold)."""
    return f"{SEED_TEXT}\n\nThis is copy number {n} of the article."


def marker_of(body: dict[str, Any]) -> int:
    sent = " ".join(str(m.get("content") or "") for m in body["messages"])
    found = re.search(r"copy number (\d+) of", sent)
    assert found, "a request for no numbered article"
    return int(found.group(1))


def slow_answers(fake: FakeOpenAI, summary: dict[str, Any], delay: float) -> None:
    """Every request answered with the seed summary after ``delay`` seconds."""
    fake.responder = lambda body: Reply(body=summary_reply(summary).body, delay=delay)


async def until(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll ``check`` (sync or async) until it returns something true."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


async def finished(client: httpx.AsyncClient, job_id: str, timeout: float = 20.0) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        doc: dict[str, Any] = (await client.get(f"/v1/jobs/{job_id}")).json()
        return doc if doc["status"] in FINAL else None

    return await until(check, timeout)  # type: ignore[no-any-return]


def lines_of(response: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line) for line in response.text.splitlines()]


def jobs_dir(tmp_path: Path) -> Path:
    return tmp_path / "answer-cache" / "jobs"  # SUMMARIZER_CACHE_DIR (conftest) / jobs


# -- a job from start to results ---------------------------------------------------------


async def test_a_job_runs_to_its_results_read_from_any_line(keys: tuple[Path, str, str]) -> None:
    menu = "<html><body><nav>Menu</nav></body></html>"
    articles = [{"text": SEED_TEXT, "id": "seed"}, {"text": SEED_TEXT[:2500]},
                {"text": "  \n "}, {"html": menu}]  # fmt: skip
    async with serving(keys) as client:
        created = await client.post("/v1/jobs", json=articles)
        assert created.status_code == 202, created.text
        job = created.json()
        assert created.headers["location"] == f"/v1/jobs/{job['id']}"
        assert job["status"] in ("queued", "running")
        assert job["articles"]["total"] == 4
        done = await finished(client, job["id"])
        everything = await client.get(f"/v1/jobs/{job['id']}/results")
        later = await client.get(f"/v1/jobs/{job['id']}/results", params={"after": 1, "limit": 2})
        beyond = await client.get(f"/v1/jobs/{job['id']}/results", params={"after": 9})
        metrics = (await client.get("/metrics")).text
    assert done["status"] == "finished"
    assert done["articles"] == {"total": 4, "done": 4, "ok": 2, "failed": 2, "not_started": 0}
    assert done["ended"]
    assert done["expires"] > done["ended"]
    assert done["ledger"]["total"]["runs"] == 1
    assert done["ledger"]["runs"][0]["model"] == "rules"
    assert "pid" not in done["ledger"]["runs"][0]
    assert done["error"] is None
    assert everything.headers["content-type"] == "application/x-ndjson"
    assert everything.headers["x-job-status"] == "finished"
    assert everything.headers["x-next-after"] == "4"
    rows = lines_of(everything)
    assert [r["id"] for r in rows] == ["seed", "2", "3", "4"]  # default ids: positions
    assert [r["status"] for r in rows] == ["ok", "ok", "error", "error"]
    assert rows[0]["summary"]["key_summary"]["headline"]
    assert rows[2]["error"]["kind"] == "EmptyInputError"
    assert rows[3]["source"] == "<html>"
    assert lines_of(later) == rows[1:3]
    assert later.headers["x-next-after"] == "3"
    assert (beyond.content, beyond.headers["x-next-after"]) == (b"", "9")
    assert 'summarizer_jobs{status="finished"} 1.0' in metrics
    assert 'summarizer_jobs{status="queued"} 0.0' in metrics


async def test_a_jsonl_body_is_read_line_by_line(keys: tuple[Path, str, str]) -> None:
    body = "\n".join(json.dumps(a) for a in [{"id": "a", "text": SEED_TEXT},
                     {"id": "b", "text": "Some text.\u0000More."}]) + "\n\n"  # fmt: skip
    async with serving(keys) as client:
        created = await client.post("/v1/jobs", content=body.encode(),
                                    headers={"content-type": "application/x-ndjson"})  # fmt: skip
        assert created.status_code == 202, created.text
        await finished(client, created.json()["id"])
        rows = lines_of(await client.get(f"/v1/jobs/{created.json()['id']}/results"))
        jsonl = await client.post(
            "/v1/jobs?strict=true", content=body.encode(),
            headers={"content-type": "application/jsonl; charset=utf-8"},
        )  # fmt: skip
    assert [(r["id"], r["status"]) for r in rows] == [("a", "ok"), ("b", "error")]
    assert rows[1]["error"]["kind"] == "InputDecodeError"  # binary text: its own line
    assert jsonl.status_code == 202
    assert jsonl.json()["options"]["strict"] is True


def _comparable(line: dict[str, Any]) -> dict[str, Any]:
    """A result line without what depends on where the article came from or when."""
    line = json.loads(json.dumps(line))
    line.pop("source")  # <text> here, in.jsonl:N there
    meta = line["summary"]["meta"]
    meta.pop("source")
    meta["input"].pop("source")
    meta.pop("latency_s")  # timing
    meta.pop("created_at")
    return line


def _differences(a: Any, b: Any, at: str = "") -> list[str]:
    """Where two JSON values differ, for a failure's message."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = a.keys() | b.keys()
        return [d for k in keys for d in _differences(a.get(k), b.get(k), f"{at}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        pairs = enumerate(zip(a, b, strict=True))
        return [d for i, (x, y) in pairs for d in _differences(x, y, f"{at}[{i}]")]
    return [] if a == b else [f"{at}: {str(a)[:80]!r} != {str(b)[:80]!r}"]


async def test_result_lines_are_summarizer_batch_lines(
    keys: tuple[Path, str, str], tmp_path: Path
) -> None:
    articles = [{"id": f"a{n}", "text": numbered(n), "title": f"Copy {n}"} for n in range(3)]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(a) + "\n" for a in articles), encoding="utf-8")
    out = tmp_path / "batch.jsonl"
    result = runner.invoke(cli, ["batch", str(source), "-o", str(out), "--no-cache"])
    assert result.exit_code == 0, result.stderr
    async with serving(keys, cache=False) as client:
        created = await client.post("/v1/jobs", json=articles)
        await finished(client, created.json()["id"])
        served = lines_of(await client.get(f"/v1/jobs/{created.json()['id']}/results"))
    written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    written.sort(key=lambda line: line["id"])  # the CLI's workers finish in any order
    for got, want in zip(served, written, strict=True):
        got, want = _comparable(got), _comparable(want)
        assert got == want, _differences(got, want)
    assert set(served[0]) == set(written[0])
    assert served[0]["summary"]["meta"]["input"]["title"] == "Copy 0"


# -- what is refused ---------------------------------------------------------------------

JSON, NDJSON = "application/json", "application/x-ndjson"
BAD_BODIES = [
    (b"{bad", JSON, 400, "MalformedRequest", "not JSON"),
    (b"", JSON, 400, "MalformedRequest", "not JSON"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", JSON, 400, "MalformedRequest", "not JSON"),
    (b'[{"text": "a\\ud800b"}]', JSON, 400, "MalformedRequest", "not JSON"),
    (b"[" * 100_000, JSON, 400, "MalformedRequest", "not JSON"),
    (b'{"text": "a"}\n{"text": "b"}', JSON, 400, "MalformedRequest", "x-ndjson"),
    (b"[]", JSON, 422, "InvalidRequest", "no articles"),
    (b'{"text": "a"}', JSON, 422, "InvalidRequest", "a JSON list of articles"),
    (b'[{"text": "a", "html": "b"}]', JSON, 422, "InvalidRequest", "exactly one of"),
    (b'[{"text": "a"}, {}]', JSON, 422, "InvalidRequest", "article 2"),
    (b'[{"text": "a", "colour": "red"}]', JSON, 422, "InvalidRequest", "colour"),
    (b'[{"text": "a", "prompt": "summarize@v1"}]', JSON, 422, "InvalidRequest", "the job's"),
    (b'[{"text": "a", "id": 7}]', JSON, 422, "InvalidRequest", "id"),
    (b'[{"text": "a", "id": ""}]', JSON, 422, "InvalidRequest", "id"),
    (b'[{"text": "a", "id": "x"}, {"text": "b", "id": "x"}]', JSON, 422, "InvalidRequest",
     "unique"),
    (b'[{"text": "a", "id": "2"}, {"text": "b"}]', JSON, 422, "InvalidRequest", "unique"),
    (b'[{"url": "file:///etc/passwd"}]', JSON, 422, "InvalidRequest", "url"),
    (b'[{"url": "http://example.org/story"}]', JSON, 403, "UrlRefusedError", "--allow-url"),
    (b"\n \n", NDJSON, 422, "InvalidRequest", "no articles"),
    (b'{"text": "a"}\n{oops\n', NDJSON, 400, "MalformedRequest", "line 2"),
    (b'{"text": "a"}\n\xff\xfe\n', NDJSON, 400, "MalformedRequest", "line 2"),
    (b'{"text": "a"}\n[1]\n', NDJSON, 422, "InvalidRequest", "line 2"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "kind", "status", "type_", "says"), BAD_BODIES,
                         ids=[f"{row[1][12:]}-{row[0][:30]!r}" for row in BAD_BODIES])  # fmt: skip
async def test_bad_bodies_get_the_one_error_shape(
    keys: tuple[Path, str, str], body: bytes, kind: str, status: int, type_: str, says: str
) -> None:
    async with serving(keys) as client:
        response = await client.post("/v1/jobs", content=body, headers={"content-type": kind})
        assert not client.app.state.service.jobs.store.all()  # type: ignore[attr-defined]
    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["type"] == type_, error
    assert error["exit_code"] == (25 if status == 403 else 2)
    assert says in error["message"], error["message"]
    assert "passwd" not in error["message"]


@pytest.mark.parametrize(
    ("query", "headers", "status", "type_", "says"),
    [
        ("?prompt=../prompts/x.toml", {}, 422, "InvalidRequest", "prompt"),
        ("?strict=maybe", {}, 422, "InvalidRequest", "strict"),
        ("?colour=red", {}, 422, "InvalidRequest", "colour"),
        ("?model=rules&model=rules", {}, 422, "InvalidRequest", "twice"),
        ("?model=ollama/llama3.1", {}, 422, "ConfigurationError", "served elsewhere"),
        ("?model=local:/etc/passwd", {}, 422, "ConfigurationError", "cannot load a model"),
        ("?model=baseline/nope", {}, 422, "ConfigurationError", "baseline/nope"),
        ("?prompt=summarize@v1", {}, 422, "ConfigurationError", "prompt"),  # rules takes none
        ("", {"idempotency-key": ""}, 422, "InvalidRequest", "Idempotency-Key"),
        ("", {"idempotency-key": "x" * 256}, 422, "InvalidRequest", "Idempotency-Key"),
    ],
)
async def test_bad_options_are_refused_before_a_job_exists(
    keys: tuple[Path, str, str], query: str, headers: dict[str, str], status: int, type_: str,
    says: str,
) -> None:  # fmt: skip
    async with serving(keys) as client:
        response = await client.post(f"/v1/jobs{query}", json=[{"text": SEED_TEXT}],
                                     headers=headers)  # fmt: skip
        assert not client.app.state.service.jobs.store.all()  # type: ignore[attr-defined]
    assert response.status_code == status, response.text
    assert error_of(response)["type"] == type_
    assert says in error_of(response)["message"]


async def test_a_prompt_that_does_not_exist_is_refused_before_the_job(
    keys: tuple[Path, str, str],
) -> None:
    settings = {"model": "m", "base_url": "http://127.0.0.1:9/v1", "max_transport_retries": 0}
    async with serving(keys, settings=settings) as client:
        response = await client.post("/v1/jobs?prompt=summarize@v999", json=[{"text": "A."}])
        assert not client.app.state.service.jobs.store.all()  # type: ignore[attr-defined]
    assert response.status_code == 422
    assert (error_of(response)["type"], error_of(response)["exit_code"]) == ("PromptError", 21)


async def test_caps_on_articles_body_and_article_are_413(keys: tuple[Path, str, str]) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'[{"text": "'
        for _ in range(1000):
            sent += 1
            yield b"x" * 1024
        yield b'"}]'

    three = [{"text": f"Article {n}."} for n in range(3)]
    async with serving(keys, max_job_articles=2, max_job_body=16 * 1024,
                       max_body=4 * 1024) as client:  # fmt: skip
        many = await client.post("/v1/jobs", json=three)
        many_lines = await client.post(
            "/v1/jobs", content="\n".join(json.dumps(a) for a in three),
            headers={"content-type": NDJSON},
        )  # fmt: skip
        declared = await client.post("/v1/jobs", json=[{"text": "x" * 17_000}])
        chunked = await client.post("/v1/jobs", content=chunks())
        one_long = await client.post("/v1/jobs", json=[{"text": "a"}, {"html": "é" * 2100}])
        fits = await client.post("/v1/jobs", json=three[:2])
    for response in (many, many_lines, declared, chunked, one_long):
        assert response.status_code == 413, response.text
        assert (error_of(response)["type"], error_of(response)["exit_code"]) == (
            "InputTooLargeError", 24)  # fmt: skip
    assert "--max-job-articles" in error_of(many)["message"]
    assert error_of(many) == error_of(many_lines)
    assert "--max-job-body" in error_of(declared)["message"]
    assert error_of(chunked) == error_of(declared)
    assert sent <= 17  # read up to the cap, not the megabyte behind it
    assert "article 2" in error_of(one_long)["message"]
    assert "--max-body" in error_of(one_long)["message"]  # 4200 bytes in 2100 characters
    assert fits.status_code == 202


# -- whose jobs ---------------------------------------------------------------------------


async def test_a_job_is_its_keys_only(keys: tuple[Path, str, str]) -> None:
    bob = {"authorization": f"Bearer {keys[2]}"}
    async with serving(keys) as client:
        job = (await client.post("/v1/jobs", json=[{"text": SEED_TEXT}])).json()["id"]
        await finished(client, job)
        answers = [
            await client.get(f"/v1/jobs/{job}", headers=bob),
            await client.get(f"/v1/jobs/{job}/results", headers=bob),
            await client.post(f"/v1/jobs/{job}/cancel", headers=bob),
            await client.get("/v1/jobs/" + "0" * 32),
            await client.get("/v1/jobs/../../etc/passwd"),
            await client.get("/v1/jobs/%2e%2e/results"),
        ]
        nobody = await client.get(f"/v1/jobs/{job}", headers={"authorization": ""})
        mine = await client.get(f"/v1/jobs/{job}")
    assert {a.status_code for a in answers} == {404}
    assert len({a.content for a in answers[:4]}) == 1  # nothing tells bob the job exists
    assert (error_of(answers[0])["type"], error_of(answers[0])["exit_code"]) == ("NotFound", 2)
    assert nobody.status_code == 401
    assert mine.status_code == 200


async def test_an_idempotency_key_gives_one_job_per_request(keys: tuple[Path, str, str]) -> None:
    body = [{"text": SEED_TEXT, "id": "x"}]
    again = {"idempotency-key": "order-42"}
    async with serving(keys) as client:
        first = await client.post("/v1/jobs", json=body, headers=again)
        second = await client.post("/v1/jobs", json=body, headers=again)
        other_body = await client.post("/v1/jobs", json=[{"text": SEED_TEXT, "id": "y"}],
                                       headers=again)  # fmt: skip
        other_options = await client.post("/v1/jobs?strict=true", json=body, headers=again)
        as_bob = {**again, "authorization": f"Bearer {keys[2]}"}
        bobs = await client.post("/v1/jobs", json=body, headers=as_bob)
        no_key = await client.post("/v1/jobs", json=body)
        kept = client.app.state.service.jobs.store.all()  # type: ignore[attr-defined]
    assert first.status_code == second.status_code == 202
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["idempotent-replayed"] == "true"
    for conflict in (other_body, other_options):
        assert conflict.status_code == 409, conflict.text
        assert (error_of(conflict)["type"], error_of(conflict)["exit_code"]) == (
            "IdempotencyConflict", None)  # fmt: skip
    assert bobs.status_code == 202
    assert bobs.json()["id"] != first.json()["id"]  # keys are per key name
    assert no_key.json()["id"] != first.json()["id"]
    assert len(kept) == 3


# -- cancel ------------------------------------------------------------------------------


async def test_cancel_stops_a_running_job_and_a_queued_one(
    keys: tuple[Path, str, str], fake_openai: FakeOpenAI, seed_summary: dict[str, Any]
) -> None:
    slow_answers(fake_openai, seed_summary, delay=0.4)
    articles = [{"id": f"a{n}", "text": numbered(n)} for n in range(8)]
    async with serving(keys, cache=False, job_concurrency=1, **fake_model(fake_openai)) as client:
        job = (await client.post("/v1/jobs", json=articles)).json()["id"]
        queued = (await client.post("/v1/jobs", json=articles[:2])).json()["id"]
        await until(lambda: len(fake_openai.requests) >= 2)  # the first line is written
        cancelled_queued = await client.post(f"/v1/jobs/{queued}/cancel")
        cancelling = await client.post(f"/v1/jobs/{job}/cancel")
        done = await finished(client, job, timeout=10)
        asked = len(fake_openai.requests)
        await asyncio.sleep(0.6)
        results = await client.get(f"/v1/jobs/{job}/results")
        again = await client.post(f"/v1/jobs/{job}/cancel")
    assert cancelled_queued.json()["status"] == "cancelled"
    assert cancelled_queued.json()["articles"]["done"] == 0
    assert cancelling.status_code == 200
    assert cancelling.json()["status"] in ("cancelling", "cancelled")
    assert done["status"] == "cancelled"
    counts = done["articles"]
    assert 1 <= counts["done"] <= 2
    assert counts["not_started"] == 8 - counts["done"]
    assert done["ledger"]["runs"][0]["status"] == "interrupted"
    assert len(fake_openai.requests) == asked <= 3  # nothing was sent after the cancel
    assert len(lines_of(results)) == counts["done"]
    assert results.headers["x-job-status"] == "cancelled"
    assert again.json()["status"] == "cancelled"


# -- restarts, SIGTERM, expiry ---------------------------------------------------------------


async def test_a_new_server_resumes_a_job_without_resending_finished_articles(
    keys: tuple[Path, str, str], fake_openai: FakeOpenAI, seed_summary: dict[str, Any],
    tmp_path: Path,
) -> None:  # fmt: skip
    slow_answers(fake_openai, seed_summary, delay=0.3)
    articles = [{"id": f"a{n}", "text": numbered(n)} for n in range(8)]
    config = {"cache": False, "job_concurrency": 2, **fake_model(fake_openai)}
    async with serving(keys, **config) as first:
        job = (await first.post("/v1/jobs", json=articles)).json()["id"]

        async def two_done() -> bool:
            doc = (await first.get(f"/v1/jobs/{job}")).json()
            return bool(doc["articles"]["done"] >= 2)

        await until(two_done)
    # The first server is closed (as SIGTERM closes it): the job is saved to resume.
    state = json.loads((jobs_dir(tmp_path) / job / "job.json").read_text(encoding="utf-8"))
    assert state["status"] == "queued"
    before = [json.loads(line)["id"] for line in
              (jobs_dir(tmp_path) / job / "out.jsonl").read_text().splitlines()]  # fmt: skip
    assert 2 <= len(before) < 8
    async with serving(keys, **config) as second:
        done = await finished(second, job)
        rows = lines_of(await second.get(f"/v1/jobs/{job}/results"))
    assert done["status"] == "finished"
    assert done["articles"] == {"total": 8, "done": 8, "ok": 8, "failed": 0, "not_started": 0}
    assert [r["id"] for r in rows][: len(before)] == before  # lines never move
    assert sorted(r["id"] for r in rows) == sorted(a["id"] for a in articles)  # one line each
    sent = Counter(marker_of(body) for body in fake_openai.requests)
    for article in before:
        assert sent[int(article[1:])] == 1, (article, sent)  # finished: never sent again
    assert done["ledger"]["total"]["runs"] == 2
    assert done["ledger"]["runs"][0]["status"] == "interrupted"


def _serve(keys: Path, fake: FakeOpenAI) -> tuple[subprocess.Popen[bytes], str]:
    proc, url, _ = start_serve(
        "--keys", str(keys), "--model", "m", "--base-url", fake.url, "--job-concurrency", "1"
    )
    return proc, url


def _stop(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    log = proc.stderr.read().decode()
    proc.stderr.close()
    return code, log


def test_sigterm_checkpoints_a_running_job_and_the_next_server_finishes_it(
    keys: tuple[Path, str, str], fake_openai: FakeOpenAI, seed_summary: dict[str, Any],
    tmp_path: Path,
) -> None:  # fmt: skip
    slow_answers(fake_openai, seed_summary, delay=0.5)
    auth = {"authorization": f"Bearer {keys[1]}"}
    articles = [{"id": f"a{n}", "text": numbered(n)} for n in range(5)]
    proc, url = _serve(keys[0], fake_openai)
    try:
        created = httpx.post(f"{url}/v1/jobs", json=articles, headers=auth, timeout=10)
        assert created.status_code == 202, created.text
        job = created.json()["id"]
        for _ in range(200):
            if httpx.get(f"{url}/v1/jobs/{job}", headers=auth).json()["articles"]["done"]:
                break
            time.sleep(0.05)
        started = time.monotonic()
        code, log = _stop(proc)
        elapsed = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0, log
    assert elapsed < 5, log
    assert "Traceback" not in log
    state = json.loads((jobs_dir(tmp_path) / job / "job.json").read_text(encoding="utf-8"))
    assert state["status"] == "queued"  # resumable
    out = jobs_dir(tmp_path) / job / "out.jsonl"
    before = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert 1 <= len(before) < 5
    proc, url = _serve(keys[0], fake_openai)
    try:
        for _ in range(300):
            doc = httpx.get(f"{url}/v1/jobs/{job}", headers=auth).json()
            if doc["status"] in FINAL:
                break
            time.sleep(0.05)
        results = httpx.get(f"{url}/v1/jobs/{job}/results", headers=auth)
        code, log = _stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert doc["status"] == "finished", doc
    ids = [row["id"] for row in lines_of(results)]
    assert ids[: len(before)] == before
    assert sorted(ids) == sorted(a["id"] for a in articles)  # exactly one line each
    assert code == 0, log


async def test_a_job_expires_after_its_ttl(keys: tuple[Path, str, str], tmp_path: Path) -> None:
    again = {"idempotency-key": "k1"}
    async with serving(keys, job_ttl=0.5) as client:
        job = (await client.post("/v1/jobs", json=[{"text": SEED_TEXT}], headers=again)).json()
        done = await finished(client, job["id"])
        folder = jobs_dir(tmp_path) / job["id"]
        assert folder.is_dir()
        await until(lambda: not folder.exists(), timeout=5)  # the sweep deleted it
        gone = await client.get(f"/v1/jobs/{job['id']}")
        results = await client.get(f"/v1/jobs/{job['id']}/results")
        fresh = await client.post("/v1/jobs", json=[{"text": SEED_TEXT}], headers=again)
    assert done["status"] == "finished"
    assert done["expires"] is not None
    assert gone.status_code == results.status_code == 404
    assert fresh.status_code == 202
    assert fresh.json()["id"] != job["id"]  # the key is free again


# -- sharing the server -------------------------------------------------------------------


async def test_a_job_on_the_embedded_model_takes_the_pools_lock(
    keys: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # `rules` stands in for the embedded model: marked one-at-a-time, its entry's lock
    # is the one /v1/summaries takes; the job must wait for it article by article.
    from summarizer.serve.pool import Entry

    monkeypatch.setattr(Entry, "one_at_a_time", property(lambda self: True))
    async with serving(keys) as client:
        entry = client.app.state.service.pool._entries[  # type: ignore[attr-defined]
            client.app.state.service.pool.default  # type: ignore[attr-defined]
        ]
        entry.lock.acquire()
        try:
            job = (await client.post("/v1/jobs", json=[{"text": SEED_TEXT}])).json()["id"]
            await asyncio.sleep(0.5)
            waiting = (await client.get(f"/v1/jobs/{job}")).json()
        finally:
            entry.lock.release()
        done = await finished(client, job)
    assert waiting["status"] == "running"
    assert waiting["articles"]["done"] == 0
    assert done["articles"]["ok"] == 1
    assert entry.lock.acquire(blocking=False)  # released after the article
    entry.lock.release()


async def test_draining_refuses_new_jobs_and_serves_the_rest(keys: tuple[Path, str, str]) -> None:
    async with serving(keys) as client:
        job = (await client.post("/v1/jobs", json=[{"text": SEED_TEXT}])).json()["id"]
        await finished(client, job)
        client.app.state.service.draining = True  # type: ignore[attr-defined]
        refused = await client.post("/v1/jobs", json=[{"text": SEED_TEXT}])
        status = await client.get(f"/v1/jobs/{job}")
    assert refused.status_code == 503
    assert error_of(refused)["type"] == "Draining"
    assert status.status_code == 200


async def test_without_a_usable_folder_jobs_are_off_and_summaries_still_work(
    keys: tuple[Path, str, str], tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    async with serving(keys, jobs_dir=blocker / "jobs") as client:
        off = await client.post("/v1/jobs", json=[{"text": SEED_TEXT}])
        summary = await client.post("/v1/summaries", json={"text": SEED_TEXT})
    assert off.status_code == 503
    assert error_of(off)["type"] == "JobsUnavailable"
    assert summary.status_code == 200
    async with serving(keys) as first, serving(keys) as second:  # one cache folder
        taken = await second.post("/v1/jobs", json=[{"text": SEED_TEXT}])
        ok = await first.post("/v1/jobs", json=[{"text": SEED_TEXT}])
    assert taken.status_code == 503
    assert f"pid {os.getpid()}" in error_of(taken)["message"]
    assert ok.status_code == 202


# -- the command and the document -----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--max-job-body", "2XB"], "--max-job-body '2XB'"),
        (["--max-job-body", "0"], "--max-job-body '0': must be at least 1 byte"),
        (["--job-ttl", "soon"], "--job-ttl 'soon'"),
        (["--job-ttl", "0"], "--job-ttl '0': must be more than 0"),
        (["--job-ttl", "99999999999d"], "at most 100 years"),
        (["--max-job-articles", "0"], "Invalid value"),
        (["--job-concurrency", "0"], "Invalid value"),
    ],
)
def test_serve_refuses_bad_job_options_in_one_line(
    keys: tuple[Path, str, str], args: list[str], fragment: str
) -> None:
    result = runner.invoke(cli, ["serve", "--keys", str(keys[0]), *args])
    assert result.exit_code in (2, 20), result.stderr
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_job_options_come_from_the_environment_too(
    keys: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUMMARIZER_SERVE_JOB_TTL", "later")
    result = runner.invoke(cli, ["serve", "--keys", str(keys[0])])
    assert result.exit_code == 20
    assert "--job-ttl 'later'" in result.stderr
    assert parse_duration("7d") == 7 * 86400
    assert parse_duration("90m") == 5400
    assert parse_duration("30") == 30


def test_the_document_has_the_jobs_routes() -> None:
    paths = openapi_document()["paths"]
    create = paths["/v1/jobs"]["post"]
    assert set(create["responses"]) >= {"202", "400", "401", "403", "409", "413", "422", "503"}
    assert "409" not in paths["/v1/summaries"]["post"]["responses"]
    assert {p["name"] for p in create["parameters"]} == {"model", "prompt", "language", "strict",
                                                          "Idempotency-Key"}  # fmt: skip
    assert set(create["requestBody"]["content"]) == {"application/json", NDJSON}
    for path in ("/v1/jobs/{job_id}", "/v1/jobs/{job_id}/results", "/v1/jobs/{job_id}/cancel"):
        assert "404" in next(iter(paths[path].values()))["responses"]


# -- the engine's hooks ---------------------------------------------------------------------


def _fake_settings(fake: FakeOpenAI) -> Settings:
    return Settings.resolve(model="m", base_url=fake.url, max_transport_retries=0)


def test_run_batch_stops_when_asked_and_a_rerun_does_the_rest(
    tmp_path: Path, fake_openai: FakeOpenAI, seed_summary: dict[str, Any]
) -> None:
    slow_answers(fake_openai, seed_summary, delay=0.3)
    items = [BatchItem(f"a{n}", f"<{n}>", numbered(n)) for n in range(6)]
    out = tmp_path / "out.jsonl"
    stop = threading.Event()
    options = BatchOptions(concurrency=2, workers=1, use_cache=False)

    def stop_after_a_line(stats: Any) -> None:
        stop.set()

    started = time.monotonic()
    stats = run_batch([], out, _fake_settings(fake_openai), options, prices={}, items=items,
                      stop=stop, on_change=stop_after_a_line)  # fmt: skip
    elapsed = time.monotonic() - started
    assert stats.interrupted
    assert stats.done >= 1
    assert stats.not_started == 6 - stats.done
    assert elapsed < 2.0  # the article under way was cancelled, not waited for
    ledger = json.loads(out.with_name("out.jsonl.ledger.json").read_text())
    assert ledger["runs"][0]["status"] == "interrupted"
    first = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert len(first) == stats.done
    again = run_batch([], out, _fake_settings(fake_openai), options, prices={}, items=items,
                      stop=threading.Event())  # fmt: skip
    assert not again.interrupted
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert sorted(ids) == sorted(item.id for item in items)
    with pytest.raises(Exception, match="workers=1"):
        run_batch([], out, _fake_settings(fake_openai), BatchOptions(workers=2), prices={},
                  items=items, stop=stop)  # fmt: skip


def test_run_batch_keeps_error_lines_where_they_are_when_asked(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    settings = Settings.resolve(model="rules")
    texts = {"a": SEED_TEXT, "b": "  ", "c": SEED_TEXT[:3000], "d": SEED_TEXT[:2000]}
    items = [BatchItem(key, f"<{key}>", text) for key, text in texts.items()]
    options = BatchOptions(workers=1, use_cache=False)
    run_batch([], out, settings, options, prices={}, items=items[:2], retry_failed=False)
    written = out.read_text()
    assert [json.loads(line)["status"] for line in written.splitlines()] == ["ok", "error"]
    out.write_text(written + '{"id": "c", "sou')  # a line cut short by a crash
    stats = run_batch([], out, settings, options, prices={}, items=items, retry_failed=False)
    assert (stats.skipped, stats.done) == (2, 2)  # b's error line is its answer
    text = out.read_text()
    assert text.startswith(written)  # the lines already there did not move
    assert [json.loads(line)["id"] for line in text.splitlines()] == ["a", "b", "c", "d"]
    # The CLI's default is unchanged: a rerun retries the error line (and moves it last).
    run_batch([], out, settings, options, prices={}, items=items)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "c", "d", "b"]


def test_run_batch_holds_the_model_lock_around_each_article(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    lock = threading.Lock()
    items = [BatchItem(f"a{n}", f"<{n}>", SEED_TEXT) for n in range(2)]
    options = BatchOptions(workers=1, use_cache=False)
    lock.acquire()
    done: list[Any] = []
    worker = threading.Thread(target=lambda: done.append(run_batch(
        [], out, Settings.resolve(model="rules"), options, prices={}, items=items,
        model_lock=lock)))  # fmt: skip
    worker.start()
    time.sleep(0.5)
    assert not out.exists() or out.read_text() == ""  # waiting for the lock
    lock.release()
    worker.join(timeout=20)
    assert done
    assert done[0].done == 2
    assert lock.acquire(blocking=False)  # given back
    lock.release()
