"""The LLM schema is one object per prompt limits on the request path (not a copy per
request), nothing on that path changes it, and every request built from it is byte
for byte the one a fresh copy gave."""

from __future__ import annotations

import json
from typing import Any, NoReturn

import instructor
import pytest
from instructor.v2.core.providers import Provider
from instructor.v2.core.registry import mode_registry
from openai._utils._json import openapi_dumps
from openai.types.chat import ChatCompletion

from summarizer import FunctionBackend, Summarizer
from summarizer.backends import _speedups
from summarizer.backends.base import CallStats
from summarizer.backends.calls import Calls
from summarizer.backends.completions import chat_completion
from summarizer.backends.extraction import LLMArticleSummary, response_model
from summarizer.backends.openai import OpenAIBackend
from summarizer.backends.openai_batch import request_line
from summarizer.contract.llm_schema import Limits, llm_json_schema, shared_llm_json_schema
from tests.fakeserver import FakeOpenAI, completion, summary_reply

CASES: list[tuple[Limits, tuple[str, ...]]] = [
    ((), ()),
    ((("actors", 5), ("evidence", 2)), ()),
    ((("evidence_first", 1), ("quote_chars", 120), ("text_chars", 60)), ()),
    ((("quotes_from_article", 1),), ('He said "no".', "Zürich, 3 p.m. \u2014 a span")),
]
MODES = [instructor.Mode.TOOLS, instructor.Mode.JSON_SCHEMA, instructor.Mode.JSON,
         instructor.Mode.MD_JSON]  # fmt: skip


@pytest.mark.parametrize(("limits", "choices"), CASES)
def test_the_shared_schema_has_the_same_bytes_as_a_fresh_copy(
    limits: Limits, choices: tuple[str, ...]
) -> None:
    shared, fresh = shared_llm_json_schema(limits, choices), llm_json_schema(limits, choices)
    assert shared == fresh
    assert openapi_dumps(shared) == openapi_dumps(fresh)
    assert json.dumps(shared) == json.dumps(fresh)
    pretty = {"indent": 2, "ensure_ascii": False}
    assert json.dumps(shared, **pretty) == json.dumps(fresh, **pretty)  # type: ignore[arg-type]


@pytest.mark.parametrize(("limits", "choices"), CASES)
def test_the_response_model_hands_out_one_schema_object(
    limits: Limits, choices: tuple[str, ...]
) -> None:
    model = _speedups.instructor_model(response_model(limits, choices))
    assert model.model_json_schema() is model.model_json_schema()
    if not choices:
        assert model.model_json_schema() is shared_llm_json_schema(limits)
    assert LLMArticleSummary.model_json_schema() is shared_llm_json_schema()


def _fresh_model(limits: Limits, choices: tuple[str, ...]) -> type[LLMArticleSummary]:
    """The response model as it was: a fresh copy of the schema on every call."""
    base = response_model(limits, choices)

    class Fresh(base):  # type: ignore[valid-type, misc]
        @classmethod
        def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
            return llm_json_schema(limits, choices)

    Fresh.__name__ = Fresh.__qualname__ = "LLMArticleSummary"
    return Fresh


def _request(model: type[Any], mode: instructor.Mode) -> bytes:
    handlers = mode_registry.get_handlers(Provider.OPENAI, mode)
    kwargs = {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}],
              "model": "m", "strict": False, "temperature": 0}  # fmt: skip
    _, prepared = handlers.request_handler(response_model=model, kwargs=kwargs)
    return openapi_dumps(prepared)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("limits", "choices"), CASES)
def test_every_instructor_mode_builds_the_same_request_from_the_shared_schema(
    mode: instructor.Mode, limits: Limits, choices: tuple[str, ...]
) -> None:
    """Instructor builds each request from the shared schema into the bytes a fresh
    copy gave, and the next one (a re-ask's) too."""
    shared = _speedups.instructor_model(response_model(limits, choices))
    fresh = _speedups.instructor_model(_fresh_model(limits, choices))
    first = _request(shared, mode)
    assert first == _request(fresh, mode)
    assert _request(shared, mode) == first


def test_the_function_backend_gives_the_function_its_own_schema(
    seed_text: str, seed_summary: dict[str, Any]
) -> None:
    """A function may change the schema it is shown: later requests are unchanged."""

    limits: Limits = ()

    def answer(call: Any) -> dict[str, Any]:
        assert json.dumps(call.schema) == json.dumps(llm_json_schema(limits))
        call.schema["$defs"].clear()
        call.schema["properties"]["actors"]["maxItems"] = 1
        return seed_summary

    backend = FunctionBackend(answer)
    with Summarizer(backend=backend) as s:
        limits = s.prompt.spec.limits.as_tuple()
        s.summarize(seed_text)
        s.summarize(seed_text + " ")
    assert len(backend.calls) == 2
    assert json.dumps(shared_llm_json_schema(limits)) == json.dumps(llm_json_schema(limits))


def _refuse(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError("the shared LLM schema was changed")


class _ReadOnlyDict(dict[str, Any]):
    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse


class _ReadOnlyList(list[Any]):
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse


def _read_only(node: Any) -> Any:
    """``node`` as dicts and lists that raise when anything tries to change them."""
    if isinstance(node, dict):
        return _ReadOnlyDict({k: _read_only(v) for k, v in node.items()})
    if isinstance(node, list):
        return _ReadOnlyList(_read_only(v) for v in node)
    return node


def test_the_read_only_copy_does_refuse_changes() -> None:
    schema = _read_only(llm_json_schema())
    assert openapi_dumps(schema) == openapi_dumps(llm_json_schema())
    for change in (
        lambda: schema.pop("$defs"),
        lambda: schema["$defs"]["Evidence"]["properties"]["quote"].update(x=1),
        lambda: schema["required"].append("x"),
    ):
        with pytest.raises(TypeError):
            change()


def _answer(mode: instructor.Mode, text: str) -> ChatCompletion:
    if mode == instructor.Mode.TOOLS:
        return chat_completion(completion(tool_arguments=text))
    return chat_completion(completion(content=text))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("limits", "choices"), CASES)
def test_nothing_on_a_requests_path_changes_the_schema(
    mode: instructor.Mode, limits: Limits, choices: tuple[str, ...], seed_summary: dict[str, Any]
) -> None:
    """A read-only schema through what handles a request's body: Instructor's request
    and re-ask handlers, the SDK's encoder, the OpenAI backend's body, the batch line,
    the call log's row, the function backend (which gives its function a copy)."""
    schema = _read_only(llm_json_schema(limits, choices))

    class ReadOnly(response_model(limits, choices)):  # type: ignore[misc]
        @classmethod
        def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
            return schema  # type: ignore[no-any-return]

    ReadOnly.__name__ = ReadOnly.__qualname__ = "LLMArticleSummary"
    model = _speedups.instructor_model(ReadOnly)
    handlers = mode_registry.get_handlers(Provider.OPENAI, mode)
    kwargs = {"messages": [{"role": "user", "content": "U"}], "model": "m", "strict": False}
    _, body = handlers.request_handler(response_model=model, kwargs=kwargs)
    for _ in range(2):  # the first request and a re-ask
        openapi_dumps(body)
        OpenAIBackend._body(body)
        request_line("id", body)
        Calls("openai/m", None, 2)._row(body, 0.1, 1)
        FunctionBackend(lambda call: seed_summary).create(body, CallStats())
        answer = _answer(mode, '{"not": "valid"}')
        body = handlers.reask_handler(kwargs=body, response=answer, exception=ValueError("no"))
    assert openapi_dumps(schema) == openapi_dumps(llm_json_schema(limits, choices))


@pytest.mark.parametrize("mode", ["json_schema", "tools", "json", "md_json"])
def test_a_run_with_a_reask_leaves_the_shared_schema_as_it_was(
    fake_openai: FakeOpenAI, seed_text: str, seed_summary: dict[str, Any], mode: str
) -> None:
    bad = json.loads(json.dumps(seed_summary))
    bad["actors"][0]["evidence"][0]["quote"] = "an invented sentence here"
    kind = "tools" if mode == "tools" else "json"
    fake_openai.queue(summary_reply(bad, mode=kind), summary_reply(seed_summary, mode=kind))
    with Summarizer(base_url=fake_openai.url, model="fake-model", mode=mode) as s:
        limits = s.prompt.spec.limits.as_tuple()
        schema = response_model(limits).model_json_schema()
        before = openapi_dumps(schema)
        assert s.summarize(seed_text).meta["attempts"]["reasks"] == 1
    assert response_model(limits).model_json_schema() is schema
    assert openapi_dumps(schema) == before == openapi_dumps(llm_json_schema(limits))
    if mode == "json_schema":
        sent = [r["response_format"]["json_schema"]["schema"] for r in fake_openai.requests]
        assert sent == [llm_json_schema(limits)] * 2


def test_threads_that_first_ask_at_once_share_one_schema_whose_id_stays_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two threads that miss the cache for the same limits at once get one object.
    Were each given its own, the one not kept would be freed while ``is_shared`` still
    took its id, and a dict made later at that address (an article's own schema, say)
    would be spliced into a request with the freed schema's bytes."""
    import gc
    import threading
    import time

    from summarizer.contract import llm_schema

    limits: Limits = (("test_threads_unique_switch", 1),)  # a limits no other test uses
    real = llm_schema.llm_json_schema

    def slow(*args: Any, **kwargs: Any) -> dict[str, Any]:
        schema = real(*args, **kwargs)
        time.sleep(0.2)  # both threads inside at once
        return schema

    monkeypatch.setattr(llm_schema, "llm_json_schema", slow)
    got: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=lambda: got.append(shared_llm_json_schema(limits)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    objects = len({id(schema) for schema in got})
    got.clear()
    gc.collect()
    fresh = [{"n": n} for n in range(2000)]  # a freed schema's address is soon taken
    assert not [d for d in fresh if llm_schema.is_shared(d)]
    assert objects == 1
