"""``summarizer serve`` (#14) against its own OpenAPI document, by schemathesis.

Every operation the document lists gets a test (the list is read from the document,
so a route added later is covered without touching this file), run in process on
the ASGI app with generated requests, valid and invalid: no undocumented server
error, and every answer's status code, content type, headers and body are the
documented ones. With a key (alice's), and without one (the 401 shape). The offline
default (``rules``) writes the summaries, so no model and no network are involved.
Examples are bounded and derandomized: a run is the same in CI as here.

Not ``schemathesis.pytest.from_fixture``: its lazy parametrization renames pytest's
nodes through a private attribute that pytest 9 no longer has.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import CheckContext
from schemathesis.core.failures import ServerError
from schemathesis.core.transport import Response
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from summarizer.serve.app import create_app, openapi_document
from summarizer.serve.auth import KeyRing, add_key
from summarizer.serve.config import ServeConfig
from tests.conftest import DATASET

#: 503 and 504 are documented answers (the model endpoint, --timeout, draining); any
#: other 5xx is a bug.
DOCUMENTED_5XX = frozenset({503, 504})
EXAMPLES = 30  # per operation and mode; with ``rules``, about 10 ms each

_DOCUMENT = openapi_document()["paths"]
OPERATIONS = sorted(
    (path, method.upper())
    for path, item in _DOCUMENT.items()
    for method in item
    if method in {"get", "put", "post", "delete", "patch"}
)
#: Each operation with the modes it can be sent in: an operation that takes nothing
#: (no parameter, no body) has no invalid request to make.
RUNS = [
    (path, method, mode)
    for path, method in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE
    or {"parameters", "requestBody"} & set(_DOCUMENT[path][method.lower()])
]


def no_undocumented_server_error(ctx: CheckContext, response: Response, case: Case) -> bool:
    """A 5xx other than the documented ones fails the run."""
    if response.status_code >= 500 and response.status_code not in DOCUMENTED_5XX:
        raise ServerError(
            operation=case.operation.label,
            status_code=response.status_code,
            message=response.text[:300],
        )
    return True


CHECKS = [
    no_undocumented_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """The document an app serves (built as tests/test_serve.py builds it), loaded by
    schemathesis, and alice's key. The app's lifespan, which schemathesis starts, is
    ended with the test: that closes the app's cache and jobs."""
    path = tmp_path / "keys.toml"
    key = add_key(path, "alice")
    app = create_app(ServeConfig(keys=KeyRing.load(path)))
    try:
        yield schemathesis.openapi.from_asgi("/openapi.json", app), key
    finally:
        shutdown_lifespans()


def _run(cases: st.SearchStrategy[Case], check: Any, examples: int = EXAMPLES) -> None:
    """``check`` on ``examples`` generated cases, the same ones each run."""

    @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=cases)
    def run(case: Case) -> None:
        check(case)

    run()


@pytest.mark.parametrize(("path", "method", "mode"), RUNS)
def test_every_operation_answers_as_documented(
    served: tuple[Any, str], path: str, method: str, mode: GenerationMode
) -> None:
    schema, key = served
    statuses: set[int] = set()

    def check(case: Case) -> None:
        checks = [*CHECKS, ignored_auth]
        if mode is GenerationMode.NEGATIVE:
            checks.append(negative_data_rejection)
        # On the case, not the call: ignored_auth's probes then leave it out.
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {key}"}
        response = case.call_and_validate(checks=checks)
        statuses.add(response.status_code)

    _run(schema[path][method].as_strategy(generation_mode=mode), check)
    assert statuses, "no request was made"
    if mode is GenerationMode.POSITIVE:  # (an invalid request may mangle the header)
        assert 401 not in statuses, "the key was refused"
    assert not {s for s in statuses if s >= 500} - DOCUMENTED_5XX


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_without_a_key_only_public_routes_answer(
    served: tuple[Any, str], path: str, method: str
) -> None:
    schema, _ = served
    operation = schema[path][method]
    public = not operation.definition.raw.get("security")
    bodies: list[Any] = []

    def check(case: Case) -> None:
        case.headers = {k: v for k, v in (case.headers or {}).items()
                        if k.lower() != "authorization"}  # fmt: skip
        response = case.call_and_validate(checks=CHECKS)
        if not public:
            assert response.status_code == 401, response.text
            bodies.append(response.json())

    _run(operation.as_strategy(), check)
    if not public:
        assert bodies
        error = bodies[0]["error"]
        assert (error["type"], error["exit_code"]) == ("Unauthorized", None)
        assert all(body == bodies[0] for body in bodies)  # one 401, whatever was sent


def test_summaries_of_real_articles_are_the_documented_200(served: tuple[Any, str]) -> None:
    """Generated bodies are almost never an article (empty, two of text/html/url, a
    prompt ``rules`` does not take): here real ones, so the 200 body is checked too."""
    schema, key = served
    operation = schema["/v1/summaries"]["POST"]
    articles = [p.read_text(encoding="utf-8") for p in sorted(DATASET.glob("articles/*.txt"))[:4]]
    bodies = st.fixed_dictionaries(
        {"text": st.sampled_from(articles)},
        optional={"title": st.text(max_size=40), "strict": st.booleans(),
                  "model": st.sampled_from(["rules", "baseline/lead", "baseline/textrank"])},
    )  # fmt: skip
    answers: list[dict[str, Any]] = []

    def check(case: Case) -> None:
        response = case.call_and_validate(headers={"authorization": f"Bearer {key}"},
                                          checks=CHECKS)  # fmt: skip
        assert response.status_code == 200, response.text
        answers.append(response.json())

    cases = bodies.map(lambda body: operation.Case(body=body, media_type="application/json"))
    _run(cases, check, examples=10)
    assert len(answers) == 10
    assert {a["meta"]["model"] for a in answers} >= {"rules"}
