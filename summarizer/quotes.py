"""Every support rule reads the same evidence: its words, the forms of a name in it,
its content stems, numbers and negations. Preparing them once per item keeps the check
fast enough to run on every answer, and leaves one place to decide what counts as the
same name ("Russian"/"Russia", "Feb."/"February", "UN"/"United Nations").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from summarizer.numbers import numbers_in
from summarizer.similarity import ActorNames, normalize, stems

if TYPE_CHECKING:
    from summarizer.contract.models import Actor

NEGATIONS = frozenset("not no never without neither nor none nobody nothing cannot".split())
# What may carry a claim's negation in the evidence: a negation, or a refusal word.
NEGATING = ("refus", "reject", "deni", "deny", "declin", "fail", "lack", "unabl", "halt", "yet")
# Nationality words and country names that share no prefix; others are found by
# prefix ("russian"/"russia", "chinese"/"china").
_DEMONYMS = {
    "dutch": ("netherlands", "holland"), "british": ("britain", "uk", "england"),
    "french": ("france",), "swiss": ("switzerland",), "welsh": ("wales",),
    "irish": ("ireland",), "spanish": ("spain",), "us": ("america", "american", "americans"),
    "uk": ("britain", "british"), "greek": ("greece",), "filipino": ("philippines",),
}  # fmt: skip
_DEMONYMS.update({v: (*_DEMONYMS.get(v, ()), k) for k, vs in list(_DEMONYMS.items()) for v in vs})
_MONTHS = frozenset(
    "january february march april may june july august september october november "
    "december jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
# Not enough on its own to say an actor is mentioned ("the president").
_WEAK_NAME_WORDS = frozenset("the of and for president minister leader government".split())
WORD = re.compile(r"(?:[A-Za-z]\.){2,}|\d+(?:[.,]\d+)*|[^\W\d_]+(?:'[^\W\d_]+)?")
_OPENERS = frozenset('.!?:;"“”(—–-')


class Token(NamedTuple):
    """A word (a tuple: built for every word of every answer's evidence, and a
    dataclass took a third of the support check's time)."""

    text: str  # as written (curly apostrophes straightened)
    lower: str
    opens: bool  # first word of a sentence, a quotation or a clause after a colon


@lru_cache(maxsize=8192)
def tokenize(text: str) -> tuple[Token, ...]:
    """The words of ``text``; cached: actors' names are read for every claim."""
    text = text.replace("\u2019", "'")
    out: list[Token] = []
    prev_end = 0
    for m in WORD.finditer(text):
        gap = text[prev_end : m.start()].strip()
        opens = not out or (bool(gap) and gap[-1] in _OPENERS)
        word = m.group()
        out.append(Token(word, word.lower(), opens))
        prev_end = m.end()
    return tuple(out)


@lru_cache(maxsize=8192)
def word_key(word: str) -> str:
    """A name token as compared: accents, case, dots and a possessive dropped, a
    month as its first three letters ("Feb." is "February")."""
    word = normalize(word)[0].replace(".", "")
    if word.endswith("'s"):
        word = word[:-2]
    word = word.strip("'")
    return word[:3] if word in _MONTHS else word


@lru_cache(maxsize=8192)
def word_stems(word: str) -> frozenset[str]:
    """A word's content stem (empty for a stop word), cached: the same words recur."""
    return frozenset(stems(word))


def common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class _Part(NamedTuple):
    """One quote (a sentence, as a rule) read once: the same sentences stand behind
    several items of an answer (a key point, its actors, a commitment)."""

    tokens: tuple[Token, ...]
    keys: tuple[str, ...]
    numbers: frozenset[float]


@lru_cache(maxsize=4096)
def _part(text: str) -> _Part:
    tokens = tokenize(text)
    return _Part(
        tokens,
        tuple(word_key(t.text) for t in tokens),
        frozenset(v for v, _, _ in numbers_in([t.lower for t in tokens])),
    )


@lru_cache(maxsize=4096)
def _part_stems(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """A quote's content stems and their prefixes: only the whole check reads them
    (the eval's), not the enforced rules every answer gets."""
    found = frozenset(stems(text))
    return found, frozenset(s[:k] for s in found for k in range(4, len(s)))


def quotes_of(texts: Iterable[str]) -> Quotes:
    """The :class:`Quotes` of ``texts``, built once per distinct evidence: an answer's
    items share sentences (an actor's evidence is often a key point's)."""
    return _quotes(tuple(texts))


@lru_cache(maxsize=512)
def _quotes(texts: tuple[str, ...]) -> Quotes:
    return Quotes(texts)


class Quotes:
    """An item's evidence, prepared once for every rule that reads it."""

    __slots__ = ("_initials", "_padded", "_prefixes", "_stems", "_texts", "_tokens",
                 "capitalized", "numbers", "text", "words")  # fmt: skip

    def __init__(self, quotes: Iterable[str]) -> None:
        texts = [q for q in quotes if q]
        parts = [_part(q) for q in texts]
        self.text = " … ".join(texts)
        self._tokens = tuple(t for p in parts for t in p.tokens)
        keys = [k for p in parts for k in p.keys]
        self.words = set(keys)
        # Names as the article capitalizes them: only these match another form of a
        # name ("Russian" for "Russia"; "officials" is no form of "Office").
        self.capitalized = {
            k for k, t in zip(keys, self._tokens, strict=True) if t.text[0].isupper()
        }
        self.numbers: set[float] = set().union(*(p.numbers for p in parts))
        self._texts = texts
        self._stems: set[str] | None = None
        self._prefixes: set[str] = set()
        self._padded = f" {' '.join(keys)} "
        self._initials: str | None = None

    @property
    def stems(self) -> set[str]:
        """The content stems of the quotes (read on first use)."""
        if self._stems is None:
            found = [_part_stems(t) for t in self._texts]
            self._stems = set().union(*(f[0] for f in found))
            self._prefixes = set().union(*(f[1] for f in found))
        return self._stems

    def has_stem(self, stem: str) -> bool:
        """``stem`` or a stem it starts or that starts it, 4 letters at least
        ("agre" of "agreed" and "agree" of "agreement")."""
        if stem in self.stems or stem in self._prefixes:  # (stems first: it fills both)
            return True
        return any(stem[:k] in self.stems for k in range(4, len(stem)))

    def has_name(self, key: str, *, capitalized: bool = False) -> bool:
        """A name token, or another form of it: "russian"/"russia", "iraqi"/"iraq"
        (a common prefix of 4 letters at least, all but two of the shorter word's),
        "dutch"/"netherlands" (a small table). ``capitalized``: as a name only."""
        words = self.capitalized if capitalized else self.words
        if key in words or any(d in words for d in _DEMONYMS.get(key, ())):
            return True
        if len(key) < 4:
            return False
        for w in words:
            shorter = min(len(w), len(key))
            if shorter >= 4 and w[:4] == key[:4] and common_prefix(w, key) >= shorter - 2:
                return True
        return False

    def has_acronym(self, key: str) -> bool:
        """``key`` ("un", "us") as the initials of capitalized words in a row
        ("United Nations"), small words skipped."""
        if self._initials is None:
            self._initials = "".join(
                t.text[0].lower() if t.text[0].isupper() else " "
                for t in self._tokens
                if t.lower not in ("of", "the", "and", "for")
            )
        return len(key) >= 2 and key in self._initials

    def mentioned(self, actors: Sequence[Actor]) -> list[Actor]:
        """The ``actors`` the evidence mentions by name, alias or a role of two
        words or more ("the director general of the FAO")."""
        return [a for a in actors if self.mentions(ActorNames.names(a)) or self.has_role(a)]

    def has_role(self, actor: Actor) -> bool:
        words = [k for k in (word_key(t.lower) for t in tokenize(actor.role or "")) if k]
        return len(words) >= 2 and f" {' '.join(words)} " in self._padded

    def mentions(self, names: Iterable[str]) -> bool:
        """Whether one of ``names`` (an actor's name and aliases) is in the evidence,
        as a whole phrase or by its last word (a surname, "Putin")."""
        for name in names:
            tokens = tokenize(name)
            words = [k for k in (word_key(t.text) for t in tokens) if k]
            if not words:
                continue
            if f" {' '.join(words)} " in self._padded:
                return True
            last = words[-1]
            # A capitalized last word is a surname: matched as a name ("Russian
            # officials" is not the "Home Office"); a common noun as a word.
            proper = tokens[-1].text[0].isupper()
            if (
                len(last) >= 3
                and last not in _WEAK_NAME_WORDS
                and self.has_name(last, capitalized=proper)
            ):
                return True
        return False

    def small_numbers(self) -> bool:
        """Whether the evidence gives a count of ten or less (a spelled small number
        of the claim must then be that one)."""
        return any(v <= 10 for v in self.numbers)

    def has_negation(self) -> bool:
        if self.words & NEGATIONS or "n't" in self.text or "n’t" in self.text:
            return True
        return any(w.startswith(NEGATING) for w in self.words)
