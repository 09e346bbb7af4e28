"""Sentence boundaries in English news text: one splitter for every part that needs
sentences (the rules' quotes, support checks, quote candidates, chunking, merging and
the contract's size checks), so that a "sentence" means the same everywhere.

A sentence must be an exact span of the text (``text[start:end]``): a boundary in the
wrong place cuts a quote in two. News text has the usual traps, handled here without
a model:

* abbreviations and initials (``Feb. 12``, ``Mr. Putin``, ``U.S. officials``,
  ``J. R. R. Tolkien``, ``No. 10``), decimals and times (``3.5``, ``5 p.m.``);
* quotes closing after the full stop (``..." he said.``, curly or straight);
* line breaks inside a sentence (text copied from a page), while a blank line, or a
  line without final punctuation (a title, a subheading) ends one.

Linear in the text: every look-around reads from a position instead of slicing the
rest of the text (a slice per candidate end made a 2 MB paragraph quadratic).
"""

from __future__ import annotations

import re

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
_PLAIN_STARTERS = _STARTERS - _ATTRIBUTIVE
CLOSERS = "\"'”’)]»"
OPENERS = "\"'“‘([«"
# A candidate end: . ! ? or an ellipsis, then closing quotes/brackets (an opening
# curly quote too when a space follows: a typo for the closing one, ``decision.“ However``).
END = re.compile(r"(?:\.\.\.|…|[.!?])(?:[" + re.escape(CLOSERS) + r"]|“(?=\s))*")
# What follows a candidate end, in one match: the spaces, then the next word (after
# any opening quotes), if there is one.
_FOLLOWING = re.compile(r"(\s*)(?:[" + re.escape(OPENERS) + r"]*([\w'’-]+))?")
# A letter or digit: what str.isalnum() accepts (\w is that or "_"), searched in C.
_ALNUM = re.compile(r"[^\W_]")
# A span without its leading and trailing whitespace (\s is what str.isspace() accepts).
_TRIMMED = re.compile(r"\S(?:.*\S)?", re.DOTALL)
_PARAGRAPH = re.compile(r"[^\n]+(?:\n(?!\s*\n)[^\n]+)*")
_LINE = re.compile(r"[^\n]+")


def _word_before(text: str, pos: int) -> str:
    """The token that ends at ``pos`` (the dot at ``pos`` excluded)."""
    i = pos
    while i > 0 and not text[i - 1].isspace() and text[i - 1] not in OPENERS:
        i -= 1
    return text[i:pos]


def _is_boundary(text: str, dot: int, after: int, end: int) -> bool:
    """Whether the terminator at ``dot`` (ending at ``after``) ends a sentence of
    ``text[:end]``."""
    if after < end and not text[after].isspace():
        return False  # "3.5", "U.S.-led", "Yahoo!'s"
    following = _FOLLOWING.match(text, after, end)
    assert following is not None  # it matches "" too
    visible = following.end(1)  # the first character that is not a space
    if visible == end or text.count("\n", after, visible) >= 2:
        return True
    nxt = following.group(2)
    if nxt is None:
        return True
    if text[dot - 1 : dot] == "[":
        return False  # "[...]": an omission inside a quotation, which goes on
    if text[dot] in "!?…" or text.startswith("...", dot):
        # "...", "!" and "?" inside a quote often go on: ("Why?" he asked.)
        return nxt[0].isupper() or nxt[0].isdigit()
    if not (nxt[0].isupper() or nxt[0].isdigit() or text[visible] in OPENERS):
        return False  # a lower-case continuation: "the U.S. and", "Feb. 12 post"
    word = _word_before(text, dot)
    bare = word.rstrip(".").lstrip(OPENERS).lower()
    if len(bare) == 1 and bare.isalpha() and word[:1].isupper():
        return False  # an initial: "George W. Bush"
    # The word is taken without its final dot: a dotted form has another one in it.
    if "." in word and _DOTTED.search(word + "."):
        # "U.S. The" ends one; "U.S. Senate" and "U.S. President Trump" do not
        return nxt.lower() in (_PLAIN_STARTERS if word.isupper() else _STARTERS)
    if bare in _ABBREVIATIONS:
        return bare in {"no", "nos"} and not nxt[0].isdigit()  # "said no. The" ends one
    return True


def _is_heading(p_text: str, line: re.Match[str]) -> bool:
    """A line without final punctuation, short and capitalized, followed by a line
    break and a capital: a heading, which ends where the line does."""
    content = line.group(0).rstrip()
    return (
        line.end() < len(p_text)
        and bool(content)
        and not END.search(content[-3:])
        and not content.endswith((",", ";", ":", "-", "—"))
        and len(content.split()) <= 12
        and content[:1].isupper()
        and p_text[line.end() + 1 : line.end() + 2].isupper()
    )


def sentences_in(text: str, start: int = 0) -> list[tuple[int, int, int]]:
    """``(start, end, paragraph)`` of each sentence of ``text[start:]``, trimmed of
    whitespace, in order; pieces with no letter or digit are left out."""
    out: list[tuple[int, int, int]] = []
    trimmed_in, alnum_in, append = _TRIMMED.search, _ALNUM.search, out.append

    def add(a: int, b: int, paragraph: int) -> None:
        trimmed = trimmed_in(text, a, b)
        if trimmed is not None:
            span = trimmed.span()
            if alnum_in(text, *span):
                append((*span, paragraph))

    for paragraph, para in enumerate(_PARAGRAPH.finditer(text, start)):
        p_start = para.start()
        p_text = para.group(0)
        pieces: list[tuple[int, int]] = []
        line_start = 0
        if "\n" in p_text:  # a heading is a line with another after it
            for line in _LINE.finditer(p_text):
                if _is_heading(p_text, line):
                    pieces.append((line_start, line.end()))
                    line_start = line.end() + 1
        pieces.append((line_start, len(p_text)))
        for a, b in pieces:
            a, b = p_start + a, p_start + b
            begin = a
            for dot, after in _ends(text, a, b):
                if _is_boundary(text, dot, after, b):
                    add(begin, after, paragraph)
                    begin = after
            add(begin, b, paragraph)
    return out


def _ends(text: str, a: int, b: int) -> list[tuple[int, int]]:
    """``(start, end)`` of each match of :data:`END` in ``text[a:b]``, the matches
    ``END.finditer`` gives, found faster: the terminators are located with
    ``str.find`` (a C scan) and END is matched only where one stands. The regex
    engine's scan for the first character was a third of the splitter's time."""
    starts: list[int] = []
    for terminator in ".!?…":
        i = text.find(terminator, a, b)
        while i >= 0:
            starts.append(i)
            i = text.find(terminator, i + 1, b)
    starts.sort()
    out: list[tuple[int, int]] = []
    end = a
    for i in starts:
        if i >= end:  # not inside the last match ("...", "?!")
            match = END.match(text, i, b)
            assert match is not None  # END matches wherever a terminator stands
            end = match.end()
            out.append((i, end))
    return out


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence, whitespace trimmed, in order."""
    return [(a, b) for a, b, _ in sentences_in(text)]


def count_sentences(text: str) -> int:
    return len(sentences_in(text))
