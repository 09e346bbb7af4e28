"""Summaries without a model: sentence segmentation, salience, actors, commitments and
open questions found by rules over the article's own sentences (#13).

Two uses: the no-model baselines every eval reports beside a model (``lead``, the floor
a model must beat, and ``textrank``), and the classical components of the offline
default, where a 270M model is weaker than a rule. Every item quotes whole sentences
(or their first 40 words) of the article, so everything here is grounded by
construction; whether the item's text follows from its quote is checked like any
model's.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path


@cache
def code_version() -> str:
    """sha256 of this package's source (16 hex digits): a changed rule is a new method
    as far as the cache is concerned."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).resolve().parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
