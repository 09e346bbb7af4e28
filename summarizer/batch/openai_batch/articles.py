"""One article of a Batch API job: its calls, the answers they have had, and its line.

An article needs one call, or one per part and then the key-summary call (a long
article, as :meth:`Summarizer.summarize` splits it). Each call (a :class:`Unit`)
collects the answers that came back for it, in attempt order, and is replayed
(:func:`summarizer.backends.replay.replay`) when a new one arrives: the replay gives
its summary, or the next request to send (a re-ask, built by Instructor as live), or
the error the live loop would raise. A request whose line failed (an error line, a
batch that failed or expired without it) is sent again in the next round, up to
``settings.max_transport_retries`` more times, as a live request is retried.

The article's line is the live engine's: :func:`~summarizer.batch.ledger.success_record`
or :func:`~summarizer.batch.ledger.error_record`, its cost at the batch price (and the
live price for answers ``--finish-live`` fetched).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from summarizer import calllog
from summarizer.backends.base import CallStats, Extraction
from summarizer.backends.extraction import Extractor
from summarizer.backends.replay import Answer, Pending, replay
from summarizer.batch.items import BatchItem
from summarizer.batch.ledger import error_record, success_record
from summarizer.batch.pricing import Price
from summarizer.chunking import Part
from summarizer.contract import ArticleSummary
from summarizer.errors import ProviderError, SummarizerError
from summarizer.grounding import Grounder
from summarizer.pipeline import ArticleCalls, Call, Summarizer

Send = Callable[[dict[str, Any], CallStats], Any]
Line = tuple[dict[str, Any], str]


@dataclass
class Unit:
    """One call of an article and what it has had so far."""

    name: str  # "w" (the whole article), "p1".. (parts), "k" (a long article's key summary)
    call: Call
    answers: list[Answer] = field(default_factory=list)
    live_usage: tuple[int, int] = (0, 0)  # prompt and answer tokens of live requests
    seen: int = 0  # answers replayed already
    failures: dict[int, int] = field(default_factory=dict)  # attempt -> failed tries
    last_failure: str = ""
    pending: Pending | None = None
    inflight: str | None = None  # the custom_id of its request in a running batch
    result: ArticleSummary | None = None

    @property
    def attempt(self) -> int:
        """The attempt its next request is (1: the first request, 2: a re-ask...)."""
        return len(self.answers) + 1

    def needs_request(self) -> bool:
        return self.result is None and self.pending is not None and self.inflight is None


class Article:
    """An article's calls and where they stand; :meth:`advance` moves it on."""

    def __init__(
        self, item: BatchItem, generation: int, summarizer: Summarizer,
        price: Price | None, live_price: Price | None,
    ) -> None:  # fmt: skip
        self.item = item
        self.generation = generation
        self.summarizer = summarizer
        self.price = price  # the batch price
        self.live_price = live_price
        self.units: dict[str, Unit] = {}
        self.plan: ArticleCalls | None = None
        self.merging: tuple[list[ArticleSummary], list[Part]] | None = None
        self.line: Line | None = None  # set once it ends
        self.failed = False  # its line is an error
        self.admitted = False  # counted against --max-cost

    # -- answers in ----------------------------------------------------------------

    def start(self, language: str | None) -> None:
        """Plan its calls (the cache may answer them); a bad article ends here."""
        item = self.item
        if item.error is not None:
            self._fail(item.error)
            return
        assert item.text is not None
        try:
            self.plan = self.summarizer.plan_calls(
                item.text, source=item.source, title=item.title, language=language,
                input_meta=item.meta,
            )  # fmt: skip
            if self.plan.whole is not None:
                self.units["w"] = Unit("w", self.plan.whole)
            else:
                for i, call in enumerate(self.summarizer.part_calls(self.plan), 1):
                    self.units[f"p{i}"] = Unit(f"p{i}", call)
        except SummarizerError as e:
            self._fail(e)

    def answered(self, unit: str, attempt: int, answer: Answer) -> bool:
        """A batch's answer to ``unit``'s request ``attempt``; False if not expected."""
        u = self.units.get(unit)
        if u is None or u.result is not None or attempt != u.attempt:
            return False
        u.answers.append(answer)
        u.inflight = None
        u.pending = None
        return True

    def request_failed(self, unit: str, attempt: int, why: str) -> bool:
        u = self.units.get(unit)
        if u is None or u.result is not None or attempt != u.attempt:
            return False
        u.failures[attempt] = u.failures.get(attempt, 0) + 1
        u.last_failure = why
        u.inflight = None
        return True

    # -- moving on -------------------------------------------------------------------

    def advance(self, send: Send | None = None) -> Line | None:
        """Replay the calls that had news; the article's line once it ends. With
        ``send``, requests go live instead of waiting for a batch."""
        if self.line is not None:
            return None
        try:
            self._advance(send)
        except SummarizerError as e:
            self._fail(e)
        if self.line is None:
            done = self._merged()
            if done is not None:
                self.line = self._success(done)
        return self.line

    def _advance(self, send: Send | None) -> None:
        tries = self.summarizer.settings.max_transport_retries + 1
        for u in list(self.units.values()):
            if u.result is not None or u.inflight is not None:
                continue
            if u.call.cached is not None:
                u.result = u.call.cached
                continue
            if u.pending is not None and send is None:
                if u.failures.get(u.attempt, 0) >= tries:
                    error = ProviderError(
                        f"the Batch API failed this request {tries} times; last: {u.last_failure}",
                        provider=self.summarizer.backend.model,
                        attempts=tries,
                    )
                    error.meta = u.pending.stats.as_meta()
                    raise error
                continue  # waits for the next round
            self._replay(u, send)
        if self.merging is None and self.plan is not None and self.plan.parts:
            parts = [self.units[f"p{i}"].result for i in range(1, len(self.plan.parts) + 1)]
            if all(p is not None for p in parts):
                call, shifted, spans = self.summarizer.key_call(
                    self.plan, [p for p in parts if p is not None]
                )
                self.merging = shifted, spans
                self.units["k"] = Unit("k", call)
                self._advance(send)

    def _replay(self, u: Unit, send: Send | None) -> None:
        s = self.summarizer
        calllog.label(source=u.call.source, prompt=s.prompt.ref)
        assert isinstance(s.extractor, Extractor)  # a model's: the engine refuses the rest
        outcome = replay(
            s.extractor, u.call.messages, u.call.params, Grounder(u.call.text), u.answers,
            seen=u.seen, send=send,
        )  # fmt: skip
        u.seen = len(u.answers)
        if isinstance(outcome, Extraction):
            live = outcome.stats.attempts[len(u.answers) :]
            u.live_usage = (
                sum(a["prompt_tokens"] or 0 for a in live),
                sum(a["completion_tokens"] or 0 for a in live),
            )
            u.result = s.finish_call(u.call, outcome)
        else:
            u.pending = outcome

    def _merged(self) -> ArticleSummary | None:
        if self.plan is None or any(u.result is None for u in self.units.values()):
            return None
        if self.plan.whole is not None:
            return self.units["w"].result
        key = self.units.get("k")
        if key is None or key.result is None or self.merging is None:
            return None
        return self.summarizer.merge_parts(self.plan, *self.merging, key.result)

    # -- lines ---------------------------------------------------------------------------

    def _fail(self, error: SummarizerError) -> None:
        """Its error line; the tokens it cost are priced as batch tokens."""
        self.failed = True
        self.line = error_record(self.item.id, self.item.source, error, self.price)

    def _success(self, summary: ArticleSummary) -> Line:
        price, live = self.price, self.live_price
        record, line = success_record(self.item.id, self.item.source, summary, price)
        if record["cached"]:
            return record, line
        live_in = sum(u.live_usage[0] for u in self.units.values())
        live_out = sum(u.live_usage[1] for u in self.units.values())
        usage = record["usage"]
        batch_in = usage["prompt_tokens"] - live_in
        batch_out = usage["completion_tokens"] - live_out
        if price is None or (live is None and (live_in or live_out)):
            cost = None
        else:
            cost = price.cost(batch_in, batch_out) + (live.cost(live_in, live_out) if live else 0)
        record["cost_usd"] = cost
        meta_usage = summary.meta.get("usage")
        if isinstance(meta_usage, dict) and "cost_usd" in meta_usage and price and cost is not None:
            # What this summary cost, as the live engine records it, at the batch price.
            meta_usage["cost_usd"] = round(cost, 9)
            meta_usage["price"] = {
                "input": price.input, "output": price.output, "source": price.source,
            }  # fmt: skip
        head = json.dumps(record, ensure_ascii=False)
        return record, f'{head[:-1]}, "summary": {summary.model_dump_json()}}}'
