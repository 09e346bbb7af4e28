"""The jobs routes: many articles summarized in the background, results read as they come.

* ``POST /v1/jobs``: the articles (:mod:`~summarizer.serve.jobs_requests`); answered
  ``202`` with the job's document and ``Location: /v1/jobs/{id}``. With an
  ``Idempotency-Key`` header, the same key name, key and request (body and options)
  give the same job, however often they are sent; the same key with another request
  is a ``409``. A key is remembered as long as its job is kept (``--job-ttl``).
* ``GET /v1/jobs/{id}``: status, article counts and the cost ledger.
* ``GET /v1/jobs/{id}/results?after=N``: the results so far, as NDJSON, from line
  N+1 on (``after=0``: all). Each line is the line ``summarizer batch`` writes for
  the article. ``X-Next-After`` is the ``after`` to ask for next; when
  ``X-Job-Status`` is final (finished, cancelled, failed), nothing more will come.
* ``POST /v1/jobs/{id}/cancel``: see :meth:`~summarizer.serve.jobs_runner.JobRunner.cancel`.

A key keeps at most ``--max-jobs-per-key`` jobs, whatever their status, until they
expire; one more is a ``429 TooManyJobs`` whose ``Retry-After`` is when the key's
next job expires. A replay of an ``Idempotency-Key`` is not a new job and is
answered at the cap too.

A job is its key's: for any other key (or none, the 401 of every route) it does not
exist, and an expired job is a 404 like one that never was, so the answer says
nothing about jobs that are not the caller's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Annotated, Any, Literal

from fastapi import FastAPI, Query
from pydantic import BaseModel, Field
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from summarizer.errors import SummarizerError
from summarizer.serve.errors import ErrorBody, ErrorDetail, ServeError, draining, from_library
from summarizer.serve.jobs_requests import (
    IDEMPOTENCY_KEY,
    JobArticle,
    JobOptions,
    body_too_large,
    fingerprint,
    idempotency_key,
    parse_articles,
    parse_options,
    request_lines,
)
from summarizer.serve.jobs_runner import JobRunner
from summarizer.serve.jobs_store import JobRecord
from summarizer.serve.limits import read_body
from summarizer.serve.service import Service
from summarizer.serve.summaries import url_refused

NDJSON = "application/x-ndjson"
_LOG = logging.getLogger("summarizer.serve")
_CHUNK = 64 * 1024


Shown = Literal["queued", "running", "cancelling", "finished", "cancelled", "failed"]


class JobCounts(BaseModel):
    total: int = Field(description="Articles in the job.")
    done: int = Field(description="Articles with a result line (ok + failed).")
    ok: int = Field(description="Lines with a summary.")
    failed: int = Field(description="Error lines (the article's error, as in summarizer batch).")
    not_started: int = Field(description="Articles with no line yet (while running: those "
                             "under way too; once cancelled: those never summarized).")  # fmt: skip


class JobDocument(BaseModel):
    """A job, as every jobs route answers it."""

    id: str
    status: Shown
    created: str
    started: str | None = Field(description="When it last started (a restart resumes it).")
    ended: str | None
    expires: str | None = Field(description="When it is deleted (--job-ttl after it ended).")
    options: JobOptions
    articles: JobCounts
    ledger: dict[str, Any] | None = Field(
        description="The batch ledger (out.jsonl.ledger.json): totals (runs, tokens, cost) "
        "and each run's articles, tokens, cost, attempts, wall time and status."
    )
    error: ErrorDetail | None = Field(description="Why the job failed as a whole.")
    results: str = Field(description="Where its results are.")


def _iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def _status(record: JobRecord) -> Shown:
    return "cancelling" if record.status == "running" and record.cancel_requested else record.status


def _document(runner: JobRunner, record: JobRecord) -> dict[str, Any]:
    """Reads the results and the ledger: call it in a thread."""
    index = runner.store.results(record.id)
    ttl = runner.config.job_ttl
    return JobDocument(
        id=record.id, status=_status(record),
        created=_iso(record.created) or "",
        started=_iso(record.started), ended=_iso(record.ended),
        expires=_iso(None if record.ended is None else record.ended + ttl),
        # Checked when the job was made (and its types when it was loaded): shown as kept.
        options=JobOptions.model_construct(**record.options),
        articles=JobCounts(total=record.total, done=index.lines, ok=index.ok,
                           failed=index.failed, not_started=record.total - index.lines),
        ledger=runner.store.ledger(record.id),
        error=None if record.error is None else ErrorDetail.model_validate(record.error),
        results=f"/v1/jobs/{record.id}/results",
    ).model_dump(mode="json")  # fmt: skip


def not_found() -> ServeError:
    return ServeError(404, "NotFound", "no such job (it may have expired: see --job-ttl)", 2)


def conflict() -> ServeError:
    return ServeError(
        409, "IdempotencyConflict",
        "this Idempotency-Key was used for another request (another body or options); "
        "use a new key for a new job",
        None,
    )  # fmt: skip


def too_many_jobs(kept: int, cap: int, retry_after: float) -> ServeError:
    return ServeError(
        429, "TooManyJobs",
        f"this key has {kept} jobs kept, the most it may have (--max-jobs-per-key {cap}); a "
        "job is kept until --job-ttl after it ends: retry after the Retry-After seconds",
        None, retry_after=retry_after,
    )  # fmt: skip


def _check_quota(runner: JobRunner, owner: str) -> None:
    """429 when ``owner`` has as many jobs kept as it may; see the module docstring."""
    now, ttl, cap = time.time(), runner.config.job_ttl, runner.config.max_jobs_per_key
    kept = [r for r in runner.store.all() if r.owner == owner and not r.expired(now, ttl)]
    if len(kept) < cap:
        return
    ends = [r.ended + ttl - now for r in kept if r.ended is not None]
    raise too_many_jobs(len(kept), cap, min(ends) if ends else ttl)


def _runner(service: Service) -> JobRunner:
    if service.jobs is None:
        raise ServeError(503, "JobsUnavailable", f"jobs are off on this server: "
                         f"{service.jobs_off}", None)  # fmt: skip
    service.jobs.start()  # a server not started by `summarizer serve` (tests, embedding)
    return service.jobs


def _owner(request: Request, service: Service) -> str:
    """The name of the request's key (the app's dependency has checked it)."""
    name = getattr(request.scope.get("summarizer.request"), "key", "-")
    if name == "-":
        from summarizer.serve.auth import bearer_token

        name = service.config.keys.identify(bearer_token(request.headers.get("authorization")))
    assert name is not None  # the dependency answered 401 otherwise
    return str(name)


def _find(request: Request, job_id: str) -> tuple[JobRunner, JobRecord]:
    service: Service = request.app.state.service
    runner = _runner(service)
    record = runner.store.get(job_id)
    if (
        record is None
        or record.owner != _owner(request, service)
        or record.expired(time.time(), runner.config.job_ttl)
    ):
        raise not_found()
    return runner, record


async def _answer(runner: JobRunner, record: JobRecord, status: int = 200,
                  headers: dict[str, str] | None = None) -> JSONResponse:  # fmt: skip
    document = await asyncio.to_thread(_document, runner, record)
    return JSONResponse(document, status_code=status, headers=headers)


async def create_job(request: Request) -> Response:
    """Summarize many articles in the background (a JSON list, or JSONL)."""
    service: Service = request.app.state.service
    runner = _runner(service)
    if service.draining:
        raise draining()
    config = service.config
    options = parse_options(request.query_params.multi_items())
    key = idempotency_key(request.headers.get("idempotency-key"))
    content_type = request.headers.get("content-type", "")
    if key is None:  # refused before its body is read (a replay is answered at the cap)
        _check_quota(runner, _owner(request, service))
    try:
        raw = await read_body(request, config.max_job_body, config.timeout)
    except ClientDisconnect:
        return Response(status_code=499)
    except ServeError as e:
        raise body_too_large(config.max_job_body) if e.status == 413 else e from None
    articles = await asyncio.to_thread(
        parse_articles, raw, content_type, config.max_job_articles, config.max_body
    )
    if not config.allow_url and any(article.url is not None for article in articles):
        raise url_refused()
    try:  # a model or prompt this server cannot have fails now, not in the job
        settings = service.pool.settings_for(options.model, options.prompt, options.strict)
        async with service.pool.lease(settings):
            pass
    except SummarizerError as e:
        raise from_library(e) from None
    owner, same = _owner(request, service), fingerprint(raw, content_type, options)
    async with runner.creating:
        found = None if key is None else runner.store.find_idempotent(owner, key)
        if found is not None and not found.expired(time.time(), config.job_ttl):
            if found.fingerprint != same:
                raise conflict()
            headers = {"location": f"/v1/jobs/{found.id}", "idempotent-replayed": "true"}
            return await _answer(runner, found, 202, headers)
        if found is not None:  # expired, not yet swept: the key is free again
            await asyncio.to_thread(runner.store.delete, found.id)
        _check_quota(runner, owner)
        try:
            record = await asyncio.to_thread(
                runner.store.create, owner, request_lines(articles), len(articles),
                options.model_dump(), key, same,
            )  # fmt: skip
        except OSError as e:  # a full disk, say: the server's trouble, not a bug
            _LOG.error("summarizer: cannot store a new job: %s", e)
            raise ServeError(503, "JobsUnavailable", "the server cannot store a job now "
                             f"({e.strerror or type(e).__name__}); retry later", None,
                             retry_after=60) from None  # fmt: skip
    runner.submit(record)
    return await _answer(runner, record, 202, {"location": f"/v1/jobs/{record.id}"})


async def get_job(request: Request, job_id: str) -> Response:
    """A job's status, counts and cost ledger."""
    runner, record = _find(request, job_id)
    return await _answer(runner, record)


async def cancel_job(request: Request, job_id: str) -> Response:
    """Cancel a job: nothing more starts, articles under way are cancelled, the lines
    written stay readable. A job that has ended is left as it is."""
    runner, record = _find(request, job_id)
    await runner.cancel(record)
    return await _answer(runner, record)


def _lines(f: IO[bytes], size: int) -> Iterator[bytes]:
    try:
        while size > 0 and (chunk := f.read(min(_CHUNK, size))):
            size -= len(chunk)
            yield chunk
    finally:
        f.close()


def _open_at(path: Path, start: int) -> IO[bytes]:
    f = path.open("rb")
    f.seek(start)
    return f


async def job_results(
    request: Request,
    job_id: str,
    after: Annotated[int, Query(ge=0, description="Lines already read: the answer "
                                "starts with line after+1.")] = 0,
    limit: Annotated[int | None, Query(ge=1, description="At most this many lines.")] = None,
) -> Response:  # fmt: skip
    """The job's result lines so far (NDJSON), from line ``after``+1 on."""
    runner, record = _find(request, job_id)
    status = _status(record)  # read first: once final, every line is already written
    index = await asyncio.to_thread(runner.store.results, record.id)
    start, end, count = index.span(after, limit)
    headers = {"x-next-after": str(after + count), "x-job-status": status}
    if count == 0:
        return Response(b"", media_type=NDJSON, headers=headers)
    f = await asyncio.to_thread(_open_at, runner.store.out(record.id), start)
    return StreamingResponse(_lines(f, end - start), media_type=NDJSON, headers=headers)


def add_job_routes(app: FastAPI, errors: dict[int | str, dict[str, Any]]) -> None:
    """The jobs routes, documented with the app's error table (``errors``)."""
    job = {"model": JobDocument, "description": "The job."}

    def error(text: str) -> dict[str, Any]:
        return {"model": ErrorBody, "description": text}

    common: dict[int | str, dict[str, Any]] = {
        401: errors[401], 404: error("No such job, not this key's, or expired."),
        422: error("A parameter is not valid."),
        503: error("Jobs are off on this server (no usable folder); or, for a new job, it "
                   "is shutting down."),
    }  # fmt: skip
    refused: dict[int | str, dict[str, Any]] = {
        status: errors[status] for status in (400, 403, 408, 409, 413, 422)
    }
    refused[429] = error("The key has --max-jobs-per-key jobs kept; see Retry-After.")
    refused[503] = error("Jobs are off on this server (no usable folder), it cannot store a "
                         "job now, or it is shutting down.")  # fmt: skip
    options = JobOptions.model_json_schema()["properties"]
    parameters = [{"name": name, "in": "query", "required": False, "schema": schema,
                   "description": schema.pop("description", "")}
                  for name, schema in options.items()]  # fmt: skip
    parameters.append({"name": "Idempotency-Key", "in": "header", "required": False,
                       "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY},
                       "description": "The same request again gives the same job."})  # fmt: skip
    article = JobArticle.model_json_schema()
    app.add_api_route(
        "/v1/jobs", create_job, methods=["POST"], summary="Start a job of many articles",
        response_class=Response, status_code=202,
        responses={202: {**job, "description": "Accepted; see Location.",
                         "headers": {"Location": {"schema": {"type": "string"}}}},
                   401: errors[401], **refused},
        openapi_extra={"parameters": parameters, "requestBody": {"required": True, "content": {
            "application/json": {"schema": {"type": "array", "items": article}},
            NDJSON: {"schema": {"type": "string", "description": "One article (the JSON "
                                "list's item) a line."}}}}},
    )  # fmt: skip
    app.add_api_route("/v1/jobs/{job_id}", get_job, methods=["GET"], summary="A job's status",
                      response_class=Response,
                      responses={200: job, **common})  # fmt: skip
    app.add_api_route(
        "/v1/jobs/{job_id}/results", job_results, methods=["GET"], summary="A job's results",
        response_class=Response,
        responses={200: {"description": "NDJSON: the lines summarizer batch writes.",
                         "content": {NDJSON: {"schema": {"type": "string"}}},
                         "headers": {"X-Next-After": {"schema": {"type": "integer"}},
                                     "X-Job-Status": {"schema": {"type": "string"}}}},
                   **common},
    )  # fmt: skip
    app.add_api_route("/v1/jobs/{job_id}/cancel", cancel_job, methods=["POST"],
                      summary="Cancel a job", response_class=Response,
                      responses={200: job, **common})  # fmt: skip
