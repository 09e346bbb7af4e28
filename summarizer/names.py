"""A claim's names are facts a reader takes away, yet its evidence often gives them as
another name of an actor, an alias or a pronoun ("he announced" for "Trump announced").
Which words of a claim are names, and through which actor the evidence may stand for
them, is one rule of its own, read by the key point, commitment and headline checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from summarizer.quotes import NEGATIONS, Quotes, Token, tokenize, word_key, word_stems
from summarizer.similarity import ActorNames, name_key

if TYPE_CHECKING:
    from summarizer.contract.models import Actor

_PRONOUNS = frozenset("he she they it we i his her their its our us them him".split())
# Who a quote can be about without naming them ("he announced", "we agree"): a
# person by he/she or as a speaker, anyone else by they/it or as a speaker.
_SPEAKER = frozenset("i me my we us our".split())
PERSONAL = frozenset("he she his her him".split()) | _SPEAKER
COLLECTIVE = frozenset("they them their it its".split()) | _SPEAKER


def pronouns_of(actor: Actor) -> frozenset[str]:
    """The pronouns that may stand for ``actor``."""
    return PERSONAL if actor.kind == "person" else COLLECTIVE


def keys_of_actor(actor: Actor) -> frozenset[str]:
    """The name tokens an actor answers to: of its name, aliases and role."""
    return _keys_of((*ActorNames.names(actor), actor.role or ""))


@lru_cache(maxsize=4096)
def _keys_of(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(word_key(t.lower) for n in names for t in tokenize(n))


def is_name(tok: Token, actor_keys: set[str]) -> bool:
    text = tok.text
    if len(text) < 2 or not text[0].isupper():
        return False
    if "." in text or text.isupper():
        return True  # an acronym: "U.S.", "UN", "NATO"
    if tok.lower in NEGATIONS or tok.lower in _PRONOUNS or not word_stems(tok.lower):
        return False
    # A capital that opens a sentence says nothing: a name there only if an actor's.
    return not tok.opens or word_key(tok.lower) in actor_keys


class NameCheck:
    """Whether a name token of a claim is supported by the evidence: found there (in
    some form, or as an acronym's words), or one of an actor's names whom the
    evidence mentions, or by a pronoun when it names no one the claim does not."""

    def __init__(
        self,
        tokens: Sequence[Token],
        ev: Quotes,
        actors: Sequence[Actor],
        keys_of: Sequence[frozenset[str]],
        all_keys: set[str],
        parties: Iterable[str] = (),
    ) -> None:
        self.ev, self.actors, self.keys_of = ev, actors, keys_of
        wanted = {name_key(p) for p in parties if p}
        self.parties = [a for a in actors if wanted & {name_key(n) for n in ActorNames.names(a)}]
        self.claim_keys = {word_key(t.text) for t in tokens if is_name(t, all_keys)}
        self._mentioned: list[Actor] | None = None

    def __call__(self, tok: Token) -> bool:
        ev = self.ev
        key = word_key(tok.text)
        acronym = "." in tok.text or tok.text.isupper()
        if ev.has_name(key) or (acronym and ev.has_acronym(key)):
            return True
        owners = [a for a, keys in zip(self.actors, self.keys_of, strict=True) if key in keys]
        if not owners:
            return False
        if self._mentioned is None:
            self._mentioned = ev.mentioned(self.actors)
        if any(a in self._mentioned for a in owners):
            return True
        # A pronoun may stand for the actor, unless the evidence names someone the
        # claim does not (the pronoun is then more likely theirs); for a party to
        # the commitment it may anyway.
        owners = [a for a in owners if ev.words & pronouns_of(a)]
        if not owners:
            return False
        if any(a in self.parties for a in owners):
            return True
        return not [a for a in self._mentioned if not keys_of_actor(a) & self.claim_keys]
