"""The summary contract (schema version 1) as Pydantic models.

These models are the public JSON shape described in ``SUMMARY_CONTRACT.md``. Field
descriptions double as the instructions the LLM sees, so they are written for the
model, not for the reader of this file.

One model family serves three audiences:

* the LLM sees :func:`llm_json_schema`: the same shape without the fields the program
  fills in (evidence offsets, ``meta``), with list sizes bounded so that a
  grammar-constrained local model cannot loop forever;
* library users and ``--format json`` get :class:`ArticleSummary`;
* golden files are validated against the very same classes.

Grounding (locating quotes in the article) is not done here: it needs the article,
which arrives through the Pydantic validation context. See :mod:`summarizer.grounding`.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from summarizer.text import count_sentences

if TYPE_CHECKING:
    from summarizer.grounding import Grounder

# The grounder for the answer being validated. Instructor treats a validation
# ``context`` as Jinja variables and renders every message with it, which would
# rewrite (or choke on) an article containing ``{{`` or ``{%``; a context variable
# reaches the validator without that, and is private to each asyncio task.
ACTIVE_GROUNDER: ContextVar[Grounder | None] = ContextVar("active_grounder", default=None)

SCHEMA_VERSION: Literal["1"] = "1"

ActorKind = Literal["person", "organization", "country", "group", "other"]
CommitmentKind = Literal["agreement", "pledge", "plan", "announcement", "demand", "other"]
Certainty = Literal["firm", "conditional", "tentative"]
Alignment = Literal["exact", "normalized", "fuzzy"]


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
        default_factory=list, description="Quotes from the article that support this point."
    )


class KeySummary(_Model):
    headline: str = Field(
        description="A neutral headline of at most 15 words, with no opinion words."
    )
    summary: str = Field(
        description=("2 to 4 sentences, at most 90 words: what happened and why it matters.")
    )
    key_points: list[KeyPoint] = Field(
        default_factory=list,
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
        default_factory=list,
        description=(
            "Other ways the article refers to this actor, e.g. 'Trump', 'the U.S. president'."
        ),
    )
    evidence: list[Evidence] = Field(
        default_factory=list,
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
        default_factory=list, description="Quotes from the article stating the commitment."
    )


class OpenQuestion(_Model):
    question: str = Field(description="A question the article leaves open, phrased as a question.")
    why_open: str | None = Field(
        default=None, description="One sentence: what makes it unresolved."
    )
    actors: list[str] = Field(default_factory=list, description="Names of the actors involved.")
    evidence: list[Evidence] = Field(
        default_factory=list,
        description="Quotes from the article that show the question is open.",
    )


class ArticleSummary(_Model):
    """A structured, verifiable summary of one news article."""

    schema_version: Literal["1"] = Field(
        default=SCHEMA_VERSION, description="Version of this JSON shape."
    )
    key_summary: KeySummary
    actors: list[Actor] = Field(
        default_factory=list,
        description=(
            "Every person, organization, country or group that acts, speaks, is "
            "quoted, or is acted on in the article. Not places that are only locations."
        ),
    )
    commitments: list[Commitment] = Field(
        default_factory=list,
        description=(
            "Every promise, agreement, announced plan, pledge, demand or scheduled "
            "action in the article, one item each."
        ),
    )
    open_questions: list[OpenQuestion] = Field(
        default_factory=list,
        description=(
            "What a careful reader would still want answered: details the article "
            "says are missing, unresolved disputes, outcomes pending a future event."
        ),
    )
    meta: dict[str, Any] = Field(
        default_factory=dict,
        description="Free-form run metadata (how the summary was made); never scored.",
    )

    @model_validator(mode="after")
    def _ground(self, info: ValidationInfo) -> ArticleSummary:
        """Ground evidence when the caller supplied an article to ground in.

        Living on the model means Instructor runs it on every attempt and turns its
        error into a re-ask; without a grounder (plain loading) it is a no-op. The
        grounder comes from the validation context or from :data:`ACTIVE_GROUNDER`.
        """
        context = info.context
        grounder = context.get("grounder") if isinstance(context, dict) else None
        if grounder is None:
            grounder = ACTIVE_GROUNDER.get()
        if grounder is not None:
            grounder.apply(self)
        return self

    def evidence(self) -> list[Evidence]:
        """Every evidence object in document order (key points, actors, ...)."""
        found: list[Evidence] = []
        for kp in self.key_summary.key_points:
            found.extend(kp.evidence)
        for group in (self.actors, self.commitments, self.open_questions):
            for item in group:
                found.extend(item.evidence)
        return found


# The LLM-facing schema -------------------------------------------------------------

_PROGRAM_FILLED = {"Evidence": ("start", "end", "alignment"), "ArticleSummary": ("meta",)}
# Bounds keep a grammar-constrained small model from repeating items forever; they are
# generous for a news article and live only in what the model sees, not the contract.
_LIST_BOUNDS: dict[tuple[str, str], tuple[int, int]] = {
    ("KeySummary", "key_points"): (3, 7),
    ("ArticleSummary", "actors"): (1, 20),
    ("ArticleSummary", "commitments"): (0, 15),
    ("ArticleSummary", "open_questions"): (0, 8),
    ("KeyPoint", "evidence"): (1, 3),
    ("Actor", "evidence"): (1, 3),
    ("Commitment", "evidence"): (1, 3),
    ("OpenQuestion", "evidence"): (1, 3),
    ("Actor", "aliases"): (0, 6),
    ("OpenQuestion", "actors"): (0, 6),
}


# String bounds (characters) for the same reason: a small model under a grammar can
# otherwise write one string until max_tokens runs out, and the JSON never closes.
_STRING_BOUNDS: dict[tuple[str, str], int] = {
    ("Evidence", "quote"): 300,
    ("KeyPoint", "text"): 250,
    ("KeySummary", "headline"): 120,
    ("KeySummary", "summary"): 700,
    ("Actor", "name"): 80,
    ("Actor", "role"): 80,
    ("Actor", "affiliation"): 80,
    ("Actor", "aliases"): 60,
    ("Commitment", "actor"): 80,
    ("Commitment", "action"): 200,
    ("Commitment", "counterparty"): 80,
    ("Commitment", "deadline"): 60,
    ("OpenQuestion", "question"): 200,
    ("OpenQuestion", "why_open"): 250,
    ("OpenQuestion", "actors"): 80,
}


_NON_EMPTY = (
    ("KeySummary", "headline"),
    ("KeySummary", "summary"),
    ("KeyPoint", "text"),
    ("Actor", "name"),
    ("Commitment", "actor"),
    ("Commitment", "action"),
    ("OpenQuestion", "question"),
)


def _bound_strings(prop: dict[str, Any], limit: int) -> None:
    """Add maxLength to every string type in ``prop`` (plain, nullable or array items)."""
    if prop.get("type") == "string":
        prop["maxLength"] = limit
    for key in ("anyOf", "oneOf"):
        for option in prop.get(key, []):
            _bound_strings(option, limit)
    if isinstance(prop.get("items"), dict):
        _bound_strings(prop["items"], limit)


# What a prompt file's ``[limits]`` table may tighten: list name -> the lists it bounds.
LIMIT_TARGETS: dict[str, tuple[tuple[str, str], ...]] = {
    "key_points": (("KeySummary", "key_points"),),
    "actors": (("ArticleSummary", "actors"),),
    "commitments": (("ArticleSummary", "commitments"),),
    "open_questions": (("ArticleSummary", "open_questions"),),
    "evidence": tuple((m, "evidence") for m in ("KeyPoint", "Actor", "Commitment", "OpenQuestion")),
    "aliases": (("Actor", "aliases"),),
}
Limits = tuple[tuple[str, int], ...]  # sorted (name, max) pairs: hashable, for caching


@cache
def _llm_schema_json(limits: Limits = ()) -> str:
    schema = ArticleSummary.model_json_schema()
    defs = schema.setdefault("$defs", {})
    defs["ArticleSummary"] = {k: v for k, v in schema.items() if k != "$defs"}
    for model_name, fields in _PROGRAM_FILLED.items():
        node = defs[model_name]
        for field in fields:
            node["properties"].pop(field, None)
            if field in node.get("required", []):
                node["required"].remove(field)
    for (model_name, field), (low, high) in _LIST_BOUNDS.items():
        prop = defs[model_name]["properties"][field]
        prop["minItems"], prop["maxItems"] = low, high
        # The model has to produce these lists, so they are required for it.
        if field not in defs[model_name].setdefault("required", []):
            defs[model_name]["required"].append(field)
    for (model_name, field), limit in _STRING_BOUNDS.items():
        _bound_strings(defs[model_name]["properties"][field], limit)
    # Required text must say something: a grammar-bound model otherwise writes "".
    for model_name, field in _NON_EMPTY:
        defs[model_name]["properties"][field]["minLength"] = 3
    for name, most in limits:
        if name == "quote_chars":
            _bound_strings(defs["Evidence"]["properties"]["quote"], most)
            continue
        if name == "text_chars":
            for (model_name, field), limit in _STRING_BOUNDS.items():
                if (model_name, field) != ("Evidence", "quote"):
                    longer = 3 if field == "summary" else 1
                    _bound_strings(defs[model_name]["properties"][field], min(limit, most * longer))
            continue
        if name == "evidence_first":
            # Pick the quote, then write about it; key points before the headline.
            for node in defs.values():
                props = node.get("properties", {})
                if "evidence" in props:
                    node["properties"] = {"evidence": props.pop("evidence"), **props}
            ks = defs["KeySummary"]["properties"]
            defs["KeySummary"]["properties"] = {"key_points": ks.pop("key_points"), **ks}
            continue
        if name not in LIMIT_TARGETS:
            continue  # switches such as quotes_from_article act per request
        for model_name, field in LIMIT_TARGETS[name]:
            prop = defs[model_name]["properties"][field]
            prop["maxItems"] = min(prop["maxItems"], most)
            prop["minItems"] = min(prop["minItems"], prop["maxItems"])
    root = defs.pop("ArticleSummary")
    root["properties"].pop("schema_version", None)
    return json.dumps({**root, "$defs": defs})


def llm_json_schema(limits: Limits = (), quote_choices: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON schema the LLM is asked to fill (a fresh copy, computed once per limits).

    With ``quote_choices`` every evidence quote must be one of those strings (spans of
    the article): under a grammar the model then cannot write an ungrounded quote.
    """
    schema: dict[str, Any] = json.loads(_llm_schema_json(limits))
    if quote_choices:
        quote = schema["$defs"]["Evidence"]["properties"]["quote"]
        quote.pop("maxLength", None)
        quote["enum"] = list(quote_choices)
    return schema


def contract_json_schema() -> dict[str, Any]:
    """The public contract's JSON schema, as ``summarizer schema`` prints it."""
    return ArticleSummary.model_json_schema()


class LLMArticleSummary(ArticleSummary):
    """The response model handed to Instructor.

    Identical to :class:`ArticleSummary` except that its JSON schema is the LLM-facing
    one, computed once: Instructor asks for the schema on every call, and regenerating
    it is a measurable share of per-request CPU (see ANCHORS.md).
    """

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return llm_json_schema()

    def to_public(self) -> ArticleSummary:
        """Copy into the public class, so callers never see this subclass."""
        return ArticleSummary.model_construct(
            **{name: getattr(self, name) for name in ArticleSummary.model_fields}
        )


@lru_cache(maxsize=32)
def response_model(
    limits: Limits = (), quote_choices: tuple[str, ...] = ()
) -> type[LLMArticleSummary]:
    """The response model for a prompt's limits (and an article's quote choices)."""
    if not limits and not quote_choices:
        return LLMArticleSummary
    schema_json = json.dumps(llm_json_schema(limits, quote_choices))

    class Limited(LLMArticleSummary):
        @classmethod
        def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
            return dict(json.loads(schema_json))

    Limited.__name__ = Limited.__qualname__ = "LLMArticleSummary"
    return Limited


# Contract guidance that is not structure -------------------------------------------


def _words(text: str) -> int:
    return len(text.split())


def contract_warnings(summary: ArticleSummary) -> list[str]:
    """The contract's size rules that ``summary`` breaks (empty when it follows them).

    These are guidance for the model and hard rules for golden files: a model's
    summary that breaks them is still returned, with the warnings in ``meta``.
    """
    out: list[str] = []
    ks = summary.key_summary
    if _words(ks.headline) > 15:
        out.append(f"headline has {_words(ks.headline)} words (at most 15)")
    if _words(ks.summary) > 90:
        out.append(f"summary has {_words(ks.summary)} words (at most 90)")
    sentences = count_sentences(ks.summary)
    if not 2 <= sentences <= 4:
        out.append(f"summary has {sentences} sentence(s) (2 to 4)")
    if not 3 <= len(ks.key_points) <= 7:
        out.append(f"{len(ks.key_points)} key points (3 to 7)")
    for ev in summary.evidence():
        n = _words(ev.quote)
        if not 3 <= n <= 40:
            out.append(f"quote of {n} words (3 to 40): {ev.quote[:60]!r}")
    return out
