"""The public contract: the summary's Pydantic models, its schema version, its JSON
schema, the size rules a summary should follow, and how it renders as text.

Nothing here has a side effect or knows about models, prompts or articles; see
``docs/SUMMARY_CONTRACT.md`` for the shape and the labeling rules.
"""

from summarizer.contract.models import (
    SCHEMA_VERSION,
    Actor,
    ArticleSummary,
    Commitment,
    Evidence,
    KeyPoint,
    KeySummary,
    OpenQuestion,
    contract_json_schema,
)
from summarizer.contract.warnings import contract_warnings

__all__ = [
    "SCHEMA_VERSION",
    "Actor",
    "ArticleSummary",
    "Commitment",
    "Evidence",
    "KeyPoint",
    "KeySummary",
    "OpenQuestion",
    "contract_json_schema",
    "contract_warnings",
]
