"""Meta-eval: the scorer must rank better summaries higher.

``tests/data/meta/<id>/`` holds hand-written variants of a golden summary: two
lossless paraphrases, and degradations that each damage known sections. Paraphrases
must score close to the golden; every degradation must score below both paraphrases
in each section it damages, and overall.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from summarizer.contract.models import ArticleSummary
from summarizer.evals.scoring import score_summary
from tests.conftest import DATA, ROOT

META = DATA / "meta"
DATASET = ROOT / "evals" / "wikinews"
PARAPHRASES = ("paraphrase", "paraphrase2")
DAMAGES: dict[str, tuple[str, ...]] = {
    "drop_items": ("key_summary", "actors", "open_questions"),
    "wrong_roles": ("actors",),
    "wrong_actor_commitments": ("commitments",),
    "invented_actors": ("actors", "grounding"),
    "wrong_headline": ("key_summary",),
    "wrong_questions": ("open_questions",),
}
MARGIN = 0.02  # "lower" means visibly lower, not by rounding noise
CASES = sorted(p.name for p in META.iterdir() if p.is_dir()) if META.is_dir() else []


@cache
def _score(case_id: str, variant: str) -> dict[str, Any]:
    raw = json.loads((DATASET / "golden" / f"{case_id}.json").read_text(encoding="utf-8"))
    text = (DATASET / "articles" / f"{case_id}.txt").read_text(encoding="utf-8")
    golden = ArticleSummary.model_validate(raw)
    if variant == "golden":
        candidate = golden
    else:
        path = META / case_id / f"{variant}.json"
        candidate = ArticleSummary.model_validate_json(path.read_text(encoding="utf-8"))
    return score_summary(golden, candidate, text, raw)


def _sections(result: dict[str, Any]) -> dict[str, float]:
    return {name: s["score"] for name, s in result["sections"].items()}


def test_meta_eval_has_cases() -> None:
    assert len(CASES) >= 4
    for case_id in CASES:
        present = {p.stem for p in (META / case_id).glob("*.json")}
        assert present >= {*PARAPHRASES, *DAMAGES}, case_id


@pytest.mark.parametrize("case_id", CASES)
def test_golden_scores_perfectly_against_itself(case_id: str) -> None:
    assert _score(case_id, "golden")["score"] == 1.0


@pytest.mark.parametrize("variant", PARAPHRASES)
@pytest.mark.parametrize("case_id", CASES)
def test_paraphrases_score_close_to_the_golden(case_id: str, variant: str) -> None:
    result = _score(case_id, variant)
    assert result["score"] >= 0.85, _sections(result)
    for name, score in _sections(result).items():
        assert score >= 0.7, (name, _sections(result))


def _damaged_sections(case_id: str, variant: str) -> tuple[str, ...]:
    """The sections a variant damages; for dropped items, those it really dropped from."""
    if variant != "drop_items":
        return DAMAGES[variant]
    golden = json.loads((DATASET / "golden" / f"{case_id}.json").read_text(encoding="utf-8"))
    dropped = json.loads((META / case_id / "drop_items.json").read_text(encoding="utf-8"))
    lists = {
        "key_summary": lambda d: d["key_summary"]["key_points"],
        "actors": lambda d: d["actors"],
        "commitments": lambda d: d["commitments"],
        "open_questions": lambda d: d["open_questions"],
    }
    return tuple(
        name
        for name, get in lists.items()
        if len(get(dropped)) < sum(1 for item in get(golden) if item.get("required", True))
    )


@pytest.mark.parametrize("variant", sorted(DAMAGES))
@pytest.mark.parametrize("case_id", CASES)
def test_each_degradation_scores_lower_where_it_damages(case_id: str, variant: str) -> None:
    damaged = _sections(_score(case_id, variant))
    sections = _damaged_sections(case_id, variant)
    assert sections, "a degradation that damages nothing tests nothing"
    for paraphrase in PARAPHRASES:
        clean = _sections(_score(case_id, paraphrase))
        for section in sections:
            assert damaged[section] < clean[section] - MARGIN, (section, damaged, clean)
        assert _score(case_id, variant)["score"] < _score(case_id, paraphrase)["score"]


def test_grounding_checks_offsets_not_only_the_quote_text() -> None:
    """A quote whose offsets point elsewhere claims a false location: not grounded,
    even though its text is in the article (found by a review). Without offsets the
    text alone decides."""
    case_id = "000-seed-trump-putin-call"
    raw = json.loads((DATASET / "golden" / f"{case_id}.json").read_text(encoding="utf-8"))
    text = (DATASET / "articles" / f"{case_id}.txt").read_text(encoding="utf-8")
    golden = ArticleSummary.model_validate(raw)
    moved = golden.model_copy(deep=True)
    first = moved.evidence()[0]
    first.start, first.end = first.start + 1, first.end + 1  # type: ignore[operator]
    grounding = score_summary(golden, moved, text, raw)["sections"]["grounding"]
    assert grounding["wrong_offsets"] == 1
    assert grounding["verbatim"] == grounding["quotes"] - 1
    bare = golden.model_copy(deep=True)
    for ev in bare.evidence():
        ev.start = ev.end = None
    assert score_summary(golden, bare, text, raw)["sections"]["grounding"]["score"] == 1.0
