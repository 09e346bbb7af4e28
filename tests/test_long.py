"""Articles over the context budget: split on paragraphs, parts summarized, merged,
key summary written again; every quote still at its offsets in the full text."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from summarizer import ArticleSummary, Summarizer
from summarizer.chunking import paragraph_spans, split_article
from summarizer.grounding import normalize
from tests.conftest import ROOT
from tests.fakeserver import FakeOpenAI, Reply, summary_reply
from tests.test_cli import run_cli

DATASET = ROOT / "evals" / "wikinews"
_DROP = {"start", "end", "required", "alignment"}


def _llm(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _llm(v) for k, v in value.items() if k not in _DROP}
    if isinstance(value, list):
        return [_llm(v) for v in value]
    return value


def _goldens() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for golden in sorted((DATASET / "golden").glob("*.json")):
        text = (DATASET / "articles" / f"{golden.stem}.txt").read_text(encoding="utf-8")
        out.append((text, _llm(json.loads(golden.read_text(encoding="utf-8")))))
    return out


@pytest.fixture(scope="module")
def long_article() -> str:
    """The corpus articles one after another, the first ones again at the end (so
    the same actors recur in distant parts), to at least 20,000 words."""
    texts = [text.strip() for text, _ in _goldens()]
    pieces: list[str] = []
    i = 0
    while sum(len(p.split()) for p in pieces) < 20_000:
        pieces.append(texts[i % len(texts)])
        i += 1
    return "\n\n".join(pieces)


def _responder(body: dict[str, Any]) -> Reply:
    """Answer as a model would: items from the goldens whose quotes are all in the
    text sent (a part, or the key-summary digest)."""
    content = body["messages"][1]["content"]
    text = content.split("<article>\n", 1)[1].rsplit("\n</article>", 1)[0]

    def inside(item: dict[str, Any]) -> bool:
        return bool(item["evidence"]) and all(e["quote"] in text for e in item["evidence"])

    answer: dict[str, Any] = {"key_summary": None, "actors": [], "commitments": [],
                              "open_questions": []}  # fmt: skip
    for _, golden in _goldens():
        points = [kp for kp in golden["key_summary"]["key_points"] if inside(kp)]
        if points and answer["key_summary"] is None:
            answer["key_summary"] = {**golden["key_summary"], "key_points": points}
        elif points:
            answer["key_summary"]["key_points"] += points
        actors = [a for a in golden["actors"] if inside(a)]
        names = {a["name"] for a in actors}
        answer["actors"] += actors
        answer["commitments"] += [
            c for c in golden["commitments"] if inside(c) and c["actor"] in names
        ]
        answer["open_questions"] += [q for q in golden["open_questions"] if inside(q)]
    assert answer["key_summary"] is not None, "a part with no complete key point"
    answer["key_summary"]["key_points"] = answer["key_summary"]["key_points"][:7]
    answer["actors"] = answer["actors"][:20]
    names = {a["name"] for a in answer["actors"]}
    answer["commitments"] = [c for c in answer["commitments"] if c["actor"] in names][:15]
    for q in answer["open_questions"]:
        q["actors"] = [n for n in q["actors"] if n in names]
    answer["open_questions"] = answer["open_questions"][:8]
    return summary_reply(answer)


def _check_offsets(summary: ArticleSummary, text: str) -> None:
    evidence = summary.evidence()
    assert len(evidence) > 20
    for ev in evidence:
        assert ev.start is not None
        assert ev.end is not None
        assert text[ev.start : ev.end] == ev.quote


def _check_no_duplicate_actors(summary: ArticleSummary) -> None:
    keys = [normalize(a.name)[0] for a in summary.actors]
    assert len(keys) == len(set(keys)), keys
    names = set(keys)
    for actor in summary.actors:
        for alias in actor.aliases:
            assert normalize(alias)[0] not in names - {normalize(actor.name)[0]}, alias


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_twenty_thousand_words_through_the_split_path(
    fake_openai: FakeOpenAI, long_article: str, use_async: bool
) -> None:
    fake_openai.responder = _responder
    assert len(long_article.split()) >= 20_000
    with Summarizer(model="fake-model", base_url=fake_openai.url, context_window=8000) as s:
        if use_async:
            summary = await s.asummarize(long_article, source="long.txt")
        else:
            summary = s.summarize(long_article, source="long.txt")
    parts = summary.meta["parts"]
    assert len(parts) >= 4
    assert len(fake_openai.requests) == len(parts) + 1  # the parts, then the key summary
    # parts follow each other, overlap, and cover the article's paragraphs
    for a, b in itertools.pairwise(parts):
        assert b["start"] < a["end"] <= b["end"]
    assert parts[0]["start"] == 0
    assert parts[-1]["end"] == len(long_article)
    _check_offsets(summary, long_article)
    _check_no_duplicate_actors(summary)
    assert summary.key_summary.key_points
    # the first articles come back at the end: their actors are merged, not repeated
    first_actor = _goldens()[0][1]["actors"][0]["name"]
    assert [a.name for a in summary.actors].count(first_actor) == 1
    assert summary.meta["usage"]["total_tokens"] == 1000 * (len(parts) + 1)
    assert summary.meta["attempts"]["responses"] == len(parts) + 1
    assert summary.meta["source"] == "long.txt"
    commitments = [(c.actor, c.action) for c in summary.commitments]
    assert len(commitments) == len(set(commitments))
    for c in summary.commitments:
        assert c.actor in {a.name for a in summary.actors}


def test_long_article_from_the_cli_and_a_part_limit(
    fake_openai: FakeOpenAI, long_article: str, tmp_path: Path
) -> None:
    fake_openai.responder = _responder
    path = tmp_path / "long.txt"
    path.write_text(long_article, encoding="utf-8")
    args = ["summarize", str(path), "--model", "fake-model", "--base-url", fake_openai.url,
            "--context-window", "8000"]  # fmt: skip
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr.decode()
    summary = ArticleSummary.model_validate_json(proc.stdout)
    _check_offsets(summary, long_article)
    limited = run_cli(*args, "--max-parts", "2")
    assert limited.returncode == 14
    assert "--max-parts 2" in limited.stderr.decode()


def test_split_keeps_paragraphs_whole_and_overlaps() -> None:
    paragraphs = [f"Paragraph {i} says something. " + "More words here. " * (i % 5 + 3)
                  for i in range(40)]  # fmt: skip
    text = "\r\n\r\n".join(paragraphs)

    def count(piece: str) -> int:
        return len(piece.split())

    parts = split_article(text, 120, count)
    assert len(parts) > 3
    spans = paragraph_spans(text)
    starts = {s for s, _ in spans}
    ends = {e for _, e in spans}
    for part in parts:
        assert part.start in starts  # whole paragraphs
        assert part.end in ends
        assert count(text[part.start : part.end]) <= 120
    for a, b in itertools.pairwise(parts):
        assert b.start < a.end  # one paragraph of overlap
    covered = [any(p.start <= s and e <= p.end for p in parts) for s, e in spans]
    assert all(covered)


def test_a_paragraph_longer_than_a_part_is_split_between_sentences() -> None:
    text = "Intro line.\n\n" + " ".join(f"Sentence number {i} is short." for i in range(200))
    parts = split_article(text, 60, lambda piece: len(piece.split()))
    assert len(parts) > 10
    for part in parts[1:]:
        piece = text[part.start : part.end]
        assert piece.startswith("Sentence")
        assert piece.endswith(".")
