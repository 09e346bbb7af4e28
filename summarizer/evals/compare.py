"""Several eval runs side by side: is model (or prompt) B better than A, and where?

A comparison reads the ``report.json`` of each run (``eval run``/``eval score``) and
puts, per section and overall, each run's mean beside the lead floor, and per
article each run's scores, with the best of each row, each run's difference from the
first run, and the articles where a run dropped more than ``max_drop`` below it.

An article that a run has no result for is missing there (``None``), never 0: a run
that skipped an article did not score 0 on it. A mean is only comparable with a mean
over the same articles (0.668 over 33 against 1.000 over 6 says nothing of either), so
the compared means (``means``, with the best and the deltas) are over the articles
every run scored (``compared_articles``); each run's own mean, over whatever it
scored, is kept beside them as ``own_means``, never compared; the page and the tables
say how many articles the compared means are over and how many each run scored. The
lead floor is over the compared articles too: a run's own when it scored just those,
else from a report's per-article floor, else not shown. Runs on different datasets,
or whose lead floor differs on the same articles (the goldens, or the scorer,
changed between them), are compared all the same, with a warning: the reader
decides whether the numbers still mean the same thing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summarizer.errors import DatasetError
from summarizer.evals.gate import REPORT_MAX_BYTES, report_path
from summarizer.evals.goldens import read_json
from summarizer.evals.runs import SECTIONS

#: The rows of the means table: the overall score, then each section.
ROWS = ("overall", *SECTIONS)
#: A run more than this below the first run on an article's overall score regressed
#: there (the gate's default ``--max-drop``).
MAX_DROP = 0.05


@dataclass(frozen=True)
class Run:
    """One run's report, where it came from, and the label it is shown by."""

    path: Path
    label: str
    report: dict[str, Any]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else list(value) if isinstance(value, dict) else []


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def read_run(path: Path) -> dict[str, Any]:
    """The report at ``path`` (a run folder means its ``report.json``), checked to
    have what a comparison reads: DatasetError (exit 15) otherwise, naming the file,
    and InputTooLargeError (exit 24) over :data:`REPORT_MAX_BYTES`, from its size,
    before it is read."""
    path = report_path(path)
    # missing: InputNotFoundError; too large: InputTooLargeError; not JSON: DatasetError
    data = read_json(path, REPORT_MAX_BYTES)
    if not isinstance(data, dict) or not isinstance(data.get("articles"), dict):
        raise DatasetError(f"{path}: not an eval report (no 'articles' object)")
    agg = data.get("aggregate")
    if not isinstance(agg, dict) or _number(agg.get("score")) is None:
        raise DatasetError(f"{path}: not an eval report (no overall score 'aggregate.score')")
    bad = [i for i, r in data["articles"].items() if not isinstance(r, dict)]
    if bad:
        raise DatasetError(f"{path}: article {bad[0]!r} is not a scored result")
    return data


def load_runs(paths: list[Path]) -> list[Run]:
    """The runs at ``paths``, in order (the first is the one the others are compared
    with), each labeled by its model and prompt (see :func:`labels`)."""
    reports = [read_run(p) for p in paths]
    return [
        Run(p, label, r) for p, r, label in zip(paths, reports, labels(paths, reports), strict=True)
    ]


def _prompt_name(prompt: Any) -> str:
    """``summarize@v1`` from ``summarize@v1 (87a48f9993fa)``."""
    return re.sub(r"\s*\([0-9a-f]+\)$", "", str(prompt)) if prompt else ""


def _prompt(run: dict[str, Any]) -> Any:
    """The run's prompt; ``None`` for a no-model method (``rules``, ``baseline/NAME``),
    which reads none (older reports of one still record the default prompt)."""
    model = str(run.get("model") or "")
    return None if model == "rules" or model.startswith("baseline/") else run.get("prompt")


def _place(path: Path) -> str:
    """A path's short name: the run folder of ``runs/v1/report.json`` (``v1``)."""
    path = path / "report.json" if path.is_dir() else path
    return path.parent.name if path.name == "report.json" and path.parent.name else path.stem


def labels(paths: list[Path], reports: list[dict[str, Any]]) -> list[str]:
    """Short, distinct labels: the model (else, for a report of ``eval score`` that
    names none, the candidates' folder, else the report's), with the prompt when runs
    of the same model used different prompts, then the report's folder, then a
    number, until every label differs."""
    runs = [_dict(r.get("run")) for r in reports]
    models = [str(run.get("model") or "") for run in runs]
    prompts = [_prompt_name(_prompt(run)) for run in runs]
    out = [
        m or _candidates_place(run) or _place(p)
        for m, run, p in zip(models, runs, paths, strict=True)
    ]
    for i, model in enumerate(models):
        used = {prompts[j] for j in range(len(runs)) if models[j] == model}
        if model and prompts[i] and len(used) > 1:
            out[i] = f"{model} · {prompts[i]}"
    steps: list[Callable[[int, str], str]] = [
        lambda i, label: label if _place(paths[i]) == label else f"{label} ({_place(paths[i])})",
        lambda i, label: f"{label} #{i + 1}",
    ]
    for step in steps:
        dupes = {label for label in out if out.count(label) > 1}
        out = [step(i, label) if label in dupes else label for i, label in enumerate(out)]
    return out


def _candidates_place(run: dict[str, Any]) -> str:
    """``eval-local`` for candidates in ``.../eval-local/candidates``; "" when none."""
    if not isinstance(run.get("candidates"), str) or not run["candidates"]:
        return ""
    folder = Path(run["candidates"])
    return folder.parent.name if folder.name == "candidates" else folder.name


def _scores(result: dict[str, Any]) -> dict[str, float | None]:
    sections = _dict(result.get("sections"))
    out = {"overall": _number(result.get("score"))}
    for s in SECTIONS:
        value = sections.get(s)
        out[s] = _number(value.get("score") if isinstance(value, dict) else value)
    return out


def _best(values: list[float | None]) -> list[int]:
    """The runs with the row's best value (ties all best); none when fewer than two
    runs have one (nothing to be best against)."""
    present = [round(v, 4) for v in values if v is not None]
    if len(present) < 2 or len(set(present)) == 1:
        return []
    top = max(present)
    return [i for i, v in enumerate(values) if v is not None and round(v, 4) == top]


def _deltas(values: list[float | None]) -> list[float | None]:
    first = values[0]
    return [None if v is None or first is None else round(v - first, 4) for v in values]


def _row(values: list[float | None], floor: float | None = None) -> dict[str, Any]:
    return {"runs": values, "floor": floor, "best": _best(values), "delta": _deltas(values)}


def _floor(report: dict[str, Any]) -> dict[str, float | None] | None:
    floor = report.get("floor")
    agg = floor.get("aggregate") if isinstance(floor, dict) else None
    if not isinstance(agg, dict):
        return None
    sections = _dict(agg.get("sections"))
    return {"overall": _number(agg.get("score"))} | {s: _number(sections.get(s)) for s in SECTIONS}


def _floor_over(report: dict[str, Any], ids: list[str]) -> dict[str, float | None] | None:
    """The floor's means over ``ids``, from the report's per-article floor; ``None``
    when it has none (older reports) or lacks one of them."""
    per = _dict(_dict(report.get("floor")).get("articles"))
    if not ids or not all(isinstance(per.get(i), dict) for i in ids):
        return None
    out: dict[str, float | None] = {}
    for row in ROWS:
        values = [_scores(per[i])[row] for i in ids]
        known = [v for v in values if v is not None]
        out[row] = round(sum(known) / len(known), 4) if len(known) == len(values) else None
    return out if out["overall"] is not None else None


def compare_runs(runs: list[Run], max_drop: float = MAX_DROP) -> dict[str, Any]:
    """The comparison as plain JSON (what ``eval compare --json`` prints)."""
    ids = sorted({i for run in runs for i in run.report["articles"]})
    common = [i for i in ids if all(i in run.report["articles"] for run in runs)]
    floors = [_floor(run.report) for run in runs]
    # The lead floor of a run that scored exactly the compared articles (its floor is
    # over those); a floor over other articles would not be comparable either.
    floor = next((f for f, r in zip(floors, runs, strict=True)
                  if f and set(r.report["articles"]) == set(common)), None)  # fmt: skip
    # Else from a report's per-article floor (stored since it is computed when scoring).
    floor = floor or next((f for run in runs if (f := _floor_over(run.report, common))), None)
    means = _common_means(runs, common, floor)
    articles = []
    regressions: dict[str, list[str]] = {run.label: [] for run in runs[1:]}
    for case_id in ids:
        results = [run.report["articles"].get(case_id) for run in runs]
        scores = [_scores(r) if r is not None else None for r in results]
        rows = {row: _row([s[row] if s else None for s in scores]) for row in ROWS}
        regressed = [
            k
            for k, d in enumerate(rows["overall"]["delta"])
            if k and d is not None and -d > max_drop
        ]
        for k in regressed:
            regressions[runs[k].label].append(case_id)
        articles.append({
            "id": case_id,
            "scores": rows,
            "missing_in": [run.label for run, r in zip(runs, results, strict=True) if r is None],
            "errors": [str(r["error"]) if r and r.get("error") else None for r in results],
            "regressed": [runs[k].label for k in regressed],
        })  # fmt: skip
    out: dict[str, Any] = {
        "runs": [_describe(run) for run in runs],
        "max_drop": max_drop,
        "floor": {"method": _floor_method(runs), "scores": floor},
        "compared_articles": len(common),
        "means": means,
        "own_means": {row: [_own_mean(run, row) for run in runs] for row in ROWS},
        # The same means as ``means`` when the runs' articles differ (older readers,
        # the HTML page, show them under this name); None when they do not.
        "common": None,
        "articles": articles,
        "regressions": regressions,
        "warnings": warnings(runs, floors, ids, common),
    }
    if len({frozenset(run.report["articles"]) for run in runs}) > 1:
        out["common"] = {"articles": len(common), "means": means}
    return out


def _own_mean(run: Run, row: str) -> float | None:
    """A run's own mean over every article it scored (its report's aggregate)."""
    agg = run.report["aggregate"]
    return _number(agg["score"] if row == "overall" else _dict(agg.get("sections")).get(row))


def _common_means(
    runs: list[Run], common: list[str], floor: dict[str, float | None] | None = None
) -> dict[str, Any]:
    """Each run's means over the articles every run has (comparable whatever else the
    runs cover): a run that scored exactly those keeps its report's own figures."""
    out = {}
    for row in ROWS:
        values: list[float | None] = []
        for run in runs:
            own = _own_mean(run, row) if set(run.report["articles"]) == set(common) else None
            if own is not None:
                values.append(own)
                continue
            found = [_scores(run.report["articles"][i])[row] for i in common]
            known = [v for v in found if v is not None]
            values.append(round(sum(known) / len(known), 4) if known else None)
        out[row] = _row(values, floor[row] if floor else None)
    return out


def _floor_method(runs: list[Run]) -> str | None:
    for run in runs:
        floor = run.report.get("floor")
        if isinstance(floor, dict) and floor.get("method"):
            return str(floor["method"])
    return None


def _describe(run: Run) -> dict[str, Any]:
    info = _dict(run.report.get("run"))
    # The page `eval run` wrote beside this very report (another report's page, say
    # beside a rescored report-rescored.json, would show other scores).
    html = run.path / "report.html" if run.path.is_dir() else run.path.with_name("report.html")
    own = run.path.is_dir() or run.path.name == "report.json"
    return {
        "label": run.label,
        "path": str(run.path),
        "model": info.get("model"),
        "prompt": _prompt(info),
        "dataset": info.get("dataset"),
        "timestamp": info.get("timestamp"),
        "articles": len(run.report["articles"]),
        "missing": [str(m) for m in _list(run.report.get("missing"))],
        "html": str(html) if own and html.is_file() else None,
    }


def warnings(
    runs: list[Run], floors: list[dict[str, float | None] | None], ids: list[str], common: list[str]
) -> list[str]:
    """What makes the runs' numbers less comparable, in plain words."""
    out = []
    infos = [_dict(r.report.get("run")) for r in runs]
    keys = sorted({k for info in infos for k in info if k == "dataset" or k.startswith("golden")})
    for key in keys:
        values = [str(info.get(key)) for info in infos]
        if len(set(values)) > 1:
            listed = ", ".join(f"{r.label}: {v}" for r, v in zip(runs, values, strict=True))
            out.append(f"the runs differ in {key} ({listed}): scores may not be comparable")
    if not common:
        out.append(
            "the runs share no scored article: no mean can be compared; each run's own "
            "means are shown, over different articles"
        )
    elif len(common) < len(ids):
        out.append(
            f"{len(ids) - len(common)} of {len(ids)} articles are not in every run: shown as "
            f"missing there, not 0; the compared means are over the {len(common)} in all runs"
        )
    same_articles = len({frozenset(r.report["articles"]) for r in runs}) == 1
    known = [f for f in floors if f]
    if same_articles and len({tuple(sorted(f.items())) for f in known}) > 1:
        out.append(
            "the lead floor differs between runs on the same articles: the goldens (or the "
            "scorer) changed between them, so their scores may not be comparable"
        )
    return out


def render_compare_html(comparison: dict[str, Any], out: Path | None = None) -> str:
    """The comparison as one static HTML page; links to each run's own report page
    (beside its report.json) are relative to ``out``'s folder when given."""
    import os
    from urllib.parse import quote

    from summarizer.evals.report_html import HEADERS, article_anchor, template

    base = out.resolve().parent if out is not None else None
    links: list[str | None] = []
    for run in comparison["runs"]:
        page = Path(run["html"]) if run["html"] else None
        if page is None:
            links.append(None)
        elif base is not None:
            links.append(quote(os.path.relpath(page.resolve(), base).replace(os.sep, "/")))
        else:
            links.append(page.resolve().as_uri())
    return template("compare.html.j2").render(
        c=comparison,
        rows=ROWS,
        links=links,
        anchor=article_anchor,
        headers={"overall": "overall", **HEADERS},
    )
