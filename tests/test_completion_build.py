"""The chat completion built from an answer: :func:`chat_completion` validates first
and constructs only what validation refuses, so it must build exactly the object
``ChatCompletion.construct(**data)`` builds (what every answer got before), field by
field: types, values, extra fields, which fields count as set."""

from __future__ import annotations

import copy
import json
import random
import types
import typing
import warnings
from typing import Any

import pydantic
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionMessage
from openai.types.chat.chat_completion import Choice
from pydantic_core import PydanticUndefined

from summarizer.backends.completions import chat_completion
from tests.fakeserver import completion


def same(a: Any, b: Any, path: str = "") -> None:
    """Assert ``a`` and ``b`` are the same object graph (types, order, set fields)."""
    assert type(a) is type(b), (path, type(a), type(b))
    if isinstance(a, pydantic.BaseModel):
        assert list(a.__dict__) == list(b.__dict__), path
        for k in a.__dict__:
            same(a.__dict__[k], b.__dict__[k], f"{path}.{k}")
        ea, eb = a.__pydantic_extra__ or {}, b.__pydantic_extra__ or {}
        assert list(ea) == list(eb), path
        for k in ea:
            same(ea[k], eb[k], f"{path}.{k}")
        assert a.__pydantic_fields_set__ == b.__pydantic_fields_set__, path
        assert a.__pydantic_private__ == b.__pydantic_private__, path
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), path
        for k in a:
            same(a[k], b[k], f"{path}.{k}")
    else:
        assert repr(a) == repr(b), (path, a, b)


CONSTRUCT_PARAMS = ("_fields_set", "_BaseModel__cls")


def plain(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` without keys named like construct's own parameters at the
    three levels construct builds itself (it would take them for its parameters)."""
    data = copy.deepcopy(data)
    levels = [data]
    for choice in data.get("choices") if isinstance(data.get("choices"), list) else []:
        levels.append(choice)
        if isinstance(choice, dict):
            levels.append(choice.get("message"))
    for level in levels:
        if isinstance(level, dict):
            for name in CONSTRUCT_PARAMS:
                level.pop(name, None)
    return data


def check(data: dict[str, Any]) -> ChatCompletion | None:
    """The fast build equals construct's of the answer less construct's own parameter
    names, or both fail alike; the input is untouched."""
    before = copy.deepcopy(data)
    try:
        expected = ChatCompletion.construct(**plain(data))
    except Exception as e:  # noqa: BLE001
        with pytest.raises(type(e)):
            chat_completion(data)
        return None
    got = chat_completion(data)
    same(got, expected)
    with warnings.catch_warnings():  # a malformed answer's dump warns of its types
        warnings.simplefilter("ignore")
        assert got.model_dump(exclude_unset=True) == expected.model_dump(exclude_unset=True)
        assert got.model_dump_json() == expected.model_dump_json()
    assert data == before
    return got


def rich() -> dict[str, Any]:
    """A completion using every part of the model, with extra fields at each level."""
    data = completion('{"a": 1}', model="m", prompt_tokens=10, completion_tokens=5)
    data["x_top"] = {"nested": [1, 2.5, None]}
    choice = data["choices"][0]
    choice["stop_reason"] = None
    choice["logprobs"] = {
        "content": [
            {"token": "a", "bytes": [97], "logprob": -0.5, "top_logprobs": [], "x": 1},
            {"token": "b", "logprob": 0, "top_logprobs": [{"token": "c", "logprob": -1}]},
        ],
        "refusal": None,
    }
    msg = choice["message"]
    msg["reasoning_content"] = "thinking"
    msg["tool_calls"] = [
        {"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
        {"id": "t2", "type": "custom", "custom": {"name": "g", "input": "x"}},
    ]
    msg["annotations"] = [
        {
            "type": "url_citation",
            "url_citation": {"start_index": 0, "end_index": 1, "title": "t", "url": "u"},
        }
    ]
    data["usage"]["prompt_tokens_details"] = {"cached_tokens": 3, "x": "y"}
    data["usage"]["completion_tokens_details"] = {"reasoning_tokens": 1}
    data["service_tier"] = "default"
    data["system_fingerprint"] = "fp"
    data["moderation"] = {
        "input": {"type": "error", "code": "c", "message": "m"},
        "output": {
            "type": "moderation_results",
            "model": "mod",
            "results": [
                {
                    "type": "moderation_result",
                    "model": "mod",
                    "flagged": False,
                    "categories": {"hate": False},
                    "category_applied_input_types": {"hate": ["text"]},
                    "category_scores": {"hate": 0, "violence": 0.25},
                }
            ],
        },
    }
    return data


def test_a_well_formed_answer_is_validated_and_the_same() -> None:
    data = completion('{"a": 1}', model="m", prompt_tokens=10, completion_tokens=5)
    got = check(data)
    assert got is not None
    assert got.model_fields_set == ChatCompletion.construct(**data).model_fields_set


def test_extra_fields_everywhere_are_kept_and_not_counted_as_set() -> None:
    got = check(rich())
    assert got is not None
    assert got.model_extra == {"x_top": {"nested": [1, 2.5, None]}}
    assert "x_top" not in got.model_fields_set
    assert "reasoning_content" not in got.choices[0].message.model_fields_set


def test_minimal_answers_missing_optional_fields() -> None:
    data = {
        "id": "x",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant"}},
        ],
    }
    assert check(data) is not None
    assert check({**data, "choices": []}) is not None


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.pop("id"),
        lambda d: d.pop("created"),
        lambda d: d.pop("object"),
        lambda d: d["choices"][0].pop("finish_reason"),
        lambda d: d["choices"][0].pop("index"),
        lambda d: d["choices"][0]["message"].pop("role"),
        lambda d: d["usage"].pop("total_tokens"),
        lambda d: d.update(id=None, created=None),
        lambda d: d["choices"][0].update(finish_reason=None, message=None),
    ],
)
def test_answers_missing_required_fields_go_the_lenient_way(change: Any) -> None:
    data = rich()
    change(data)
    check(data)


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(created="123"),
        lambda d: d.update(created=1.0, id=5),
        lambda d: d.update(created=True),
        lambda d: d.update(object="chat.completion.chunk", service_tier="turbo"),
        lambda d: d["choices"][0].update(index="0", finish_reason="eos"),
        lambda d: d["choices"][0]["message"].update(role="bot", content=5),
        lambda d: d["choices"][0]["message"].update(tool_calls=[{"type": "web", "id": "z"}]),
        lambda d: d["usage"].update(prompt_tokens="10", completion_tokens=2.0),
        lambda d: d["usage"].update(prompt_tokens_details={"cached_tokens": "3"}),
        lambda d: d["choices"][0]["logprobs"]["content"][0].update(logprob=2**53 + 1),
        lambda d: d["choices"][0]["logprobs"]["content"][0].update(logprob="-1"),
        lambda d: d["moderation"].update(input={"type": "nope"}),
        lambda d: d.update(choices=[{"message": "hi"}, 3, None]),
        lambda d: d.update(usage=[1, 2]),
    ],
)
def test_answers_with_wrong_types_are_built_as_construct_builds_them(change: Any) -> None:
    data = rich()
    change(data)
    check(data)


@pytest.mark.parametrize("name", ["_fields_set", "_BaseModel__cls"])
@pytest.mark.parametrize("level", ["top", "choice", "message"])
def test_keys_named_like_constructs_own_parameters(name: str, level: str) -> None:
    """A hostile answer's ``"_fields_set": ["id"]`` was taken by construct for its
    own parameter and crashed the run (AttributeError, exit 1): such keys are dropped."""
    data = rich()
    where = {
        "top": data,
        "choice": data["choices"][0],
        "message": data["choices"][0]["message"],
    }[level]
    where[name] = ["id"] if name == "_fields_set" else 1
    with pytest.raises(Exception):  # noqa: B017, PT011 - what construct did
        ChatCompletion.construct(**copy.deepcopy(data))
    assert check(data) is not None


VALUES: list[Any] = [None, 0, 1, -1, 2**60, 1.5, 0.0, True, "", "x", "stop", [], {}, [1], {"a": 1}]


def mutate(data: Any, rng: random.Random) -> None:
    """One random change somewhere in ``data``: a value replaced, a key dropped or added."""
    node = data
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            return
        k = rng.choice(keys)
        child = node[k]
        if isinstance(child, dict | list) and child and rng.random() < 0.7:
            node = child
            continue
        action = rng.random()
        if action < 0.5:
            node[k] = copy.deepcopy(rng.choice(VALUES))
        elif action < 0.75 and isinstance(node, dict):
            del node[k]
        elif isinstance(node, dict):
            node[rng.choice(["extra", "_x", "_fields_set", "content", "type"])] = rng.choice(VALUES)
        return


def test_fuzzed_answers_build_the_same_object() -> None:
    rng = random.Random(11)
    validated = 0
    for _ in range(1500):
        data = rich()
        for _ in range(rng.randint(0, 3)):
            mutate(data, rng)
        data = json.loads(json.dumps(data))  # only what JSON can carry
        got = check(data)
        try:
            ChatCompletion.model_validate(data, strict=True)
            validated += got is not None
        except pydantic.ValidationError:
            pass
    assert validated > 300  # the fast way was taken often enough to prove something


def _models(cls: type[pydantic.BaseModel]) -> set[type[pydantic.BaseModel]]:
    """``cls`` and every model its fields may hold."""
    seen: set[type[pydantic.BaseModel]] = set()

    def walk(t: Any) -> None:
        for arg in typing.get_args(t):
            walk(arg)
        if isinstance(t, type) and issubclass(t, pydantic.BaseModel) and t not in seen:
            seen.add(t)
            for field in t.model_fields.values():
                walk(field.annotation)

    walk(cls)
    return seen


def test_the_sdk_model_is_still_what_the_proof_assumes() -> None:
    """chat_completion's argument, checked on the installed SDK: an upgrade that
    breaks it fails here, not in a summary."""
    for model in _models(ChatCompletion):
        assert model.model_config.get("extra") == "allow", model
        assert not model.__private_attributes__, model
        decorators = model.__pydantic_decorators__
        for kind in ("validators", "field_validators", "model_validators", "root_validators"):
            assert not getattr(decorators, kind), (model, kind)
        for name, field in model.model_fields.items():
            assert field.alias is None, (model, name)
            assert field.default in (None, PydanticUndefined), (model, name)
            assert field.default_factory is None, (model, name)
    # construct builds these three levels itself (every Optional field it validates):
    # their other fields must be kept as sent by both, so no float, date or dict.
    plain = (str, int)
    for model in (ChatCompletion, Choice, ChatCompletionMessage):
        for name, field in model.model_fields.items():
            t = field.annotation
            args = typing.get_args(t)
            if typing.get_origin(t) in (typing.Union, types.UnionType) and type(None) in args:
                continue
            ok = (
                t in plain
                or typing.get_origin(t) is typing.Literal
                or t in (Choice, ChatCompletionMessage)
                or (typing.get_origin(t) is list and args == (Choice,))
            )
            assert ok, (model, name, t)
