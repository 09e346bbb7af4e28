"""`summarizer batch --engine ray` against the live batch, in the same run, same machine.

    .venv/bin/python benchmarks/ray_batch.py                # 2,000 articles, about 2 minutes
    .venv/bin/python benchmarks/ray_batch.py --articles 200 --out /tmp/r   # a smoke test

2,000 articles, the fake server (tests/fakeserver.py, its own process) answering each
request after 0.2 s, concurrency 50 in all: the ideal wall time is N·L/C = 8 s. Measured
with the library, as the command line calls it: the live batch (``run_batch``, workers
auto, i.e. 2 forked workers at this concurrency; and one event loop), then the Ray engine
(``run_ray_batch``, one task per shard, 2 shards on 2 CPUs, 25 requests in flight each),
alternating, ``--repeats`` times. The Ray wall time excludes ``ray.init`` (timed apart)
and includes everything else: shipping the articles to the tasks, the workers' first
imports (in the first Ray run), streaming the lines back and merging. The target is a
Ray wall time <= 1.15 x the live batch's; on one machine Ray can only cost, so no
speed-up is claimed here (the point of Ray is more machines).

Memory is the RSS summed over Ray's processes (GCS, raylet, workers, agents: the
descendants of this process but the fake server), idle after ``ray.init`` and at the peak
of a run, and the same as PSS (shared pages counted once: the object store is shared
memory mapped into every worker). Results go to benchmarks/results/ray_batch.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import batch as bench  # noqa: E402  (benchmarks/batch.py)

from summarizer.batch import BatchOptions, run_batch  # noqa: E402
from summarizer.batch.ray_engine import run_ray_batch, start_ray  # noqa: E402
from summarizer.settings import Settings  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            kids.setdefault(parent, []).append(int(entry.name))
    return kids


def memory_mb(skip: int) -> dict[str, dict[str, float]]:
    """RSS and PSS summed over this process's descendants but ``skip``'s subtree: its
    forks (the live batch's workers, which share its command line) and the rest (Ray's
    processes)."""
    kids, me = _children(), Path("/proc/self/cmdline").read_bytes()
    sums = {"forks": {"rss_mb": 0.0, "pss_mb": 0.0}, "ray": {"rss_mb": 0.0, "pss_mb": 0.0}}
    todo = list(kids.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        if pid == skip:
            continue
        todo.extend(kids.get(pid, []))
        try:
            kind = "forks" if Path(f"/proc/{pid}/cmdline").read_bytes() == me else "ray"
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith(("Rss:", "Pss:")):
                    key = "rss_mb" if line.startswith("Rss:") else "pss_mb"
                    sums[kind][key] += int(line.split()[1]) / 1024
        except OSError:
            continue
    return {k: {m: round(v, 1) for m, v in d.items()} for k, d in sums.items()}


class PeakMemory:
    """:func:`memory_mb` sampled twice a second while the block runs; the peaks kept."""

    def __init__(self, skip: int) -> None:
        self.skip = skip
        self.peak = {k: {"rss_mb": 0.0, "pss_mb": 0.0} for k in ("forks", "ray")}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            now = memory_mb(self.skip)
            self.peak = {k: {m: max(v, now[k][m]) for m, v in d.items()}
                         for k, d in self.peak.items()}  # fmt: skip

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def check(out: Path, articles: int) -> None:
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    ids = {r["id"] for r in rows}
    assert len(rows) == len(ids) == articles, (len(rows), len(ids))
    assert all(r["status"] == "ok" for r in rows), "an article failed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help=f"default: {RESULTS}")
    args = parser.parse_args()
    out_dir: Path = args.out or RESULTS
    ideal = args.articles * args.latency / args.concurrency
    items = bench.batch_items(args.articles)
    load_before = os.getloadavg()
    server = bench.Server(args.latency)
    skip = server.proc.pid
    settings = Settings.resolve(model="bench", base_url=server.url, max_transport_retries=8,
                                max_reasks=8)  # fmt: skip
    options = BatchOptions(concurrency=args.concurrency, use_cache=False)
    runs: dict[str, list[float]] = {"live": [], "live_one_loop": [], "ray": []}
    peaks: dict[str, dict[str, float]] = {}
    try:
        started = time.perf_counter()
        session = start_ray()
        init_s = time.perf_counter() - started
        time.sleep(2)  # the workers Ray starts with it settle
        idle = memory_mb(skip)["ray"]
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.repeats):
                for name, run in (
                    ("live", lambda o: run_batch([], o, settings, options, prices={},
                                                 items=items)),
                    ("ray", lambda o: run_ray_batch([], o, settings, options, prices={},
                                                    items=items)),
                ):  # fmt: skip
                    out = Path(tmp) / f"{name}-{r}.jsonl"
                    server.reset()
                    with PeakMemory(skip) as peak:
                        t0 = time.perf_counter()
                        run(out)
                        runs[name].append(round(time.perf_counter() - t0, 3))
                    part = peak.peak["forks" if name == "live" else "ray"]
                    peaks[name] = {k: max(v, peaks.get(name, {}).get(k, 0.0))
                                   for k, v in part.items()}  # fmt: skip
                    check(out, args.articles)
                    print(name, r, runs[name][-1], peak.peak, flush=True)
            one_loop = BatchOptions(concurrency=args.concurrency, use_cache=False, workers=1)
            out = Path(tmp) / "one-loop.jsonl"
            t0 = time.perf_counter()
            run_batch([], out, settings, one_loop, prices={}, items=items)
            runs["live_one_loop"].append(round(time.perf_counter() - t0, 3))
            check(out, args.articles)
        import ray

        ray.shutdown()
    finally:
        server.stop()
    live, ray_wall = statistics.median(runs["live"]), statistics.median(runs["ray"])
    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_avg_1_5_15_before": [round(x, 2) for x in load_before],
                    "load_avg_1_5_15_after": [round(x, 2) for x in os.getloadavg()]},
        "ray_version": _ray_version(),
        "articles": args.articles, "latency_s": args.latency,
        "concurrency": args.concurrency, "ideal_s": ideal, "shards": session.cpus,
        "ray_init_s": round(init_s, 2),
        "walls_s": runs,
        "median_s": {"live": live, "ray": ray_wall},
        "ray_over_live": round(ray_wall / live, 3),
        "target": "ray <= 1.15 x live",
        "passed": ray_wall <= 1.15 * live,
        "memory_mb": {"ray_idle": idle, "ray_peak": peaks["ray"], "live_peak": peaks["live"]},
    }  # fmt: skip
    print(json.dumps(result, indent=2))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "ray_batch.json").write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    (out_dir / "ray_batch.md").write_text(_markdown(result), encoding="utf-8")


def _ray_version() -> str:
    import ray

    return str(ray.__version__)


def _markdown(r: dict[str, Any]) -> str:
    m, mem = r["machine"], r["memory_mb"]
    walls = r["walls_s"]

    def cell(xs: list[float]) -> str:
        return ", ".join(f"{x:.2f}" for x in xs)

    return (
        "# `summarizer batch --engine ray` against the live batch\n\n"
        f"`.venv/bin/python benchmarks/ray_batch.py`: {r['articles']} articles, "
        f"{r['latency_s']:g} s latency (fake server in its own process), concurrency "
        f"{r['concurrency']} in all, ideal N·L/C = {r['ideal_s']:g} s; {m['cpus']} CPUs, "
        f"Python {m['python']}, Ray {r['ray_version']}, {r['shards']} shards. Live and Ray "
        "runs alternate, in one process, against one server.\n\n"
        "**Caveat:** measured once, on a 2-core machine that other engineers were loading "
        f"at the time (load average {m['load_avg_1_5_15_before'][0]:.2f} before, "
        f"{m['load_avg_1_5_15_after'][0]:.2f} after). One machine shows Ray's cost, never "
        "its benefit: no speed-up is claimed.\n\n"
        "| engine | wall s per run | median | / ideal |\n|---|---|---|---|\n"
        f"| live batch (workers auto: 2 processes) | {cell(walls['live'])} | "
        f"{r['median_s']['live']:.2f} | {r['median_s']['live'] / r['ideal_s']:.2f} |\n"
        f"| live batch, one event loop | {cell(walls['live_one_loop'])} | "
        f"{walls['live_one_loop'][0]:.2f} | {walls['live_one_loop'][0] / r['ideal_s']:.2f} |\n"
        f"| Ray engine, excluding `ray.init` | {cell(walls['ray'])} | "
        f"{r['median_s']['ray']:.2f} | {r['median_s']['ray'] / r['ideal_s']:.2f} |\n\n"
        f"Ray / live (medians): **{r['ray_over_live']:.3f}** (target <= 1.15: "
        f"{'met' if r['passed'] else 'NOT met'}). `ray.init` (local, "
        f"{r['shards']} CPUs, no dashboard): **{r['ray_init_s']:.1f} s**, not counted above.\n\n"
        "| memory (MB, summed over processes) | RSS | PSS |\n|---|---|---|\n"
        f"| Ray, idle after `ray.init` | {mem['ray_idle']['rss_mb']:.0f} | "
        f"{mem['ray_idle']['pss_mb']:.0f} |\n"
        f"| Ray, peak during a run | {mem['ray_peak']['rss_mb']:.0f} | "
        f"{mem['ray_peak']['pss_mb']:.0f} |\n"
        f"| live batch's worker processes, peak | {mem['live_peak']['rss_mb']:.0f} | "
        f"{mem['live_peak']['pss_mb']:.0f} |\n\n"
        "The driver (this process: the inputs, the merge) is not in these sums; with Ray it "
        "holds every article once to ship it.\n"
    )


if __name__ == "__main__":
    main()
