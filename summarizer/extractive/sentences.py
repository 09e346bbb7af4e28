"""Sentences with their character spans, for methods that quote whole sentences.

Every extractive method quotes the article's own sentences, found by the one
splitter every part shares (:mod:`summarizer.text`: abbreviations, initials, closing
quotes, headings).

The title line of a dataset article (its first line, followed by a blank line) is
reported apart by :func:`title_line`, so lead-style methods can use it as a headline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from summarizer.contract.models import Evidence
from summarizer.text import CLOSERS, sentences_in


@dataclass(frozen=True)
class Sentence:
    """``text`` is exactly ``article[start:end]``; ``index`` counts from 0."""

    index: int
    start: int
    end: int
    text: str
    paragraph: int


def title_line(article: str) -> tuple[int, int] | None:
    """The span of the article's title: its first line, when a blank line follows and
    it is short and does not end with a full stop (dataset articles are laid out so)."""
    match = re.match(r"\s*([^\n]+?)[ \t]*\r?\n[ \t]*\r?\n", article)
    if match is None:
        return None
    line = match.group(1)
    if len(line.split()) > 25 or line.rstrip(CLOSERS).endswith("."):
        return None
    return match.start(1), match.end(1)


@lru_cache(maxsize=64)
def split_sentences(article: str) -> tuple[Sentence, ...]:
    """The article's sentences in order (:func:`summarizer.text.sentences_in`), the
    title line (if any) left out."""
    title = title_line(article)
    spans = sentences_in(article, title[1] if title else 0)
    return tuple(
        Sentence(i, start, end, article[start:end], paragraph)
        for i, (start, end, paragraph) in enumerate(spans)
    )


def quote(sentence: Sentence, max_words: int = 40) -> Evidence:
    """The sentence as evidence (exact span), cut after ``max_words`` words at a word
    end so that it stays a verbatim span of the article (the contract's 3-40 words)."""
    text = sentence.text
    words = list(re.finditer(r"\S+", text))
    end = len(text) if len(words) <= max_words else words[max_words - 1].end()
    piece = text[:end].rstrip(",;:—–-")
    return Evidence(
        quote=piece, start=sentence.start, end=sentence.start + len(piece), alignment="exact"
    )
