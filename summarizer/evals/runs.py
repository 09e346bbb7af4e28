"""Eval runs: summarize a dataset (cached), score candidates against goldens, gate on drops.

The report is plain JSON so CI can keep it as a baseline::

    {"articles": {"<id>": {"score": f, "sections": {...}}},
     "aggregate": {"score": f, "sections": {"<section>": f}, "missing": n, ...},
     "missing": ["<id>", ...],
     "run": {"prompt", "model", "dataset", "timestamp", ...},
     "baseline": {...}}            # with --baseline: see summarizer.evals.gate

A broken candidate scores 0 for its article, with the reason, and never stops the other
articles from being scored: one that is not JSON or not a summary, over
:data:`CANDIDATE_MAX_BYTES`, or not a regular file (a folder or a FIFO named
``<id>.json``: unreadable, and never opened in a way that could block). A candidate
file that is not there at all is not scored: ``eval score`` lists it in ``missing`` (a
mean over the other articles would pass for the dataset's otherwise).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from summarizer.contract.models import ArticleSummary
from summarizer.errors import (
    DatasetError,
    EmptyEvalError,
    InputDecodeError,
    InputTooLargeError,
    SummarizerError,
)
from summarizer.evals.goldens import GoldenCase, article_text, dataset_ids, load_case, read_capped
from summarizer.evals.scoring import SECTION_WEIGHTS, score_summary
from summarizer.redact import one_line

if TYPE_CHECKING:  # `eval score` imports this module and must not import the model SDKs
    from summarizer.settings import Settings

SECTIONS = tuple(SECTION_WEIGHTS)
#: The largest candidate file scored: a summary is a few KB (the contract caps its
#: lists and quotes), so anything near this is not one, and would be read, scored and
#: embedded in the HTML report whole.
CANDIDATE_MAX_BYTES = 2 * 1024 * 1024


def _zero(reason: str) -> dict[str, Any]:
    return {"score": 0.0, "error": reason, "sections": {s: {"score": 0.0} for s in SECTIONS}}


def load_cases(dataset: Path, ids: list[str] | None = None) -> dict[str, GoldenCase]:
    """The articles and goldens of ``ids`` (default: every id with a golden file).

    Raises DatasetError, naming the file, at the first one that cannot be used (a
    golden the scorer cannot read would make every score meaningless), and
    EmptyEvalError when there is none.
    """
    cases: dict[str, GoldenCase] = {}
    for case_id in ids if ids is not None else dataset_ids(dataset):
        if not (dataset / "golden" / f"{case_id}.json").is_file():
            continue
        try:
            cases[case_id] = load_case(dataset, case_id)
        except SummarizerError as e:
            raise DatasetError(f"golden {case_id}: {one_line(e)}") from e
    if not cases:
        raise EmptyEvalError(f"{dataset}: no golden files to score against")
    return cases


def score_dataset(
    dataset: Path,
    candidates: Path,
    ids: list[str] | None = None,
    cases: dict[str, GoldenCase] | None = None,
) -> dict[str, dict[str, Any]]:
    """Score ``candidates/<id>.json`` against the dataset's goldens, per article.

    ``cases`` are goldens already loaded by :func:`load_cases` (else they are loaded
    here). A candidate that is missing, unreadable, not JSON or not a summary scores 0
    with the reason (unreadable: not a regular file; invalid: also over
    :data:`CANDIDATE_MAX_BYTES`); a golden that cannot be used raises DatasetError.
    """
    results: dict[str, dict[str, Any]] = {}
    for case_id, case in (cases if cases is not None else load_cases(dataset, ids)).items():
        path = candidates / f"{case_id}.json"
        if not path.exists():
            results[case_id] = _zero("no candidate file")
            continue
        try:
            text = read_capped(path, CANDIDATE_MAX_BYTES)
        except (InputTooLargeError, InputDecodeError) as e:  # there, but not a summary
            few = " (a summary is a few KB)" if isinstance(e, InputTooLargeError) else ""
            results[case_id] = _zero(f"invalid candidate: {one_line(e)}{few}")
            continue
        except SummarizerError as e:  # a folder, a FIFO, no permission
            results[case_id] = _zero(f"unreadable candidate: {one_line(e)}")
            continue
        try:
            candidate = ArticleSummary.model_validate_json(text)
        except ValidationError as e:  # not JSON, or not a summary: say where
            err = e.errors()[0]
            loc = ".".join(map(str, err["loc"]))
            results[case_id] = _zero(f"invalid candidate: {loc + ': ' if loc else ''}{err['msg']}")
            continue
        except (SummarizerError, ValueError, RecursionError) as e:
            results[case_id] = _zero(f"invalid candidate: {one_line(e)}")
            continue
        results[case_id] = score_summary(case.summary, candidate, case.text, case.raw)
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
        # Beside grounding, never weighted into the score: the share of items whose
        # text their own quotes support (summarizer.support), over the articles with
        # items to check.
        "supported": _mean_supported(articles),
    }


def _mean_supported(articles: dict[str, dict[str, Any]]) -> float | None:
    rates = [a["supported"]["rate"] for a in articles.values() if a.get("supported")]
    rates = [r for r in rates if r is not None]
    return round(sum(rates) / len(rates), 4) if rates else None


def missing_candidates(candidates: Path, ids: list[str]) -> list[str]:
    """The ids with no ``candidates/<id>.json`` at all (a file that is there but
    broken is scored 0 with the reason instead)."""
    return [i for i in ids if not (candidates / f"{i}.json").exists()]


def build_report(
    articles: dict[str, dict[str, Any]],
    run: dict[str, Any],
    floor: dict[str, Any] | None = None,
    missing: list[str] | None = None,
) -> dict[str, Any]:
    """The JSON report; ``floor`` (a no-model baseline's aggregate on the same
    articles) goes in beside the run's, with where the run is below it. ``missing``
    are selected articles with no candidate, left out of the scores and the means."""
    report: dict[str, Any] = {
        "articles": articles,
        "aggregate": aggregate(articles) | {"missing": len(missing or [])},
        "missing": sorted(missing or []),
        "run": {"timestamp": datetime.now(UTC).isoformat(timespec="seconds"), **run},
    }
    if floor is not None:
        report["floor"] = floor
        report["below_floor"] = below_floor(report["aggregate"], floor["aggregate"])
    return report


def write_candidate(out: Path, case_id: str, summary: ArticleSummary) -> None:
    """``out/<id>.json`` as ``eval score`` reads it (the contract's JSON, meta included)."""
    (out / f"{case_id}.json").write_text(
        json.dumps(summary.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )


def run_dataset(
    dataset: Path,
    settings: Settings,
    out: Path,
    ids: list[str] | None = None,
    progress: Callable[[str, str], None] | None = None,
    concurrency: int = 1,
    *,
    runs_locally: bool = False,
    use_cache: bool = True,
) -> tuple[dict[str, str], int]:
    """Summarize each article into ``out/<id>.json``; returns errors by id and how
    many answers came from the cache.

    It runs on the batch engine (:func:`summarizer.batch.scheduling.summarize_all`,
    one event loop): the same rate limiting, connection pool and cache as
    ``summarizer batch``, ``concurrency`` articles at once for a remote model, one
    at a time for an embedded one. A failing article is recorded and skipped: the
    others still run.
    """
    import asyncio  # here: `eval score` imports this module and runs nothing

    from summarizer.batch.items import BatchItem
    from summarizer.batch.scheduling import BatchOptions, summarize_all

    out.mkdir(parents=True, exist_ok=True)
    errors: dict[str, str] = {}
    hits = 0
    items = []
    for case_id in ids if ids is not None else dataset_ids(dataset):
        try:
            items.append(BatchItem(case_id, case_id, text=article_text(dataset, case_id)))
        except SummarizerError as e:
            items.append(BatchItem(case_id, case_id, error=e))
    pending = iter(items)

    def emit(record: dict[str, Any], line: str) -> None:
        nonlocal hits
        case_id = record["id"]
        if record["status"] != "ok":
            error = record["error"]
            errors[case_id] = f"{error['kind']}: {error['message']}"
            (out / f"{case_id}.json").unlink(missing_ok=True)
            if progress:
                progress(case_id, f"error: {error['message']}")
            return
        summary = ArticleSummary.model_validate(json.loads(line)["summary"])
        write_candidate(out, case_id, summary)
        hits += record["cached"]
        if progress:
            latency = summary.meta.get("latency_s", 0)
            progress(case_id, "cached" if record["cached"] else f"{latency:.1f}s")

    tasks = 1 if runs_locally else concurrency
    options = BatchOptions(concurrency=tasks, use_cache=use_cache)
    asyncio.run(
        summarize_all(
            settings, options, tasks, None, None, lambda: next(pending, None), None, emit,
            None, runs_locally=runs_locally,
        )
    )  # fmt: skip
    return errors, hits


def below_floor(aggregate: dict[str, Any], floor: dict[str, Any]) -> list[str]:
    """Where a run's mean is below the floor's: ``overall`` and section names, with both
    figures ("key_summary 0.143 < 0.659")."""
    out = []
    if aggregate["score"] < floor["score"]:
        out.append(f"overall {aggregate['score']:.3f} < {floor['score']:.3f}")
    for section, value in floor["sections"].items():
        mine = aggregate["sections"].get(section)
        if mine is not None and mine < value:
            out.append(f"{section} {mine:.3f} < {value:.3f}")
    return out
