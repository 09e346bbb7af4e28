"""Token budgeting without the model's tokenizer.

Remote tokenizers are not available offline, so a remote model's share of its
context is estimated from characters, deliberately pessimistically (3.5 per token,
where English averages about 4), so that a borderline article is split or refused
here rather than by the server. The embedded model counts with its own tokenizer
(:meth:`summarizer.backends.local.LocalBackend.count_text`).
"""

from __future__ import annotations

import math
from typing import Any

CHARS_PER_TOKEN = 3.5


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def answer_tokens(params: dict[str, Any]) -> int:
    """The most tokens the answer may take, whichever name the request gives it."""
    return int(params.get("max_tokens") or params.get("max_completion_tokens") or 0)
