"""Sentence segmentation for the extractive methods: exact spans, news-text traps."""

from __future__ import annotations

import pytest

from summarizer.evals.goldens import article_text, dataset_ids
from summarizer.extractive.sentences import quote, split_sentences, title_line
from tests.conftest import ROOT, SEED

DATASET = ROOT / "evals" / "wikinews"


def texts(article: str) -> list[str]:
    return [s.text for s in split_sentences(article)]


@pytest.mark.parametrize("case_id", dataset_ids(DATASET))
def test_every_sentence_is_an_exact_span_in_order(case_id: str) -> None:
    article = article_text(DATASET, case_id)
    sentences = split_sentences(article)
    assert sentences
    last_end = 0
    for i, s in enumerate(sentences):
        assert s.index == i
        assert article[s.start : s.end] == s.text
        assert s.text == s.text.strip()
        assert s.start >= last_end
        last_end = s.end


@pytest.mark.parametrize(
    ("article", "expected"),
    [
        # Upper-case dotted forms qualify the noun after them, line break or not.
        (
            "Responding to the motion, U.S.\nPresident George W. Bush urged Turkey to wait.",
            ["Responding to the motion, U.S.\nPresident George W. Bush urged Turkey to wait."],
        ),
        (
            "Former U.N. Secretary-General Kofi Annan oversees the talks. They resume today.",
            [
                "Former U.N. Secretary-General Kofi Annan oversees the talks.",
                "They resume today.",
            ],
        ),
        (
            "The issue may be heard before the U.S. Supreme Court. Nobody knows when.",
            ["The issue may be heard before the U.S. Supreme Court.", "Nobody knows when."],
        ),
        # ... and end a sentence when a sentence starter follows.
        (
            "Muslims traveling to the U.S. The President later took action.",
            ["Muslims traveling to the U.S.", "The President later took action."],
        ),
        # After a lower-case dotted form, "Police" starts a new sentence.
        (
            "The crash happened at 5 p.m. Police said two people died.",
            ["The crash happened at 5 p.m.", "Police said two people died."],
        ),
        # Abbreviations, initials, decimals.
        (
            "Mr. Putin spoke on Feb. 12 with George W. Bush about a 3.5 percent rise.",
            ["Mr. Putin spoke on Feb. 12 with George W. Bush about a 3.5 percent rise."],
        ),
        # A quote closing after the full stop stays with its sentence.
        (
            '"We will win." He said it twice.',
            ['"We will win."', "He said it twice."],
        ),
        # An opening curly quote typed for a closing one, then a space: still an end.
        (
            "I am disappointed with the decision.“ However, the JSC gets the seats.",
            ["I am disappointed with the decision.“", "However, the JSC gets the seats."],
        ),
        # A blank line ends a sentence even without a full stop.
        (
            "It began.\n\nA paragraph without stop\n\nSecond one.",
            ["It began.", "A paragraph without stop", "Second one."],
        ),
    ],
)
def test_boundaries(article: str, expected: list[str]) -> None:
    assert texts(article) == expected


def test_title_line_is_reported_apart_and_left_out() -> None:
    article = "Merkel: Georgia will join NATO\n\nMerkel spoke on Sunday. Moscow objected."
    span = title_line(article)
    assert span is not None
    assert article[span[0] : span[1]] == "Merkel: Georgia will join NATO"
    assert texts(article) == ["Merkel spoke on Sunday.", "Moscow objected."]


def test_no_title_when_the_first_line_is_a_sentence_or_has_no_blank_line() -> None:
    assert title_line("He spoke on Sunday.\n\nMoscow objected.") is None
    assert title_line(SEED.read_text(encoding="utf-8")) is None


def test_seed_sentences_join_lines_broken_inside_a_sentence() -> None:
    seed = SEED.read_text(encoding="utf-8")
    found = [s for s in texts(seed) if s.startswith("“I just had")]
    assert found == [
        "“I just had a lengthy and highly productive phone call with President Vladimir "
        "Putin of Russia,” Trump announced in a Feb. 12\npost on Truth Social."
    ]


def test_quote_is_cut_at_forty_words_and_stays_an_exact_span() -> None:
    words = " ".join(f"W{i}," for i in range(60))
    article = f"Intro sentence here. {words} end."
    long_sentence = split_sentences(article)[1]
    ev = quote(long_sentence)
    assert ev.start is not None
    assert ev.end is not None
    assert article[ev.start : ev.end] == ev.quote
    assert len(ev.quote.split()) == 40
    assert ev.quote.endswith("W39")  # the trailing comma is not part of the quote
    assert ev.alignment == "exact"


def test_one_splitter_for_every_part() -> None:
    """The rules' sentences and the spans the support checks, chunking and merging read
    are the same (there were two splitters, which disagreed on "U.S. officials")."""
    from summarizer.text import sentence_spans

    text = (
        "U.S. officials met on Feb. 12 with Mr. Putin. The talks ended at 5 p.m. The "
        'report notes, "Warming is likely [...] No other explanation fits." He left.'
    )
    rules = [(s.start, s.end) for s in split_sentences(text)]
    assert rules == sentence_spans(text)
    assert [text[a:b] for a, b in rules] == [
        "U.S. officials met on Feb. 12 with Mr. Putin.",
        "The talks ended at 5 p.m.",
        'The report notes, "Warming is likely [...] No other explanation fits."',
        "He left.",
    ]
