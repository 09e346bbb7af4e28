"""What the start-up of ``eval check`` and ``eval score`` rests on (issue #11: at most
0.3 s), beside ``tests/test_startup_imports.py``: each shortcut taken for speed gives
exactly what the longer way gave.

``eval check`` builds the quote aligner (rapidfuzz, the article normalized) only for a
quote without offsets; ``eval score``'s lead floor imports none of the offline
default's rules, computes no cache key without a cache, and tells a name absent from a
sentence without a pattern; the scorer keeps an actor's name keys per names; the
contract's default factories are functions of ours, not builtins.
"""

from __future__ import annotations

import copy
import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest

from summarizer.contract import models
from summarizer.contract.models import Actor, ArticleSummary
from summarizer.evals import baselines
from summarizer.evals.goldens import article_text, check_golden, dataset_ids
from summarizer.extractive import floor
from summarizer.extractive.sentences import split_sentences
from summarizer.similarity import ActorNames, name_key, stems
from tests.conftest import ROOT
from tests.test_startup_imports import _imported, _one_article

DATASET = ROOT / "evals" / "wikinews"
SEED_ID = "000-seed-trump-putin-call"
RULES = ("summarizer.extractive.actors", "summarizer.extractive.commitments",
         "summarizer.extractive.questions", "summarizer.extractive.mentions")  # fmt: skip


def _seed() -> tuple[str, dict[str, Any]]:
    raw = json.loads((DATASET / "golden" / f"{SEED_ID}.json").read_text(encoding="utf-8"))
    return article_text(DATASET, SEED_ID), raw


# --- what the commands import ------------------------------------------------------


def test_eval_check_of_good_goldens_imports_no_aligner(tmp_path: Path) -> None:
    one = _one_article(tmp_path)
    modules = _imported(["eval", "check", "-d", str(one)], tmp_path / "cache")
    assert "summarizer.evals.goldens" in modules
    assert [m for m in modules if m in ("rapidfuzz", "summarizer.alignment")] == []


@pytest.mark.parametrize("command", ["check", "score"])
def test_eval_commands_open_no_cache_and_read_no_config(tmp_path: Path, command: str) -> None:
    """The command line turns the call log on for every command; for one that calls
    no model that is a check of ``SUMMARIZER_LOG``, not the cache's imports and a read
    of the config file for the log's folder (about 20 ms of ``eval``'s start-up)."""
    one = _one_article(tmp_path)
    args = ["eval", command, "-d", str(one)]
    if command == "score":
        args += ["--candidates", str(one / "golden")]
    modules = _imported(args, tmp_path / "cache")
    assert "summarizer.calllog" in modules  # enabled, as for every command
    assert [m for m in modules if m in ("summarizer.cache", "summarizer.config", "tomllib")] == []


def test_eval_score_imports_none_of_the_offline_defaults_rules(tmp_path: Path) -> None:
    one = _one_article(tmp_path)
    args = ["eval", "score", "-d", str(one), "--candidates", str(one / "golden")]
    modules = _imported(args, tmp_path / "cache")
    assert "summarizer.extractive.floor" in modules  # the lead floor was computed
    assert [m for m in modules if m in RULES] == []


def test_the_rules_method_still_finds_its_rules() -> None:
    from summarizer.extractive.methods import METHODS

    text, _ = _seed()
    summary = METHODS["rules"](text)
    assert summary.actors
    assert summary.commitments
    assert summary.meta == {"method": "rules"}


# --- eval check: the aligner only for the hint ----------------------------------------


def test_a_quote_without_offsets_still_gets_the_hint() -> None:
    text, raw = _seed()
    evidence = raw["key_summary"]["key_points"][0]["evidence"][0]
    quote = evidence["quote"]
    del evidence["start"], evidence["end"]
    shouted = raw["actors"][0]["evidence"][0]
    near = shouted["quote"]
    shouted["quote"] = near.upper()
    del shouted["start"], shouted["end"]
    problems = check_golden(text, raw)
    assert problems[:2] == [
        f"key_points[0]: quote has no offsets / not verbatim: {quote!r} (close to {quote!r})",
        f"actors[0]: quote has no offsets / not verbatim: {near.upper()!r} (close to {near!r})",
    ]


def test_a_quote_found_nowhere_gets_no_hint() -> None:
    text, raw = _seed()
    evidence = raw["key_summary"]["key_points"][0]["evidence"][0]
    evidence.update(quote="nothing of the kind appears in this article", start=None, end=None)
    assert check_golden(text, raw) == [
        "key_points[0]: quote has no offsets / not verbatim: "
        "'nothing of the kind appears in this article'"
    ]


# --- the contract's default factories ------------------------------------------------


def test_the_default_factories_are_functions_and_make_fresh_empties() -> None:
    for model in (models.KeyPoint, models.KeySummary, Actor, models.Commitment,
                  models.OpenQuestion, ArticleSummary):  # fmt: skip
        for name, field in model.model_fields.items():
            factory = field.default_factory
            if factory is None:
                continue
            assert inspect.isfunction(factory), f"{model.__name__}.{name}: {factory!r}"
            assert factory() == ({} if name == "meta" else [])
    a = ArticleSummary.model_validate({"key_summary": {"headline": "h", "summary": "s"}})
    b = ArticleSummary.model_validate({"key_summary": {"headline": "h", "summary": "s"}})
    a.actors.append(Actor(name="X", kind="other"))
    a.meta["k"] = 1
    assert (b.actors, b.meta, b.key_summary.key_points) == ([], {}, [])


# --- the lead floor -------------------------------------------------------------------


def _mentions_by_pattern(name: str, text: str) -> re.Match[str] | None:
    """The rule as it was: always by a pattern."""
    pattern = r"\s+".join(re.escape(w) for w in name.split())
    return re.search(rf"(?<![\w.]){pattern}(?!\w)", text)


def _span(found: re.Match[str] | None) -> tuple[int, int] | None:
    return found.span() if found else None


def test_mentions_finds_what_the_pattern_found_on_every_article() -> None:
    checked = found = 0
    for case_id in dataset_ids(DATASET):
        text = article_text(DATASET, case_id)
        sentences = split_sentences(text)
        names = {run.name for s in sentences for run in floor.runs(s)}
        names |= {"Trump", "Putin's", "U.S.", "Vladimir  Putin", "the", "Sudan Sudan"}
        for sentence in sentences:
            for name in names:
                got = _span(floor._mentions(name, sentence.text))
                assert got == _span(_mentions_by_pattern(name, sentence.text)), (name, sentence)
                checked += 1
                found += got is not None
    assert checked > 10_000
    assert found > 500


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("Putin", "Putin's call"),  # a possessive: the word ends at the quote
        ("Putin", "Putinism"),  # inside a longer word: no match
        ("Putin", "V.Putin"),  # after a dot: no match
        ("Vladimir Putin", "Vladimir\n  Putin said"),  # any whitespace between words
        ("Vladimir Putin", "Putin, Vladimir"),  # every word there, not in order
        ("", "anything"),  # no words: the pattern decides, as before
        ("Côte d’Ivoire", "in Côte d’Ivoire today"),
    ],
)
def test_mentions_agrees_with_the_pattern_at_the_edges(name: str, text: str) -> None:
    assert _span(floor._mentions(name, text)) == _span(_mentions_by_pattern(name, text))


def test_a_floor_without_a_cache_reads_no_source(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache key hashes the method's source files; with no cache there is no key."""
    import summarizer.extractive

    def unexpected() -> str:
        raise AssertionError("code_version() without a cache")

    monkeypatch.setattr(summarizer.extractive, "code_version", unexpected)
    monkeypatch.setattr(baselines, "code_version", unexpected, raising=False)  # if imported
    text, _ = _seed()
    summary = baselines.baseline_summary("lead", text)
    assert "cache" not in summary.meta


def test_a_cached_baseline_is_stored_under_the_key_it_always_had(tmp_path: Path) -> None:
    import hashlib

    from summarizer.cache import ResponseCache, cache_key
    from summarizer.contract import SCHEMA_VERSION
    from summarizer.extractive import code_version

    text, _ = _seed()
    key = cache_key(
        {
            "baseline": "lead",
            "code": code_version(),
            "article_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "title": "T",
            "schema_version": SCHEMA_VERSION,
        }
    )
    cache = ResponseCache(tmp_path / "answers.sqlite3")
    try:
        first = baselines.baseline_summary("lead", text, title="T", cache=cache)
        assert first.meta["cache"] == {"hit": False, "key": key}
        assert cache.get(key) is not None
        again = baselines.baseline_summary("lead", text, title="T", cache=cache)
        assert again.meta["cache"] == {"hit": True, "key": key}
        assert again.key_summary == first.key_summary
    finally:
        cache.close()


# --- the scorer's actor keys ----------------------------------------------------------


def _lexical_keys_as_written(actor: Actor) -> set[str]:
    return {
        " ".join(sorted(stems(n))) or name_key(n, None) for n in (actor.name, *actor.aliases)
    } - {""}


def test_lexical_keys_are_what_they_were_for_every_golden_actor() -> None:
    actors = [
        Actor.model_validate(a)
        for case_id in dataset_ids(DATASET)
        for a in json.loads((DATASET / "golden" / f"{case_id}.json").read_text("utf-8"))["actors"]
    ]
    assert len(actors) > 100
    for actor in actors:
        assert ActorNames.lexical_keys(actor) == _lexical_keys_as_written(actor)


def test_lexical_keys_follow_a_renamed_actor_and_are_the_callers_own() -> None:
    putin = Actor(name="Putin", kind="person")
    assert ActorNames.lexical_keys(putin) == {"putin"}
    putin.name = "Vladimir Putin"  # merging renames actors in place
    putin.aliases.append("the Russian leader")
    assert ActorNames.lexical_keys(putin) == {"putin vladim", "leader russia"}
    mine = ActorNames.lexical_keys(putin)
    mine.clear()
    assert ActorNames.lexical_keys(putin) == {"putin vladim", "leader russia"}
    assert ActorNames.similarity(putin, copy.deepcopy(putin)) == 1.0
