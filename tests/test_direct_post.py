"""The OpenAI backend sends its requests without the SDK's per-request machinery
(summarizer.backends._speedups.direct_post): the server must see the same request as
from ``client.post``, and the callers the same answers and the same exceptions. Each
test compares the two paths on the same SDK client, or pins what the backend relies on
(the status -> exception table, the transport errors, the fallback to ``post``)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest

from summarizer.backends import _speedups
from summarizer.backends.base import CallStats
from summarizer.backends.openai import OpenAIBackend
from summarizer.backends.retry import is_transient, server_wait, unreachable
from summarizer.settings import Settings
from tests.fakeserver import FakeOpenAI, completion, error_reply, summary_reply

PATH = "/chat/completions"
BASE = "http://127.0.0.1:9/v1"
# Non-ASCII, a line separator, quotes, nested objects, floats: what the encoder must
# write as the SDK does.
BODY: dict[str, Any] = {
    "model": "m",
    "messages": [
        {"role": "system", "content": 'Résumé \u2028 "quoted" \\ back'},
        {"role": "user", "content": "<article>Grüße, 東京</article>"},
    ],
    "temperature": 0.1,
    "max_tokens": 900,
    "response_format": {
        "type": "json_schema",
        "json_schema": {"name": "S", "strict": True, "schema": {"type": "object"}},
    },
}

Handler = Callable[[httpx.Request], httpx.Response]


def _ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=completion('{"a": 1}'))


class Capture:
    """An SDK client (sync or async) over a mock transport that keeps every request."""

    def __init__(self, handler: Handler, *, is_async: bool, timeout: float = 30.0) -> None:
        self.requests: list[httpx.Request] = []

        def keep(request: httpx.Request) -> httpx.Response:
            request.read()
            self.requests.append(request)
            return handler(request)

        transport = httpx.MockTransport(keep)
        kwargs: dict[str, Any] = {"api_key": "sk-test", "base_url": BASE, "max_retries": 0,
                                  "timeout": timeout}  # fmt: skip
        self.http: httpx.Client | httpx.AsyncClient
        self.client: openai.OpenAI | openai.AsyncOpenAI
        if is_async:
            self.http = httpx.AsyncClient(transport=transport, follow_redirects=True)
            self.client = openai.AsyncOpenAI(http_client=self.http, **kwargs)
            _speedups.share_platform(self.client)
        else:
            self.http = httpx.Client(transport=transport, follow_redirects=True)
            self.client = openai.OpenAI(http_client=self.http, **kwargs)

    async def _asdk(self, body: Any) -> httpx.Response:
        assert isinstance(self.client, openai.AsyncOpenAI)
        return await self.client.post(PATH, body=body, cast_to=httpx.Response)

    async def _adirect(self, body: Any) -> httpx.Response:
        direct = _speedups.direct_post(self.client, PATH)
        assert direct is not None, "the direct path is off for a plain client"
        return await direct.asend(body)

    def send(self, how: str, body: Any = BODY) -> httpx.Response | Exception:
        """The answer or the exception of one request, through ``post`` (how="sdk")
        or the direct path (how="direct")."""
        try:
            if isinstance(self.client, openai.AsyncOpenAI):
                run = self._asdk if how == "sdk" else self._adirect
                return asyncio.run(run(body))
            assert isinstance(self.http, httpx.Client)
            if how == "sdk":
                return self.client.post(PATH, body=body, cast_to=httpx.Response)
            direct = _speedups.direct_post(self.client, PATH)
            assert direct is not None, "the direct path is off for a plain client"
            return direct.send(body)
        except Exception as e:  # noqa: BLE001 - the exception is what is compared
            return e


def _wire(request: httpx.Request) -> tuple[Any, ...]:
    """What the server sees of a request, and the timeout it is sent with."""
    return (request.method, str(request.url), request.headers.raw, request.content,
            request.extensions.get("timeout"), request.extensions.get("sni_hostname"))  # fmt: skip


def _error_view(e: Any) -> tuple[Any, ...]:
    assert isinstance(e, Exception), f"no exception: {e!r}"
    response = getattr(e, "response", None)
    return (type(e), str(e), getattr(e, "message", None), getattr(e, "body", None),
            getattr(e, "status_code", None),
            response.headers.raw if response is not None else None,
            type(e.__cause__), str(e.__cause__) if e.__cause__ else None)  # fmt: skip


@pytest.fixture(params=[False, True], ids=["sync", "async"])
def is_async(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def sdk_debug_log() -> Iterator[logging.Logger]:
    logger = logging.getLogger("openai._base_client")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        yield logger
    finally:
        logger.setLevel(level)


# -- the request -----------------------------------------------------------------------


def test_the_direct_request_is_the_sdks_byte_for_byte(
    is_async: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Headers the SDK adds from the environment are in the template too.
    monkeypatch.setenv("OPENAI_ORG_ID", "org-1")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-1")
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "X-Team: news\nX-Trace: 7")
    cap = Capture(_ok, is_async=is_async, timeout=42.5)
    sdk, direct = cap.send("sdk"), cap.send("direct")
    assert isinstance(sdk, httpx.Response)
    assert isinstance(direct, httpx.Response)
    assert sdk.json() == direct.json()
    first, second = cap.requests
    assert _wire(first) == _wire(second)
    headers = second.headers
    assert headers["authorization"] == "Bearer sk-test"
    assert headers["content-type"] == "application/json"
    assert headers["accept"] == "application/json"
    assert headers["user-agent"] == f"{type(cap.client).__name__}/Python {openai.__version__}"
    assert headers["x-stainless-retry-count"] == "0"
    assert headers["x-stainless-read-timeout"] == "42.5"
    assert headers["openai-organization"] == "org-1"
    assert headers["openai-project"] == "proj-1"
    assert headers["x-team"] == "news"
    assert "idempotency-key" not in headers
    assert (
        second.content
        == json.dumps(BODY, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    )
    assert str(second.url) == f"{BASE}{PATH}"


def test_a_body_with_the_shared_schema_is_encoded_as_by_the_sdk() -> None:
    """The response model's schema (one shared object) is encoded once and spliced into
    each body: the bytes are the SDK encoder's own, request after request, and a body
    whose text holds what looks like the marker is not confused by it."""
    from openai._utils._json import openapi_dumps

    from summarizer.contract.llm_schema import shared_llm_json_schema

    schema = shared_llm_json_schema()
    splice = _speedups.SchemaSplice(openapi_dumps)
    for text in ('Grüße \u2028 "q"', "\ue000" + "0" * 32, splice._marker):
        body = {**BODY, "messages": [{"role": "user", "content": text}]}
        body["response_format"] = {
            "type": "json_schema", "json_schema": {"name": "S", "strict": True, "schema": schema},
        }  # fmt: skip
        assert splice(body) == openapi_dumps(body)
    assert list(splice._encoded) == [id(schema)]
    assert splice(BODY) == openapi_dumps(BODY)  # a schema of its own: encoded whole
    assert list(splice._encoded) == [id(schema)]


def _sticky(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=completion("{}"), headers={"set-cookie": "lb=node-3; Path=/"})


@pytest.mark.parametrize("setter", ["sdk", "direct"])
def test_cookies_the_server_sets_are_kept_and_sent_back_on_either_path(
    is_async: bool, setter: str
) -> None:
    cap = Capture(_sticky, is_async=is_async)
    cap.send(setter)  # sets the cookie
    cap.send("sdk")
    cap.send("direct")
    _, by_sdk, direct = cap.requests
    assert by_sdk.headers["cookie"] == "lb=node-3"
    assert _wire(by_sdk) == _wire(direct)


def test_a_redirect_is_followed_as_by_the_sdk(is_async: bool) -> None:
    """The direct path follows the redirect with the client's own loop: the same answer
    (tests/test_direct_transport.py: the same requests, the old address's once)."""
    old = "/old/chat/completions"

    def moved(request: httpx.Request) -> httpx.Response:
        if request.url.path == f"/v1{old}":
            return httpx.Response(307, headers={"location": f"{BASE}{PATH}"})
        return httpx.Response(200, json=completion('{"a": 1}'))

    seen = []
    for how in ("sdk", "direct"):
        cap = Capture(moved, is_async=is_async)
        if how == "sdk":
            answer: Any = cap.client.post(old, body=BODY, cast_to=httpx.Response)
        elif is_async:

            async def direct_async(client: Any = cap.client) -> httpx.Response:
                direct = _speedups.direct_post(client, old)  # in the loop, as the backend does
                assert direct is not None
                return await direct.asend(BODY)

            answer = direct_async()
        else:
            direct = _speedups.direct_post(cap.client, old)
            assert direct is not None
            answer = direct.send(BODY)
        if asyncio.iscoroutine(answer):
            answer = asyncio.run(answer)
        seen.append((answer.status_code, answer.json(), _wire(cap.requests[-1])))
    assert seen[0] == seen[1]
    assert seen[0][:2] == (200, completion('{"a": 1}'))


def test_client_hooks_and_httpxs_request_log_still_see_every_request() -> None:
    seen: list[str] = []

    async def hook(request: httpx.Request) -> None:
        seen.append(str(request.url))

    cap = Capture(_ok, is_async=True)
    assert isinstance(cap.http, httpx.AsyncClient)
    cap.http.event_hooks["request"].append(hook)
    cap.send("direct")
    assert seen == [f"{BASE}{PATH}"]

    cap = Capture(_ok, is_async=True)
    logger = logging.getLogger("httpx")
    level = logger.level
    logger.setLevel(logging.INFO)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        cap.send("direct")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert [r.getMessage().split('"')[0] for r in records] == [f"HTTP Request: POST {BASE}{PATH} "]


def test_a_body_the_sdk_cannot_encode_fails_the_same_way(is_async: bool) -> None:
    cap = Capture(_ok, is_async=is_async)
    nan = {**BODY, "temperature": float("nan")}
    sdk, direct = cap.send("sdk", nan), cap.send("direct", nan)
    assert type(sdk) is type(direct) is ValueError
    assert str(sdk) == str(direct)
    assert cap.requests == []


# -- what comes back -------------------------------------------------------------------

STATUSES = [
    (400, openai.BadRequestError),
    (401, openai.AuthenticationError),
    (403, openai.PermissionDeniedError),
    (404, openai.NotFoundError),
    (409, openai.ConflictError),
    (413, openai.APIStatusError),
    (418, openai.APIStatusError),
    (422, openai.UnprocessableEntityError),
    (429, openai.RateLimitError),
    (500, openai.InternalServerError),
    (502, openai.InternalServerError),
    (503, openai.InternalServerError),
    (302, openai.APIStatusError),  # a redirect without a Location
]


@pytest.mark.parametrize(("status", "kind"), STATUSES)
def test_every_error_status_is_the_sdks_exception(
    is_async: bool, status: int, kind: type[Exception]
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status,
            json={"error": {"message": f"nope {status}", "type": "x", "code": None}},
            headers={"retry-after": "7", "x-request-id": "req-1"},
        )

    cap = Capture(answer, is_async=is_async)
    sdk, direct = cap.send("sdk"), cap.send("direct")
    assert type(direct) is kind
    assert _error_view(sdk) == _error_view(direct)
    assert isinstance(direct, openai.APIStatusError)
    assert direct.status_code == status
    assert direct.request_id == "req-1"
    assert server_wait(direct.response.headers, 60) == 7.0  # Retry-After still reaches us
    assert is_transient(direct) == (status in (409, 429) or status >= 500)


def test_an_error_answer_that_is_not_json_is_the_sdks_exception(is_async: bool) -> None:
    cap = Capture(lambda r: httpx.Response(502, text="<html>Bad gateway</html>"),
                  is_async=is_async)  # fmt: skip
    sdk, direct = cap.send("sdk"), cap.send("direct")
    assert _error_view(sdk) == _error_view(direct)
    assert isinstance(direct, openai.InternalServerError)
    assert direct.body == "<html>Bad gateway</html>"


@pytest.mark.parametrize(
    ("raised", "kind"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), openai.APIConnectionError),
        (httpx.ReadTimeout("timed out"), openai.APITimeoutError),
        (httpx.ConnectTimeout("timed out"), openai.APITimeoutError),
        (httpx.RemoteProtocolError("Server disconnected"), openai.APIConnectionError),
        (RuntimeError("a bug in a transport"), openai.APIConnectionError),
    ],
)
def test_transport_errors_are_the_sdks_exceptions(
    is_async: bool, raised: Exception, kind: type[Exception]
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise raised

    cap = Capture(fail, is_async=is_async)
    sdk, direct = cap.send("sdk"), cap.send("direct")
    assert type(direct) is kind
    assert _error_view(sdk) == _error_view(direct)
    assert direct.__cause__ is raised
    assert is_transient(direct)


def test_a_refused_connection_is_still_recognised(is_async: bool) -> None:
    """retry.unreachable reads the socket's error among the causes."""

    def refuse(request: httpx.Request) -> httpx.Response:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as e:
            raise httpx.ConnectError(str(e)) from e

    cap = Capture(refuse, is_async=is_async)
    sdk, direct = cap.send("sdk"), cap.send("direct")
    assert unreachable(sdk) == unreachable(direct) == "refused"


# -- when it is used -------------------------------------------------------------------


def test_a_client_the_sdk_changes_per_request_is_left_to_the_sdk(is_async: bool) -> None:
    cap = Capture(_ok, is_async=is_async)
    direct = _speedups.direct_post(cap.client, PATH)
    assert direct is not None
    assert direct.http is cap.http
    cap.client._idempotency_header = "Idempotency-Key"  # type: ignore[union-attr]
    assert _speedups.direct_post(cap.client, PATH) is None
    cap.client._idempotency_header = None  # type: ignore[union-attr]
    cap.client._api_key_provider = lambda: "k"  # type: ignore[union-attr]
    assert _speedups.direct_post(cap.client, PATH) is None


def _backend(url: str, **kw: Any) -> OpenAIBackend:
    return OpenAIBackend(Settings.resolve(env={}, model="m", base_url=url, **kw))


def _refuse_post(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("sent through client.post")


def test_the_backend_sends_directly_sync_and_async_alike(
    seed_summary: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both send the same body byte for byte, with the same headers but the SDK's own
    sync/async markers, and neither through ``client.post``."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return httpx.Response(200, json=completion(json.dumps(seed_summary)))

    http = httpx.Client(transport=httpx.MockTransport(answer))
    ahttp = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    settings = Settings.resolve(env={}, model="m", base_url=BASE)
    backend = OpenAIBackend(settings, http_client=http, async_http_client=ahttp)
    monkeypatch.setattr(backend.client, "post", _refuse_post)
    sync = backend.create(BODY, CallStats())

    async def run() -> Any:
        monkeypatch.setattr(backend.aclient, "post", _refuse_post)
        try:
            return await backend.acreate(BODY, CallStats())
        finally:
            await backend.aclose()
            await ahttp.aclose()

    asynced = asyncio.run(run())
    backend.close()
    http.close()
    assert sync.model_dump() == asynced.model_dump()
    first, second = seen
    assert first.content == second.content
    assert first.url == second.url
    markers = {b"user-agent", b"x-stainless-async"}
    assert [h for h in first.headers.raw if h[0].lower() not in markers] == [
        h for h in second.headers.raw if h[0].lower() not in markers
    ]


def test_the_backends_requests_meet_openais_spec(
    fake_openai: FakeOpenAI, seed_text: str, seed_summary: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """A whole summary, sync and async, sent directly (the fixture checks every body
    against the spec)."""
    from summarizer import Summarizer

    fake_openai.queue(summary_reply(seed_summary), summary_reply(seed_summary))
    s = Summarizer(model="m", base_url=fake_openai.url)
    backend = s.backend
    assert isinstance(backend, OpenAIBackend)
    monkeypatch.setattr(backend.client, "post", _refuse_post)
    assert s.summarize(seed_text).meta["attempts"]["responses"] == 1

    async def run() -> Any:
        monkeypatch.setattr(backend.aclient, "post", _refuse_post)
        try:
            return await s.asummarize(seed_text)
        finally:
            await s.aclose()

    assert asyncio.run(run()).meta["attempts"]["responses"] == 1
    s.close()
    assert len(fake_openai.requests) == 2
    assert fake_openai.requests[0] == fake_openai.requests[1]
    assert fake_openai.headers[0]["authorization"] == "Bearer unused"


def test_with_the_sdks_debug_log_on_requests_go_through_post(
    fake_openai: FakeOpenAI, seed_summary: dict[str, Any], sdk_debug_log: logging.Logger
) -> None:
    fake_openai.queue(summary_reply(seed_summary))
    backend = _backend(fake_openai.url)
    posts: list[str] = []
    original = backend.aclient.post

    async def counting(path: str, **kwargs: Any) -> Any:
        posts.append(path)
        return await original(path, **kwargs)

    async def run() -> Any:
        backend.aclient.post = counting  # type: ignore[method-assign]
        try:
            return await backend.acreate({"model": "m", "messages": BODY["messages"]}, CallStats())
        finally:
            await backend.aclose()

    assert asyncio.run(run()).choices
    assert posts == [PATH]


def test_the_backends_retries_and_errors_are_unchanged(
    fake_openai: FakeOpenAI, seed_summary: dict[str, Any]
) -> None:
    """A 429 with Retry-After and a 500 are retried, a 401 is the credentials' error."""
    from summarizer.errors import AuthenticationError

    fake_openai.queue(
        error_reply(429, "slow down", **{"retry-after": "0"}),
        error_reply(500, "boom"),
        summary_reply(seed_summary),
        error_reply(401, "bad key"),
    )
    backend = _backend(fake_openai.url, retry_initial_wait=0.0)
    stats = CallStats()

    async def run() -> Any:
        try:
            ok = await backend.acreate({"model": "m", "messages": BODY["messages"]}, stats)
            with pytest.raises(AuthenticationError, match="HTTP 401"):
                await backend.acreate({"model": "m", "messages": BODY["messages"]}, CallStats())
            return ok
        finally:
            await backend.aclose()

    assert asyncio.run(run()).choices
    assert stats.transport_retries == 2
    assert stats.transport_errors[0].startswith("RateLimitError: Error code: 429")
    assert stats.transport_errors[1].startswith("InternalServerError: Error code: 500")
