"""What a run costs: per-model token prices, and the cost of a usage record.

Prices are USD per million tokens, input and output apart. They come from
genai-prices' bundled snapshot (:mod:`summarizer.catalog`: hundreds of hosted models,
kept current by its maintainers, read offline), and users override or extend them
with TOML files, later ones winning: the config file's ``prices``, then
``SUMMARIZER_PRICES``, then ``--prices``::

    ["openai/gpt-4o-mini"]
    input = 0.15
    output = 0.60

    ["vllm/my-model"]      # self-hosted: put your own figure per token here
    input = 0.0
    output = 0.0

A price must be a finite number, 0 or more: a negative or infinite one (``1e400`` is
infinite in TOML) or NaN would make every cost sum meaningless and let a batch run
past ``--max-cost``, so a file with one is refused, naming the file and the model.

What runs on this machine (the embedded model, ``rules``, the baselines) costs 0. A
model with no price has an unknown cost (``None``), which is reported as such rather
than as zero; :func:`unknown_price` is the one line that says so.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from summarizer import catalog
from summarizer.config_keys import user_config
from summarizer.errors import ConfigurationError
from summarizer.settings import LOCAL, PROVIDERS, RULES


@dataclass(frozen=True)
class Price:
    """USD per million tokens, and where the figures came from (not compared)."""

    input: float
    output: float
    source: str = field(default="", compare=False)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1_000_000


# Model prefixes of backends that run in this process: no tokens are bought.
_RUNS_HERE = (RULES, LOCAL, "baseline")


def load_prices(path: Path | None = None) -> dict[str, Price]:
    """The user's price files: the config file's ``prices``, then ``SUMMARIZER_PRICES``,
    then ``path`` (later wins). genai-prices' data is consulted by :func:`price_for`,
    for models none of them names."""
    prices: dict[str, Price] = {}
    config = user_config().get("prices")
    env = os.environ.get("SUMMARIZER_PRICES")
    for source in (Path(config) if config else None, Path(env) if env else None, path):
        if source is not None:
            prices.update(read_price_file(source))
    return prices


def read_price_file(path: Path) -> dict[str, Price]:
    """The prices in one TOML file; ConfigurationError (one line naming the file, and
    the model when one entry is wrong) when it cannot be used."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigurationError(f"{path}: no such price file") from e
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigurationError(f"{path}: not a valid TOML price file: {e}") from e
    except OSError as e:  # a directory, no permission
        raise ConfigurationError(f"{path}: cannot read the price file: {e.strerror or e}") from e
    out = {}
    for model, entry in data.items():
        try:
            price = Price(float(entry["input"]), float(entry["output"]), str(path))
        except (TypeError, KeyError, ValueError) as e:
            raise ConfigurationError(
                f"{path}: [{model!r}] needs numeric 'input' and 'output' (USD per 1M tokens)"
            ) from e
        for side, value in (("input", price.input), ("output", price.output)):
            if not (math.isfinite(value) and value >= 0):
                raise ConfigurationError(
                    f"{path}: [{model!r}] {side} = {value}: a price must be a finite "
                    "number, 0 or more (USD per 1M tokens)"
                )
        out[model] = price
    return out


def price_for(
    model: str, prices: dict[str, Price], *, free: bool = False, base_url: str | None = None
) -> Price | None:
    """The price of ``model`` (``provider/name``): from ``prices`` by that, then by the
    bare name, then from genai-prices (``base_url``: the endpoint a bare name is sent
    to, which tells a hosted provider from a server of one's own). A model that runs
    on this machine (``free``, or ``rules``, ``local``, ``baseline/...``) costs nothing."""
    provider, slash, name = model.partition("/")
    if free or model.partition(":")[0] in _RUNS_HERE or provider in _RUNS_HERE:
        return Price(0.0, 0.0, "runs on this machine")
    own = prices.get(model) or (prices.get(name) if slash else None)
    if own is not None:
        return own
    if not slash or (provider not in PROVIDERS and provider != "compatible"):
        provider, name = "openai", model  # a bare name: what ModelRef sends to OpenAI
    facts = catalog.facts_for(provider, name, base_url)
    if facts is None or facts.input is None or facts.output is None:
        return None
    return Price(facts.input, facts.output, catalog.source())


def unknown_price(model: str) -> str:
    """What to say, once, when ``model`` has no price."""
    return (
        f"no price known for {model}: its cost is reported as unknown; give it one in a "
        "--prices file (or the config file's prices)"
    )


def usage_cost(price: Price | None, usage: dict[str, Any]) -> float | None:
    if price is None:
        return None
    return price.cost(
        int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    )
