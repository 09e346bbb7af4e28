"""What a summary's tokens cost is recorded in ``meta.usage`` when it is made, at the
price known then (genai-prices' list price; 0 for what runs here), so a report read
later shows that cost, not one priced on the day it is read."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest

from summarizer import Summarizer
from summarizer.batch.pricing import price_for, usage_cost
from summarizer.cache import ResponseCache
from summarizer.catalog import source
from tests.fakeserver import FakeOpenAI, summary_reply
from tests.test_long import _goldens, _responder


def _summarize(fake: FakeOpenAI, model: str, text: str, **kw: Any) -> dict[str, Any]:
    with Summarizer(model=model, base_url=fake.url, retry_max_wait=0.05, **kw) as s:
        return s.summarize(text).meta


def test_a_hosted_models_cost_is_recorded_at_its_list_price(
    fake_openai: FakeOpenAI, seed_text: str, seed_summary: dict[str, Any]
) -> None:
    fake_openai.queue(summary_reply(seed_summary))
    meta = _summarize(fake_openai, "openai/gpt-4o-mini", seed_text)
    usage = meta["usage"]
    price = price_for("openai/gpt-4o-mini", {})
    assert price is not None
    assert usage["price"] == {"input": price.input, "output": price.output, "source": source()}
    assert usage["cost_usd"] == pytest.approx(usage_cost(price, usage))
    assert usage["cost_usd"] > 0
    json.dumps(meta, allow_nan=False)  # plain JSON, as the contract's meta is


def test_a_failed_attempts_tokens_are_paid_for_too(
    fake_openai: FakeOpenAI, seed_text: str, seed_summary: dict[str, Any]
) -> None:
    bad = json.loads(json.dumps(seed_summary))
    bad["actors"][0]["evidence"][0]["quote"] = "an invented sentence here"
    fake_openai.queue(summary_reply(bad), summary_reply(seed_summary))
    usage = _summarize(fake_openai, "openai/gpt-4o-mini", seed_text)["usage"]
    assert usage["total_tokens"] == 2000
    assert usage["cost_usd"] == pytest.approx(
        usage_cost(price_for("openai/gpt-4o-mini", {}), usage)
    )


def test_a_model_without_a_list_price_records_none(
    fake_openai: FakeOpenAI, seed_text: str, seed_summary: dict[str, Any]
) -> None:
    """A server of one's own (or a model genai-prices does not know): no guess."""
    fake_openai.queue(summary_reply(seed_summary), summary_reply(seed_summary))
    for model in ("vllm/my-model", "openai/no-such-model-xyz"):
        usage = _summarize(fake_openai, model, seed_text)["usage"]
        assert "cost_usd" not in usage
        assert "price" not in usage


def test_no_model_costs_nothing(seed_text: str) -> None:
    with Summarizer(model="rules") as s:
        usage = s.summarize(seed_text).meta["usage"]
    assert usage["cost_usd"] == 0.0
    assert usage["price"]["source"] == "runs on this machine"


def test_a_long_articles_cost_is_of_every_call(fake_openai: FakeOpenAI) -> None:
    """Split into parts: the cost is of all the calls' tokens, not of the last one."""
    fake_openai.responder = _responder
    text = "\n\n".join(t.strip() for t, _ in _goldens()[:20])
    meta = _summarize(fake_openai, "openai/gpt-4o-mini", text, context_window=8000)
    calls = len(meta["parts"]) + 1
    assert calls > 2
    assert meta["usage"]["total_tokens"] == 1000 * calls
    want = usage_cost(price_for("openai/gpt-4o-mini", {}), meta["usage"])
    assert meta["usage"]["cost_usd"] == pytest.approx(want)


def test_a_cached_answer_keeps_its_calls_cost(
    fake_openai: FakeOpenAI, seed_text: str, seed_summary: dict[str, Any], tmp_path: Path
) -> None:
    fake_openai.queue(summary_reply(seed_summary))
    with contextlib.closing(ResponseCache(tmp_path / "cache")) as cache:
        first = _summarize(fake_openai, "openai/gpt-4o-mini", seed_text, cache=cache)
        again = _summarize(fake_openai, "openai/gpt-4o-mini", seed_text, cache=cache)
    assert again["cache"]["hit"] is True
    assert again["usage"]["cost_usd"] == first["usage"]["cost_usd"] > 0
