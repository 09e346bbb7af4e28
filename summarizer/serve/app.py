"""The FastAPI app: :func:`create_app`, the public routes, the request log, errors.

**Protected by default.** The key is a dependency of the app's router itself, so
every route added to the app in any way FastAPI offers (``app.get``,
``add_api_route``, ``include_router``) needs ``Authorization: Bearer KEY``, except
those in :data:`PUBLIC` (health, readiness, metrics and the OpenAPI document), which
the dependency lets through by name. A raw Starlette route, which would skip the
dependency, is refused when the app is built unless it is public. A missing key, a
malformed header and a wrong key get the same 401, so a caller learns nothing about
which keys exist.

**One line per request** on the ``summarizer.serve.access`` logger: request id,
method, route template (never the raw path, which a caller controls), status,
seconds and the key's name. Never the key, the article or the model's answer. The
request id comes from a sane ``X-Request-ID`` header or is made here, and is sent
back in ``X-Request-ID``.

**No traceback in a response.** Library errors become the one error shape
(:mod:`summarizer.serve.errors`); anything else is logged with its traceback on the
server and answered 500 with the request id to report.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute

from summarizer._version import __version__
from summarizer.contract import ArticleSummary
from summarizer.serve.auth import bearer_token
from summarizer.serve.config import ServeConfig
from summarizer.serve.errors import ErrorBody, ServeError, internal, invalid, unauthorized
from summarizer.serve.jobs_routes import add_job_routes
from summarizer.serve.metrics import CONTENT_TYPE
from summarizer.serve.readiness import Readiness
from summarizer.serve.service import Service
from summarizer.serve.summaries import SummaryRequest, create_summary

PUBLIC = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})
_LOG = logging.getLogger("summarizer.serve")
_ACCESS = logging.getLogger("summarizer.serve.access")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_bearer = HTTPBearer(auto_error=False, description="A key made by `summarizer keys add NAME`.")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGI = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
                Awaitable[None]]  # fmt: skip


@dataclass
class RequestInfo:
    """What the request log needs from inside the app."""

    id: str
    key: str = "-"


async def require_key(
    request: Request,
    # Read by the OpenAPI document (the bearer scheme); the key is checked below.
    _: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> None:
    """The dependency of every route; see the module docstring. ``async``: FastAPI
    runs a plain function in a worker thread, a hop per request for a dict lookup."""
    route = getattr(request.scope.get("route"), "path", None)
    if route in PUBLIC:
        return
    service: Service | None = request.app.state.service
    token = bearer_token(request.headers.get("authorization"))
    name = service.config.keys.identify(token) if service is not None else None
    if name is None:
        raise unauthorized()
    info: RequestInfo | None = request.scope.get("summarizer.request")
    if info is not None:
        info.key = name


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "The body is not JSON."),
        (401, "No key, or not a valid one."),
        (403, "A url input, and the server does not fetch it."),
        (408, "The body did not all arrive within --timeout."),
        (409, "The Idempotency-Key was used for another request (POST /v1/jobs)."),
        (413, "The body is over --max-body (a job's: --max-job-body, --max-job-articles)."),
        (422, "Not this schema; or an article that cannot be summarized: empty, binary, a "
              "page with no article text, too long; a bad prompt or model; no valid summary."),
        (429, "The server is full (--max-inflight, --max-queue); see Retry-After."),
        (502, "The model endpoint refused the credentials, or answered with an error."),
        (503, "The model endpoint cannot be reached or keeps rate-limiting (see "
              "Retry-After); or the server is shutting down."),
        (504, "No summary within --timeout; the model call was cancelled."),
    )
}  # fmt: skip


def _add_routes(app: FastAPI) -> None:
    """The routes that do work (a key needed, as for every route not in PUBLIC)."""
    app.add_api_route(
        "/v1/summaries", create_summary, methods=["POST"], summary="Summarize one article",
        response_class=Response,
        responses={200: {"model": ArticleSummary, "description": "The summary (the contract "
                         "JSON, as `summarizer summarize` prints it)."},
                   **{k: v for k, v in _ERRORS.items() if k != 409}},
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/SummaryRequest"}}}}},
    )  # fmt: skip
    add_job_routes(app, _ERRORS)


async def healthz() -> dict[str, str]:
    """The process is alive and answering."""
    return {"status": "ok"}


async def readyz(request: Request) -> JSONResponse:
    """Whether to send this process work (503 while it drains or when a check fails)."""
    service: Service = request.app.state.service
    ready, checks = await service.areadiness()
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


async def metrics(request: Request) -> Response:
    """Prometheus metrics (text format)."""
    service: Service = request.app.state.service
    return Response(service.metrics.text(), media_type=CONTENT_TYPE)


def _error_response(error: ServeError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers())


async def _on_serve_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ServeError)
    return _error_response(error)


async def _on_http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    kinds = {404: "NotFound", 405: "MethodNotAllowed"}
    messages = {404: "no such route; see /openapi.json", 405: "this route takes another method"}
    answer = ServeError(error.status_code, kinds.get(error.status_code, "HTTPError"),
                        messages.get(error.status_code, str(error.detail)), 2)  # fmt: skip
    response = _error_response(answer)
    response.headers.update(error.headers or {})
    return response


async def _on_validation_error(request: Request, error: Exception) -> Response:
    """Which parameter and why (``query after: Input should be greater than or equal
    to 0``), never the value sent: a caller learns what to fix."""
    assert isinstance(error, RequestValidationError)
    said = [f"{' '.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'not valid')}"
            for e in error.errors()[:5]]  # fmt: skip
    return _error_response(invalid("; ".join(said) or "the request does not match the route"))


class RequestLog:
    """The outermost layer: request id, the log line, metrics, and the last resort for
    errors nothing else handled (500 with the request id, no traceback)."""

    def __init__(self, app: ASGI, service: Service | None) -> None:
        self.app = app
        self.service = service

    async def __call__(
        self, scope: Scope, receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:  # fmt: skip
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        asked = dict(scope.get("headers") or ()).get(b"x-request-id", b"").decode("latin-1")
        info = RequestInfo(asked if _REQUEST_ID.fullmatch(asked) else uuid.uuid4().hex[:16])
        scope["summarizer.request"] = info
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()),
                                      (b"x-request-id", info.id.encode())]  # fmt: skip
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            _LOG.exception("request %s: internal error", info.id)
            if status:
                raise  # the answer has started: nothing better to send
            await _error_response(internal(info.id))(scope, receive, send_with_id)
        finally:
            route = getattr(scope.get("route"), "path", None) or "other"
            method = scope["method"] if scope["method"] in _METHODS else "other"
            seconds = time.perf_counter() - started
            if self.service is not None:
                self.service.metrics.observe(route, method, status or 500, seconds)
            _ACCESS.info("request %s %s %s %d %.3fs key=%s", info.id, method, route,
                         status or 500, seconds, info.key)  # fmt: skip


def _check_protected(app: FastAPI) -> None:
    """Refuse a raw Starlette route (it skips the app's dependencies) that is not public."""
    for route in app.routes:
        raw = isinstance(route, Route | Mount | WebSocketRoute) and not isinstance(route, APIRoute)
        if raw and getattr(route, "path", None) not in PUBLIC:
            raise RuntimeError(f"route {getattr(route, 'path', route)} skips the key check")


def build_app(service: Service | None) -> FastAPI:
    """The app around ``service`` (None: for its OpenAPI document only)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if service is not None:
            await service.aclose()

    app = FastAPI(
        title="summarizer", version=__version__, lifespan=lifespan,
        description="News article in, structured and verifiable summary out: every item "
        "backed by a quote located in the article.",
        docs_url=None, redoc_url=None, openapi_url="/openapi.json",
        dependencies=[Security(require_key)],
    )  # fmt: skip
    app.state.service = service
    _add_routes(app)
    app.add_api_route("/healthz", healthz, methods=["GET"], summary="Alive")
    app.add_api_route("/readyz", readyz, methods=["GET"], summary="Ready for work",
                      response_model=Readiness,
                      responses={503: {"model": Readiness, "description": "Not ready, or "
                                       "draining."}})  # fmt: skip
    app.add_api_route("/metrics", metrics, methods=["GET"], summary="Prometheus metrics",
                      response_class=Response)  # fmt: skip
    app.add_exception_handler(ServeError, _on_serve_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_middleware(RequestLog, service=service)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    _check_protected(app)
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, plus the request schema (the route reads its own body, to
    cap it, so FastAPI does not see the model)."""
    if app.openapi_schema is None:
        doc = get_openapi(title=app.title, version=app.version, description=app.description,
                          routes=app.routes)  # fmt: skip
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        request = SummaryRequest.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(request.pop("$defs", {}))
        schemas["SummaryRequest"] = request
        for path in PUBLIC & set(doc["paths"]):  # the dependency lets these through
            for operation in doc["paths"][path].values():
                operation.pop("security", None)
        app.openapi_schema = dict(sorted(doc.items()))
    return app.openapi_schema


def create_app(config: ServeConfig) -> FastAPI:
    """The service as an ASGI app; raises a ConfigurationError for a bad setting."""
    return build_app(Service(config))


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document every server serves (it depends on no setting)."""
    return build_app(None).openapi()
