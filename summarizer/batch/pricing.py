"""What a run costs: per-model token prices, and the cost of a usage record.

Prices are USD per million tokens, input and output apart. The built-in table holds
a few OpenAI models at the list prices published for them in 2026 (checked against
public pricing pages, not an invoice); prices change, so users override or extend
it with a TOML file, passed as ``--prices`` or named by ``SUMMARIZER_PRICES``::

    ["openai/gpt-4o-mini"]
    input = 0.15
    output = 0.60

    ["vllm/my-model"]      # self-hosted: put your own figure per token here
    input = 0.0
    output = 0.0

The embedded model always costs 0. A model with no price has an unknown cost
(``None``), which is reported as such rather than as zero.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summarizer.errors import ConfigurationError


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1_000_000


BUILTIN_PRICES: dict[str, Price] = {
    "openai/gpt-4o-mini": Price(0.15, 0.60),
    "openai/gpt-4o": Price(2.50, 10.00),
    "openai/gpt-4.1": Price(2.00, 8.00),
    "openai/gpt-4.1-mini": Price(0.40, 1.60),
    "openai/gpt-4.1-nano": Price(0.10, 0.40),
}


def load_prices(path: Path | None = None) -> dict[str, Price]:
    """The built-in table, then ``SUMMARIZER_PRICES``, then ``path`` (later wins)."""
    prices = dict(BUILTIN_PRICES)
    env = os.environ.get("SUMMARIZER_PRICES")
    for source in (Path(env) if env else None, path):
        if source is not None:
            prices.update(_read(source))
    return prices


def _read(path: Path) -> dict[str, Price]:
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigurationError(f"{path}: no such price file") from e
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigurationError(f"{path}: not a valid TOML price file: {e}") from e
    out = {}
    for model, entry in data.items():
        try:
            out[model] = Price(float(entry["input"]), float(entry["output"]))
        except (TypeError, KeyError, ValueError) as e:
            raise ConfigurationError(
                f"{path}: [{model!r}] needs numeric 'input' and 'output' (USD per 1M tokens)"
            ) from e
    return out


def price_for(model: str, prices: dict[str, Price], *, free: bool = False) -> Price | None:
    """The price of ``model`` (``provider/name``): by that, then by the bare name. A
    model that runs on this machine (``free``) costs nothing per token."""
    if free:
        return Price(0.0, 0.0)
    return prices.get(model) or prices.get(model.partition("/")[2])


def usage_cost(price: Price | None, usage: dict[str, Any]) -> float | None:
    if price is None:
        return None
    return price.cost(
        int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    )
