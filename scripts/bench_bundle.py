#!/usr/bin/env python3
"""Benchmark offline bundles: writing and verifying them against `cp -r` and `sha256sum`, and
planning as a fleet grows.

    .venv/bin/python scripts/bench_bundle.py                 # full run: 64 MiB of variants, 7 runs
    .venv/bin/python scripts/bench_bundle.py --quick         # fast check: 8 MiB, 3 runs
    .venv/bin/python scripts/bench_bundle.py --json out.json # also write every sample as JSON

Everything runs on this machine, in a temporary folder that is removed at the end:

1. Bundle write. A registry (``edzoo registry init``) served by ``edzoo serve`` (gunicorn, 2
   workers) holds one model version whose 8 variants add up to ``--size-mb``; a plan (written
   here in the plan.json format: one device group per variant) needs all of them. One bundle
   is written first to warm the client's cache; then ``write_bundle`` is timed into a new
   folder each run: TUF refresh and the signed length and sha256 of every file, each file
   copied from the cache (temp name, fsync, rename), the metadata copied, every file read back
   and checked against its signed sha256, COMPLETE written. The
   peer, in the same run, is ``cp -r`` of the same blobs folder followed by ``sha256sum`` of
   every copied file; a second peer hashes with Python's hashlib (OpenSSL) instead, as edzoo
   does. The ratio is a throughput ratio: peer time / edzoo time (1.0 = as fast; aim >= 0.8).
2. Offline verification. ``verify_bundle`` (the checks ``edzoo install-bundle`` makes before it
   copies anything: COMPLETE and the listing, the TUF metadata from the trusted root, then every
   file against its signed length and sha256) against ``sha256sum`` (and hashlib) of the same
   files.
3. Plan time. Four small models are published; fleets of 10, 100, 1,000 and 10,000 device
   groups (reference profiles drawn at random, free storage drawn from a seeded RNG so groups
   are mostly distinct) are planned with ``registry.schools.plan.make_plan``; the table shows
   the time per fleet size and how it grows per 10x. The 10-group plan is also bundled and
   verified, to check that what ``make_plan`` writes bundles.

Only medians are printed. The page cache is warm for every case (the same bytes are read
again), so these compare CPU and copy costs, not the speed of a USB stick.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from benchlib import edzoo_server, int_list, log, table  # noqa: E402
from builders import make_build_dir  # noqa: E402

from registry.client import Puller, publish  # noqa: E402
from registry.core import keys, names, profiles  # noqa: E402
from registry.schools import bundle as bundles  # noqa: E402
from registry.server import admin  # noqa: E402

MB = 1 << 20
NS = "perf"
BIG = "big"
VERSION = "1.0.0"
VARIANTS = 8
PLAN_MODELS = 4


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def sha256sum(files: list[Path]) -> None:
    subprocess.run(["sha256sum", *map(str, files)], check=True, stdout=subprocess.DEVNULL)


def hashlib_sum(files: list[Path]) -> None:
    for p in files:
        with open(p, "rb") as f:
            hashlib.file_digest(f, "sha256")


def blob_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


# -- a registry ------------------------------------------------------------------------------------
class Registry:
    def __init__(self, work: Path) -> None:
        work.mkdir(parents=True)
        result = admin.init(work / "data", work / "offline-keys")
        self.data, self.root = result.data_dir, result.root_path
        signer = keys.generate()
        self.key, pub = work / "pk" / "bench.pem", work / "pk" / "bench.pub.json"
        keys.save_key_pair(signer, self.key, pub)
        self.token = admin.add_publisher(self.data, result.keys_dir, NS, pub)
        self.work = work
        self.builds: dict[str, Path] = {}

    def publish(self, url: str, name: str, variants: dict[str, bytes]) -> Path:
        build = make_build_dir(self.work / "builds" / name, NS, name, VERSION, variants)
        publish(build, registry=url, key_path=self.key, token=self.token)
        self.builds[name] = build
        return build


def big_plan(url: str, build: Path) -> dict[str, Any]:
    """A plan.json in the shared format that needs every variant of the big model: one group per
    variant, each installing that variant."""
    manifest = json.loads((build / "manifest.json").read_text())
    m_data = (build / "manifest.json").read_bytes()
    m_target = names.target_path(NS, BIG, VERSION, "manifest.json")
    targets = [{"target": m_target, "sha256": hashlib.sha256(m_data).hexdigest(), "size": len(m_data)}]
    groups = []
    for v in manifest["variants"]:
        target = names.target_path(NS, BIG, VERSION, v["file"])
        targets.append({"target": target, "sha256": v["sha256"], "size": v["size"]})
        item = {
            "model": f"{NS}/{BIG}",
            "version": VERSION,
            "variant": v["id"],
            "file": v["file"],
            "target": target,
            "sha256": v["sha256"],
            "size": v["size"],
            "why": "benchmark",
        }
        groups.append(
            {
                "id": f"group-{v['id']}",
                "profile": "teacher-laptop",
                "count": 1,
                "labels": {},
                "policy": "best-accuracy",
                "budget": {"storage_mb": 4096.0, "memory_mb": None},
                "install": [item],
                "not_installed": [],
                "problems": [],
                "bytes_per_device": v["size"],
                "bytes_total": v["size"],
                "value": 0.9,
            }
        )
    targets.sort(key=lambda t: t["target"])
    return {
        "schema_version": 1,
        "kind": "edzoo-plan",
        "catalog": {"id": "bench", "title": "bench", "sha256": "0" * 64},
        "fleet": {"id": "bench", "sha256": "0" * 64, "devices": len(groups), "groups": len(groups)},
        "registry": {"url": url, "snapshot_version": None},
        "models": [
            {
                "model": f"{NS}/{BIG}",
                "version": VERSION,
                "priority": 1,
                "required": True,
                "manifest_target": m_target,
                "manifest_sha256": targets[0]["sha256"],
                "manifest_size": len(m_data),
            }
        ],
        "unavailable": [],
        "groups": groups,
        "targets": targets,
        "totals": {"unique_bytes": sum(t["size"] for t in targets), "device_bytes": 0, "devices": len(groups)},
    }


# -- 1 and 2: bundle write and offline verification ----------------------------------------------------
def bench_bundle(reg: Registry, url: str, tmp: Path, size_mb: float, runs: int) -> dict[str, Any]:
    per_variant = int(size_mb * MB / VARIANTS)
    rng = random.Random(0)
    variants = {f"v{i}": rng.randbytes(per_variant) for i in range(VARIANTS)}
    build = reg.publish(url, BIG, variants)
    plan = tmp / "plan.json"
    plan.write_text(json.dumps(big_plan(url, build), indent=2))
    cache = tmp / "cache"
    warm = tmp / "bundle-warm"
    first = bundles.write_bundle(plan, warm, root=reg.root, cache_dir=cache)
    log(f"[bundle] warm-up: {first.files} files, {first.bytes / MB:.1f} MiB, {first.downloaded} downloaded")
    src_blobs = warm / "blobs"
    nbytes = sum(p.stat().st_size for p in blob_files(src_blobs))
    trusted = reg.root.read_bytes()

    samples: dict[str, list[float]] = {k: [] for k in ("edzoo", "cp_sha256sum", "cp_hashlib")}
    verify: dict[str, list[float]] = {k: [] for k in ("edzoo", "sha256sum", "hashlib")}
    for i in range(runs):
        out = tmp / f"bundle-{i}"
        samples["edzoo"].append(
            timed(lambda out=out: bundles.write_bundle(plan, out, root=reg.root, cache_dir=cache))  # type: ignore[misc]
        )
        for key, hasher in (("cp_sha256sum", sha256sum), ("cp_hashlib", hashlib_sum)):
            dest = tmp / f"cp-{key}-{i}"

            def peer(dest: Path = dest, hasher: Callable[[list[Path]], None] = hasher) -> None:
                subprocess.run(["cp", "-r", str(src_blobs), str(dest)], check=True)
                hasher(blob_files(dest))

            samples[key].append(timed(peer))
            shutil.rmtree(dest)
        files = blob_files(out / "blobs")
        verify["edzoo"].append(
            timed(lambda out=out: bundles.verify_bundle(out, trusted_root=trusted))  # type: ignore[misc]
        )
        verify["sha256sum"].append(timed(lambda files=files: sha256sum(files)))  # type: ignore[misc]
        verify["hashlib"].append(timed(lambda files=files: hashlib_sum(files)))  # type: ignore[misc]
        shutil.rmtree(out)
    return {
        "bytes": nbytes,
        "files": len(blob_files(src_blobs)),
        "runs": runs,
        "write_ms": {k: median_ms(v) for k, v in samples.items()},
        "verify_ms": {k: median_ms(v) for k, v in verify.items()},
        "write_samples_s": samples,
        "verify_samples_s": verify,
    }


# -- 3: plan time ----------------------------------------------------------------------------------
def fleet_doc(n: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    ids = profiles.reference_profiles()
    groups = []
    for i in range(n):
        groups.append(
            {
                "id": f"g{i:05d}",
                "profile": rng.choice(ids),
                "count": rng.randint(1, 40),
                "free_storage_mb": round(rng.uniform(0.05, 2.0), 3),
            }
        )
    return {"schema_version": 1, "id": f"fleet-{n}", "title": f"{n} groups", "groups": groups}


def bench_plan(reg: Registry, url: str, tmp: Path, sizes: list[int], runs: int) -> dict[str, Any]:
    from registry.schools import catalog as catalogs
    from registry.schools import plan as plans

    rng = random.Random(1)
    for m in range(PLAN_MODELS):
        base = 40_000 * (m + 1)
        reg.publish(
            url,
            f"m{m}",
            {"fp32": rng.randbytes(base * 4), "int8": rng.randbytes(base), "int4": rng.randbytes(base // 2)},
        )
    catalog_doc = {
        "schema_version": 1,
        "id": "bench-catalog",
        "title": "four models",
        "models": [{"model": f"{NS}/m{m}", "priority": 10 * (PLAN_MODELS - m)} for m in range(PLAN_MODELS)],
    }
    catalog = catalogs.parse_catalog(json.dumps(catalog_doc).encode(), source="bench catalog")
    puller = Puller(url, root=reg.root, cache_dir=tmp / "plan-cache")
    models, unavailable = plans.resolve_catalog(catalog, puller)
    snapshot = plans.snapshot_version(puller.metadata_dir)
    rows = []
    for n in sizes:
        fleet = catalogs.parse_fleet(json.dumps(fleet_doc(n, seed=n)).encode(), source=f"fleet of {n}")
        distinct = len({(g.profile_source, g.free_storage_mb, g.memory_mb) for g in fleet.groups})
        samples = []
        plan = None
        for _ in range(runs if n < 10_000 else max(1, min(runs, 3))):
            t0 = time.perf_counter()
            plan = plans.make_plan(
                catalog, fleet, models, registry=url, snapshot_version=snapshot, unavailable=unavailable
            )
            samples.append(time.perf_counter() - t0)
        rows.append({"groups": n, "distinct": distinct, "median_ms": median_ms(samples), "samples_s": samples})
        log(f"[plan] {n} groups ({distinct} distinct): {median_ms(samples):.1f} ms")
        if n == sizes[0] and plan is not None:
            path = tmp / "real-plan.json"
            plans.write_plan(plan, path)
            out = tmp / "real-bundle"
            made = bundles.write_bundle(path, out, root=reg.root, cache_dir=tmp / "plan-cache")
            bundles.verify_bundle(out, trusted_root=reg.root.read_bytes())
            log(f"[plan] the {n}-group plan bundles and verifies: {made.files} files, {made.bytes:,} bytes")
    return {"models": PLAN_MODELS, "rows": rows}


# -- report ----------------------------------------------------------------------------------------
def report(b: dict[str, Any] | None, p: dict[str, Any] | None) -> str:
    out = []
    if b is not None:
        w, v = b["write_ms"], b["verify_ms"]
        mib = b["bytes"] / MB
        out.append(f"\n== 1. Bundle write: {b['files']} files, {mib:.1f} MiB, {b['runs']} runs, medians ==")
        out.append(
            table(
                ["case", "ms", "MiB/s", "ratio (peer/edzoo)"],
                [
                    ["edzoo write_bundle (warm cache)", f"{w['edzoo']:.1f}", f"{mib / w['edzoo'] * 1000:.0f}", ""],
                    [
                        "cp -r + sha256sum",
                        f"{w['cp_sha256sum']:.1f}",
                        f"{mib / w['cp_sha256sum'] * 1000:.0f}",
                        f"{w['cp_sha256sum'] / w['edzoo']:.2f}",
                    ],
                    [
                        "cp -r + hashlib",
                        f"{w['cp_hashlib']:.1f}",
                        f"{mib / w['cp_hashlib'] * 1000:.0f}",
                        f"{w['cp_hashlib'] / w['edzoo']:.2f}",
                    ],
                ],
            )
        )
        out.append(
            "edzoo: TUF refresh over HTTP, each file copied from the cache with fsync and renamed, metadata "
            "copied, every file re-hashed from disk against its signed sha256, COMPLETE; the peers neither "
            "verify signatures nor fsync."
        )
        out.append(f"\n== 2. Offline verification of the same bundle ({b['runs']} runs, medians) ==")
        out.append(
            table(
                ["case", "ms", "MiB/s", "ratio (peer/edzoo)"],
                [
                    ["edzoo verify_bundle", f"{v['edzoo']:.1f}", f"{mib / v['edzoo'] * 1000:.0f}", ""],
                    [
                        "sha256sum",
                        f"{v['sha256sum']:.1f}",
                        f"{mib / v['sha256sum'] * 1000:.0f}",
                        f"{v['sha256sum'] / v['edzoo']:.2f}",
                    ],
                    [
                        "hashlib",
                        f"{v['hashlib']:.1f}",
                        f"{mib / v['hashlib'] * 1000:.0f}",
                        f"{v['hashlib'] / v['edzoo']:.2f}",
                    ],
                ],
            )
        )
        out.append(
            "edzoo: COMPLETE and the listing, the TUF root chain and every role from the trusted root, then "
            "every file against its signed length and sha256."
        )
    if p is not None:
        rows = p["rows"]
        out.append(f"\n== 3. make_plan time vs fleet size ({p['models']} models, medians) ==")
        lines = []
        for i, r in enumerate(rows):
            growth = ""
            if i:
                prev = rows[i - 1]
                factor = r["median_ms"] / prev["median_ms"]
                per10 = factor ** (1 / math.log10(r["groups"] / prev["groups"]))
                growth = f"{per10:.1f}x"
            lines.append(
                [
                    f"{r['groups']:,}",
                    f"{r['distinct']:,}",
                    f"{r['median_ms']:.1f}",
                    f"{r['median_ms'] * 1000 / r['groups']:.0f}",
                    growth,
                ]
            )
        out.append(table(["groups", "distinct", "ms", "µs/group", "growth per 10x"], lines))
        out.append(
            "Groups with the same profile and budgets are planned once; a growth of 10x per 10x groups is linear."
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time bundle writing and offline verification against cp -r and sha256sum in the same run, "
        "and planning as a fleet grows. Prints medians.",
    )
    parser.add_argument("--runs", type=int, default=None, help="timed runs per case (default 7; 3 with --quick)")
    parser.add_argument("--size-mb", type=float, default=None, help="MiB of variants to bundle (default 64; 8 quick)")
    parser.add_argument("--groups", type=int_list, default=None, help="fleet sizes to plan (default 10,100,1000,10000)")
    parser.add_argument("--quick", action="store_true", help="a fast check: 8 MiB, 3 runs")
    parser.add_argument("--skip-bundle", action="store_true", help="only the plan part")
    parser.add_argument("--skip-plan", action="store_true", help="only the bundle parts")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write every result to PATH")
    args = parser.parse_args(argv)
    runs = args.runs or (3 if args.quick else 7)
    size_mb = args.size_mb or (8.0 if args.quick else 64.0)
    sizes = args.groups or [10, 100, 1000, 10_000]
    if runs < 1 or size_mb <= 0:
        parser.error("--runs and --size-mb must be positive")
    if shutil.which("sha256sum") is None or shutil.which("cp") is None:
        raise SystemExit("this benchmark needs cp and sha256sum (coreutils)")

    print("edzoo bundle benchmark")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    print(f"settings: {runs} runs, {size_mb:g} MiB in {VARIANTS} variants, fleets {sizes}", flush=True)
    t0 = time.perf_counter()
    b = p = None
    with tempfile.TemporaryDirectory(prefix="edzoo-bench-bundle-") as tmp_name:
        tmp = Path(tmp_name)
        reg = Registry(tmp / "registry")
        with edzoo_server(reg.data, tmp) as url:
            log(f"edzoo serve at {url}")
            if not args.skip_bundle:
                (tmp / "bundle").mkdir()
                b = bench_bundle(reg, url, tmp / "bundle", size_mb, runs)
            if not args.skip_plan:
                try:
                    import registry.schools.plan  # noqa: F401
                except ImportError as e:
                    log(f"[plan] skipped: registry.schools.plan is not available ({e})")
                else:
                    (tmp / "plan").mkdir()
                    p = bench_plan(reg, url, tmp / "plan", sizes, runs)
    print(report(b, p))
    print(f"\n(total wall time {time.perf_counter() - t0:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps({"bundle": b, "plan": p}, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
