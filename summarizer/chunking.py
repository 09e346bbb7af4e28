"""Splitting an article that is over the model's context budget into parts.

Parts end on paragraph boundaries (blank lines), so no part cuts a sentence or a
quote in two; a paragraph too long for one part is split between sentences, and a
sentence too long between words. Consecutive parts overlap by the last paragraph of
the previous part, so a statement that leans on its preceding paragraph is seen
whole at least once. Parts are spans of the original text: offsets found in a part
shift back into the full article by the part's start.

Token counts come from the caller (the embedded model's own tokenizer, or a
conservative estimate for remote models) and are taken per paragraph and added up;
``margin`` absorbs what that costs in accuracy.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from summarizer.text import sentence_spans

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")


@dataclass(frozen=True)
class Part:
    """``text[start:end]`` of the full article."""

    start: int
    end: int


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each paragraph, surrounding whitespace excluded."""
    spans = []
    pos = 0
    for m in [*_PARAGRAPH_BREAK.finditer(text), None]:
        end = m.start() if m else len(text)
        chunk = text[pos:end]
        stripped = chunk.strip()
        if stripped:
            lead = len(chunk) - len(chunk.lstrip())
            spans.append((pos + lead, pos + lead + len(stripped)))
        pos = m.end() if m else len(text)
    return spans


def _pieces(
    text: str, span: tuple[int, int], fits: Callable[[int, int], bool]
) -> list[tuple[int, int]]:
    """A span as units that each fit: itself, else its sentences, else word runs."""
    start, end = span
    if fits(start, end):
        return [span]
    sentences = [(start + s, start + e) for s, e in sentence_spans(text[start:end])]
    if len(sentences) > 1:
        out = []
        for sentence in sentences:
            out += _pieces(text, sentence, fits)
        return out
    words = [(start + m.start(), start + m.end()) for m in re.finditer(r"\S+", text[start:end])]
    out, run_start, run_end = [], words[0][0], words[0][1]
    for w_start, w_end in words[1:]:
        if fits(run_start, w_end):
            run_end = w_end
        else:
            out.append((run_start, run_end))
            run_start, run_end = w_start, w_end
    out.append((run_start, run_end))
    return out


def split_article(
    text: str, budget: int, count: Callable[[str], int], *, margin: float = 0.05
) -> list[Part]:
    """Parts of ``text`` whose token counts each stay under ``budget``.

    ``count`` gives the tokens of a piece of text. A single part covering the whole
    text is returned when it fits.
    """
    limit = int(budget * (1 - margin))
    if count(text) <= limit:
        return [Part(0, len(text))]
    cost: dict[tuple[int, int], int] = {}

    def tokens(start: int, end: int) -> int:
        if (start, end) not in cost:
            cost[(start, end)] = count(text[start:end]) + 2  # + the blank line between
        return cost[(start, end)]

    def fits(start: int, end: int) -> bool:
        return tokens(start, end) <= limit

    units: list[tuple[int, int]] = []
    for span in paragraph_spans(text):
        units += _pieces(text, span, fits)
    parts: list[Part] = []
    start = 0  # first unit of the next part (an overlap unit, or a new one)
    fresh = 0  # first unit in no part yet
    while fresh < len(units):
        used = sum(tokens(*u) for u in units[start:fresh])
        end = fresh
        while end < len(units) and used + tokens(*units[end]) <= limit:
            used += tokens(*units[end])
            end += 1
        if end == fresh:  # nothing new fits after the overlap
            if start < fresh:
                start = fresh  # drop the overlap and try again
                continue
            end = fresh + 1  # a unit always fits alone (see _pieces)
        parts.append(Part(units[start][0], units[end - 1][1]))
        fresh = end
        start = end - 1  # the next part repeats this part's last unit
    return parts
