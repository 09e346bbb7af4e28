"""The ``--baseline`` gate: a run against a previous report, on the articles both scored.

A mean is only comparable with a mean over the same articles: a one-article run
against a 33-article baseline, or ``--limit 5`` against the lead's 33, would
otherwise "drop" by whatever separates that article from the average. So the gate
and the ``baseline`` block of ``report.json`` compare both reports' means over the
articles both scored (the baseline's per-article scores are in its report), say how
many those are, and refuse a baseline that shares none (BaselineError, exit 51).

The baseline is a file the user names (or a run folder holding ``report.json``): it
is read up to :data:`REPORT_MAX_BYTES` and never trusted beyond the numbers it has.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from summarizer.errors import BaselineError, SummarizerError
from summarizer.evals.goldens import read_capped
from summarizer.evals.runs import SECTIONS
from summarizer.redact import one_line

#: The largest report.json read (``--baseline``, ``eval compare``): a 33-article
#: report is about 100 KB, and parsing JSON takes about ten times its size in memory.
REPORT_MAX_BYTES = 64 * 1024 * 1024


def report_path(path: Path) -> Path:
    """``path``, or the ``report.json`` in it when it is a run folder."""
    return path / "report.json" if path.is_dir() else path


def load_report(path: Path) -> dict[str, Any]:
    """A report to gate against; BaselineError unless it has every score the gate compares.

    A report with no scores would let every run pass the gate, so it is refused:
    ``aggregate.score`` and ``aggregate.sections.<section>`` for every section must be
    numbers from 0 to 1.
    """
    if path.is_dir() and not (path / "report.json").exists():
        raise BaselineError(f"baseline {path}: is a directory with no report.json in it")
    try:
        data = json.loads(read_capped(report_path(path), REPORT_MAX_BYTES))
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


def article_scores(articles: Any) -> dict[str, dict[str, float]]:
    """``{id: {"score": overall, <section>: score}}`` for the articles of a report that
    have every one of those as a score from 0 to 1 (an old or hand-made report may not)."""
    out: dict[str, dict[str, float]] = {}
    for case_id, result in articles.items() if isinstance(articles, dict) else ():
        if not isinstance(result, dict) or not _is_score(result.get("score")):
            continue
        sections = result.get("sections")
        sections = sections if isinstance(sections, dict) else {}
        values = {s: v.get("score") if isinstance(v, dict) else v for s, v in sections.items()}
        if all(_is_score(values.get(s)) for s in SECTIONS):
            out[str(case_id)] = {"score": result["score"]} | {s: values[s] for s in SECTIONS}
    return out


def check_shared(path: Path, baseline: dict[str, Any], ids: Iterable[str]) -> None:
    """BaselineError (exit 51) unless the baseline scored some of ``ids``: checked
    before any work, since a comparison over no article means nothing."""
    scored = article_scores(baseline.get("articles"))
    ids = list(ids)
    if any(i in scored for i in ids):
        return
    if not scored:
        raise BaselineError(
            f"baseline {path}: has no per-article scores ('articles'), so its means cannot "
            "be compared on the same articles; pass a report.json written by `summarizer "
            "eval run` or `eval score --report`"
        )
    raise BaselineError(
        f"baseline {path}: it scored none of the {len(ids)} article(s) this run scores "
        f"({', '.join(ids[:3])}{', ...' if len(ids) > 3 else ''}); nothing to compare: "
        "select articles it has (--only/--limit) or pass another baseline"
    )


def _means(scores: dict[str, dict[str, float]], ids: list[str]) -> dict[str, Any]:
    n = len(ids)
    return {
        "score": round(sum(scores[i]["score"] for i in ids) / n, 4),
        "sections": {s: round(sum(scores[i][s] for i in ids) / n, 4) for s in SECTIONS},
        "articles": n,
    }


def regressions(now: dict[str, Any], before: dict[str, Any], max_drop: float) -> list[str]:
    """Where the means ``now`` are more than ``max_drop`` below ``before`` (overall,
    then each section), as the gate says them ("overall 0.668 -> 0.565")."""
    out = []
    if before["score"] - now["score"] > max_drop:
        out.append(f"overall {before['score']:.3f} -> {now['score']:.3f}")
    for section in SECTIONS:
        old, new = before["sections"][section], now["sections"][section]
        if old - new > max_drop:
            out.append(f"{section} {old:.3f} -> {new:.3f}")
    return out


def compare_to_baseline(
    report: dict[str, Any], baseline: dict[str, Any], path: Path, max_drop: float
) -> dict[str, Any]:
    """What the ``--baseline`` gate compared, for ``report["baseline"]``.

    ``articles``: how many articles both reports scored, the only ones compared;
    ``aggregate``: the baseline's means over them; ``current``: this run's means over
    them; ``delta``: current minus aggregate, overall and per section; ``drops``: the
    gate's drops over ``max_drop`` (as its message gives them) and ``passed``, its
    verdict; ``own``: the baseline's own means, over every article it scored (shown,
    never compared); per article, ``article_delta`` for every shared article and
    ``regressions``, those that dropped more than ``max_drop`` (worst first).

    Raises BaselineError when the two share no article (see :func:`check_shared`).
    """
    now_scores = article_scores(report["articles"])
    old_scores = article_scores(baseline.get("articles"))
    shared = sorted(set(now_scores) & set(old_scores))
    if not shared:
        check_shared(path, baseline, report["articles"])
        raise BaselineError(f"baseline {path}: no article scored in both reports")
    before, now = _means(old_scores, shared), _means(now_scores, shared)
    drops = regressions(now, before, max_drop)
    own = baseline["aggregate"]
    article_delta = {i: round(now_scores[i]["score"] - old_scores[i]["score"], 4) for i in shared}
    return {
        "path": str(path),
        "max_drop": max_drop,
        "articles": len(shared),
        "aggregate": before,
        "current": now,
        "delta": {
            "score": round(now["score"] - before["score"], 4),
            "sections": {s: round(now["sections"][s] - before["sections"][s], 4) for s in SECTIONS},
        },
        "drops": drops,
        "passed": not drops,
        "own": {
            "score": own["score"],
            "sections": {s: own["sections"][s] for s in SECTIONS},
            "articles": own.get("articles") if isinstance(own.get("articles"), int) else None,
        },
        "article_delta": article_delta,
        "regressions": sorted(
            (i for i, d in article_delta.items() if -d > max_drop),
            key=lambda i: (article_delta[i], i),
        ),
    }


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
