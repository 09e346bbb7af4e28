"""Regular expressions compiled on first use instead of when their module is imported.

``eval score`` and ``eval run`` compute the ``lead`` floor, which imports this whole
package but runs only the surface rules of :mod:`~summarizer.extractive.floor`; the
rules of the offline default (mentions, commitments, open questions) compiled some 30
patterns at import, about 10 ms of the 0.3 s those commands may take to start (issue
#11). A pattern made by :func:`lazy_compile` is compiled the first time any of its
attributes is read, and from then on its methods are the compiled pattern's own, so
the rules match exactly as before, at the same speed.

It stands in for a pattern where only its attributes are used (``.search``,
``.finditer``, ``.match``, ``.sub``...): it is not an instance of ``re.Pattern``, and
``re.search(pattern, ...)`` does not take it.
"""

from __future__ import annotations

import re
from typing import Any, cast

# What a compiled pattern offers, bound to it once it exists.
_PATTERN_API = (
    "search", "match", "fullmatch", "finditer", "findall", "sub", "subn", "split",
    "scanner", "pattern", "flags", "groups", "groupindex",
)  # fmt: skip


class _LazyPattern:
    def __init__(self, pattern: str, flags: int) -> None:
        self._source = (pattern, flags)

    def __getattr__(self, name: str) -> Any:
        # Only reached for an attribute not found the usual way: before the first use
        # (then the pattern's API is set on the instance), or one it does not have.
        if name.startswith("_"):  # copy, pickle and friends probing for protocols
            raise AttributeError(name)
        compiled = re.compile(*self._source)
        for attribute in _PATTERN_API:
            setattr(self, attribute, getattr(compiled, attribute))
        return getattr(compiled, name)

    def __repr__(self) -> str:
        return f"lazy_compile({self._source[0]!r}, {self._source[1]})"


def lazy_compile(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile(pattern, flags)``, done the first time the result is used."""
    return cast("re.Pattern[str]", _LazyPattern(pattern, flags))
