"""How far the embedded model is in writing an answer: tokens, time, tokens/s.

A small model on two cores takes a minute or more per answer, and a person watching
the CLI should see that it is working. The library keeps no terminal code: it hands
:class:`GenerationProgress` to an ``on_progress`` callable (the CLI's live status line
is one; see ``summarizer.cli.status``) at most :data:`UPDATE_INTERVAL_S` apart, and
logs a plain line on the ``summarizer.local`` logger every :data:`LOG_INTERVAL_S`
(INFO, so it shows only where logging is configured, e.g. the CLI's ``-v``) and one
when the answer is done; their records carry ``progress="periodic"`` or ``"done"``,
so a live display can drop the periodic ones it already shows.

Tokens are counted where llama-cpp-python samples them (:func:`counting_samples`);
its streaming mode would count them too, but drops the usage counts that ``meta``
records, and a logits processor copies the whole vocabulary's logits per token.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

UPDATE_INTERVAL_S = 0.25
LOG_INTERVAL_S = 10.0

LOG = logging.getLogger("summarizer.local")


@dataclass(frozen=True)
class GenerationProgress:
    """One answer being written: a snapshot, safe to keep."""

    #: Tokens sampled so far.
    tokens: int
    #: Seconds since the request began (reading the prompt included).
    elapsed_s: float
    #: When the first token came, in seconds since the request began; None before.
    first_token_s: float | None
    #: The answer's token budget.
    max_tokens: int
    #: The answer is complete (the last update of this answer).
    done: bool = False

    @property
    def tokens_per_s(self) -> float | None:
        """Generation speed after the first token (reading the prompt is not
        generation); None until there are two tokens to measure between."""
        if self.first_token_s is None or self.tokens < 2:
            return None
        span = self.elapsed_s - self.first_token_s
        return (self.tokens - 1) / span if span > 0 else None

    def describe(self) -> str:
        """``"412 tokens in 20.1 s (first after 3.2 s, 24.3 tokens/s)"``."""
        text = f"{self.tokens} tokens in {self.elapsed_s:.1f} s"
        if self.first_token_s is None:
            return text + " (reading the prompt)"
        rate = self.tokens_per_s
        speed = f", {rate:.1f} tokens/s" if rate is not None else ""
        return text + f" (first after {self.first_token_s:.1f} s{speed})"


ProgressCallback = Callable[[GenerationProgress], None]


@runtime_checkable
class ReportsProgress(Protocol):
    """A backend that can tell how far an answer is (the embedded model)."""

    on_progress: ProgressCallback | None


class TokenMeter:
    """Counts one answer's tokens and reports them, cheaply: :meth:`tick` runs once
    per token on the generation thread, and only reads the clock unless a report
    is due."""

    def __init__(
        self,
        on_progress: ProgressCallback | None,
        max_tokens: int,
        *,
        interval_s: float = UPDATE_INTERVAL_S,
        log_interval_s: float = LOG_INTERVAL_S,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.on_progress = on_progress
        self.max_tokens = max_tokens
        self.interval_s = interval_s
        self.log_interval_s = log_interval_s if LOG.isEnabledFor(logging.INFO) else float("inf")
        self.clock = clock
        self.tokens = 0
        self.first_token_s: float | None = None
        self.started = clock()
        self._next_update = self.started + interval_s
        self._next_log = self.started + self.log_interval_s

    def snapshot(
        self, *, done: bool = False, tokens: int | None = None, now: float | None = None
    ) -> GenerationProgress:
        return GenerationProgress(
            tokens=self.tokens if tokens is None else tokens,
            elapsed_s=(self.clock() if now is None else now) - self.started,
            first_token_s=self.first_token_s,
            max_tokens=self.max_tokens,
            done=done,
        )

    def start(self) -> None:
        """The request began: the caller can show that the prompt is being read."""
        self._report(self.snapshot())

    def tick(self) -> None:
        self.tokens += 1
        now = self.clock()
        if self.first_token_s is None:
            self.first_token_s = now - self.started
        elif now < self._next_update and now < self._next_log:
            return
        if now >= self._next_log:
            LOG.info(
                "embedded model: %s",
                self.snapshot(now=now).describe(),
                extra={"progress": "periodic"},
            )
            self._next_log = now + self.log_interval_s
        if now >= self._next_update or self.tokens == 1:
            self._next_update = now + self.interval_s
            self._report(self.snapshot(now=now))

    def finish(self, tokens: int | None = None) -> GenerationProgress:
        """The answer is complete; ``tokens`` is llama.cpp's own count if known (the
        meter also counted the end-of-text token)."""
        final = self.snapshot(done=True, tokens=tokens)
        self._report(final)
        LOG.info("embedded model answered: %s", final.describe(), extra={"progress": "done"})
        return final

    def _report(self, progress: GenerationProgress) -> None:
        if self.on_progress is None:
            return
        try:
            self.on_progress(progress)
        except Exception:  # a display must never cost a minute of generation
            LOG.warning("the progress display failed; generation goes on", exc_info=True)
            self.on_progress = None


@contextlib.contextmanager
def counting_samples(llama: Any, meter: TokenMeter) -> Iterator[None]:
    """Within the block, every token ``llama`` samples ticks ``meter``.

    ``Llama.generate`` calls ``self.sample`` once per token, for plain and chat
    completions alike; an instance attribute shadows the method for this call only
    (the model's lock serializes calls). If a llama-cpp-python release stops calling
    it, generation is unchanged and only the count stays at 0 (the ``local_model``
    tests check that it moves).
    """
    original = llama.sample
    shadowed = "sample" in vars(llama)

    def sample(*args: Any, **kwargs: Any) -> Any:
        token = original(*args, **kwargs)
        meter.tick()
        return token

    llama.sample = sample
    try:
        yield
    finally:
        if shadowed:
            llama.sample = original
        else:
            del llama.sample
