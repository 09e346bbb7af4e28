"""Benchmark the embedded model: our pipeline vs raw llama.cpp, and quality over a corpus.

Run from the repo root (after ``make install``)::

    .venv/bin/python benchmarks/local_model.py                  # seed speed + whole corpus
    .venv/bin/python benchmarks/local_model.py --corpus-limit 0 # seed speed only

Speed (seed article): the same rendered prompt, grammar and sampling settings go
through (a) ``Summarizer`` (prompt rendering, Instructor, validation, grounding) with
re-asks disabled, so exactly one generation is timed, and (b) ``llama_cpp`` called
directly. The overhead of our layer is the ratio of the two wall times.

Quality (the eval set: 32 corpus articles and the seed): schema-valid rate (a summary
came back) and grounded-quote rate (quotes located in the article / quotes the model
wrote, before dropping), plus the items that survive grounding. Answers go through the
shared cache, so ``summarizer eval run --dataset evals/wikinews --model local`` with the
same ``--max-reasks`` then scores them without calling the model.

Results go to ``benchmarks/results/local_model.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from summarizer import Settings, Summarizer, SummarizerError  # noqa: E402
from summarizer.backends.extraction import response_model  # noqa: E402
from summarizer.backends.local import load_model  # noqa: E402
from summarizer.cache import ResponseCache  # noqa: E402
from summarizer.grounding import quote_candidates  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_speed(text: str, runs: int) -> dict[str, Any]:
    settings = Settings.resolve(env={}, model="local", max_reasks=0)
    summarizer = Summarizer(settings)
    backend = load_model(settings)
    params = summarizer.generation_params()
    messages = summarizer.prompt.render(text)
    limits = summarizer.prompt.spec.limits.as_tuple()
    choices = quote_candidates(text) if dict(limits).get("quotes_from_article") else ()
    # The very grammar our layer builds for this article, so both sides do the same work.
    grammar = backend._grammar(response_model(limits, choices).model_json_schema())

    ours, raw = [], []
    for _ in range(runs):
        started = time.perf_counter()
        try:
            summary = summarizer.summarize(text, source="seed")
            meta = summary.meta
            ok = True
        except SummarizerError as e:
            meta = getattr(e, "meta", {})
            ok = False
        wall = time.perf_counter() - started
        attempt = (meta.get("usage", {}).get("per_attempt") or [{}])[-1]
        ours.append({"wall_s": wall, "ok": ok, **attempt})

        sampling = {k: v for k, v in params.items() if k not in ("prompt_format",)}
        started = time.perf_counter()
        if params.get("prompt_format") == "completion":
            prompt = "\n\n".join(m["content"] for m in messages)
            out: Any = backend.llama.create_completion(prompt, grammar=grammar, **sampling)
        else:
            out = backend.llama.create_chat_completion(
                messages=messages, grammar=grammar, **sampling
            )
        raw.append({"wall_s": time.perf_counter() - started, **out["usage"]})

    def summary_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
        wall = statistics.median(r["wall_s"] for r in rows)
        gen = statistics.median(r.get("completion_tokens") or 0 for r in rows)
        prompt = statistics.median(r.get("prompt_tokens") or 0 for r in rows)
        return {
            "wall_s_median": round(wall, 2),
            "prompt_tokens": prompt,
            "completion_tokens": gen,
            "tokens_per_s_overall": round((gen + prompt) / wall, 1) if wall else None,
            "generation_tokens_per_s_approx": round(gen / wall, 1) if wall else None,
            "runs": rows,
        }

    # Prompt evaluation speed on its own: one forward pass over the prompt tokens.
    tokens = backend.llama.tokenize("\n\n".join(m["content"] for m in messages).encode())
    backend.llama.reset()
    started = time.perf_counter()
    backend.llama.eval(tokens)
    prompt_eval_s = time.perf_counter() - started
    backend.llama.reset()

    ours_s, raw_s = summary_of(ours), summary_of(raw)
    return {
        "article_tokens_in_prompt": len(tokens),
        "prompt_eval_tokens_per_s": round(len(tokens) / prompt_eval_s, 1),
        "summarizer": ours_s,
        "raw_llama_cpp": raw_s,
        "overhead_ratio": round(ours_s["wall_s_median"] / raw_s["wall_s_median"], 3),
        "model_load_s": round(backend.load_s, 2),
        "params": params,
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }


def bench_corpus(paths: list[Path], max_reasks: int | None) -> dict[str, Any]:
    """Summarize each article with the default local settings, through the answer cache
    that ``summarizer eval run`` uses: the same command afterwards scores these very
    answers without calling the model again."""
    settings = Settings.resolve(env={}, model="local", max_reasks=max_reasks)
    summarizer = Summarizer(settings, cache=ResponseCache())
    rows = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        started = time.perf_counter()
        try:
            s = summarizer.summarize(text, source=path.stem)
        except SummarizerError as e:
            rows.append(
                {
                    "id": path.stem,
                    "valid": False,
                    "error": f"{type(e).__name__}: {e}"[:200],
                    "seconds": round(time.perf_counter() - started, 1),
                }
            )
            print(f"{path.stem}: error {type(e).__name__}", flush=True)
            continue
        g = s.meta["grounding"]
        rows.append(
            {
                "id": path.stem,
                "valid": True,
                "seconds": round(s.meta.get("latency_s", 0.0), 1),
                "cached": bool(s.meta.get("cache", {}).get("hit")),
                "answers": s.meta["attempts"]["responses"],
                "quotes_total": g["quotes_total"],
                "quotes_grounded": g["quotes_grounded"],
                "dropped": len(g["dropped"]),
                "items_kept": len(s.key_summary.key_points)
                + len(s.actors)
                + len(s.commitments)
                + len(s.open_questions),
                "completion_tokens": s.meta["usage"]["completion_tokens"],
            }
        )
        print(f"{path.stem}: {rows[-1]}", flush=True)
    valid = [r for r in rows if r["valid"]]
    quotes = sum(r["quotes_total"] for r in valid)
    grounded = sum(r["quotes_grounded"] for r in valid)
    return {
        "articles": len(rows),
        "max_reasks": settings.max_reasks,
        "schema_valid_rate": round(len(valid) / len(rows), 3) if rows else None,
        "grounded_quote_rate": round(grounded / quotes, 3) if quotes else None,
        "items_kept_mean": (
            round(statistics.mean(r["items_kept"] for r in valid), 2) if valid else 0
        ),
        "seconds_mean": round(statistics.mean(r["seconds"] for r in rows), 1) if rows else None,
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="speed runs on the seed")
    parser.add_argument("--corpus", type=Path, default=ROOT / "evals" / "wikinews" / "articles")
    parser.add_argument("--corpus-limit", type=int, default=None, help="articles (0 = skip)")
    parser.add_argument("--max-reasks", type=int, default=None, help="corpus run (default: 2)")
    args = parser.parse_args()

    seed = (ROOT / "seeds" / "trump-putin-call.txt").read_text(encoding="utf-8")
    result: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
        },
        "speed_seed": bench_speed(seed, args.runs),
    }
    speed = {k: v for k, v in result["speed_seed"].items() if k != "params"}
    print(json.dumps(speed, indent=1, default=str)[:3000], flush=True)
    paths = sorted(args.corpus.glob("*.txt"))  # the 32 corpus articles and the seed
    if args.corpus_limit != 0:
        result["corpus"] = bench_corpus(paths[: args.corpus_limit], args.max_reasks)
    result["peak_rss_mib"] = round(peak_rss_mib(), 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "local_model.json").write_text(json.dumps(result, indent=2) + "\n")
    write_markdown(result)


def write_markdown(r: dict[str, Any]) -> None:
    s = r["speed_seed"]
    lines = [
        "# Embedded model benchmark (gemma-3-270m Q4_K_M, llama-cpp-python, 2 threads)",
        "",
        f"Machine: {r['machine']['cpu_count']} cores, Python {r['machine']['python']}. "
        "Reproduce: `.venv/bin/python benchmarks/local_model.py`.",
        "",
        "## Speed on the seed article (one generation, re-asks off)",
        "",
        "| | wall (median) | prompt tokens | generated tokens | tokens/s (all) |",
        "|---|---|---|---|---|",
    ]
    for name in ("summarizer", "raw_llama_cpp"):
        x = s[name]
        lines.append(
            f"| {name} | {x['wall_s_median']} s | {x['prompt_tokens']} | {x['completion_tokens']} "
            f"| {x['tokens_per_s_overall']} |"
        )
    lines += [
        "",
        f"- overhead ratio (ours / raw): **{s['overhead_ratio']}**",
        f"- prompt evaluation: {s['prompt_eval_tokens_per_s']} tokens/s "
        f"({s['article_tokens_in_prompt']} tokens)",
        f"- model load: {s['model_load_s']} s; peak RSS: {r['peak_rss_mib']} MiB",
        "",
    ]
    if "corpus" in r:
        c = r["corpus"]
        lines += [
            f"## Quality over {c['articles']} corpus articles (max re-asks: {c['max_reasks']})",
            "",
            f"- schema-valid rate: **{c['schema_valid_rate']}**",
            f"- grounded-quote rate (located / written, before dropping): "
            f"**{c['grounded_quote_rate']}**",
            f"- items kept after grounding, mean per article: {c['items_kept_mean']}",
            f"- seconds per article, mean: {c['seconds_mean']}",
            "",
        ]
    (RESULTS / "local_model.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
