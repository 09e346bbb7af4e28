"""The rule-based actors, commitments and open questions (#13): small handwritten news
texts for each rule, and the contract's invariants on every dataset article."""

from __future__ import annotations

from pathlib import Path

import pytest

from summarizer.contract.llm_schema import _LIST_BOUNDS
from summarizer.contract.models import Actor, Evidence
from summarizer.extractive.actors import find_actors
from summarizer.extractive.commitments import find_commitments
from summarizer.extractive.questions import find_open_questions
from summarizer.extractive.sentences import split_sentences

ARTICLES = sorted((Path(__file__).parent.parent / "evals" / "wikinews" / "articles").glob("*.txt"))

TEXT = """Leaders agree to talks

German Chancellor Angela Merkel met Ecuadorian president Rafael Correa in Berlin on \
Monday. Rafael Correa, the president of Ecuador, said the talks went well. Merkel said \
Germany will send a delegation to Quito on Feb. 14. Correa agreed to start negotiations \
with Germany by the end of 2008.

Secretary of State Marco Rubio told reporters that Rubio may visit Ecuador next week. \
He said he will sign the deal if parliament approves it. It remains unclear how long \
the negotiations will take. Officials did not say when the delegation will return. \
Correa denied that his government had links with rebels.
"""


def _actors(text: str) -> dict[str, Actor]:
    return {a.name: a for a in find_actors(text, split_sentences(text))}


def test_titles_and_appositives_give_roles_and_affiliations() -> None:
    actors = _actors(TEXT)
    merkel = actors["Angela Merkel"]
    assert (merkel.kind, merkel.role, merkel.affiliation) == (
        "person",
        "German Chancellor",
        "Germany",
    )
    correa = actors["Rafael Correa"]
    assert correa.role is not None
    assert "president" in correa.role.lower()
    assert correa.affiliation == "Ecuador"
    assert actors["Marco Rubio"].role == "Secretary of State"


def test_appositive_after_the_name() -> None:
    text = (
        "Pavlo Klimkin, Ukraine's foreign minister, said the talks failed. "
        "Klimkin later met reporters."
    )
    klimkin = _actors(text)["Pavlo Klimkin"]
    assert klimkin.role == "foreign minister"
    assert klimkin.affiliation == "Ukraine"
    assert klimkin.aliases == ["Klimkin"]


def test_surname_mentions_merge_into_the_fullest_name() -> None:
    actors = _actors(TEXT)
    assert "Merkel" not in actors
    assert "Correa" not in actors
    assert actors["Angela Merkel"].aliases == ["Merkel"]
    assert "Correa" in actors["Rafael Correa"].aliases


def test_kinds_countries_organizations_and_places() -> None:
    text = (
        "The United Nations Security Council met on Friday. Russia rejected the plan, "
        "and the U.S. said it would keep its troops in Iraq. The Security Council will "
        "vote again in Geneva. Officials in Berlin declined to comment."
    )
    actors = _actors(text)
    assert actors["Russia"].kind == "country"
    assert actors["United States"].kind == "country"
    assert "U.S." in actors["United States"].aliases
    assert actors["United Nations Security Council"].kind == "organization"
    assert "Berlin" not in actors
    assert "Geneva" not in actors


def test_groups_of_people() -> None:
    text = (
        "Ukrainian officials said the plane was shot down. Ukrainian officials later "
        "added that rebels had fired the missile."
    )
    groups = [a for a in find_actors(text, split_sentences(text)) if a.kind == "group"]
    assert [g.name for g in groups] == ["Ukrainian officials"]
    assert groups[0].affiliation == "Ukraine"


def _commitments(text: str) -> list[tuple[str, str, str, str, str | None]]:
    sentences = split_sentences(text)
    actors = find_actors(text, sentences)
    return [
        (c.actor, c.action, c.kind, c.certainty, c.deadline)
        for c in find_commitments(text, sentences, actors)
    ]


def test_commitment_subject_deadline_and_kind() -> None:
    found = _commitments(TEXT)
    assert (
        "Germany",
        "send a delegation to Quito on Feb. 14",
        "pledge",
        "firm",
        "on Feb. 14",
    ) in found
    assert (
        "Rafael Correa",
        "agreed to start negotiations with Germany by the end of 2008",
        "agreement",
        "firm",
        "by the end of 2008",
    ) in found


def test_pronoun_subject_resolves_to_the_last_person() -> None:
    found = _commitments(TEXT)
    signed = [c for c in found if c[1].startswith("sign the deal")]
    assert signed
    assert signed[0][0] == "Marco Rubio"


def test_certainty_conditional_and_tentative() -> None:
    found = {c[1]: c[3] for c in _commitments(TEXT)}
    assert found["sign the deal if parliament approves it"] == "conditional"
    assert found["visit Ecuador next week"] == "tentative"


def test_demands_and_durations() -> None:
    text = (
        "Foreign Minister Sergei Lavrov met John Kerry on Monday. Lavrov called on Kerry to "
        "withdraw the warships within 10 days. Kerry said the United States is to respond "
        "next week."
    )
    found = _commitments(text)
    assert found[0][:3] == (
        "Sergei Lavrov",
        "called on Kerry to withdraw the warships within 10 days",
        "demand",
    )
    assert found[0][4] == "within 10 days"
    assert found[1][0] == "United States"
    assert found[1][4] == "next week"


def test_no_commitment_without_an_actor_as_subject() -> None:
    text = "Prices will rise next year, analysts said. The storm could hit the coast on Friday."
    assert _commitments(text) == []


@pytest.mark.parametrize(
    "sentence",
    [
        "Senator Mary Jones refused to agree to cut taxes next year.",
        "Senator Mary Jones has not agreed to meet the union on Friday.",
        "Senator Mary Jones denied that she had promised to resign by March.",
        "It is unclear whether Senator Mary Jones will veto the bill next week.",
        "Senator Mary Jones declined to commit to a vote on the budget.",
        "Senator Mary Jones won't sign the deal this year.",
    ],
)
def test_a_negated_denied_or_open_cue_is_no_commitment(sentence: str) -> None:
    """Each of these had been a firm commitment (found by a review): a cue its own
    clause negates, refuses, denies or leaves open commits nobody to anything."""
    text = f"Senator Mary Jones spoke in the capital on Monday. {sentence}"
    assert _commitments(text) == []


def test_a_negation_in_another_clause_keeps_the_commitment() -> None:
    text = (
        "Senator Mary Jones spoke in the capital on Monday. Although the talks did not "
        "end; Senator Mary Jones agreed to meet the union on Friday."
    )
    found = _commitments(text)
    assert [c[0] for c in found] == ["Mary Jones"]
    assert found[0][3] == "firm"


def _questions(text: str) -> list[str]:
    sentences = split_sentences(text)
    return [
        q.question
        for q in find_open_questions(text, sentences, find_actors(text, sentences), limit=8)
    ]


def test_unclear_and_unsaid_become_wh_questions() -> None:
    questions = _questions(TEXT)
    assert "How long will the negotiations take?" in questions
    assert "When will the delegation return?" in questions


def test_hedges_and_denials_become_yes_no_questions() -> None:
    questions = _questions(TEXT)
    assert "Will Rubio visit Ecuador next week?" in questions
    assert "Is it true that his government had links with rebels?" in questions
    found = find_open_questions(
        TEXT, split_sentences(TEXT), find_actors(TEXT, split_sentences(TEXT)), limit=8
    )
    denial = next(q for q in found if q.question.startswith("Is it true"))
    assert denial.actors == ["Rafael Correa"]
    assert denial.why_open


def test_whether_clause_is_inverted() -> None:
    text = "Officials did not say whether the border will reopen before the election."
    assert _questions(text) == ["Will the border reopen before the election?"]


def _check_evidence(article: str, evidence: list[Evidence]) -> None:
    low, high = 1, 3
    assert low <= len(evidence) <= high
    for ev in evidence:
        assert ev.start is not None
        assert ev.end is not None
        assert ev.quote == article[ev.start : ev.end]
        assert 1 <= len(ev.quote.split()) <= 40


@pytest.mark.parametrize("path", ARTICLES, ids=[p.stem[:3] for p in ARTICLES])
def test_dataset_articles_grounded_and_within_bounds(path: Path) -> None:
    article = path.read_text(encoding="utf-8")
    sentences = split_sentences(article)
    actors = find_actors(article, sentences)
    commitments = find_commitments(article, sentences, actors)
    questions = find_open_questions(article, sentences, actors)
    bounds = {field: b for (model, field), b in _LIST_BOUNDS.items() if model == "ArticleSummary"}
    assert bounds["actors"][0] <= len(actors) <= bounds["actors"][1]
    assert len(commitments) <= bounds["commitments"][1]
    assert len(questions) <= bounds["open_questions"][1]
    names = {a.name for a in actors}
    assert len(names) == len(actors)
    for actor in actors:
        assert len(actor.aliases) <= _LIST_BOUNDS[("Actor", "aliases")][1]
        _check_evidence(article, actor.evidence)
    for c in commitments:
        assert c.actor in names
        _check_evidence(article, c.evidence)
    for q in questions:
        assert q.question.endswith("?")
        assert set(q.actors) <= names
        assert len(q.actors) <= _LIST_BOUNDS[("OpenQuestion", "actors")][1]
        _check_evidence(article, q.evidence)


def test_an_action_cut_mid_clause_is_marked_as_cut() -> None:
    text = (
        "Senator Mary Jones spoke on Monday. Senator Mary Jones pledged to spend the new "
        "money on roads, bridges, schools, hospitals, parks, libraries, ports, railways, "
        "airports and housing in the north of the country over the next ten years."
    )
    (found,) = _commitments(text)
    assert found[1].endswith("…")
    assert found[1].startswith("pledged to spend the new money on roads")
