"""`summarizer batch` through the CLI at a realistic latency: how close to N·L/C?

    .venv/bin/python benchmarks/cli_batch.py                       # this checkout
    .venv/bin/python benchmarks/cli_batch.py --code ../old --label before

500 articles, concurrency 50, the fake server (tests/fakeserver.py) answering each
request after 2 s in its own process: the ideal wall time is 500 × 2 / 50 = 20 s.
Each run is the whole command as a user types it, process start and imports
included, timed from outside. ``--code DIR`` runs the CLI of another checkout (its
``summarizer`` package first on PYTHONPATH), so a redesign can be measured against
the code before it on the same machine, one after the other. A plain Instructor
script (benchmarks/batch.py's, one event loop) runs at the same setting once per
invocation. Results are merged into benchmarks/results/cli_batch.{json,md} by label.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import batch as bench  # noqa: E402  (benchmarks/batch.py)

RESULTS = ROOT / "benchmarks" / "results"


def cli_run(code: Path, server: bench.Server, jsonl: Path, out: Path, concurrency: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(code), "SUMMARIZER_CACHE_DIR": str(out.parent)}
    command = [
        sys.executable, "-m", "summarizer", "batch", str(jsonl), "-o", str(out),
        "-c", str(concurrency), "--model", "bench", "--base-url", server.url, "--no-cache",
    ]  # fmt: skip
    out.unlink(missing_ok=True)
    server.reset()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=code, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"cli_batch: the batch failed ({done.returncode}): {done.stderr[-500:]}")
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(set(json.loads(x)["id"] for x in lines)), "duplicate lines"
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose CLI to run")
    parser.add_argument("--label", default="after")
    parser.add_argument("--articles", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-instructor", action="store_true")
    args = parser.parse_args()
    ideal = args.articles * args.latency / args.concurrency
    items = bench.batch_items(args.articles)
    server = bench.Server(args.latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            jsonl = Path(tmp) / "articles.jsonl"
            jsonl.write_text(
                "".join(json.dumps({"id": i.id, "text": i.text}) + "\n" for i in items),
                encoding="utf-8",
            )
            walls = [
                cli_run(args.code.resolve(), server, jsonl, Path(tmp) / "out.jsonl",
                        args.concurrency)
                for _ in range(args.repeats)
            ]  # fmt: skip
            plain = None
            if not args.no_instructor:
                plain = bench.run_plain_instructor(server, items, args.concurrency)
    finally:
        server.stop()
    entry: dict[str, Any] = {
        "label": args.label,
        "code": str(args.code),
        "articles": args.articles,
        "concurrency": args.concurrency,
        "latency_s": args.latency,
        "ideal_s": ideal,
        "walls_s": [round(w, 3) for w in walls],
        "median_ratio": round(statistics.median(walls) / ideal, 3),
        "ratios": [round(w / ideal, 3) for w in walls],
        "plain_instructor_ratio": round(plain["wall_s"] / ideal, 3) if plain else None,
    }
    print(json.dumps(entry, indent=2))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "cli_batch.json"
    runs = json.loads(path.read_text()) if path.exists() else {}
    runs[args.label] = entry
    path.write_text(json.dumps(runs, indent=2) + "\n", encoding="utf-8")
    rows = []
    for e in runs.values():
        ratios = ", ".join(f"{r:.3f}" for r in e["ratios"])
        plain_ratio = e["plain_instructor_ratio"]
        rows.append(
            f"| {e['label']} | {ratios} | **{e['median_ratio']:.3f}** "
            f"| {plain_ratio if plain_ratio is not None else '—'} |"
        )
    (RESULTS / "cli_batch.md").write_text(
        "# `summarizer batch` through the CLI\n\n"
        f"`.venv/bin/python benchmarks/cli_batch.py`: {args.articles} articles, "
        f"concurrency {args.concurrency}, {args.latency:g} s latency (fake server in its "
        f"own process), ideal N·L/C = {ideal:g} s; each run is the whole command, process "
        "start included. Target: median <= 1.10 of ideal.\n\n"
        "| code | wall / ideal per run | median | plain Instructor, same run |\n"
        "|---|---|---|---|\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
