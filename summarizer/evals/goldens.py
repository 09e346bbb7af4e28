"""Golden datasets: layout, loading, and the checks every golden file must pass.

A dataset is any folder with ``articles/<id>.txt`` (or a saved page,
``articles/<id>.html``, whose extracted article text is what offsets refer to) and
``golden/<id>.json``. Golden
files follow the summary contract and the labeling rules in ``SUMMARY_CONTRACT.md``:
every quote verbatim at its offsets, every commitment's actor among the actors, and
the contract's size rules. Items may carry ``"required": false`` (kept in the raw
JSON; the models ignore it) for things a good summary may omit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from summarizer.contract import ArticleSummary, contract_warnings
from summarizer.errors import DatasetError, InputNotFoundError
from summarizer.grounding import Aligner
from summarizer.inputs.read import decode, read_article

SECTIONS = ("actors", "commitments", "open_questions")


@dataclass(frozen=True)
class GoldenCase:
    id: str
    text: str
    raw: dict[str, Any]
    summary: ArticleSummary


def dataset_ids(root: Path) -> list[str]:
    """Ids with an article file, sorted; raises if the folder is not a dataset."""
    articles = root / "articles"
    if not articles.is_dir():
        raise InputNotFoundError(f"{root}: not a dataset (no articles/ folder)")
    return sorted({p.stem for p in articles.iterdir() if p.suffix in _ARTICLE_SUFFIXES})


_ARTICLE_SUFFIXES = (".txt", ".html", ".htm")


def article_text(root: Path, case_id: str) -> str:
    """The text of article ``case_id``: the ``.txt`` file, else the article extracted
    from the saved page (as ``summarizer summarize page.html`` reads it)."""
    for suffix in _ARTICLE_SUFFIXES:
        path = root / "articles" / f"{case_id}{suffix}"
        if path.is_file():
            return read_text(path) if suffix == ".txt" else read_article(path).text
    raise InputNotFoundError(f"{root / 'articles'}: no article {case_id!r} (.txt or .html)")


def read_text(path: Path) -> str:
    try:
        return decode(path.read_bytes(), str(path))
    except FileNotFoundError as e:
        raise InputNotFoundError(f"{path}: no such file") from e


def _iter_evidence(raw: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for i, kp in enumerate(raw.get("key_summary", {}).get("key_points", [])):
        out += [(f"key_points[{i}]", ev) for ev in kp.get("evidence", [])]
    for section in SECTIONS:
        for i, item in enumerate(raw.get(section, [])):
            out += [(f"{section}[{i}]", ev) for ev in item.get("evidence", [])]
    return out


def fill_offsets(text: str, raw: dict[str, Any]) -> int:
    """Set start/end of every quote found verbatim; returns how many were set."""
    filled = 0
    for _, ev in _iter_evidence(raw):
        quote = ev.get("quote", "")
        if ev.get("start") is not None and text[ev["start"] : ev.get("end")] == quote:
            continue
        pos = text.find(quote) if quote else -1
        if pos >= 0:
            ev["start"], ev["end"] = pos, pos + len(quote)
            filled += 1
    return filled


def check_golden(text: str, raw: dict[str, Any]) -> list[str]:
    """Every way ``raw`` breaks the contract or the labeling rules (empty = fine)."""
    try:
        summary = ArticleSummary.model_validate(raw)
    except ValidationError as e:
        return [f"shape: {'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()[:10]]
    problems: list[str] = []
    aligner = Aligner(text)
    for path, ev in _iter_evidence(raw):
        quote, start, end = ev.get("quote", ""), ev.get("start"), ev.get("end")
        if start is None or end is None:
            where = aligner.locate(quote)
            hint = f" (close to {text[where.start : where.end]!r})" if where else ""
            problems.append(f"{path}: quote has no offsets / not verbatim: {quote!r}{hint}")
        elif text[start:end] != quote:
            problems.append(f"{path}: text[{start}:{end}] is not the quote {quote!r}")
    for section in ("key_points", *SECTIONS):
        items = raw.get(section) if section != "key_points" else raw["key_summary"]["key_points"]
        for i, item in enumerate(items or []):
            if not item.get("evidence"):
                problems.append(f"{section}[{i}]: no evidence")
    names = {a.name for a in summary.actors}
    if len(names) != len(summary.actors):
        problems.append("actors: duplicate names")
    for i, c in enumerate(summary.commitments):
        if c.actor not in names:
            problems.append(f"commitments[{i}]: actor {c.actor!r} is not an actor's name")
    for i, q in enumerate(summary.open_questions):
        for name in q.actors:
            if name not in names:
                problems.append(f"open_questions[{i}]: actor {name!r} is not an actor's name")
        if not q.question.rstrip().endswith("?"):
            problems.append(f"open_questions[{i}]: not phrased as a question")
    problems += [f"contract: {w}" for w in contract_warnings(summary)]
    return problems


def load_case(root: Path, case_id: str) -> GoldenCase:
    text = article_text(root, case_id)
    path = root / "golden" / f"{case_id}.json"
    try:
        raw = json.loads(read_text(path))
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: not valid JSON: {e}") from e
    return GoldenCase(case_id, text, raw, ArticleSummary.model_validate(raw))
