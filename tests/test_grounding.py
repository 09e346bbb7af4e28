"""Quote alignment and the grounding policies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from summarizer.contract.models import ArticleSummary
from summarizer.grounding import Aligner, Grounder, GroundingError, normalize

ARTICLE = (
    "Trump said he may soon meet with Putin in person in Saudi Arabia, though he didn\u2019t\n"
    "provide an exact timeline. The Kremlin \u2014 via TASS \u2014 said the leaders spoke for\r\n"
    "about an hour and a half.\u00a0\u201cNo one wants peace more than Ukraine,\u201d "
    "Zelenskyy said\u2026 later."
)


def _at(aligner: Aligner, quote: str) -> tuple[str, str]:
    match = aligner.locate(quote)
    assert match is not None, quote
    return ARTICLE[match.start : match.end], match.alignment


def test_exact_match() -> None:
    span, how = _at(Aligner(ARTICLE), "meet with Putin in person")
    assert (span, how) == ("meet with Putin in person", "exact")


@pytest.mark.parametrize(
    ("quote", "expected"),
    [
        # straight apostrophe and a collapsed line break
        ("though he didn't provide an exact timeline",
         "though he didn\u2019t\nprovide an exact timeline"),
        # plain hyphens for em dashes, CRLF inside
        ("The Kremlin - via TASS - said the leaders spoke for about an hour",
         "The Kremlin \u2014 via TASS \u2014 said the leaders spoke for\r\nabout an hour"),
        # straight quotes for curly ones, a non-breaking space before
        ('"No one wants peace more than Ukraine,"',
         "\u201cNo one wants peace more than Ukraine,\u201d"),
        # case differences
        ("TRUMP SAID HE MAY SOON MEET", "Trump said he may soon meet"),
        # three dots for an ellipsis character
        ("Zelenskyy said... later", "Zelenskyy said\u2026 later"),
    ],
)  # fmt: skip
def test_normalized_match_maps_back_to_original_offsets(quote: str, expected: str) -> None:
    span, how = _at(Aligner(ARTICLE), quote)
    assert span == expected
    assert how == "normalized"


def test_fuzzy_match_is_bounded() -> None:
    aligner = Aligner(ARTICLE)
    span, how = _at(aligner, "Trump said he may soon meet with Putin in persn in Saudi Arabia")
    assert how == "fuzzy"
    assert span == "Trump said he may soon meet with Putin in person in Saudi Arabia"
    # Different content is not "close enough", however long.
    assert aligner.locate("Trump said he will never meet with Putin anywhere at all") is None
    # Short quotes get no fuzzy leeway.
    assert aligner.locate("Putin in parson") is None
    assert aligner.locate("   ") is None


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab \n\t\u201c\u201d\u2014-'\u2019\u2026."), max_size=40))
def test_normalize_index_points_into_source(text: str) -> None:
    norm, index = normalize(text)
    assert len(index) == len(norm) + 1
    assert all(0 <= i <= len(text) for i in index)
    assert index == sorted(index)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_span_of_the_article_is_found_exactly_where_it_is(data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(ARTICLE) - 20))
    end = data.draw(st.integers(start + 15, min(start + 120, len(ARTICLE))))
    quote = ARTICLE[start:end]
    match = Aligner(ARTICLE).locate(quote)
    assert match is not None
    assert ARTICLE[match.start : match.end] == quote.strip()


def _summary(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "key_summary": {
            "headline": "Trump may meet Putin",
            "summary": "Trump may meet Putin. Details are unclear.",
            "key_points": [
                {"text": "A meeting may happen.",
                 "evidence": [{"quote": "may soon meet with Putin"}]}
            ],
        },
        "actors": [
            {"name": "Donald Trump", "kind": "person", "aliases": ["Trump"],
             "evidence": [{"quote": "Trump said he may soon meet"}]},
            {"name": "Vladimir Putin", "kind": "person",
             "evidence": [{"quote": "meet with Putin in person"}]},
        ],
        "commitments": [
            {"actor": "trump", "action": "may meet Putin", "counterparty": "Putin",
             "kind": "plan", "certainty": "tentative",
             "evidence": [{"quote": "he may soon meet with Putin"}]},
        ],
        "open_questions": [],
    }  # fmt: skip
    base.update(overrides)
    return base


def test_raise_policy_lists_every_problem() -> None:
    data = _summary()
    data["actors"][1]["evidence"] = [{"quote": "Putin rejected all talks"}]
    data["commitments"][0]["actor"] = "Joe Biden"
    with pytest.raises(GroundingError) as info:
        Grounder(ARTICLE).apply(ArticleSummary.model_validate(data))
    message = str(info.value)
    assert "actors[1]: quote not found in the article: 'Putin rejected all talks'" in message
    assert "commitments[0]: actor 'Joe Biden' is not one of the actors' names" in message


def test_drop_policy_keeps_what_is_supported() -> None:
    data = _summary()
    data["actors"][1]["evidence"].append({"quote": "an invented quote about Putin"})
    data["key_summary"]["key_points"].append(
        {"text": "Invented.", "evidence": [{"quote": "Putin agreed to withdraw"}]}
    )
    grounder = Grounder(ARTICLE, policy="drop")
    summary = ArticleSummary.model_validate(data)
    grounder.apply(summary)
    assert len(summary.key_summary.key_points) == 1
    assert [ev.quote for ev in summary.actors[1].evidence] == ["meet with Putin in person"]
    assert [d.section for d in grounder.report.dropped] == ["key_summary.key_points"]
    assert summary.commitments[0].actor == "Donald Trump"
    assert summary.commitments[0].counterparty == "Vladimir Putin"
    assert grounder.report.quotes_total == 6
    assert grounder.report.quotes_grounded == 4


def test_items_without_evidence_are_unsupported() -> None:
    data = _summary()
    data["actors"][0]["evidence"] = []
    with pytest.raises(GroundingError, match="has no evidence quote"):
        Grounder(ARTICLE).apply(ArticleSummary.model_validate(data))


def test_without_context_loading_does_not_ground() -> None:
    summary = ArticleSummary.model_validate(json.loads(json.dumps(_summary())))
    assert summary.actors[0].evidence[0].start is None


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("The U.S. agreed. Talks start Feb. 14 in Germany.", 2),
        ("Mr. Smith said \u201cno.\u201d Then he left!", 2),
        ("He met J. Smith. It went well. Later, nothing", 3),
        ("One sentence only", 1),
    ],
)
def test_sentence_count_skips_abbreviations(text: str, n: int) -> None:
    from summarizer.text import count_sentences

    assert count_sentences(text) == n


def test_quote_candidates_are_verbatim_sentences_or_clauses() -> None:
    from summarizer.grounding import quote_candidates

    text = (
        "The U.S. and Russia met on Feb. 14 in Riyadh. Talks lasted an hour.\n"
        "A spokesman said: " + ", ".join(f"item number {i} was discussed" for i in range(12)) + "."
    )
    found = quote_candidates(text)
    assert found[0] == "The U.S. and Russia met on Feb. 14 in Riyadh."
    assert "Talks lasted an hour." in found
    assert all(c in text and 3 <= len(c.split()) <= 40 for c in found)
    assert "item number 3 was discussed" in found  # a 60-word sentence is cut into clauses


def test_repeated_items_are_dropped_once_and_recorded() -> None:
    data = _summary()
    data["key_summary"]["key_points"] *= 3
    data["actors"].append(dict(data["actors"][0]))
    grounder = Grounder(ARTICLE)
    summary = ArticleSummary.model_validate(data)
    grounder.apply(summary)
    assert len(summary.key_summary.key_points) == 1
    assert [a.name for a in summary.actors] == ["Donald Trump", "Vladimir Putin"]
    assert "key_points: dropped 2 repeated item(s)" in grounder.report.fixes


@settings(max_examples=400, deadline=None)
@given(
    st.text(
        alphabet="ab C.\t\n\r \u00a0\u2019\u201c\u2014\u2026\u0130\u00df\u2028\x1c\x85"
        "\u00e9\u0301\u00ad\u200b\ufb01\uff21\u00a8\u0416\ufdfa"
    )
    | st.text()
)
def test_fast_normalize_matches_the_character_loop(text: str) -> None:
    from summarizer.similarity import _normalize_slow

    assert normalize(text) == _normalize_slow(text)


def test_loading_a_summary_grounds_nothing() -> None:
    """Grounding is an explicit step: the public model has no validator that reads
    a grounder from anywhere, so loading an ungrounded summary just loads it."""
    data = {
        "key_summary": {
            "headline": "h",
            "summary": "s",
            "key_points": [{"text": "Invented.", "evidence": [{"quote": "not in any article"}]}],
        }
    }
    summary = ArticleSummary.model_validate(data, context={"grounder": Grounder(ARTICLE)})
    assert summary.key_summary.key_points[0].evidence[0].start is None
    assert not ArticleSummary.__pydantic_decorators__.model_validators
