"""Eval reports after #16: the comparison page says how many articles its means are
over, a report carries its per-article floor (the page shows what was scored, not
today's floor), and the page reads the cost recorded when a summary was made."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from summarizer.cli import app
from summarizer.evals.compare import compare_runs, load_runs, render_compare_html
from summarizer.evals.report import render_html
from summarizer.evals.report_html import perf
from tests.conftest import DATASET, ROOT, copy_dataset
from tests.test_eval_report_html import Page

runner = CliRunner()
RULES = ROOT / "benchmarks" / "results" / "eval-rules" / "report.json"
IDS = ["001-annapolis-joint-understanding", "004-rio-group-andean-border-dispute-ends",
       "005-gaza-fighting-unsc-ceasefire-calls"]  # fmt: skip
SECTIONS = ("key_summary", "actors", "commitments", "open_questions", "grounding")


def _rules() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(RULES.read_text("utf-8"))
    return data


def _write(path: Path, report: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report), "utf-8")
    return path


def _cells(html: str, table_id: str, first: str) -> list[str]:
    """The text of each cell of the row of table ``table_id`` whose first cell is ``first``."""
    table = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    for row in table.split("<tr")[1:]:
        cells = [re.sub(r"<[^>]+>|\s+", " ", c).strip() for c in row.split("<td")[1:]]
        cells = [re.sub(r"^[^>]*>\s*", "", c).strip() for c in cells]
        if cells and cells[0] == first:
            return [re.sub(r"\s+", " ", c) for c in cells]
    raise AssertionError(f"no row {first!r} in #{table_id}")


# --- eval compare: how many articles each mean is over ------------------------------


def _partial(tmp_path: Path, drop: int = 2) -> tuple[dict[str, Any], Path, list[str]]:
    """The rules report without its first ``drop`` articles, under another model."""
    partial = _rules()
    gone = sorted(partial["articles"])[:drop]
    for case_id in gone:
        del partial["articles"][case_id]
    partial["missing"] = gone
    partial["run"]["model"] = "other"
    return partial, _write(tmp_path / "partial" / "report.json", partial), gone


def test_compare_page_says_the_means_are_over_the_shared_articles(tmp_path: Path) -> None:
    _, path, _ = _partial(tmp_path)
    c = compare_runs(load_runs([RULES, path]))
    html = render_compare_html(c)
    counts = _cells(html, "means", "articles")
    # Each run's mean above is over the 31 articles both scored: say so, and how many
    # the run itself scored, not the run's own count as if the mean were over it.
    assert counts[2] == "31 of the 33 it scored"
    assert counts[3] == "31 (+2 missing)"
    assert "Means over the 31 articles every run scored" in html
    # Each run's own means, over its own articles, are shown apart and never compared.
    own = _cells(html, "own", "overall")
    assert own[1:] == [f"{v:.3f}" for v in c["own_means"]["overall"]]
    assert _cells(html, "own", "articles")[1:] == ["33", "31 (+2 missing)"]
    assert "best" not in html.split('id="own"', 1)[1].split("</table>", 1)[0]


def test_compare_page_of_runs_on_the_same_articles_shows_one_count(tmp_path: Path) -> None:
    other = _rules()
    other["run"]["model"] = "other"
    c = compare_runs(load_runs([RULES, _write(tmp_path / "o" / "report.json", other)]))
    html = render_compare_html(c)
    assert _cells(html, "means", "articles")[2:] == ["33", "33"]
    assert 'id="own"' not in html
    assert "<h2>Means over" not in html


def test_compare_page_of_runs_sharing_nothing(tmp_path: Path) -> None:
    first, second = _rules(), _rules()
    ids = sorted(first["articles"])
    for case_id in ids[:10]:
        del first["articles"][case_id]
    for case_id in ids[10:]:
        del second["articles"][case_id]
    second["run"]["model"] = "other"
    runs = load_runs([_write(tmp_path / "a" / "report.json", first),
                      _write(tmp_path / "b" / "report.json", second)])  # fmt: skip
    html = render_compare_html(compare_runs(runs))
    assert _cells(html, "means", "articles")[2:] == [
        "0 of the 23 it scored",
        "0 of the 10 it scored",
    ]
    assert _cells(html, "means", "overall")[2:] == ["—", "—"]


def test_compare_takes_the_floor_over_the_shared_articles_from_per_article_floors(
    tmp_path: Path,
) -> None:
    """Neither run scored just the shared articles, so neither report's floor mean is
    over them; a report's per-article floor gives it."""
    first, second = _rules(), _rules()
    ids = sorted(first["articles"])
    del first["articles"][ids[0]]
    del second["articles"][ids[1]]
    second["run"]["model"] = "other"
    per = {i: {"score": 0.5 if n % 2 else 0.25, "sections": dict.fromkeys(SECTIONS, 0.5)}
           for n, i in enumerate(ids)}  # fmt: skip
    first["floor"]["articles"] = per
    runs = load_runs([_write(tmp_path / "a" / "report.json", first),
                      _write(tmp_path / "b" / "report.json", second)])  # fmt: skip
    c = compare_runs(runs)
    shared = ids[2:]
    want = round(sum(per[i]["score"] for i in shared) / len(shared), 4)
    assert c["compared_articles"] == len(shared)
    assert c["floor"]["scores"]["overall"] == want
    assert c["means"]["actors"]["floor"] == 0.5
    # Without per-article floors no floor is over those articles: none is shown.
    del first["floor"]["articles"]
    _write(tmp_path / "a" / "report.json", first)
    assert compare_runs(load_runs([runs[0].path, runs[1].path]))["floor"]["scores"] is None


# --- the per-article floor, stored when scoring ------------------------------------


@pytest.fixture
def scored(tmp_path: Path) -> dict[str, Path]:
    """``eval score`` of three articles' goldens as candidates, with the HTML page."""
    data = copy_dataset(tmp_path / "data", IDS)
    cands = tmp_path / "cands"
    cands.mkdir()
    for case_id in IDS:
        (cands / f"{case_id}.json").write_bytes(
            (DATASET / "golden" / f"{case_id}.json").read_bytes()
        )
    report = tmp_path / "report.json"
    done = runner.invoke(app, ["eval", "score", "-d", str(data), "--candidates", str(cands),
                               "--report", str(report)])  # fmt: skip
    assert done.exit_code == 0, done.output
    return {"data": data, "cands": cands, "report": report}


def _floor_shown(html: str, case_id: str) -> str | None:
    """The "(floor x.xxx)" an article's detail shows, if any."""
    summary = html.split(f'data-id="{case_id}"><summary>', 1)[1].split("</summary>", 1)[0]
    found = re.search(r"\(floor ([0-9.]+)\)", summary)
    return found.group(1) if found else None


def test_the_report_stores_the_floor_of_each_article(scored: dict[str, Path]) -> None:
    report = json.loads(scored["report"].read_text("utf-8"))
    per = report["floor"]["articles"]
    assert sorted(per) == IDS
    mean = sum(per[i]["score"] for i in IDS) / len(IDS)
    assert round(mean, 4) == report["floor"]["aggregate"]["score"]
    for section in SECTIONS:
        values = [per[i]["sections"][section] for i in IDS]
        assert (
            round(sum(values) / len(values), 4) == report["floor"]["aggregate"]["sections"][section]
        )


def test_the_page_shows_the_stored_floor_without_computing_it(
    scored: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    report = json.loads(scored["report"].read_text("utf-8"))
    report["floor"]["articles"][IDS[0]]["score"] = 0.123  # as scored on another day

    def not_again(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the floor was computed again")

    monkeypatch.setattr("summarizer.evals.baselines.floor_scores", not_again)
    html = render_html(report, scored["data"], scored["cands"])
    assert _floor_shown(html, IDS[0]) == "0.123"
    assert 'id="floor-note"' not in html


def test_an_old_report_shows_a_floor_only_if_it_is_the_one_scored(
    scored: dict[str, Path],
) -> None:
    report = json.loads(scored["report"].read_text("utf-8"))
    stored = report["floor"].pop("articles")  # as reports were before
    same = render_html(report, scored["data"], scored["cands"])
    assert _floor_shown(same, IDS[1]) == f"{stored[IDS[1]]['score']:.3f}"
    assert 'id="floor-note"' not in same
    # Recorded with another scorer or goldens: today's floor would not be what was
    # scored, so no article shows one, and the page says why.
    changed = copy.deepcopy(report)
    changed["floor"]["aggregate"]["score"] += 0.01
    html = render_html(changed, scored["data"], scored["cands"])
    assert all(_floor_shown(html, i) is None for i in IDS)
    assert 'id="floor-note"' in html
    assert "per-article floor not shown" in html
    row = Page(html).find("tr", **{"data-id": IDS[0]})[0]
    assert "below" not in row["data-flags"]
    # Its dataset gone: the page is still made, without per-article floors.
    gone = render_html(report, scored["data"].parent / "gone", scored["cands"])
    assert "the dataset cannot give them again" in gone


# --- cost recorded when the summary was made ---------------------------------------


def test_the_page_reads_the_recorded_cost_before_pricing_at_render() -> None:
    usage = {"prompt_tokens": 1_000_000, "completion_tokens": 0, "total_tokens": 1_000_000}
    recorded = {"model": "openai/gpt-4o-mini", "usage": usage | {"cost_usd": 0.5}}
    assert perf(recorded)["cost"] == 0.5  # not 0.15, today's price of those tokens
    assert perf({"model": "openai/gpt-4o-mini", "usage": usage})["cost"] == pytest.approx(0.15)
    assert perf({"model": "vllm/x", "usage": usage | {"cost_usd": 0.0}})["cost"] == 0.0
    junk = {"model": "vllm/x", "usage": usage | {"cost_usd": "free"}}
    assert perf(junk)["cost"] is None  # unusable: unknown, as without a price
