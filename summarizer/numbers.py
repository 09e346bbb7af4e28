"""A claim's numbers must be its evidence's, compared by value: "24" is "twenty-four",
"1.5 million" is "1,500,000", "3bn" is "3 billion". Reading a number from words is plain
text work that needs nothing of the package, so it sits in the bottom layer, where any
module can read numbers the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from collections.abc import Set as AbstractSet

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES = {
    "hundred": 100.0, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12,
    "bn": 1e9, "mn": 1e6,
}  # fmt: skip
_SCALE_LETTERS = {"k": 1e3, "m": 1e6, "b": 1e9}  # "3bn", "5m", "10k" after digits
_ORDINAL = frozenset(("st", "nd", "rd", "th"))
# Words that may start a number (with a digit token): any other word, with no number
# under way, only moves on (numbers_in runs over every claim and quoted sentence).
_NUMBER_WORDS = frozenset((*_UNITS, *_TENS))


def digits_value(token: str) -> float:
    """A digit token's value: "2,000" is 2000, "1.5" 1.5; one that is no decimal
    number ("1.8.3", an IP address, "2.000,50") by its digits alone, so that the same
    token in a claim and in its evidence still compare equal (and never raises)."""
    try:
        return float(token.replace(",", ""))
    except ValueError:
        # isdecimal, not isdigit: "²" is a digit that float() refuses.
        return float("".join(ch for ch in token if ch.isdecimal()) or 0)


def numbers_in(words: Sequence[str]) -> list[tuple[float, int, int]]:
    """Numbers in ``words`` (lowercased tokens) as (value, first, last token index).

    "twenty four", "1.5 million", "2,000", "3 bn" are one number each; two digit
    tokens in a row are two ("Feb. 14, 2008")."""
    found: list[tuple[float, int, int]] = []
    total = current = 0.0
    start = end = -1
    last = ""  # what the previous number token was: digit, unit, tens, scale

    def flush() -> None:
        nonlocal total, current, start, last
        if start >= 0:
            found.append((total + current, start, end))
        total = current = 0.0
        start, last = -1, ""

    for i, w in enumerate(words):
        if start < 0 and w not in _NUMBER_WORDS and not w[0].isdecimal():
            continue  # most words: no number under way, and none starts here
        if w[0].isdecimal():  # "²" alone is no number: float() refuses it
            flush()
            current, start, last = digits_value(w), i, "digit"
        elif w in _UNITS and last not in ("unit", "digit"):
            if last not in ("tens", "scale"):
                flush()
                start = i
            current += _UNITS[w]
            last = "unit"
        elif w in _TENS and last not in ("unit", "tens", "digit"):
            if last != "scale":
                flush()
                start = i
            current += _TENS[w]
            last = "tens"
        elif start >= 0 and (w in _SCALES or (w in _SCALE_LETTERS and last == "digit")):
            scale = _SCALES.get(w) or _SCALE_LETTERS[w]
            if scale == 100:
                current *= 100
            else:
                total, current = total + current * scale, 0.0
            last = "scale"
        elif w in _UNITS or w in _TENS:
            flush()
            current, start = float(_UNITS.get(w) or _TENS[w]), i
            last = "unit" if w in _UNITS else "tens"
        elif w == "and" and last == "scale":
            continue
        else:
            if start >= 0:
                flush()
            continue
        end = i
    flush()
    return found


# A decimal digit (what a digit token starts with: the regex's \d is str.isdecimal).
_DIGIT = re.compile(r"\d")


def may_count(text: str, words: AbstractSet[str]) -> bool:
    """Whether :func:`numbers_in` can find a number in ``words``, the lowercased words
    of ``text`` (:data:`summarizer.quotes.WORD`'s, where a digit is only ever in a
    token that starts with one): they hold a number word, or the text a digit. Most
    sentences have neither, and a set test and a C search find that out cheaper
    than a Python step per word."""
    return not _NUMBER_WORDS.isdisjoint(words) or _DIGIT.search(text) is not None


def is_ordinal(words: Sequence[str], last: int) -> bool:
    """Whether a number ends in an ordinal suffix token ("30th" is "30", "th")."""
    return last + 1 < len(words) and words[last + 1] in _ORDINAL
