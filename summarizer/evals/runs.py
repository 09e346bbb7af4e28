"""Eval runs: summarize a dataset (cached), score candidates against goldens, gate on drops.

The report is plain JSON so CI can keep it as a baseline::

    {"articles": {"<id>": {"score": f, "sections": {...}}},
     "aggregate": {"score": f, "sections": {"<section>": f}, "missing": n, ...},
     "missing": ["<id>", ...],
     "run": {"prompt", "model", "dataset", "timestamp", ...},
     "baseline": {...}}            # with --baseline: see compare_to_baseline

A broken candidate scores 0 for its article, with the reason, and never stops the other
articles from being scored. A candidate file that is not there at all is not scored:
``eval score`` lists it in ``missing`` (a mean over the other articles would pass for
the dataset's otherwise).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from summarizer.contract.models import ArticleSummary
from summarizer.errors import BaselineError, DatasetError, EmptyEvalError, SummarizerError
from summarizer.evals.goldens import GoldenCase, article_text, dataset_ids, load_case, read_text
from summarizer.evals.scoring import SECTION_WEIGHTS, score_summary
from summarizer.redact import one_line

if TYPE_CHECKING:  # `eval score` imports this module and must not import the model SDKs
    from summarizer.settings import Settings

SECTIONS = tuple(SECTION_WEIGHTS)


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
    with the reason; a golden that cannot be used raises DatasetError.
    """
    results: dict[str, dict[str, Any]] = {}
    for case_id, case in (cases if cases is not None else load_cases(dataset, ids)).items():
        path = candidates / f"{case_id}.json"
        if not path.is_file():
            results[case_id] = _zero("no candidate file")
            continue
        try:
            candidate = ArticleSummary.model_validate_json(read_text(path))
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


def compare_to_baseline(
    report: dict[str, Any], baseline: dict[str, Any], path: Path, max_drop: float
) -> dict[str, Any]:
    """What the ``--baseline`` gate compared, for ``report["baseline"]``: the baseline's
    means (and over how many articles), this run minus them (``delta``, overall and per
    section), the gate's drops over ``max_drop`` (``drops``, as its message gives them)
    and its verdict (``passed``), and per article: ``article_delta`` for every article
    scored in both and ``regressions``, those that dropped more than ``max_drop``
    (worst first).

    ``baseline`` has passed :func:`load_report`, so its aggregate is sound; its
    articles are read as far as they are numbers (an old or hand-made report may lack
    them).
    """
    now, before = report["aggregate"], baseline["aggregate"]
    old = baseline.get("articles")
    old_scores = {
        i: a["score"]
        for i, a in (old.items() if isinstance(old, dict) else ())
        if isinstance(a, dict) and _is_score(a.get("score"))
    }
    article_delta = {
        i: round(a["score"] - old_scores[i], 4)
        for i, a in sorted(report["articles"].items())
        if i in old_scores
    }
    drops = regressions(report, baseline, max_drop)
    return {
        "path": str(path),
        "max_drop": max_drop,
        "aggregate": {
            "score": before["score"],
            "sections": {s: before["sections"][s] for s in SECTIONS},
            "articles": before.get("articles") if isinstance(before.get("articles"), int) else None,
        },
        "delta": {
            "score": round(now["score"] - before["score"], 4),
            "sections": {s: round(now["sections"][s] - before["sections"][s], 4) for s in SECTIONS},
        },
        "drops": drops,
        "passed": not drops,
        "article_delta": article_delta,
        "regressions": sorted(
            (i for i, d in article_delta.items() if -d > max_drop),
            key=lambda i: (article_delta[i], i),
        ),
    }


def load_report(path: Path) -> dict[str, Any]:
    """A report to gate against; BaselineError unless it has every score the gate compares.

    A report with no scores would let every run pass the gate, so it is refused:
    ``aggregate.score`` and ``aggregate.sections.<section>`` for every section must be
    numbers from 0 to 1.
    """
    try:
        data = json.loads(read_text(path))
    except SummarizerError as e:
        raise BaselineError(f"baseline {one_line(e)}") from e
    except (ValueError, RecursionError) as e:  # JSONDecodeError is a ValueError
        raise BaselineError(f"baseline {path}: not a JSON report: {one_line(e)}") from e
    missing = _missing_scores(data)
    if missing:
        raise BaselineError(
            f"baseline {path}: not an eval report to gate against: {missing}; pass a "
            "report.json written by `summarizer eval run` or `eval score --report`"
        )
    baseline: dict[str, Any] = data
    return baseline


def _is_score(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= 1
    )


def _missing_scores(data: Any) -> str:
    """What ``data`` lacks to be a baseline ("" when nothing)."""
    if not isinstance(data, dict) or not isinstance(data.get("aggregate"), dict):
        return "no 'aggregate' object"
    agg = data["aggregate"]
    if "score" not in agg:
        return "no overall score ('aggregate.score')"
    if not _is_score(agg["score"]):
        return f"'aggregate.score' is {agg['score']!r}, not a score from 0 to 1"
    sections = agg.get("sections")
    if not isinstance(sections, dict):
        return "no per-section scores ('aggregate.sections')"
    bad = [s for s in SECTIONS if not _is_score(sections.get(s))]
    if bad:
        return f"no score from 0 to 1 for section(s) {', '.join(bad)} in 'aggregate.sections'"
    return ""


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
