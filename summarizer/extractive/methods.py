"""The no-model baselines, whole summaries from rules alone (#13).

``lead`` is the floor every model is compared to: the first sentences as the key
summary and the plain surface rules of :mod:`summarizer.extractive.floor` for the
rest. ``textrank`` differs only in how it picks key points (centrality), so the pair
shows what choosing sentences well is worth on its own.

The rules of the offline default (``rules``: actors, commitments, open questions) are
imported when that method runs: ``eval score`` computes the ``lead`` floor on every
run and has no use for them (about 5 ms of its start-up, issue #11).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from summarizer.contract.models import ArticleSummary, KeySummary
from summarizer.extractive.floor import (
    capitalized_actors,
    hedged_questions,
    modal_commitments,
    with_commitment_actors,
)
from summarizer.extractive.keysummary import lead_key_summary, ranked_key_summary, usable
from summarizer.extractive.sentences import Sentence, split_sentences


class KeySummaryMaker(Protocol):
    def __call__(
        self, article: str, sentences: Sequence[Sentence], *, title: str | None = None
    ) -> KeySummary: ...


class Baseline(Protocol):
    """A method: the article, and its title when the input had one apart (a page's
    title; a dataset article's title line is found in the text itself)."""

    def __call__(self, article: str, *, title: str | None = None) -> ArticleSummary: ...


def _summarize(
    article: str, title: str | None, method: str, key_summary: KeySummaryMaker
) -> ArticleSummary:
    sentences = usable(split_sentences(article))
    names = capitalized_actors(article, sentences)
    commitments = modal_commitments(article, sentences, names)
    actors = with_commitment_actors(names, commitments)
    # A commitment whose actor found no room among the actors would be dropped by
    # grounding anyway: leave it out here.
    known = {a.name for a in actors} | {alias for a in actors for alias in a.aliases}
    return ArticleSummary(
        key_summary=key_summary(article, sentences, title=title),
        actors=actors,
        commitments=[c for c in commitments if c.actor in known],
        open_questions=hedged_questions(article, sentences, names),
        meta={"method": method},
    )


def summarize_lead(article: str, *, title: str | None = None) -> ArticleSummary:
    """The lead baseline: first sentences, capitalized names, commitment verbs, hedges."""
    return _summarize(article, title, "lead", lead_key_summary)


def summarize_textrank(article: str, *, title: str | None = None) -> ArticleSummary:
    """The lead baseline with key points chosen by centrality instead of position."""
    return _summarize(article, title, "textrank", ranked_key_summary)


def summarize_rules(article: str, *, title: str | None = None) -> ArticleSummary:
    """The shipped offline default (``--model rules``): central sentences for the key
    summary, and the rule-based actors, commitments and open questions of
    :mod:`~summarizer.extractive.actors`, :mod:`~summarizer.extractive.commitments`
    and :mod:`~summarizer.extractive.questions`. No section comes from the embedded
    270M model: measured, it was below these rules wherever it was tried
    (benchmarks/results/ablation.md)."""
    from summarizer.extractive.actors import find_actors
    from summarizer.extractive.commitments import find_commitments
    from summarizer.extractive.questions import find_open_questions

    sentences = usable(split_sentences(article))
    actors = find_actors(article, sentences)
    return ArticleSummary(
        key_summary=ranked_key_summary(article, sentences, title=title),
        actors=actors,
        commitments=find_commitments(article, sentences, actors),
        open_questions=find_open_questions(article, sentences, actors),
        meta={"method": "rules"},
    )


#: The no-model baselines a model is compared with (``summarizer eval baseline``).
BASELINES: dict[str, Baseline] = {
    "lead": summarize_lead,
    "textrank": summarize_textrank,
}
#: Every no-model method, by the name ``--model`` gives it (``baseline/NAME`` or
#: ``rules``).
METHODS: dict[str, Baseline] = {**BASELINES, "rules": summarize_rules}

_FLOOR_SECTIONS = {
    "actors": "runs of capitalized words seen at least twice",
    "commitments": "sentences with will / agreed / pledged / promised / plans to / vowed",
    "open_questions": "sentences with unclear / did not say / not known / whether / "
    "remains to be seen / uncertain",
}
#: What each method does per section, for ``meta["method"]`` and reports.
METHOD_SECTIONS: dict[str, dict[str, str]] = {
    "lead": {"key_summary": "the title line and the first sentences", **_FLOOR_SECTIONS},
    "textrank": {
        "key_summary": "the title line and the most central sentences (TextRank)",
        **_FLOOR_SECTIONS,
    },
    "rules": {
        "key_summary": "rules: the title line and the most central sentences (TextRank)",
        "actors": "rules: names merged with their aliases, roles from titles and "
        "appositives, kinds from name patterns",
        "commitments": "rules: commitment cues with the actor that is their subject, "
        "certainty and deadline",
        "open_questions": "rules: sentences that say what is unknown, disputed or "
        "pending, rewritten as questions",
    },
}
