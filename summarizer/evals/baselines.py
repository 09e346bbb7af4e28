"""No-model baselines in the eval harness: the floor every model score is shown beside.

Research reports a lead baseline (Lead-3 on CNN/DailyMail) beside every system because
copying the first sentences of a news article is hard to beat; a model that scores
below it is worse than no model. ``summarizer eval baseline NAME`` writes a method's
candidates like ``eval run`` writes a model's, and ``eval run``/``eval score`` compute
the ``lead`` floor on the same articles and put it in every report.

The methods run here directly (milliseconds an article, and no model SDK to import, so
``eval score`` stays fast) through the same checks as ``--model baseline/NAME``
(:func:`~summarizer.grounding.ground_composed`: sizes, every quote located, every
item's support checked, the drop policy) and with the same ``meta["grounding"]``.
Summaries are cached under the method's code version like model answers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from summarizer._version import __version__
from summarizer.contract import SCHEMA_VERSION, ArticleSummary, contract_warnings
from summarizer.errors import ConfigurationError
from summarizer.evals.goldens import GoldenCase, article_text
from summarizer.evals.runs import write_candidate
from summarizer.extractive.methods import BASELINES, METHOD_SECTIONS
from summarizer.grounding import ground_composed
from summarizer.redact import one_line

if TYPE_CHECKING:
    from summarizer.cache import ResponseCache

#: The baseline every report shows as the floor.
FLOOR = "lead"


def check_method(name: str) -> None:
    """ConfigurationError unless ``name`` is a baseline (checked before any work)."""
    if name not in BASELINES:
        raise ConfigurationError(
            f"no baseline {name!r}; choose one of: {', '.join(sorted(BASELINES))}"
        )


def baseline_summary(
    name: str,
    text: str,
    *,
    source: str = "<text>",
    title: str | None = None,
    cache: ResponseCache | None = None,
) -> ArticleSummary:
    """``text`` summarized by the no-model method ``name``, checked like a model's answer."""
    check_method(name)
    key = None if cache is None else _cache_key(name, text, title)
    if cache is not None and key is not None and (hit := cache.get(key)) is not None:
        summary = ArticleSummary.model_validate(hit)
        summary.meta["source"] = source
        summary.meta["cache"] = {"hit": True, "key": key}
        return summary
    summary = BASELINES[name](text, title=title)
    report = ground_composed(summary, text, author=f"baseline/{name}")
    summary.meta = {
        "summarizer_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": source,
        "model": f"baseline/{name}",
        "method": {"name": name, "model_calls": 0, "sections": METHOD_SECTIONS[name]},
        "grounding": report.as_meta(),
        "warnings": contract_warnings(summary),
    }
    if cache is not None and key is not None:
        cache.put(key, summary.model_dump(mode="json"))
        summary.meta["cache"] = {"hit": False, "key": key}
    return summary


def _cache_key(name: str, text: str, title: str | None) -> str:
    """The cache key of method ``name``'s summary of ``text``, made only when there is
    a cache: it reads and hashes every source file of the method, which the lead floor
    that ``eval score`` computes on every run, uncached, has no use for (issue #11)."""
    import hashlib

    from summarizer.cache import cache_key
    from summarizer.extractive import code_version

    return cache_key(
        {
            "baseline": name,
            "code": code_version(),
            "article_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "title": title,
            "schema_version": SCHEMA_VERSION,
        }
    )


def write_baseline(
    dataset: Path,
    name: str,
    out: Path,
    ids: list[str],
    *,
    cache: ResponseCache | None = None,
    progress: Callable[[str, str], None] | None = None,
) -> dict[str, str]:
    """``out/<id>.json`` for each article by method ``name``; returns errors by id
    (an article that cannot be read is skipped, the others still written)."""
    check_method(name)
    out.mkdir(parents=True, exist_ok=True)
    errors: dict[str, str] = {}
    for case_id in ids:
        try:
            summary = baseline_summary(
                name, article_text(dataset, case_id), source=case_id, cache=cache
            )
        except (OSError, ValueError) as e:
            errors[case_id] = one_line(e)
            if progress:
                progress(case_id, f"error: {errors[case_id]}")
            continue
        write_candidate(out, case_id, summary)
        if progress:
            progress(case_id, "ok")
    return errors


def floor_scores(cases: dict[str, GoldenCase]) -> dict[str, dict[str, Any]]:
    """The ``lead`` floor's score per article, for the same articles as a report."""
    from summarizer.evals.scoring import score_summary

    return {
        case_id: score_summary(
            case.summary, baseline_summary(FLOOR, case.text), case.text, case.raw
        )
        for case_id, case in cases.items()
    }
