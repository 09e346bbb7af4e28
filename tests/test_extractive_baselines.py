"""The no-model baselines (lead, textrank): grounded by construction, within the
contract's bounds, deterministic, and each rule doing what the issue describes."""

from __future__ import annotations

import re

import pytest

from summarizer.contract.llm_schema import over_bounds
from summarizer.contract.models import Actor, ArticleSummary
from summarizer.evals.goldens import article_text, dataset_ids
from summarizer.extractive.floor import (
    MAX_ACTORS,
    as_question,
    capitalized_actors,
    hedged_questions,
    modal_commitments,
)
from summarizer.extractive.keysummary import (
    KEY_POINTS,
    lead_key_summary,
    ranked,
    ranked_key_summary,
)
from summarizer.extractive.methods import (
    BASELINES,
    METHOD_SECTIONS,
    METHODS,
    summarize_lead,
    summarize_textrank,
)
from summarizer.extractive.salience import MAX_RANKED, centrality
from summarizer.extractive.sentences import split_sentences
from tests.conftest import ROOT, SEED

DATASET = ROOT / "evals" / "wikinews"
ARTICLES = {case_id: article_text(DATASET, case_id) for case_id in dataset_ids(DATASET)}
ARTICLES["seed"] = SEED.read_text(encoding="utf-8")


def _hedge(text: str) -> str:
    """The question ``hedged_questions`` makes of a one-sentence article."""
    sentences = split_sentences(text)
    (question,) = hedged_questions(text, sentences, [])
    return question.question


# --- every article, both methods ---------------------------------------------------


@pytest.mark.parametrize("method", sorted(BASELINES))
@pytest.mark.parametrize("case_id", sorted(ARTICLES))
def test_every_quote_is_the_article_span_it_claims(method: str, case_id: str) -> None:
    article = ARTICLES[case_id]
    summary = BASELINES[method](article)
    evidence = summary.evidence()
    items = (
        len(summary.key_summary.key_points)
        + len(summary.actors)
        + len(summary.commitments)
        + len(summary.open_questions)
    )
    assert len(evidence) >= items  # every item carries a quote
    for ev in evidence:
        assert ev.start is not None
        assert ev.end is not None
        assert article[ev.start : ev.end] == ev.quote
        assert 3 <= len(ev.quote.split()) <= 40
        assert ev.alignment == "exact"


@pytest.mark.parametrize("method", sorted(BASELINES))
@pytest.mark.parametrize("case_id", sorted(ARTICLES))
def test_output_validates_and_respects_the_bounds(method: str, case_id: str) -> None:
    summary = BASELINES[method](ARTICLES[case_id])
    dumped = summary.model_dump(mode="json")
    assert ArticleSummary.model_validate(dumped).model_dump(mode="json") == dumped
    ks = summary.key_summary
    assert 1 <= len(ks.headline.split()) <= 15
    assert 1 <= len(ks.summary.split()) <= 90
    assert 3 <= len(ks.key_points) <= min(7, KEY_POINTS)
    assert 1 <= len(summary.actors) <= 20
    assert len(summary.commitments) <= 15
    assert len(summary.open_questions) <= 8
    assert over_bounds(dumped) is None
    names = {a.name for a in summary.actors}
    assert len(names) == len(summary.actors)  # no actor twice
    assert all(c.actor in names for c in summary.commitments)
    assert all(q.question.endswith("?") for q in summary.open_questions)
    assert all(set(q.actors) <= names for q in summary.open_questions)
    assert summary.meta == {"method": method}


@pytest.mark.parametrize("method", sorted(BASELINES))
def test_deterministic(method: str) -> None:
    first = {cid: BASELINES[method](text).model_dump(mode="json") for cid, text in ARTICLES.items()}
    split_sentences.cache_clear()
    again = {cid: BASELINES[method](text).model_dump(mode="json") for cid, text in ARTICLES.items()}
    assert first == again


def test_method_sections_describe_every_baseline() -> None:
    assert set(BASELINES) == {"lead", "textrank"}
    assert set(METHOD_SECTIONS) == set(METHODS) == {"lead", "textrank", "rules"}
    for sections in METHOD_SECTIONS.values():
        assert set(sections) == {"key_summary", "actors", "commitments", "open_questions"}


# --- key summary -------------------------------------------------------------------

TITLED = (
    "Ministers agree on new fisheries deal\n\n"
    "Fisheries ministers from Norway and Iceland agreed on Tuesday to share the "
    "mackerel quota. The deal ends a dispute that lasted six years. Fishermen in both "
    "countries welcomed the news. Norway will cut its catch by ten percent. Iceland "
    "will do the same next year. Analysts said the quota may still be too high."
)


def test_title_line_is_the_headline() -> None:
    sentences = split_sentences(TITLED)
    for make in (lead_key_summary, ranked_key_summary):
        assert make(TITLED, sentences).headline == "Ministers agree on new fisheries deal"


def test_a_title_given_apart_wins_over_the_title_line() -> None:
    summary = summarize_lead(TITLED, title="Page title\nfrom the HTML")
    assert summary.key_summary.headline == "Page title from the HTML"


def test_without_a_title_the_headline_is_the_first_sentence_cut_to_15_words() -> None:
    article = (
        "Fisheries ministers from Norway and Iceland agreed on Tuesday to share the "
        "mackerel quota between their fleets for the next five years. The deal ends a "
        "dispute. Fishermen welcomed it."
    )
    headline = summarize_lead(article).key_summary.headline
    assert headline == (
        "Fisheries ministers from Norway and Iceland agreed on Tuesday to share the "
        "mackerel quota between…"
    )  # cut, and marked as cut
    short = summarize_lead(
        "Norway and Iceland agreed on Tuesday to share the quota. Fishermen cheered."
    )
    assert short.key_summary.headline == "Norway and Iceland agreed on Tuesday to share the quota"


def test_lead_takes_the_first_sentences_in_order() -> None:
    sentences = split_sentences(TITLED)
    ks = lead_key_summary(TITLED, sentences)
    assert [kp.text for kp in ks.key_points] == [s.text for s in sentences[:KEY_POINTS]]
    assert ks.summary == " ".join(s.text for s in sentences[:3])
    for kp, s in zip(ks.key_points, sentences, strict=False):
        assert kp.evidence[0].start == s.start


def test_summary_stops_at_90_words() -> None:
    long_sentence = " ".join(["Word"] * 50) + "."
    article = f"Title here\n\n{long_sentence} {long_sentence} {long_sentence}"
    summary = summarize_lead(article).key_summary.summary
    assert len(summary.split()) == 90
    assert summary.endswith("…")


def test_key_point_text_is_one_line_and_fits_the_schema() -> None:
    words = " ".join(f"word{i}" for i in range(120))
    article = f"Short one here.\nA very long\nsentence {words}. Another one here. And a last one."
    ks = summarize_lead(article).key_summary
    texts = [kp.text for kp in ks.key_points]
    assert texts[1].startswith("A very long sentence word0")  # line breaks folded
    assert len(texts[1]) <= 250
    assert texts[1].endswith("…")


def test_textrank_prefers_the_sentence_the_article_keeps_returning_to() -> None:
    article = (
        "Weather notes\n\n"
        "It was sunny in the morning. "
        "The city council approved the new harbour budget. "
        "Birds sang loudly near the station. "
        "The harbour budget funds new cranes for the council. "
        "Critics of the council said the harbour budget is too large. "
        "The council will review the harbour budget in May."
    )
    sentences = split_sentences(article)
    top = ranked_key_summary(article, sentences).key_points[0].text
    assert "harbour budget" in top
    lead_first = lead_key_summary(article, sentences).key_points[0].text
    assert lead_first == "It was sunny in the morning."


def test_ranked_leaves_out_near_repeats() -> None:
    article = (
        "Both the United States and Iraq have recently warned Turkey against such an "
        "incursion. Turkey voted to allow troops into Iraq. Both the United States and "
        "Iraq have recently warned Turkey against an incursion into Iraq. Turkey said "
        "the vote does not mean an attack is imminent."
    )
    chosen = [s.text for s in ranked(split_sentences(article))]
    assert sum(t.startswith("Both the United States") for t in chosen) == 1


# --- centrality --------------------------------------------------------------------


def test_centrality_is_a_distribution_that_favours_the_hub() -> None:
    article = (
        "Apples are red. Apples and pears grow on trees. Pears are green. The train left late."
    )
    sentences = split_sentences(article)
    scores = centrality(sentences)
    assert sum(scores) == pytest.approx(1.0)
    assert max(range(4), key=scores.__getitem__) == 1  # shares words with both others
    assert scores[3] == min(scores)  # unconnected
    assert centrality([]) == []


def test_centrality_ranks_a_bounded_number_of_sentences(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The similarity graph is quadratic in its sentences: a long input must not make
    it so (a 200 KB page took 24 s and 1.2 GB before the bound). Counted, not timed."""
    from summarizer.extractive import salience

    calls = 0
    real = salience.overlap

    def counted(a: set[str], b: set[str]) -> float:
        nonlocal calls
        calls += 1
        return real(a, b)

    monkeypatch.setattr(salience, "overlap", counted)
    text = " ".join(f"Minister number {i} said the budget {i} would rise." for i in range(1000))
    sentences = split_sentences(text)
    assert len(sentences) == 1000
    scores = centrality(sentences)
    assert len(scores) == 1000
    assert scores[MAX_RANKED:] == [0.0] * (1000 - MAX_RANKED)
    assert sum(scores) == pytest.approx(1.0)
    assert calls == MAX_RANKED * (MAX_RANKED - 1) // 2


def test_ranked_stops_at_the_key_points_it_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The near-repeat check compares each candidate with those already chosen: it
    must stop once ``limit`` are chosen, not walk the whole article."""
    from summarizer.extractive import keysummary

    calls = 0
    real = keysummary.stems

    def counted(text: str) -> set[str]:
        nonlocal calls
        calls += 1
        return real(text)

    def word(i: int) -> str:  # distinct letters-only words: stems drop digits
        return "".join(chr(ord("a") + int(d)) for d in f"{i:04d}") + "ville"

    sentences = split_sentences(
        " ".join(
            f"Mayor {word(3 * i).title()} opened {word(3 * i + 1)} {word(3 * i + 2)}."
            for i in range(400)
        )
    )
    monkeypatch.setattr(keysummary, "stems", counted)
    chosen = ranked(sentences, limit=KEY_POINTS)
    assert len(chosen) == KEY_POINTS
    assert calls == KEY_POINTS  # distinct sentences: no candidate skipped, none past the limit


def test_the_rules_stay_small_on_a_long_article() -> None:
    """Peak memory of the whole rule-based summary on a 200 KB article (was 1.2 GB
    before the bounds): a size check, not a timing."""
    import tracemalloc

    from summarizer.extractive.methods import summarize_rules

    parts = [ARTICLES[cid] for cid in sorted(ARTICLES)]
    text = "\n\n".join(parts * (200_000 // sum(len(p) for p in parts) + 1))[:200_000]
    tracemalloc.start()
    try:
        summary = summarize_rules(text, title=None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.key_summary.key_points
    assert over_bounds(summary) is None
    assert peak < 150 * 2**20, f"peak {peak / 2**20:.0f} MiB"


# --- actors ------------------------------------------------------------------------


def _actors(text: str) -> list[Actor]:
    return capitalized_actors(text, split_sentences(text))


def test_capitalized_runs_seen_twice_are_actors() -> None:
    text = (
        "The talks began in Geneva on Monday. Vladimir Putin spoke first. "
        "Vladimir Putin sat down. "
        "In March, Putin met Red Cross officials. The Red Cross said Putin listened. "
        "Geneva police watched."
    )
    actors = {a.name: a for a in _actors(text)}
    # "Putin" is an alias of the fullest name that ends with it.
    assert actors["Vladimir Putin"].aliases == ["Putin"]
    assert "Red Cross" in actors
    assert "Geneva" in actors
    # Sentence-initial function words, months and days are not names.
    assert not {"The", "In", "March", "Monday", "The Red Cross"} & set(actors)
    ev = actors["Red Cross"].evidence[0]
    assert ev.quote == "In March, Putin met Red Cross officials."


def test_a_name_seen_once_is_not_an_actor() -> None:
    text = "Angela Merkel visited Tbilisi. Merkel spoke. Merkel left. Sarkozy called."
    names = [a.name for a in _actors(text)]
    assert names == ["Merkel"]


def test_organization_kind_by_the_name_ending() -> None:
    text = (
        "The Labour Party met. Critics of the Labour Party left. NATO replied. "
        "NATO waited. Sunak spoke. Sunak left."
    )
    kinds = {a.name: a.kind for a in _actors(text)}
    assert kinds == {"Labour Party": "organization", "NATO": "organization", "Sunak": "other"}


def test_actor_count_is_capped() -> None:
    text = " ".join(f"Name{chr(65 + i)} met Name{chr(65 + i)} again." for i in range(25))
    assert len(_actors(text)) == MAX_ACTORS


# --- commitments -------------------------------------------------------------------


def test_agreed_to_becomes_an_agreement_of_the_first_actor() -> None:
    text = (
        "Leaders met in Lima. Colombia and Ecuador agreed to restore diplomatic ties by "
        "March 1. Colombia said little. Ecuador was calm."
    )
    sentences = split_sentences(text)
    actors = capitalized_actors(text, sentences)
    (commitment,) = modal_commitments(text, sentences, actors)
    assert commitment.actor == "Colombia"
    assert commitment.kind == "agreement"
    assert commitment.certainty == "firm"
    assert commitment.deadline == "by March 1"
    assert commitment.action == sentences[1].text
    assert commitment.evidence[0].quote == sentences[1].text


@pytest.mark.parametrize(
    ("sentence", "kind", "certainty", "deadline"),
    [
        ("Kim vowed to chase the instigators.", "pledge", "firm", None),
        ("Kim will meet Lee if the talks go well.", "plan", "conditional", None),
        ("Kim plans to visit Seoul next week.", "plan", "firm", "next week"),
        ("Kim promised a reply within 48 hours.", "pledge", "firm", "within 48 hours"),
        # A date before the verb is when it was said, not a deadline.
        ("On Sunday Kim said he will meet Lee.", "plan", "firm", None),
        ("Kim could decide whether he will go.", "plan", "tentative", None),
    ],
)
def test_commitment_kind_certainty_and_deadline(
    sentence: str, kind: str, certainty: str, deadline: str | None
) -> None:
    sentences = split_sentences(sentence)
    (commitment,) = modal_commitments(sentence, sentences, [Actor(name="Kim", kind="person")])
    assert commitment.actor == "Kim"
    assert (commitment.kind, commitment.certainty, commitment.deadline) == (
        kind,
        certainty,
        deadline,
    )


def test_a_hedge_alone_is_no_commitment() -> None:
    text = "Kim may soon meet Lee in Seoul."
    assert modal_commitments(text, split_sentences(text), [Actor(name="Kim", kind="person")]) == []


def test_a_sentence_naming_nobody_is_no_commitment() -> None:
    text = "it will rain tomorrow in the hills."
    assert modal_commitments(text, split_sentences(text), []) == []


def test_a_commitment_actor_not_among_the_names_is_added_as_an_actor() -> None:
    text = "Analysts expect little. Officials will publish the figures. Reuters said so."
    summary = summarize_lead(text)
    (commitment,) = summary.commitments
    assert commitment.actor == "Officials"
    assert "Officials" in [a.name for a in summary.actors]


# --- open questions ----------------------------------------------------------------


def test_it_is_unclear_whether_becomes_a_question() -> None:
    assert _hedge("It is unclear whether the talks will resume.") == (
        "Whether the talks will resume?"
    )


@pytest.mark.parametrize(
    ("sentence", "question"),
    [
        (
            "It remains unclear how long the withdrawal will take.",
            "How long the withdrawal will take?",
        ),
        (
            "Tillerson praised the change, though he did not say what exactly changed.",
            "What exactly changed?",
        ),
        (
            "Officials have not said why the team was denied visas.",
            "Why the team was denied visas?",
        ),
        (
            "The outcome of the vote remains to be seen.",
            "What about: The outcome of the vote remains to be seen?",
        ),
        ("The cost is uncertain.", "What about: The cost is uncertain?"),
    ],
)
def test_hedged_sentences_become_questions(sentence: str, question: str) -> None:
    assert _hedge(sentence) == question


def test_question_names_its_actors_and_quotes_its_sentence() -> None:
    text = "Kerry spoke. Kerry left. It is not known when Kerry will return."
    sentences = split_sentences(text)
    actors = capitalized_actors(text, sentences)
    (question,) = hedged_questions(text, sentences, actors)
    assert question.question == "When Kerry will return?"
    assert question.actors == ["Kerry"]
    assert question.evidence[0].quote == "It is not known when Kerry will return."


def test_a_sentence_without_a_hedge_is_no_question() -> None:
    text = "The minister said the plan is clear. Everyone knows the date."
    assert hedged_questions(text, split_sentences(text), []) == []


def test_as_question_keeps_the_clause_out_of_the_attribution() -> None:
    sentence = '"There is doubt about whether they are ready to act," said Bruce Riedel.'
    hedge = re.search("whether", sentence)
    assert hedge is not None
    assert as_question(sentence, hedge) == "Whether they are ready to act?"


def test_textrank_shares_the_floor_sections_with_lead() -> None:
    article = ARTICLES["003-merkel-georgia-nato-russian-withdrawal"]
    lead, textrank = summarize_lead(article), summarize_textrank(article)
    assert lead.actors == textrank.actors
    assert lead.commitments == textrank.commitments
    assert lead.open_questions == textrank.open_questions
    assert [q.question for q in lead.open_questions] == ["How long the withdrawal will take?"]
