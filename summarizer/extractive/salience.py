"""How central each sentence is to its article: TextRank (Mihalcea & Tarau, 2004).

A sentence that shares content words with many other sentences, themselves central,
states what the article is about; PageRank over the graph of sentence similarities
finds those without a model or any data beyond the article. Similarity is TextRank's
normalized overlap of content-word stems (:func:`summarizer.similarity.stems`, the
same stems the eval scorer compares), so a long sentence is not central merely for
being long. Pure Python and deterministic: ties keep article order, nothing is
random, and a 1,500-word article takes a few milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from summarizer.extractive.sentences import Sentence
from summarizer.similarity import stems

DAMPING = 0.85
_TOLERANCE = 1e-8
_MAX_ITERATIONS = 200


def overlap(a: set[str], b: set[str]) -> float:
    """TextRank's similarity: shared stems over the log sizes (``log(1 + n)`` so that a
    one-word sentence does not divide by zero)."""
    shared = len(a & b)
    if not shared:
        return 0.0
    return shared / (math.log1p(len(a)) + math.log1p(len(b)))


# The graph is quadratic in its sentences: beyond this many (about 7,500 words of
# news, far past any key point's place in an inverted pyramid), the later sentences
# are not ranked (0), so a 2 MB input costs what a long feature does.
MAX_RANKED = 300


def centrality(sentences: Sequence[Sentence]) -> list[float]:
    """Each sentence's PageRank in the similarity graph, in article order; the scores
    sum to 1 (an empty input gives an empty list). Only the first
    :data:`MAX_RANKED` sentences are ranked; the rest score 0."""
    if len(sentences) > MAX_RANKED:
        return centrality(sentences[:MAX_RANKED]) + [0.0] * (len(sentences) - MAX_RANKED)
    n = len(sentences)
    if n == 0:
        return []
    bags = [stems(s.text) for s in sentences]
    weights: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            w = overlap(bags[i], bags[j])
            if w > 0.0:
                weights[i].append((j, w))
                weights[j].append((i, w))
    out_weight = [sum(w for _, w in row) for row in weights]
    rank = [1.0 / n] * n
    for _ in range(_MAX_ITERATIONS):
        # A sentence with no neighbour hands its rank to every sentence alike, so the
        # total stays 1 and an isolated sentence does not drain the graph.
        dangling = sum(rank[i] for i in range(n) if not weights[i])
        base = (1.0 - DAMPING) / n + DAMPING * dangling / n
        new = [base] * n
        for j in range(n):
            if not weights[j]:
                continue
            share = DAMPING * rank[j] / out_weight[j]
            for i, w in weights[j]:
                new[i] += share * w
        delta = sum(abs(x - y) for x, y in zip(new, rank, strict=True))
        rank = new
        if delta < _TOLERANCE:
            break
    return rank
