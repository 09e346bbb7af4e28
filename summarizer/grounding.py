"""Locate every evidence quote in the article and check cross-references.

A summary is only as trustworthy as its quotes, so every quote must be found in the
article text the user gave, and gets ``start``/``end`` offsets into that text.
Matching runs in three steps, cheapest first:

1. exact substring;
2. after normalization (:func:`summarizer.similarity.normalize`: whitespace runs,
   curly vs straight quotes, dash variants, case, accents, Unicode compatibility
   forms, invisible format characters), mapped back to offsets in the original text,
   which is never rewritten;
3. a bounded fuzzy match (rapidfuzz's partial-ratio alignment on the normalized
   text, score >= ``FUZZY_MIN_SCORE``, length within 20%), whose span then replaces
   the quote so the output stays verbatim.

A :class:`Grounder` is built for one article and applied to a summary explicitly.
With ``policy="raise"`` a miss raises :class:`GroundingError`; the extraction loop
(:mod:`summarizer.backends.extraction`) applies it inside its response model's
validator, so Instructor sends the error back to the model as a re-ask. With
``policy="drop"`` (the fallback once re-asks run out) the unsupported items are
removed and listed in a :class:`GroundingReport`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from rapidfuzz import fuzz

from summarizer.contract.llm_schema import over_bounds
from summarizer.errors import InvalidOutputError
from summarizer.item_support import SupportChecker
from summarizer.similarity import ActorNames, name_key, normalize
from summarizer.support import ENFORCED, HEADLINE_ENFORCED, Support
from summarizer.text import sentence_spans

if TYPE_CHECKING:
    from summarizer.contract.models import Actor, ArticleSummary, Evidence

T = TypeVar("T")
FUZZY_MIN_SCORE = 90.0
_MIN_FUZZY_CHARS = 25  # one typo in a short quote can change its meaning


class GroundingError(ValueError):
    """Some evidence is not in the article (the ``raise`` policy).

    A ``ValueError``, so that inside a response model's validator it becomes a
    validation error, which Instructor sends back to the model as a re-ask.
    """


@dataclass(frozen=True)
class Match:
    start: int
    end: int
    alignment: Literal["exact", "normalized", "fuzzy"]


class Aligner:
    """Finds quotes in one article; build once per article, reuse for every quote."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._norm, self._index = normalize(text)

    def locate(self, quote: str) -> Match | None:
        """Where ``quote`` stands in the article, or ``None`` if it is not there."""
        stripped = quote.strip()
        if not stripped:
            return None
        pos = self.text.find(stripped)
        if pos >= 0:
            return Match(pos, pos + len(stripped), "exact")
        full, _ = normalize(stripped)
        # Models often wrap a quote in quotation marks or end it with a period the
        # article does not have there: try as given, then without those.
        nquote = full.strip(" .\"'")
        if not nquote:
            return None
        for candidate in dict.fromkeys((full, nquote)):
            pos = self._norm.find(candidate)
            if pos >= 0:
                return self._span(pos, pos + len(candidate), "normalized")
        if len(nquote) < _MIN_FUZZY_CHARS:
            return None
        found = fuzz.partial_ratio_alignment(nquote, self._norm, score_cutoff=FUZZY_MIN_SCORE)
        if found is None:
            return None
        start, end = found.dest_start, found.dest_end
        # The alignment window is as long as the quote, so a quote missing a letter
        # ends one letter short: widen the span to whole words.
        while start > 0 and self._norm[start - 1].isalnum() and self._norm[start].isalnum():
            start -= 1
        while end < len(self._norm) and self._norm[end].isalnum() and self._norm[end - 1].isalnum():
            end += 1
        if not 0.8 * len(nquote) <= end - start <= 1.2 * len(nquote):
            return None
        return self._span(start, end, "fuzzy")

    def _span(self, nstart: int, nend: int, alignment: Literal["normalized", "fuzzy"]) -> Match:
        start = self._index[nstart]
        return Match(start, self._index[nend - 1] + 1, alignment)


def evidence_spans(
    evidence: list[Evidence], aligner: Aligner, *, fuzzy: bool = True
) -> list[tuple[int, int]]:
    """Where each quote stands: its own offsets when they hold, else located afresh.

    Quotes that cannot be located are left out; ``fuzzy=False`` also leaves out those
    only a fuzzy match finds (scoring wants evidence that is really in the text).
    """
    out = []
    for ev in evidence:
        if (
            ev.start is not None
            and ev.end is not None
            and aligner.text[ev.start : ev.end] == ev.quote
        ):
            out.append((ev.start, ev.end))
            continue
        match = aligner.locate(ev.quote)
        if match is not None and (fuzzy or match.alignment != "fuzzy"):
            out.append((match.start, match.end))
    return out


_CLAUSE = re.compile(r"[^,;:]+[,;:]?")


def quote_candidates(text: str, min_words: int = 3, max_words: int = 40) -> tuple[str, ...]:
    """Verbatim spans of ``text`` that make good evidence quotes: its sentences, and
    the clauses of sentences too long to quote whole (3 to 40 words, in order)."""
    found: dict[str, None] = {}
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        pieces = [sentence] if len(sentence.split()) <= max_words else _CLAUSE.findall(sentence)
        for piece in pieces:
            piece = piece.strip().rstrip(",;:").strip()
            if min_words <= len(piece.split()) <= max_words and piece in text:
                found.setdefault(piece, None)
    return tuple(found)


@dataclass
class Dropped:
    """One item removed because it could not be supported by the article."""

    section: str
    item: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"section": self.section, "item": self.item, "reason": self.reason}


@dataclass
class GroundingReport:
    """What grounding changed: dropped items, fixed references, alignment counts, and
    how many grounded items their quotes support (``unsupported``: each one that is
    not, as ``path: "words"``, dropped or, for the headline, kept)."""

    dropped: list[Dropped] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)
    quotes_total: int = 0
    quotes_grounded: int = 0
    items_total: int = 0
    items_supported: int = 0
    unsupported: list[str] = field(default_factory=list)

    def support_meta(self) -> dict[str, Any]:
        """``meta["grounding"]["supported"]``: on every answer, the enforced rules only
        (the eval report's ``supported`` rate applies them all)."""
        return {
            "rules": sorted(ENFORCED),
            "items": self.items_total,
            "supported": self.items_supported,
            "unsupported": list(self.unsupported),
        }

    def as_meta(self, **extra: Any) -> dict[str, Any]:
        """``meta["grounding"]``, the one shape every path writes (a model's answer,
        a composed summary, a baseline's); ``extra`` adds path-specific keys."""
        return {
            "quotes_total": self.quotes_total,
            "quotes_grounded": self.quotes_grounded,
            "supported": self.support_meta(),
            **extra,
            "dropped": [d.as_dict() for d in self.dropped],
            "fixes": self.fixes,
        }


class Grounder:
    """Applies grounding to a summary under a policy; see the module docstring."""

    def __init__(self, article: str, policy: Literal["raise", "drop"] = "raise") -> None:
        self.aligner = Aligner(article)
        self.policy = policy
        self.report = GroundingReport()
        self._support: SupportChecker | None = None

    @property
    def support(self) -> SupportChecker:
        """The support rules for this article (sentence bounds found on first use)."""
        if self._support is None:
            self._support = SupportChecker(self.aligner.text, self.aligner, enforced_only=True)
        return self._support

    def apply(self, summary: ArticleSummary) -> None:
        self.report = GroundingReport()
        problems: list[str] = []
        self._dedupe(summary)
        support = self.support
        names = support.names(summary.actors)
        ks = summary.key_summary
        ks.key_points = [
            kp
            for i, kp in enumerate(ks.key_points)
            if self._ground_item(kp.evidence, f"key_summary.key_points[{i}]", kp.text, problems)
            and self._supported(
                f"key_summary.key_points[{i}]", kp.text, support.key_point(kp, names), problems
            )
        ]
        headline = support.headline(summary, names)
        self._supported("key_summary.headline", ks.headline, headline, problems, keep=True)
        summary.actors = [
            a
            for i, a in enumerate(summary.actors)
            if self._ground_item(a.evidence, f"actors[{i}]", a.name, problems)
            and self._supported(f"actors[{i}]", a.name, support.actor(a), problems)
        ]
        lookup = self._actor_lookup(summary.actors)
        kept_commitments = []
        for i, c in enumerate(summary.commitments):
            path = f"commitments[{i}]"
            if not self._ground_item(c.evidence, path, c.action, problems):
                continue
            if not self._supported(path, c.action, support.commitment(c, names), problems):
                continue
            canonical = lookup.resolve(c.actor)
            if canonical is None:
                reason = (
                    f"actor {c.actor!r} is not one of the actors' names "
                    f"({', '.join(a.name for a in summary.actors) or 'none listed'}); "
                    "use an actor's exact name or add the actor"
                )
                if not self._fail(path, c.action, reason, problems):
                    continue
            elif canonical != c.actor:
                self.report.fixes.append(f"{path}.actor {c.actor!r} -> {canonical!r}")
                c.actor = canonical
            cp = lookup.resolve(c.counterparty) if c.counterparty else None
            if cp and cp != c.counterparty:
                self.report.fixes.append(f"{path}.counterparty {c.counterparty!r} -> {cp!r}")
                c.counterparty = cp
            kept_commitments.append(c)
        summary.commitments = kept_commitments
        kept_questions = []
        for i, q in enumerate(summary.open_questions):
            path = f"open_questions[{i}]"
            if not self._ground_item(q.evidence, path, q.question, problems):
                continue
            if not self._supported(path, q.question, support.question(q, names), problems):
                continue
            names_of_q = []
            for name in q.actors:
                canonical = lookup.resolve(name)
                if canonical is None:
                    self.report.fixes.append(f"{path}.actors dropped unknown {name!r}")
                    continue
                if canonical not in names_of_q:
                    names_of_q.append(canonical)
            q.actors = names_of_q
            kept_questions.append(q)
        summary.open_questions = kept_questions
        if problems:
            raise GroundingError(
                "Some items are not supported by the article. Every quote must be "
                "copied character for character from the article text, every item "
                "must say only what the sentences it quotes say, and every "
                "commitment's actor must be one of the actors' names. Fix these:\n- "
                + "\n- ".join(problems)
            )

    def _dedupe(self, summary: ArticleSummary) -> None:
        """Drop repeated items (same text, or same actor name): small models loop.

        Not an error to re-ask about: the first copy carries all there is to say.
        """
        ks = summary.key_summary
        ks.key_points = self._unique("key_points", ks.key_points, lambda kp: kp.text)
        summary.actors = self._unique("actors", summary.actors, lambda a: a.name)
        summary.commitments = self._unique(
            "commitments", summary.commitments, lambda c: f"{c.actor} {c.action}"
        )
        summary.open_questions = self._unique(
            "open_questions", summary.open_questions, lambda q: q.question
        )

    def _unique(self, section: str, items: list[T], key: Callable[[T], str]) -> list[T]:
        seen: set[str] = set()
        kept = []
        for item in items:
            k = name_key(key(item))
            if k in seen:
                continue
            seen.add(k)
            kept.append(item)
        if len(kept) < len(items):
            self.report.fixes.append(
                f"{section}: dropped {len(items) - len(kept)} repeated item(s)"
            )
        return kept

    def _fail(self, path: str, label: str, reason: str, problems: list[str]) -> bool:
        """Record a failure; return whether the item may stay (never, for now)."""
        if self.policy == "raise":
            problems.append(f"{path}: {reason}")
        else:
            section = path.split("[", 1)[0]
            self.report.dropped.append(Dropped(section, label, reason))
        return False

    def _supported(
        self, path: str, label: str, support: Support, problems: list[str], *, keep: bool = False
    ) -> bool:
        """Count a grounded item's support. One whose quotes contradict it (a number,
        a status word or a negation they lack: see ``support.ENFORCED``) fails like a
        missing quote (re-ask, or dropped), except ``keep`` (the headline: a summary
        needs one, so under ``drop`` it stays and is only listed); a weaker miss is
        listed as unsupported and kept."""
        self.report.items_total += 1
        if support.supported:
            self.report.items_supported += 1
            return True
        words = support.words()
        self.report.unsupported.append(f"{path}: {words}")
        if not support.contradicted(HEADLINE_ENFORCED if keep else ENFORCED):
            return True
        if self.policy == "raise":
            problems.append(f"{path}: {_support_advice(path, words, len(support.missing))}")
            return False
        if keep:
            return True
        return self._fail(path, label, f"unsupported: {words} not in its quotes", problems)

    def _ground_item(
        self, evidence: list[Evidence], path: str, label: str, problems: list[str]
    ) -> bool:
        """Ground an item's quotes in place; return whether the item is supported.

        An item keeps only its located quotes, and needs at least one.
        """
        kept = []
        missing = []
        for ev in evidence:
            self.report.quotes_total += 1
            match = self.aligner.locate(ev.quote)
            if match is None:
                missing.append(ev.quote)
                continue
            self.report.quotes_grounded += 1
            ev.start, ev.end, ev.alignment = match.start, match.end, match.alignment
            ev.quote = self.aligner.text[match.start : match.end]
            kept.append(ev)
        if not evidence:
            return self._fail(path, label, "has no evidence quote; add one", problems)
        if missing and (self.policy == "raise" or not kept):
            quoted = "; ".join(repr(q) for q in missing)
            return self._fail(path, label, f"quote not found in the article: {quoted}", problems)
        if missing:
            self.report.fixes.append(f"{path}: dropped {len(missing)} unlocated quote(s)")
        evidence[:] = kept
        return True

    @staticmethod
    def _actor_lookup(actors: list[Actor]) -> ActorNames:
        """Resolves a name as the model wrote it to an actor's canonical name: exact
        name or alias (case, quote variants and spacing ignored), then the one actor
        whose name ends with the given words ("Putin" -> "Vladimir Putin")."""
        return ActorNames(actors)


_DROP_WHAT = {
    "key_summary.key_points": "the point",
    "commitments": "the commitment",
    "open_questions": "the question",
}


def _support_advice(path: str, words: str, count: int) -> str:
    """What to tell the model about an item its quotes do not support."""
    be = "are" if count > 1 else "is"
    section = path.split("[", 1)[0]
    if section == "key_summary.headline":
        return (
            f"{words} {be} not in the key points' quotes or the article's first "
            "sentences; say only what they say"
        )
    if section == "actors":
        return (
            f"its evidence does not name {words}; quote a sentence that names the actor, "
            "or list the name the article uses as an alias"
        )
    return (
        f"{words} {be} not in its evidence; quote the sentence that says it or drop "
        f"{_DROP_WHAT.get(section, 'the item')}"
    )


def ground_composed(summary: ArticleSummary, article: str, *, author: str) -> GroundingReport:
    """The checks a summary written without a model (a rule, a baseline) gets: the
    schema's size bounds, then every quote located and every item's support checked,
    with the drop policy (the same input gives the same answer, so nobody is re-asked).

    One function for every composed summary, so a baseline in an eval report and the
    same method run as ``--model baseline/NAME`` are checked alike.
    """
    if problem := over_bounds(summary):
        raise InvalidOutputError(f"{author} composed a summary over the schema's bounds: {problem}")
    grounder = Grounder(article, policy="drop")
    grounder.apply(summary)
    return grounder.report
