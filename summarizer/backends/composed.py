"""The extraction step for a :class:`~summarizer.backends.base.Composer`: a summary
that a method wrote itself (``--model rules``, the baselines) through the checks every
composed summary gets (:func:`~summarizer.grounding.ground_composed`).

Apart from :mod:`summarizer.backends.extraction` because nothing here asks a model:
no re-ask loop, so neither Instructor nor the OpenAI SDK is imported (about 1 s of
start-up that the offline default used to pay for nothing).
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import ValidationError

from summarizer.backends.base import Backend, CallStats, Composer, Extraction, Messages
from summarizer.contract import ArticleSummary
from summarizer.errors import InvalidOutputError, UngroundedError
from summarizer.grounding import Grounder, ground_composed
from summarizer.redact import one_line


class ComposedExtractor:
    """Has a composer write the summary, then checks it with the drop policy: the
    same input gives the same answer, so there is nobody to re-ask."""

    def __init__(self, backend: Backend, *, strict: bool = False) -> None:
        if not isinstance(backend, Composer):
            raise TypeError(f"{backend.model} is not a Composer")
        self.backend = backend
        self.composer: Composer = backend
        self.strict = strict

    def prepare(self) -> None:
        """Nothing to build: there is no response model or schema to send."""

    def extract(
        self,
        messages: Messages,
        params: dict[str, Any],
        grounder: Grounder,
        *,
        title: str | None = None,
    ) -> Extraction:
        """The composer's summary of ``grounder``'s article (``messages`` and
        ``params`` are a model's, unread here)."""
        stats = CallStats()
        data = self.composer.compose(grounder.aligner.text, title, stats)
        return self._checked(data, grounder, stats)

    async def aextract(
        self,
        messages: Messages,
        params: dict[str, Any],
        grounder: Grounder,
        *,
        title: str | None = None,
    ) -> Extraction:
        """Async :meth:`extract`."""
        stats = CallStats()
        data = await self.composer.acompose(grounder.aligner.text, title, stats)
        return self._checked(data, grounder, stats)

    def _checked(self, data: dict[str, Any], grounder: Grounder, stats: CallStats) -> Extraction:
        """The prompt's limits do not apply here: no model reads the prompt."""
        try:
            summary = ArticleSummary.model_validate(data, strict=False)
            report = ground_composed(summary, grounder.aligner.text, author=self.backend.model)
        except ValidationError as e:
            raise InvalidOutputError(
                f"{self.backend.model} composed an invalid summary: {one_line(str(e))}",
                meta=stats.as_meta(),
            ) from e
        except InvalidOutputError as e:
            if not e.meta:
                e.meta = stats.as_meta()
            raise
        finally:
            stats.latency_s = time.perf_counter() - stats.started
        if self.strict and report.dropped:
            first = report.dropped[0]
            raise UngroundedError(
                f"--strict: {len(report.dropped)} item(s) lack support in the "
                f"article; first: {first.section}: {first.reason}",
                meta=stats.as_meta(),
            )
        return Extraction(summary, stats, report)
