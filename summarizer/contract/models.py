"""The summary contract (schema version 1) as Pydantic models: the public JSON shape
described in ``docs/SUMMARY_CONTRACT.md``.

Field descriptions double as the instructions the LLM sees, so they are written for
the model, not for the reader of this file. The same classes validate golden files
and what ``--format json`` prints. Loading one has no side effect: quotes are located
in an article by an explicit step (:class:`summarizer.grounding.Grounder`), never by
a validator here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION: Literal["1"] = "1"

ActorKind = Literal["person", "organization", "country", "group", "other"]
CommitmentKind = Literal["agreement", "pledge", "plan", "announcement", "demand", "other"]
Certainty = Literal["firm", "conditional", "tentative"]
Alignment = Literal["exact", "normalized", "fuzzy"]


def _no_items() -> list[Any]:
    """The default of every list field. A function of ours, not ``list``: pydantic
    reads each default factory's signature, and a builtin's is parsed from text by the
    tokenize module, whose patterns then compile (about 4 ms of every command that loads
    the contract, ``eval check`` and ``eval score`` among them: issue #11)."""
    return []


def _no_meta() -> dict[str, Any]:
    """The default of ``meta`` (see :func:`_no_items`)."""
    return {}


class _Model(BaseModel):
    # ``extra="ignore"`` lets newer files (fields may be added to the contract) load in
    # older readers; the LLM never sees extra fields because the schema omits them.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Evidence(_Model):
    """A verbatim quote from the article that supports the item it belongs to."""

    quote: str = Field(
        description=(
            "A span copied character for character from the article, 3 to 40 words. "
            "Do not paraphrase, shorten with '...', or fix its spelling."
        )
    )
    start: int | None = Field(
        default=None, description="Character offset where the quote starts in the article."
    )
    end: int | None = Field(default=None, description="Character offset just past the quote's end.")
    alignment: Alignment | None = Field(
        default=None,
        description=(
            "How the quote was located: exact, after normalizing whitespace/quotes/"
            "dashes, or by a bounded fuzzy match (the quote is then replaced by the "
            "article's own span)."
        ),
    )


class KeyPoint(_Model):
    text: str = Field(description="One important fact from the article, one sentence.")
    evidence: list[Evidence] = Field(
        default_factory=_no_items, description="Quotes from the article that support this point."
    )


class KeySummary(_Model):
    headline: str = Field(
        description="A neutral headline of at most 15 words, with no opinion words."
    )
    summary: str = Field(
        description=("2 to 4 sentences, at most 90 words: what happened and why it matters.")
    )
    key_points: list[KeyPoint] = Field(
        default_factory=_no_items,
        description="3 to 7 key points, the most important first.",
    )


class Actor(_Model):
    name: str = Field(description="The fullest name the article gives, e.g. 'Donald Trump'.")
    kind: ActorKind = Field(description="What sort of actor this is.")
    role: str | None = Field(
        default=None,
        description="Title or function as the article states it, or null if not stated.",
    )
    affiliation: str | None = Field(
        default=None,
        description="Country or organization the actor belongs to, or null.",
    )
    aliases: list[str] = Field(
        default_factory=_no_items,
        description=(
            "Other ways the article refers to this actor, e.g. 'Trump', 'the U.S. president'."
        ),
    )
    evidence: list[Evidence] = Field(
        default_factory=_no_items,
        description="Quotes from the article where this actor acts, speaks or is acted on.",
    )


class Commitment(_Model):
    actor: str = Field(description="Who committed: exactly one of the actors' names.")
    action: str = Field(
        description="What was promised, agreed, planned or scheduled, as a verb phrase."
    )
    counterparty: str | None = Field(
        default=None,
        description="To or with whom, an actor's name where possible, or null.",
    )
    kind: CommitmentKind = Field(
        description=(
            "agreement, pledge, plan, announcement, or demand (a demand made of "
            "someone else, with the demander as actor), or other."
        )
    )
    certainty: Certainty = Field(
        description=(
            "firm; conditional when it depends on a condition ('if Congress "
            "approves'); tentative when hedged ('may', 'could')."
        )
    )
    deadline: str | None = Field(
        default=None,
        description="The deadline or date exactly as the article states it, else null.",
    )
    evidence: list[Evidence] = Field(
        default_factory=_no_items, description="Quotes from the article stating the commitment."
    )


class OpenQuestion(_Model):
    question: str = Field(description="A question the article leaves open, phrased as a question.")
    why_open: str | None = Field(
        default=None, description="One sentence: what makes it unresolved."
    )
    actors: list[str] = Field(
        default_factory=_no_items, description="Names of the actors involved."
    )
    evidence: list[Evidence] = Field(
        default_factory=_no_items,
        description="Quotes from the article that show the question is open.",
    )


class ArticleSummary(_Model):
    """A structured, verifiable summary of one news article."""

    schema_version: Literal["1"] = Field(
        default=SCHEMA_VERSION, description="Version of this JSON shape."
    )
    key_summary: KeySummary
    actors: list[Actor] = Field(
        default_factory=_no_items,
        description=(
            "Every person, organization, country or group that acts, speaks, is "
            "quoted, or is acted on in the article. Not places that are only locations."
        ),
    )
    commitments: list[Commitment] = Field(
        default_factory=_no_items,
        description=(
            "Every promise, agreement, announced plan, pledge, demand or scheduled "
            "action in the article, one item each."
        ),
    )
    open_questions: list[OpenQuestion] = Field(
        default_factory=_no_items,
        description=(
            "What a careful reader would still want answered: details the article "
            "says are missing, unresolved disputes, outcomes pending a future event."
        ),
    )
    meta: dict[str, Any] = Field(
        default_factory=_no_meta,
        description="Free-form run metadata (how the summary was made); never scored.",
    )

    def evidence(self) -> list[Evidence]:
        """Every evidence object in document order (key points, actors, ...)."""
        found: list[Evidence] = []
        for kp in self.key_summary.key_points:
            found.extend(kp.evidence)
        for group in (self.actors, self.commitments, self.open_questions):
            for item in group:
                found.extend(item.evidence)
        return found


def contract_json_schema() -> dict[str, Any]:
    """The public contract's JSON schema, as ``summarizer schema`` prints it."""
    return ArticleSummary.model_json_schema()
