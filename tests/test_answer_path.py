"""What a summary costs on the path of its answer, beyond the work itself.

* It leaves no reference cycles behind. A cycle is freed only by the garbage
  collector, and a collection over a busy process's young objects stops everything
  in it: in a ``summarizer serve`` worker the cycles tenacity's retry loops left
  (about 60 objects a summary) started one every 600 summaries or so, 25 to 47 ms
  each (measured), with every request in the worker waiting.
  :func:`summarizer.backends.retry.forget_run` breaks them; these tests fail when a
  change (ours, tenacity's or Instructor's) brings one back.
* What the article alone decides is read while the model answers, not after.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from instructor.v2.core import retry as instructor_retry

from summarizer import Summarizer
from summarizer.backends.extraction import REASK_ERRORS
from summarizer.cache import ResponseCache
from tests.fakeserver import FakeOpenAI, Reply, summary_reply

#: The packages a summary's objects come from. (The fake server runs in this process
#: too, on a thread and an event loop of its own; asyncio's selector transports are
#: in a cycle with their own read callback until the collector frees them.)
LIBRARY = ("summarizer", "tenacity", "instructor", "httpx", "openai", "pydantic")


@pytest.fixture
def gc_paused() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def _kind(o: object) -> str:
    return f"{type(o).__module__}.{type(o).__qualname__}"


def _cycles(run: Callable[[], Any]) -> collections.Counter[str]:
    """The kinds of object in a reference cycle among what ``run()`` left for the
    collector (not those merely reachable from one)."""
    gc.collect()  # what is left before, the last call's garbage among it, is freed
    run()
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.collect()
    garbage = list(gc.garbage)
    gc.garbage.clear()
    gc.set_debug(0)
    ids = {id(o) for o in garbage}

    def in_cycle(o: object) -> bool:
        seen: set[int] = set()
        todo = [r for r in gc.get_referents(o) if id(r) in ids]
        while todo:
            x = todo.pop()
            if x is o:
                return True
            if id(x) not in seen:
                seen.add(id(x))
                todo.extend(r for r in gc.get_referents(x) if id(r) in ids)
        return False

    return collections.Counter(_kind(o) for o in garbage if in_cycle(o))


def _library(kinds: collections.Counter[str]) -> dict[str, int]:
    return {k: n for k, n in kinds.items() if k.split(".")[0] in LIBRARY}


def test_summaries_leave_no_cycles(
    gc_paused: None, fake_openai: FakeOpenAI, seed_text: str, seed_summary: dict[str, Any],
    tmp_path: Path,
) -> None:  # fmt: skip
    fake_openai.responder = lambda body: summary_reply(seed_summary)
    cache = ResponseCache(tmp_path / "cache.sqlite")
    texts = (f"{seed_text}\n\n({i})" for i in range(100))  # each a cache miss, then stored
    with Summarizer(model="m", base_url=fake_openai.url, cache=cache) as s:
        s.summarize(next(texts))  # the first calls build what the process keeps
        asyncio.run(s.asummarize(next(texts)))
        in_sync = _cycles(lambda: [s.summarize(next(texts)) for _ in range(5)])
        in_async = _cycles(lambda: asyncio.run(_many(s, [next(texts) for _ in range(5)])))
    cache.close()
    assert _library(in_async) == {}  # a server's and a batch's path: none at all
    # The sync one (one article from the command line) has httpx.Client's own cycle
    # between an answer and its stream, which only httpx could avoid; none of ours.
    assert _library(in_sync).keys() <= {"httpx.Response", "httpx._client.BoundSyncStream"}


def test_a_reask_leaves_no_retry_loop_behind(
    gc_paused: None, fake_openai: FakeOpenAI, seed_text: str, seed_summary: dict[str, Any]
) -> None:
    """A rejected answer raises (exceptions and their frames are in cycles, as in any
    Python program), but the re-ask loop itself is freed with the call."""
    bad = copy.deepcopy(seed_summary)
    bad["key_summary"]["key_points"][0]["evidence"][0]["quote"] = "a sentence that is not there."
    with Summarizer(model="m", base_url=fake_openai.url) as s:
        fake_openai.queue(summary_reply(bad), summary_reply(seed_summary))
        asyncio.run(s.asummarize(seed_text))
        fake_openai.queue(summary_reply(bad), summary_reply(seed_summary))
        kinds = _cycles(lambda: asyncio.run(s.asummarize(seed_text)))
    assert len(fake_openai.requests) == 4
    assert not [k for k in kinds if k.startswith("tenacity.")], kinds


def test_reasks_are_instructors_own() -> None:
    """The re-ask loop we hand Instructor re-asks on what its own would."""
    assert set(REASK_ERRORS) == set(instructor_retry._RETRYABLE_PARSE_ERRORS)


async def _many(s: Summarizer, texts: list[str]) -> None:
    summaries = await asyncio.gather(*(s.asummarize(text) for text in texts))
    assert all(not x.meta["cache"]["hit"] for x in summaries)


def test_the_article_is_read_while_the_model_answers(
    fake_openai: FakeOpenAI, seed_text: str, seed_summary: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The support rules' reading of the article (its sentence bounds, a tenth of the
    work on an answer) is done while the request is out, not after the answer came."""
    from summarizer.backends.openai import OpenAIBackend
    from summarizer.item_support import SupportChecker

    events: list[str] = []

    def spy(cls: type, name: str, event: str) -> None:
        original = getattr(cls, name)

        def recorded(*args: Any, **kw: Any) -> Any:
            events.append(event)
            return original(*args, **kw)

        monkeypatch.setattr(cls, name, recorded)

    spy(SupportChecker, "__init__", "article read")
    spy(OpenAIBackend, "_completion", "answer arrived")
    fake_openai.queue(Reply(body=summary_reply(seed_summary).body, delay=0.3))
    with Summarizer(model="m", base_url=fake_openai.url) as s:
        summary = asyncio.run(s.asummarize(seed_text))
    assert summary.meta["grounding"]["quotes_grounded"] > 0
    assert events == ["article read", "answer arrived"]
