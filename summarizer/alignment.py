"""Where a quote stands in an article: character offsets into the text the user gave,
found exact, after normalization, or by a bounded fuzzy match (see
:mod:`summarizer.grounding`, which applies it to a summary). Apart from grounding
because the eval scorer, the merge step and the golden-file checks locate quotes too,
with no summary to ground.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from summarizer.similarity import normalize
from summarizer.text import sentence_spans

if TYPE_CHECKING:
    from summarizer.contract.models import Evidence

FUZZY_MIN_SCORE = 90.0
_MIN_FUZZY_CHARS = 25  # one typo in a short quote can change its meaning


AlignmentKind = Literal["exact", "normalized", "fuzzy"]


@dataclass(frozen=True)
class Match:
    start: int
    end: int
    alignment: AlignmentKind


class Aligner:
    """Finds quotes in one article; build once per article, reuse for every quote.

    It is the article's one index: what grounding, the support rules and the quote
    candidates read of the text is found here on first use and kept, so that one
    request reads the article once however many of them ask. The normalized text is
    only needed for a quote that is not in the article as written, which a good
    answer never has: building it up front was a seventh of the grounding's time.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        # Found on first use (not functools.cached_property: on Python 3.11 its lock
        # is one for all instances, which threads summarizing apart would share).
        self._sentences: list[tuple[int, int]] | None = None
        self._normal: tuple[str, list[int]] | None = None

    @property
    def sentences(self) -> list[tuple[int, int]]:
        """The article's sentence spans (:func:`summarizer.text.sentence_spans`)."""
        if self._sentences is None:
            self._sentences = sentence_spans(self.text)
        return self._sentences

    @property
    def _normalized(self) -> tuple[str, list[int]]:
        """The normalized text and its map back to offsets (see :func:`normalize`)."""
        if self._normal is None:
            self._normal = normalize(self.text)
        return self._normal

    def locate(self, quote: str) -> Match | None:
        """Where ``quote`` stands in the article, or ``None`` if it is not there."""
        found = self.span(quote)
        return None if found is None else Match(*found)

    def span(self, quote: str) -> tuple[int, int, AlignmentKind] | None:
        """:meth:`locate` as a plain tuple: the grounder's loop over every quote of
        every answer, where building a frozen :class:`Match` per quote cost more
        than finding an exact quote."""
        stripped = quote.strip()
        if not stripped:
            return None
        pos = self.text.find(stripped)
        if pos >= 0:
            return pos, pos + len(stripped), "exact"
        return self._inexact(stripped)

    def _inexact(self, stripped: str) -> tuple[int, int, AlignmentKind] | None:
        """A quote not in the article as written: normalized, then fuzzy."""
        full, _ = normalize(stripped)
        # Models often wrap a quote in quotation marks or end it with a period the
        # article does not have there: try as given, then without those.
        nquote = full.strip(" .\"'")
        if not nquote:
            return None
        norm = self._normalized[0]
        for candidate in dict.fromkeys((full, nquote)):
            pos = norm.find(candidate)
            if pos >= 0:
                return self._source_span(pos, pos + len(candidate), "normalized")
        if len(nquote) < _MIN_FUZZY_CHARS:
            return None
        # Imported here: quotes are nearly always found exactly or normalized, and
        # commands that only check labels (eval check, eval score) never get here.
        from rapidfuzz import fuzz

        found = fuzz.partial_ratio_alignment(nquote, norm, score_cutoff=FUZZY_MIN_SCORE)
        if found is None:
            return None
        start, end = found.dest_start, found.dest_end
        # The alignment window is as long as the quote, so a quote missing a letter
        # ends one letter short: widen the span to whole words.
        while start > 0 and norm[start - 1].isalnum() and norm[start].isalnum():
            start -= 1
        while end < len(norm) and norm[end].isalnum() and norm[end - 1].isalnum():
            end += 1
        if not 0.8 * len(nquote) <= end - start <= 1.2 * len(nquote):
            return None
        return self._source_span(start, end, "fuzzy")

    def _source_span(
        self, nstart: int, nend: int, alignment: Literal["normalized", "fuzzy"]
    ) -> tuple[int, int, AlignmentKind]:
        index = self._normalized[1]
        return index[nstart], index[nend - 1] + 1, alignment


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


def quote_candidates(
    text: str,
    min_words: int = 3,
    max_words: int = 40,
    *,
    sentences: list[tuple[int, int]] | None = None,
) -> tuple[str, ...]:
    """Verbatim spans of ``text`` that make good evidence quotes: its sentences, and
    the clauses of sentences too long to quote whole (3 to 40 words, in order).
    ``sentences``: ``text``'s sentence spans when the caller has them (an
    :class:`Aligner`'s), so that the article is not split again."""
    found: dict[str, None] = {}
    for start, end in sentences if sentences is not None else sentence_spans(text):
        sentence = text[start:end]
        pieces = [sentence] if len(sentence.split()) <= max_words else _CLAUSE.findall(sentence)
        for piece in pieces:
            piece = piece.strip().rstrip(",;:").strip()
            if min_words <= len(piece.split()) <= max_words and piece in text:
                found.setdefault(piece, None)
    return tuple(found)
