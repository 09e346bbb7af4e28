"""What is known about hosted models: context windows and list prices, from genai-prices.

Prices change every few weeks and new models come out as often, so no table of ours
stays right: `genai-prices <https://github.com/pydantic/genai-prices>`_ (MIT, kept by
Pydantic) ships a snapshot of about 2,300 models of 47 providers, 1,400 of them with
a context window, and is released whenever they change. We read only its bundled
snapshot: no network, ever (its opt-in ``UpdatePrices`` is never started), so a
price is what the installed release says; ``pip install -U genai-prices`` refreshes
it, and a ``--prices`` file overrides it (:mod:`summarizer.batch.pricing`).

It is imported on the first lookup, not before (about 0.2 s: its data is a large
Python module), so commands that need no price or context window never pay for it.

Only models whose price is a list price are looked up: OpenAI's (``openai/NAME``)
and a bare name sent to a hosted endpoint over https (``--base-url``), matched by the
endpoint's address. A model on a server of one's own (``ollama/``, ``vllm/``, a
``--base-url`` over plain http) has no list price and often a smaller context than
its published one, so it is never guessed from its name.

A tiered price (more per token above some prompt length) is taken at its first tier:
articles are far below the thresholds (200k tokens and up).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

SOURCE = "genai-prices"
# Unknown remote models: small enough for most self-hosted servers' defaults.
DEFAULT_CONTEXT_WINDOW = 32_768


@dataclass(frozen=True)
class ModelFacts:
    """One model as genai-prices knows it; prices are USD per million tokens."""

    provider: str
    model: str
    name: str | None
    context_window: int | None
    input: float | None
    output: float | None
    deprecated: bool = False


@functools.cache
def source() -> str:
    """``genai-prices VERSION``: where a looked-up figure came from."""
    from importlib.metadata import version

    return f"{SOURCE} {version('genai-prices')}"


def facts_for(provider: str, name: str, base_url: str | None = None) -> ModelFacts | None:
    """What genai-prices knows of ``provider/name`` (our model prefixes), or ``None``
    when it does not know it or the model is not one to look up (see the module doc)."""
    if provider == "openai":
        return lookup(name, provider="openai")
    if provider == "compatible" and base_url and base_url.startswith("https://"):
        return lookup(name, api_url=base_url)
    return None


def context_window(provider: str, name: str, base_url: str | None = None) -> tuple[int, str]:
    """A remote model's context window in tokens, and where the figure came from."""
    facts = facts_for(provider, name, base_url)
    if facts is not None and facts.context_window:
        return facts.context_window, source()
    return DEFAULT_CONTEXT_WINDOW, "default for models genai-prices does not know"


@functools.lru_cache(maxsize=512)
def lookup(
    name: str, *, provider: str | None = None, api_url: str | None = None
) -> ModelFacts | None:
    """genai-prices' model ``name`` at ``provider`` (its id) or at the endpoint ``api_url``."""
    try:
        found, model = _snapshot().find_provider_model(name, None, provider, api_url)
    except (LookupError, ValueError):
        return None
    return _facts(found, model)


def known_models(provider: str | None = None) -> list[ModelFacts]:
    """Every model genai-prices knows (of ``provider``, if given), current ones first."""
    out = [
        _facts(p, m)
        for p in _snapshot().providers
        if provider is None or p.id == provider
        for m in p.models
    ]
    return sorted(out, key=lambda f: (f.provider, f.deprecated, f.model))


def _snapshot() -> Any:
    from genai_prices import data_snapshot

    return data_snapshot.get_snapshot()


def _facts(provider: Any, model: Any) -> ModelFacts:
    prices = model.get_prices(datetime.now(UTC))
    return ModelFacts(
        provider=provider.id,
        model=model.id,
        name=model.name,
        context_window=model.context_window,
        input=_per_million(getattr(prices, "input_mtok", None)),
        output=_per_million(getattr(prices, "output_mtok", None)),
        deprecated=bool(model.deprecated),
    )


def _per_million(price: Any) -> float | None:
    if price is None:
        return None
    if not isinstance(price, Decimal | int | float):  # TieredPrices: its first tier
        price = getattr(price, "base", None)
        if price is None:
            return None
    return float(price)
