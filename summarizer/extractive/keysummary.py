"""Key summaries made of the article's own sentences: by position (``lead``) and by
centrality (``textrank``).

News is written as an inverted pyramid, so the first sentences are the classic
baseline a summarizer must beat; centrality finds the sentences the rest of the
article keeps returning to, wherever they are. Either way every key point is a whole
sentence quoted as its own evidence, and the texts are cut to the contract's bounds
(headline 15 words, summary 90 words, 3-7 key points).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from summarizer.contract.models import KeyPoint, KeySummary
from summarizer.extractive.salience import centrality
from summarizer.extractive.sentences import Sentence, quote, title_line
from summarizer.similarity import dice, stems

HEADLINE_WORDS = 15
SUMMARY_WORDS = 90
# Characters, as the model is asked for them (summarizer.contract.llm_schema): a
# "sentence" the splitter could not cut (a list, a table row) must still fit.
HEADLINE_CHARS = 120
SUMMARY_CHARS = 700
KEY_POINT_CHARS = 250
SUMMARY_SENTENCES = 3
KEY_POINTS = 5
# The evidence contract asks for quotes of 3 words at least.
MIN_WORDS = 3
# Rank = centrality x (1 + POSITION_PRIOR / (1 + index)): the first sentences of a news
# story lead, centrality decides the rest.
POSITION_PRIOR = 1.0
# A sentence this close (Dice of stems) to one already chosen repeats it.
REDUNDANT = 0.5


def one_line(text: str) -> str:
    """Sentences copied from a page keep its line breaks; texts written from them do not."""
    return " ".join(text.split())


def cut_words(text: str, most: int) -> str:
    """``text`` up to ``most`` words, marked with an ellipsis when something was cut."""
    words = text.split()
    if len(words) <= most:
        return " ".join(words)
    return " ".join(words[:most]).rstrip(",;:—–-") + "…"


def cut_chars(text: str, most: int) -> str:
    """``text`` up to ``most`` characters, cut at a word and marked with an ellipsis."""
    if len(text) <= most:
        return text
    head = text[: most - 1]
    if " " in head:
        head = head[: head.rindex(" ")]
    return head.rstrip(",;:—–-") + "…"


def usable(sentences: Sequence[Sentence]) -> list[Sentence]:
    """Sentences long enough to quote as evidence."""
    return [s for s in sentences if len(s.text.split()) >= MIN_WORDS]


def headline(article: str, first: Sentence | None, title: str | None = None) -> str:
    """The article's title when it has one (already a headline): ``title`` as the
    input gave it (a page's title), else the title line; else ``first`` cut to a
    headline's length."""
    if title is None or not title.strip():
        span = title_line(article)
        title = article[span[0] : span[1]] if span is not None else None
    if title is not None:
        return cut_chars(cut_words(one_line(title), HEADLINE_WORDS), HEADLINE_CHARS)
    if first is None:
        return ""
    # Cut, it says so (an ellipsis): a headline that stops mid-clause reads as complete.
    text = cut_words(re.sub(r"[\s,;:—–.-]+$", "", one_line(first.text)), HEADLINE_WORDS)
    return cut_chars(text, HEADLINE_CHARS)


def summary_text(chosen: Sequence[Sentence]) -> str:
    """Two or three of ``chosen``, in article order, within the word limit: a third
    sentence only if it fits, the second even if it has to be cut."""
    ordered = sorted(chosen, key=lambda s: s.index)
    picked: list[str] = []
    total = 0
    for sentence in ordered[:SUMMARY_SENTENCES]:
        text = one_line(sentence.text)
        n = len(text.split())
        if len(picked) >= 2 and total + n > SUMMARY_WORDS:
            break
        picked.append(text)
        total += n
    return cut_chars(cut_words(" ".join(picked), SUMMARY_WORDS), SUMMARY_CHARS)


def key_point(sentence: Sentence) -> KeyPoint:
    return KeyPoint(
        text=cut_chars(one_line(sentence.text), KEY_POINT_CHARS), evidence=[quote(sentence)]
    )


def lead_key_summary(
    article: str, sentences: Sequence[Sentence], *, title: str | None = None
) -> KeySummary:
    """The first sentences: headline (the title, else the first sentence), summary
    and key points, in article order."""
    candidates = usable(sentences)
    lead = candidates[:KEY_POINTS]
    return KeySummary(
        headline=headline(article, lead[0] if lead else None, title),
        summary=summary_text(lead[:SUMMARY_SENTENCES]),
        key_points=[key_point(s) for s in lead],
    )


def ranked(sentences: Sequence[Sentence], limit: int = KEY_POINTS) -> list[Sentence]:
    """The ``limit`` most central of ``sentences`` (position prior applied), most
    central first, near-repeats of a higher one left out; ties keep article order.
    (Stopping at ``limit`` keeps the repeat check linear in a long article.)"""
    scores = centrality(sentences)
    order = sorted(
        range(len(sentences)),
        key=lambda i: (-scores[i] * (1.0 + POSITION_PRIOR / (1 + sentences[i].index)), i),
    )
    chosen: list[Sentence] = []
    bags: list[set[str]] = []
    for i in order:
        bag = stems(sentences[i].text)
        if any(dice(bag, other) >= REDUNDANT for other in bags):
            continue
        chosen.append(sentences[i])
        bags.append(bag)
        if len(chosen) == limit:
            break
    return chosen


def ranked_key_summary(
    article: str, sentences: Sequence[Sentence], *, title: str | None = None
) -> KeySummary:
    """The most central sentences: key points in rank order (the contract puts the
    most important first), the summary from the top ones in article order, the title
    as headline (else the top sentence)."""
    top = ranked(usable(sentences), KEY_POINTS)
    return KeySummary(
        headline=headline(article, top[0] if top else None, title),
        summary=summary_text(top[:SUMMARY_SENTENCES]),
        key_points=[key_point(s) for s in top],
    )
