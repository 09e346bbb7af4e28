"""``/readyz`` checks the model (#14): an endpoint that answers, an embedded model that
is loaded or loadable, nothing for no-model methods; results kept a few seconds.

The endpoint is the fake model server (it "answers"), a closed port ("refused") or
a socket that accepts and never answers ("no answer"); nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from summarizer.serve.app import create_app, openapi_document
from summarizer.serve.auth import KeyRing, add_key
from summarizer.serve.config import ServeConfig
from summarizer.serve.service import Service
from tests.fakeserver import FakeOpenAI, Reply, error_reply


@asynccontextmanager
async def serving(tmp_path: Path, ttl: float = 5.0, **settings: Any) -> AsyncIterator[Any]:
    """A client of a fresh app whose default model has ``settings``; ``client.service``."""
    path = tmp_path / "keys.toml"
    if not path.exists():
        add_key(path, "alice")
    config = {"max_transport_retries": 0, **settings}
    app = create_app(ServeConfig(keys=KeyRing.load(path), settings=config))
    service: Service = app.state.service
    service.model_check.ttl = ttl
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://serve.test") as client:
        client.service = service  # type: ignore[attr-defined]
        yield client
    await service.aclose()


def model_gets(fake: FakeOpenAI) -> list[str]:
    """Counts the fake's ``GET .../models`` (it records only chat requests itself)."""
    seen: list[str] = []
    answer = fake.respond

    async def respond(method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        if method == "GET":
            seen.append(path)
        return await answer(method, path, headers, raw)

    fake.respond = respond  # type: ignore[method-assign]
    return seen


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (a connection is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent() -> Iterator[str]:
    """A base URL whose server takes connections (the kernel does, into the backlog)
    and never answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=8) as sock:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def conforms(body: Any) -> None:
    """``body`` is the documented Readiness (the 200 and the 503 alike)."""
    document = openapi_document()
    schema = {**document["paths"]["/readyz"]["get"]["responses"]["503"]["content"][
        "application/json"]["schema"], "components": document["components"]}  # fmt: skip
    jsonschema.Draft202012Validator(schema).validate(body)


async def test_an_endpoint_that_answers_is_ready_and_asked_once_per_ttl(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    gets = model_gets(fake_openai)
    async with serving(tmp_path, model="m", base_url=fake_openai.url) as client:
        first = await client.get("/readyz")
        polls = await asyncio.gather(*(client.get("/readyz") for _ in range(20)))
        polls += [await client.get("/readyz") for _ in range(5)]
        asked_within_ttl = len(gets)
        client.service.model_check.ttl = 0.0
        await client.get("/readyz")
    assert first.status_code == 200, first.text
    assert first.json()["checks"]["endpoint"] == "ok (HTTP 200)"
    assert first.json()["checks"]["model"] == "compatible/m"
    conforms(first.json())
    assert {p.status_code for p in polls} == {200}
    assert asked_within_ttl == 1  # 26 polls, one question to the endpoint
    assert len(gets) == 2
    assert gets[0] == "/v1/models"
    assert fake_openai.requests == []  # no chat request: nothing generated to check


@pytest.mark.parametrize("status", [401, 404, 500])
async def test_any_http_answer_means_reachable(
    tmp_path: Path, fake_openai: FakeOpenAI, status: int
) -> None:
    async def refuse(method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        return error_reply(status, "no")

    fake_openai.respond = refuse  # type: ignore[method-assign]
    async with serving(tmp_path, model="m", base_url=fake_openai.url) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"]["endpoint"] == f"ok (HTTP {status})"


async def test_a_refused_endpoint_is_503_until_it_is_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="summarizer.serve")
    port = closed_port()
    url = f"http://user:secret@127.0.0.1:{port}/v1"
    async with serving(tmp_path, ttl=0.0, model="m", base_url=url) as client:
        down = await client.get("/readyz")
        again = await client.get("/readyz")
        with FakeOpenAI(port=port):
            back = await client.get("/readyz")
    assert down.status_code == again.status_code == 503
    assert down.json()["ready"] is False
    assert down.json()["checks"]["endpoint"] == "unreachable: cannot connect"
    conforms(down.json())
    assert "127.0.0.1" not in down.text  # the address is the server's log's, not the public's
    assert back.status_code == 200, back.text
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("model ")]
    assert len(lines) == 2, lines  # one line per change of state, not per probe
    assert "ConnectError" in lines[0]
    assert "answers (HTTP 200)" in lines[1]
    assert "secret" not in caplog.text


async def test_an_endpoint_that_never_answers_is_503_within_the_timeout(
    tmp_path: Path, silent: str
) -> None:
    async with serving(tmp_path, model="m", base_url=silent) as client:
        client.service.model_check.timeout = 0.3
        started = time.monotonic()
        response = await client.get("/readyz")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["checks"]["endpoint"] == "unreachable: no answer within 0.3 s"
    assert elapsed < 2.0


@pytest.mark.parametrize("model", ["rules", "baseline/lead"])
async def test_no_model_is_always_ready_and_asks_nobody(
    tmp_path: Path, model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_probe(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a no-model method was probed")

    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", no_probe)
    async with serving(tmp_path, model=model) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"ready": True, "checks": {
        "prompts": "ok", "cache": "ok", "model": model, "draining": False}}  # fmt: skip


async def test_the_embedded_model_is_checked_without_loading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    loads: list[Any] = []

    def load_model(settings: Any) -> object:
        loads.append(settings)
        return object()

    monkeypatch.setattr("summarizer.backends.local.load_model", load_model)
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 64)
    async with serving(tmp_path, model=f"local:{gguf}") as client:
        there = await client.get("/readyz")
        assert loads == []  # a health probe does not load 250 MB
        _ = client.service.pool.default_summarizer.backend.llm  # as a first summary does
        client.service.model_check.ttl = 0.0
        loaded = await client.get("/readyz")
    async with serving(tmp_path, model=f"local:{tmp_path / 'gone.gguf'}") as client:
        gone = await client.get("/readyz")
    assert there.status_code == 200, there.text
    assert there.json()["checks"]["embedded"] == "loadable (loads with the first summary)"
    assert loaded.json()["checks"]["embedded"] == "loaded"
    assert len(loads) == 1
    assert gone.status_code == 503
    assert gone.json()["checks"]["embedded"] == "not loadable (see the server's log)"
    assert "no GGUF" not in gone.text  # the reason is the server's log's
    assert "no GGUF model file at" in caplog.text
    assert "gone.gguf" in caplog.text


async def test_draining_is_503_without_asking_the_endpoint(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    gets = model_gets(fake_openai)
    async with serving(tmp_path, model="m", base_url=fake_openai.url) as client:
        client.service.draining = True
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["draining"] is True
    assert response.json()["checks"]["endpoint"] == "not checked yet"
    assert gets == []
