"""Score a candidate summary against a golden one, per section and overall.

Matching has to tolerate what legitimately differs (an alias for a name, a paraphrased
action) and punish what is wrong (a commitment given to the wrong actor, an invented
actor). It is offline, deterministic and fast, using two signals:

* **lexical**: Dice overlap of content-word stems (lowercased, stop words out, light
  suffix stripping, a small synonym table: "talks"/"negotiations", "fell"/"drop"),
  from :mod:`summarizer.similarity`, which also rates actors' names
  (:meth:`~summarizer.similarity.ActorNames.similarity`);
* **evidence**: both summaries quote the same article, so two items whose quotes
  cover the same characters talk about the same thing, however they are worded.

Shared evidence lifts a pair only when the texts also agree a little (a claim pinned
to the right passage but saying something else is no match); for commitments, quotes
from unrelated passages lower it. Pairs are matched one-to-one, greedily from the
most similar, above ``MATCH_THRESHOLD``. Known blind spot: a lexical scorer cannot
see negation ("stop" vs "continue the broadcasts") when the evidence agrees. Thresholds and weights
were set by the meta-eval in ``tests/test_scoring_meta.py`` (paraphrases must score
near the golden, each degradation lower in the section it damages).

Recall counts only golden items without ``"required": false``; precision counts every
golden item as a legitimate match.

Beside the scores, ``supported`` is the share of the candidate's items that their own
quotes support (:mod:`summarizer.support`): grounding shows the quotes are real, not
that the claims pinned to them are. It is not weighted into ``score``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from summarizer.alignment import Aligner, evidence_spans
from summarizer.contract.models import Actor, ArticleSummary, Evidence
from summarizer.item_support import SupportChecker, support_rate
from summarizer.similarity import ActorNames, dice, span_overlap, stems

T = TypeVar("T")
MATCH_THRESHOLD = 0.3
_MIN_TEXT_WITH_EVIDENCE = 0.12
SECTION_WEIGHTS = {
    "key_summary": 0.25,
    "actors": 0.2,
    "commitments": 0.2,
    "open_questions": 0.15,
    "grounding": 0.2,
}


def _greedy_match(sim: list[list[float]], threshold: float) -> list[tuple[int, int, float]]:
    pairs = sorted(
        ((s, i, j) for i, row in enumerate(sim) for j, s in enumerate(row) if s >= threshold),
        reverse=True,
    )
    used_i: set[int] = set()
    used_j: set[int] = set()
    out = []
    for s, i, j in pairs:
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            out.append((i, j, s))
    return out


@dataclass
class SectionResult:
    """Matching outcome for one list section."""

    precision: float
    recall: float
    f1: float
    matched: list[tuple[int, int, float]]  # (golden index, candidate index, similarity)
    missed: list[int]  # required golden items not matched
    extra: list[int]  # candidate items not matched

    def as_dict(self) -> dict[str, Any]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "matched": [[g, c, round(s, 3)] for g, c, s in self.matched],
            "missed": self.missed,
            "extra": self.extra,
        }


def _prf(
    sim: list[list[float]], required: list[bool], n_cand: int, threshold: float = MATCH_THRESHOLD
) -> SectionResult:
    matched = _greedy_match(sim, threshold)
    matched_g = {g for g, _, _ in matched}
    matched_c = {c for _, c, _ in matched}
    n_required = sum(required)
    recall_hits = sum(1 for g in matched_g if required[g])
    recall = recall_hits / n_required if n_required else 1.0
    precision = len(matched_c) / n_cand if n_cand else (1.0 if not n_required else 0.0)
    if not n_required and not n_cand:
        precision = recall = 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    missed = [g for g in range(len(required)) if required[g] and g not in matched_g]
    extra = [c for c in range(n_cand) if c not in matched_c]
    return SectionResult(precision, recall, f1, matched, missed, extra)


def _required(raw_items: list[dict[str, Any]]) -> list[bool]:
    return [item.get("required", True) is not False for item in raw_items]


def _role_ok(g: str | None, c: str | None) -> bool:
    if not g and not c:
        return True
    if not g or not c:
        return False
    a, b = stems(g), stems(c)
    return bool(a and b) and (a <= b or b <= a or dice(a, b) >= 0.5)


def _item_sim(
    g_text: str,
    c_text: str,
    g_spans: list[tuple[int, int]],
    c_spans: list[tuple[int, int]],
    *,
    conflicting_evidence_factor: float = 1.0,
) -> float:
    """How surely two items state the same thing.

    Shared evidence counts only when the texts agree at least a little (a claim
    pinned to the right passage but saying something else is not a match); quotes
    from unrelated passages can lower the score (``conflicting_evidence_factor``).
    """
    text = dice(stems(g_text), stems(c_text))
    overlap = span_overlap(g_spans, c_spans)
    if overlap and text >= _MIN_TEXT_WITH_EVIDENCE:
        return max(text, overlap * min(1.0, 0.5 + text))
    if g_spans and c_spans and not overlap:
        return text * conflicting_evidence_factor
    return text


def _pair_accuracy(
    pairs: list[tuple[T, T]], ok: Callable[[T, T], bool], nothing_to_match: bool
) -> float:
    """Share of matched (golden, candidate) pairs that agree; 1.0 when neither side
    had any item (nothing was there to get wrong), 0.0 when nothing matched."""
    if nothing_to_match:
        return 1.0
    return sum(ok(g, c) for g, c in pairs) / len(pairs) if pairs else 0.0


def _deadline_ok(g: str | None, c: str | None) -> bool:
    if not g and not c:
        return True
    return bool(g and c) and (stems(g) == stems(c) or dice(stems(g), stems(c)) >= 0.5)


def score_summary(
    golden: ArticleSummary,
    candidate: ArticleSummary,
    article: str,
    golden_raw: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Scores in [0, 1] per section and overall, with what matched, missed and was extra."""
    raw = golden_raw or golden.model_dump(mode="json")
    aligner = Aligner(article)
    sections: dict[str, Any] = {}

    def located(evidence: list[Evidence]) -> list[tuple[int, int]]:
        return evidence_spans(evidence, aligner, fuzzy=False)

    # Key summary: key points matched by meaning, headline and summary by content words.
    gk, ck = golden.key_summary, candidate.key_summary
    g_kp_spans = [located(kp.evidence) for kp in gk.key_points]
    c_kp_spans = [located(kp.evidence) for kp in ck.key_points]
    kp = _prf(
        [
            [
                _item_sim(g.text, c.text, g_kp_spans[i], c_kp_spans[j])
                for j, c in enumerate(ck.key_points)
            ]
            for i, g in enumerate(gk.key_points)
        ],
        _required(raw["key_summary"]["key_points"]),
        len(ck.key_points),
    )
    # A headline must carry the main news: the golden headline or the first key point.
    said = stems(ck.headline)
    main = [stems(gk.headline), *(stems(k.text) for k in gk.key_points[:1])]
    headline = min(1.0, 1.8 * max(dice(said, m) for m in main))
    summary_sim = min(1.0, 1.6 * dice(stems(ck.summary), stems(gk.summary)))
    sections["key_summary"] = {
        "score": 0.5 * kp.f1 + 0.3 * headline + 0.2 * summary_sim,
        "headline": round(headline, 4),
        "summary": round(summary_sim, 4),
        "key_points": kp.as_dict(),
    }

    # Actors: alias-aware matching, then role and kind on matched pairs.
    actors = _prf(
        [[ActorNames.similarity(g, c) for c in candidate.actors] for g in golden.actors],
        _required(raw["actors"]),
        len(candidate.actors),
        threshold=0.5,
    )
    pairs = [(golden.actors[g], candidate.actors[c]) for g, c, _ in actors.matched]
    nothing = not golden.actors and not candidate.actors
    role_acc = _pair_accuracy(pairs, lambda g, c: _role_ok(g.role, c.role), nothing)
    kind_acc = _pair_accuracy(pairs, lambda g, c: g.kind == c.kind, nothing)
    sections["actors"] = {
        "score": 0.6 * actors.f1 + 0.25 * role_acc + 0.15 * kind_acc,
        "role_accuracy": round(role_acc, 4),
        "kind_accuracy": round(kind_acc, 4),
        **actors.as_dict(),
    }

    # Commitments: the actor must be the same one (else it is a miss), then the action.
    owner = {c: g for g, c, _ in actors.matched}
    cand_index = {a.name: i for i, a in enumerate(candidate.actors)}
    gold_index = {a.name: i for i, a in enumerate(golden.actors)}
    g_cm_spans = [located(c.evidence) for c in golden.commitments]
    c_cm_spans = [located(c.evidence) for c in candidate.commitments]

    def same_actor(g_name: str, c_name: str) -> bool:
        ci = cand_index.get(c_name)
        gi = gold_index.get(g_name)
        if ci is not None and gi is not None and ci in owner:
            return owner[ci] == gi
        if gi is None:
            return False
        return ActorNames.similarity(golden.actors[gi], Actor(name=c_name, kind="other")) >= 0.8

    sim = [
        [
            _item_sim(
                g.action,
                c.action,
                g_cm_spans[i],
                c_cm_spans[j],
                conflicting_evidence_factor=0.6,
            )
            if same_actor(g.actor, c.actor)
            else 0.0
            for j, c in enumerate(candidate.commitments)
        ]
        for i, g in enumerate(golden.commitments)
    ]
    commitments = _prf(sim, _required(raw["commitments"]), len(candidate.commitments))
    cpairs = [(golden.commitments[g], candidate.commitments[c]) for g, c, _ in commitments.matched]
    nothing = not golden.commitments and not candidate.commitments
    certainty = _pair_accuracy(cpairs, lambda g, c: g.certainty == c.certainty, nothing)
    deadline = _pair_accuracy(cpairs, lambda g, c: _deadline_ok(g.deadline, c.deadline), nothing)
    sections["commitments"] = {
        "score": 0.7 * commitments.f1 + 0.15 * certainty + 0.15 * deadline,
        "certainty_accuracy": round(certainty, 4),
        "deadline_accuracy": round(deadline, 4),
        **commitments.as_dict(),
    }

    # Open questions: coverage and precision by meaning.
    g_q_spans = [located(q.evidence) for q in golden.open_questions]
    c_q_spans = [located(q.evidence) for q in candidate.open_questions]
    # The question itself, or with its reason: a long why_open must not dilute a match.
    questions = _prf(
        [
            [
                max(
                    _item_sim(g.question, c.question, g_q_spans[i], c_q_spans[j]),
                    _item_sim(
                        f"{g.question} {g.why_open or ''}", f"{c.question} {c.why_open or ''}",
                        g_q_spans[i], c_q_spans[j],
                    ),
                )
                for j, c in enumerate(candidate.open_questions)
            ]
            for i, g in enumerate(golden.open_questions)
        ],
        _required(raw["open_questions"]),
        len(candidate.open_questions),
    )  # fmt: skip
    sections["open_questions"] = {"score": questions.f1, **questions.as_dict()}

    # Grounding: the share of candidate quotes that are verbatim in the article at
    # the offsets they give. Offsets that point elsewhere claim a location that is
    # false, so such a quote is not grounded even if its text is somewhere in the
    # article; a quote with no offsets is grounded if its text is there (a reader
    # can still find it).
    evidence = candidate.evidence()
    verbatim = wrong_offsets = 0
    for ev in evidence:
        if not ev.quote or ev.quote not in article:
            continue
        if ev.start is not None and ev.end is not None and article[ev.start : ev.end] != ev.quote:
            wrong_offsets += 1
            continue
        verbatim += 1
    sections["grounding"] = {
        "score": verbatim / len(evidence) if evidence else 0.0,
        "quotes": len(evidence),
        "verbatim": verbatim,
        "wrong_offsets": wrong_offsets,
    }

    for section in sections.values():
        section["score"] = round(float(section["score"]), 4)
    overall = sum(SECTION_WEIGHTS[name] * sections[name]["score"] for name in SECTION_WEIGHTS)
    # Supported: the share of candidate items whose own quotes say what they claim
    # (summarizer.support). Grounded is not true: a real quote can carry a false
    # claim. Reported beside the score, not in it, so that scores stay comparable.
    supported = support_rate(SupportChecker(article, aligner).summary(candidate))
    return {"score": round(overall, 4), "sections": sections, "supported": supported}
