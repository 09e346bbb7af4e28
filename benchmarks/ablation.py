"""Ablation of the offline default (#13): per section, the lead baseline vs each
rule-based component vs the shipped default vs the embedded 270M model.

    .venv/bin/python benchmarks/ablation.py                 # the no-model rows, ~1 min
    .venv/bin/python benchmarks/ablation.py --model-rows    # + the embedded model's
                                                            #   headline and actor-kind
                                                            #   experiments (~3 min)

Each row runs in its own process over the 33 articles of ``evals/wikinews`` and is
scored by the project's scorer (``summarizer.evals.scoring``); seconds per article
are that process's wall time per article (imports excluded) and peak RSS its
maximum resident set. A component row is the lead baseline with one section
replaced by the rule-based component, so each row shows what that component alone
is worth. The embedded model's full-generation row is scored from the candidates
its last full run committed (``benchmarks/results/eval-local``, 73.5 s an article
then), not re-run: 33 minutes of both cores.

The model experiments ask the same 270M model for what a small model might do
better than a rule: a headline when the article has no title line (scored with the
scorer's headline formula against the first sentence cut to 15 words and against
the real title), and each actor's kind (a grammar-constrained choice of the five
kinds, few-shot; scored as the actors section's kind accuracy). Results go to
``benchmarks/results/ablation.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from summarizer.contract.models import ArticleSummary  # noqa: E402
from summarizer.evals.runs import aggregate, load_cases, score_dataset  # noqa: E402

DATASET = ROOT / "evals" / "wikinews"
RESULTS = ROOT / "benchmarks" / "results"
SECTIONS = ("key_summary", "actors", "commitments", "open_questions", "grounding")

ROWS: dict[str, str] = {
    "lead": "lead baseline (the floor)",
    "textrank": "lead + key summary by centrality (TextRank)",
    "lead+actors": "lead + rule-based actors",
    "lead+commitments": "lead + rule-based commitments",
    "lead+questions": "lead + rule-based open questions",
    "rules": "**shipped default** (`rules`: all of the above)",
}


def _method(row: str) -> Callable[[str], ArticleSummary]:
    from summarizer.extractive.actors import find_actors
    from summarizer.extractive.commitments import find_commitments
    from summarizer.extractive.keysummary import usable
    from summarizer.extractive.methods import METHODS, summarize_lead
    from summarizer.extractive.questions import find_open_questions
    from summarizer.extractive.sentences import split_sentences

    if row in METHODS:
        return lambda text: METHODS[row](text)

    def swapped(text: str) -> ArticleSummary:
        lead = summarize_lead(text)
        sentences = usable(split_sentences(text))
        actors = find_actors(text, sentences)
        if row == "lead+actors":
            # The lead's commitments name its own actors: keep those the rules also
            # found, so only the actors section changes.
            return lead.model_copy(update={"actors": actors})
        if row == "lead+commitments":
            commitments = find_commitments(text, sentences, actors)
            names = {c.actor for c in commitments}
            extra = [a for a in actors if a.name in names]
            known = {a.name for a in lead.actors}
            return lead.model_copy(
                update={
                    "commitments": commitments,
                    "actors": lead.actors + [a for a in extra if a.name not in known],
                }
            )
        if row == "lead+questions":
            return lead.model_copy(
                update={"open_questions": find_open_questions(text, sentences, actors)}
            )
        raise SystemExit(f"unknown row {row}")

    return swapped


def run_row(row: str, out: Path) -> dict[str, Any]:
    """In this process: candidates for every article, with timing and peak RSS."""
    from summarizer.evals.goldens import article_text, dataset_ids
    from summarizer.grounding import Grounder

    method = _method(row)
    out.mkdir(parents=True, exist_ok=True)
    ids = dataset_ids(DATASET)
    started = time.perf_counter()
    for case_id in ids:
        text = article_text(DATASET, case_id)
        summary = method(text)
        Grounder(text, policy="drop").apply(summary)  # the checks any answer gets
        (out / f"{case_id}.json").write_text(summary.model_dump_json(), encoding="utf-8")
    wall = time.perf_counter() - started
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"s_per_article": wall / len(ids), "peak_rss_mib": rss_mib}


def scored(candidates: Path) -> dict[str, Any]:
    return aggregate(score_dataset(DATASET, candidates, cases=load_cases(DATASET)))


def model_experiments() -> dict[str, Any]:
    """The embedded model on the two jobs a small model might do better than a rule."""
    from llama_cpp.llama_grammar import LlamaGrammar

    from summarizer.backends.local import load_model
    from summarizer.contract.models import KeySummary
    from summarizer.evals.goldens import load_case
    from summarizer.evals.scoring import score_summary
    from summarizer.extractive.actors import find_actors
    from summarizer.extractive.sentences import split_sentences, title_line
    from summarizer.settings import Settings
    from summarizer.similarity import dice, stems

    llm = load_model(Settings.resolve(env={}, model="local")).llama
    example = (
        "Article: The European Central Bank raised its main interest rate by a quarter "
        "point on Thursday, its first increase in seven years, saying inflation in the "
        "euro zone had stayed above its target for too long.\nHeadline: European Central "
        "Bank raises interest rates for first time in seven years\n\n"
    )
    kinds = LlamaGrammar.from_string(
        'root ::= " person" | " organization" | " country" | " group" | " other"',
        verbose=False,
    )
    few = (
        "Angela Merkel (German chancellor): person\nWorld Health Organization: "
        "organization\nBrazil: country\nprotesters: group\nHurricane Katrina: other\n"
        "Toyota: organization\nPalestinians: group\nJapan: country\n"
        "Barack Obama (president): person\n"
    )
    head: dict[str, list[float]] = {"model": [], "first_sentence": [], "title": []}
    kind: dict[str, list[float]] = {"rules": [], "model": []}
    head_s: list[float] = []
    kind_s: list[float] = []
    for path in sorted((DATASET / "articles").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        case = load_case(DATASET, path.stem)
        gold = case.summary.key_summary
        main = [stems(gold.headline), *(stems(k.text) for k in gold.key_points[:1])]

        def score(line: str, main: list[set[str]] = main) -> float:
            return min(1.0, 1.8 * max(dice(stems(line), m) for m in main))

        sentences = split_sentences(text)
        lead = " ".join(s.text for s in sentences[:2])
        t = time.perf_counter()
        answer = llm.create_completion(
            example + "Article: " + lead + "\nHeadline:", max_tokens=28, temperature=0.0,
            stop=["\n"],
        )  # fmt: skip
        head_s.append(time.perf_counter() - t)
        head["model"].append(score(answer["choices"][0]["text"].strip()))
        head["first_sentence"].append(score(" ".join(sentences[0].text.split()[:15])))
        if (span := title_line(text)) is not None:
            head["title"].append(score(text[span[0] : span[1]]))

        actors = find_actors(text, sentences)
        t = time.perf_counter()
        chosen = []
        for actor in actors:
            label = actor.name + (f" ({actor.role})" if actor.role else "")
            out = llm.create_completion(few + label + ":", max_tokens=4, temperature=0.0,
                                        grammar=kinds)  # fmt: skip
            chosen.append(actor.model_copy(update={"kind": out["choices"][0]["text"].strip()}))
        kind_s.append(time.perf_counter() - t)
        empty = KeySummary(headline="-", summary="-", key_points=[])
        for label, group in (("rules", actors), ("model", chosen)):
            candidate = ArticleSummary(key_summary=empty, actors=group)
            section = score_summary(case.summary, candidate, text, case.raw)["sections"]
            kind[label].append(section["actors"]["kind_accuracy"])
    mean = statistics.mean
    return {
        "headline_no_title": {k: round(mean(v), 3) for k, v in head.items()},
        "headline_model_s_per_article": round(mean(head_s), 2),
        "actor_kind_accuracy": {k: round(mean(v), 3) for k, v in kind.items()},
        "actor_kind_model_s_per_article": round(mean(kind_s), 2),
    }


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Ablation of the offline default (#13)",
        "",
        "`.venv/bin/python benchmarks/ablation.py --model-rows` on 2 cores, "
        f"{results['articles']} articles of `evals/wikinews`, the project's scorer. Each "
        "component row is the lead baseline with that one section replaced.",
        "",
        "| method | overall | key summary | actors | commitments | open questions | "
        "grounding | s / article | peak RSS |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["rows"].values():
        agg = r["aggregate"]
        cells = [f"{agg['score']:.3f}", *(f"{agg['sections'][s]:.3f}" for s in SECTIONS)]
        speed = f"{r['s_per_article']:.3f}" if r.get("s_per_article") is not None else "—"
        rss = f"{r['peak_rss_mib']:.0f} MiB" if r.get("peak_rss_mib") else "—"
        lines.append(f"| {r['label']} | " + " | ".join(cells) + f" | {speed} | {rss} |")
    model = results.get("model_experiments")
    if model:
        head, kind = model["headline_no_title"], model["actor_kind_accuracy"]
        lines += [
            "",
            "## What the embedded 270M model was tried for",
            "",
            "| job | the model | the rule | for reference |",
            "|---|---|---|---|",
            f"| headline of an article without a title line (headline score) | "
            f"{head['model']:.3f} ({model['headline_model_s_per_article']:.1f} s) | "
            f"{head['first_sentence']:.3f} (first sentence, 15 words) | "
            f"{head['title']:.3f} (the real title) |",
            f"| each actor's kind (kind accuracy) | {kind['model']:.3f} "
            f"({model['actor_kind_model_s_per_article']:.1f} s) | {kind['rules']:.3f} | |",
            "",
            "Below the rules on both, and on every section as the full generator (the "
            "last row above), so the shipped default uses no model: `meta.method` says "
            "so per section. `--model local` still runs the embedded model, and "
            "`--model local:PATH` any GGUF (a larger instruct model was not measured "
            "here).",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-rows", action="store_true", help="run the model experiments")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a row, in a child process
    parser.add_argument("--out", type=Path, default=Path("/tmp/summarizer-ablation"))
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_row(args.one, args.out / args.one)))
        return
    results: dict[str, Any] = {"articles": 0, "rows": {}}
    for row, label in ROWS.items():
        done = subprocess.run(
            [sys.executable, __file__, "--one", row, "--out", str(args.out)],
            capture_output=True, text=True, check=True, cwd=ROOT,
        )  # fmt: skip
        timing = json.loads(done.stdout.strip().splitlines()[-1])
        agg = scored(args.out / row)
        results["articles"] = agg["articles"]
        results["rows"][row] = {"label": label, "aggregate": agg, **timing}
        print(row, agg["score"], agg["sections"], timing, flush=True)
    local = RESULTS / "eval-local" / "candidates"
    results["rows"]["local"] = {
        "label": "embedded 270M model, full generation (`--model local`; committed "
        "candidates, 73.5 s an article when run)",
        "aggregate": scored(local),
        "s_per_article": None,
        "peak_rss_mib": None,
    }
    if args.model_rows:
        results["model_experiments"] = model_experiments()
        print(results["model_experiments"], flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ablation.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (RESULTS / "ablation.md").write_text(markdown(results), encoding="utf-8")


if __name__ == "__main__":
    main()
