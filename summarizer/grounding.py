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

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from summarizer.alignment import Aligner, Match, evidence_spans, quote_candidates
from summarizer.contract.llm_schema import over_bounds
from summarizer.errors import InvalidOutputError
from summarizer.item_support import SupportChecker
from summarizer.similarity import ActorNames, name_key, normalize
from summarizer.support import ENFORCED, HEADLINE_ENFORCED, Support

if TYPE_CHECKING:
    from summarizer.contract.models import Actor, ArticleSummary, Evidence

# Locating quotes lives in summarizer.alignment; these names stay importable here.
__all__ = [
    "Aligner",
    "Dropped",
    "Grounder",
    "GroundingError",
    "GroundingReport",
    "Match",
    "evidence_spans",
    "ground_composed",
    "normalize",
    "quote_candidates",
]

T = TypeVar("T")


class GroundingError(ValueError):
    """Some evidence is not in the article (the ``raise`` policy).

    A ``ValueError``, so that inside a response model's validator it becomes a
    validation error, which Instructor sends back to the model as a re-ask.
    """


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

    def __init__(
        self,
        article: str,
        policy: Literal["raise", "drop"] = "raise",
        *,
        aligner: Aligner | None = None,
    ) -> None:
        self.aligner = aligner if aligner is not None else Aligner(article)
        self.policy = policy
        self.report = GroundingReport()
        self._support: SupportChecker | None = None

    def with_policy(self, policy: Literal["raise", "drop"]) -> Grounder:
        """A grounder of the same article under ``policy``, with a report of its own,
        sharing what was found of the article (its sentences, its normalized text):
        salvaging an answer after the re-asks must not read the article again."""
        other = Grounder(self.aligner.text, policy, aligner=self.aligner)
        other._support = self._support
        return other

    @property
    def support(self) -> SupportChecker:
        """The support rules for this article (sentence bounds found on first use)."""
        if self._support is None:
            self._support = SupportChecker(self.aligner.text, self.aligner, enforced_only=True)
        return self._support

    def prepare(self) -> None:
        """Read what the article alone decides (its sentence bounds, for the support
        rules) now rather than when the answer is checked: an async caller does it
        while the model answers (see ``Extractor.aextract``), which took about 0.2 ms,
        a tenth of the work on an answer, out of the time the answer waits (measured).
        Nothing is raised here: what fails would fail again, and be reported, where
        the rules are used."""
        with contextlib.suppress(Exception):
            self.support  # noqa: B018 - built, and kept, on first use

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
        text, span = self.aligner.text, self.aligner.span
        for ev in evidence:
            found = span(ev.quote)
            if found is None:
                missing.append(ev.quote)
                continue
            start, end, _ = found
            _place(ev, *found)
            verbatim = text[start:end]
            if verbatim != ev.quote:  # as a rule it is the quote: no assignment to pay
                ev.quote = verbatim
            kept.append(ev)
        self.report.quotes_total += len(evidence)
        self.report.quotes_grounded += len(kept)
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


_LOCATED = ("start", "end", "alignment")


def _place(ev: Evidence, start: int, end: int, alignment: str) -> None:
    """Set a located quote's offsets as pydantic's own ``__setattr__`` does for a
    model without ``validate_assignment`` (the contract's models have none): the
    values in the instance's ``__dict__``, the names in its fields set. Three
    ``__setattr__`` calls per quote were some 40% of locating an answer's quotes
    (cProfile of the grounding of the eval set's golden answers)."""
    vars(ev).update(start=start, end=end, alignment=alignment)
    ev.__pydantic_fields_set__.update(_LOCATED)


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
    if not summary.key_summary.headline.strip():
        # An empty summary with exit 0 reads as success; a text with no sentence to
        # quote (one word, a list of names) has nothing a rule can summarize.
        raise InvalidOutputError(
            f"{author} found nothing to summarize: the text has no sentence to quote"
        )
    grounder = Grounder(article, policy="drop")
    grounder.apply(summary)
    return grounder.report
