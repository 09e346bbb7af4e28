"""Actors found by rules, because a small model invents or drops them while news prose
names its actors in a few fixed ways and later calls them by a surname, an acronym or
another name of their country. Merging those mentions into actors and keeping the
salient ones follows general English news convention, nothing fitted to one article;
:mod:`.commitments` and :mod:`.questions` find the same actors in a sentence through
:func:`actor_spans`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from summarizer.contract.models import Actor, ActorKind
from summarizer.extractive.lexicon import (
    CONNECTORS,
    COUNTRY_OF,
    DEMONYM_OF,
    GROUP_NOUNS,
    KNOWN_ORGS,
    ORG_WORDS,
    PEOPLE_OF,
    SPEECH_VERBS,
)
from summarizer.extractive.mentions import Mention, find_mentions
from summarizer.extractive.sentences import Sentence, quote

MAX_ACTORS = 20  # the contract's upper bound (llm_schema._LIST_BOUNDS)
MAX_ALIASES = 6


@dataclass
class _Cand:
    name: str
    kind: ActorKind
    mentions: list[Mention] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    role: str | None = None
    affiliation: str | None = None

    def score(self) -> float:
        subj = sum(1 for m in self.mentions if m.subject)
        first = min(m.sentence for m in self.mentions)
        return (
            len(self.mentions)
            + 1.5 * subj
            + (1.0 if self.role else 0.0)
            + (1.0 if first < 3 else 0.0)
            + (0.5 if self.kind == "person" else 0.0)
        )


def _kind(name: str, mentions: Sequence[Mention]) -> ActorKind:
    words = name.split()
    lows = {w.lower() for w in words}
    if name in COUNTRY_OF:
        return "country"
    if name in PEOPLE_OF:
        return "group"
    if lows & ORG_WORDS or name in KNOWN_ORGS:
        return "organization"
    if any(m.titled or m.honorific for m in mentions):
        return "person"
    if re.fullmatch(r"[A-Z][A-Z.&]{1,8}", name):
        return "organization"
    if (
        len(words) >= 2
        and "of" not in lows
        and all(w[:1].isupper() or w.lower() in CONNECTORS for w in words)
    ):
        return "person"
    return "organization"


def _initials(name: str) -> str:
    return "".join(w[0] for w in name.split() if w[:1].isupper())


def _merge(mentions: list[Mention]) -> list[_Cand]:
    """Mentions grouped into actors: by exact name, then a surname or a shorter tail to
    the one fuller person name it ends, an acronym to the name it abbreviates, and a
    country's other names to the country."""
    by_name: dict[str, list[Mention]] = {}
    for m in mentions:
        key = COUNTRY_OF.get(m.name, m.name)
        by_name.setdefault(key, []).append(m)
    cands = {n: _Cand(n, _kind(n, ms), list(ms)) for n, ms in by_name.items()}
    for m in mentions:
        canon = COUNTRY_OF.get(m.name)
        if canon and m.name != canon and m.name not in cands[canon].aliases:
            cands[canon].aliases.append(m.name)
    # Acronyms given in parentheses, or matching a name's initials.
    for c in list(cands.values()):
        for m in c.mentions:
            if m.acronym and m.acronym in cands and m.acronym != c.name:
                _absorb(cands, c.name, m.acronym)
            elif m.acronym and m.acronym not in c.aliases:
                c.aliases.append(m.acronym)
    for name in list(cands):
        if name not in cands or not re.fullmatch(r"[A-Z]{2,6}", name) or name in COUNTRY_OF:
            continue
        full = [n for n in cands if n != name and len(n.split()) >= 2 and _initials(n) == name]
        if len(full) == 1:
            _absorb(cands, full[0], name)
    # Shorter names into the one fuller name that ends (or, for two-word names,
    # starts) with them.
    # Names by their last word, so that each name is compared only with the names
    # that could end with it (all of them: quadratic on a long article).
    by_last: dict[str, list[str]] = {}
    for n in cands:
        by_last.setdefault(n.split()[-1], []).append(n)
    for name in sorted(cands, key=lambda n: len(n.split())):
        if name not in cands or cands[name].kind in ("country", "group"):
            continue
        words = name.split()
        fuller = [
            n
            for n in by_last.get(words[-1], ())
            if n in cands
            and n != name
            and len(n.split()) > len(words)
            and cands[n].kind not in ("country", "group")
            and n.split()[-len(words) :] == words
        ]
        if len(fuller) != 1:
            persons = [n for n in fuller if cands[n].kind == "person"]
            fuller = persons if len(persons) == 1 else []
        if len(fuller) == 1:
            _absorb(cands, fuller[0], name)
    return list(cands.values())


def _absorb(cands: dict[str, _Cand], into: str, name: str) -> None:
    target, gone = cands[into], cands.pop(name)
    target.mentions.extend(gone.mentions)
    for alias in (gone.name, *gone.aliases):
        if alias != target.name and alias not in target.aliases:
            target.aliases.append(alias)
    if gone.kind == "person" and target.kind == "organization" and len(target.name.split()) <= 3:
        target.kind = "person"


def _group_mentions(article: str, sentences: Sequence[Sentence]) -> list[_Cand]:
    """Plural groups: "Ukrainian officials", "protesters", "the Russians"."""
    by_head: dict[str, _Cand] = {}
    pattern = re.compile(
        r"\b(?:([A-Z][\w.]*(?: [A-Z][\w.]*)?) )?(?:([a-z][a-z-]+) )?("
        + "|".join(sorted(GROUP_NOUNS))
        + r")\b"
    )
    for s in sentences:
        for m in pattern.finditer(s.text):
            mod, adj, head = m.group(1), m.group(2), m.group(3)
            if mod and mod not in DEMONYM_OF and mod not in COUNTRY_OF:
                mod = None
            if adj and adj in {
                "the",
                "of",
                "and",
                "by",
                "with",
                "to",
                "for",
                "from",
                "that",
                "said",
                "some",
                "many",
                "other",
                "two",
                "three",
                "several",
                "his",
                "her",
                "their",
                "million",
                "thousand",
                "hundred",
                "hundreds",
                "thousands",
                "millions",
                "all",
                "more",
                "most",
                "few",
                "these",
                "those",
                "its",
                "our",
                "were",
                "are",
                "whose",
                "which",
                "who",
            }:
                adj = None
            affiliation = None
            if mod:
                affiliation = DEMONYM_OF.get(mod) or COUNTRY_OF.get(mod)
            parts = [p for p in (mod, adj, head) if p]
            text = " ".join(parts)
            key = f"{affiliation or ''}|{head}"
            start = s.start + m.start(1 if mod else 2 if adj else 3)
            end = s.start + m.end(3)
            rest = s.text[m.end(3) : m.end(3) + 25].lower().split()
            subject = bool(rest) and (rest[0] in SPEECH_VERBS or rest[0] in {"have", "were", "are"})
            mention = Mention(
                text, s.index, start, end, 0, 0, subject=subject, affiliation=affiliation
            )
            cand = by_head.setdefault(key, _Cand(text, "group", affiliation=affiliation))
            if len(text) > len(cand.name) and mod:
                cand.aliases.append(cand.name)
                cand.name = text
            elif text != cand.name and text not in cand.aliases:
                cand.aliases.append(text)
            cand.mentions.append(mention)
    for s in sentences:
        for m in re.finditer(r"\b(?:the )?([A-Z][a-z]+s)\b", s.text):
            country = PEOPLE_OF.get(m.group(1))
            if country is None:
                continue
            rest = s.text[m.end() : m.end() + 20].lower().split()
            subject = bool(rest) and rest[0] in SPEECH_VERBS
            mention = Mention(
                m.group(1), s.index, s.start + m.start(1), s.start + m.end(1), 0, 0, subject=subject
            )
            cand = by_head.setdefault(
                m.group(1), _Cand(m.group(1), "group", affiliation=country or None)
            )
            cand.mentions.append(mention)
    return [
        c for c in by_head.values() if len(c.mentions) >= 2 and any(m.subject for m in c.mentions)
    ]


def _finish(c: _Cand) -> None:
    """Role and affiliation from the mentions: the most frequent stated role."""
    roles = [m.role for m in c.mentions if m.role]
    if roles and c.kind == "person":
        c.role = max(roles, key=lambda r: (roles.count(r), -roles.index(r)))
    affs = [m.affiliation for m in c.mentions if m.affiliation]
    if affs and c.kind in ("person", "organization", "group"):
        c.affiliation = c.affiliation or max(affs, key=affs.count)
    if c.kind not in ("person",):
        c.role = None


def find_actors(article: str, sentences: Sequence[Sentence]) -> list[Actor]:
    """The article's actors, most salient first, at most :data:`MAX_ACTORS`."""
    mentions = find_mentions(article, sentences)
    cands = _merge(mentions)
    cands.extend(_group_mentions(article, sentences))
    kept: list[_Cand] = []
    for c in cands:
        if all(m.place_only for m in c.mentions) and not any(m.subject for m in c.mentions):
            continue  # only ever a place: "in Saudi Arabia"
        if (
            c.kind == "organization"
            and len(c.name.split()) == 1
            and not re.fullmatch(r"[A-Z][A-Z.&]+", c.name)
            and c.name not in KNOWN_ORGS
            and any(m.place_only for m in c.mentions)
            and not any(m.subject or m.titled for m in c.mentions)
        ):
            continue  # a city or region: "in Houston", "Houston's"
        if (
            c.kind == "organization"
            and len(c.name.split()) == 1
            and all(m.initial for m in c.mentions)
            and c.name not in KNOWN_ORGS
            and not re.fullmatch(r"[A-Z][A-Z.&]+", c.name)
            and not c.aliases
        ):
            continue  # "Prices will rise": a common word that opens a sentence
        if c.kind == "group" and c.name in PEOPLE_OF and not any(m.subject for m in c.mentions):
            continue
        _finish(c)
        kept.append(c)
    kept.sort(key=lambda c: (-c.score(), min(m.start for m in c.mentions)))
    chosen: list[_Cand] = []
    for c in kept:
        same = next((d for d in chosen if d.name == c.name), None)
        if same is not None:
            same.mentions.extend(c.mentions)
        elif _important(c) and len(chosen) < MAX_ACTORS:
            chosen.append(c)
    if not chosen and kept:
        chosen = kept[:1]
    by_index = {s.index: s for s in sentences}
    out: list[Actor] = []
    for c in chosen:
        ev_mention = next(
            (m for m in c.mentions if m.subject), min(c.mentions, key=lambda m: m.start)
        )
        out.append(
            Actor(
                name=c.name,
                kind=c.kind,
                role=c.role,
                affiliation=c.affiliation if c.affiliation != c.name else None,
                aliases=[a for a in c.aliases if a != c.name][:MAX_ALIASES],
                evidence=[quote(by_index[ev_mention.sentence])],
            )
        )
    return out


def _important(c: _Cand) -> bool:
    """Keep an actor named twice, or once with a title or as a speaker."""
    if c.kind == "group":
        return True
    n = len(c.mentions)
    subj = any(m.subject for m in c.mentions)
    titled = any(m.titled for m in c.mentions)
    if n >= 2:
        return True
    return subj or titled or (c.kind == "person")


# --- helpers for the other components --------------------------------------------------


def actor_spans(
    article: str, sentence: Sentence, actors: Sequence[Actor]
) -> list[tuple[int, int, str]]:
    """Where the sentence mentions an actor: (start, end, actor name), in text order,
    longest names first at a position."""
    found: list[tuple[int, int, str]] = []
    for actor in actors:
        for name in sorted({actor.name, *actor.aliases}, key=len, reverse=True):
            if len(name) < 2:
                continue
            for m in re.finditer(r"(?<![\w])" + re.escape(name) + r"(?![\w])", sentence.text):
                found.append((sentence.start + m.start(), sentence.start + m.end(), actor.name))
    found.sort(key=lambda f: (f[0], -(f[1] - f[0])))
    out: list[tuple[int, int, str]] = []
    last_end = -1
    for f in found:
        if f[0] >= last_end:
            out.append(f)
            last_end = f[1]
    return out


def names_in(article: str, sentence: Sentence, actors: Sequence[Actor]) -> list[str]:
    """The distinct actor names the sentence mentions, in order."""
    seen: list[str] = []
    for _, _, name in actor_spans(article, sentence, actors):
        if name not in seen:
            seen.append(name)
    return seen


def kinds(actors: Iterable[Actor]) -> dict[str, ActorKind]:
    return {a.name: a.kind for a in actors}
