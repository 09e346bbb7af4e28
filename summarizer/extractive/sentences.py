"""Sentences with their character spans, for methods that quote whole sentences.

Every extractive method quotes the article's own sentences, so a sentence must be an
exact span of the article (``text[start:end]``) and a boundary in the wrong place
cuts a quote in two. News text has the usual traps, handled here without a model:

* abbreviations and initials (``Feb. 12``, ``Mr. Putin``, ``U.S. officials``,
  ``J. R. R. Tolkien``, ``No. 10``), decimals and times (``3.5``, ``5 p.m.``);
* quotes closing after the full stop (``..." he said.``, curly or straight);
* line breaks inside a sentence (text copied from a page), while a blank line, or a
  line without final punctuation (a title, a subheading) ends one.

The title line of a dataset article (its first line, followed by a blank line) is
reported apart by :func:`title_line`, so lead-style methods can use it as a headline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from summarizer.contract.models import Evidence

# Lower-cased, without the dot. A dot after one of these does not end a sentence
# unless what follows is clearly a new sentence (see _STARTERS).
_ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof sr jr st mt ft gen lt col maj capt cmdr adm sgt cpl pvt sen rep
    gov pres amb rev hon supt insp det atty no nos vol vols fig figs approx est dept
    univ assn bros inc ltd co corp plc llc jan feb mar apr jun jul aug sep sept oct nov
    dec mon tue tues wed thu thur thurs fri sat sun vs etc al ca cf
    """.split()
)
# Dotted forms (``U.S.``, ``a.m.``, ``e.g.``): one more letter-dot pair at least.
_DOTTED = re.compile(r"(?:\b[A-Za-z]\.){2,}$")
# Words that start sentences; after an ambiguous dot (``U.S.``, ``p.m.``) they mark a
# boundary, anything else does not.
_STARTERS = frozenset(
    """
    the a an he she it they we i his her its their this that these those there in on at
    after before but and however meanwhile while when as according some many most one
    two three four five six both officials police president minister
    """.split()
)
# After an upper-case dotted form these are the noun it qualifies ("U.S. President
# Donald Trump", "U.N. officials"), not a new sentence; after "p.m." they start one.
_ATTRIBUTIVE = frozenset({"officials", "police", "president", "minister"})
_CLOSERS = "\"'”’)]»"
_OPENERS = "\"'“‘([«"
# A candidate end: . ! ? or an ellipsis, then closing quotes/brackets (an opening
# curly quote too when a space follows: a typo for the closing one, ``decision.“ However``).
_END = re.compile(r"(?:\.\.\.|…|[.!?])(?:[" + re.escape(_CLOSERS) + r"]|“(?=\s))*")


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
    if len(line.split()) > 25 or line.rstrip(_CLOSERS).endswith("."):
        return None
    return match.start(1), match.end(1)


def _word_before(text: str, pos: int) -> str:
    """The token that ends at ``pos`` (the dot at ``pos`` excluded)."""
    i = pos
    while i > 0 and not text[i - 1].isspace() and text[i - 1] not in _OPENERS:
        i -= 1
    return text[i:pos]


def _next_word(text: str, pos: int) -> str:
    match = re.match(r"\s*[" + re.escape(_OPENERS) + r"]*([\w'’-]+)", text[pos:])
    return match.group(1) if match else ""


def _is_boundary(text: str, dot: int, after: int) -> bool:
    """Whether the terminator at ``dot`` (ending at ``after``) ends a sentence."""
    rest = text[after:]
    if not rest.strip():
        return True
    if not rest[:1].isspace():
        return False  # "3.5", "U.S.-led", "Yahoo!'s"
    gap = rest[: len(rest) - len(rest.lstrip())]
    if "\n" in gap and gap.count("\n") >= 2:
        return True
    nxt = _next_word(text, after)
    if not nxt:
        return True
    if text[dot] in "!?…" or text[dot : dot + 3] == "...":
        # "...", "!" and "?" inside a quote often go on: ("Why?" he asked.)
        return nxt[0].isupper() or nxt[0].isdigit()
    word = _word_before(text, dot)
    bare = word.rstrip(".").lstrip(_OPENERS).lower()
    if not (nxt[0].isupper() or nxt[0].isdigit() or text[after:].lstrip()[:1] in _OPENERS):
        return False  # a lower-case continuation: "the U.S. and", "Feb. 12 post"
    if len(bare) == 1 and bare.isalpha() and word[:1].isupper():
        return False  # an initial: "George W. Bush"
    if _DOTTED.search(word + "."):  # the word is taken without its final dot
        # "U.S. The" ends one; "U.S. Senate" and "U.S. President Trump" do not
        starters = _STARTERS - _ATTRIBUTIVE if word.isupper() else _STARTERS
        return nxt.lower() in starters
    if bare in _ABBREVIATIONS:
        return bare in {"no", "nos"} and not nxt[0].isdigit()  # "said no. The" ends one
    return True


@lru_cache(maxsize=64)
def split_sentences(article: str) -> tuple[Sentence, ...]:
    """The article's sentences in order, the title line (if any) left out."""
    title = title_line(article)
    body_start = title[1] if title else 0
    out: list[Sentence] = []
    paragraphs = re.finditer(r"[^\n]+(?:\n(?!\s*\n)[^\n]+)*", article[body_start:])
    for paragraph, para in enumerate(paragraphs):
        p_start = body_start + para.start()
        p_text = para.group(0)
        # A line without final punctuation followed by a line break is a heading.
        pieces: list[tuple[int, int]] = []
        line_start = 0
        for line in re.finditer(r"[^\n]+", p_text):
            content = line.group(0).rstrip()
            if (
                line.end() < len(p_text)
                and content
                and not _END.search(content[-3:])
                and not content.endswith((",", ";", ":", "-", "—"))
                and len(content.split()) <= 12
                and content[:1].isupper()
                and (p_text[line.end() + 1 : line.end() + 2].isupper())
            ):
                pieces.append((line_start, line.end()))
                line_start = line.end() + 1
        pieces.append((line_start, len(p_text)))
        for a, b in pieces:
            chunk = p_text[a:b]
            begin = 0
            for match in _END.finditer(chunk):
                dot = match.start()
                if _is_boundary(chunk, dot, match.end()):
                    _add(out, article, p_start + a + begin, p_start + a + match.end(), paragraph)
                    begin = match.end()
            _add(out, article, p_start + a + begin, p_start + a + len(chunk), paragraph)
    return tuple(out)


def _add(out: list[Sentence], article: str, start: int, end: int, paragraph: int) -> None:
    piece = article[start:end]
    lead = len(piece) - len(piece.lstrip())
    start += lead
    end = start + len(article[start:end].rstrip())
    if end <= start or not any(ch.isalnum() for ch in article[start:end]):
        return
    out.append(Sentence(len(out), start, end, article[start:end], paragraph))


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
