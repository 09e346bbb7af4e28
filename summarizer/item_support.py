"""The support rules applied to every item of a summary, each claim against the
sentences its own quotes stand in: what the grounder runs on every answer (the
enforced rules only) and the eval scores (all of them). The rules themselves, for
one claim and its quotes, are :mod:`summarizer.support`'s.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from summarizer.names import COLLECTIVE, PERSONAL, pronouns_of
from summarizer.quotes import quotes_of, tokenize
from summarizer.similarity import ActorNames, stems
from summarizer.support import QUESTION_COVERAGE, Support, check_support
from summarizer.text import sentence_spans

if TYPE_CHECKING:
    from summarizer.contract.models import (
        Actor,
        ArticleSummary,
        Commitment,
        Evidence,
        KeyPoint,
        OpenQuestion,
    )

LEAD_SENTENCES = 3


class Locator(Protocol):
    """Finds a quote in the article, and knows its sentences
    (:class:`summarizer.alignment.Aligner`, which :mod:`summarizer.grounding` imports
    with this module: hence a protocol, not an import)."""

    text: str

    @property
    def sentences(self) -> list[tuple[int, int]]: ...

    def locate(self, quote: str) -> Any: ...


@dataclass(frozen=True)
class ItemSupport:
    """One item of a summary and its support, as the scorer and reports list them."""

    path: str  # "key_summary.key_points[2]"
    label: str  # the item's text
    support: Support


_PASS = Support(True, 1.0, ())


def _with_subject(support: Support, subject: str, ok: bool) -> Support:
    if ok:
        return support
    return Support(
        False, support.coverage, (subject, *support.missing), (*support.failed, "subject")
    )


def actor_support(actor: Actor, quotes: Sequence[str]) -> Support:
    """An actor is supported when its evidence names it (name or alias); a group
    described in common words ("West Bank protesters") when the evidence has those
    words ("in the West Bank, hundreds protested")."""
    ev = quotes_of(quotes)
    ok = ev.mentions(ActorNames.names(actor)) or ev.has_role(actor)
    if not ok:
        tokens = tokenize(actor.name)
        if tokens and not tokens[-1].text[0].isupper():
            found = [ev.has_stem(s) for s in stems(actor.name)]
            ok = bool(found) and all(found)
    return Support(ok, 1.0 if ok else 0.0, () if ok else (actor.name,), () if ok else ("name",))


def commitment_support(
    commitment: Commitment, quotes: Sequence[str], names: ActorNames | None
) -> Support:
    """The action against the quotes, which must not give it to someone else: they
    mention its actor (name, alias, surname), or a pronoun, or no other actor
    ("Space Shuttle Discovery will take the place of Enterprise" is NASA's plan in an
    article about NASA's announcement; "Putin agreed" is not Trump's commitment)."""
    ev = quotes_of(quotes)
    parties = {commitment.actor, commitment.counterparty or ""}
    support = check_support(commitment.action, ev, names=names, parties=parties)
    actor = names.exact(commitment.actor) if names is not None else None
    # Actors the action itself names are its objects ("give seats to Johnson Space
    # Center"), not rival subjects.
    named = quotes_of([commitment.action, commitment.counterparty or ""])
    others = [
        a
        for a in (names.actors if names is not None else [])
        if a is not actor and not named.mentions(ActorNames.names(a))
    ]
    own = bool(ev.mentioned([actor])) if actor is not None else ev.mentions([commitment.actor])
    pronouns = pronouns_of(actor) if actor is not None else PERSONAL | COLLECTIVE
    ok = own or bool(ev.words & pronouns) or not ev.mentioned(others)
    return _with_subject(support, commitment.actor, ok)


def question_support(
    question: OpenQuestion, quotes: Sequence[str], names: ActorNames | None
) -> Support:
    """Lenient: a question asks, it does not assert. Its numbers must be in the
    evidence, its names be actors' or in the evidence, a third of its words too."""
    return check_support(
        question.question, quotes, names=names, min_coverage=QUESTION_COVERAGE, lenient=True
    )


def lead(article: str, sentences: int = LEAD_SENTENCES) -> list[str]:
    """The article's first sentences, where news states what the headline says."""
    return [article[s:e] for s, e in sentence_spans(article)[:sentences]]


def headline_support(headline: str, sources: Sequence[str], names: ActorNames | None) -> Support:
    """Names, numbers and status words of the headline against ``sources`` (every
    key point's quotes and the article's lead); no share of words: headlines
    compress too hard for one."""
    return check_support(headline, sources, names=names, min_coverage=0.0)


class SupportChecker:
    """The support rules for one article, reading each quote in its sentence.

    A quote is a span the reader sees in place, and the subject of its sentence is
    often just outside it ("Bush said [both require a viable Palestinian state]"), so
    the rules read the sentence(s) a quote stands in: a claim must be what that
    sentence says. Build once per article (sentence boundaries are found once).
    """

    def __init__(self, article: str, aligner: Locator, *, enforced_only: bool = False) -> None:
        #: Check only the :data:`ENFORCED` rules (the grounder's, on every answer);
        #: actors and open questions have none, so they always pass.
        self.enforced_only = enforced_only
        self.aligner = aligner
        # The aligner's: an article is split once, whoever asks first (the quote
        # candidates of a request, this checker, a grounder salvaging an answer).
        self._spans = aligner.sentences if article == aligner.text else sentence_spans(article)
        self._starts = [s for s, _ in self._spans]
        self._lead = [article[s:e] for s, e in self._spans[:LEAD_SENTENCES]]
        self._actors: dict[int, tuple[Actor, Support]] = {}
        # A quote's span -> its sentence(s), one string per span: the headline reads
        # every key point's again, and the rules' caches hash a string once.
        self._widened: dict[tuple[int, int], str] = {}

    def widen(self, evidence: Sequence[Evidence]) -> list[str]:
        """Each quote's sentence(s); a quote not in the article as itself."""
        text = self.aligner.text
        out = []
        for ev in evidence:
            start, end = ev.start, ev.end
            if start is None or end is None or text[start:end] != ev.quote:
                match = self.aligner.locate(ev.quote)
                if match is None:
                    out.append(ev.quote)
                    continue
                start, end = match.start, match.end
            if not self._spans:
                out.append(ev.quote)
                continue
            widened = self._widened.get((start, end))
            if widened is None:
                i = max(bisect_right(self._starts, start) - 1, 0)
                j = max(bisect_left(self._starts, end) - 1, i)
                widened = self._widened[start, end] = text[self._spans[i][0] : self._spans[j][1]]
            out.append(widened)
        return out

    def key_point(self, kp: KeyPoint, names: ActorNames | None) -> Support:
        return check_support(
            kp.text, self.widen(kp.evidence), names=names, enforced_only=self.enforced_only
        )

    def actor(self, actor: Actor) -> Support:
        if self.enforced_only:
            return _PASS
        known = self._actors.get(id(actor))
        if known is not None and known[0] is actor:
            return known[1]
        return actor_support(actor, self.widen(actor.evidence))

    def commitment(self, commitment: Commitment, names: ActorNames | None) -> Support:
        quotes = self.widen(commitment.evidence)
        if self.enforced_only:
            return check_support(commitment.action, quotes, enforced_only=True)
        return commitment_support(commitment, quotes, names)

    def question(self, question: OpenQuestion, names: ActorNames | None) -> Support:
        if self.enforced_only:
            return _PASS  # asked, not asserted: lenient, nothing enforced
        return question_support(question, self.widen(question.evidence), names)

    def headline(self, summary: ArticleSummary, names: ActorNames | None) -> Support:
        quotes = self.widen([ev for kp in summary.key_summary.key_points for ev in kp.evidence])
        if self.enforced_only:
            return check_support(
                summary.key_summary.headline, [*quotes, *self._lead], enforced_only=True
            )
        return headline_support(summary.key_summary.headline, [*quotes, *self._lead], names)

    def names(self, actors: Sequence[Actor]) -> ActorNames:
        """The actors a claim may name through an alias or a pronoun: those whose own
        evidence names them (a made-up actor lends no names)."""
        if self.enforced_only:
            return ActorNames(())  # the enforced rules read no names
        # Kept for this summary's own actor check (one pass: the next call resets it).
        self._actors = {id(a): (a, actor_support(a, self.widen(a.evidence))) for a in actors}
        return ActorNames(a for a, support in self._actors.values() if support.supported)

    def summary(self, summary: ArticleSummary) -> list[ItemSupport]:
        """Every checked item of ``summary`` with its support, in document order."""
        names = self.names(summary.actors)
        ks = summary.key_summary
        out = [ItemSupport("key_summary.headline", ks.headline, self.headline(summary, names))]
        out += [
            ItemSupport(f"key_summary.key_points[{i}]", kp.text, self.key_point(kp, names))
            for i, kp in enumerate(ks.key_points)
        ]
        out += [
            ItemSupport(f"actors[{i}]", a.name, self.actor(a)) for i, a in enumerate(summary.actors)
        ]
        out += [
            ItemSupport(f"commitments[{i}]", c.action, self.commitment(c, names))
            for i, c in enumerate(summary.commitments)
        ]
        out += [
            ItemSupport(f"open_questions[{i}]", q.question, self.question(q, names))
            for i, q in enumerate(summary.open_questions)
        ]
        return out


def support_rate(items: Sequence[ItemSupport]) -> dict[str, Any]:
    """The eval's ``supported`` figure: the share of a summary's items that their own
    quotes support, and which are not (``item``: its path; ``missing``: the words)."""
    ok = sum(it.support.supported for it in items)
    return {
        "rate": round(ok / len(items), 4) if items else 1.0,
        "items": len(items),
        "supported": ok,
        "unsupported": [
            {"item": it.path, "missing": list(it.support.missing)}
            for it in items
            if not it.support.supported
        ],
    }
