"""Speed-ups that lean on Instructor's and the OpenAI SDK's internals, in one place.

Each was measured on the batch benchmark (benchmarks/batch.py) and each degrades to
the libraries' own behaviour when the internal it relies on moves: the code keeps
working, only slower. tests/test_speedups.py fails loudly when that happens, so an
upgrade cannot silently lose them. Nothing here runs at import time, and nothing
changes what Instructor does for anyone else's models:

* :func:`instructor_model` hands Instructor our response model already wrapped in
  its ``ResponseSchema``; it wraps any other class itself on every call, building a
  new pydantic class each time (about a third of a request's CPU, profiled).
* :func:`remembered_async_validator_checks` (a context manager the extractor
  enters around each of its own calls) lets Instructor skip its walk of the
  response-model tree for models it already checked: it walked it 4 times per
  request, about 40% of a request's client CPU (profiled on benchmarks/batch.py's
  overhead run). Other models still get Instructor's check, and the original
  function is back when the last block ends.
* :func:`sdk_platform` answers the SDK's per-client platform lookup once per
  process: it ran in a worker thread on each client's first request, and every
  request begun before the answer came back waited on it.
* :func:`direct_post` sends a model request as the SDK's ``client.post`` would,
  without rebuilding it through the SDK's per-request machinery (options copied
  twice, headers merged, the URL and the httpx request built, the response
  dispatched): about a quarter of the request's CPU above httpx (profiled on a
  ``summarizer serve`` worker). The URL, headers and extensions are those of one
  request the SDK built itself, the body goes through the SDK's own encoder, and
  errors are the SDK's own, so the server and the callers see the same thing.

It is one module because it is the one place that leans on those internals: an
upgrade that moves one has one file to look at, and tests/test_speedups.py to fail.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar, cast

import httpx
from pydantic import create_model

M = TypeVar("M")

# Response models (wrapped by instructor_model) that passed Instructor's
# async-validator check once. Weak: a class evicted from the caches above it goes.
_CHECKED: weakref.WeakSet[type[Any]] = weakref.WeakSet()


def _response_schema() -> type[Any] | None:
    try:
        from instructor.v2.core.function_calls import ResponseSchema
    except ImportError:  # pragma: no cover - another Instructor layout
        return None
    return cast(type[Any], ResponseSchema)


def _async_validators_module() -> Any:
    try:
        from instructor.v2.validation import async_validators
    except ImportError:  # pragma: no cover - another Instructor layout
        return None
    return async_validators


@lru_cache(maxsize=64)
def instructor_model(model: type[M]) -> type[M]:
    """``model`` wrapped in Instructor's ``ResponseSchema`` once, and checked for
    async validators once; ``model`` itself if Instructor moved either."""
    schema = _response_schema()
    module = _async_validators_module()
    if schema is None or module is None:
        return model
    wrapped = create_model(model.__name__, __base__=(model, schema))
    check = module.reject_async_validators
    getattr(check, "original", check)(wrapped)
    _CHECKED.add(wrapped)
    return cast(type[M], wrapped)


# Depth of nested/overlapping remembered_async_validator_checks blocks, and what
# each installed module attribute held before; guarded for threads (sync callers).
_SHIM_LOCK = threading.Lock()
_shim_depth = 0
_shim_active = False
_shim_saved: list[tuple[Any, Any]] = []


def _install_shim() -> bool:
    module = _async_validators_module()
    patch_module: Any
    try:
        from instructor.v2.core import patch as patch_module
    except ImportError:  # pragma: no cover - another Instructor layout
        patch_module = None
    original = getattr(module, "reject_async_validators", None)
    if original is None or patch_module is None:
        return False
    if getattr(original, "remembers_checks", False):
        return True  # already in (an outer Summarizer in another import's copy)

    def reject_async_validators(response_model: Any) -> None:
        if response_model not in _CHECKED:
            original(response_model)

    reject_async_validators.remembers_checks = True  # type: ignore[attr-defined]
    reject_async_validators.original = original  # type: ignore[attr-defined]
    targets = [module]
    if getattr(patch_module, "reject_async_validators", None) is original:
        targets.append(patch_module)  # it imported the name at its own import
    for target in targets:
        _shim_saved.append((target, original))
        target.reject_async_validators = reject_async_validators
    return True


def _remove_shim() -> None:
    while _shim_saved:
        target, original = _shim_saved.pop()
        if getattr(target.reject_async_validators, "remembers_checks", False):
            target.reject_async_validators = original  # unless someone replaced ours


@contextlib.contextmanager
def remembered_async_validator_checks() -> Iterator[bool]:
    """Within the block, Instructor skips its async-validator walk for the models
    :func:`instructor_model` already checked. Yields whether the shim is in place.

    The extractor enters it around each of its own Instructor calls. Blocks may
    overlap (concurrent tasks, threads): the shim goes in with the first and the
    original function is back when the last one ends. While it is in, anyone else's
    model still gets Instructor's full check, so other users see no difference.
    """
    global _shim_depth, _shim_active
    with _SHIM_LOCK:
        if _shim_depth == 0:
            _shim_active = _install_shim()
        _shim_depth += 1
        active = _shim_active
    try:
        yield active
    finally:
        with _SHIM_LOCK:
            _shim_depth -= 1
            if _shim_depth == 0:
                _remove_shim()


@lru_cache(maxsize=1)
def sdk_platform() -> Any:
    """The SDK's platform description (its X-Stainless-OS header), found once."""
    try:
        from openai._base_client import get_platform
    except ImportError:  # pragma: no cover - another SDK layout
        return None
    return get_platform()


def share_platform(client: Any) -> None:
    """Give a new SDK client the platform found once per process, if it still keeps
    it in ``_platform`` (else leave it to look it up itself)."""
    if getattr(client, "_platform", False) is None:
        platform = sdk_platform()
        if platform is not None:
            client._platform = platform


def preload() -> None:
    """Import what the OpenAI SDK and httpx load lazily on first use (about half a
    second); a batch calls this before forking workers, so they inherit the modules
    instead of each importing them while the clock runs."""
    import importlib

    for module in (
        # Instructor's OpenAI handlers (and the requests/urllib3 they pull in). Not
        # openai.resources (0.55 s): requests go through ``client.post`` or
        # :func:`direct_post`, neither of which touches it; a test keeps it that way.
        "instructor.v2.providers.openai.handlers",
        # httpx imports its HTTP stack on the first request (about 0.1 s).
        "httpcore",
        "h11",
        "anyio._backends._asyncio",
        "httpcore._backends.anyio",
        "pydantic._internal._dataclasses",
    ):
        with contextlib.suppress(ImportError):
            importlib.import_module(module)


# -- a POST as the SDK sends it ----------------------------------------------------------

# The SDK logs each request at DEBUG from here; while that is on, requests go through
# the SDK so that its log lines are there.
_SDK_LOG = logging.getLogger("openai._base_client")
_HTTPX_LOG = logging.getLogger("httpx")
# Client set-ups whose requests the SDK changes per request (a provider's transform,
# workload-identity tokens, an API-key callable, idempotency keys): left to the SDK.
_PER_REQUEST = ("_provider_runtime", "_workload_identity_auth", "_api_key_provider",
                "_idempotency_header")  # fmt: skip


@dataclass(frozen=True)
class DirectPost:
    """``client.post(path, body=body, cast_to=httpx.Response)`` for one SDK client,
    with what does not change between its requests worked out once.

    ``http`` is the client's own HTTP client; ``url``, ``headers`` (less the body's
    length and any cookies, which are the request's own) and ``extensions`` (the
    timeout) come from a request the SDK built with its own ``_build_request``;
    ``dumps`` is the SDK's body encoder and ``status_error`` its own mapping of an
    error answer to its exception classes. :meth:`send` and :meth:`asend` handle what
    comes back as the SDK's request loop does with its retries off.
    """

    http: httpx.Client | httpx.AsyncClient
    url: httpx.URL
    headers: httpx.Headers
    extensions: dict[str, Any]
    dumps: Callable[[Any], bytes]
    status_error: Callable[[httpx.Response], Exception]

    @staticmethod
    def available() -> bool:
        """False while the SDK logs requests at DEBUG (``OPENAI_LOG=debug``)."""
        return not _SDK_LOG.isEnabledFor(logging.DEBUG)

    def request(self, body: Any, cookies: httpx.Cookies) -> httpx.Request:
        """The request as the SDK's client builds it (httpx adds the length and, if
        the client has kept any, the cookies, in the same order as for the SDK)."""
        return httpx.Request(
            "POST", self.url, headers=self.headers, cookies=cookies or None,
            content=self.dumps(body), extensions=self.extensions,
        )  # fmt: skip

    @staticmethod
    @contextlib.contextmanager
    def _transport_errors(request: httpx.Request) -> Iterator[None]:
        """What the SDK's request loop raises for a request that got no answer."""
        import openai

        try:
            yield
        except httpx.TimeoutException as e:
            raise openai.APITimeoutError(request=request) from e
        except openai.OpenAIError:
            raise
        except Exception as e:
            raise openai.APIConnectionError(request=request) from e

    def send(self, body: Any) -> httpx.Response:
        http = self.http
        assert isinstance(http, httpx.Client)
        request = self.request(body, http.cookies)
        with self._transport_errors(request):
            response = http.send(request)
        if not response.is_success:  # the SDK's raise_for_status, mapped its way
            response.read()
            raise self.status_error(response) from None
        return response

    async def asend(self, body: Any) -> httpx.Response:
        http = self.http
        assert isinstance(http, httpx.AsyncClient)
        request = self.request(body, http.cookies)
        with self._transport_errors(request):
            response = await self._asend(http, request)
        if not response.is_success:
            await response.aread()
            raise self.status_error(response) from None
        return response

    async def _asend(self, http: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
        """``http.send(request)``, straight to the transport when nothing of the client's
        own per-request work applies (no auth, no event hooks, httpx's request log off):
        cookies are kept only when the answer sets some (httpx wraps every answer for
        its cookie jar: 3% of a request's CPU, profiled). The answer is what ``send``
        gives (``request``, ``elapsed``, the client's default encoding), and a redirect
        is followed, or handed back, from this answer on by the client's own loop: the
        POST is not sent to the old address twice."""
        transport = _plain_transport(http, self.url)
        if transport is None:
            return await http.send(request)
        start = time.perf_counter()
        try:
            response = await transport.handle_async_request(request)
        except httpx.RequestError as e:
            e.request = request  # as send's request_context does
            raise
        response.request = request
        response.default_encoding = getattr(http, "_default_encoding", "utf-8")
        try:
            if response.has_redirect_location:
                return await _redirected(http, request, response, start)
            if "set-cookie" in response.headers:
                http.cookies.extract_cookies(response)
            await response.aread()
        except BaseException:
            await response.aclose()
            raise
        response.elapsed = datetime.timedelta(seconds=time.perf_counter() - start)
        return response


async def _redirected(
    http: httpx.AsyncClient, request: httpx.Request, response: httpx.Response, start: float
) -> httpx.Response:
    """What ``http.send`` does with a redirect answer to ``request``, from that answer
    on (the caller closes it on an error): its cookies kept, then the redirect
    followed by the client's own loop, or handed back in ``next_request``."""
    build = getattr(http, "_build_redirect_request", None)
    follow = getattr(http, "_send_handling_redirects", None)
    if build is None or follow is None:  # pragma: no cover - another httpx layout
        await response.aclose()
        return await http.send(request)  # the POST goes to the old address again
    http.cookies.extract_cookies(response)
    response.history = []
    next_request = build(request, response)
    await response.aread()
    response.elapsed = datetime.timedelta(seconds=time.perf_counter() - start)
    if not http.follow_redirects:
        response.next_request = next_request
        return response
    final: httpx.Response = await follow(next_request, follow_redirects=True, history=[response])
    try:
        await final.aread()
    except BaseException:
        await final.aclose()
        raise
    return final


def _plain_transport(http: httpx.AsyncClient, url: httpx.URL) -> httpx.AsyncBaseTransport | None:
    """The transport ``http`` sends ``url`` through, or None while the client is closed
    or has auth or event hooks of its own (or httpx moved the internal used here)."""
    if (
        http.is_closed  # send refuses it
        or http.auth is not None
        or any(http.event_hooks.values())
        or _HTTPX_LOG.isEnabledFor(20)  # INFO, where httpx logs each request from ``send``
    ):
        return None
    pick = getattr(http, "_transport_for_url", None)
    if pick is None:  # pragma: no cover - another httpx layout
        return None
    transport = pick(url)
    return transport if isinstance(transport, httpx.AsyncBaseTransport) else None


def direct_post(client: Any, path: str) -> DirectPost | None:
    """A :class:`DirectPost` for ``client`` (an SDK client), or None to leave requests
    to ``client.post``: the SDK moved an internal used here, or the client is set up
    so that the SDK changes each request. Call it where the requests will be sent (an
    async client inside its event loop: the SDK's headers name the async library)."""
    try:
        from openai._models import FinalRequestOptions
        from openai._utils._json import openapi_dumps
    except ImportError:  # pragma: no cover - another SDK layout
        return None
    build = getattr(client, "_build_request", None)
    status_error = getattr(client, "_make_status_error_from_response", None)
    http = getattr(client, "_client", None)
    if (
        build is None
        or status_error is None
        or not isinstance(http, httpx.Client | httpx.AsyncClient)
    ):
        return None
    if any(getattr(client, name, None) is not None for name in _PER_REQUEST):
        return None
    if client.custom_auth is not None or client.max_retries != 0:
        return None
    options = FinalRequestOptions.construct(
        method="post", url=path, json_data={}, content=None, files=None
    )
    # What the SDK would raise here (no credentials, say) it raises from client.post too.
    template = build(options, retries_taken=0)
    if not isinstance(template, httpx.Request):  # pragma: no cover - another SDK layout
        return None
    headers = template.headers.copy()
    for name in ("content-length", "cookie"):
        headers.pop(name, None)
    extensions = dict(template.extensions)
    dumps = SchemaSplice(openapi_dumps)
    return DirectPost(http, template.url, headers, extensions, dumps, status_error)


class SchemaSplice:
    """The SDK's body encoder, with the JSON schema of ``response_format`` encoded
    once per schema object (by each client's encoder) instead of once per request:
    the schema is about half of a request's body, and the response model hands out
    one shared object per prompt (``llm_schema.shared_llm_json_schema``); encoding it
    took about 3% of a serve worker's CPU, profiled. Only those shared objects, which
    never change, are kept encoded. The body is encoded with a marker in the schema's
    place (a random string no article can hold), and the schema's bytes go where the
    marker is: the same bytes as encoding the whole body."""

    def __init__(self, dumps: Callable[[Any], bytes]) -> None:
        import uuid

        from summarizer.contract.llm_schema import is_shared

        self._is_shared = is_shared
        self._dumps = dumps
        self._marker = f"\ue000{uuid.uuid4().hex}"
        self._marker_json = dumps(self._marker)
        self._encoded: dict[int, bytes] = {}  # by id: a shared schema is kept for good

    def __call__(self, body: Any) -> bytes:
        fmt = body.get("response_format") if isinstance(body, dict) else None
        spec = fmt.get("json_schema") if isinstance(fmt, dict) else None
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict) or not self._is_shared(schema):
            return self._dumps(body)
        assert isinstance(fmt, dict)
        assert isinstance(spec, dict)
        encoded = self._encoded.get(id(schema))
        if encoded is None:
            encoded = self._encoded[id(schema)] = self._dumps(schema)
        marked = {**spec, "schema": self._marker}
        out = self._dumps({**body, "response_format": {**fmt, "json_schema": marked}})
        if out.count(self._marker_json) != 1:  # the marker in a message: never, yet
            return self._dumps(body)
        at = out.find(self._marker_json)
        return out[:at] + encoded + out[at + len(self._marker_json) :]
