"""``summarizer models``: what runs now, what could run, and what hosted models cost.

Four parts: the model the current flags, environment and config file select, with
its provider, endpoint, context window and price and where each came from; the
provider prefixes and their endpoints; the methods that need no model; and the
hosted models genai-prices knows (:mod:`summarizer.catalog`), with context windows
and prices per million tokens. It builds no backend, so it imports no SDK and calls
nothing. The endpoint is shown redacted (``OPENAI_BASE_URL`` may carry a password);
a ``--provider`` genai-prices does not know is an error that lists the ones it does.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from summarizer.cli.config import explicit_settings, source_label
from summarizer.cli.errors import handle_errors
from summarizer.cli.options import DEFAULT_OPTIONS, ModelOptions, with_model_options
from summarizer.cli.output import write_output
from summarizer.errors import ConfigurationError

if TYPE_CHECKING:
    from summarizer.config_keys import Resolved
    from summarizer.settings import Settings

# One line on each no-model method; a method with none still gets listed.
_METHODS = {
    "rules": "the offline default: every section by rules, no model, ms per article",
    "lead": "baseline: the first sentences and plain surface rules (the floor)",
    "textrank": "baseline: the most central sentences and plain surface rules",
}
_OPENAI_URL = "https://api.openai.com/v1"


@handle_errors
@with_model_options
def models(
    as_json: Annotated[bool, typer.Option("--json", help="For scripts: one JSON object.")] = False,
    provider: Annotated[
        str,
        typer.Option(
            metavar="<provider>",
            help="Whose models to list: a genai-prices provider id (openai, "
            "anthropic, google, deepseek, groq, mistral, ...).",
        ),
    ] = "openai",
    all_models: Annotated[
        bool, typer.Option("--all", help="List every provider's models, old and non-chat ones too.")
    ] = False,
    prices: Annotated[
        Path | None,
        typer.Option(
            metavar="<file>", help="TOML file of model prices (USD per 1M tokens), as for `batch`."
        ),
    ] = None,
    options: ModelOptions = DEFAULT_OPTIONS,
) -> None:
    """What model runs now (and why), the providers, the no-model methods, and known
    hosted models with context windows and prices per 1M input/output tokens."""
    from summarizer import catalog
    from summarizer.batch.pricing import load_prices
    from summarizer.extractive.methods import METHODS
    from summarizer.settings import PROVIDERS, Settings

    explicit = explicit_settings(options)
    settings = Settings.resolve(**explicit)
    explained = Settings.explain(**explicit)
    own_prices = load_prices(prices)
    known = catalog.known_models(None if all_models else provider)
    if not known:
        providers = sorted({m.provider for m in catalog.known_models()})
        raise ConfigurationError(
            f"--provider {provider!r} is not one genai-prices knows; it knows: "
            f"{', '.join(providers)} (or --all for every one)"
        )
    if not all_models:  # the current chat models: those with a context window
        known = [m for m in known if not m.deprecated and m.context_window]
    doc: dict[str, Any] = {
        "configured": _configured(settings, explained, own_prices),
        "providers": [
            {"prefix": p, "base_url": url or _OPENAI_URL}
            for p, url in PROVIDERS.items()
            if p != "baseline"
        ],
        "no_model": [
            {"model": m if m == "rules" else f"baseline/{m}", "about": _METHODS.get(m, "")}
            for m in METHODS
        ],
        "local": {
            "model": "local[:PATH.gguf]",
            "about": "the embedded Gemma 3 270M (or a GGUF of yours) in-process, no server",
            "installed": importlib.util.find_spec("llama_cpp") is not None,
        },
        "price_files": {m: {"input": p.input, "output": p.output} for m, p in own_prices.items()},
        "known_models": {
            "source": catalog.source(),
            "models": [
                {
                    "provider": m.provider,
                    "model": m.model,
                    "context_window": m.context_window,
                    "input_per_1m": m.input,
                    "output_per_1m": m.output,
                    "deprecated": m.deprecated,
                }
                for m in known
            ],
        },
    }
    if as_json:
        write_output(json.dumps(doc, indent=2))
        return
    write_output(_text(doc, provider, all_models))


def _configured(
    settings: Settings, explained: dict[str, Resolved], own: dict[str, Any]
) -> dict[str, Any]:
    """The selected model and where each of its figures came from, asked of its backend
    as a run would ask it (building one loads no model and calls nothing)."""
    from summarizer import catalog
    from summarizer.backends import Composer, backend_for
    from summarizer.batch.pricing import price_for, unknown_price
    from summarizer.redact import redact_url

    backend = backend_for(settings)
    provider = settings.model_ref.provider
    if backend.runs_locally:
        url, url_source = None, "none: it runs in this process"
    elif settings.base_url:
        url, url_source = settings.base_url, source_label(explained["base_url"].source)
    else:
        url = settings.effective_base_url or _OPENAI_URL
        url_source = f"the {provider} prefix's default"
    window: int | None = backend.context_window()
    if settings.context_window:
        window_source = source_label(explained["context_window"].source)
    elif isinstance(backend, Composer):
        window, window_source = None, "any length: no model reads it"
    elif backend.runs_locally:
        window_source = "the embedded model's local_n_ctx"
    else:
        window_source = catalog.context_window(provider, backend.model_name, url)[1]
    price = price_for(backend.model, own, free=backend.runs_locally, base_url=url)
    return {
        "model": backend.model,
        "model_source": source_label(explained["model"].source),
        "provider": provider,
        "base_url": redact_url(url),
        "base_url_source": url_source,
        "context_window": window,
        "context_window_source": window_source,
        "price": None if price is None else {"input": price.input, "output": price.output},
        "price_source": price.source if price else unknown_price(backend.model),
    }


def _tokens(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:g}"


def _text(doc: dict[str, Any], provider: str, all_models: bool) -> str:
    c = doc["configured"]
    price = c["price"]
    lines = [
        "Configured now (flags > environment > config file > defaults):",
        f"  model           {c['model']}  ({c['model_source']})",
        f"  provider        {c['provider']}",
        f"  base URL        {c['base_url'] or '-'}  ({c['base_url_source']})",
        f"  context window  {_tokens(c['context_window'])}  ({c['context_window_source']})",
        "  price           "
        + (f"{_money(price['input'])} in / {_money(price['output'])} out per 1M tokens  "
           if price else "")
        + f"({c['price_source']})",
        "",
        "Providers (--model PREFIX/NAME; a bare NAME with --base-url for any "
        "OpenAI-compatible server):",
        *(f"  {p['prefix']:<10} {p['base_url']}" for p in doc["providers"]),
        "",
        "No model (offline, cost 0):",
        *(f"  {m['model']:<18} {m['about']}" for m in doc["no_model"]),
        f"  {doc['local']['model']:<18} {doc['local']['about']}"
        + ("" if doc["local"]["installed"] else " (not installed: the [local] extra)"),
    ]  # fmt: skip
    if doc["price_files"]:
        lines += ["", "Your price files (USD per 1M tokens, input / output):"]
        lines += [
            f"  {m:<40} {_money(p['input'])} / {_money(p['output'])}"
            for m, p in doc["price_files"].items()
        ]
    known = doc["known_models"]
    whose = "every provider" if all_models else f"{provider}'s current chat models"
    lines += ["", f"Known models ({whose}; {known['source']}; USD per 1M tokens):"]
    rows = [
        (f"{m['provider']}/{m['model']}" if all_models else m["model"],
         _tokens(m["context_window"]),
         _money(m["input_per_1m"]), _money(m["output_per_1m"]))
        for m in known["models"]
    ]  # fmt: skip
    if not rows:  # a provider with no current chat model (an unknown one is an error)
        lines.append(f"  none current: `summarizer models --provider {provider} --all`")
        return "\n".join(lines)
    width = max(len(r[0]) for r in rows)
    lines.append(f"  {'MODEL':<{width}}  {'CONTEXT':>9}  {'INPUT':>8}  {'OUTPUT':>8}")
    lines += [f"  {n:<{width}}  {w:>9}  {i:>8}  {o:>8}" for n, w, i, o in rows]
    return "\n".join(lines)
