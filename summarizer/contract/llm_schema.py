"""The JSON schema the model is asked to fill, derived from the contract.

It is the contract's shape without the fields the program fills in (evidence offsets,
``meta``), with list and string sizes bounded so that a grammar-constrained local
model cannot loop forever, tightened further by a prompt file's ``[limits]``.

:func:`over_bounds` holds answers to :data:`ANSWER_SLACK` times the same upper bounds
(the response model in :mod:`summarizer.backends.extraction` calls it, so an answer
over them is re-asked, never stored): the bounds are what a model is asked for, and
good answers do exceed them (the golden summaries in evals/ have up to 2.7 times as
many actors, and roles up to 1.2 times as long), while a 10 MB headline or ten
thousand actors is no summary at all. The public contract itself stays as loose as
it was, so golden files and stored summaries load as before.

:func:`shared_llm_json_schema` is the same schema as one object per ``limits``, which
the response model hands Instructor on every request: a fresh copy each time
(``json.loads`` of the cached text) was 2.6% of a request's CPU in JSON_SCHEMA mode,
profiled. Nothing on a request's path changes it: Instructor's four modes put it in
the request or dump it into a message (TOOLS mode has always shared its own cached
copy between requests), the re-ask handlers change only the messages, the SDK's
encoder and the backends read it, the call log leaves it out, and the function
backend shows its function a copy. tests/test_llm_schema_shared.py sends a read-only
copy through all of them. Anything that would change it takes :func:`llm_json_schema`.
"""

from __future__ import annotations

import json
import threading
from functools import cache
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from summarizer.contract.models import ArticleSummary

_PROGRAM_FILLED = {"Evidence": ("start", "end", "alignment"), "ArticleSummary": ("meta",)}
# Bounds keep a grammar-constrained small model from repeating items forever; they are
# generous for a news article and live only in what the model sees, not the contract.
_LIST_BOUNDS: dict[tuple[str, str], tuple[int, int]] = {
    ("KeySummary", "key_points"): (3, 7),
    ("ArticleSummary", "actors"): (1, 20),
    ("ArticleSummary", "commitments"): (0, 15),
    ("ArticleSummary", "open_questions"): (0, 8),
    ("KeyPoint", "evidence"): (1, 3),
    ("Actor", "evidence"): (1, 3),
    ("Commitment", "evidence"): (1, 3),
    ("OpenQuestion", "evidence"): (1, 3),
    ("Actor", "aliases"): (0, 6),
    ("OpenQuestion", "actors"): (0, 6),
}


# String bounds (characters) for the same reason: a small model under a grammar can
# otherwise write one string until max_tokens runs out, and the JSON never closes.
_STRING_BOUNDS: dict[tuple[str, str], int] = {
    ("Evidence", "quote"): 300,
    ("KeyPoint", "text"): 250,
    ("KeySummary", "headline"): 120,
    ("KeySummary", "summary"): 700,
    ("Actor", "name"): 80,
    ("Actor", "role"): 80,
    ("Actor", "affiliation"): 80,
    ("Actor", "aliases"): 60,
    ("Commitment", "actor"): 80,
    ("Commitment", "action"): 200,
    ("Commitment", "counterparty"): 80,
    ("Commitment", "deadline"): 60,
    ("OpenQuestion", "question"): 200,
    ("OpenQuestion", "why_open"): 250,
    ("OpenQuestion", "actors"): 80,
}


# How far past the schema's upper bounds an answer may go (see the module docstring).
ANSWER_SLACK = 4
# model name -> field -> (most items, most characters of each string) in an answer.
_UPPER: dict[str, dict[str, tuple[int | None, int | None]]] = {}
for (_model, _field), (_low, _high) in _LIST_BOUNDS.items():
    _chars = _STRING_BOUNDS.get((_model, _field))
    _UPPER.setdefault(_model, {})[_field] = (
        _high * ANSWER_SLACK,
        None if _chars is None else _chars * ANSWER_SLACK,
    )
for (_model, _field), _most in _STRING_BOUNDS.items():
    _UPPER.setdefault(_model, {}).setdefault(_field, (None, _most * ANSWER_SLACK))


def over_bounds(node: Any, path: str = "", *, free: frozenset[str] = frozenset()) -> str | None:
    """The first list or string in ``node`` (a summary, or any part of one) over
    :data:`ANSWER_SLACK` times the schema's upper bounds, as a line the model can act
    on; None when all fit.

    ``free`` names ``Model.field`` bounds not to check (quotes chosen from the
    article's own spans, which may be longer than a written quote may be). It runs on
    every answer, so the walk builds no path strings unless something is over.
    """
    found = _over(node, free)
    if found is None:
        return None
    segments, message = found
    where = "".join(reversed(segments))
    where = f"{path}{where}" if path else where.lstrip(".")
    return f"{where} {message}"


@cache
def _fields(cls: type[BaseModel]) -> tuple[tuple[str, str, int | None, int | None], ...]:
    """Per model class: (field, "Model.field", most items, most characters), for the
    fields the walk must read: those with bounds, and those that may hold a list or a
    model to walk into. An unbounded scalar (an offset, a Literal kind, ``meta``) has
    nothing to check, and an evidence quote, the most numerous node, has three."""
    model = next((c.__name__ for c in cls.__mro__ if c.__name__ in _UPPER), "")
    bounds = _UPPER.get(model, {})
    return tuple(
        (field, f"{model}.{field}", *bounds.get(field, (None, None)))
        for field, info in cls.model_fields.items()
        if field in bounds or not _scalar(info.annotation)
    )


_SCALARS = (str, int, float, bool, type(None), dict)


def _scalar(annotation: Any) -> bool:
    """Whether a field of this type holds neither a list nor a model (a ``dict`` is
    never walked into either)."""
    origin = get_origin(annotation)
    if origin is Literal or origin is dict:
        return True
    if origin is Union or origin is UnionType:
        return all(_scalar(arg) for arg in get_args(annotation))
    return isinstance(annotation, type) and issubclass(annotation, _SCALARS)


# What the walk does with a value, by its class (see _kind).
_LIST, _MODEL, _STR, _SCALAR, _OTHER = range(5)


@cache
def _kind(cls: type) -> int:
    """What a value of class ``cls`` is to the walk: kept per class because
    ``isinstance(x, BaseModel)`` goes through ``ABCMeta`` (pydantic's metaclass
    derives from it), which took a third of the walk's time."""
    if issubclass(cls, list):
        return _LIST
    if issubclass(cls, BaseModel):
        return _MODEL
    if issubclass(cls, (int, float, bool)):
        return _SCALAR
    return _STR if issubclass(cls, str) else _OTHER


def _over(node: Any, free: frozenset[str]) -> tuple[list[str], str] | None:
    """:func:`over_bounds`' walk: the path's segments (innermost first) and what is over."""
    kind = _kind(node.__class__)
    if kind == _LIST:
        return _over_list(node, free)
    return _over_model(node, free) if kind == _MODEL else None


# The walk asks each value's class once, and a str or a list is told by identity
# before asking _kind: an answer's summary has some sixty nodes, and the calls per
# node were most of the walk's time.


def _over_child(value: Any, kind: int, free: frozenset[str]) -> tuple[list[str], str] | None:
    if kind == _MODEL:
        return _over_model(value, free)
    if kind == _LIST:
        return _over_list(value, free)
    return None


def _over_list(items: list[Any], free: frozenset[str]) -> tuple[list[str], str] | None:
    for i, item in enumerate(items):
        cls = item.__class__
        if cls is not str and (found := _over_child(item, _kind(cls), free)):
            found[0].append(f"[{i}]")
            return found
    return None


def _over_model(node: BaseModel, free: frozenset[str]) -> tuple[list[str], str] | None:
    for field, qualified, most_items, most_chars in _fields(node.__class__):
        value = getattr(node, field, None)
        if value is None:
            continue
        cls = value.__class__
        kind = _STR if cls is str else _LIST if cls is list else _kind(cls)
        if kind == _SCALAR:
            continue
        if free and qualified in free:
            most_items = most_chars = None
        if kind == _LIST:
            if most_items is not None and len(value) > most_items:
                return [f".{field}"], f"has {len(value)} items; at most {most_items} are allowed"
            if most_chars is not None:
                for text in value:
                    if isinstance(text, str) and len(text) > most_chars:
                        return [f".{field}"], (
                            f"is {len(text)} characters long; at most {most_chars} are allowed"
                        )
        elif kind == _STR:
            if most_chars is not None and len(value) > most_chars:
                return [f".{field}"], (
                    f"is {len(value)} characters long; at most {most_chars} are allowed"
                )
            continue
        if found := _over_child(value, kind, free):
            found[0].append(f".{field}")
            return found
    return None


_NON_EMPTY = (
    ("KeySummary", "headline"),
    ("KeySummary", "summary"),
    ("KeyPoint", "text"),
    ("Actor", "name"),
    ("Commitment", "actor"),
    ("Commitment", "action"),
    ("OpenQuestion", "question"),
)


def _bound_strings(prop: dict[str, Any], limit: int) -> None:
    """Add maxLength to every string type in ``prop`` (plain, nullable or array items)."""
    if prop.get("type") == "string":
        prop["maxLength"] = limit
    for key in ("anyOf", "oneOf"):
        for option in prop.get(key, []):
            _bound_strings(option, limit)
    if isinstance(prop.get("items"), dict):
        _bound_strings(prop["items"], limit)


# What a prompt file's ``[limits]`` table may tighten: list name -> the lists it bounds.
LIMIT_TARGETS: dict[str, tuple[tuple[str, str], ...]] = {
    "key_points": (("KeySummary", "key_points"),),
    "actors": (("ArticleSummary", "actors"),),
    "commitments": (("ArticleSummary", "commitments"),),
    "open_questions": (("ArticleSummary", "open_questions"),),
    "evidence": tuple((m, "evidence") for m in ("KeyPoint", "Actor", "Commitment", "OpenQuestion")),
    "aliases": (("Actor", "aliases"),),
}
Limits = tuple[tuple[str, int], ...]  # sorted (name, max) pairs: hashable, for caching


@cache
def _llm_schema_json(limits: Limits = ()) -> str:
    schema = ArticleSummary.model_json_schema()
    defs = schema.setdefault("$defs", {})
    defs["ArticleSummary"] = {k: v for k, v in schema.items() if k != "$defs"}
    for model_name, fields in _PROGRAM_FILLED.items():
        node = defs[model_name]
        for field in fields:
            node["properties"].pop(field, None)
            if field in node.get("required", []):
                node["required"].remove(field)
    for (model_name, field), (low, high) in _LIST_BOUNDS.items():
        prop = defs[model_name]["properties"][field]
        prop["minItems"], prop["maxItems"] = low, high
        # The model has to produce these lists, so they are required for it.
        if field not in defs[model_name].setdefault("required", []):
            defs[model_name]["required"].append(field)
    for (model_name, field), limit in _STRING_BOUNDS.items():
        _bound_strings(defs[model_name]["properties"][field], limit)
    # Required text must say something: a grammar-bound model otherwise writes "".
    for model_name, field in _NON_EMPTY:
        defs[model_name]["properties"][field]["minLength"] = 3
    for name, most in limits:
        if name == "quote_chars":
            _bound_strings(defs["Evidence"]["properties"]["quote"], most)
            continue
        if name == "text_chars":
            for (model_name, field), limit in _STRING_BOUNDS.items():
                if (model_name, field) != ("Evidence", "quote"):
                    longer = 3 if field == "summary" else 1
                    _bound_strings(defs[model_name]["properties"][field], min(limit, most * longer))
            continue
        if name == "evidence_first":
            # Pick the quote, then write about it; key points before the headline.
            for node in defs.values():
                props = node.get("properties", {})
                if "evidence" in props:
                    node["properties"] = {"evidence": props.pop("evidence"), **props}
            ks = defs["KeySummary"]["properties"]
            defs["KeySummary"]["properties"] = {"key_points": ks.pop("key_points"), **ks}
            continue
        if name not in LIMIT_TARGETS:
            continue  # switches such as quotes_from_article act per request
        for model_name, field in LIMIT_TARGETS[name]:
            prop = defs[model_name]["properties"][field]
            prop["maxItems"] = min(prop["maxItems"], most)
            prop["minItems"] = min(prop["minItems"], prop["maxItems"])
    root = defs.pop("ArticleSummary")
    root["properties"].pop("schema_version", None)
    return json.dumps({**root, "$defs": defs})


def llm_json_schema(limits: Limits = (), quote_choices: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON schema the LLM is asked to fill (a fresh copy, computed once per limits).

    With ``quote_choices`` every evidence quote must be one of those strings (spans of
    the article): under a grammar the model then cannot write an ungrounded quote.
    """
    schema: dict[str, Any] = json.loads(_llm_schema_json(limits))
    if quote_choices:
        quote = schema["$defs"]["Evidence"]["properties"]["quote"]
        quote.pop("maxLength", None)
        quote["enum"] = list(quote_choices)
    return schema


def shared_llm_json_schema(
    limits: Limits = (), quote_choices: tuple[str, ...] = ()
) -> dict[str, Any]:
    """:func:`llm_json_schema` without the copy, for the response model: the same
    object on every call for the same ``limits``, which nothing may change (see the
    module docstring). With ``quote_choices`` (one article's) it is built anew, for
    the caller to keep (the response model does)."""
    if quote_choices:
        return llm_json_schema(limits, quote_choices)
    return _shared(limits)


def _shared(limits: Limits) -> dict[str, Any]:
    # Made under a lock: threads that first ask at once get one object, never one each
    # (an encoder keeps a shared schema's bytes by its id). Kept in _SHARED for good.
    schema = _SHARED.get(limits)
    if schema is None:
        with _SHARED_LOCK:
            schema = _SHARED.get(limits)
            if schema is None:
                schema = _SHARED[limits] = llm_json_schema(limits)
    return schema


_SHARED: dict[Limits, dict[str, Any]] = {}
_SHARED_LOCK = threading.Lock()


def is_shared(schema: object) -> bool:
    """Whether ``schema`` is one of :func:`shared_llm_json_schema`'s objects, which
    never change (so an encoder may keep their bytes). One per prompt limits: a few."""
    return any(schema is kept for kept in _SHARED.values())
