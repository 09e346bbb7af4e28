"""A finished batch's two files, read back: which request got which answer.

The output file has a line per request that got an HTTP answer, the error file a line
per request that did not (or whose answer was an error); both carry the request's
``custom_id``, in no particular order. A request has failed when its line has an
``error`` (``batch_expired`` among them), a status of 400 or more, or a body that is
not a chat completion, and when it has no line at all (a batch that failed or was
cancelled before reaching it). A second line for a ``custom_id`` already seen is
counted and ignored: the first one stands.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from summarizer.backends.openai_batch import answer_of
from summarizer.redact import one_line


@dataclass
class Outcome:
    """One request's result: its answer, or why it failed."""

    custom_id: str
    answer: Any  # a ChatCompletion, or None
    why: str = ""


@dataclass
class Tally:
    duplicates: int = 0
    unknown: int = 0  # lines naming no request of this batch, or not JSON
    failed: int = 0


def outcomes(
    output: bytes, errors: bytes, requests: dict[str, Any], status: str | None, tally: Tally
) -> Iterator[Outcome]:
    """Every request of the batch (``requests``, by custom_id) with its outcome."""
    seen: set[str] = set()
    for row in _rows(output + b"\n" + errors, tally):
        cid = row.get("custom_id")
        if not isinstance(cid, str) or cid not in requests:
            tally.unknown += 1
            continue
        if cid in seen:
            tally.duplicates += 1
            continue
        seen.add(cid)
        outcome = _outcome(cid, row)
        tally.failed += outcome.answer is None
        yield outcome
    for cid in requests:
        if cid not in seen:
            tally.failed += 1
            yield Outcome(cid, None, f"no answer in the batch's files (batch {status})")


def _rows(data: bytes, tally: Tally) -> Iterator[dict[str, Any]]:
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except ValueError:
            tally.unknown += 1
            continue
        if isinstance(row, dict):
            yield row
        else:
            tally.unknown += 1


def _outcome(cid: str, row: dict[str, Any]) -> Outcome:
    error = row.get("error")
    response = row.get("response") if isinstance(row.get("response"), dict) else {}
    assert isinstance(response, dict)
    status = response.get("status_code")
    body = response.get("body")
    if error:
        code = error.get("code") if isinstance(error, dict) else None
        message = error.get("message") if isinstance(error, dict) else error
        return Outcome(cid, None, one_line(f"{code or 'error'}: {message}", 200))
    if not isinstance(status, int) or status >= 400:
        error = body.get("error") if isinstance(body, dict) else None
        detail = error.get("message") if isinstance(error, dict) else None
        return Outcome(cid, None, one_line(f"HTTP {status}: {detail or body}", 200))
    answer = answer_of(body)
    if isinstance(answer, str):
        return Outcome(cid, None, one_line(answer, 200))
    return Outcome(cid, answer)
