"""The seam between the pipeline and a model: the :class:`Backend` protocol.

Everything that depends on *which* model answers lives behind it: how many tokens a
text is and how many fit, which parameter names the server understands, how one
chat request is sent (and retried when the transport fails), what ``meta`` and the
cache key record about the model. The pipeline, batch runner and CLI hold a
backend and never ask what kind it is.

Three implementations ship: :class:`~summarizer.backends.openai.OpenAIBackend` (any
OpenAI-compatible endpoint), :class:`~summarizer.backends.local.LocalBackend`
(llama.cpp in-process) and :class:`~summarizer.backends.function.FunctionBackend`
(a Python function answers: for tests, yours and ours). Instructor's re-ask loop and
grounding run above every one of them, in :mod:`summarizer.backends.extraction`, so
a backend only has to answer one request at a time.

This module imports no SDK: building settings, reading prompts or printing the
schema must not pay for importing ``openai`` (about 1.5 s).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletion

    from summarizer.grounding import GroundingReport

from summarizer.config_keys import Mode
from summarizer.contract import ArticleSummary

__all__ = ["Backend", "CallStats", "Composer", "Extraction", "Messages", "Mode", "Throttle"]

Messages = list[dict[str, str]]

#: Re-asks after an invalid answer when neither the settings nor the backend say.
DEFAULT_MAX_REASKS = 2


def max_reasks_for(backend: object, asked: int | None) -> int:
    """``asked`` (``--max-reasks``), else the backend's ``default_max_reasks``.

    An optional attribute, not part of :class:`Backend`, so that backends written
    before it still qualify. A re-ask costs a whole generation: seconds on a server,
    a minute or more for the embedded model, whose answers a grammar already keeps
    well-formed (it sets 0).
    """
    if asked is not None:
        return asked
    default = getattr(backend, "default_max_reasks", DEFAULT_MAX_REASKS)
    return default if isinstance(default, int) else DEFAULT_MAX_REASKS


@dataclass
class CallStats:
    """What one summarization cost: answers, re-asks, transport retries, tokens, time.

    A backend counts its transport retries here; the extraction loop counts answers.
    The two are kept apart because they mean different things: a retry is a request
    that did not arrive, a re-ask an answer that did not validate.
    """

    responses: int = 0
    transport_retries: int = 0
    transport_errors: list[str] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    latency_s: float = 0.0

    @property
    def reasks(self) -> int:
        return max(self.responses - 1, 0)

    def record(self, response: ChatCompletion, latency: float) -> None:
        self.responses += 1
        usage = response.usage
        self.attempts.append(
            {
                "attempt": self.responses,
                "prompt_tokens": usage.prompt_tokens if usage else None,
                "completion_tokens": usage.completion_tokens if usage else None,
                "latency_s": round(latency, 3),
                "finish_reason": response.choices[0].finish_reason if response.choices else None,
            }
        )

    def usage(self) -> dict[str, int]:
        prompt = sum(a["prompt_tokens"] or 0 for a in self.attempts)
        completion = sum(a["completion_tokens"] or 0 for a in self.attempts)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def as_meta(self) -> dict[str, Any]:
        return {
            "attempts": {
                "responses": self.responses,
                "reasks": self.reasks,
                "transport_retries": self.transport_retries,
            },
            "transport_errors": self.transport_errors,
            "usage": {**self.usage(), "per_attempt": self.attempts},
            "latency_s": round(self.latency_s, 3),
        }


class Throttle(Protocol):
    """Admits requests (a batch's rate limiter); see :mod:`summarizer.batch.ratelimit`.

    Declared here so that a backend can take one without importing the batch layer.
    """

    async def acquire(self, tokens: int) -> Any: ...

    async def release(
        self,
        ticket: Any,
        *,
        outcome: Literal["ok", "rate_limited", "error"] = "ok",
        retry_after: float | None = None,
        used_tokens: int | None = None,
    ) -> None: ...


@runtime_checkable
class Backend(Protocol):
    """A model that answers chat requests; see the module docstring.

    ``create``/``acreate`` take the JSON body of one chat-completions request (the
    messages, the model name, the parameters from :meth:`request_params`, and what
    Instructor adds for the response format) and return the answer as an OpenAI
    ``ChatCompletion``. Transport faults are retried inside and counted in
    ``stats``; what is left is raised as a :class:`~summarizer.errors.SummarizerError`.
    """

    #: ``provider/name`` as recorded in ``meta["model"]`` and matched against prices.
    model: str
    #: The name sent in each request's ``model`` field.
    model_name: str
    #: Instructor mode: how the answer carries its JSON (tool call, JSON schema, ...).
    mode: Mode
    #: The prompt used when the settings name none (small models need their own).
    default_prompt: str
    #: One line for a person before the first call (the CLI prints it), or None.
    notice: str | None
    #: The model computes on this machine's cores: one request at a time per
    #: process, no HTTP connections to share, and no per-token price.
    runs_locally: bool

    def context_window(self) -> int: ...

    def count_text(self, text: str) -> int:
        """Tokens of a piece of text on its own (for splitting long articles)."""
        ...

    def count_messages(self, messages: Messages) -> int:
        """Tokens of a whole prompt, turn markers included."""
        ...

    def request_params(self, defaults: dict[str, Any]) -> dict[str, Any]:
        """The generation parameters to send, from the prompt's and settings' values
        (renamed and filtered for this server)."""
        ...

    def create(self, body: dict[str, Any], stats: CallStats) -> ChatCompletion: ...

    async def acreate(self, body: dict[str, Any], stats: CallStats) -> ChatCompletion: ...

    def describe(self) -> dict[str, Any]:
        """What ``meta`` records about the model (may load it)."""
        ...

    def cache_identity(self) -> dict[str, Any]:
        """What identifies this model's answers in the cache; never loads a model."""
        ...

    def prepare(self) -> None:
        """Do the one-time work of a first request now (before a batch forks)."""
        ...

    def close(self) -> None: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Composer(Protocol):
    """A backend that writes the summary itself instead of answering a chat request:
    the no-model baselines (:mod:`summarizer.backends.extractive`), or a method that
    composes rule-based sections with a small model's choices.

    What :meth:`compose` returns (the contract's JSON shape) goes through the same
    validation as a model's answer (sizes, grounding, support); being deterministic,
    it is never re-asked: what fails is dropped and recorded in ``meta``.
    """

    def compose(self, article: str, title: str | None, stats: CallStats) -> dict[str, Any]: ...

    async def acompose(
        self, article: str, title: str | None, stats: CallStats
    ) -> dict[str, Any]: ...


@dataclass
class Extraction:
    """A validated summary plus how it was obtained (by a model's answer or a
    composer)."""

    summary: ArticleSummary
    stats: CallStats
    report: GroundingReport
    salvaged: bool = False
    last_error: str | None = None

    def public(self) -> ArticleSummary:
        """The summary as the public class: a model's answer arrives as the response
        model's subclass (with its validators), which callers never see."""
        s = self.summary
        if type(s) is ArticleSummary:
            return s
        return ArticleSummary.model_construct(
            **{name: getattr(s, name) for name in ArticleSummary.model_fields}
        )
