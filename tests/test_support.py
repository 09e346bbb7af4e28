"""The support check: an item's text must follow from its own quotes (issue #13)."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

from summarizer import Summarizer, support
from summarizer.backends.function import FunctionBackend
from summarizer.contract.models import Actor, ArticleSummary
from summarizer.evals.goldens import load_case
from summarizer.evals.scoring import SECTION_WEIGHTS, score_summary
from summarizer.grounding import Aligner, Grounder, GroundingError
from summarizer.item_support import ItemSupport, SupportChecker
from summarizer.quotes import common_prefix
from summarizer.similarity import ActorNames
from summarizer.support import check_support
from tests.conftest import ROOT

DATASET = ROOT / "evals" / "wikinews"


def summary_support(summary: ArticleSummary, article: str) -> list[ItemSupport]:
    return SupportChecker(article, Aligner(article)).summary(summary)


SHOTS = "They clashed with security forces who fired shots into the air to disperse the crowd."


def test_a_claim_pinned_to_an_unrelated_quote_is_unsupported() -> None:
    """The embedded model's key point in 001: a real quote, a claim it does not make."""
    support = check_support("At least 24 people have been reported injured.", [SHOTS])
    assert not support.supported
    assert "24" in support.missing
    assert "injured" in support.missing
    assert support.coverage == 0.0


def test_a_status_word_the_quote_lacks_is_unsupported() -> None:
    quote = (
        "Immediately after speaking with the Russian leader, Trump called Ukrainian "
        "President Volodymyr Zelenskyy."
    )
    support = check_support("Trump called Ukraine's president-elect Volodymyr Zelenskyy.", [quote])
    assert not support.supported
    assert support.missing == ("elect",)
    assert check_support("Trump called Ukrainian President Volodymyr Zelenskyy.", [quote]).supported


def test_a_faithful_paraphrase_is_supported() -> None:
    quote = (
        "Speaking with reporters at the White House later on Feb. 12, Trump said he may soon "
        "meet with Putin in person in Saudi Arabia, though he didn't provide an exact "
        "timeline for such a meeting."
    )
    support = check_support(
        "Trump said he might meet Putin in Saudi Arabia soon but gave no timeline.", [quote]
    )
    assert support.supported, support
    assert check_support(
        "Russia agreed to start talks on ending the war.",
        ["Russia has agreed to start negotiations immediately to end the war in Ukraine."],
    ).supported


@pytest.mark.parametrize(
    ("claim", "quote", "supported"),
    [
        ("Twenty-four people were injured.", "At least 24 people were injured.", True),
        ("24 people were injured.", "At least twenty-four people were injured.", True),
        ("25 people were injured.", "At least 24 people were injured.", False),
        ("The plan costs 1.5 million dollars.", "The plan costs $1,500,000 dollars.", True),
        ("The deal was signed in 2009.", "The deal was signed in 2008.", False),
        ("The strike killed three Hamas members.", "The strike killed two Hamas members.", False),
        # a spelled small count for a quote with no number: a paraphrase ("bi-weekly")
        ("They will meet every two weeks.", "They will meet on a bi-weekly basis.", True),
        # a date's day and year are two numbers, each needed
        ("Talks resume on Feb. 14, 2008.", "Talks resume on Feb. 14 next year.", False),
    ],
)  # fmt: skip
def test_numbers_must_match_by_value(claim: str, quote: str, supported: bool) -> None:
    assert check_support(claim, [quote]).supported is supported


def test_a_negation_the_quote_lacks_is_unsupported() -> None:
    quote = "Russia has agreed to start negotiations to end the war."
    assert not check_support("Russia has not agreed to start negotiations.", [quote]).supported
    assert check_support(
        "Russia refused to start negotiations.", ["Russia has refused to start negotiations."]
    ).supported


def test_an_alias_or_a_pronoun_stands_for_an_actor() -> None:
    putin = Actor(name="Vladimir Putin", kind="person", aliases=["Putin", "the Russian leader"])
    names = ActorNames([putin])
    quote = "The Russian leader agreed to start negotiations to end the war."
    claim = "After the call, Putin agreed to start negotiations to end the war."
    assert not check_support(claim, [quote]).supported  # no actors: "Putin" is not there
    assert check_support(claim, [quote], names=names).supported
    # "he" may be Putin when the quote names no one else ...
    assert check_support(claim, ["He agreed to start negotiations."], names=names).supported
    # ... not when it names someone the claim does not
    trump = Actor(name="Donald Trump", kind="person", aliases=["Trump"])
    both = ActorNames([putin, trump])
    assert not check_support(
        claim, ["Trump said he agreed to start negotiations."], names=both
    ).supported


def test_a_golden_summary_is_supported() -> None:
    case = load_case(DATASET, "000-seed-trump-putin-call")
    items = summary_support(case.summary, case.text)
    assert len(items) == 1 + sum(
        map(len, (case.summary.key_summary.key_points, case.summary.actors,
                  case.summary.commitments, case.summary.open_questions))
    )  # fmt: skip
    assert [i.path for i in items if not i.support.supported] == []


def test_goldens_are_nearly_all_supported() -> None:
    """The calibration: hand-labeled summaries are true; the few items that fail claim a
    fact that is in none of their quotes' sentences (a golden labeling gap)."""
    total = ok = 0
    for path in sorted((DATASET / "golden").glob("*.json")):
        case = load_case(DATASET, path.stem)
        items = SupportChecker(case.text, Aligner(case.text)).summary(case.summary)
        total += len(items)
        ok += sum(i.support.supported for i in items)
    assert ok / total >= 0.95, (ok, total)


def test_the_seed_fixture_is_fully_supported(seed_text: str, seed_summary: dict[str, Any]) -> None:
    summary = ArticleSummary.model_validate(seed_summary)
    assert [i.path for i in summary_support(summary, seed_text) if not i.support.supported] == []


def _with_injured_point(seed_summary: dict[str, Any]) -> ArticleSummary:
    raw = copy.deepcopy(seed_summary)
    raw["key_summary"]["key_points"].append(
        {
            "text": "At least 24 people were injured in the call's aftermath.",
            "evidence": [
                {"quote": "Trump said he may soon meet with Putin in person in Saudi Arabia"}
            ],
        }
    )
    return ArticleSummary.model_validate(raw)


def test_drop_policy_removes_an_unsupported_item_and_records_it(
    seed_text: str, seed_summary: dict[str, Any]
) -> None:
    summary = _with_injured_point(seed_summary)
    grounder = Grounder(seed_text, policy="drop")
    grounder.apply(summary)
    texts = [kp.text for kp in summary.key_summary.key_points]
    assert "At least 24 people were injured in the call's aftermath." not in texts
    assert len(texts) == 3
    dropped = grounder.report.dropped
    assert [(d.section, d.item) for d in dropped] == [
        ("key_summary.key_points", "At least 24 people were injured in the call's aftermath.")
    ]
    assert dropped[0].reason.startswith("unsupported: ")
    # On every answer only the enforced rules run: the number is what contradicts.
    assert dropped[0].reason == 'unsupported: "24" not in its quotes'
    report = grounder.report
    assert report.items_total == report.items_supported + 1
    assert report.support_meta()["unsupported"] == ['key_summary.key_points[3]: "24"']


def test_raise_policy_names_the_item_and_the_missing_words(
    seed_text: str, seed_summary: dict[str, Any]
) -> None:
    summary = _with_injured_point(seed_summary)
    with pytest.raises(GroundingError) as err:
        Grounder(seed_text).apply(summary)
    message = str(err.value)
    assert 'key_summary.key_points[3]: "24" is not in its evidence' in message
    assert "quote the sentence that says it or drop the point" in message


def test_an_unsupported_headline_is_re_asked_or_kept_and_listed(
    seed_text: str, seed_summary: dict[str, Any]
) -> None:
    raw = copy.deepcopy(seed_summary)
    raw["key_summary"]["headline"] = "Trump calls Ukraine's president-elect after Putin call"
    with pytest.raises(GroundingError, match=r'key_summary\.headline: "elect" is not in'):
        Grounder(seed_text).apply(ArticleSummary.model_validate(raw))
    summary = ArticleSummary.model_validate(raw)
    grounder = Grounder(seed_text, policy="drop")
    grounder.apply(summary)
    assert summary.key_summary.headline == raw["key_summary"]["headline"]  # a summary needs one
    assert grounder.report.dropped == []
    assert grounder.report.unsupported == ['key_summary.headline: "elect"']


def test_meta_records_the_supported_counts(seed_text: str, seed_summary: dict[str, Any]) -> None:
    with Summarizer(backend=FunctionBackend.replay([seed_summary])) as s:
        meta = s.summarize(seed_text).meta["grounding"]
    assert meta["supported"] == {
        "rules": ["negation", "number", "status"],
        "items": 14,
        "supported": 14,
        "unsupported": [],
    }


def test_a_re_ask_fixes_an_unsupported_answer(seed_text: str, seed_summary: dict[str, Any]) -> None:
    bad = _with_injured_point(seed_summary).model_dump(mode="json", exclude={"meta"})
    backend = FunctionBackend.replay([bad, seed_summary])
    with Summarizer(backend=backend) as s:
        summary = s.summarize(seed_text)
    assert summary.meta["attempts"]["reasks"] == 1
    assert len(summary.key_summary.key_points) == 3


def test_scoring_reports_supported_beside_the_unchanged_score() -> None:
    case = load_case(DATASET, "001-annapolis-joint-understanding")
    candidate = ArticleSummary.model_validate_json(
        (ROOT / "benchmarks/results/eval-local/candidates" / f"{case.id}.json").read_text("utf-8")
    )
    result = score_summary(case.summary, candidate, case.text, case.raw)
    supported = result["supported"]
    assert supported["items"] == 6
    assert 0 < supported["rate"] < 1
    unsupported = {u["item"]: u["missing"] for u in supported["unsupported"]}
    assert "24" in unsupported["key_summary.key_points[0]"]
    overall = sum(SECTION_WEIGHTS[s] * result["sections"][s]["score"] for s in SECTION_WEIGHTS)
    assert result["score"] == round(overall, 4)  # the score's weights are untouched
    itself = score_summary(case.summary, case.summary, case.text, case.raw)["supported"]
    assert itself["rate"] == 1.0


def test_the_report_shows_supported(tmp_path: Any) -> None:
    from rich.console import Console

    from summarizer.evals.report import mean_supported, print_table

    report = {
        "run": {"dataset": "d"},
        "articles": {
            "a": {"score": 0.5, "sections": {s: {"score": 0.5} for s in SECTION_WEIGHTS},
                  "supported": {"rate": 0.75, "items": 4, "supported": 3, "unsupported": []}},
            "b": {"score": 0.0, "error": "no candidate file",
                  "sections": {s: {"score": 0.0} for s in SECTION_WEIGHTS}},
        },
        "aggregate": {"score": 0.25, "sections": dict.fromkeys(SECTION_WEIGHTS, 0.25),
                      "articles": 2, "errors": 1},
    }  # fmt: skip
    assert mean_supported(report) == 0.75
    console = Console(width=200, record=True)
    print_table(report, console)
    out = console.export_text()
    assert "supported" in out
    assert "0.750" in out
    assert json.dumps(report)  # still plain JSON


@pytest.mark.parametrize("token", ["1.8.3", "10.0.0.1", "2.000,50", "3,4.5.6"])
def test_version_numbers_and_addresses_are_numbers_that_never_raise(token: str) -> None:
    """Found on a real page: "1.8.3" made float() raise inside the validator."""
    assert check_support(f"Version {token} was released.", [f"They released {token}."]).supported
    other = check_support(f"Version {token} was released.", ["They released version 9."])
    assert not other.supported
    assert "number" in other.failed


@pytest.mark.parametrize(
    ("claim", "quote"),
    [
        ("Mary Jones agreed to cut taxes", "Mary Jones refused to agree to cut taxes."),
        ("Jones agreed to meet the union", "Jones has not agreed to meet the union."),
        ("Jones promised to resign by March", "Jones denied that she had promised to resign."),
        ("The ceasefire held overnight", "The ceasefire never held overnight, officials said."),
    ],
)
def test_a_claim_that_drops_its_evidence_s_negation_is_unsupported(claim: str, quote: str) -> None:
    """Found by a review: the negation rule only looked one way (a negation in the
    claim must be in the evidence); a claim stating what its evidence says did not
    happen passed."""
    from summarizer.support import contradictions

    support = contradictions(claim, [quote])
    assert not support.supported
    assert support.failed == ("negation",)


@pytest.mark.parametrize(
    ("claim", "quote"),
    [
        # a condition asserts nothing
        ("EU warned of consequences unless Russia fully implements the plan",
         "The EU warned of consequences if Russia failed to fully implement the plan."),
        # an attempt, a contrast
        ("Two passengers tried to free the pilot", "The passengers were unable to free him."),
        ("Turkey should seek a diplomatic rather than military solution",
         "It called for a diplomatic solution and not a military solution."),
        # the negated word followed by something else
        ("Workers prepare to defend their factory",
         "The governor would be culpable in failing to defend the workers."),
        # the claim keeps the negation
        ("Jones has not agreed to meet the union", "Jones has not agreed to meet the union."),
    ],
)  # fmt: skip
def test_a_negation_elsewhere_in_the_evidence_is_not_a_contradiction(
    claim: str, quote: str
) -> None:
    from summarizer.support import contradictions

    assert contradictions(claim, [quote]).supported


def _has_form_by_definition(key: str, words: frozenset[str]) -> bool:
    """support._has_form as first written: every word compared, no shortcut."""
    return key in words or any(
        min(len(w), len(key)) >= 4
        and w[:4] == key[:4]
        and common_prefix(w, key) >= min(len(w), len(key)) - 2
        for w in words
    )


def _states_negated_by_definition(
    lowered: list[str], negated: frozenset[tuple[str, str | None]]
) -> int | None:
    for i, w in enumerate(lowered):
        if len(w) < 4 or support._NOT_ASSERTED.intersection(lowered[max(0, i - 3) : i]):
            continue
        for word, after in negated:
            if not _has_form_by_definition(w, frozenset((word,))):
                continue
            if after is None or _has_form_by_definition(after, frozenset(lowered[i + 1 : i + 5])):
                return i
    return None


def test_the_word_form_shortcuts_find_what_the_definition_finds() -> None:
    """_has_form and _states_negated skip words by their first four letters: they
    must still agree with the plain definition on every input."""
    rng = random.Random(3)
    vocab = [
        "agree", "agreed", "agreement", "agr", "talks", "talk", "tal", "a", "", "not",
        "tried", "than", "signed", "sign", "signature", "abcd", "abce", "abcde", "abcdx",
        "abc", "AbCd", "ﬁnal", "final", "İstan", "istan",
    ]  # fmt: skip

    def word() -> str:
        if rng.random() < 0.7:
            return rng.choice(vocab)
        return "".join(rng.choice("abcdeé'") for _ in range(rng.randint(0, 8)))

    found = 0
    for _ in range(20000):
        key, words = word(), frozenset(word() for _ in range(rng.randint(0, 6)))
        assert support._has_form(key, words) == _has_form_by_definition(key, words)
        lowered = [word() for _ in range(rng.randint(0, 10))]
        negated = frozenset(
            (word(), word() if rng.random() < 0.7 else None) for _ in range(rng.randint(1, 3))
        )
        at = support._states_negated(lowered, negated)
        assert at == _states_negated_by_definition(lowered, negated)
        found += at is not None
    assert found > 500


def test_a_consistent_claim_gets_the_plain_support() -> None:
    assert support.contradictions("Talks went on.", ["Talks went on."]) == support.Support(
        True, 1.0, (), ()
    )


@pytest.mark.parametrize(
    "text", ["The site covers 5 km ² of land", "It grew by ² units", "Area 5² km"]
)
def test_a_superscript_digit_is_no_number_and_no_crash(text: str) -> None:
    """``"²"`` is a digit to ``str.isdigit`` that ``float()`` refuses: a claim or quote
    with one made the support check raise ValueError (the request failed)."""
    from summarizer.numbers import numbers_in
    from summarizer.support import contradictions

    assert contradictions(text, [text]).supported
    assert [v for v, _, _ in numbers_in(text.lower().split())] == ([5.0] if "5" in text else [])
