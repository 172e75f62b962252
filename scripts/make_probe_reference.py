#!/usr/bin/env python3
"""Make the reference model that `edzoo device probe` times to find a device's speed factor.

    python scripts/make_probe_reference.py build/edzoo/handwriting/1.0.0 [--variant int8]

Copies one variant of a zoo build to ``manifests/reference/probe.tflite`` and writes
``probe.json`` with what the build measured for it on the reference machine: its single-sample
latency p50 (the same method the probe uses: ``invoke()`` on one input after warm-up, 1
thread), the machine, and the input to time it with (the build's first golden sample). The
speed factor of a device is then its p50 divided by the reference p50.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("build_dir", type=Path)
    parser.add_argument("--variant", default="int8")
    parser.add_argument("--out", type=Path, default=REPO / "manifests" / "reference")
    args = parser.parse_args()
    doc = json.loads((args.build_dir / "manifest.json").read_text())
    variant = next((v for v in doc["variants"] if v["id"] == args.variant), None)
    if variant is None:
        print(f"no variant {args.variant} in {args.build_dir}", file=sys.stderr)
        return 2
    golden = json.loads((args.build_dir / "golden" / "samples.json").read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.build_dir / variant["file"], args.out / "probe.tflite")
    data = (args.out / "probe.tflite").read_bytes()
    b = variant["benchmarks"]
    reference = {
        "model": f"{doc['namespace']}/{doc['name']}@{doc['version']}",
        "variant": variant["id"],
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "latency_us_p50": b["latency_us_p50"],
        "threads": b["threads"],
        "runs": b["runs"],
        "warmup_runs": b["warmup_runs"],
        "machine": b["machine"],
        "input": golden["samples"][0]["input"],
        "made_by": "scripts/make_probe_reference.py from the build's own measurements",
    }
    (args.out / "probe.json").write_text(json.dumps(reference, indent=1) + "\n")
    print(f"wrote {args.out / 'probe.tflite'} ({len(data):,} B) and probe.json (p50 {b['latency_us_p50']} µs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
