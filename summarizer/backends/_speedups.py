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
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator
from functools import lru_cache
from typing import Any, TypeVar, cast

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
        # openai.resources (0.55 s): requests go through ``client.post``, which never
        # touches it; a test keeps it that way.
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
