#!/usr/bin/env python3
"""Benchmark every variant of every model in a build folder against its fp32 variant.

    python scripts/bench_variants.py [build] [--runs 1000] [--threads 1] [--parts]

For each ``build/<namespace>/<model>/<version>/manifest.json``, in one run: file size and gzip
size, latency p50/p90 of single-sample inference (LiteRT, fresh process per variant, warm-up
first), each as a ratio to fp32; and the task's metric, re-measured through LiteRT on the test
split (regenerated from the build's seed and checked against the sha256 the manifest recorded)
and on the held-out source of another origin where the task has one (``Task.shift``), with
each variant's delta to fp32 in points. Medians only; nothing is copied from the manifest.
With ``--parts``, a second table per model gives every part of the task's score breakdown
(an accuracy over a part of the set, such as the keywords of the speech model) on both sets.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _parts(extra: dict) -> dict[str, dict]:
    return {k: v for k, v in (extra or {}).items() if isinstance(v, dict) and {"accuracy", "n"} <= set(v)}


def bench_model(build_dir: Path, runs: int, threads: int, parts: bool = False) -> None:
    from zoo import kinds, measure, tasks
    from zoo.datasets.handwriting import split_sha256

    doc = json.loads((build_dir / "manifest.json").read_text())
    task = tasks.get(doc["name"])
    profile = "quick" if doc["version"].endswith("-quick") else "full"
    seed = doc["provenance"]["random_seeds"]["seed"]
    data = task.load_data(profile, seed, REPO / "build" / ".cache")
    recorded = doc["provenance"]["dataset_digests"][f"{task.name}-test"]
    if split_sha256(data.test) != recorded:
        raise SystemExit(f"{build_dir}: the regenerated test split differs from the one the build used")
    score = task.score or kinds.get(task.kind).scorer(task.metric)
    shift = task.shift(profile, seed, REPO / "build" / ".cache", data) if task.shift else None
    config = measure.BenchConfig(threads=threads, warmup=max(20, runs // 10), runs=runs)
    rows = {}
    breakdowns: dict[str, dict[str, dict]] = {}
    for v in doc["variants"]:
        path = build_dir / v["file"]
        data_bytes = path.read_bytes()
        ev = measure.evaluate(
            path, data.test.x, data.test.y, data.labels, score=lambda o: score(o, data.test, data.labels)
        )
        held_ev = (
            measure.evaluate(path, shift[1].x, shift[1].y, data.labels, score=lambda o: score(o, shift[1], data.labels))
            if shift
            else None
        )
        held = held_ev.score.value if held_ev else float("nan")
        breakdowns[v["id"]] = {
            **{f"test: {k}": p for k, p in _parts(ev.score.extra).items()},
            **{f"held-out: {k}": p for k, p in _parts(held_ev.score.extra if held_ev else {}).items()},
        }
        b = measure.benchmark(path, data.test.x[0], config)
        rows[v["id"]] = (
            len(data_bytes),
            measure.gzip_size(data_bytes),
            b["latency_us_p50"],
            b["latency_us_p90"],
            ev.score.value,
            held,
        )
    ref = rows["fp32"]
    print(
        f"\n{doc['namespace']}/{doc['name']}@{doc['version']}  ({task.metric}; test split: {len(data.test.y)} "
        f"samples; held-out source: {shift[0] if shift else 'none'}; {runs} runs, {threads} thread)"
    )
    print(
        f"{'variant':15s} {'size ×fp32':>10s} {'gzip ×fp32':>10s} {'p50 µs':>8s} {'p50 ×fp32':>9s} "
        f"{'p90 ×fp32':>9s} {'test':>7s} {'Δ pts':>6s} {'held-out':>8s} {'Δ pts':>6s}"
    )
    for vid, (size, gz, p50, p90, value, held) in rows.items():
        print(
            f"{vid:15s} {size / ref[0]:10.3f} {gz / ref[1]:10.3f} {p50:8.2f} {p50 / ref[2]:9.2f} "
            f"{p90 / ref[3]:9.2f} {value:7.4f} {(value - ref[4]) * 100:+6.2f} {held:8.4f} {(held - ref[5]) * 100:+6.2f}"
        )
    if parts and breakdowns.get("fp32"):
        print("\nparts of the score: accuracy (95% CI) [n]")
        for name in breakdowns["fp32"]:
            print(f"  {name}")
            for vid, b in breakdowns.items():
                p = b.get(name)
                if p:
                    ci = p.get("ci95") or [float("nan")] * 2
                    more = ""
                    if "threshold" in p:
                        more = f", threshold {p['threshold']:.4f}, taken {p['other_words_taken']:.3f}"
                    print(f"    {vid:15s} {p['accuracy']:.4f} ({ci[0]:.4f}-{ci[1]:.4f}) [{p['n']}]{more}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("build", nargs="?", type=Path, default=REPO / "build")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--parts", action="store_true", help="also print every part of the score breakdown")
    args = parser.parse_args()
    from zoo import measure

    m = measure.machine()
    print(f"machine: {m['cpu']}, {m['cores']} cores, {m['os']}, {m['runtime']}")
    found = sorted(p.parent for p in args.build.glob("*/*/*/manifest.json"))
    if not found:
        print(f"no build directories under {args.build}; run scripts/build_zoo first", file=sys.stderr)
        return 2
    for build_dir in found:
        bench_model(build_dir, args.runs, args.threads, args.parts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
