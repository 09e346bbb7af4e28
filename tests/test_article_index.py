"""One request reads its article once: what grounding, the support rules and the
quote candidates need of the text (its sentences, its normalized form) is found on
first use and shared, and the faster paths of the checks that run on every answer
give what the plain ones did."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from summarizer import alignment, item_support
from summarizer.alignment import Aligner, quote_candidates
from summarizer.contract.llm_schema import over_bounds
from summarizer.contract.models import ArticleSummary
from summarizer.grounding import Grounder
from summarizer.text import END, _ends, sentence_spans

ARTICLE = (
    "Leaders met in Riyadh on Feb. 14. The U.S. envoy said 24 people were hurt.\n\n"
    "Russia has not agreed to talks. \u201cWe will meet again,\u201d he said."
)


def _summary(quote: str = "The U.S. envoy said 24 people were hurt.") -> ArticleSummary:
    return ArticleSummary.model_validate(
        {
            "key_summary": {
                "headline": "Leaders met in Riyadh",
                "summary": "Leaders met. People were hurt.",
                "key_points": [
                    {"text": "24 people were hurt.", "evidence": [{"quote": quote}]},
                    {"text": "Leaders met in Riyadh.", "evidence": [{"quote": "Leaders met"}]},
                ],
            },
            "actors": [
                {"name": "Russia", "kind": "country", "evidence": [{"quote": "Russia has not"}]}
            ],
        }
    )


def _counting(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[str]:
    """Count calls of ``module.name`` (the argument of each, in order)."""
    calls: list[str] = []
    original: Callable[..., Any] = getattr(module, name)

    def counted(text: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(text)
        return original(text, *args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_the_article_is_normalized_only_for_a_quote_not_in_it_as_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _counting(monkeypatch, alignment, "normalize")
    aligner = Aligner(ARTICLE)
    assert aligner.locate("The U.S. envoy said") is not None
    assert calls == []  # a good answer's quotes never need it
    match = aligner.locate("the u.s.  ENVOY said")
    assert match is not None
    assert match.alignment == "normalized"
    assert calls.count(ARTICLE) == 1
    assert aligner.locate("RUSSIA HAS NOT") is not None
    assert calls.count(ARTICLE) == 1  # kept for the next quote


def test_grounding_salvaging_and_quote_choices_split_the_article_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = _counting(monkeypatch, alignment, "sentence_spans")
    other = _counting(monkeypatch, item_support, "sentence_spans")
    grounder = Grounder(ARTICLE)
    choices = quote_candidates(ARTICLE, sentences=grounder.aligner.sentences)
    grounder.apply(_summary())
    dropping = grounder.with_policy("drop")
    dropping.apply(_summary(quote="Nothing like this is in the article at all."))
    assert first + other == [ARTICLE]
    assert choices == quote_candidates(ARTICLE)
    assert dropping.aligner is grounder.aligner
    assert dropping.support is grounder.support


def test_a_grounder_for_salvage_has_its_own_policy_and_report() -> None:
    grounder = Grounder(ARTICLE)
    grounder.apply(_summary())
    dropping = grounder.with_policy("drop")
    summary = _summary(quote="Nothing like this is in the article at all.")
    dropping.apply(summary)
    assert (grounder.policy, dropping.policy) == ("raise", "drop")
    assert grounder.report.dropped == []
    assert [d.section for d in dropping.report.dropped] == ["key_summary.key_points"]
    assert [kp.text for kp in summary.key_summary.key_points] == ["Leaders met in Riyadh."]


def test_a_checker_for_another_text_splits_its_own() -> None:
    other = "One sentence here. Another one there."
    checker = item_support.SupportChecker(other, Aligner(ARTICLE))
    assert checker._spans == sentence_spans(other)


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet=".!?\u2026\"')]\u201d\u2019\u00bb\u201c ab\n\t"),
    st.integers(0, 4),
    st.integers(0, 4),
)
def test_terminators_are_found_where_the_regex_finds_them(text: str, a: int, cut: int) -> None:
    a = min(a, len(text))
    b = max(a, len(text) - cut)
    assert _ends(text, a, b) == [m.span() for m in END.finditer(text, a, b)]


def _data() -> dict[str, Any]:
    return _summary().model_dump(exclude_none=True)


def _long_quote(data: dict[str, Any]) -> None:
    data["actors"][0]["evidence"] = [{"quote": "q" * 1201}]


def _long_alias(data: dict[str, Any]) -> None:
    data["actors"][0]["aliases"] = ["ok", "a" * 241]


def _many_points(data: dict[str, Any]) -> None:
    data["key_summary"]["key_points"] *= 15


def _big_meta(data: dict[str, Any]) -> None:
    data["meta"] = {"notes": ["x" * 10_000] * 100}


@pytest.mark.parametrize(
    ("change", "free", "expected"),
    [
        (None, frozenset(), None),
        # the first string over its bound, with its path
        (_long_quote, frozenset(),
         "actors[0].evidence[0].quote is 1201 characters long; at most 1200 are allowed"),
        # a quote chosen from the article's own spans may be longer
        (_long_quote, frozenset({"Evidence.quote"}), None),
        (_long_alias, frozenset(),
         "actors[0].aliases is 241 characters long; at most 240 are allowed"),
        (_many_points, frozenset(), "key_summary.key_points has 30 items; at most 28 are allowed"),
        # fields without bounds are not read: offsets, kinds, meta
        (_big_meta, frozenset(), None),
    ],
)  # fmt: skip
def test_over_bounds_names_the_first_field_over(
    change: Callable[[dict[str, Any]], None] | None, free: frozenset[str], expected: str | None
) -> None:
    data = _data()
    if change is not None:
        change(data)
    summary = ArticleSummary.model_validate(data)
    assert over_bounds(summary, free=free) == expected
    assert over_bounds(data) is None  # a dict is not walked


def test_located_quotes_are_set_as_pydantic_would_set_them() -> None:
    """The grounder writes a located quote's offsets straight into the model (as
    pydantic's ``__setattr__`` does without ``validate_assignment``): the contract's
    models must not turn that on, and the offsets must count as set fields."""
    from summarizer.contract.models import Evidence
    from summarizer.grounding import _place

    assert not Evidence.model_config.get("validate_assignment")
    ev = Evidence(quote="a quote")
    _place(ev, 3, 10, "exact")
    assert (ev.start, ev.end, ev.alignment) == (3, 10, "exact")
    assert {"start", "end", "alignment"} <= ev.model_fields_set
    assert ev.model_dump(exclude_unset=True) == {
        "quote": "a quote", "start": 3, "end": 10, "alignment": "exact",
    }  # fmt: skip
