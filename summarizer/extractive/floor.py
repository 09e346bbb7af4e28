"""The lead baseline's actors, commitments and open questions: surface rules any
reader of news would try first (#13).

This is the floor every model is compared to, so each rule is the plain one and
none is tuned to the eval set: a name is a run of capitalized words seen twice, a
commitment is a sentence with a commitment verb, an open question is a sentence
with a hedge. Each item quotes its whole sentence (first 40 words), so all of it is
grounded; what it gets wrong (a sentence-initial "Relief" taken for a name, a "will"
that promises nothing) is what a model has to do better.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from summarizer.contract.models import (
    Actor,
    ActorKind,
    Certainty,
    Commitment,
    CommitmentKind,
    OpenQuestion,
)
from summarizer.extractive.keysummary import cut_chars, one_line
from summarizer.extractive.sentences import Sentence, quote

# The contract's list bounds as the model is asked for them (llm_schema._LIST_BOUNDS).
MAX_ACTORS = 20
MAX_COMMITMENTS = 15
MAX_QUESTIONS = 8
MAX_QUESTION_ACTORS = 6
# Characters, as the model is asked for them (summarizer.contract.llm_schema).
NAME_CHARS = 80
ACTION_CHARS = 200
QUESTION_CHARS = 200

_OPENERS = "\"'“‘([«"
_CLOSERS = "\"'”’)]»"
# Capitalized only because they open a sentence or a quotation.
_FUNCTION_WORDS = frozenset(
    """
    a an the this that these those there here it its he she his her him they their them
    we our us i my me you your in on at by for with from to of into over after before
    during since until while when where as although though because if unless but and or
    nor so yet however meanwhile also still then thus moreover furthermore additionally
    finally nevertheless instead indeed earlier later today yesterday tomorrow now
    according some many most several all both each every any no not one two three
    neither either other another such what which who whom whose why how despite under
    among between about against without within upon via per like unlike even only just
    again already do does did is are was were be been has have had will would can could
    may might must shall should around regarding following amid across along near
    nearly approximately toward towards throughout through beyond behind above below
    including besides except
    """.split()
)
_MONTHS = (
    "January February March April May June July August September October November December"
).split()
_MONTH_ABBREVIATIONS = "Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec".split()
_WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_CALENDAR = frozenset(_MONTHS + _MONTH_ABBREVIATIONS + _WEEKDAYS)
# Titles abbreviated with a dot that goes on to the name ("Mr. Mkapa").
_TITLE_DOTS = frozenset("Mr Mrs Ms Dr St Jr Sr Gen Sen Rep Gov Prof Lt Col Capt".split())
# A name ending with one of these is obviously an organization ("Labour Party").
_ORGANIZATION_ENDS = frozenset(
    """
    Inc Corp Corporation Co Ltd LLC Plc Company Party Ministry Department Council
    Committee Commission Agency Office Bureau Association Union Organization
    Organisation Institute Institution University College Foundation Bank Court
    Assembly Parliament Congress Senate Army Police Service Authority Board Fund
    Center Centre Group
    """.split()
)
_DOTTED = re.compile(r"^(?:[A-Za-z]\.){2,}$")
_INITIAL = re.compile(r"^[A-Z]\.$")
_CONTRACTION = re.compile(r"['’](?:s|ve|m|ll|d|re|t)$", re.IGNORECASE)


@dataclass(frozen=True)
class Run:
    """A run of capitalized words in one sentence, as written (spaces normalized)."""

    name: str
    sentence: Sentence


def _clean(token: str) -> tuple[str, bool]:
    """The word in ``token`` without quotes, brackets, a possessive and punctuation
    that cannot be part of a name, and whether a run of names has to stop after it."""
    word = token.lstrip(_OPENERS)
    stripped = word.rstrip(_CLOSERS + ",;:!?—–")
    stops = stripped != word
    if stripped.endswith("."):
        base = stripped[:-1]
        if not (_DOTTED.match(stripped) or _INITIAL.match(stripped) or base in _TITLE_DOTS):
            stripped, stops = base, True
    without = _CONTRACTION.sub("", stripped)
    if without != stripped:
        stripped, stops = without, True
    return stripped, stops


def _is_name_word(word: str, initial: bool) -> bool:
    if not word or not word[0].isupper() or word.rstrip(".") in _CALENDAR:
        return False
    return not (word == "I" or (initial and word.lower() in _FUNCTION_WORDS))


def runs(sentence: Sentence) -> Iterator[Run]:
    """The runs of capitalized words in ``sentence``, left to right.

    A word is sentence-initial at the start of the sentence, of a quotation, or after
    a colon; only there is a capitalized function word ("The", "He") skipped. Month
    and day names, "I", and punctuation between words ("Bush, Putin") end a run.
    """
    current: list[str] = []
    initial = True
    for match in re.finditer(r"\S+", sentence.text):
        token = match.group(0)
        word, stops = _clean(token)
        starts_quote = token[:1] in _OPENERS
        if _is_name_word(word, initial or starts_quote):
            current.append(word)
        elif current:
            yield Run(" ".join(current), sentence)
            current = []
        if stops and current:
            yield Run(" ".join(current), sentence)
            current = []
        initial = token.endswith((":", ";", "—"))
    if current:
        yield Run(" ".join(current), sentence)


def _mentions(name: str, text: str) -> re.Match[str] | None:
    """Where ``name`` occurs in ``text`` as whole words (line breaks between words
    allowed: sentences copied from a page keep them).

    A name with a word that is nowhere in ``text`` cannot match, and is told so
    without compiling a pattern for it: most names are in few sentences, and the lead
    floor asks of every name and sentence (``eval score`` computes it on every run,
    issue #11)."""
    words = name.split()
    if not all(word in text for word in words):
        return None
    pattern = r"\s+".join(re.escape(w) for w in words)
    return re.search(rf"(?<![\w.]){pattern}(?!\w)", text)


def _kind(name: str) -> ActorKind:
    last = name.split()[-1]
    if last in _ORGANIZATION_ENDS or (len(last) >= 3 and last.isalpha() and last.isupper()):
        return "organization"
    return "other"


def capitalized_actors(article: str, sentences: Sequence[Sentence]) -> list[Actor]:
    """Runs of capitalized words that occur at least twice, the fullest first: a
    name that ends a longer one found ("Trump" of "Donald Trump") is an alias of it,
    as news refers back to a name by its last words ("Kenya" does not end "Kenya Red
    Cross", so it stays an actor of its own). In order of first mention, at most
    :data:`MAX_ACTORS` (the most frequent)."""
    found = [run for sentence in sentences for run in runs(sentence)]
    counts = Counter(run.name for run in found)
    first: dict[str, Sentence] = {}
    for run in found:
        first.setdefault(run.name, run.sentence)
    names = [n for n in first if counts[n] >= 2 and len(n) <= NAME_CHARS]
    if not names and first:
        names = [next(iter(first))]  # the contract asks for one actor at least
    aliases: dict[str, list[str]] = {}
    for name in sorted(names, key=lambda n: (-len(n.split()), first[n].index)):
        words = name.split()
        owner = next((full for full in aliases if full.split()[-len(words) :] == words), None)
        if owner is None:
            aliases[name] = []
        else:
            aliases[owner].append(name)
    kept = sorted(
        aliases,
        key=lambda n: (-sum(counts[a] for a in [n, *aliases[n]]), first[n].index),
    )[:MAX_ACTORS]
    kept.sort(key=lambda n: (first[n].index, first[n].text.find(n)))
    return [
        Actor(
            name=name,
            kind=_kind(name),
            aliases=sorted(aliases[name], key=lambda a: first[a].index),
            evidence=[quote(first[name])],
        )
        for name in kept
    ]


_COMMITMENT = re.compile(
    r"\b(?:(?P<agreement>agreed|agrees?)|(?P<pledge>pledged|pledges|promised|promises"
    r"|vowed|vows)|(?P<plan>plans?\s+to|planned\s+to)|(?P<will>will))\b",
    re.IGNORECASE,
)
_COMMITMENT_KIND: dict[str, CommitmentKind] = {
    "agreement": "agreement",
    "pledge": "pledge",
    "plan": "plan",
    "will": "plan",  # a statement of what someone will do is an announced plan
}
_CONDITIONAL = re.compile(r"\bif\b", re.IGNORECASE)
_TENTATIVE = re.compile(r"\b(?:may|might|could)\b", re.IGNORECASE)

_MONTH = r"(?:" + "|".join(_MONTHS) + "|" + "|".join(_MONTH_ABBREVIATIONS) + r")\.?"
_NUMBER = (
    r"(?:\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"fifteen|twenty|thirty|forty|fifty|sixty|ninety|several|few)"
)
_UNIT = r"(?:days?|hours?|weeks?|months?|years?)"
_PERIOD = r"(?:week|month|year|spring|summer|autumn|fall|winter)"
_DATE = re.compile(
    r"(?:\b(?:by|before|until|on|in|from)\s+)?"
    r"(?:"
    rf"\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}}\b)?"  # Feb. 14, 2025
    rf"|\b\d{{1,2}}\s+{_MONTH}(?:\s+\d{{4}}\b)?"  # 14 February
    rf"|\b{_MONTH}(?:\s+\d{{4}}\b)?(?!\w)"  # March, March 2016
    r"|\b(?:" + "|".join(_WEEKDAYS) + r")\b"
    r")"
    rf"|\b(?:by|before|until|within|in)\s+(?:the\s+)?(?:end\s+of\s+(?:the\s+)?)?"
    rf"(?:\d{{4}}|{_PERIOD})\b"  # by the end of 2008, in 2016
    rf"|\b(?:within|in|for)\s+(?:the\s+next\s+)?{_NUMBER}[\s-]+(?:\w+\s+)?{_UNIT}\b"
    rf"|\b(?:next|this|later\s+this|early\s+next)\s+{_PERIOD}\b"
    r"|\b(?:today|tomorrow|tonight)\b"
)


def _deadline(text: str, after: int) -> str | None:
    """The first date phrase after the commitment verb: one before it is more often
    when something was said ("said on Sunday that ... will") than when it is due."""
    found = _DATE.search(text, after)
    return one_line(found.group(0))[:60] if found else None


def _first_actor(text: str, actors: Sequence[Actor]) -> str | None:
    """The actor whose name or alias the text mentions first."""
    best: tuple[int, str] | None = None
    for actor in actors:
        for name in (actor.name, *actor.aliases):
            found = _mentions(name, text)
            if found and (best is None or found.start() < best[0]):
                best = (found.start(), actor.name)
    return best[1] if best else None


def modal_commitments(
    article: str, sentences: Sequence[Sentence], actors: Sequence[Actor]
) -> list[Commitment]:
    """Every sentence with a commitment verb, as one commitment of the first actor it
    names (else its first capitalized run; a sentence naming nobody is skipped), with
    the whole sentence as the action. At most :data:`MAX_COMMITMENTS`, in order."""
    out: list[Commitment] = []
    for sentence in sentences:
        verb = _COMMITMENT.search(sentence.text)
        if verb is None:
            continue
        actor = _first_actor(sentence.text, actors)
        if actor is None:
            actor = next((r.name for r in runs(sentence) if len(r.name) <= NAME_CHARS), None)
        if actor is None:
            continue
        certainty: Certainty = "firm"
        if _CONDITIONAL.search(sentence.text):
            certainty = "conditional"
        elif _TENTATIVE.search(sentence.text):
            certainty = "tentative"
        out.append(
            Commitment(
                actor=actor,
                action=cut_chars(one_line(sentence.text), ACTION_CHARS),
                kind=_COMMITMENT_KIND[verb.lastgroup or "will"],
                certainty=certainty,
                deadline=_deadline(sentence.text, verb.end()),
                evidence=[quote(sentence)],
            )
        )
        if len(out) == MAX_COMMITMENTS:
            break
    return out


def with_commitment_actors(
    actors: Sequence[Actor], commitments: Sequence[Commitment]
) -> list[Actor]:
    """``actors`` plus the names commitments fell back to (a sentence's first
    capitalized run), so that every commitment's actor is one of the actors, as the
    contract requires; each quotes its commitment. Still at most :data:`MAX_ACTORS`."""
    out = list(actors)
    known = {a.name for a in out} | {alias for a in out for alias in a.aliases}
    for commitment in commitments:
        if commitment.actor in known or len(out) == MAX_ACTORS:
            continue
        known.add(commitment.actor)
        out.append(
            Actor(
                name=commitment.actor,
                kind=_kind(commitment.actor),
                evidence=list(commitment.evidence),
            )
        )
    return out


_HEDGE = re.compile(
    # "did not say" in any tense: "has not said why", "haven't said when"
    r"\b(?:unclear|(?:did|do|does|has|have)\s+not\s+(?:say|said)"
    r"|(?:didn|don|doesn|hasn|haven)['’]t\s+(?:say|said)|not\s+known|whether|"
    r"remains\s+to\s+be\s+seen|uncertain)\b",
    re.IGNORECASE,
)
_WH_CLAUSE = re.compile(
    r"\s*,?\s*\b(how|what|why|when|where|who|whom|which|whether|if)\b", re.IGNORECASE
)
# Where the clause a hedge opens ends: a closing quote, a semicolon, a dash.
_CLAUSE_END = re.compile(r"[;\"”—–]|\s-\s")


def as_question(sentence: str, hedge: re.Match[str]) -> str:
    """The plainest question a hedged sentence asks: the clause the hedge opens
    ("It remains unclear how long X will take." -> "How long X will take?"), else
    "What about: <sentence>?"."""
    text = one_line(sentence)
    start = hedge.start() if hedge.group(0).lower() == "whether" else None
    if start is None:
        wh = _WH_CLAUSE.match(sentence, hedge.end())
        start = wh.start(1) if wh else None
    if start is not None:
        clause = one_line(sentence[start:])
        end = _CLAUSE_END.search(clause)
        clause = clause[: end.start()] if end else clause
        clause = clause.rstrip(" ,.:!?'’")
        if len(clause.split()) >= 2:
            return _ask(clause[0].upper() + clause[1:])
    return _ask("What about: " + text.rstrip(" .!?"))


def _ask(body: str) -> str:
    return cut_chars(body, QUESTION_CHARS - 1) + "?"


def hedged_questions(
    article: str, sentences: Sequence[Sentence], actors: Sequence[Actor]
) -> list[OpenQuestion]:
    """Every sentence with a hedge ("unclear", "whether", ...) as the open question
    it states, with the actors it names. At most :data:`MAX_QUESTIONS`, in order."""
    out: list[OpenQuestion] = []
    for sentence in sentences:
        hedge = _HEDGE.search(sentence.text)
        if hedge is None:
            continue
        named = [
            a.name for a in actors if any(_mentions(n, sentence.text) for n in (a.name, *a.aliases))
        ]
        out.append(
            OpenQuestion(
                question=as_question(sentence.text, hedge),
                actors=named[:MAX_QUESTION_ACTORS],
                evidence=[quote(sentence)],
            )
        )
        if len(out) == MAX_QUESTIONS:
            break
    return out
