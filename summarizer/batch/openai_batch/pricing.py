"""What a Batch API request costs: the provider's batch price, else half the live one.

OpenAI (and most providers with a batch service) charge 50 % of the list price for
batched requests. genai-prices records the batch price as a variant of a model's
prices (``processing = batch``) where the provider publishes one; that figure wins.
A price from the user's ``--prices`` files, or a model genai-prices has no batch
variant for, is charged at half its live price. The source says which.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from summarizer import catalog
from summarizer.batch.pricing import Price
from summarizer.settings import Settings

#: What the Batch API charges against the live price when no batch price is known.
BATCH_DISCOUNT = 0.5


def batch_price(live: Price | None, settings: Settings) -> Price | None:
    """The batch price of the model ``settings`` name, given its ``live`` price
    (:func:`~summarizer.batch.pricing.price_for`'s); ``None`` when that is unknown."""
    if live is None:
        return None
    if live.source.startswith(catalog.SOURCE):
        ref = settings.model_ref
        found = _listed_batch_price(ref.provider, ref.name, settings.effective_base_url)
        if found is not None:
            return Price(*found, f"{live.source}, batch price")
    return Price(
        live.input * BATCH_DISCOUNT,
        live.output * BATCH_DISCOUNT,
        f"{live.source or 'prices'}, Batch API at {BATCH_DISCOUNT:.0%} of it",
    )


def _listed_batch_price(
    provider: str, name: str, base_url: str | None
) -> tuple[float, float] | None:
    """genai-prices' batch variant of the model, if it records one."""
    if provider == "openai":
        where: dict[str, str | None] = {"provider_id": "openai", "api_url": None}
    elif provider == "compatible" and base_url and base_url.startswith("https://"):
        where = {"provider_id": None, "api_url": base_url}
    else:
        return None
    from genai_prices import data_snapshot

    with contextlib.suppress(LookupError, ValueError):
        snapshot = data_snapshot.get_snapshot()
        _, model = snapshot.find_provider_model(name, None, where["provider_id"], where["api_url"])
        now = datetime.now(UTC)
        standard = model.get_prices(now)
        batch = model.get_prices(now, {"processing": "batch"})
        if batch is standard or batch.__dict__ == standard.__dict__:
            return None  # no batch variant: the discount applies
        values = (catalog._per_million(batch.input_mtok), catalog._per_million(batch.output_mtok))
        if values[0] is not None and values[1] is not None:
            return values[0], values[1]
    return None
