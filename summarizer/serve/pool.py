"""One :class:`~summarizer.pipeline.Summarizer` per settings a request asks for, reused.

A ``Summarizer`` holds a loaded prompt, a model client and its connection pool (or
the embedded model itself), so building one per request would pay for all of that
every time. Requests name a model, a prompt and strictness; each distinct
combination gets one ``Summarizer``, resolved exactly as the command line resolves
its flags (:meth:`~summarizer.settings.Settings.resolve`: the request's field, then
the server's ``--model``/``--base-url``, the environment, the config file, the
defaults) and kept for the next request with the same settings. The pool is bounded
(a client could name endless models); the least recently used entry is closed once
no request holds it, except the server's default, which stays.

What a request may not ask for, because it would reach past what the operator set
up: a model file on the server's disk (``local:/path``, unless it is the server's
own model) and a model on another endpoint than the server's (``ollama/x`` would
send requests to a port on the server's own machine). Prompt files are refused by
the request schema (only ``NAME@VERSION``).
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from summarizer.backends import Composer
from summarizer.cache import ResponseCache
from summarizer.contract import ArticleSummary
from summarizer.errors import ConfigurationError
from summarizer.inputs import Article
from summarizer.pipeline import Summarizer
from summarizer.settings import LOCAL, Settings

_NO_MODEL = ("rules", "baseline")


@dataclass
class Entry:
    """A pooled ``Summarizer`` and who holds it; ``lock`` serializes the embedded
    model, which generates one answer at a time."""

    summarizer: Summarizer
    users: int = 0
    evicted: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def in_thread(self) -> bool:
        """Whether it computes in this process (no-model methods, the embedded model):
        then it runs in a worker thread, so the server keeps answering meanwhile."""
        return bool(getattr(self.summarizer.backend, "runs_locally", False))

    @property
    def one_at_a_time(self) -> bool:
        """The embedded model: one generation per process at a time (``lock``)."""
        return self.in_thread and not isinstance(self.summarizer.backend, Composer)

    def run(self, article: Article, title: str | None, language: str | None) -> ArticleSummary:
        """Summarize in this thread (call it in a worker thread when :attr:`in_thread`)."""

        def summarize() -> ArticleSummary:
            return self.summarizer.summarize(
                article.text, source=article.source, title=title or article.title,
                language=language, input_meta=article.meta,
            )  # fmt: skip

        if self.one_at_a_time:
            with self.lock:
                return summarize()
        return summarize()

    async def arun(
        self, article: Article, title: str | None, language: str | None
    ) -> ArticleSummary:
        """Summarize on the event loop: for models behind an endpoint, whose work here is
        waiting (not for :attr:`in_thread` entries, which would stall the loop)."""
        return await self.summarizer.asummarize(
            article.text, source=article.source, title=title or article.title,
            language=language, input_meta=article.meta,
        )  # fmt: skip


class SummarizerPool:
    """See the module docstring. Build it where blocking is fine (the default
    ``Summarizer`` is built at once, so a bad setting fails before serving)."""

    def __init__(
        self, server: Mapping[str, Any], cache: ResponseCache | None, size: int = 16
    ) -> None:
        self._server = dict(server)
        self._cache = cache
        self._size = size
        self._entries: OrderedDict[Settings, Entry] = OrderedDict()
        self._building = asyncio.Lock()
        # Resolved once per (model, prompt, strict): the environment and the config
        # file as they were then, as for a command line run.
        self._resolved: dict[tuple[str | None, str | None, bool], Settings] = {}
        self.default = Settings.resolve(**self._server)
        self._entries[self.default] = Entry(Summarizer(self.default, cache=cache))

    @property
    def default_summarizer(self) -> Summarizer:
        return self._entries[self.default].summarizer

    def settings_for(self, model: str | None, prompt: str | None, strict: bool | None) -> Settings:
        """The settings for a request's fields; ConfigurationError when it asks for
        what the module docstring says it may not."""
        asked = (model, prompt, bool(strict))
        settings = self._resolved.get(asked)
        if settings is None:
            given = {"model": model, "prompt": prompt, "strict": strict or None}
            settings = Settings.resolve(**{**self._server, **{k: v for k, v in given.items() if v}})
            if len(self._resolved) >= 256:  # names are the clients': bounded
                self._resolved.clear()
            self._resolved[asked] = settings
        ref, server = settings.model_ref, self.default
        if ref.provider in _NO_MODEL or settings.model == server.model:
            return settings
        if ref.provider == LOCAL:  # a model file on the server: never a client's choice
            raise ConfigurationError(
                f"model {settings.model!r}: a request cannot load a model on the server; "
                "start the server with --model local[:PATH] to serve one"
            )
        if settings.effective_base_url != server.effective_base_url:
            where = server.effective_base_url or "OpenAI's endpoint"
            raise ConfigurationError(
                f"model {settings.model!r} is served elsewhere ({settings.effective_base_url}); "
                f"this server sends model requests to {where} only (its --base-url)"
            )
        return settings

    @asynccontextmanager
    async def lease(self, settings: Settings) -> AsyncIterator[Entry]:
        """The pooled entry for ``settings``, built on first use (in a thread: it may
        import the model SDK), held for the block."""
        entry = self._entries.get(settings)
        if entry is None:
            async with self._building:
                entry = self._entries.get(settings)
                if entry is None:
                    built = await asyncio.to_thread(Summarizer, settings, cache=self._cache)
                    entry = self._entries[settings] = Entry(built)
        entry.users += 1  # from here on, eviction leaves it open until it is released
        try:
            if settings in self._entries:
                self._entries.move_to_end(settings)
            await self._evict()
            yield entry
        finally:
            entry.users -= 1
            if entry.evicted and entry.users == 0:
                await entry.summarizer.aclose()

    async def _evict(self) -> None:
        while len(self._entries) > self._size:
            settings = next(s for s in self._entries if s != self.default)
            entry = self._entries.pop(settings)
            entry.evicted = True
            if entry.users == 0:
                await entry.summarizer.aclose()

    async def aclose(self) -> None:
        for entry in self._entries.values():
            await entry.summarizer.aclose()
        self._entries.clear()
