"""Does an item's text follow from its own quotes? The *support* check (issue #13).

Grounding proves a quote is in the article; it says nothing about the claim the quote
is attached to. A small model can cite a real sentence about shots fired into the air
for "at least 24 people were injured", and grounding reads 1.000. This check is
lexical, offline and fast (it runs on every answer), and deliberately lenient about
wording, strict about the facts a reader takes away:

The evidence is each quote's whole sentence (:class:`SupportChecker`): the subject of
a quoted clause is often just outside it ("Bush said [both require ...]"), and the
model is told to quote "the sentence that says it". A neighbouring sentence is not
evidence (the 24 injured are in the sentence after the shots).

* **numbers**: every number of the claim ("24", "twenty-four", "1.5 million",
  "2008") is among the numbers of its evidence, compared by value; a spelled count
  of ten or less may be a paraphrase ("two sides" for "both") unless the evidence
  gives another small count;
* **names**: every capitalized name token of the claim ("Zelenskyy", "U.S.",
  "Annapolis"; a sentence's first word only if it is an actor's) is in the evidence
  (other forms by shared prefix, "Russian"/"Russia", a small demonym table,
  acronyms by initials, "UN"/"United Nations"), or belongs to an actor of the
  summary (name, alias or role) whom the evidence mentions by name, alias or a
  role of two words or more, or by a pronoun when it names no one the claim does
  not; only actors whose own evidence names them lend their names;
* **status and polarity words**: a claim that says "president-elect", "former",
  "acting" ... or a negation ("not", "never", "without") needs the same word (for a
  negation: any negation or refusal) in its evidence; these flip a claim's truth
  while changing one word, which a share-of-words rule cannot see. The other way
  round too: a claim without a negation must not state what its evidence negates
  ("agreed to talks" from "has not agreed to talks": the negated word and the one
  after it), unless the evidence's negation sits in a condition ("if ... failed to")
  or the claim reports an attempt or a contrast ("tried to", "rather than");
* **content words**: at least :data:`MIN_COVERAGE` of the claim's other content-word
  stems (:func:`summarizer.similarity.stems`, its synonym table included; stems of 4
  letters or more of which one starts the other count: "agreed"/"agreement") are in
  the evidence. Claims of at most three content words need only the rules above.

Per section: a key point's text against its quotes; an actor's name or an alias in
its quotes (a group described in common words, "West Bank protesters", by those
words); a commitment's action against its quotes, which must not give it to someone
else (they mention its actor, or a pronoun, or no other actor than those the action
names); an open question leniently (a question asks, it does not assert: names and
numbers count as words, :data:`QUESTION_COVERAGE` of them, no status rule). The
headline has no quotes of its own: it is checked against the sentences of all key
points' quotes plus the article's first sentences (its lead) for names, numbers and
status words only, since headlines compress wording too hard for a share-of-words
rule. The summary paragraph is not checked (several sentences, no quotes; its facts
are the key points').

Calibration (``evals/wikinews``): 95.2% of the hand-labeled golden items pass
(1021/1073; the failures claim a fact none of their quotes' sentences state); the
embedded model's committed candidates pass 49.7% (82/165).

It is one module because the enforced rules (:func:`contradictions`, what every answer
gets) are the whole check's own rules read cheaply: they share its word lists, its
status and negation tests and its :class:`Support`, and must not drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from summarizer.names import NameCheck, is_name, keys_of_actor
from summarizer.numbers import is_ordinal, may_count, numbers_in
from summarizer.quotes import (
    NEGATING,
    NEGATIONS,
    WORD,
    Quotes,
    common_prefix,
    quotes_of,
    tokenize,
    word_stems,
)
from summarizer.similarity import ActorNames

if TYPE_CHECKING:
    pass


MIN_COVERAGE = 0.5
QUESTION_COVERAGE = 0.2
SHORT_CLAIM = 3  # content words; a claim with at most this many: names and numbers only

# Words that make a claim about someone's status: one of them changes who a person is
# ("president-elect", "former minister") while every other word still matches.
_STATUS = frozenset("elect former ex acting interim deputy designate outgoing incoming".split())


# The rules whose failure means the claim says something its quotes contradict or
# lack outright (a number, "elect", a "not"): these are re-asked or dropped. The
# others (too few of the claim's words, a name not in the quote) are reported and
# counted, not enforced: enforced, they re-asked 25 of the 33 hand-labeled golden
# summaries when replayed as model answers (a label's subject is often in another
# sentence), which would cost a good model's answer an extra call.
ENFORCED = frozenset({"number", "status", "negation"})
# A headline sums up the whole article, and is checked only against the key points'
# quotes and the lead: a number from elsewhere in the article is no contradiction
# there, a status word ("president-elect") or a negation the sources lack still is.
HEADLINE_ENFORCED = frozenset({"status", "negation"})


@dataclass(frozen=True)
class Support:
    """Whether a claim follows from its evidence, and what of it the evidence lacks."""

    supported: bool
    coverage: float  # share of the claim's content-word stems found in the evidence
    missing: tuple[str, ...]  # the claim's names, numbers and words not found, in order
    failed: tuple[str, ...] = ()  # the rules it fails: coverage, name, negation, number, status

    def contradicted(self, enforced: frozenset[str] = ENFORCED) -> bool:
        """It fails an enforced rule: re-asked or dropped, not only reported."""
        return bool(enforced.intersection(self.failed))

    def words(self) -> str:
        """The missing words as a model or a reader is told them: "injured", "24"."""
        return ", ".join(f'"{m}"' for m in self.missing)


def _verb_use(words: Sequence[str], i: int) -> bool:
    """ "acting as", "late to": a status word used as a verb or adverb."""
    return i + 1 < len(words) and words[i + 1] in ("as", "on", "to", "for", "in", "out")


def check_support(
    claim: str,
    quotes: Sequence[str] | Quotes,
    *,
    names: ActorNames | None = None,
    min_coverage: float = MIN_COVERAGE,
    short_claim: int = SHORT_CLAIM,
    lenient: bool = False,
    parties: Iterable[str] = (),
    enforced_only: bool = False,
) -> Support:
    """Whether ``claim`` follows from ``quotes``; the rules are the module docstring's.

    ``enforced_only``: only the :data:`ENFORCED` rules (numbers, status words,
    negations), which need neither the actors nor the content words: what every
    answer gets, cheaply (the whole check is the eval's, per item).

    ``names`` (the summary's actors) lets a name be supported through an actor the
    evidence mentions by another name or alias, or by a pronoun when it mentions no
    other actor ("This week, he announced ..." for "Trump announced ..."). With
    ``lenient`` (open questions) names and numbers are words like the others, only
    counted in the coverage, and status and negation words are not checked.
    ``parties`` (a commitment's actor and counterparty) may be named by a pronoun
    whoever else the evidence names ("as we both agreed").
    """
    if enforced_only:
        assert not isinstance(quotes, Quotes), "the enforced rules read the quotes' text"
        return contradictions(claim, quotes)
    ev = quotes if isinstance(quotes, Quotes) else quotes_of(quotes)
    tokens = tokenize(claim)
    lowered = [t.lower for t in tokens]
    actors = names.actors if names is not None else []
    keys_of = [keys_of_actor(a) for a in actors]
    all_keys: set[str] = set().union(*keys_of)
    strict: list[tuple[int, str]] = []  # what must be in the evidence and is not
    failed: set[str] = set()  # which rules the claim fails
    found = 0
    lacking: list[tuple[int, str]] = []  # content words not in the evidence
    in_number: set[int] = set()
    for value, first, last in numbers_in(lowered):
        in_number.update(range(first, last + 2 if is_ordinal(lowered, last) else last + 1))
        ok = (
            value in ev.numbers
            # "one of the", "no one": a pronoun as often as a count
            or (value == 1 and lowered[first] == "one" and first == last)
            # "two sides" for "both", "every two weeks" for "bi-weekly": a spelled
            # small count is a paraphrase unless the evidence gives another count
            or (value <= 10 and not lowered[first][0].isdigit() and not ev.small_numbers())
        )
        words = " ".join(t.text for t in tokens[first : last + 1])
        if lenient:
            found += ok
            if not ok:
                lacking.append((first, words))
        elif not ok:
            strict.append((first, words))
            failed.add("number")
    content: dict[str, tuple[int, str]] = {}
    names_found = NameCheck(tokens, ev, actors, keys_of, all_keys, parties)
    for i, tok in enumerate(tokens):
        if i in in_number:
            continue
        if is_name(tok, all_keys):
            ok = names_found(tok)
            if lenient:
                found += ok
                if not ok:
                    lacking.append((i, tok.text))
            elif not ok:
                strict.append((i, tok.text))
                failed.add("name")
        elif not lenient and tok.lower in _STATUS and not _verb_use(lowered, i):
            if not ev.has_name(tok.lower):
                strict.append((i, tok.text))
                failed.add("status")
        elif not lenient and tok.lower in NEGATIONS:
            if not ev.has_negation():
                strict.append((i, tok.text))
                failed.add("negation")
        else:
            for stem in word_stems(tok.lower):
                content.setdefault(stem, (i, tok.text))
    for stem, (i, word) in content.items():
        if ev.has_stem(stem):
            found += 1
        else:
            lacking.append((i, word))
    total = found + len(lacking)
    coverage = found / total if total else 1.0
    covered = len(content) <= short_claim or coverage >= min_coverage
    missing = tuple(dict.fromkeys(w for _, w in sorted([*strict, *lacking])))
    if not covered:
        failed.add("coverage")
    return Support(not failed, round(coverage, 4), missing, tuple(sorted(failed)))


class _Facts(NamedTuple):
    """What the enforced rules read of a quote's sentence: its numbers, its words
    (lowercased), whether it negates or refuses, and the words it negates. Far
    cheaper than :class:`~summarizer.quotes.Quotes` (no tokens kept, no name forms,
    no stems), and cached by sentence: it runs on every answer."""

    numbers: frozenset[float]
    words: frozenset[str]
    negated: bool
    negated_words: frozenset[tuple[str, str | None]]


# Between a negation and the word it negates: "has not yet agreed", "refused to
# agree", "denied that she had promised".
_NEGATION_GAP = frozenset(
    "to be been being have has had that she he they it we i you yet even also ever "
    "so a an the any its their his her formally publicly".split()
)


def _negates(word: str) -> bool:
    return word in NEGATIONS or word.endswith("n't") or word.startswith(NEGATING)


_CONDITIONAL = frozenset({"if", "unless", "whether", "should"})
# The claim words the status and negation rules look at (a claim with none skips them).
_STATUS_OR_NEGATION = _STATUS | NEGATIONS


def _content_after(lowered: list[str], i: int) -> int | None:
    """The index of the first word after ``i`` that is not a gap word, within five."""
    for j in range(i + 1, min(i + 6, len(lowered))):
        if lowered[j] not in _NEGATION_GAP:
            return j
    return None


def _negated_words(
    lowered: list[str], negating: AbstractSet[str]
) -> frozenset[tuple[str, str | None]]:
    """What the sentence says did not happen: each negation's first content word and
    the content word after that ("has not agreed to talks" -> ("agreed", "talks")).
    A negation in a condition ("if Russia failed to implement") asserts nothing.
    ``negating``: the sentence's words that :func:`_negates` (a set lookup per word
    here, not a call)."""
    out: set[tuple[str, str | None]] = set()
    for i, w in enumerate(lowered):
        if w not in negating or _CONDITIONAL.intersection(lowered[max(0, i - 6) : i]):
            continue
        j = _content_after(lowered, i)
        if j is None or _negates(lowered[j]):
            continue
        k = _content_after(lowered, j)
        out.add((lowered[j], lowered[k] if k is not None else None))
    return frozenset(out)


# A claim that reports an attempt or a contrast ("tried to free", "rather than a
# military solution") does not state that the thing happened.
_NOT_ASSERTED = frozenset({"tried", "try", "tries", "attempted", "sought", "than", "instead"})


def _states_negated(
    lowered: Sequence[str], negated: frozenset[tuple[str, str | None]]
) -> int | None:
    """The index of a claim word that its evidence negates, with the word after it
    in the evidence close behind in the claim; ``None`` if there is none."""
    # A form of a word shares its first four letters (see _has_form): most claim
    # words share them with no negated word and are passed over at one set lookup.
    prefixes = {word[:4] for word, _ in negated}
    for i, w in enumerate(lowered):
        if (
            len(w) < 4
            or w[:4] not in prefixes
            or _NOT_ASSERTED.intersection(lowered[max(0, i - 3) : i])
        ):
            continue
        for word, after in negated:
            if word[:4] != w[:4] or not _has_form(w, frozenset((word,))):
                continue
            if after is None or _has_form(after, frozenset(lowered[i + 1 : i + 5])):
                return i
    return None


_NONE: frozenset[float] = frozenset()
# What every word that negates (see _negates) has in it.
_NEGATING_SUBSTRINGS = ("n't", *NEGATING)


@lru_cache(maxsize=4096)
def _facts(text: str) -> _Facts:
    straight = text.replace("\u2019", "'").lower()
    lowered = WORD.findall(straight)
    words = frozenset(lowered)
    numbers = (
        frozenset(v for v, _, _ in numbers_in(lowered)) if may_count(straight, words) else _NONE
    )
    # A word that negates is in NEGATIONS, ends in "n't" or starts with a NEGATING
    # stem, so it is a substring of the text: most sentences have none of those, and
    # skip the per-word tests (the sentence's words are those of its text).
    if words.isdisjoint(NEGATIONS) and not any(map(straight.__contains__, _NEGATING_SUBSTRINGS)):
        return _Facts(numbers, words, False, frozenset())
    negating = {w for w in words if w in NEGATIONS or w.endswith("n't") or w.startswith(NEGATING)}
    negated = (
        bool(words & NEGATIONS)
        or "n't" in text
        or "n\u2019t" in text
        or any(w.startswith(NEGATING) for w in words)
    )
    return _Facts(numbers, words, negated, _negated_words(lowered, negating))


def _has_form(key: str, words: frozenset[str]) -> bool:
    """``key`` or another form of it among ``words`` (as :meth:`Quotes.has_name`:
    a common prefix of 4 letters, all but two of the shorter word's)."""
    if key in words:
        return True
    if len(key) < 4:
        return False
    # w.startswith(four letters) is w[:4] == key[:4] with len(w) >= 4.
    prefix = key[:4]
    return any(
        w.startswith(prefix) and common_prefix(w, key) >= min(len(w), len(key)) - 2 for w in words
    )


class _Claim(NamedTuple):
    """What the enforced rules read of a claim first: its words as written (curly
    apostrophes straightened, as :func:`~summarizer.quotes.tokenize` has them), the
    same lowercased, and its numbers. No tokens: which words open a sentence is only
    asked of a claim with a status word or a negation, and building a token per word
    was a third of the check's time on an answer's new claims."""

    words: tuple[str, ...]
    lowered: tuple[str, ...]
    numbers: tuple[tuple[float, int, int], ...]
    negates: bool  # a word of it is a negation or a refusal (see _negates)


@lru_cache(maxsize=4096)
def _claim(claim: str) -> _Claim:
    words = tuple(WORD.findall(claim.replace("\u2019", "'")))
    lowered = tuple(map(str.lower, words))
    distinct = frozenset(lowered)
    numbers = tuple(numbers_in(lowered)) if may_count(claim, distinct) else ()
    # As in _facts: a word that negates is a substring of the words, most have none.
    joined = " ".join(lowered)
    negates = (not distinct.isdisjoint(NEGATIONS)) or (
        any(map(joined.__contains__, _NEGATING_SUBSTRINGS)) and any(_negates(w) for w in lowered)
    )
    return _Claim(words, lowered, numbers, negates)


def contradictions(claim: str, quotes: Sequence[str]) -> Support:
    """:func:`check_support` with ``enforced_only``: a number, a status word or a
    negation of the claim its evidence lacks. A capitalized word inside a sentence is
    taken for a name ("Acting Director" is a title there, not a claim of status)."""
    texts, lowered, claimed, negates = _claim(claim)
    facts = [_facts(q) for q in quotes if q]
    missing: list[tuple[int, str]] = []
    failed: set[str] = set()
    in_number: set[int] = set()
    # The evidence's facts are merged only for the rules the claim calls on.
    numbers: frozenset[float] = (
        frozenset().union(*(f.numbers for f in facts)) if claimed else frozenset()
    )
    small = any(v <= 10 for v in numbers)
    for value, first, last in claimed:
        in_number.update(range(first, last + 2 if is_ordinal(lowered, last) else last + 1))
        if not (
            value in numbers
            or (value == 1 and lowered[first] == "one" and first == last)
            or (value <= 10 and not lowered[first][0].isdigit() and not small)
        ):
            missing.append((first, " ".join(texts[first : last + 1])))
            failed.add("number")
    if not _STATUS_OR_NEGATION.isdisjoint(lowered):  # most claims have neither
        words = frozenset().union(*(f.words for f in facts))
        negated = any(f.negated for f in facts)
        for i, tok in enumerate(tokenize(claim)):
            if i in in_number or (tok.text[0].isupper() and not tok.opens):
                continue
            if (
                tok.lower in _STATUS
                and not _verb_use(lowered, i)
                and not _has_form(tok.lower, words)
            ):
                missing.append((i, tok.text))
                failed.add("status")
            elif tok.lower in NEGATIONS and not negated:
                missing.append((i, tok.text))
                failed.add("negation")
    negated_words = frozenset().union(*(f.negated_words for f in facts))
    if negated_words and not negates:
        # The other way round: the claim states what its evidence says did not
        # happen ("agreed to talks" from "has not agreed to talks").
        at = _states_negated(lowered, negated_words)
        if at is not None:
            missing.append((at, texts[at]))
            failed.add("negation")
    if not missing:  # nothing failed (every failure names what is missing)
        return _CONSISTENT
    lacking = tuple(dict.fromkeys(w for _, w in sorted(missing)))
    return Support(not failed, 1.0, lacking, tuple(sorted(failed)))


#: What :func:`contradictions` finds for most claims (a Support is immutable).
_CONSISTENT = Support(True, 1.0, (), ())
