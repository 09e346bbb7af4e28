"""Commitments found by rules: cue verbs, their grammatical subject, and a deadline.

News reports a promise in a few fixed shapes ("X agreed to ...", "X will ... on
Feb. 14", "X said it would ...", "X called on Y to ..."). The committing actor is the
subject: the last actor named before the cue in the same clause, or the person or
organization a pronoun there refers to. A sentence without a known actor as subject
gives nothing, which keeps forecasts ("prices will rise") out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from summarizer.contract.models import Actor, Certainty, Commitment, CommitmentKind
from summarizer.extractive.actors import actor_spans
from summarizer.extractive.lazy_patterns import lazy_compile
from summarizer.extractive.sentences import Sentence, quote

MAX_COMMITMENTS = 15  # the contract's upper bound (llm_schema._LIST_BOUNDS)
_MAX_ACTION_WORDS = 16

# (pattern, kind, keep the cue words in the action). Order matters: the first cue
# found in a sentence wins, so the specific ones come first.
_CUES: tuple[tuple[str, CommitmentKind, bool], ...] = (
    (r"\b(?:called on|calls on|urged|urges|asked|demanded|demands|requested|requests|"
     r"called for|calls for|appealed to|pressed)\b", "demand", True),
    (r"\b(?:agreed to|agree to|agrees to|agreed on|agreed that|agreed with|signed|"
     r"reached an agreement|reached a deal|struck a deal|approved)\b", "agreement", True),
    (r"\b(?:pledged|pledges|promised|promises|vowed|vows|committed to|commits to|"
     r"guaranteed|guarantees|offered to|swore)\b", "pledge", True),
    (r"\b(?:plans to|planned to|plan to|intends to|intend to|intended to|"
     r"is to|are to|is due to|are due to|was due to|is set to|are set to|"
     r"is scheduled to|are scheduled to|was scheduled to|is expected to|are expected to|"
     r"will|shall|would|may|might|could|is going to|are going to)\b", "plan", False),
    (r"\b(?:announced|announces|unveiled|launched|declared)\b", "announcement", True),
)  # fmt: skip
_CUE_RES = tuple((lazy_compile(p), k, keep) for p, k, keep in _CUES)
_SPEECH = lazy_compile(
    r"\b(?:said|says|told|announced|stated|added|confirmed|promised|pledged|insisted|"
    r"warned|vowed|claimed)\b"
)
_PRONOUNS = {"he": "person", "she": "person", "they": "any", "it": "org", "we": "speaker",
             "i": "speaker"}  # fmt: skip
_CONDITION = lazy_compile(
    r"\b(?:if|unless|once|provided that|subject to|as long as|only when)\b", re.I
)
_HEDGE = lazy_compile(
    r"\b(?:may|might|could|possibly|perhaps|likely|expected to|hopes? to|consider(?:s|ing)?)\b"
)
_MONTH = (
    r"(?:(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.|January|February|March|"
    r"April|May|June|July|August|September|October|November|December)"
)
_PART = r"(?:the end of |the middle of |the start of |the beginning of |early |late |mid-)?"
_WHEN = (
    rf"{_PART}{_MONTH}(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?(?:,?\s+\d{{4}})?",
    rf"{_PART}(?:this|next) (?:week|month|year|spring|summer|autumn|fall|winter|weekend)",
    r"(?:next |this )?(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)",
    rf"{_PART}(?:19|20)\d{{2}}",
    r"tomorrow|tonight|later (?:this|next) (?:week|month|year)",
)
_DEADLINE = lazy_compile(
    r"\b(?:(?:on|by|before|until|from|after|in|within|starting|beginning|no later than)\s+)?"
    r"(?:" + "|".join(_WHEN) + r")\b"
)
_DURATION = lazy_compile(
    r"\b(?:within|in|for)\s+"
    r"(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|twenty|thirty|a|several|a few)"
    r"(?:\s+working)?\s+(?:days?|weeks?|months?|years?|hours?)\b"
)
# Cue words after which the clause is only speculation or a report of the past.
_SKIP_AFTER = lazy_compile(r"^(?:be\s+(?:able|possible|likely|unlikely)|have\s+been|not\b|have\b)")
_CLAUSE_END = lazy_compile(
    r"[;:!?]|\.[\"”’]*$|,\s*(?:said|says|saying|according|but|while|although|who|which)\b"
    r"|\s[—–-]\s"
)


def _speaker(article: str, sentence: Sentence, actors: Sequence[Actor]) -> str | None:
    """The actor who says a quoted "we"/"I": the one named next to said/told."""
    spans = actor_spans(article, sentence, actors)
    for m in _SPEECH.finditer(sentence.text):
        pos = sentence.start + m.start()
        near = [s for s in spans if abs(s[0] - pos) < 60]
        if near:
            return min(near, key=lambda s: abs(s[0] - pos))[2]
    return None


_APPOSITIVE_TAIL = lazy_compile(r",[^,]{1,90},\s*(?:also |then |later |has |had |have )*$")
_MODALS = frozenset("will shall would may might could".split())


def _subject(
    article: str,
    sentences: Sequence[Sentence],
    sentence: Sentence,
    cue_start: int,
    actors: Sequence[Actor],
    kinds: Mapping[str, str],
    cue: str,
) -> str | None:
    """The actor that is the subject of the cue at ``cue_start`` (article offset): the
    last actor or pronoun before it, skipping an appositive (", a Democrat from New
    York,"); for a modal it must stand right before it ("Markey will")."""
    clause_start = sentence.start
    head = article[sentence.start : cue_start]
    tail = _APPOSITIVE_TAIL.search(head)
    limit = cue_start - (len(head) - tail.start()) if tail else cue_start
    spans = [s for s in actor_spans(article, sentence, actors) if s[1] <= limit]
    clause = article[clause_start:limit]
    pron = None
    for m in re.finditer(r"\b(he|she|they|it|we|i|He|She|They|It|We|I)\b", clause):
        pron = m
    last = spans[-1] if spans else None
    tight = cue in _MODALS or (cue.endswith(" to") and cue.split()[0] in ("is", "are", "was"))
    max_gap = 3 if tight else 8
    if pron is not None and (last is None or clause_start + pron.start() > last[1]):
        if len(article[clause_start + pron.end() : limit].split()) > max_gap:
            return None
        want = _PRONOUNS[pron.group(1).lower()]
        if want == "speaker":
            return _speaker(article, sentence, actors)
        return _antecedent(
            article, sentences, sentence, clause_start + pron.start(), actors, kinds, want
        )
    if last is None:
        return None
    between = article[last[1] : limit]
    if len(between.split()) > max_gap or re.search(r"[.;:]\s", between):
        return None
    # "A and B will lead": the first of coordinated subjects.
    for i in range(len(spans) - 1, 0, -1):
        gap = article[spans[i - 1][1] : spans[i][0]]
        if re.fullmatch(r"\s*(?:,\s*)?and\s+(?:[A-Z][\w.]*\s+){0,4}", gap) and spans[i] is last:
            return spans[i - 1][2]
    return last[2]


def _antecedent(
    article: str,
    sentences: Sequence[Sentence],
    sentence: Sentence,
    before: int,
    actors: Sequence[Actor],
    kinds: Mapping[str, str],
    want: str,
) -> str | None:
    """The last actor of a fitting kind named before ``before`` (this sentence or the
    two before it)."""
    for s in (sentence, *reversed(sentences[max(0, sentence.index - 2) : sentence.index])):
        spans = [sp for sp in actor_spans(article, s, actors) if sp[1] <= before]
        for _, _, name in reversed(spans):
            kind = kinds.get(name)
            if want == "person" and kind == "person":
                return name
            if want == "org" and kind in ("organization", "country"):
                return name
            if want == "any" and kind in ("organization", "country", "group", "person"):
                return name
    return None


def _action(text: str, keep_cue: bool, cue: str) -> str:
    """A short verb phrase from the cue to the end of its clause."""
    end = _CLAUSE_END.search(text)
    body = text[: end.start()] if end else text
    words = body.split()
    phrase = " ".join(words[:_MAX_ACTION_WORDS]).strip(" ,;\"“”‘’'.")
    phrase = re.sub(r"[\"“”]", "", phrase)
    if len(words) > _MAX_ACTION_WORDS:
        phrase += "…"  # cut mid-clause: say so
    if keep_cue:
        phrase = f"{cue} {phrase}".strip()
    return phrase


def _deadline(text: str) -> str | None:
    """A date or time phrase in the action's clause, as the article writes it."""
    dur = _DURATION.search(text)
    found = _DEADLINE.search(text)
    if dur and (found is None or dur.start() < found.start()):
        return dur.group(0)
    return found.group(0) if found else None


def _counterparty(
    article: str, sentence: Sentence, after: int, actor: str, actors: Sequence[Actor]
) -> str | None:
    for start, _end, name in actor_spans(article, sentence, actors):
        if start < after or name == actor:
            continue
        prefix = article[max(sentence.start, start - 12) : start].lower()
        if re.search(r"\b(?:with|to|on|from|for|against)\s+(?:the\s+)?$", prefix):
            return name
    return None


def _is_question_or_negated(text: str) -> bool:
    return text.rstrip("\"'”’ ").endswith("?")


# A cue its own clause negates, refuses, denies or leaves open is no commitment:
# "refused to agree to cut taxes", "has not agreed to meet", "denied that she had
# promised", "it is unclear whether he will veto" (found by a review, each had been a
# firm commitment).
_NEGATED_CUE = lazy_compile(
    r"\b(?:not|never|no longer|cannot|\w+n[’']t|refus(?:e|es|ed|ing)|declin(?:e|es|ed|ing)"
    r"|den(?:y|ies|ied|ying)|reject(?:s|ed|ing)?|unclear|uncertain|whether)\b[^.;:!?]*$",
    re.IGNORECASE,
)


def find_commitments(
    article: str, sentences: Sequence[Sentence], actors: Sequence[Actor]
) -> list[Commitment]:
    """One commitment per sentence with a cue and an actor as its subject."""
    kinds = {a.name: a.kind for a in actors}
    out: list[Commitment] = []
    for s in sentences:
        if _is_question_or_negated(s.text):
            continue
        found: list[tuple[int, re.Match[str], CommitmentKind, bool]] = []
        for rank, (regex, kind, keep) in enumerate(_CUE_RES):
            for m in regex.finditer(s.text):
                rest = s.text[m.end() :].lstrip()
                if _SKIP_AFTER.match(rest):
                    continue
                # Only reported intentions: "said it would", "said he may".
                if m.group(0) in ("would", "may", "might", "could") and not _SPEECH.search(
                    s.text[: m.start()]
                ):
                    continue
                if kind == "announcement" and not re.match(
                    r"(?:that |a |an |the |plans |it |he |she |they |its |his |her |their )", rest
                ):
                    continue
                found.append((rank, m, kind, keep))
                break
        # Specific cues (agreed, pledged, urged) before modals and "announced".
        best = min(
            found, key=lambda f: (f[2] in ("plan", "announcement"), f[1].start()), default=None
        )
        if best is None:
            continue
        _, m, kind, keep = best
        if _NEGATED_CUE.search(s.text[: m.start()]):
            continue
        cue_start = s.start + m.start()
        actor = _subject(article, sentences, s, cue_start, actors, kinds, m.group(0))
        if actor is None:
            continue
        rest_text = s.text[m.end() :].lstrip()
        cue = m.group(0)
        action = _action(rest_text, keep, cue)
        if len(action.split()) < 2:
            continue
        hedged = cue in ("may", "might", "could") or bool(
            _HEDGE.search(s.text[max(0, m.start() - 30) : m.end() + 20])
        )
        certainty: Certainty = "firm"
        if _CONDITION.search(s.text):
            certainty = "conditional"
        elif hedged:
            certainty = "tentative"
        if kind == "plan" and _SPEECH.search(s.text[: m.start()]) and cue in ("will", "would"):
            kind = "pledge"
        clause_end = _CLAUSE_END.search(rest_text)
        clause = rest_text[: clause_end.start()] if clause_end else rest_text
        deadline = (
            _deadline(clause) or _deadline(rest_text[:120])
            if kind != "demand"
            else _deadline(clause)
        )
        out.append(
            Commitment(
                actor=actor,
                action=action,
                counterparty=_counterparty(article, s, cue_start, actor, actors),
                kind=kind,
                certainty=certainty,
                deadline=deadline,
                evidence=[quote(s)],
            )
        )
    return out[:MAX_COMMITMENTS]
