"""Sentence boundaries in English news text, shared by the contract's size checks and
the quote candidates offered to small models.

Deliberately simple: a sentence ends at ``.``, ``!``, ``?`` or ``…`` (with any closing
quotes or brackets) followed by whitespace and a capital, digit or opening quote, or at
a blank line, unless the period closes a common abbreviation ("U.S.", "Feb. 14").
"""

from __future__ import annotations

import re

_END = re.compile(r"[.!?…][\"'”’)]*(?=\s+[\"“‘(]?[A-Z0-9])|\n\s*\n")
_ABBREVIATION = re.compile(
    r"(?:\b[A-Z]|\b(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|Gen|Gov|Sen|Rep|Lt|Col|Capt|Sgt|Prof|Rev|Jan|Feb"
    r"|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|No|vs|etc|Inc|Ltd|Co|Corp|Mt|Ft|approx))$"
)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence, whitespace trimmed, in order."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _END.finditer(text):
        # The abbreviation is in the word just before the dot: search only there
        # (pos/endpos keep \b and $ exact; a slice of the whole prefix made this
        # quadratic in the article's length).
        if text[m.start()] == "." and _ABBREVIATION.search(text, max(0, m.start() - 8), m.start()):
            continue
        spans.append((start, m.end()))
        start = m.end()
    spans.append((start, len(text)))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            out.append((s, e))
    return out


def count_sentences(text: str) -> int:
    return len(sentence_spans(text))
