"""Combining the summaries of an article's parts into one summary of the article.

Each part was summarized as if it were the article, so the same actor, commitment or
question may come back from several parts (parts overlap, and long articles repeat
themselves). Merging keeps the first of each, in article order, and pools its
evidence:

* actors are the same when a name or alias matches (case, quotes and spacing
  ignored), or when a later one-word name is an earlier actor's surname ("Putin",
  "Vladimir Putin"): :meth:`summarizer.similarity.ActorNames.same_as`; the fullest
  name wins and the others become aliases;
* commitments are the same when their actors are, and their actions say the same
  thing (the lexical similarity the eval scorer uses too) or rest on the same quote;
* open questions likewise, by question text or shared quote.

The key summary is not merged but written again, by one more model call over a
*digest* of the article: the sentences that the parts' key points quote, in article
order. The digest is article text, so the regular prompt, validation and grounding
apply, and the new key points' quotes map back into the full article.
"""

from __future__ import annotations

from typing import Any

from summarizer.alignment import Aligner
from summarizer.contract import contract_warnings
from summarizer.contract.models import (
    Actor,
    ArticleSummary,
    Commitment,
    Evidence,
    KeySummary,
    OpenQuestion,
)
from summarizer.similarity import ActorNames, dice, span_overlap, stems
from summarizer.text import sentence_spans

SAME_MEANING = 0.6  # lexical similarity above which two items say the same thing
MAX_EVIDENCE = 3  # per item, as the contract asks of a model
# No cap on the number of items: a long article has more actors and commitments
# than a short one, and dropping an actor would orphan its commitments.


def _support(call: ArticleSummary) -> dict[str, Any]:
    found = call.meta["grounding"].get("supported") or {}
    return {
        "items": int(found.get("items") or 0),
        "supported": int(found.get("supported") or 0),
        "unsupported": list(found.get("unsupported") or []),
    }


def shift(summary: ArticleSummary, offset: int) -> ArticleSummary:
    """Move every offset of a part's summary into the full article's coordinates."""
    for ev in summary.evidence():
        if ev.start is not None and ev.end is not None:
            ev.start += offset
            ev.end += offset
    return summary


def _spans(evidence: list[Evidence]) -> list[tuple[int, int]]:
    return [(e.start, e.end) for e in evidence if e.start is not None and e.end is not None]


def _pool(into: list[Evidence], more: list[Evidence]) -> None:
    seen = {(e.start, e.end) for e in into}
    for ev in more:
        if len(into) >= MAX_EVIDENCE:
            return
        if (ev.start, ev.end) not in seen:
            into.append(ev)
            seen.add((ev.start, ev.end))


class _Actors:
    """Merged actors, and the canonical name for any name or alias seen."""

    def __init__(self) -> None:
        # Unlike grounding, merging also ignores quotation marks around a name.
        self.names = ActorNames(strip_quotes=True)
        self.actors = self.names.actors

    def add(self, actor: Actor) -> None:
        found = self.names.same_as(actor.name, *actor.aliases)
        if found is None:
            found = actor.model_copy(deep=True)
            self.names.add(found)
        else:
            names = [found.name, actor.name]
            fullest = max(names, key=lambda n: (len(n.split()), len(n)))
            aliases = [n for n in (*names, *found.aliases, *actor.aliases) if n != fullest]
            found.name = fullest
            found.aliases = list(dict.fromkeys(aliases))[:6]
            found.role = found.role or actor.role
            found.affiliation = found.affiliation or actor.affiliation
            _pool(found.evidence, actor.evidence)
        self.names.index(found, (found.name, *found.aliases, actor.name, *actor.aliases))

    def name_of(self, name: str | None) -> str | None:
        if not name:
            return name
        found = self.names.same_as(name)
        return found.name if found is not None else name


def _same(a_text: str, a_ev: list[Evidence], b_text: str, b_ev: list[Evidence]) -> bool:
    return (
        dice(stems(a_text), stems(b_text)) >= SAME_MEANING
        or span_overlap(_spans(a_ev), _spans(b_ev)) >= 0.8
    )


def merge_parts(parts: list[ArticleSummary], key_summary: KeySummary) -> ArticleSummary:
    """One summary from the parts' (offsets already shifted), with ``key_summary``."""
    actors = _Actors()
    for part in parts:
        for actor in part.actors:
            actors.add(actor)
    commitments: list[Commitment] = []
    questions: list[OpenQuestion] = []
    for part in parts:
        for c in part.commitments:
            c = c.model_copy(deep=True)
            c.actor = actors.name_of(c.actor) or c.actor
            c.counterparty = actors.name_of(c.counterparty)
            same = next(
                (
                    k
                    for k in commitments
                    if k.actor == c.actor and _same(k.action, k.evidence, c.action, c.evidence)
                ),
                None,
            )
            if same is not None:
                _pool(same.evidence, c.evidence)
                same.deadline = same.deadline or c.deadline
            else:
                commitments.append(c)
        for q in part.open_questions:
            q = q.model_copy(deep=True)
            q.actors = list(dict.fromkeys(n for n in map(actors.name_of, q.actors) if n))
            same_q = next(
                (k for k in questions if _same(k.question, k.evidence, q.question, q.evidence)),
                None,
            )
            if same_q is not None:
                _pool(same_q.evidence, q.evidence)
                same_q.actors = list(dict.fromkeys([*same_q.actors, *q.actors]))[:6]
            else:
                questions.append(q)
    return ArticleSummary(
        key_summary=key_summary,
        actors=actors.actors,
        commitments=commitments,
        open_questions=questions,
    )


def digest(text: str, parts: list[ArticleSummary], budget_chars: int) -> list[tuple[int, int]]:
    """Spans of ``text`` for the key-summary call: whole sentences quoted by the
    parts' key points, in article order, taking each part's points in turn (most
    important first) until ``budget_chars`` is used."""
    sentences = sentence_spans(text)

    def sentence_of(start: int, end: int) -> tuple[int, int]:
        covering = [s for s in sentences if s[0] <= start < s[1] or s[0] < end <= s[1]]
        return (covering[0][0], covering[-1][1]) if covering else (start, end)

    queues = [
        [sentence_of(*span) for kp in p.key_summary.key_points for span in _spans(kp.evidence)]
        for p in parts
    ]
    chosen: set[tuple[int, int]] = set()
    used = 0
    while any(queues):
        for queue in queues:
            if not queue:
                continue
            span = queue.pop(0)
            if span in chosen:
                continue
            if used + span[1] - span[0] > budget_chars:
                return sorted(chosen)
            chosen.add(span)
            used += span[1] - span[0] + 2
    return sorted(chosen)


def remap_key_summary(
    key_summary: KeySummary, spans: list[tuple[int, int]], text: str
) -> KeySummary:
    """Offsets of a key summary written from the digest (``spans`` of ``text`` joined
    by blank lines) moved into ``text``; a quote that straddles two excerpts is
    located afresh, and a key point left with no evidence is dropped."""
    starts = []
    pos = 0
    for s, e in spans:
        starts.append(pos)
        pos += e - s + 2
    aligner = Aligner(text)
    points = []
    for kp in key_summary.key_points:
        kept = []
        for ev in kp.evidence:
            if ev.start is None or ev.end is None:
                continue
            moved = None
            for (s, e), d in zip(spans, starts, strict=True):
                if d <= ev.start and ev.end <= d + (e - s):
                    moved = (s + ev.start - d, s + ev.end - d)
                    break
            if moved is None:
                match = aligner.locate(ev.quote)
                moved = (match.start, match.end) if match else None
            if moved is not None:
                ev.start, ev.end = moved
                ev.quote = text[moved[0] : moved[1]]
                kept.append(ev)
        if kept:
            kp.evidence = kept
            points.append(kp)
    key_summary.key_points = points
    return key_summary


def combine(
    text: str,
    parts: list[tuple[int, int]],
    summaries: list[ArticleSummary],
    spans: list[tuple[int, int]],
    key: ArticleSummary,
    source: str,
    record: dict[str, Any],
) -> ArticleSummary:
    """The article's summary from its ``parts``' ``summaries`` (offsets already in the
    whole text) and the ``key`` call over the digest ``spans``, with ``meta`` that
    adds up every call: tokens, attempts, latency, grounding, cache hits."""
    key_summary = remap_key_summary(key.key_summary.model_copy(deep=True), spans, text)
    merged = merge_parts(summaries, key_summary)
    calls = [*summaries, key]
    meta = dict(key.meta)
    usage = {
        k: sum(int(c.meta.get("usage", {}).get(k) or 0) for c in calls)
        for k in ("prompt_tokens", "completion_tokens", "total_tokens")
    }
    attempts = {
        k: sum(int(c.meta.get("attempts", {}).get(k) or 0) for c in calls)
        for k in ("responses", "reasks", "transport_retries")
    }
    grounding = {
        "quotes_total": sum(c.meta["grounding"]["quotes_total"] for c in calls),
        "quotes_grounded": sum(c.meta["grounding"]["quotes_grounded"] for c in calls),
        "salvaged": any(c.meta["grounding"]["salvaged"] for c in calls),
        "dropped": [d for c in calls for d in c.meta["grounding"]["dropped"]],
        "fixes": [f for c in calls for f in c.meta["grounding"]["fixes"]],
        "supported": {
            **(
                {"rules": calls[0].meta["grounding"]["supported"].get("rules")}
                if calls and calls[0].meta["grounding"].get("supported")
                else {}
            ),
            "items": sum(_support(c)["items"] for c in calls),
            "supported": sum(_support(c)["supported"] for c in calls),
            "unsupported": [u for c in calls for u in _support(c)["unsupported"]],
        },
    }
    meta.update(
        source=source,
        input=record,
        usage=usage,
        attempts=attempts,
        latency_s=round(sum(float(c.meta.get("latency_s") or 0) for c in calls), 3),
        transport_errors=[e for c in calls for e in c.meta.get("transport_errors", [])],
        grounding=grounding,
        parts=[
            {
                "start": start,
                "end": end,
                "usage": {k: s.meta.get("usage", {}).get(k) for k in usage},
                "cache_hit": bool(s.meta.get("cache", {}).get("hit")),
            }
            for (start, end), s in zip(parts, summaries, strict=True)
        ],
        key_summary_from=[list(span) for span in spans],
        warnings=contract_warnings(merged),
    )
    if all(c.meta.get("cache", {}).get("hit") for c in calls):
        meta["cache"] = {"hit": True}
    else:
        meta.pop("cache", None)
    merged.meta = meta
    return merged
