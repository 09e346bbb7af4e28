"""Where a sentence names someone. News prose names its actors in a few fixed ways
(``German Chancellor Angela Merkel``, ``Rafael Correa, the president of Ecuador,``,
later just ``Merkel``), so a run of capitalized words with the title before it or the
appositive after it is one mention; finding them is a step of its own, before
:mod:`.actors` decides which mentions are the same actor.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from summarizer.extractive.lazy_patterns import lazy_compile
from summarizer.extractive.lexicon import (
    COMMON_START,
    CONNECTORS,
    COUNTRY_OF,
    DAYS,
    DEMONYM_OF,
    HONORIFICS,
    KNOWN_ORGS,
    MONTHS,
    ORG_WORDS,
    PLACE_PREPOSITIONS,
    SPEECH_VERBS,
    TITLE_CORE,
    TITLE_WORDS,
)
from summarizer.extractive.sentences import Sentence

_TOKEN = lazy_compile(r"(?:[A-Z]\.){2,}|[^\W\d_](?:[\w\-]|['’](?=\w))*\.?(?<!['’]s\.)|\d[\w.,:/]*")


@dataclass(frozen=True)
class Token:
    text: str  # possessive "'s" stripped, trailing abbreviation dot kept
    start: int  # offset in the article
    end: int
    possessive: bool
    follows_space: bool  # only whitespace between this and the previous token
    initial: bool  # first word of the sentence or of a quotation

    @property
    def low(self) -> str:
        return self.text.lower()

    @property
    def capital(self) -> bool:
        return self.text[:1].isupper() or (self.text[:3] in ("al-", "el-") and len(self.text) > 3)


def tokens(sentence: Sentence) -> list[Token]:
    """The sentence's words, with article offsets, possessives split off."""
    out: list[Token] = []
    text = sentence.text
    prev_end = 0
    for m in _TOKEN.finditer(text):
        word = m.group(0)
        gap = text[prev_end : m.start()]
        possessive = False
        if re.search(r"['’]s$", word) and len(word) > 2:
            word, possessive = word[:-2], True
        elif word.endswith(".") and not _is_abbrev(word):
            word = word[:-1]
        initial = (
            not out
            or bool(re.search(r"[\"“‘:(—–]\s*$", gap))
            or bool(re.search(r"[.!?][\"”’]?\s+$", gap))
        )
        out.append(
            Token(
                word,
                sentence.start + m.start(),
                sentence.start + m.start() + len(word),
                possessive,
                gap.strip() == "" and bool(out),
                initial,
            )
        )
        prev_end = m.end()
    return out


def _is_abbrev(word: str) -> bool:
    low = word.lower()
    return (
        bool(re.fullmatch(r"(?:[a-z]\.){2,}", low))
        or low in MONTHS
        or low in HONORIFICS
        or (low in TITLE_WORDS and low.endswith("."))
        or low
        in {"st.", "jr.", "sr.", "no.", "co.", "corp.", "inc.", "ltd.", "gen.", "lt.", "col."}
    )


# --- mentions ------------------------------------------------------------------------


@dataclass
class Mention:
    name: str  # the core name, titles stripped
    sentence: int
    start: int
    end: int
    tok_index: int  # index of the first core token in the sentence's tokens
    tok_end: int
    role: str | None = None
    affiliation: str | None = None
    titled: bool = False
    honorific: bool = False
    place_only: bool = False
    subject: bool = False  # followed by a speech or action verb
    acronym: str | None = None  # "(SBU)" right after the name
    initial: bool = False  # first word of a sentence: capitalized anyway


def _is_word_like_common(tok: Token, lower_words: frozenset[str]) -> bool:
    """A capitalized word at a sentence start that is really a common word."""
    low = tok.low
    return (
        low in COMMON_START
        or low in lower_words
        or (low.endswith(("ing", "ly")) and len(low) > 5)
        or low in MONTHS
        or low in DAYS
    )


def _name_runs(
    sentence: Sentence, toks: list[Token], lower_words: frozenset[str]
) -> list[tuple[int, int]]:
    """[i, j) token ranges of capitalized runs, joined by connectors."""
    runs: list[tuple[int, int]] = []
    i = 0
    n = len(toks)
    while i < n:
        t = toks[i]
        if not t.capital or t.low in MONTHS or t.low in DAYS or t.text.isdigit():
            i += 1
            continue
        if t.initial and _is_word_like_common(t, lower_words) and t.low not in TITLE_WORDS:
            i += 1
            continue
        j = i + 1
        while j < n and not toks[j - 1].possessive:
            nt = toks[j]
            if not nt.follows_space:
                break
            if nt.capital and nt.low not in MONTHS and nt.low not in DAYS and not nt.initial:
                j += 1
                continue
            if (
                nt.low in CONNECTORS
                and j + 1 < n
                and toks[j + 1].capital
                and toks[j + 1].follows_space
                and toks[j + 1].low not in MONTHS
            ):
                j += 2
                continue
            break
        runs.append((i, j))
        i = j
    return runs


def _lower_words(article: str) -> frozenset[str]:
    """Words the article also writes in lower case (so a capitalized one at a sentence
    start is a common word, not a name)."""
    return frozenset(w for w in re.findall(r"\b[a-z][a-z'-]+\b", article))


def _role_before(toks: list[Token], i: int) -> tuple[int, str | None]:
    """The first token index of a title phrase ending just before ``toks[i]``, and an
    affiliation (a country from a demonym or possessive)."""
    k = i
    affiliation: str | None = None
    while k > 0 and k < len(toks) and toks[k].follows_space:
        prev = toks[k - 1]
        low = prev.low
        if prev.possessive and k - 1 >= 0 and prev.text in COUNTRY_OF:
            affiliation = COUNTRY_OF[prev.text]
            k -= 1
            break
        if prev.possessive:
            break
        if low in TITLE_WORDS or (low == "of" and k < i):
            k -= 1
            continue
        if prev.text in DEMONYM_OF:
            affiliation = DEMONYM_OF[prev.text]
            k -= 1
            continue
        # "Kremlin spokesman", "Treasury Secretary": an organization word before a title.
        if prev.capital and toks[k].low in TITLE_WORDS and k < i and not prev.initial:
            k -= 1
            continue
        if prev.capital and toks[k].low in TITLE_WORDS and k < i and prev.initial:
            if prev.text in KNOWN_ORGS or prev.low not in COMMON_START:
                k -= 1
            break
        break
    return k, affiliation


def _clean_role(words: list[Token], article: str) -> str | None:
    """The role text from title tokens, or None when they hold no core title."""
    while words and (words[0].low in HONORIFICS or words[0].low == "of"):
        words = words[1:]
    while words and (words[-1].low in HONORIFICS or words[-1].low == "of"):
        words = words[:-1]
    if not words or not any(w.low.rstrip(".") in TITLE_CORE or w.low in TITLE_CORE for w in words):
        return None
    # Drop a leading possessive country; it is the affiliation.
    if words[0].possessive and words[0].text in COUNTRY_OF:
        words = words[1:]
    if not words:
        return None
    return article[words[0].start : words[-1].end]


_APPOSITIVE = lazy_compile(r"^\s*,\s+(?:the |a |an )?([^,.;:()\"“”]{3,80}?)\s*(?:[,.;]|$|\))")


def _appositive(article: str, end: int) -> tuple[str | None, str | None]:
    """Role and affiliation from ", the president of Ecuador," after a name."""
    m = _APPOSITIVE.match(article[end : end + 100])
    if not m:
        return None, None
    phrase = m.group(1).strip()
    words = phrase.split()
    if not words or len(words) > 7 or words[0].lower() in {"who", "which", "that", "said", "and"}:
        return None, None
    lows = [w.lower().strip("'’s") for w in words]
    if not any(w in TITLE_CORE for w in lows[:4]):
        return None, None
    affiliation: str | None = None
    first = re.sub(r"['’]s$", "", words[0])
    if first != words[0] and first in COUNTRY_OF:
        affiliation = COUNTRY_OF[first]
        phrase = " ".join(words[1:])
    elif words[0] in DEMONYM_OF:
        affiliation = DEMONYM_OF[words[0]]
    of = re.search(r"\b(?:of|for) (?:the )?([A-Z][\w.’'-]*(?: [A-Z][\w.’'-]*)*)", phrase)
    if of and affiliation is None:
        affiliation = COUNTRY_OF.get(of.group(1), of.group(1))
    return phrase, affiliation


def find_mentions(article: str, sentences: Sequence[Sentence]) -> list[Mention]:
    lower_words = _lower_words(article)
    found: list[Mention] = []
    for s in sentences:
        toks = tokens(s)
        for i, j in _name_runs(s, toks, lower_words):
            run = toks[i:j]
            low_words = {t.low for t in run}
            is_org = bool(low_words & ORG_WORDS) and run[-1].low not in TITLE_WORDS
            core_i = i
            honorific = False
            if not is_org:
                while core_i < j and (
                    toks[core_i].low in TITLE_WORDS
                    or toks[core_i].low in HONORIFICS
                    or (toks[core_i].text in DEMONYM_OF and toks[core_i].text not in COUNTRY_OF)
                    or (toks[core_i].text in DEMONYM_OF and core_i + 1 < j)
                    or (
                        toks[core_i].low not in ORG_WORDS
                        and core_i + 2 < j
                        and toks[core_i + 1].low in TITLE_WORDS
                    )
                ):
                    honorific |= toks[core_i].low in HONORIFICS
                    core_i += 1
                    # "Governor of Washington Chris Gregoire": the place is the title's.
                    if core_i < j and toks[core_i].low == "of" and core_i > i:
                        core_i += 1
                        while core_i < j - 2 and toks[core_i].capital:
                            core_i += 1
                if core_i == j:
                    # Only title words: "President", "Ukrainian", or a country demonym.
                    continue
            # Leading "The" of a name ("The Guardian" -> "Guardian").
            while core_i < j - 1 and toks[core_i].low == "the":
                core_i += 1
            core_j = j
            of_affiliation: str | None = None
            lows = [t.low for t in toks[core_i:j]]
            if "of" in lows and not is_org:
                # "Vladimir Putin of Russia", "Wong Kwok-hing of FTU": a person of X.
                cut = core_i + lows.index("of")
                if cut - core_i >= 2 or toks[cut + 1].text in COUNTRY_OF:
                    core_j = cut
                    rest = toks[cut + 1 : j]
                    of_affiliation = article[rest[0].start : rest[-1].end] if rest else None
                    if of_affiliation:
                        of_affiliation = COUNTRY_OF.get(of_affiliation, of_affiliation)
            core = toks[core_i:core_j]
            if not core:
                continue
            name = article[core[0].start : core[-1].end]
            if name.lower() in COMMON_START or name.lower() in TITLE_WORDS:
                continue
            title_start, affiliation = _role_before(toks, i)
            role = _clean_role(toks[title_start:core_i], article) if title_start < core_i else None
            for t in toks[title_start:core_i]:
                if t.text in DEMONYM_OF:
                    affiliation = affiliation or DEMONYM_OF[t.text]
            affiliation = affiliation or of_affiliation
            if role is None:
                app_role, app_aff = _appositive(article, core[-1].end)
                if app_role:
                    role, affiliation = app_role, affiliation or app_aff
            before = toks[title_start - 1] if title_start > 0 else None
            place_only = before is not None and before.low in PLACE_PREPOSITIONS
            if before is not None and before.low == "the" and title_start - 2 >= 0:
                place_only = toks[title_start - 2].low in PLACE_PREPOSITIONS
            after = toks[j] if j < len(toks) else None
            after2 = toks[j + 1] if j + 1 < len(toks) else None
            subject = (
                (after is not None and after.low in SPEECH_VERBS)
                or (
                    after is not None
                    and after.low in {"also", "then", "later", "has", "had"}
                    and after2 is not None
                    and after2.low.endswith("ed")
                )
                or (after is not None and after.low in {",", "who"})
            )
            # A speaker after a quote: "..., said Ecuadorian president Rafael Correa"
            if title_start > 0 and toks[title_start - 1].low in {"said", "says", "told"}:
                subject = True
            acr = re.match(
                r"\s*\(([A-Z][A-Za-z.&]{1,9})\)", article[core[-1].end : core[-1].end + 14]
            )
            found.append(
                Mention(
                    name=name,
                    sentence=s.index,
                    start=core[0].start,
                    end=core[-1].end,
                    tok_index=core_i,
                    tok_end=j,
                    role=role,
                    affiliation=affiliation,
                    titled=role is not None,
                    honorific=honorific,
                    place_only=place_only,
                    subject=subject,
                    acronym=acr.group(1) if acr else None,
                    initial=core[0].initial,
                )
            )
    return found
