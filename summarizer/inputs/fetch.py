"""Fetching an article from an http(s) URL, with limits a command-line tool needs.

A URL is a convenience, not a crawler: one GET, a bounded wait, a bounded body,
a bounded redirect chain, and only what can become article text (HTML or plain
text). Anything else fails at once with a one-line message saying what to do,
usually "save the page and pass the file", since a browser gets past logins,
paywalls and scripts that this fetcher does not try to.

Limits are explicit arguments, else environment variables read at call time
(``SUMMARIZER_FETCH_TIMEOUT`` in seconds, ``SUMMARIZER_FETCH_DEADLINE`` in seconds,
``SUMMARIZER_FETCH_MAX_BYTES``), else the defaults below: 20 s, 60 s and 10 MB.
The timeout applies to connecting and to each read, so a server that stops sending
fails after that long even mid-body. The deadline bounds the whole download,
redirects included, so a server that sends a byte every few seconds, or a page that
never ends, fails after that long too (:mod:`summarizer.deadline`: every socket
operation gets at most the time left).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from summarizer.errors import (
    ConfigurationError,
    FetchContentError,
    FetchError,
    FetchStatusError,
)

if TYPE_CHECKING:
    import httpx

DEFAULT_TIMEOUT = 20.0
DEFAULT_DEADLINE = 60.0
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 10

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TEXT_TYPES = frozenset({"text/plain"})

# What makes the transport of the fetches in this context (a thread, a task, and the
# threads it starts with its context): the HTTP service's URL policy
# (summarizer.serve.ssrf), which cannot be passed down through read_article.
_TRANSPORT: ContextVar[Callable[[], httpx.BaseTransport] | None] = ContextVar(
    "summarizer_fetch_transport", default=None
)


@contextmanager
def transport_for_fetches(make: Callable[[], httpx.BaseTransport]) -> Iterator[None]:
    """Fetches made inside the block and given no ``transport`` use a new ``make()``
    each, so every connection they make, redirects included, goes through it."""
    token = _TRANSPORT.set(make)
    try:
        yield
    finally:
        _TRANSPORT.reset(token)


@dataclass(frozen=True)
class Fetched:
    """A successful response: the body and what the server said about it."""

    url: str
    final_url: str
    status: int
    content_type: str  # media type only, lowercase; "" when the server sent none
    charset: str | None
    body: bytes

    @property
    def is_html(self) -> bool:
        return self.content_type in HTML_TYPES


def is_url(target: str) -> bool:
    """True for ``http://`` and ``https://`` targets (any other string is a path)."""
    return target[:8].lower().startswith(("http://", "https://"))


def _limit(value: float | None, env_name: str, default: float, env: Mapping[str, str]) -> float:
    if value is not None:
        return value
    raw = env.get(env_name)
    if raw is None or not raw.strip():
        return default
    try:
        parsed = float(raw)
    except ValueError:
        parsed = -1.0
    if parsed <= 0:
        raise ConfigurationError(f"{env_name}={raw!r}: expected a positive number")
    return parsed


def fetch(
    url: str,
    *,
    timeout: float | None = None,
    deadline: float | None = None,
    max_bytes: int | None = None,
    max_redirects: int = MAX_REDIRECTS,
    transport: httpx.BaseTransport | None = None,
    env: Mapping[str, str] | None = None,
) -> Fetched:
    """GET ``url`` and return its body if it is HTML or plain text within the limits.

    ``transport`` is the seam for tests (e.g. ``httpx.MockTransport``); the deadline
    is then checked between the body's chunks only.
    """
    # Imported here, not at the top: reading a file or a golden dataset imports this
    # module too, and must not pay for the HTTP stack (about 0.1 s) or the metadata.
    import httpx

    from summarizer import deadline as _deadline
    from summarizer._version import __version__

    make = _TRANSPORT.get()
    if transport is None and make is not None:
        transport = make()
    env = os.environ if env is None else env
    seconds = _limit(timeout, "SUMMARIZER_FETCH_TIMEOUT", DEFAULT_TIMEOUT, env)
    total = _limit(deadline, "SUMMARIZER_FETCH_DEADLINE", DEFAULT_DEADLINE, env)
    cap = int(_limit(max_bytes, "SUMMARIZER_FETCH_MAX_BYTES", DEFAULT_MAX_BYTES, env))
    headers = {
        "user-agent": f"summarizer/{__version__}",
        "accept": "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.1",
    }
    try:
        with (
            _deadline.deadline(total) as ends,
            httpx.Client(
                timeout=httpx.Timeout(seconds),
                follow_redirects=True,
                max_redirects=max_redirects,
                headers=headers,
                transport=transport or _deadline.DeadlineTransport(),
                mounts=None if transport else _deadline.proxy_mounts(_deadline.DeadlineTransport),
            ) as client,
            client.stream("GET", url) as response,
        ):
            return _read(url, response, cap)
    except httpx.TooManyRedirects as e:
        raise FetchError(
            f"{url}: more than {max_redirects} redirects; open it in a browser and pass "
            "the address it ends at, or the saved page"
        ) from e
    except httpx.TimeoutException as e:
        if time.monotonic() >= ends:
            raise FetchError(
                f"{url}: the download did not finish within {total:g} s; try again later, "
                "raise SUMMARIZER_FETCH_DEADLINE, or save the page and pass the file"
            ) from e
        raise FetchError(
            f"{url}: no answer within {seconds:g} s; try again later, raise "
            "SUMMARIZER_FETCH_TIMEOUT, or save the page and pass the file"
        ) from e
    except httpx.ConnectError as e:
        raise FetchError(
            f"{url}: cannot connect ({_reason(e)}); check the address and your network, "
            "or save the page and pass the file"
        ) from e
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as e:
        raise FetchError(f"{url}: not a valid http(s) URL ({_reason(e)})") from e
    except httpx.HTTPError as e:
        raise FetchError(
            f"{url}: the download failed ({type(e).__name__}: {_reason(e)}); try again "
            "later, or save the page and pass the file"
        ) from e


def _reason(error: Exception) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


def _read(url: str, response: httpx.Response, cap: int) -> Fetched:
    """Check status and type before reading, then read at most ``cap`` bytes."""
    final_url = str(response.url)
    where = url if final_url == url else f"{url} (redirected to {final_url})"
    if response.status_code >= 400:
        raise FetchStatusError(
            f"{where}: the server answered HTTP {response.status_code} "
            f"{response.reason_phrase}; check the address, or save the page from a "
            "browser and pass the file"
        )
    content_type, charset = _media_type(response.headers.get("content-type", ""))
    if content_type and content_type not in HTML_TYPES | TEXT_TYPES:
        raise FetchContentError(
            f"{where}: the server sent {content_type}, not a web page or plain text; "
            "only HTML and text articles can be summarized (for a PDF, extract its "
            "text first and pass that file)"
        )
    too_big = FetchContentError(
        f"{where}: the page is over the {_size(cap)} size cap; save the article's text "
        "to a file and pass that, or raise SUMMARIZER_FETCH_MAX_BYTES"
    )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise too_big
    from summarizer.deadline import check

    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():  # decoded, so a gzip bomb hits the cap too
        check()  # for transports that do not apply the deadline themselves
        size += len(chunk)
        if size > cap:
            raise too_big
        chunks.append(chunk)
    return Fetched(
        url=url,
        final_url=final_url,
        status=response.status_code,
        content_type=content_type,
        charset=charset,
        body=b"".join(chunks),
    )


def _media_type(header: str) -> tuple[str, str | None]:
    """``text/html; charset=ISO-8859-1`` -> (``text/html``, ``ISO-8859-1``)."""
    media, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip("\"'"):
            charset = value.strip().strip("\"'")
    return media.strip().lower(), charset


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:g} MB" if n >= 1024 * 1024 else f"{n} bytes"
