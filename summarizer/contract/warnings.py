"""The contract's size rules that are guidance, not structure."""

from __future__ import annotations

from summarizer.contract.models import ArticleSummary
from summarizer.text import count_sentences


def _words(text: str) -> int:
    return len(text.split())


def contract_warnings(summary: ArticleSummary) -> list[str]:
    """The contract's size rules that ``summary`` breaks (empty when it follows them).

    These are guidance for the model and hard rules for golden files: a model's
    summary that breaks them is still returned, with the warnings in ``meta``.
    """
    out: list[str] = []
    ks = summary.key_summary
    if _words(ks.headline) > 15:
        out.append(f"headline has {_words(ks.headline)} words (at most 15)")
    if _words(ks.summary) > 90:
        out.append(f"summary has {_words(ks.summary)} words (at most 90)")
    sentences = count_sentences(ks.summary)
    if not 2 <= sentences <= 4:
        out.append(f"summary has {sentences} sentence(s) (2 to 4)")
    if not 3 <= len(ks.key_points) <= 7:
        out.append(f"{len(ks.key_points)} key points (3 to 7)")
    for ev in summary.evidence():
        n = _words(ev.quote)
        if not 3 <= n <= 40:
            out.append(f"quote of {n} words (3 to 40): {ev.quote[:60]!r}")
    return out
