"""``summarizer serve`` (#14): the service in process through ``httpx.ASGITransport``,
against the offline default (``rules``) and the fake model server, and once as a
uvicorn subprocess (start, summary, SIGTERM drain), alone and with ``--workers 2``.

URL inputs and their address policy are in tests/test_serve_ssrf.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Route
from typer.testing import CliRunner

from summarizer import ArticleSummary
from summarizer.cli import app as cli
from summarizer.pipeline import Summarizer
from summarizer.serve.app import PUBLIC, create_app, openapi_document
from summarizer.serve.auth import KeyRing, add_key, key_hash
from summarizer.serve.config import ServeConfig, parse_size
from tests.conftest import ROOT, SEED, start_serve
from tests.fakeserver import FakeOpenAI, Reply, completion, error_reply, summary_reply

runner = CliRunner()
SEED_TEXT = SEED.read_text(encoding="utf-8")


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, str]:
    """A keys file with one key, ``alice``, and that key."""
    path = tmp_path / "keys.toml"
    return path, add_key(path, "alice")


@asynccontextmanager
async def serving(keys: tuple[Path, str], **config: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh app (``config``: ServeConfig fields), sending alice's key."""
    app = create_app(ServeConfig(keys=KeyRing.load(keys[0]), **config))
    transport = httpx.ASGITransport(app=app)
    headers = {"authorization": f"Bearer {keys[1]}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://serve.test",
                                 headers=headers, timeout=30) as client:  # fmt: skip
        client.app = app  # type: ignore[attr-defined]
        yield client
    await app.state.service.aclose()


def fake_model(fake: FakeOpenAI, **settings: Any) -> dict[str, Any]:
    """ServeConfig arguments for the fake model server, no transport retries."""
    return {"settings": {"model": "m", "base_url": fake.url, "max_transport_retries": 0,
                         **settings}}  # fmt: skip


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The error object, after checking it is the one shape and no traceback."""
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"type", "message", "exit_code"}
    assert "Traceback" not in response.text
    assert "\n" not in body["error"]["message"]
    return body["error"]  # type: ignore[no-any-return]


def seed_page(text: str) -> str:
    paragraphs = "".join(f"<p>{p}</p>\n" for p in text.splitlines()[1:] if p.strip())
    title = text.splitlines()[0]
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body><nav><a href='/'>"
        f"Front page</a></nav><article>{paragraphs}</article></body></html>"
    )


# -- a summary ---------------------------------------------------------------------------


async def test_a_summary_is_the_contract_with_the_clis_meta(keys: tuple[Path, str]) -> None:
    async with serving(keys) as client:
        response = await client.post("/v1/summaries", json={"text": SEED_TEXT})
        again = await client.post("/v1/summaries", json={"text": SEED_TEXT})
        metrics = (await client.get("/metrics")).text
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert re.fullmatch(r"[0-9a-f]{16}", response.headers["x-request-id"])
    served = ArticleSummary.model_validate_json(response.content)
    with Summarizer(model="rules") as library:
        direct = library.summarize(SEED_TEXT)
    assert served.model_dump(exclude={"meta"}) == direct.model_dump(exclude={"meta"})
    assert set(served.meta) == set(direct.meta) | {"cache"}
    assert served.meta["input"] == {"source": "<text>", "title": None, "kind": "text"}
    assert served.meta["model"] == "rules"
    assert served.meta["cache"]["hit"] is False
    cached = again.json()["meta"]
    assert cached["cache"]["hit"] is True
    assert 'summarizer_cache_lookups_total{result="hit"} 1.0' in metrics
    assert (
        'summarizer_http_requests_total{method="POST",route="/v1/summaries",status="200"} 2.0'
        in metrics
    )


async def test_html_input_is_read_as_the_cli_reads_a_page(keys: tuple[Path, str]) -> None:
    async with serving(keys) as client:
        page = await client.post("/v1/summaries", json={"html": seed_page(SEED_TEXT)})
        menu = "<html><body><nav>Menu</nav></body></html>"
        empty = await client.post("/v1/summaries", json={"html": menu})
    assert page.status_code == 200, page.text
    meta = page.json()["meta"]["input"]
    assert (meta["kind"], meta["source"]) == ("html", "<html>")
    assert meta["title"] == SEED_TEXT.splitlines()[0]
    assert meta["extractor"]
    assert empty.status_code == 422
    assert error_of(empty)["exit_code"] in (10, 16)  # no article text in the page


async def test_a_model_summary_counts_tokens_and_uses_the_cache(
    keys: tuple[Path, str], fake_openai: FakeOpenAI, seed_summary: dict[str, Any]
) -> None:
    fake_openai.default = summary_reply(seed_summary)
    async with serving(keys, **fake_model(fake_openai)) as client:
        first = await client.post("/v1/summaries", json={"text": SEED_TEXT})
        second = await client.post("/v1/summaries", json={"text": SEED_TEXT})
        metrics = (await client.get("/metrics")).text
    assert first.status_code == 200, first.text
    assert len(fake_openai.requests) == 1  # the second came from the answer cache
    assert first.json()["meta"]["model"] == "compatible/m"
    assert second.json()["meta"]["cache"]["hit"] is True
    assert 'summarizer_model_tokens_total{kind="prompt"} 700.0' in metrics
    assert 'summarizer_model_tokens_total{kind="completion"} 300.0' in metrics
    for name in ("summarizer_inflight 0.0", "summarizer_queue_depth 0.0", "summarizer_reasks_total",
                 "summarizer_http_request_duration_seconds_bucket"):  # fmt: skip
        assert name in metrics


# -- errors ------------------------------------------------------------------------------

BAD_REQUESTS = [
    (b"{bad", 400, "MalformedRequest", 2),
    (b"", 400, "MalformedRequest", 2),
    (b'{"text": "\xff\xfe"}', 400, "MalformedRequest", 2),
    (b"[" * 100_000, 400, "MalformedRequest", 2),
    (b"[]", 422, "InvalidRequest", 2),
    (b"{}", 422, "InvalidRequest", 2),
    (b'{"text": "a", "html": "b"}', 422, "InvalidRequest", 2),
    (b'{"text": "a", "colour": "red"}', 422, "InvalidRequest", 2),
    (b'{"text": "a", "strict": "yes"}', 422, "InvalidRequest", 2),
    (b'{"text": 5}', 422, "InvalidRequest", 2),
    (b'{"text": "a", "prompt": "../prompts/x.toml"}', 422, "InvalidRequest", 2),
    (b'{"url": "file:///etc/passwd"}', 422, "InvalidRequest", 2),
    (b'{"text": "  \\n\\t "}', 422, "EmptyInputError", 10),
    (b'{"text": "a\\u0000b"}', 422, "InputDecodeError", 13),
    (b'{"text": "a\\ud800b"}', 400, "MalformedRequest", 2),  # a lone surrogate
    (b'{"text": "Some text.", "prompt": "summarize@v1"}', 422, "ConfigurationError", 20),
    (b'{"text": "Some text.", "language": "fr"}', 422, "ConfigurationError", 20),
    (b'{"text": "Some text.", "model": "ollama/llama3.1"}', 422, "ConfigurationError", 20),
    (b'{"text": "Some text.", "model": "local:/etc/passwd"}', 422, "ConfigurationError", 20),
    (b'{"text": "Some text.", "model": "baseline/nope"}', 422, "ConfigurationError", 20),
    (b'{"url": "http://example.org/story"}', 403, "UrlRefusedError", 25),
]


@pytest.mark.parametrize(("body", "status", "kind", "code"), BAD_REQUESTS,
                         ids=[str(row[0][:40]) for row in BAD_REQUESTS])  # fmt: skip
async def test_bad_requests_get_one_error_shape(
    keys: tuple[Path, str], body: bytes, status: int, kind: str, code: int
) -> None:
    async with serving(keys) as client:
        response = await client.post("/v1/summaries", content=body,
                                     headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == status, response.text
    error = error_of(response)
    assert (error["type"], error["exit_code"]) == (kind, code), error
    if body.startswith(b'{"text": "a') or b"passwd" in body:
        assert "passwd" not in error["message"] or "local:" in error["message"]


async def test_model_failures_map_to_their_rows(
    keys: tuple[Path, str], fake_openai: FakeOpenAI, seed_summary: dict[str, Any]
) -> None:
    async def ask(reply: Reply, **settings: Any) -> httpx.Response:
        fake_openai.default = reply
        async with serving(keys, cache=False, **fake_model(fake_openai, **settings)) as client:
            return await client.post("/v1/summaries", json={"text": SEED_TEXT, "strict": True})

    rows = [
        (error_reply(401, "bad key"), {}, 502, "AuthenticationError", 31),
        (error_reply(500, "boom"), {}, 502, "ProviderError", 32),
        (Reply(body=completion(content="Sorry, I can't.")), {"max_reasks": 0}, 422,
         "InvalidOutputError", 40),
    ]  # fmt: skip
    seed_summary["actors"][1]["evidence"][0]["quote"] = "Putin said nothing at all to anyone"
    rows.append((summary_reply(seed_summary), {"max_reasks": 0}, 422, "UngroundedError", 41))
    for reply, settings, status, kind, code in rows:
        response = await ask(reply, **settings)
        assert response.status_code == status, response.text
        assert (error_of(response)["type"], error_of(response)["exit_code"]) == (kind, code)
        assert "retry-after" not in response.headers

    limited = await ask(error_reply(429, "slow down", **{"retry-after": "7"}))
    assert limited.status_code == 503
    assert (error_of(limited)["type"], limited.headers["retry-after"]) == ("ProviderError", "7")


async def test_a_bug_is_a_500_without_a_traceback(
    keys: tuple[Path, str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("a bug that mentions the article")

    monkeypatch.setattr("summarizer.serve.summaries._summarize_here", broken)
    async with serving(keys) as client:
        response = await client.post("/v1/summaries", json={"text": SEED_TEXT},
                                     headers={"x-request-id": "req-42"})  # fmt: skip
    assert response.status_code == 500
    error = error_of(response)
    assert (error["type"], error["exit_code"]) == ("InternalError", 1)
    assert "req-42" in error["message"]
    assert "article" not in error["message"]
    assert response.headers["x-request-id"] == "req-42"
    assert "RuntimeError: a bug" in caplog.text  # the traceback is the server's


async def test_an_unreachable_model_is_503_with_retry_after(keys: tuple[Path, str]) -> None:
    settings = {"model": "m", "base_url": "http://127.0.0.1:9/v1", "max_transport_retries": 0}
    async with serving(keys, settings=settings) as client:
        response = await client.post("/v1/summaries", json={"text": SEED_TEXT})
        prompt = await client.post("/v1/summaries", json={"text": "A.", "prompt": "summarize@v999"})
    assert prompt.status_code == 422  # before any request to the model
    assert (error_of(prompt)["type"], error_of(prompt)["exit_code"]) == ("PromptError", 21)
    assert response.status_code == 503
    assert error_of(response)["type"] == "ProviderUnreachableError"
    assert error_of(response)["exit_code"] == 30
    assert int(response.headers["retry-after"]) >= 1


async def test_timeout_is_504_and_cancels_the_model_call(
    keys: tuple[Path, str], fake_openai: FakeOpenAI, seed_summary: dict[str, Any]
) -> None:
    fake_openai.default = Reply(body=summary_reply(seed_summary).body, delay=5.0)
    async with serving(keys, timeout=0.3, **fake_model(fake_openai)) as client:
        started = time.monotonic()
        response = await client.post("/v1/summaries", json={"text": SEED_TEXT})
        elapsed = time.monotonic() - started
        metrics = (await client.get("/metrics")).text
    assert response.status_code == 504, response.text
    assert (error_of(response)["type"], error_of(response)["exit_code"]) == ("Timeout", None)
    assert elapsed < 3.0  # the model's answer was 5 s away (a first call imports its SDK)
    assert "summarizer_inflight 0.0" in metrics  # the slot came back with the cancel


# -- auth --------------------------------------------------------------------------------


async def test_missing_malformed_and_wrong_keys_get_the_same_401(
    keys: tuple[Path, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="summarizer")
    async with serving(keys) as client:
        answers = [
            await client.post("/v1/summaries", json={"text": "x"}, headers=headers)
            for headers in ({"authorization": ""}, {"authorization": "Bearer sk-sum-wrong"},
                            {"authorization": f"Basic {keys[1]}"}, {"authorization": "Bearer"},
                            {"authorization": f"Bearer {keys[1]}x"})
        ]  # fmt: skip
        ok = await client.post("/v1/summaries", json={"text": SEED_TEXT})
    assert {a.status_code for a in answers} == {401}
    assert len({a.content for a in answers}) == 1
    assert error_of(answers[0])["type"] == "Unauthorized"
    assert ok.status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "summarizer.serve.access"]
    assert len(lines) == 6
    assert lines[-1].endswith("key=alice")
    assert " 200 " in lines[-1]
    assert all("key=-" in line and " 401 " in line for line in lines[:5])
    assert keys[1] not in caplog.text
    assert keys[1][:20] not in caplog.text
    assert "Trump" not in caplog.text  # nor the article, nor the summary


async def test_every_route_but_the_public_ones_needs_a_key(keys: tuple[Path, str]) -> None:
    async with serving(keys) as client:
        app: FastAPI = client.app  # type: ignore[attr-defined]
        seen = set()
        for route in app.routes:
            assert isinstance(route, APIRoute | Route), f"check {route} here too"
            for method in sorted(route.methods or ()):
                if method == "HEAD":
                    continue
                seen.add(route.path)
                response = await client.request(method, route.path, headers={"authorization": ""})
                if route.path in PUBLIC:
                    assert response.status_code == 200, (method, route.path)
                else:
                    assert response.status_code == 401, (method, route.path)
        readyz = await client.get("/readyz", headers={"authorization": ""})
    assert seen >= PUBLIC | {"/v1/summaries"}
    assert "/v1/summaries" in openapi_document()["paths"]
    assert readyz.json()["checks"] == {"prompts": "ok", "cache": "ok", "model": "rules",
                                       "draining": False}  # fmt: skip


def test_a_route_that_skips_the_key_check_stops_the_app() -> None:
    from summarizer.serve import app as serve_app

    original = serve_app._add_routes

    def sneaky(app: FastAPI) -> None:
        original(app)
        app.add_route("/v1/backdoor", lambda request: None)

    serve_app._add_routes = sneaky  # type: ignore[assignment]
    try:
        with pytest.raises(RuntimeError, match="/v1/backdoor skips the key check"):
            serve_app.build_app(None)
    finally:
        serve_app._add_routes = original  # type: ignore[assignment]


def test_keys_file_keeps_hashes_only(tmp_path: Path) -> None:
    path = tmp_path / "k" / "keys.toml"
    added = runner.invoke(cli, ["keys", "add", "bob", "--keys", str(path)])
    assert added.exit_code == 0, added.stderr
    key = added.stdout.strip()
    assert key.startswith("sk-sum-")
    assert len(key) >= 40
    stored = path.read_text()
    assert key not in stored
    assert key_hash(key) in stored
    assert path.stat().st_mode & 0o777 == 0o600
    ring = KeyRing.load(path)
    assert ring.identify(key) == "bob"
    assert ring.identify(key + "x") is None
    assert ring.identify(None) is None
    assert ring.identify("") is None
    again = runner.invoke(cli, ["keys", "add", "bob", "--keys", str(path)])
    assert again.exit_code == 20
    assert "already has a key named 'bob'" in again.stderr
    bad = runner.invoke(cli, ["keys", "add", "../x", "--keys", str(path)])
    assert bad.exit_code == 20
    assert "key name" in bad.stderr
    assert runner.invoke(cli, ["keys", "list", "--keys", str(path)]).stdout == "bob\n"
    assert runner.invoke(cli, ["keys", "remove", "bob", "--keys", str(path)]).exit_code == 0
    assert KeyRing.load(path).entries == ()
    path.write_text('[keys.eve]\nsha256 = "abc"\n')
    broken = runner.invoke(cli, ["serve", "--keys", str(path)])
    assert broken.exit_code == 20
    assert "needs a sha256" in broken.stderr


# -- limits ------------------------------------------------------------------------------


async def test_a_body_over_the_cap_is_413_by_length_and_chunked(keys: tuple[Path, str]) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"text": "'
        for _ in range(1000):
            sent += 1
            yield b"x" * 1024
        yield b'"}'

    async with serving(keys, max_body=8 * 1024) as client:
        declared = await client.post("/v1/summaries", json={"text": "x" * 9000})
        chunked = await client.post("/v1/summaries", content=chunks())
        fits = await client.post("/v1/summaries", json={"text": SEED_TEXT[:4000]})
    assert declared.status_code == chunked.status_code == 413
    assert error_of(chunked) == error_of(declared)
    assert (error_of(chunked)["type"], error_of(chunked)["exit_code"]) == ("InputTooLargeError", 24)
    assert sent <= 9  # read up to the cap, not the 1 MB behind it
    assert fits.status_code == 200, fits.text


async def test_saturation_is_an_immediate_429_with_retry_after(
    keys: tuple[Path, str], fake_openai: FakeOpenAI, seed_summary: dict[str, Any]
) -> None:
    fake_openai.default = Reply(body=summary_reply(seed_summary).body, delay=1.0)
    async with serving(keys, max_inflight=1, max_queue=0, cache=False,
                       **fake_model(fake_openai)) as client:  # fmt: skip
        slow = asyncio.create_task(client.post("/v1/summaries", json={"text": SEED_TEXT}))
        for _ in range(200):  # until the first one is at the model
            if fake_openai.requests:
                break
            await asyncio.sleep(0.05)
        started = time.monotonic()
        refused = await client.post("/v1/summaries", json={"text": SEED_TEXT})
        waited = time.monotonic() - started
        assert (await slow).status_code == 200
    assert refused.status_code == 429
    assert waited < 0.5
    assert (error_of(refused)["type"], error_of(refused)["exit_code"]) == ("Overloaded", None)
    assert int(refused.headers["retry-after"]) >= 1
    assert fake_openai.peak_in_flight == 1


async def test_a_client_that_leaves_cancels_its_summary(
    keys: tuple[Path, str], fake_openai: FakeOpenAI, seed_summary: dict[str, Any]
) -> None:
    fake_openai.default = Reply(body=summary_reply(seed_summary).body, delay=5.0)
    app = create_app(ServeConfig(keys=KeyRing.load(keys[0]), **fake_model(fake_openai)))
    body = json.dumps({"text": SEED_TEXT}).encode()
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    left = 0.0

    async def receive() -> dict[str, Any]:
        nonlocal left
        if messages:
            return messages.pop()
        for _ in range(200):  # once the model has been asked, the client leaves
            if fake_openai.requests:
                break
            await asyncio.sleep(0.05)
        left = time.monotonic()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/v1/summaries", "raw_path": b"",
             "query_string": b"", "root_path": "", "server": ("serve.test", 80),
             "headers": [(b"authorization", f"Bearer {keys[1]}".encode()),
                         (b"content-length", str(len(body)).encode())]}  # fmt: skip
    await app(scope, receive, send)
    elapsed = time.monotonic() - left
    service = app.state.service
    await service.aclose()
    assert elapsed < 1.0  # not the rest of the model's 5 s
    assert sent[0]["status"] == 499
    assert len(fake_openai.requests) == 1
    assert service.limiter.in_flight == 0


async def test_the_pool_reuses_summarizers_and_stays_bounded() -> None:
    from summarizer.serve.pool import SummarizerPool

    pool = SummarizerPool({}, cache=None, size=2)
    held = []
    for model in ("baseline/lead", "baseline/textrank", "baseline/lead", "rules"):
        async with pool.lease(pool.settings_for(model, None, None)) as entry:
            held.append(entry)
            assert entry.in_thread
            assert not entry.one_at_a_time  # a no-model method: no lock needed
    assert held[0] is not held[2]  # lead was evicted by textrank (size 2, rules stays)
    assert held[0].evicted
    assert held[3].summarizer is pool.default_summarizer
    assert len(pool._entries) == 2
    assert pool.settings_for("rules", None, True).strict is True
    await pool.aclose()


async def test_readyz_turns_503_while_draining(keys: tuple[Path, str]) -> None:
    async with serving(keys) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.get("/readyz")).status_code == 200
        client.app.state.service.draining = True  # type: ignore[attr-defined]
        ready = await client.get("/readyz")
        refused = await client.post("/v1/summaries", json={"text": SEED_TEXT})
    assert ready.status_code == 503
    assert ready.json()["checks"]["draining"] is True
    assert refused.status_code == 503
    assert error_of(refused)["type"] == "Draining"
    assert "retry-after" in refused.headers


# -- the command -------------------------------------------------------------------------


def test_the_committed_openapi_document_is_the_served_one(keys: tuple[Path, str]) -> None:
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    printed = runner.invoke(cli, ["serve", "--print-openapi"])
    assert printed.exit_code == 0, printed.stderr
    assert json.loads(printed.stdout) == committed, (
        "the API changed: run `summarizer serve --print-openapi > docs/openapi.json`"
    )

    async def served() -> Any:
        async with serving(keys) as client:
            response = await client.get("/openapi.json", headers={"authorization": ""})
            return response.json()

    assert asyncio.run(served()) == committed


def test_the_readme_error_table_has_every_row() -> None:
    from summarizer.serve.errors import TABLE

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Run it as a service", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if re.match(r"\| \d{3} \|", line)]
    for status, kind, code in TABLE:
        shown = "null" if code is None else str(code)
        assert any(
            row.startswith(f"| {status} |") and f"`{kind}`" in row and shown in row for row in rows
        ), (status, kind, code)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--workers", "2", "--model", "local"], "the embedded model generates one answer"),
        (["--workers", "65"], "Invalid value"),
        ([], "--keys FILE is required"),
        (["--max-body", "2XB"], "expected a size such as 2MB"),
        (["--max-inflight", "0"], "Invalid value"),
    ],
)
def test_serve_refuses_bad_options_in_one_line(
    keys: tuple[Path, str], args: list[str], fragment: str
) -> None:
    with_keys = [] if not args else ["--keys", str(keys[0])]
    result = runner.invoke(cli, ["serve", *with_keys, *args])
    assert result.exit_code in (2, 20), result.stderr
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr
    assert parse_size("2MB") == 2 * 1024 * 1024
    assert parse_size("512kb") == 512 * 1024


def test_serve_without_the_extra_says_how_to_install_it(keys: tuple[Path, str]) -> None:
    code = ("import sys; sys.modules['fastapi'] = None; from summarizer.cli import run; "
            f"sys.argv = ['summarizer', 'serve', '--keys', {str(keys[0])!r}]; run()")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT,
                          timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 22, proc.stderr.decode()
    assert proc.stderr.decode().strip().splitlines() == [
        "summarizer: error: summarizer serve needs the [serve] extra (fastapi is missing): "
        "install summarizer[serve], e.g. pip install 'summarizer[serve]'"
    ]


def _children(pid: int) -> set[int]:
    """The live child processes of ``pid`` (a server's workers), from /proc."""
    kids: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids |= {int(k) for k in (task / "children").read_text().split()}
    return kids


@pytest.mark.parametrize("workers", [1, 2])
def test_uvicorn_serves_and_drains_on_sigterm(
    keys: tuple[Path, str], fake_openai: FakeOpenAI, seed_summary: dict[str, Any], workers: int
) -> None:
    """One process, and a front with 2 worker processes: a summary in flight at SIGTERM
    is answered, the server exits 0, and its workers end with it."""
    if workers > 1 and not Path("/proc/self/task").is_dir():
        pytest.skip("reads a server's workers from /proc (Linux)")
    fake_openai.default = Reply(body=summary_reply(seed_summary).body, delay=1.0)
    proc, url, first = start_serve(
        "--keys", str(keys[0]), "--model", "m", "--base-url", fake_openai.url, "--grace", "10",
        "--workers", str(workers),
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        assert f"serving on {url} (model compatible/m" in first, first
        assert ("2 worker processes" in first) == (workers == 2), first
        auth = {"authorization": f"Bearer {keys[1]}"}
        assert httpx.get(f"{url}/healthz", timeout=10).json() == {"status": "ok"}
        deadline = time.monotonic() + 90  # workers start (import the library): a loaded CI
        while workers > 1 and (
            httpx.get(f"{url}/readyz", timeout=10).json()["checks"]["workers"] != "2 of 2 running"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        children = _children(proc.pid) if Path("/proc/self/task").is_dir() else set()
        answers: list[httpx.Response] = []

        def ask() -> None:
            answers.append(httpx.post(f"{url}/v1/summaries", json={"text": SEED_TEXT},
                                      headers=auth, timeout=20))  # fmt: skip

        slow = threading.Thread(target=ask)
        slow.start()
        for _ in range(200):  # until the summary is at the model, which answers after 1 s
            if fake_openai.requests:
                break
            time.sleep(0.05)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        slow.join(timeout=15)
        code = proc.wait(timeout=15)
        elapsed = time.monotonic() - started
        log = first + proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()
    assert code == 0, log
    assert elapsed < 5
    assert len(answers) == 1
    assert answers[0].status_code == 200, answers[0].text
    assert ArticleSummary.model_validate_json(answers[0].content).meta["model"] == "compatible/m"
    assert "Traceback" not in log
    assert keys[1] not in log
    assert re.search(r"POST /v1/summaries 200 \d+\.\d+s key=alice", log), log
    assert len(children) == (workers if workers > 1 else 0)
    for pid in children:  # ended with the front (reaped by it, so no /proc entry)
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()


async def test_a_client_that_leaves_mid_body_is_not_an_error(keys: tuple[Path, str]) -> None:
    app = create_app(ServeConfig(keys=KeyRing.load(keys[0])))
    messages = [
        {"type": "http.disconnect"},
        {"type": "http.request", "body": b'{"text": "Half an arti', "more_body": True},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/v1/summaries", "raw_path": b"",
             "query_string": b"", "root_path": "", "server": ("serve.test", 80),
             "headers": [(b"authorization", f"Bearer {keys[1]}".encode())]}  # fmt: skip
    await app(scope, receive, send)
    await app.state.service.aclose()
    assert sent[0]["status"] == 499
