"""The no-model methods as backends: ``--model rules`` (the offline default) and the
baselines ``baseline/lead`` and ``baseline/textrank``.

A baseline must travel the same road as a model to be a fair floor: the same
validation, grounding and support checks, the same cache, ``meta``, batch and eval
machinery. So each method is a :class:`~summarizer.backends.base.Composer` backend
that answers no chat request and writes the summary itself, from
:mod:`summarizer.extractive`, in milliseconds.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from summarizer.backends.base import CallStats, Messages, Mode
from summarizer.errors import ConfigurationError
from summarizer.extractive import code_version
from summarizer.extractive.methods import METHOD_SECTIONS, METHODS
from summarizer.tokens import estimate_tokens

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletion

    from summarizer.settings import Settings

PROVIDER = "baseline"
RULES = "rules"


class ExtractiveBackend:
    """A no-model method named by ``--model baseline/NAME``; see the module docstring."""

    runs_locally = True  # no server, no price; CPU-bound in this process
    notice: str | None = None
    mode: Mode = "json_schema"
    default_prompt = "summarize@v1"  # rendered for the cache key only; no model reads it

    def __init__(self, settings: Settings) -> None:
        ref = settings.model_ref
        name = ref.name or ref.provider  # "rules" has no name part
        if name not in METHODS or (name == RULES and ref.name):
            raise ConfigurationError(
                f"--model {ref}: no such method; choose {RULES} or one of "
                + ", ".join(f"{PROVIDER}/{m}" for m in METHODS if m != RULES)
            )
        # Only explicit values reach here (Settings.resolve leaves out those from the
        # environment or the config file, which are defaults for when a model runs).
        ignored = [
            flag
            for flag, value in (
                ("--prompt", settings.prompt),
                ("--mode", settings.mode),
                ("--temperature", settings.temperature),
                ("--max-tokens", settings.max_tokens),
            )
            if value is not None
        ]
        if ignored:
            raise ConfigurationError(
                f"--model {ref} calls no model, so {', '.join(ignored)} would be ignored; "
                "drop them or choose a model"
            )
        self.settings = settings
        self.method = name
        self.model = str(ref)
        self.model_name = name

    def context_window(self) -> int:
        return 1 << 30  # rules read any length: a long article is never split

    def count_text(self, text: str) -> int:
        return estimate_tokens(text)

    def count_messages(self, messages: Messages) -> int:
        return sum(estimate_tokens(m.get("content") or "") for m in messages)

    def request_params(self, defaults: dict[str, Any]) -> dict[str, Any]:
        return {}  # nothing is generated

    def compose(self, article: str, title: str | None, stats: CallStats) -> dict[str, Any]:
        summary = METHODS[self.method](article, title=title)
        return summary.model_dump(mode="json", exclude={"meta"})

    async def acompose(self, article: str, title: str | None, stats: CallStats) -> dict[str, Any]:
        # Milliseconds of CPU: not worth a thread hop, but let other tasks run first.
        await asyncio.sleep(0)
        return self.compose(article, title, stats)

    def create(self, body: dict[str, Any], stats: CallStats) -> ChatCompletion:
        raise ConfigurationError(f"{self.model} is a no-model method: it answers no chat request")

    async def acreate(self, body: dict[str, Any], stats: CallStats) -> ChatCompletion:
        return self.create(body, stats)

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "method": {
                "name": self.method,
                "model_calls": 0,
                "sections": METHOD_SECTIONS[self.method],
            },
        }

    def cache_identity(self) -> dict[str, Any]:
        return {"model": self.model, "code": code_version()}

    def prepare(self) -> None:
        pass

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass
