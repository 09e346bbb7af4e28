"""Benchmark `summarizer batch` with the embedded model: one process or a pool.

Run from the repo root (after ``make install``; about 7 minutes on 2 cores)::

    .venv/bin/python benchmarks/local_batch.py

The four shortest articles of the eval set go through ``run_batch`` twice, with
re-asks off and no cache: once in one process whose model uses every core, once in
as many processes as cores (up to 2), each with its own model on one core's share.
Results go to ``benchmarks/results/local_batch.json`` and ``.md``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from summarizer.batch import BatchItem, BatchOptions, run_batch  # noqa: E402
from summarizer.settings import Settings  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    files = sorted((ROOT / "evals" / "wikinews" / "articles").glob("*.txt"),
                   key=lambda p: p.stat().st_size)[:4]  # fmt: skip
    items = [BatchItem(p.stem, p.name, p.read_text(encoding="utf-8")) for p in files]
    settings = Settings.resolve(model="local", max_reasks=0)
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, min(2, os.cpu_count() or 1)):
            out = Path(tmp) / f"w{workers}.jsonl"
            started = time.perf_counter()
            stats = run_batch([], out, settings,
                              BatchOptions(workers=workers, use_cache=False),
                              prices={}, items=items)  # fmt: skip
            rows = [json.loads(line) for line in out.read_text().splitlines()]
            runs[f"workers={workers}"] = {
                "wall_s": round(time.perf_counter() - started, 1),
                "ok": sum(r["status"] == "ok" for r in rows),
                "completion_tokens": stats.completion_tokens,
                "prompt_tokens": stats.prompt_tokens,
            }
    result = {
        "articles": [p.stem for p in files],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "runs": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "local_batch.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Embedded model in batch: one process or a pool",
        "",
        f"`.venv/bin/python benchmarks/local_batch.py` on {result['cpus']} CPUs: the 4 "
        "shortest eval articles, re-asks off, no cache.",
        "",
        "| run | wall s | summaries | prompt tokens | completion tokens |",
        "|---|---|---|---|---|",
    ]
    for name, run in runs.items():
        lines.append(f"| {name} | {run['wall_s']} | {run['ok']} | {run['prompt_tokens']} | "
                     f"{run['completion_tokens']} |")  # fmt: skip
    (RESULTS / "local_batch.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
