"""Start-up time of the CLI commands that call no model.

Run from the repo root (after ``make install``)::

    .venv/bin/python benchmarks/startup.py
    .venv/bin/python benchmarks/startup.py --tree /some/other/checkout --out /tmp/startup
    .venv/bin/python benchmarks/startup.py --baseline /tmp/before  # a checkout of HEAD

Each command runs as ``python -m summarizer ARGS`` in a fresh process, as a user waits
for it: once to warm the file and bytecode caches (``PYTHONDONTWRITEBYTECODE`` is
dropped from their environment: an installed package has its bytecode, and without it
every module changed since the last write would be compiled from source in every run,
which measures the editor, not the code), then ``--runs`` times (7), the
commands taking turns (one run of each, then the next round), so that a burst of load
from elsewhere falls on all of them rather than on the few measured while it lasted.
The table gives the median, min and max wall seconds, and ``python -c pass`` is the
floor (the interpreter's own start, which no change of ours can go under); the row
after it imports typer and builds and uses one pydantic model, what the ``eval``
commands cannot go under either (their own cost is what they take above it). ``--tree``
runs another checkout's ``summarizer`` package with this interpreter, to compare before
and after; ``--baseline`` runs another checkout in the same rounds, each command of
one right before or after the other's, so that load from elsewhere (this is a shared
machine) falls on both and their difference is the code's.

These commands must never import the OpenAI SDK, Instructor, llama.cpp or trafilatura
(``tests/test_cli.py`` and ``tests/test_startup_imports.py`` check that); this script
tells how long they take. ``schema`` and ``prompts`` print from a snapshot while it
matches the sources (:mod:`summarizer.cli.reference_snapshot`): whether it did is
recorded, and two rows time them computing instead, as they run after a change to the
contract or the prompts until the snapshot is written again. Wall times depend on the
machine's load, so the load average is recorded beside them (before, after, and the
highest seen between rounds), and so is each command's CPU time (user + system), which
load changes much less.

Results go to ``benchmarks/results/startup.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# (label, arguments after `python -m summarizer`); every one must exit 0. ONE_CASE is a
# dataset of one article and its golden file, made in a temporary folder: scoring all
# 33 articles takes seconds of real work, which says nothing about start-up (that run
# is timed too, last, for scale).
ONE_CASE = "{one_case}"
COMMANDS: list[tuple[str, list[str]]] = [
    ("--version", ["--version"]),
    ("--help", ["--help"]),
    ("schema", ["schema"]),
    ("schema --llm", ["schema", "--llm"]),
    ("prompts list", ["prompts", "list"]),
    ("prompts show summarize@v1", ["prompts", "show", "summarize@v1"]),
    ("exit-codes", ["exit-codes"]),
    ("eval check evals/wikinews", ["eval", "check", "-d", "evals/wikinews"]),
    (
        "eval score, 1 article",
        ["eval", "score", "-d", ONE_CASE, "--candidates", f"{ONE_CASE}/golden"],
    ),
    ("cache stats", ["cache", "stats"]),
    (
        "eval score evals/wikinews, 33 articles",
        ["eval", "score", "-d", "evals/wikinews", "--candidates", "evals/wikinews/golden"],
    ),
]
CASE = "000-seed-trump-putin-call"
FLOOR = "python -c pass"
# What the eval commands cannot go under either, whatever this package does: the
# interpreter, the CLI framework and one pydantic model (pydantic's first model class
# builds its machinery and scans the installed packages for plugins).
LIBRARIES = "python: import typer, one pydantic model"
LIBRARIES_CODE = (
    "import typer\nfrom pydantic import BaseModel\n"
    "class M(BaseModel):\n    x: int\nM.model_validate({'x': 1})\n"
)
# The same commands with the snapshot out of the way: what they cost after a change to
# their sources until `python -m summarizer.cli.reference_snapshot` runs again.
COMPUTED = (
    "import sys\nfrom summarizer.cli import reference_snapshot, run\n"
    "reference_snapshot.SNAPSHOT = reference_snapshot.SNAPSHOT.with_name('none')\n"
    "sys.argv[1:] = {args!r}\nrun()\n"
)
COMPUTED_COMMANDS: list[tuple[str, list[str]]] = [
    ("schema, computed (no snapshot)", ["schema"]),
    ("prompts show summarize@v1, computed", ["prompts", "show", "summarize@v1"]),
]
SERVED = (
    "from summarizer.cli import reference_snapshot as r\n"
    "print(r.schema(False) is not None and r.listed_prompts() is not None)\n"
)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``argv``.

    CPU time (user + system) is what the command itself spent; on a busy machine wall
    time also counts the wait for a core, so the two together tell noise from cost.
    A command that fails stops the benchmark.
    """
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv)}: exit {proc.returncode}\n{proc.stderr.decode(errors='replace')}"
        )
    return elapsed, _children_cpu() - cpu


def measure(
    tree: Path, runs: int, baseline: Path | None = None
) -> tuple[list[dict[str, Any]], float]:
    """One row per command (the floor first): command, median_s, min_s, max_s (wall) and
    cpu_median_s (and the same of ``baseline``'s checkout, prefixed ``baseline_``, when
    there is one); and the highest 1-minute load average seen between rounds."""
    trees = [tree] if baseline is None else [tree, baseline]
    with tempfile.TemporaryDirectory() as tmp:
        # A cache of our own: `cache stats` must not read (or create) the user's.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env |= {"SUMMARIZER_CACHE_DIR": f"{tmp}/cache", "COLUMNS": "100"}
        one_case = Path(tmp) / "one-case"
        for folder, suffix in (("articles", ".txt"), ("golden", ".json")):
            (one_case / folder).mkdir(parents=True)
            name = CASE + suffix
            shutil.copy(ROOT / "evals" / "wikinews" / folder / name, one_case / folder / name)
        runs_of = [(FLOOR, [sys.executable, "-c", "pass"]),
                   (LIBRARIES, [sys.executable, "-c", LIBRARIES_CODE])]  # fmt: skip
        for label, args in COMMANDS:
            args = [arg.format(one_case=one_case) for arg in args]
            runs_of.append((label, [sys.executable, "-m", "summarizer", *args]))
        if all((t / "summarizer" / "cli" / "reference_snapshot.py").is_file() for t in trees):
            for label, args in COMPUTED_COMMANDS:
                runs_of.append((label, [sys.executable, "-c", COMPUTED.format(args=args)]))
        for _, argv in runs_of:  # the warm-up
            for t in trees:
                run_once(argv, t, env)
        walls: dict[tuple[Path, str], list[float]] = {}
        cpus: dict[tuple[Path, str], list[float]] = {}
        peak = os.getloadavg()[0]
        for round_ in range(runs):
            for label, argv in runs_of:
                # Both checkouts back to back, taking turns at going first: a burst of
                # load from elsewhere falls on both, so the difference is the code's.
                for t in trees if round_ % 2 == 0 else trees[::-1]:
                    wall, cpu = run_once(argv, t, env)
                    walls.setdefault((t, label), []).append(wall)
                    cpus.setdefault((t, label), []).append(cpu)
            peak = max(peak, os.getloadavg()[0])
            print(f"round {round_ + 1} of {runs}; load {os.getloadavg()[0]:.2f}", file=sys.stderr)
    rows = []
    for label, _ in runs_of:
        row: dict[str, Any] = {"command": label}
        for t, prefix in zip(trees, ("", "baseline_"), strict=False):
            row |= {
                f"{prefix}median_s": round(statistics.median(walls[t, label]), 4),
                f"{prefix}min_s": round(min(walls[t, label]), 4),
                f"{prefix}max_s": round(max(walls[t, label]), 4),
                f"{prefix}cpu_median_s": round(statistics.median(cpus[t, label]), 4),
            }
        rows.append(row)
    return rows, peak


def snapshot_served(tree: Path) -> bool | None:
    """Whether ``schema`` and ``prompts`` print from the snapshot in ``tree`` (``None``:
    a checkout from before it)."""
    if not (tree / "summarizer" / "cli" / "reference_snapshot.py").is_file():
        return None
    proc = subprocess.run([sys.executable, "-c", SERVED], cwd=tree, capture_output=True,
                          text=True, check=True)  # fmt: skip
    return proc.stdout.strip() == "True"


def markdown(result: dict[str, Any]) -> str:
    """The results as the Markdown page kept in ``benchmarks/results``."""
    floor = result["rows"][0]["median_s"]
    baseline = result.get("baseline")
    lines = [
        "# CLI start-up",
        "",
        f"Wall time of `python -m summarizer ARGS` in a fresh process: median of "
        f"{result['runs']} runs after one warm-up; generated by `benchmarks/startup.py`.",
        f"Python {result['python']}, {result['cpus']} CPU(s); load average "
        f"{result['load_before']:.2f} before, {result['load_after']:.2f} after, "
        f"{result.get('load_peak', result['load_after']):.2f} at most between rounds.",
        "",
        {
            True: "`schema` and `prompts` printed from the snapshot, which matched the sources.",
            False: "`schema` and `prompts` computed their output: the snapshot did NOT match "
            "the sources (`python -m summarizer.cli.reference_snapshot` writes it).",
            None: "This checkout has no snapshot for `schema` and `prompts`.",
        }[result.get("snapshot_served")],
        *(
            [
                "",
                f"The baseline columns ran the checkout at `{baseline}` in the same rounds, "
                "each command right before or after this one's (taking turns).",
            ]
            if baseline
            else []
        ),
        "",
        "| command | median s | min s | max s | over the floor s | CPU s (median) |"
        + (" baseline: median s | baseline: CPU s |" if baseline else ""),
        "|---|---|---|---|---|---|" + ("---|---|" if baseline else ""),
    ]
    for row in result["rows"]:
        over = "" if row["command"] == FLOOR else f"{row['median_s'] - floor:.3f}"
        lines.append(
            f"| `{row['command']}` | {row['median_s']:.3f} | {row['min_s']:.3f} | "
            f"{row['max_s']:.3f} | {over} | {row['cpu_median_s']:.3f} |"
            + (
                f" {row['baseline_median_s']:.3f} | {row['baseline_cpu_median_s']:.3f} |"
                if baseline
                else ""
            )
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per command")
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout whose package runs")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout (before a change) run in the same rounds, for a comparison "
        "that load from elsewhere does not skew",
    )
    args = parser.parse_args()
    tree = args.tree.resolve()
    baseline = args.baseline.resolve() if args.baseline else None
    load_before = os.getloadavg()[0]
    rows, peak = measure(tree, args.runs, baseline)
    result = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "runs": args.runs,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "load_peak": peak,
        "snapshot_served": snapshot_served(tree),
        **({"baseline": str(baseline)} if baseline else {}),
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "startup.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (args.out / "startup.md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))


if __name__ == "__main__":
    main()
