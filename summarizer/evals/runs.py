"""Eval runs: summarize a dataset (cached), score candidates against goldens, gate on drops.

The report is plain JSON so CI can keep it as a baseline::

    {"articles": {"<id>": {"score": f, "sections": {...}}},
     "aggregate": {"score": f, "sections": {"<section>": f}, ...},
     "run": {"prompt", "model", "dataset", "timestamp", ...}}

A candidate that is missing or broken scores 0 for its article, with the reason, and
never stops the other articles from being scored.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from summarizer.contract.models import ArticleSummary
from summarizer.errors import DatasetError, SummarizerError
from summarizer.evals.goldens import article_text, dataset_ids, load_case, read_text
from summarizer.evals.scoring import SECTION_WEIGHTS, score_summary

if TYPE_CHECKING:  # `eval score` imports this module and must not import the model SDKs
    from summarizer.pipeline import Summarizer

SECTIONS = tuple(SECTION_WEIGHTS)


def _zero(reason: str) -> dict[str, Any]:
    return {"score": 0.0, "error": reason, "sections": {s: {"score": 0.0} for s in SECTIONS}}


def score_dataset(
    dataset: Path, candidates: Path, ids: list[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Score ``candidates/<id>.json`` against the dataset's goldens, per article."""
    results: dict[str, dict[str, Any]] = {}
    for case_id in ids if ids is not None else dataset_ids(dataset):
        if not (dataset / "golden" / f"{case_id}.json").is_file():
            continue
        try:
            case = load_case(dataset, case_id)
        except (ValidationError, SummarizerError) as e:
            raise DatasetError(f"golden {case_id}: {str(e).splitlines()[0]}") from e
        path = candidates / f"{case_id}.json"
        if not path.is_file():
            results[case_id] = _zero("no candidate file")
            continue
        try:
            candidate = ArticleSummary.model_validate_json(read_text(path))
        except (ValidationError, SummarizerError, ValueError) as e:
            results[case_id] = _zero(f"invalid candidate: {str(e).splitlines()[0]}")
            continue
        results[case_id] = score_summary(case.summary, candidate, case.text, case.raw)
    if not results:
        raise DatasetError(f"{dataset}: no golden files to score against")
    return results


def aggregate(articles: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Macro averages over articles, overall and per section."""
    n = len(articles)
    return {
        "score": round(sum(a["score"] for a in articles.values()) / n, 4),
        "sections": {
            s: round(sum(a["sections"][s]["score"] for a in articles.values()) / n, 4)
            for s in SECTIONS
        },
        "articles": n,
        "errors": sum(1 for a in articles.values() if "error" in a),
    }


def build_report(articles: dict[str, dict[str, Any]], run: dict[str, Any]) -> dict[str, Any]:
    return {
        "articles": articles,
        "aggregate": aggregate(articles),
        "run": {"timestamp": datetime.now(UTC).isoformat(timespec="seconds"), **run},
    }


def regressions(report: dict[str, Any], baseline: dict[str, Any], max_drop: float) -> list[str]:
    """Where ``report`` is more than ``max_drop`` below ``baseline`` (aggregate, sections)."""
    out = []
    now, before = report["aggregate"], baseline.get("aggregate", {})
    if "score" in before and before["score"] - now["score"] > max_drop:
        out.append(f"overall {before['score']:.3f} -> {now['score']:.3f}")
    for section, old in before.get("sections", {}).items():
        new = now["sections"].get(section)
        if new is not None and old - new > max_drop:
            out.append(f"{section} {old:.3f} -> {new:.3f}")
    return out


def load_report(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(read_text(path))
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: not a JSON report: {e}") from e
    if "aggregate" not in data:
        raise DatasetError(f"{path}: not an eval report (no 'aggregate')")
    return data


def run_dataset(
    dataset: Path,
    summarizer: Summarizer,
    out: Path,
    ids: list[str] | None = None,
    progress: Callable[[str, str], None] | None = None,
    concurrency: int = 1,
) -> dict[str, str]:
    """Summarize each article into ``out/<id>.json``; returns errors by id.

    A failing article is recorded and skipped: the others still run. With
    ``concurrency`` > 1 (remote models), that many articles are summarized at once.
    """
    out.mkdir(parents=True, exist_ok=True)
    errors: dict[str, str] = {}
    todo = ids if ids is not None else dataset_ids(dataset)

    def record(case_id: str, result: ArticleSummary | SummarizerError) -> None:
        if isinstance(result, SummarizerError):
            errors[case_id] = f"{type(result).__name__}: {result}"
            (out / f"{case_id}.json").unlink(missing_ok=True)
            if progress:
                progress(case_id, f"error: {result}")
            return
        (out / f"{case_id}.json").write_text(
            json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        if progress:
            hit = result.meta.get("cache", {}).get("hit")
            progress(case_id, "cached" if hit else f"{result.meta.get('latency_s', 0):.1f}s")

    if concurrency <= 1 or summarizer.backend.runs_locally:
        for case_id in todo:
            try:
                record(
                    case_id, summarizer.summarize(article_text(dataset, case_id), source=case_id)
                )
            except SummarizerError as e:
                record(case_id, e)
        return errors

    import asyncio  # here: `eval score` imports this module and runs nothing concurrently

    async def run_all() -> None:
        gate = asyncio.Semaphore(concurrency)

        async def one(case_id: str) -> None:
            async with gate:
                try:
                    text = article_text(dataset, case_id)
                    record(case_id, await summarizer.asummarize(text, source=case_id))
                except SummarizerError as e:
                    record(case_id, e)

        await asyncio.gather(*(one(i) for i in todo))
        await summarizer.aclose()

    asyncio.run(run_all())
    return errors
