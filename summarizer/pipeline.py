"""From article text to a grounded :class:`ArticleSummary`: the library's core.

:class:`Summarizer` holds settings, the loaded prompt and the model client for
repeated use; :func:`summarize` and :func:`asummarize` are one-shot conveniences.
The CLI is a thin layer over these.

It is one module because every step here has a sync and an async twin (whole
article, parts, key summary), and the twins must change together: apart, they
drifted before (tests/test_pipeline.py now compares their requests and results).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from pydantic import ValidationError

from summarizer import calllog, catalog
from summarizer._version import __version__
from summarizer.backends import Backend, Composer, Messages, Throttle, backend_for
from summarizer.backends.base import Extraction, max_reasks_for
from summarizer.cache import ResponseCache, cache_key
from summarizer.chunking import Part, paragraph_spans, split_article
from summarizer.contract import SCHEMA_VERSION, ArticleSummary, contract_warnings
from summarizer.errors import ArticleTooLongError, ConfigurationError
from summarizer.grounding import Grounder
from summarizer.inputs import check_text
from summarizer.merge import combine, digest, shift
from summarizer.prompts import Prompt, load_prompt
from summarizer.settings import Settings
from summarizer.tokens import CHARS_PER_TOKEN, answer_tokens

if TYPE_CHECKING:
    import httpx

    from summarizer.backends.composed import ComposedExtractor
    from summarizer.backends.extraction import Extractor

_LOG = logging.getLogger(__name__)
Request = tuple[Messages, dict[str, Any]]  # messages and generation parameters

# The modules that turn a model's answer into the summary we store: a change to any
# of them changes what a cached answer would become, so it is part of the cache key.
_ANSWER_CODE = (
    "grounding.py", "support.py", "item_support.py", "quotes.py", "names.py", "numbers.py",
    "similarity.py", "text.py", "merge.py", "chunking.py", "pipeline.py",
    "contract/models.py", "contract/llm_schema.py", "contract/warnings.py",
    "backends/extraction.py",
)  # fmt: skip


@cache
def code_fingerprint() -> str:
    """sha256 over the source of the modules in ``_ANSWER_CODE``."""
    package = Path(__file__).resolve().parent
    digest_ = hashlib.sha256()
    for name in _ANSWER_CODE:
        digest_.update(name.encode())
        digest_.update((package / name).read_bytes())
    return digest_.hexdigest()


class Summarizer:
    """A configured summarizer; reuse one for many articles.

    >>> s = Summarizer(model="openai/gpt-4o-mini")          # doctest: +SKIP
    >>> s.summarize(text).key_summary.headline               # doctest: +SKIP

    Keyword overrides are settings fields (see :class:`~summarizer.settings.Settings`);
    unset ones are resolved from the environment, then defaults.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        backend: Backend | None = None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        cache: ResponseCache | None = None,
        throttle: Throttle | None = None,
        **overrides: Any,
    ) -> None:
        if settings is None:
            settings = Settings.resolve(**overrides)
        elif overrides:
            settings = settings.with_(**overrides)
            settings.validate()
        self.settings = settings
        #: The model behind this summarizer (built from ``settings`` unless given).
        self.backend: Backend = backend or backend_for(
            settings,
            http_client=http_client,
            async_http_client=async_http_client,
            throttle=throttle,
        )
        self.prompt: Prompt = load_prompt(settings.prompt or self.backend.default_prompt)
        self.extractor: Extractor | ComposedExtractor
        # Asked once: a runtime-checkable Protocol's isinstance walks its members, 20 µs.
        self._composes = isinstance(self.backend, Composer)
        if self._composes:
            # No model to ask: neither Instructor nor the SDK is imported.
            from summarizer.backends.composed import ComposedExtractor

            self.extractor = ComposedExtractor(self.backend, strict=settings.strict)
        else:
            from summarizer.backends.extraction import Extractor

            self.extractor = Extractor(
                self.backend,
                limits=self.prompt.spec.limits.as_tuple(),
                max_reasks=max_reasks_for(self.backend, settings.max_reasks),
                strict=settings.strict,
            )
        self.cache = cache
        reasks = getattr(self.extractor, "max_reasks", None)
        _LOG.info("model %s%s", self.backend.model, " (no model calls)" if reasks is None else
                  f" ({getattr(self.backend, 'where', 'in this process')}), prompt "
                  f"{self.prompt.ref}, up to {reasks} re-asks")  # fmt: skip

    # -- lifecycle -------------------------------------------------------------------

    def prepare(self) -> None:
        """Do now the one-time work of a first article: compile the prompt's
        templates, build the response model, and the backend's own (import the HTTP
        stack, or load the embedded model). A batch calls this before forking."""
        self.prompt.render("")
        self.extractor.prepare()
        self.backend.prepare()

    def close(self) -> None:
        self.backend.close()

    async def aclose(self) -> None:
        await self.backend.aclose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- the job ---------------------------------------------------------------------

    def summarize(
        self,
        text: str,
        *,
        source: str = "<text>",
        title: str | None = None,
        language: str | None = None,
        input_meta: dict[str, Any] | None = None,
    ) -> ArticleSummary:
        """Summarize one article; every quote in the result is located in ``text``.

        ``input_meta`` (e.g. :attr:`Article.meta`: URL, extractor) is recorded with
        ``source`` and ``title`` as ``meta["input"]``. An article over the model's
        context budget is summarized in parts and merged (see :mod:`summarizer.merge`).
        """
        record = _input_record(source, title, input_meta)
        whole, key, cached = self._lookup_whole(text, source, title, language, record)
        if cached is not None:
            return cached
        parts = self._plan(text, whole, title, language, source)
        if parts is None:
            extraction = self.extractor.extract(*whole, Grounder(text), title=title)
            return self._store(key, self._finish(extraction, source, record))
        summaries = [
            shift(self._summarize_one(text[p.start : p.end], _part_source(source, i),
                                      title, language, record), p.start)
            for i, p in enumerate(parts)
        ]  # fmt: skip
        spans, digest_text = self._digest(text, summaries)
        keyed = self._summarize_one(digest_text, f"{source}#key-summary", title, language, record)
        return self._priced(combine(
            text, [(p.start, p.end) for p in parts], summaries,
            [(p.start, p.end) for p in spans], keyed, source, record,
        ))  # fmt: skip

    async def asummarize(
        self,
        text: str,
        *,
        source: str = "<text>",
        title: str | None = None,
        language: str | None = None,
        input_meta: dict[str, Any] | None = None,
    ) -> ArticleSummary:
        """Async :meth:`summarize`; uses ``AsyncOpenAI`` for remote models, and
        summarizes the parts of a long article concurrently."""
        record = _input_record(source, title, input_meta)
        whole, key, cached = self._lookup_whole(text, source, title, language, record)
        if cached is not None:
            return cached
        parts = self._plan(text, whole, title, language, source)
        if parts is None:
            extraction = await self.extractor.aextract(*whole, Grounder(text), title=title)
            return self._store(key, self._finish(extraction, source, record))
        done = await asyncio.gather(
            *(
                self._asummarize_one(text[p.start : p.end], _part_source(source, i),
                                     title, language, record)
                for i, p in enumerate(parts)
            )
        )  # fmt: skip
        summaries = [shift(s, p.start) for s, p in zip(done, parts, strict=True)]
        spans, digest_text = self._digest(text, summaries)
        keyed = await self._asummarize_one(
            digest_text, f"{source}#key-summary", title, language, record
        )
        return self._priced(combine(
            text, [(p.start, p.end) for p in parts], summaries,
            [(p.start, p.end) for p in spans], keyed, source, record,
        ))  # fmt: skip

    # -- one call at a time, answered later (the Batch API engine) ----------------------
    # The steps of summarize(), apart, for a caller whose answers arrive hours later
    # (summarizer.batch.openai_batch): it sends each Call's request and hands the
    # answers to summarizer.backends.replay, which runs the extractor over them.

    def plan_calls(
        self, text: str, *, source: str, title: str | None = None,
        language: str | None = None, input_meta: dict[str, Any] | None = None,
    ) -> ArticleCalls:  # fmt: skip
        """What summarizing ``text`` takes: one call (maybe answered by the cache), or
        one per part and then :meth:`key_call` (``parts`` is set)."""
        record = _input_record(source, title, input_meta)
        whole, key, cached = self._lookup_whole(text, source, title, language, record)
        parts = None if cached is not None else self._plan(text, whole, title, language, source)
        call = None if parts else Call(text, source, title, *whole, key, record, cached)
        return ArticleCalls(text, source, title, language, record, call, parts)

    def part_calls(self, article: ArticleCalls) -> list[Call]:
        """One call per part of a long article (as :meth:`summarize` makes them)."""
        assert article.parts is not None
        return [
            self._call(article.text[p.start : p.end], _part_source(article.source, i), article)
            for i, p in enumerate(article.parts)
        ]

    def key_call(
        self, article: ArticleCalls, summaries: list[ArticleSummary]
    ) -> tuple[Call, list[ArticleSummary], list[Part]]:
        """The key-summary call over the parts' ``summaries`` (each part's own
        offsets), and those summaries shifted into the article, and the digest's spans."""
        assert article.parts is not None
        shifted = [shift(s, p.start) for s, p in zip(summaries, article.parts, strict=True)]
        spans, digest_text = self._digest(article.text, shifted)
        return self._call(digest_text, f"{article.source}#key-summary", article), shifted, spans

    def finish_call(self, call: Call, extraction: Extraction) -> ArticleSummary:
        """A call's summary from its extraction, stored in the cache as live."""
        return self._store(call.key, self._finish(extraction, call.source, call.record))

    def merge_parts(
        self, article: ArticleCalls, shifted: list[ArticleSummary], spans: list[Part],
        keyed: ArticleSummary,
    ) -> ArticleSummary:  # fmt: skip
        """A long article's summary from :meth:`key_call`'s parts and its answer."""
        assert article.parts is not None
        return self._priced(combine(
            article.text, [(p.start, p.end) for p in article.parts], shifted,
            [(p.start, p.end) for p in spans], keyed, article.source, article.record,
        ))  # fmt: skip

    def _call(self, text: str, source: str, article: ArticleCalls) -> Call:
        messages, params = self._prepare(text, source, article.title, article.language)
        key = self._cache_key(text, messages, params)
        cached = self._cached(key, source, article.record)
        return Call(text, source, article.title, messages, params, key, article.record, cached)

    def _lookup_whole(
        self, text: str, source: str, title: str | None, language: str | None,
        record: dict[str, Any],
    ) -> tuple[Request, str | None, ArticleSummary | None]:  # fmt: skip
        """The request for the whole article, its cache key, and the cached answer if
        any: looked up before anything is counted, so a hit never loads a model."""
        check_text(text, source)
        calllog.label(source=source, prompt=self.prompt.ref)
        if language and self._composes:
            raise ConfigurationError(
                f"--language {language}: {self.settings.model} writes with the article's own "
                "sentences and cannot translate; use a model for another language"
            )
        request = self.prompt.render(text, title=title, language=language), self.generation_params()
        key = self._cache_key(text, *request)
        return request, key, self._cached(key, source, record)

    def _summarize_one(
        self, text: str, source: str, title: str | None, language: str | None,
        record: dict[str, Any],
    ) -> ArticleSummary:  # fmt: skip
        """One call for a part of a long article, or for its key summary."""
        messages, params = self._prepare(text, source, title, language)
        key = self._cache_key(text, messages, params)
        cached = self._cached(key, source, record)
        if cached is not None:
            return cached
        extraction = self.extractor.extract(messages, params, Grounder(text), title=title)
        return self._store(key, self._finish(extraction, source, record))

    async def _asummarize_one(
        self, text: str, source: str, title: str | None, language: str | None,
        record: dict[str, Any],
    ) -> ArticleSummary:  # fmt: skip
        """Async :meth:`_summarize_one`."""
        messages, params = self._prepare(text, source, title, language)
        key = self._cache_key(text, messages, params)
        cached = self._cached(key, source, record)
        if cached is not None:
            return cached
        extraction = await self.extractor.aextract(messages, params, Grounder(text), title=title)
        return self._store(key, self._finish(extraction, source, record))

    # -- long articles -----------------------------------------------------------------

    def _plan(
        self, text: str, whole: Request, title: str | None, language: str | None, source: str
    ) -> list[Part] | None:
        """The parts to summarize ``text`` in; ``None`` when its request ``whole``
        fits the model's context."""
        messages, params = whole
        out = answer_tokens(params)
        budget = self.backend.context_window()
        needed = self.backend.count_messages(messages)
        if needed + out <= budget:
            return None
        overhead = self.backend.count_messages(
            self.prompt.render("", title=title, language=language)
        )
        room = budget - out - overhead
        most = self.settings.max_parts
        count = self.backend.count_text
        estimate = math.ceil(count(text) / max(room, 1))
        if room < 200 or estimate > most or most == 1:
            raise ArticleTooLongError(
                f"{source}: the prompt is about {needed} tokens and the answer needs "
                f"{out}, over {self.settings.model}'s context of {budget} tokens"
                + (
                    "; --max-parts 1 turned splitting off"
                    if most == 1
                    else f", and splitting it would take about {estimate} parts "
                    f"(--max-parts {most}); use a model with a larger context"
                )
            )
        parts = split_article(text, room, count)
        if len(parts) > most:
            raise ArticleTooLongError(
                f"{source}: splitting it for {self.settings.model}'s context takes "
                f"{len(parts)} parts, over --max-parts {most}"
            )
        return parts

    def _digest(self, text: str, summaries: list[ArticleSummary]) -> tuple[list[Part], str]:
        """The key-summary call's input (see :mod:`summarizer.merge`): it must fit
        in one call, so it gets the room of one part."""
        params = self.generation_params()
        out = answer_tokens(params)
        overhead = self.backend.count_messages(self.prompt.render(""))
        room_tokens = self.backend.context_window() - out - overhead
        room_chars = int(room_tokens * CHARS_PER_TOKEN * 0.9)
        spans = digest(text, summaries, room_chars)
        if not spans:  # no key point survived in any part: the opening paragraphs
            used = 0
            for start, end in paragraph_spans(text):
                if spans and used + end - start > room_chars:
                    break
                spans.append((start, min(end, start + room_chars)))
                used += end - start + 2
        return [Part(s, e) for s, e in spans], "\n\n".join(text[s:e] for s, e in spans)

    # -- cache -----------------------------------------------------------------------

    def _cache_key(
        self, text: str, messages: list[dict[str, str]], params: dict[str, Any]
    ) -> str | None:
        if self.cache is None:
            return None
        s = self.settings
        return cache_key(
            {
                "article_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                "messages_sha256": hashlib.sha256(
                    json.dumps(messages, ensure_ascii=False).encode("utf-8")
                ).hexdigest(),
                "prompt": [self.prompt.name, self.prompt.version, self.prompt.sha256],
                "backend": self.backend.cache_identity(),
                "params": params,
                "strict": s.strict,
                "max_reasks": getattr(self.extractor, "max_reasks", None),
                "schema_version": SCHEMA_VERSION,
                "code": code_fingerprint(),
            }
        )

    def _cached(
        self, key: str | None, source: str, record: dict[str, Any]
    ) -> ArticleSummary | None:
        if key is None or self.cache is None:
            return None
        data = self.cache.get(key)
        if data is None:
            return None
        try:
            summary = ArticleSummary.model_validate(data)
        except ValidationError:  # an entry that no longer fits the contract: a miss
            return None
        summary.meta["source"] = source
        summary.meta["input"] = record  # same text, maybe another page or URL
        summary.meta["cache"] = {"hit": True, "key": key}
        _LOG.info("%s: the answer cache has its summary (no model call)", source)
        return summary

    def _store(self, key: str | None, summary: ArticleSummary) -> ArticleSummary:
        if key is not None and self.cache is not None:
            self.cache.put_json(key, summary.model_dump_json())
            summary.meta["cache"] = {"hit": False, "key": key}
        return summary

    def generation_params(self) -> dict[str, Any]:
        """The parameters sent with each request: prompt defaults, then settings,
        as the backend names and filters them."""
        defaults = self.prompt.spec.parameters.model_dump(exclude_none=True)
        if self.settings.temperature is not None:
            defaults["temperature"] = self.settings.temperature
        if self.settings.max_tokens is not None:
            defaults["max_tokens"] = self.settings.max_tokens
        defaults["prompt_format"] = self.prompt.spec.format
        return self.backend.request_params(defaults)

    def _prepare(
        self, text: str, source: str, title: str | None, language: str | None
    ) -> tuple[list[dict[str, str]], dict[str, Any]]:
        check_text(text, source)
        calllog.label(source=source, prompt=self.prompt.ref)
        messages = self.prompt.render(text, title=title, language=language)
        params = self.generation_params()
        self._check_budget(messages, params, source)
        return messages, params

    def _check_budget(
        self, messages: list[dict[str, str]], params: dict[str, Any], source: str
    ) -> None:
        budget = self.backend.context_window()
        out = answer_tokens(params)
        needed = self.backend.count_messages(messages)
        if needed + out > budget:
            raise ArticleTooLongError(
                f"{source}: the prompt is about {needed} tokens and the answer needs "
                f"{out}, over {self.settings.model}'s context of {budget} tokens; "
                "use a model with a larger context"
            )

    def _model_meta(self) -> dict[str, Any]:
        """What wrote the summary: the backend, and for a model the prompt and the
        parameters it was sent (a no-model method reads neither, so records neither)."""
        if self._composes:
            return self.backend.describe()
        return {
            "prompt": {
                "name": self.prompt.name,
                "version": self.prompt.version,
                "sha256": self.prompt.sha256,
            },
            **self.backend.describe(),
            "parameters": self.generation_params(),
        }

    def _finish(
        self, extraction: Extraction, source: str, record: dict[str, Any]
    ) -> ArticleSummary:
        summary = extraction.public()
        report = extraction.report
        summary.meta = {
            "summarizer_version": __version__,
            "schema_version": SCHEMA_VERSION,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "source": source,
            "input": record,
            **self._model_meta(),
            **extraction.stats.as_meta(),
            "grounding": report.as_meta(
                salvaged=extraction.salvaged,
                **({"last_error": extraction.last_error} if extraction.last_error else {}),
            ),
            "warnings": contract_warnings(summary),
        }
        return self._priced(summary)

    def _priced(self, summary: ArticleSummary) -> ArticleSummary:
        """Put what the summary's tokens cost in ``meta.usage``, when the model has a
        known price: ``cost_usd`` and ``price`` (USD per 1M tokens, and its source).

        Recorded when the summary is made, so a report read later shows what it cost
        then, at that day's price (a cached answer keeps its original call's cost, as
        its latency). The price is genai-prices' list price for a hosted model, 0 for
        one that runs on this machine; a model on a server of one's own has none (the
        user's price files are the batch ledger's, :mod:`summarizer.batch.pricing`):
        nothing is recorded then.
        """
        usage = summary.meta.get("usage")
        price = self._price()
        if isinstance(usage, dict) and price is not None:
            per_input, per_output, source = price
            cost = (
                int(usage.get("prompt_tokens") or 0) * per_input
                + int(usage.get("completion_tokens") or 0) * per_output
            ) / 1_000_000
            usage["cost_usd"] = round(cost, 9)
            usage["price"] = {"input": per_input, "output": per_output, "source": source}
        return summary

    def _price(self) -> tuple[float, float, str] | None:
        """USD per 1M input and output tokens and where the figures come from."""
        if self.backend.runs_locally:
            return 0.0, 0.0, "runs on this machine"
        ref = self.settings.model_ref
        facts = catalog.facts_for(ref.provider, ref.name, self.settings.effective_base_url)
        if facts is None or facts.input is None or facts.output is None:
            return None
        return facts.input, facts.output, catalog.source()


@dataclass
class Call:
    """One model call of an article, ready to send: the text its answer is grounded
    in, the request, its cache key and the cached summary if there is one."""

    text: str
    source: str
    title: str | None
    messages: Messages
    params: dict[str, Any]
    key: str | None
    record: dict[str, Any]
    cached: ArticleSummary | None


@dataclass
class ArticleCalls:
    """An article's calls (see :meth:`Summarizer.plan_calls`): ``whole``, or ``parts``."""

    text: str
    source: str
    title: str | None
    language: str | None
    record: dict[str, Any]
    whole: Call | None
    parts: list[Part] | None


def _part_source(source: str, index: int) -> str:
    return f"{source}#part{index + 1}"


def _input_record(
    source: str, title: str | None, input_meta: dict[str, Any] | None
) -> dict[str, Any]:
    """``meta["input"]``: how the article text was obtained, plus its source and title."""
    return {"source": source, "title": title, **(input_meta or {"kind": "text"})}


def summarize(
    text: str,
    *,
    model: str | None = None,
    prompt: str | None = None,
    source: str = "<text>",
    title: str | None = None,
    language: str | None = None,
    backend: Backend | None = None,
    **settings: Any,
) -> ArticleSummary:
    """Summarize ``text`` once; see :class:`Summarizer` for repeated use and for
    what ``source``, ``title`` and ``language`` do."""
    with Summarizer(model=model, prompt=prompt, backend=backend, **settings) as s:
        return s.summarize(text, source=source, title=title, language=language)


async def asummarize(
    text: str,
    *,
    model: str | None = None,
    prompt: str | None = None,
    source: str = "<text>",
    title: str | None = None,
    language: str | None = None,
    backend: Backend | None = None,
    **settings: Any,
) -> ArticleSummary:
    """Async :func:`summarize`."""
    async with Summarizer(model=model, prompt=prompt, backend=backend, **settings) as s:
        return await s.asummarize(text, source=source, title=title, language=language)
