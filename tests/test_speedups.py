"""Guards for summarizer.backends._speedups: each speed-up leans on an internal of
Instructor or the OpenAI SDK. If an upgrade moves one, the code still works (only
slower), and these tests fail loudly so that nobody loses a speed-up by accident."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from summarizer.backends import _speedups
from summarizer.backends.extraction import LLMArticleSummary, response_model
from tests.conftest import ROOT


def test_instructor_response_schema_is_where_we_expect_it() -> None:
    schema = _speedups._response_schema()
    assert schema is not None, "instructor.v2.core.function_calls.ResponseSchema moved"
    wrapped = _speedups.instructor_model(response_model())
    assert issubclass(wrapped, schema)
    assert issubclass(wrapped, LLMArticleSummary)
    assert _speedups.instructor_model(response_model()) is wrapped  # built once


def test_async_validator_shim_is_scoped_and_only_skips_our_checked_models(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from instructor.v2.core import patch as patch_module
    from instructor.v2.validation import async_validators
    from instructor.v2.validation.async_validators import async_field_validator
    from pydantic import BaseModel

    original = async_validators.reject_async_validators
    assert not getattr(original, "remembers_checks", False), "patched at import time"
    assert patch_module.reject_async_validators is original, "Instructor's layout moved"

    class Other(BaseModel):
        name: str

        @async_field_validator("name")
        async def check_name(self, value: str) -> str:
            return value

    ours = _speedups.instructor_model(response_model((("actors", 5),)))
    with _speedups.remembered_async_validator_checks() as active:
        assert active, "the shim could not be installed"
        shim = async_validators.reject_async_validators
        assert patch_module.reject_async_validators is shim
        walks: list[Any] = []
        monkeypatch.setattr(shim, "original", walks.append)  # counts instead of walking
        shim(ours)
        shim(ours)
        assert walks == []  # ours: checked once when wrapped, never per request
        with pytest.raises(ValueError, match="async validators"):
            original(Other)  # anyone else's model is still refused
    assert async_validators.reject_async_validators is original  # restored
    assert patch_module.reject_async_validators is original


def test_sdk_platform_attribute_is_where_we_expect_it() -> None:
    import openai

    client = openai.AsyncOpenAI(api_key="x", base_url="http://127.0.0.1:9/v1")
    assert hasattr(client, "_platform"), "the SDK no longer keeps _platform"
    assert client._platform is None
    _speedups.share_platform(client)
    assert client._platform is not None
    assert client._platform == _speedups.sdk_platform()


def test_importing_and_using_the_library_patches_nothing_for_others() -> None:
    """Instructor's own check is in place after import and after a summary."""
    code = (
        "import summarizer, summarizer.pipeline, summarizer.batch.runner\n"
        "from instructor.v2.validation import async_validators as a\n"
        "from instructor.v2.core import patch as p\n"
        "assert not getattr(a.reject_async_validators, 'remembers_checks', False)\n"
        "assert p.reject_async_validators is a.reject_async_validators\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_checked_models_are_held_weakly() -> None:
    import weakref

    assert isinstance(_speedups._CHECKED, weakref.WeakSet)


def test_async_validator_shim_stays_in_while_any_overlapping_block_is_open() -> None:
    """Concurrent extractions overlap: the first block out must not pull the shim
    from under the others, and the last one out restores Instructor's function."""
    from instructor.v2.validation import async_validators

    original = async_validators.reject_async_validators
    first = _speedups.remembered_async_validator_checks()
    second = _speedups.remembered_async_validator_checks()
    assert first.__enter__()
    assert second.__enter__()
    shim = async_validators.reject_async_validators
    assert shim is not original
    first.__exit__(None, None, None)
    assert async_validators.reject_async_validators is shim
    second.__exit__(None, None, None)
    assert async_validators.reject_async_validators is original


def test_extractor_calls_skip_the_walk_for_our_model(
    monkeypatch: pytest.MonkeyPatch, seed_text: str, seed_summary: dict[str, Any]
) -> None:
    """The extractor enters the shim itself, so a ``summarize`` outside any batch no
    longer walks our response model on every request (it walked it 4 times)."""
    from instructor.v2.core import patch as patch_module
    from instructor.v2.validation import async_validators

    from summarizer import FunctionBackend, summarize

    original = async_validators.reject_async_validators
    walked: list[Any] = []

    def counting(model: Any) -> None:
        walked.append(model)
        original(model)

    monkeypatch.setattr(async_validators, "reject_async_validators", counting)
    monkeypatch.setattr(patch_module, "reject_async_validators", counting)
    backend = FunctionBackend.replay([seed_summary])
    result = summarize(seed_text, backend=backend)
    assert result.meta["attempts"]["responses"] == 1
    ours = [m for m in walked if isinstance(m, type) and issubclass(m, LLMArticleSummary)]
    assert ours == []
    assert async_validators.reject_async_validators is counting  # put back after the call


def test_a_request_needs_no_sdk_resources_module() -> None:
    """preload() leaves out ``openai.resources`` (0.55 s to import, before a batch
    forks): true only while a request never imports it."""
    code = (
        "import sys\n"
        "from summarizer import summarize\n"
        "from summarizer.backends import _speedups\n"
        "from summarizer.backends.openai import OpenAIBackend\n"
        "from summarizer.settings import Settings\n"
        "import httpx, json, pathlib\n"
        "from tests.fakeserver import completion\n"
        "answer = pathlib.Path('tests/data/seed_summary.json').read_text()\n"
        "text = pathlib.Path('seeds/trump-putin-call.txt').read_text()\n"
        "http = httpx.Client(transport=httpx.MockTransport(\n"
        "    lambda r: httpx.Response(200, json=completion(answer))))\n"
        "s = Settings.resolve(env={}, model='bench', base_url='http://127.0.0.1:9/v1')\n"
        "_speedups.preload()\n"
        "backend = OpenAIBackend(s, http_client=http)\n"
        "summary = summarize(text, backend=backend)\n"
        "assert summary.meta['grounding']['quotes_grounded'] > 0\n"
        "assert not any(m.startswith('openai.resources') for m in sys.modules), 'imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_the_sdk_internals_of_the_direct_post_are_where_we_expect_them(is_async: bool) -> None:
    """direct_post builds its template with the SDK's ``_build_request``, encodes with
    ``openapi_dumps`` and maps errors with ``_make_status_error_from_response``; if one
    moved, requests go back through ``client.post`` (slower). tests/test_direct_post.py
    checks that both paths send the same bytes and raise the same exceptions."""
    import httpx
    import openai

    kwargs: dict[str, Any] = {"api_key": "k", "base_url": "http://127.0.0.1:9/v1",
                              "max_retries": 0}  # fmt: skip
    http: Any = httpx.AsyncClient() if is_async else httpx.Client()
    sdk: Any = openai.AsyncOpenAI if is_async else openai.OpenAI
    client = sdk(http_client=http, **kwargs)
    direct = _speedups.direct_post(client, "/chat/completions")
    assert direct is not None, "an SDK internal that direct_post uses moved"
    assert direct.http is http, "the SDK no longer keeps our HTTP client as _client"
    assert client._idempotency_header is None, "the SDK now sends idempotency keys"
    assert str(direct.url) == "http://127.0.0.1:9/v1/chat/completions"
    assert direct.headers["authorization"] == "Bearer k"
    assert "content-length" not in direct.headers


def test_the_httpx_internal_of_the_direct_async_send_is_where_we_expect_it() -> None:
    """An async DirectPost hands its request to the client's transport for the URL
    (``AsyncClient._transport_for_url``, proxies and mounts included); if httpx moved
    it, requests go through ``send`` again (slower, the same bytes)."""
    import httpx

    from summarizer.backends.http import ShardedTransport, async_client

    http = async_client(30)
    transport = _speedups._plain_transport(http, httpx.URL("http://127.0.0.1:9/v1/x"))
    assert isinstance(transport, ShardedTransport), "httpx moved _transport_for_url"
    http.auth = httpx.BasicAuth("u", "p")
    assert _speedups._plain_transport(http, httpx.URL("http://127.0.0.1:9/v1/x")) is None


def test_the_httpx_internals_a_direct_redirect_goes_on_with_are_where_we_expect_them() -> None:
    """A redirect answer on the direct async path is followed by the client's own loop
    (``_build_redirect_request``, ``_send_handling_redirects``), and the answer gets the
    client's ``_default_encoding``; if httpx moved them, a redirect is sent again
    through ``send`` (the POST twice to the old address) and the encoding is utf-8."""
    import inspect

    import httpx

    http = httpx.AsyncClient(default_encoding="latin-1")
    assert getattr(http, "_default_encoding", None) == "latin-1"
    assert callable(getattr(http, "_build_redirect_request", None))
    loop = getattr(http, "_send_handling_redirects", None)
    assert loop is not None
    assert inspect.iscoroutinefunction(loop)
    assert list(inspect.signature(loop).parameters) == ["request", "follow_redirects", "history"]
