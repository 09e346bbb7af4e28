"""The eval report as one static HTML page, to find what went wrong in a run and why.

It opens on the article table (each article's scores, tokens, latency and cost, with
the run's mean, the lead floor and the baseline above them), because "which articles
went wrong" comes first; filters narrow it to the articles with missed or extra
items, below the floor, or worse than the baseline. Each article's detail answers
"why": the golden and candidate items, matched, missed or extra, each labeled (K1 is
key point 1, A actors, C commitments, Q open questions) with the same label on its
evidence in the article text, golden amber, candidate blue, both green, linked both
ways.

One file, CSS and script inline, nothing fetched: it is attached to CI runs and
opened offline. Article and model text is escaped (Jinja's autoescape, or
``html.escape`` for the highlighted article); the script reads only the page's own
attributes and never builds markup from text.
"""

from __future__ import annotations

import math
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from summarizer.contract.models import ArticleSummary
from summarizer.errors import SummarizerError
from summarizer.evals.goldens import article_text, read_text
from summarizer.evals.report_items import ITEM_SECTIONS, highlight, lacking_words, section_items
from summarizer.evals.runs import SECTIONS
from summarizer.grounding import Aligner

if TYPE_CHECKING:
    import jinja2

#: An article more than this below its baseline score is a regression, unless the
#: baseline block says its own ``max_drop`` (the gate's default ``--max-drop``).
REGRESSION_DROP = 0.05
#: Column headings narrow enough for a laptop screen (the soft hyphens break them).
HEADERS = {
    "key_summary": "key summary",
    "actors": "actors",
    "commitments": "commit\u00adments",
    "open_questions": "open questions",
    "grounding": "ground\u00ading",
}


def article_anchor(case_id: str) -> str:
    """The element id of an article's detail, also used by ``eval compare`` to link to
    it. Ids are file names: every character but ASCII letters, digits and ``-`` is
    written as ``_`` and its hex code, so two ids never share an anchor."""
    return "a-" + re.sub(r"[^A-Za-z0-9-]", lambda m: "_" + m.group().encode().hex(), case_id)


def score_of(value: Any) -> float | None:
    """A score from a number or a ``{"score": n}`` result; ``None`` for anything else
    (reports from other versions are read, never trusted)."""
    if isinstance(value, dict):
        value = value.get("score")
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _read_candidate(path: Path) -> ArticleSummary | None:
    try:
        return ArticleSummary.model_validate_json(read_text(path))
    except (SummarizerError, ValidationError, ValueError, RecursionError):
        return None


def _detail(entry: dict[str, Any], dataset: Path, candidates: Path, result: dict[str, Any]) -> None:
    """Fill the article's items, headlines and highlighted text into ``entry``."""
    case_id, art = entry["id"], entry["key"]
    try:
        text = article_text(dataset, case_id)
        golden = ArticleSummary.model_validate_json(
            read_text(dataset / "golden" / f"{case_id}.json")
        )
    except (SummarizerError, ValidationError, ValueError, RecursionError) as e:
        entry["unavailable"] = str(e).splitlines()[0] if str(e) else type(e).__name__
        return
    aligner = Aligner(text)
    path = candidates / f"{case_id}.json"
    candidate = _read_candidate(path) if "error" not in result and path.is_file() else None
    lacking = lacking_words(result)
    sections = _dict(result.get("sections"))
    groups, everything = [], []
    for section, letter, name in ITEM_SECTIONS:
        scored = _dict(sections.get("key_summary")).get("key_points")
        if section != "key_points":
            scored = sections.get(section)
        gold, cand = section_items(
            art, section, letter, scored if isinstance(scored, dict) else {}, golden,
            candidate, lacking, aligner,
        )  # fmt: skip
        groups.append({"name": name, "golden": gold, "candidate": cand})
        everything += gold + cand
    entry["groups"] = groups
    entry["golden_head"] = golden.key_summary
    entry["candidate_head"] = candidate.key_summary if candidate else None
    entry["headline_lacks"] = lacking.get("key_summary.headline")
    entry["article_html"] = highlight(text, everything)
    entry["perf"] = perf(candidate.meta) if candidate else None
    entry["candidate"] = candidate is not None
    entry["model"] = str(candidate.meta.get("model") or "") if candidate else ""
    entry["missed"] = sum(i.state == "missed" for i in everything)
    entry["extra"] = sum(i.state == "extra" for i in everything)


def _per_article(block: Any) -> dict[str, float]:
    """``{id: overall}`` from a floor or baseline block's ``articles``, if it has any."""
    articles = block.get("articles") if isinstance(block, dict) else None
    if not isinstance(articles, dict):
        return {}
    scores = {str(k): score_of(v) for k, v in articles.items()}
    return {k: v for k, v in scores.items() if v is not None}


def _floor_articles(report: dict[str, Any], dataset: Path) -> tuple[dict[str, float], str | None]:
    """The lead floor's overall per article, as scored, and a note when it is not shown.

    Reports store it (``floor.articles``) since it is computed when scoring; an older
    report has only the floor's means. Its per-article floor is then computed again
    (a third of a second for 33 articles, no model) and shown only if its means are
    the ones the report recorded: a scorer, a golden or the lead method that changed
    since would otherwise put today's floor beside the scores of another day.
    """
    floor = report.get("floor")
    if not isinstance(floor, dict):
        return {}, None
    if found := _per_article(floor):
        return found, None
    from summarizer.evals.baselines import floor_scores
    from summarizer.evals.runs import aggregate, load_cases

    try:
        again = floor_scores(load_cases(dataset, list(report["articles"])))
    except (SummarizerError, ValueError):
        again = {}
    if not again:
        return {}, "this report predates them, and the dataset cannot give them again"
    recorded, now = _dict(floor.get("aggregate")), aggregate(again)
    if now["score"] == recorded.get("score") and now["sections"] == recorded.get("sections"):
        return {k: v["score"] for k, v in again.items()}, None
    return {}, (
        "this report predates them, and the lead floor computed now differs from the one "
        "it recorded (the scorer, the goldens or the articles changed since)"
    )


def _baseline(report: dict[str, Any]) -> dict[str, Any] | None:
    """The ``baseline`` block (:func:`summarizer.evals.runs.compare_to_baseline`) as
    the page shows it, read defensively; ``None`` when the report has none."""
    block = report.get("baseline")
    if not isinstance(block, dict):
        return None
    agg, deltas = _dict(block.get("aggregate")), _dict(block.get("article_delta"))
    regressed = block.get("regressions")
    drops = block.get("drops")
    max_drop = score_of(block.get("max_drop"))
    delta, current = _dict(block.get("delta")), _dict(block.get("current"))
    shared = block.get("articles")
    return {
        "path": str(block.get("path", "")),
        "aggregate": agg,
        # On the articles both runs scored (the gate's comparison); older reports
        # have no "current": their own mean is compared then.
        "current": current or None,
        "delta": delta or None,
        "shared": shared if isinstance(shared, int) and not isinstance(shared, bool) else None,
        "passed": block.get("passed") if isinstance(block.get("passed"), bool) else None,
        "drops": [str(d) for d in drops] if isinstance(drops, list) else [],
        "deltas": {str(k): d for k, v in deltas.items() if (d := score_of(v)) is not None},
        "regressed": {str(r) for r in regressed} if isinstance(regressed, list) else None,
        "max_drop": REGRESSION_DROP if max_drop is None else max_drop,
    }


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _missing(report: dict[str, Any]) -> list[tuple[str, str]]:
    """Articles of the dataset the run has no result for: ``missing`` as a list of ids
    or a mapping of id to reason."""
    missing = report.get("missing")
    if isinstance(missing, dict):
        return [(str(k), str(v)) for k, v in missing.items()]
    if isinstance(missing, list):
        return [(str(m), "") for m in missing]
    return []


def perf(meta: dict[str, Any]) -> dict[str, Any]:
    """Tokens, latency and cost of one summary, from its ``meta`` (what exists: a
    missing figure is ``None``, never 0). The cost is the one recorded when the summary
    was made (``meta.usage.cost_usd``; ``meta.cost_usd`` by hand), at that day's price;
    for a summary made before costs were recorded, 0 if it called no model or ran on
    this machine, else the model's price now (built in or the user's price files)
    times its tokens, unknown without a price."""
    usage = _dict(meta.get("usage"))
    cost = score_of(usage.get("cost_usd"))
    cost = score_of(meta.get("cost_usd")) if cost is None else cost
    model = str(meta.get("model") or "")
    if cost is None and (
        _dict(meta.get("method")).get("model_calls") == 0
        or model in ("rules", "local")
        or model.startswith(("local:", "baseline/"))
    ):
        cost = 0.0
    elif cost is None and usage and model:
        from summarizer.batch.pricing import price_for, usage_cost  # only for paid models

        cost = usage_cost(price_for(model, _prices()), usage)
    tokens = usage.get("total_tokens")
    return {
        "tokens": tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else None,
        "prompt_tokens": usage.get("prompt_tokens"),
        "completion_tokens": usage.get("completion_tokens"),
        "latency": score_of(meta.get("latency_s")),
        "cost": cost,
        "cached": _dict(meta.get("cache")).get("hit") is True,
    }


@cache
def _prices() -> dict[str, Any]:
    from summarizer.batch.pricing import load_prices

    try:
        return dict(load_prices())
    except SummarizerError:  # a broken SUMMARIZER_PRICES file: costs unknown, no crash
        return {}


def _shade(score: float | None) -> str:
    """A cell's background from red (0) to green (1), light enough to read on."""
    if score is None:
        return ""
    return f"background:hsl({round(max(0.0, min(1.0, score)) * 120)},60%,92%)"


def render_page(report: dict[str, Any], dataset: Path, candidates: Path) -> str:
    """The page for ``report`` (as ``eval run``/``eval score`` write it), reading the
    articles and goldens from ``dataset`` and the summaries from ``candidates``."""
    floors, floor_note = _floor_articles(report, dataset)
    baseline = _baseline(report)
    articles: list[dict[str, Any]] = []
    for case_id, result in sorted(report["articles"].items()):
        score = score_of(result) or 0.0
        entry: dict[str, Any] = {
            "id": case_id,
            "anchor": article_anchor(case_id),
            "key": f"i{len(articles)}-",  # short: item ids are repeated in the article
            "score": score,
            "error": result.get("error"),
            "sections": {s: score_of(_dict(result.get("sections")).get(s)) for s in SECTIONS},
            "supported": score_of(_dict(result.get("supported")).get("rate")),
            "unsupported": len(_dict(result.get("supported")).get("unsupported") or []),
            "floor": floors.get(case_id),
            "delta": baseline["deltas"].get(case_id) if baseline else None,
            "perf": None,
            "groups": [],
            "missed": 0,
            "extra": 0,
        }
        _detail(entry, dataset, candidates, result)
        flags = [f for f in ("missed", "extra", "unsupported") if entry[f]]
        if entry["floor"] is not None and score < entry["floor"]:
            flags.append("below")
        if baseline and (
            case_id in baseline["regressed"]
            if baseline["regressed"] is not None
            else entry["delta"] is not None and -entry["delta"] > baseline["max_drop"]
        ):
            flags.append("regressed")
        if entry["error"]:
            flags.append("error")
        entry["flags"] = flags
        articles.append(entry)
    # The run's model when the report names none (`eval score`): the one every summary
    # says it came from, if they agree.
    models = {a["model"] for a in articles if a.get("candidate")}
    return template("report.html.j2").render(
        run=report.get("run", {}),
        model_hint=(models.pop() or None) if len(models) == 1 else None,
        agg=report["aggregate"],
        sections=SECTIONS,
        articles=articles,
        floor=report.get("floor") if isinstance(report.get("floor"), dict) else None,
        floor_note=floor_note,
        below_floor=[str(line) for line in report.get("below_floor", [])],
        below=[str(line).split(" ")[0] for line in report.get("below_floor", [])],
        baseline=baseline,
        missing=_missing(report),
        totals=_totals(articles),
        shade=_shade,
        headers=HEADERS,
    )


def _totals(articles: list[dict[str, Any]]) -> dict[str, Any]:
    """Tokens, latency and cost over the run: a cost is a sum only when every article's
    is known; otherwise the known part and how many are unknown."""
    perfs = [a["perf"] for a in articles if a["perf"]]
    costs = [p["cost"] for p in perfs if p["cost"] is not None]
    latencies = [p["latency"] for p in perfs if p["latency"] is not None]
    return {
        "tokens": sum(p["tokens"] or 0 for p in perfs) if perfs else None,
        "latency": sum(latencies) if latencies else None,
        "mean_latency": sum(latencies) / len(latencies) if latencies else None,
        "cost": sum(costs) if costs else None,
        "cost_unknown": len(articles) - len(costs),
        "cached": sum(bool(p["cached"]) for p in perfs),
        "flags": {f: sum(f in a["flags"] for a in articles) for f in _FLAGS},
        "missed": sum(a["missed"] for a in articles),
        "extra": sum(a["extra"] for a in articles),
    }


_FLAGS = ("missed", "extra", "unsupported", "below", "regressed", "error")


@cache
def template(name: str) -> jinja2.Template:
    """A page template of ``templates/`` (shared with ``eval compare``), with the number
    filters the pages use; a figure that is missing prints as a dash."""
    import jinja2  # here: `eval score` without --html does not need it

    def load(name: str) -> str:
        return (resources.files("summarizer.evals") / "templates" / name).read_text("utf-8")

    env = jinja2.Environment(loader=jinja2.FunctionLoader(load), autoescape=True)
    env.filters["f3"] = lambda v: "—" if score_of(v) is None else f"{v:.3f}"
    env.filters["signed"] = lambda v: "—" if score_of(v) is None else f"{v:+.3f}"
    env.filters["first_word"] = lambda v: str(v).split(" ")[0]
    env.filters["usd"] = lambda v: "—" if score_of(v) is None else "0" if v == 0 else f"{v:.4f}"
    env.filters["num"] = lambda v: "—" if score_of(v) is None else f"{v:,.0f}"
    return env.get_template(name)
