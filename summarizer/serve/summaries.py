"""``POST /v1/summaries``: one article in (text, a page or a URL), its summary out.

The answer is the contract JSON, the document ``summarizer summarize`` prints, with
the same ``meta``: the work is the library's (:meth:`Summarizer.asummarize`, the
readers of :mod:`summarizer.inputs`), and what is here is only what a request adds:

* the body is read up to ``--max-body`` and parsed by :class:`SummaryRequest`
  (strict types, unknown fields refused: a typo must not silently do nothing);
* the summary waits for a slot (:class:`~summarizer.serve.limits.Limiter`);
* it has ``--timeout`` seconds in all, and a client that goes away takes its summary
  with it: in both cases the model call is cancelled, which closes its connection,
  so the endpoint stops generating for nobody;
* methods that compute in this process (the no-model ``rules``, the baselines, the
  embedded model) run in a worker thread, so one long article does not stop the
  server from answering everyone else (``rules`` takes about 5 s a megabyte);
* with ``--workers N`` the article, once read, is summarized in a worker process
  (:mod:`summarizer.serve.worker_pool`) and its JSON comes back ready to send.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from summarizer.contract import ArticleSummary
from summarizer.errors import InputDecodeError, SummarizerError, UrlRefusedError
from summarizer.inputs import Article, decode
from summarizer.inputs.fetch import transport_for_fetches
from summarizer.inputs.read import read_html, read_url
from summarizer.serve.errors import (
    ServeError,
    draining,
    from_library,
    invalid,
    malformed,
    timed_out,
)
from summarizer.serve.limits import in_thread_bounded, json_values, read_body
from summarizer.serve.pool import Entry
from summarizer.serve.service import Service
from summarizer.serve.ssrf import UrlPolicy
from summarizer.serve.worker_pool import Answer, WorkerError
from summarizer.settings import Settings

T = TypeVar("T")
TEXT, HTML = "<text>", "<html>"
# NAME@VERSION or NAME: a registered prompt; a file path would read the server's disk.
PROMPT_REF = r"^[A-Za-z0-9][A-Za-z0-9_.-]*(@[A-Za-z0-9_.-]+)?$"


class SummaryRequest(BaseModel):
    """One article, as exactly one of ``text``, ``html`` or ``url``, and how to summarize it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: str | None = Field(None, description="The article as plain text; offsets refer to it.")
    html: str | None = Field(
        None,
        description="A web page: its article text and title are extracted, and offsets "
        "refer to that text.",
    )
    url: str | None = Field(
        None,
        max_length=2048,
        pattern=r"^[hH][tT][tT][pP][sS]?://",
        description="An http(s) page to fetch; only on a server started with --allow-url, "
        "and only from public addresses.",
    )
    title: str | None = Field(None, max_length=1000, description="The title, if known.")
    prompt: str | None = Field(
        None, max_length=128, pattern=PROMPT_REF, description="NAME@VERSION of a prompt."
    )
    model: str | None = Field(
        None,
        min_length=1,
        max_length=256,
        description="A model on the server's endpoint, or rules / baseline/NAME; default: "
        "the server's.",
    )
    language: str | None = Field(
        None, min_length=1, max_length=64, description="Output language (default: the article's)."
    )
    strict: bool | None = Field(
        None, description="Fail (422, UngroundedError) instead of dropping unsupported items."
    )

    @model_validator(mode="after")
    def _one_article(self) -> SummaryRequest:
        given = [name for name in ("text", "html", "url") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of text, html or url" + (f", not {given}" if given else "")
            )
        return self


#: JSON values (strings, separators, closing brackets) a valid request has at most: one
#: flat object of eight fields, with room to spare; see
#: :func:`~summarizer.serve.limits.json_values`.
MOST_VALUES = 64


def parse_request(raw: bytes) -> SummaryRequest:
    """The request, or 400 (not JSON) / 422 (not this schema); messages never echo the
    body's values. A body with more JSON values than a request has is refused before
    it is parsed (its parse would take the event loop's time for nothing)."""
    if json_values(raw, MOST_VALUES) > MOST_VALUES:
        raise invalid("the body has more JSON values than a summary request (one flat "
                      "object) can have")  # fmt: skip
    try:
        return SummaryRequest.model_validate_json(raw)
    except ValidationError as e:
        errors = e.errors(include_url=False, include_input=False)
        if any(err["type"] == "json_invalid" for err in errors):
            raise malformed(f"the request body is not JSON: {errors[0]['msg']}") from None
        described = [
            f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in errors[:5]
        ]
        raise invalid("; ".join(described)) from None


def _utf8(value: str, source: str) -> bytes:
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as e:  # a lone surrogate, which JSON's \ud800 can carry
        raise InputDecodeError(f"{source}: not Unicode text (a lone surrogate)") from e


def read_input(body: SummaryRequest, policy: UrlPolicy) -> Article:
    """The article, read by the CLI's readers; URLs fetched under ``policy``."""
    if body.text is not None:
        return Article(decode(_utf8(body.text, TEXT), TEXT), TEXT)
    if body.html is not None:
        return read_html(_utf8(body.html, HTML), HTML)
    assert body.url is not None
    try:
        with transport_for_fetches(policy.transport):
            return read_url(body.url)
    except UrlRefusedError as e:
        raise UrlRefusedError(f"{body.url}: {e}") from e


def _summarize_here(entry: Entry, body: SummaryRequest, policy: UrlPolicy) -> ArticleSummary:
    """The whole job in a worker thread: read, then summarize in this process."""
    return entry.run(read_input(body, policy), body.title, body.language)


async def _read(body: SummaryRequest, policy: UrlPolicy) -> Article:
    """A text body is only decoded, here; a page is parsed and a URL fetched in a
    thread, so that neither stalls the other requests."""
    if body.text is not None:
        return read_input(body, policy)
    return await asyncio.to_thread(read_input, body, policy)


async def _summarize(service: Service, settings: Settings, body: SummaryRequest) -> Answer:
    policy = service.config.url_policy
    async with service.limiter.admit() as slot:
        if service.workers is not None:
            article = await _read(body, policy)
            return await service.workers.summarize(
                slot, settings, article, body.title, body.language
            )
        async with service.pool.lease(settings) as entry:
            if entry.in_thread:
                summary = await in_thread_bounded(
                    slot, asyncio.to_thread(_summarize_here, entry, body, policy)
                )
            else:
                summary = await entry.arun(await _read(body, policy), body.title, body.language)
    return Answer(summary.model_dump_json().encode(), summary.meta)


class _ClientGone(Exception):
    """The client disconnected before its answer."""


async def _disconnected(request: Request) -> None:
    """Returns when the client goes away (the body has been read by then)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _answer(request: Request, timeout: float, work: Coroutine[Any, Any, T]) -> T:
    """``work``'s result, unless ``timeout`` passes or the client leaves first; then
    it is cancelled and waited for (its model call closed) before this returns."""
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        done, _ = await asyncio.wait({task, gone}, timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
    except asyncio.CancelledError:
        task.cancel()
        gone.cancel()
        raise
    gone.cancel()
    if task in done:
        return task.result()
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled():
        task.exception()  # it failed as it was cancelled: nobody waits for that answer
    if gone in done:
        raise _ClientGone
    raise timed_out(timeout)


def url_refused() -> ServeError:
    return ServeError(
        403, UrlRefusedError.__name__,
        "url inputs are off on this server (it runs without --allow-url); send the page "
        "as html, or its text",
        UrlRefusedError.exit_code,
    )  # fmt: skip


async def create_summary(request: Request) -> Response:
    """Summarize one article; the body is a :class:`SummaryRequest`."""
    service: Service = request.app.state.service
    if service.draining:
        raise draining()
    try:
        body = parse_request(
            await read_body(request, service.config.max_body, service.config.timeout)
        )
    except ClientDisconnect:
        return Response(status_code=499)
    if body.url is not None and not service.config.allow_url:
        raise url_refused()
    try:
        settings = service.pool.settings_for(body.model, body.prompt, body.strict)
        answer = await _answer(request, service.config.timeout, _summarize(service, settings, body))
    except _ClientGone:
        return Response(status_code=499)  # nginx's "client closed request": for the log
    except SummarizerError as e:
        service.metrics.summary(e.meta)
        raise from_library(e) from None
    except WorkerError as e:
        service.metrics.summary(e.meta)
        raise
    service.metrics.summary(answer.meta)
    return Response(answer.json, media_type="application/json")
