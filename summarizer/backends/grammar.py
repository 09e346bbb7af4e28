"""llama.cpp grammars from JSON schemas, and the JSON a grammar-bound model writes.

Generation under a grammar built from the response's JSON schema always parses;
whether its content is true is grounding's job.
"""

from __future__ import annotations

import json
from typing import Any

from summarizer.errors import BackendUnavailableError

_PLACEHOLDER = "SUMMARIZER_QUOTE_CHOICES"


def _gbnf_literal(text: str) -> str:
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


def schema_to_gbnf(schema: dict[str, Any]) -> str:
    """llama.cpp grammar for a JSON schema, with quote choices spliced in by hand.

    llama-cpp-python's converter does not escape backslashes in constants, so an
    ``enum`` of article sentences that contain quotation marks (JSON ``\\"``) breaks
    the grammar. The enum is swapped for a placeholder constant, converted, and the
    placeholder's literal replaced by a correctly escaped alternation.
    """
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    quote = schema.get("$defs", {}).get("Evidence", {}).get("properties", {}).get("quote", {})
    choices = quote.get("enum")
    if not choices:
        return str(json_schema_to_gbnf(json.dumps(schema)))
    patched = json.loads(json.dumps(schema))
    patched["$defs"]["Evidence"]["properties"]["quote"] = {"type": "string", "const": _PLACEHOLDER}
    gbnf = str(json_schema_to_gbnf(json.dumps(patched)))
    placeholder = _gbnf_literal(json.dumps(_PLACEHOLDER))
    if placeholder not in gbnf:
        raise BackendUnavailableError("cannot build a grammar for the quote choices")
    alternation = (
        "(" + " | ".join(_gbnf_literal(json.dumps(c, ensure_ascii=False)) for c in choices) + ")"
    )
    return gbnf.replace(placeholder, alternation)


def clean_json(text: str) -> str:
    """Re-serialize JSON that only a lenient parser accepts.

    llama.cpp's JSON grammar lets raw newlines into strings, which strict parsers
    (Pydantic's among them) reject; the content is fine, so normalize it here.
    """
    try:
        return json.dumps(json.loads(text, strict=False), ensure_ascii=False)
    except ValueError:
        return text
