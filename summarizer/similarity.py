"""How text compares: normalization, lexical similarity and actor names, shared by
grounding, merging and the eval scorer.

* **normalization**: :func:`normalize` (whitespace runs, curly vs straight quotes,
  dash variants, case, accents, Unicode compatibility forms, invisible format
  characters) with a map back to the original offsets, which grounding's quote
  aligner needs; :func:`name_key`, a name or item text as compared for identity;
* **lexical**: :func:`stems` (content-word stems: lowercased, stop words out, light
  suffix stripping, a small synonym table) compared by :func:`dice`; and
  :func:`span_overlap` for two sets of quotes of the same article;
* **actor names**: :class:`ActorNames`, one index of actors by normalized name and
  alias with a name-suffix lookup, and the three ways it is used: grounding resolves
  a name as a model wrote it to an actor (:meth:`ActorNames.resolve`), merging finds
  the actor a part's actor is the same as (:meth:`ActorNames.same_as`), and the
  scorer rates how surely a golden and a candidate actor are one
  (:meth:`ActorNames.similarity`).

It sits below :mod:`summarizer.grounding`, :mod:`summarizer.merge` and
:mod:`summarizer.evals` and imports nothing of the package but the contract's types.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from summarizer.contract.models import Actor

_CHAR_MAP = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
    "\u2015": "-", "\u2212": "-",
    "\u2026": "...",
}  # fmt: skip
# Interior whitespace that normalizing changes: runs other than one plain space.
_ODD_SPACE = re.compile(r"[^\S ]\s*|  \s*")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


@lru_cache(maxsize=8192)
def _fold(char: str) -> str:
    """What one non-space character compares as: typographic quotes and dashes as
    ASCII, compatibility forms as their plain letters (NFKD: ligatures, full-width),
    accents and other combining marks dropped (so NFC and NFD spellings of a word
    match), invisible format characters (soft hyphen, zero-width space) dropped,
    and lower case."""
    if char in _CHAR_MAP:
        return _CHAR_MAP[char]
    if unicodedata.category(char) == "Cf":
        return ""
    decomposed = unicodedata.normalize("NFKD", char)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip().lower()


def normalize(text: str) -> tuple[str, list[int]]:
    """Normalize ``text`` and return it with a map from each output char to its source.

    ``index[i]`` is the offset in ``text`` of the character that produced output
    character ``i``; ``index`` has one extra entry (``len(text)``) so that an end
    offset maps too. Whitespace runs become one space; characters compare as
    :func:`_fold` says. Runs once per article and once per quote on every answer,
    so the common case (no character changes length) works on whole runs of text,
    in C; the rest goes one character at a time.
    """
    mapped = text.lower()
    if len(mapped) != len(text):
        return _normalize_slow(text)
    if not text.isascii():
        # A handful of distinct characters as a rule: one C-speed replace each.
        for char in set(_NON_ASCII.findall(text)):
            if char.isspace():
                continue
            folded = _fold(char)
            if len(folded) != 1:
                return _normalize_slow(text)
            mapped = mapped.replace(char.lower(), folded)
    body_start = len(mapped) - len(mapped.lstrip())
    body_end = len(mapped.rstrip())
    out: list[str] = []
    index: list[int] = []
    pos = body_start
    for m in _ODD_SPACE.finditer(mapped, body_start, body_end):
        start, end = m.span()
        if mapped[start - 1] == " ":  # the run began with one plain space
            start -= 1
        out.append(mapped[pos:start])
        index.extend(range(pos, start))
        out.append(" ")
        index.append(end - 1)
        pos = end
    out.append(mapped[pos:body_end])
    index.extend(range(pos, max(body_end, pos)))
    index.append(len(text))
    return "".join(out), index


def _normalize_slow(text: str) -> tuple[str, list[int]]:
    """:func:`normalize` one character at a time, for text where lengths change."""
    out: list[str] = []
    index: list[int] = []
    pending_space = False
    for i, ch in enumerate(text):
        if ch.isspace():
            pending_space = bool(out)
            continue
        rep = _fold(ch) if ord(ch) > 127 else ch.lower()
        if not rep:
            continue
        if pending_space:
            out.append(" ")
            index.append(i - 1)
            pending_space = False
        for r in rep:
            out.append(r)
            index.append(i)
    index.append(len(text))
    return "".join(out), index


_STOP = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been
    being has have had do does did will would shall should may might can could that this
    these those it its their his her he she they them we our you your i not no than then
    there here who whom whose which what when where why how about into over after before
    also said says say more most such other any some all each own very just up out so
    s t""".split()
)


# Words news summaries use interchangeably, folded to one stem. Small on purpose: each
# entry was needed by a paraphrase in the scorer's meta-eval (tests/test_scoring_meta.py),
# and a wider net would match items that differ.
_SYNONYMS = {
    "agreement": "agree", "deal": "agree", "accord": "agree", "pact": "agree",
    "talks": "negoti", "negotiation": "negoti", "negotiations": "negoti",
    "negotiate": "negoti", "negotiating": "negoti",
    "drop": "declin", "dropped": "declin", "fall": "declin", "fell": "declin",
    "fallen": "declin", "decline": "declin", "declined": "declin", "lower": "declin",
    "decrease": "declin", "decreased": "declin",
    "meeting": "meet", "met": "meet", "meets": "meet",
    "stated": "say", "told": "say", "announced": "announc", "announces": "announc",
    "killed": "kill", "dead": "kill", "died": "kill", "deaths": "kill", "death": "kill",
    "war": "war", "conflict": "war", "fighting": "war",
    "president": "presid", "presidential": "presid",
}  # fmt: skip
_SUFFIXES = ("ations", "ation", "ments", "ment", "ings", "ing", "ies", "ied", "ed", "es", "s")


@lru_cache(maxsize=4096)
def name_key(name: str, strip: str | None = " .") -> str:
    """A name or item text as compared for identity: normalized (whitespace runs,
    quote and dash variants, case, accents), then ``strip`` taken off both ends
    (``None``: whitespace only). Cached: the same names recur across the items of
    one answer and across articles. An item's text is new with each answer, though
    (every item is keyed to drop repeats), and ASCII text, the usual case, needs no
    offset map: its normalized form is its lowercased words joined by one space
    (ASCII whitespace is the same to ``str.split`` as to the regex ``\\s``)."""
    if name.isascii():
        return " ".join(name.lower().split()).strip(strip)
    return normalize(name)[0].strip(strip)


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """Cached: stems run over every answer's items and their evidence, and the same
    words recur."""
    if word in _SYNONYMS:
        return _SYNONYMS[word]
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:6]


def folded(text: str) -> str:
    """``text`` as :func:`normalize` compares it, without the offset map: one C-speed
    replace per distinct non-ASCII character, whatever its folded length (an
    ellipsis, a ligature), where :func:`normalize` must walk such text a character
    at a time to keep offsets. For comparing words, not for locating them."""
    mapped = text.lower()
    if not mapped.isascii():
        for char in set(_NON_ASCII.findall(mapped)):
            mapped = mapped.replace(char, " " if char.isspace() else _fold(char))
    return " ".join(mapped.split())


def stems(text: str | None) -> set[str]:
    """Content-word stems of ``text`` (a set of the caller's own)."""
    return set(_stems(text)) if text else set()


@functools.lru_cache(maxsize=4096)
def _stems(text: str) -> frozenset[str]:
    """Kept per text: scoring one article asked for the same few hundred texts' stems
    4,757 times for 502 comparisons (17 ms of the eval CLI's start)."""
    words = re.findall(r"[a-z0-9]+", folded(text))
    return frozenset(_stem(w) for w in words if w not in _STOP and len(w) > 1)


def dice(a: AbstractSet[str], b: AbstractSet[str]) -> float:
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


def span_overlap(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> float:
    """Largest overlap of two quote sets, relative to the shorter quote."""
    best = 0.0
    for s1, e1 in a:
        for s2, e2 in b:
            inter = min(e1, e2) - max(s1, s2)
            if inter > 0:
                best = max(best, inter / min(e1 - s1, e2 - s2))
    return best


@functools.lru_cache(maxsize=4096)
def _lexical_keys(names: tuple[str, ...]) -> frozenset[str]:
    """:meth:`ActorNames.lexical_keys` of an actor with these names. Kept per names:
    the scorer compares every golden actor with every candidate one, and asked for the
    same actor's keys once per pair (issue #11)."""
    return frozenset(" ".join(sorted(stems(n))) or name_key(n, None) for n in names) - {""}


class ActorNames:
    """Actors indexed by name and alias, with the three policies built on the index.

    Primitives: :meth:`key` (a name as compared: case, spacing, quote and dash
    variants ignored, and surrounding periods; with ``strip_quotes`` also surrounding
    quotation marks), :meth:`index` / :meth:`exact` (name or alias to actor; the
    first actor to claim a key keeps it), and :meth:`ending_with` (the actors whose
    name ends with the given words, read from their current names, so an actor
    renamed after it was added is found by its new name).

    Policies:

    * :meth:`resolve` (grounding, a commitment's actor as the model wrote it): exact
      name or alias, else the one actor whose name ends with the given words
      ("Putin" or "putin" -> "Vladimir Putin"); ``None`` when none or several do;
    * :meth:`same_as` (merging a long article's parts, built with
      ``strip_quotes=True``): the actor one of the names or aliases belongs to, else
      the one actor whose surname the first name is, when it is a single word;
    * :meth:`similarity` (the eval scorer, on two actors, no index): 1.0 for a shared
      name or alias, else overlap of the names' content words.
    """

    def __init__(self, actors: Iterable[Actor] = (), *, strip_quotes: bool = False) -> None:
        self._strip = " .'\"" if strip_quotes else " ."
        self.actors: list[Actor] = []
        self._by_key: dict[str, Actor] = {}
        for actor in actors:
            self.add(actor)

    @staticmethod
    def names(actor: Actor) -> tuple[str, ...]:
        """The actor's name, then its aliases."""
        return (actor.name, *actor.aliases)

    def key(self, name: str) -> str:
        return name_key(name, self._strip)

    def add(self, actor: Actor) -> None:
        """Add ``actor`` and index its name and aliases (keys not yet taken)."""
        self.actors.append(actor)
        self.index(actor, self.names(actor))

    def index(self, actor: Actor, names: Iterable[str]) -> None:
        """Make each of ``names`` lead to ``actor``, unless another actor has it."""
        for name in names:
            self._by_key.setdefault(self.key(name), actor)

    def exact(self, name: str) -> Actor | None:
        """The actor ``name`` is the name or an alias of."""
        return self._by_key.get(self.key(name))

    def ending_with(self, name: str) -> list[Actor]:
        """The actors whose name's last words are the words of ``name`` (none for
        an empty name); aliases are not searched."""
        words = self.key(name).split()
        if not words:
            return []
        return [a for a in self.actors if self.key(a.name).split()[-len(words) :] == words]

    def resolve(self, name: str) -> str | None:
        """Grounding: the canonical name ``name`` refers to, or ``None``."""
        found = self.exact(name)
        if found is not None:
            return found.name
        hits = {a.name for a in self.ending_with(name)}
        return hits.pop() if len(hits) == 1 else None

    def same_as(self, name: str, *aliases: str) -> Actor | None:
        """Merging: the actor that ``name`` or one of ``aliases`` is a name or alias
        of, in that order; else, if ``name`` is one word, the one actor whose name
        ends with it ("Putin" is "Vladimir Putin"; "Vladimir Putin" is not matched to
        an earlier "Putin" by this rule)."""
        for n in (name, *aliases):
            if (found := self.exact(n)) is not None:
                return found
        if len(self.key(name).split()) != 1:
            return None
        hits = self.ending_with(name)
        return hits[0] if len(hits) == 1 else None

    @staticmethod
    def lexical_keys(actor: Actor) -> set[str]:
        """The scorer's keys for an actor's names: sorted content-word stems, so
        "Putin, Vladimir" and "Vladimir Putin" agree; a name made only of stop words
        ("the i", a newspaper) is compared as written."""
        return set(_lexical_keys(ActorNames.names(actor)))

    @staticmethod
    def similarity(a: Actor, b: Actor) -> float:
        """The scorer: 1.0 for a shared name or alias; else overlap of name words
        (0.8 when one name's words are all in the other's, "Trump" in "Donald Trump";
        0.8 x their Dice overlap otherwise), the best over all name pairs."""
        if _lexical_keys(ActorNames.names(a)) & _lexical_keys(ActorNames.names(b)):
            return 1.0
        best = 0.0
        for an in ActorNames.names(a):
            for bn in ActorNames.names(b):
                x, y = _stems(an), _stems(bn)  # the kept sets, not copies: only read
                contained = bool(x and y) and (x <= y or y <= x)
                best = max(best, 0.8 if contained else 0.8 * dice(x, y))
        return best
