"""The async direct path hands the request straight to the client's transport
(``DirectPost._asend``): what ``httpx.AsyncClient.send`` would have done on the way
(redirects, cookies, the response's own attributes, the client's state, errors on
the way in and while the body is read) must still look the same to the server and to
the caller. Each test compares the direct path with ``client.post`` on the same kind
of client, or pins what ``send`` would have done."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest

from summarizer.backends import _speedups
from tests.fakeserver import completion
from tests.test_direct_post import BASE, BODY, PATH, Handler, _error_view

OLD = "/old/chat/completions"


def _clients(handler: Handler, **http_kwargs: Any) -> tuple[openai.AsyncOpenAI, list[str]]:
    """An async SDK client over a mock transport, and the log of what the server saw."""
    seen: list[str] = []

    def keep(request: httpx.Request) -> httpx.Response:
        request.read()
        auth = "auth" if "authorization" in request.headers else "-"
        seen.append(f"{request.method} {request.url} {request.headers.get('cookie')} {auth}")
        return handler(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(keep), **http_kwargs)
    client = openai.AsyncOpenAI(api_key="k", base_url=BASE, max_retries=0, http_client=http)
    return client, seen


async def _post(client: openai.AsyncOpenAI, how: str, path: str = PATH) -> Any:
    try:
        if how == "sdk":
            return await client.post(path, body=BODY, cast_to=httpx.Response)
        direct = _speedups.direct_post(client, path)
        assert direct is not None
        assert _speedups._plain_transport(direct.http, direct.url) is not None  # type: ignore[arg-type]
        return await direct.asend(BODY)
    except Exception as e:  # noqa: BLE001 - the exception is what is compared
        return e


def _both(handler: Handler, path: str = PATH, **http_kwargs: Any) -> list[tuple[Any, list[str]]]:
    out = []
    for how in ("sdk", "direct"):
        client, seen = _clients(handler, **http_kwargs)
        out.append((asyncio.run(_post(client, how, path)), seen))
    return out


def _moved(status: int, to: str = f"{BASE}{PATH}") -> Handler:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == f"/v1{OLD}":
            headers = {"location": to, "set-cookie": "lb=a; Path=/"}
            return httpx.Response(status, headers=headers)
        return httpx.Response(200, json=completion('{"a": 1}'))

    return answer


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("follow", [True, False])
def test_a_redirect_is_not_sent_twice_to_the_old_address(status: int, follow: bool) -> None:
    """The POST reaches the old address once, the redirect's cookie is kept, and the
    answer (or the error) is the SDK's."""
    (sdk, by_sdk), (direct, by_direct) = _both(_moved(status), OLD, follow_redirects=follow)
    assert by_direct == by_sdk
    if follow:
        assert isinstance(direct, httpx.Response)
        assert (direct.status_code, direct.json()) == (sdk.status_code, sdk.json())
        assert [r.status_code for r in direct.history] == [status]
    else:
        assert _error_view(direct) == _error_view(sdk)
        assert direct.response.next_request.url == sdk.response.next_request.url


def test_a_redirect_to_another_host_drops_the_credentials_as_by_the_sdk() -> None:
    (sdk, by_sdk), (direct, by_direct) = _both(_moved(307, "http://other.example/x"), OLD,
                                               follow_redirects=True)  # fmt: skip
    assert by_direct == by_sdk
    assert by_direct[-1] == "POST http://other.example/x None -"
    assert direct.status_code == sdk.status_code == 200


def test_a_redirect_loop_ends_as_by_the_sdk() -> None:
    def loop(request: httpx.Request) -> httpx.Response:
        return httpx.Response(307, headers={"location": str(request.url)})

    (sdk, by_sdk), (direct, by_direct) = _both(loop, follow_redirects=True)
    assert _error_view(direct) == _error_view(sdk)
    assert len(by_direct) == len(by_sdk)


def test_the_answer_is_the_one_send_gives() -> None:
    """``elapsed``, ``request`` and the client's default encoding are set as by ``send``."""

    def latin(request: httpx.Request) -> httpx.Response:  # streamed, as from a socket
        return httpx.Response(200, stream=_Chunks("café".encode("latin-1")))

    (sdk, _), (direct, _) = _both(latin, default_encoding="latin-1")
    assert direct.text == sdk.text == "café"
    assert direct.elapsed.total_seconds() >= 0
    assert sdk.elapsed.total_seconds() >= 0
    assert direct.request.url == sdk.request.url


def test_an_error_raised_by_the_transport_names_its_request() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    (sdk, _), (direct, _) = _both(fail)
    assert _error_view(direct) == _error_view(sdk)
    assert direct.__cause__.request.url == sdk.__cause__.request.url


def test_a_closed_client_is_refused_as_by_the_sdk() -> None:
    async def run(how: str) -> Any:
        client, seen = _clients(lambda r: httpx.Response(200, json=completion("{}")))
        direct = _speedups.direct_post(client, PATH)  # made while open, as the backend does
        assert direct is not None
        await client.close()
        if how == "sdk":
            return await _post(client, "sdk"), seen
        try:
            return await direct.asend(BODY), seen
        except Exception as e:  # noqa: BLE001
            return e, seen

    sdk, by_sdk = asyncio.run(run("sdk"))
    direct, by_direct = asyncio.run(run("direct"))
    assert by_direct == by_sdk == []
    assert _error_view(direct) == _error_view(sdk)


class _Chunks(httpx.AsyncByteStream):
    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk


class _Body(httpx.AsyncByteStream):
    """A body that sends one chunk and then fails (or hangs); tells when closed."""

    def __init__(self, fail: BaseException | None) -> None:
        self.fail, self.closed = fail, False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"id":'
        if self.fail is not None:
            raise self.fail
        await asyncio.sleep(60)

    async def aclose(self) -> None:
        self.closed = True


@pytest.mark.parametrize(
    ("fail", "kind"),
    [(httpx.ReadTimeout("slow"), openai.APITimeoutError),
     (httpx.RemoteProtocolError("cut"), openai.APIConnectionError)],
)  # fmt: skip
def test_an_error_mid_body_is_the_sdks_and_closes_the_answer(
    fail: Exception, kind: type[Exception]
) -> None:
    bodies: list[_Body] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(_Body(fail))
        return httpx.Response(200, stream=bodies[-1])

    (sdk, _), (direct, _) = _both(answer)
    assert type(direct) is type(sdk) is kind
    assert direct.__cause__ is fail
    assert [b.closed for b in bodies] == [True, True]


def test_a_request_cancelled_mid_body_closes_the_answer() -> None:
    bodies: list[_Body] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(_Body(None))
        return httpx.Response(200, stream=bodies[-1])

    async def run() -> None:
        client, _ = _clients(answer)
        direct = _speedups.direct_post(client, PATH)
        assert direct is not None
        task = asyncio.ensure_future(direct.asend(BODY))
        while not bodies:
            await asyncio.sleep(0)
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert bodies[0].closed
