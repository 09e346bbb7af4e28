"""The shared text similarity and actor-name rules (grounding, merging, scoring)."""

from __future__ import annotations

import pytest

from summarizer.contract.models import Actor
from summarizer.similarity import ActorNames, dice, name_key, span_overlap, stems


def _actor(name: str, *aliases: str) -> Actor:
    return Actor(name=name, kind="person", aliases=list(aliases))


PUTIN = _actor("Vladimir Putin")
TRUMP = _actor("Donald Trump", "Trump", "the U.S. president")
MELANIA = _actor("Melania Trump")
UN = _actor("United Nations", "UN", "U.N.", "UN Security Council")
IVORY = _actor("C\u00f4te d\u2019Ivoire")


def test_name_key_ignores_case_spacing_quote_variants_and_end_periods() -> None:
    assert name_key("  Vladimir\u00a0\n PUTIN. ") == "vladimir putin"
    assert name_key("C\u00f4te d\u2019Ivoire") == "cote d'ivoire"
    assert name_key('"Putin"') == '"putin"'  # surrounding quotes kept by default
    assert name_key('"Putin".', " .'\"") == "putin"
    assert name_key(" the i. ", None) == "the i."  # whitespace only


def test_stems_dice_and_span_overlap() -> None:
    assert stems("Negotiations fell") == {"negoti", "declin"}
    assert stems("The talks dropped") == {"negoti", "declin"}
    assert stems(None) == stems("") == stems("the of and") == set()
    assert dice({"a", "b"}, {"b", "c"}) == 0.5
    assert dice(set(), {"a"}) == 0.0
    assert span_overlap([(0, 10)], [(5, 20)]) == 0.5
    assert span_overlap([(0, 10), (30, 34)], [(31, 60)]) == 0.75
    assert span_overlap([(0, 10)], [(10, 20)]) == 0.0


# Grounding: resolve() a name as the model wrote it to an actor's canonical name.


def test_resolve_exact_name_or_alias() -> None:
    names = ActorNames([PUTIN, TRUMP, UN])
    assert names.resolve("Vladimir Putin") == "Vladimir Putin"
    assert names.resolve("trump") == "Donald Trump"
    assert names.resolve("The U.S. President") == "Donald Trump"
    assert names.resolve("UN") == "United Nations"
    assert names.resolve("u.n.") == "United Nations"


def test_resolve_ignores_case_quote_variants_and_spacing() -> None:
    names = ActorNames([PUTIN, IVORY])
    assert names.resolve("  VLADIMIR   putin. ") == "Vladimir Putin"
    assert names.resolve("Cote d'Ivoire") == "C\u00f4te d\u2019Ivoire"
    # quote marks around the whole name are not ignored by grounding
    assert names.resolve('"Vladimir Putin"') is None


def test_resolve_by_the_end_of_a_name() -> None:
    names = ActorNames([PUTIN, _actor("Martin Luther King"), UN])
    assert names.resolve("Putin") == "Vladimir Putin"
    assert names.resolve("putin") == "Vladimir Putin"
    assert names.resolve("Luther King") == "Martin Luther King"
    assert names.resolve("Nations") == "United Nations"
    # only names end-match; aliases must match whole
    assert names.resolve("Security Council") is None
    assert names.resolve("Vladimir") is None
    assert names.resolve("") is None
    assert names.resolve("Joe Biden") is None


def test_resolve_ambiguous_ending_is_none_unless_an_alias_decides() -> None:
    assert ActorNames([_actor("Donald Trump"), MELANIA]).resolve("Trump") is None
    assert ActorNames([TRUMP, MELANIA]).resolve("Trump") == "Donald Trump"  # alias first


def test_first_actor_keeps_a_shared_alias() -> None:
    first, second = _actor("Joe Biden", "the president"), _actor("Emmanuel Macron", "The President")
    names = ActorNames([first, second])
    assert names.resolve("the president") == "Joe Biden"
    assert names.exact("THE PRESIDENT") is first


# Merging: same_as() finds the actor a part's actor (or a name) is the same as.


def _merge_index(*actors: Actor) -> ActorNames:
    return ActorNames(actors, strip_quotes=True)


def test_same_as_by_name_or_alias_ignoring_quotes() -> None:
    names = _merge_index(PUTIN, TRUMP)
    assert names.same_as("Vladimir Putin") is PUTIN
    assert names.same_as('"Vladimir Putin"') is PUTIN
    assert names.same_as("\u201cTrump\u201d") is TRUMP
    assert names.same_as("Mr Trump", "the u.s. president") is TRUMP  # an alias matches
    assert names.same_as("Joe Biden") is None


def test_same_as_one_word_surname() -> None:
    names = _merge_index(PUTIN, _actor("Donald Trump"), MELANIA)
    assert names.same_as("Putin") is PUTIN
    assert names.same_as("PUTIN.") is PUTIN
    assert names.same_as("Trump") is None  # two actors end with it
    assert names.same_as("President Putin") is None  # not one word, not a name
    assert names.same_as("Vlad", "Putin") is None  # the surname rule reads the name only


def test_same_as_surname_rule_runs_one_way() -> None:
    names = _merge_index(_actor("Putin"))
    assert names.same_as("Vladimir Putin") is None
    assert _merge_index(PUTIN).same_as("Putin") is PUTIN


def test_index_follows_renamed_actors() -> None:
    putin = _actor("Putin")
    names = _merge_index()
    names.add(putin)
    putin.name = "Vladimir Putin"  # merging keeps the fullest name
    names.index(putin, [putin.name])
    assert names.ending_with("Vladimir Putin") == [putin]
    assert names.same_as("putin") is putin
    assert names.same_as("Vladimir Putin") is putin


# Scoring: similarity() of a golden and a candidate actor.


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (TRUMP, _actor("trump"), 1.0),  # a shared alias
        (_actor("Vladimir Putin"), _actor("Putin, Vladimir"), 1.0),  # same words
        (_actor("The I"), _actor("the i"), 1.0),  # stop words only: compared as written
        (_actor("Donald Trump"), _actor("Trump"), 0.8),  # one name inside the other
        (_actor("Vladimir Putin"), _actor("Vladimir Zelensky"), 0.4),  # 0.8 x Dice
        (_actor("Vladimir Putin"), _actor("Joe Biden"), 0.0),
        (_actor("The I"), _actor("The Times"), 0.0),
    ],
)
def test_similarity_values(a: Actor, b: Actor, expected: float) -> None:
    assert ActorNames.similarity(a, b) == pytest.approx(expected)
    assert ActorNames.similarity(b, a) == pytest.approx(expected)
