#!/usr/bin/env python3
"""What the number of hash bins of a new namespace costs: first-publish time and snapshot bytes.

    .venv/bin/python scripts/bench_bins.py                # 8, 6 and 4 bits, 5 runs each
    .venv/bin/python scripts/bench_bins.py --bits 8,4 --runs 3

A first publish signs, uploads and stores every bin of the namespace (so that the snapshot
lists every delegated role and any TUF client can say "not found"), and the snapshot then lists
``2**bits + 1`` roles for the namespace. For each bit length and run, a new publisher
namespace is added to one registry (``edzoo registry init``, the folder store, ``edzoo serve``
with gunicorn, 2 workers) and ``registry.client.publish`` is timed for its first version and
for a second one; the snapshot's growth is the namespace's share of it. Only medians are
printed. Everything runs in a temporary folder that is removed at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import urllib3

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from benchlib import cpu_name, edzoo_server, int_list, log, table  # noqa: E402
from builders import make_build_dir  # noqa: E402

from registry.client import publish  # noqa: E402
from registry.core import keys, trust  # noqa: E402
from registry.server import admin  # noqa: E402

BIG_NAMESPACE = 10_000  # files in a large publisher's namespace, for the pull column


def snapshot_bytes(http: urllib3.PoolManager, url: str) -> int:
    timestamp = trust.parse_metadata(http.request("GET", f"{url}/tuf/metadata/timestamp.json").data, "timestamp")
    version = timestamp.signed.snapshot_meta.version  # type: ignore[attr-defined]
    return len(http.request("GET", f"{url}/tuf/metadata/{version}.snapshot.json").data)


def bin_bytes(http: urllib3.PoolManager, url: str, ns: str) -> tuple[int, int, int]:
    """(bytes of every bin of ``ns``, bytes of one empty bin, files listed)."""
    role = trust.parse_metadata(http.request("GET", f"{url}/api/v1/roles/{ns}").data, ns)
    succinct = role.signed.delegations.succinct_roles  # type: ignore[attr-defined]
    total, empty, files = 0, 0, 0
    for name in succinct.get_roles():
        data = http.request("GET", f"{url}/api/v1/roles/{name}").data
        listed = len(trust.parse_metadata(data, name).signed.targets)  # type: ignore[attr-defined]
        total, files = total + len(data), files + listed
        empty = empty if listed else len(data)
    return total, empty, files


def measure(tmp: Path, bits_list: list[int], runs: int) -> list[dict[str, float]]:
    """Runs interleave the bit lengths, so a slower moment of the machine hits each alike."""
    init = admin.init(tmp / "data", tmp / "offline-keys")
    http = urllib3.PoolManager()
    samples: dict[int, dict[str, list[float]]] = {
        b: {"first": [], "next": [], "growth": [], "entry": []} for b in bits_list
    }
    empty_bin = 0
    with edzoo_server(init.data_dir, tmp) as url:
        for run in range(runs):
            for bits in bits_list:
                trust.DEFAULT_BIN_BITS = bits  # what a new namespace gets (read when it is created)
                ns = f"b{bits}r{run}"
                signer = keys.generate()
                key, pub = tmp / "pk" / f"{ns}.pem", tmp / "pk" / f"{ns}.pub.json"
                keys.save_key_pair(signer, key, pub)
                token = admin.add_publisher(init.data_dir, init.keys_dir, ns, pub)
                before = snapshot_bytes(http, url)
                for version, case in (("1.0.0", "first"), ("1.1.0", "next")):
                    build = make_build_dir(tmp / "builds" / ns / version, ns, "reader", version)
                    t0 = time.perf_counter()
                    result = publish(build, registry=url, key_path=key, token=token)
                    samples[bits][case].append(time.perf_counter() - t0)
                    if result.status != "published":
                        raise SystemExit(f"{ns}/reader@{version}: status {result.status}")
                samples[bits]["growth"].append(snapshot_bytes(http, url) - before)
                total, empty_bin, files = bin_bytes(http, url, ns)
                samples[bits]["entry"].append((total - empty_bin * 2**bits) / files)
            log(f"run {run + 1} of {runs} done")
    rows = []
    for bits, s in samples.items():
        entry = statistics.median(s["entry"])
        rows.append(
            {
                "bits": bits,
                "bins": 2**bits,
                "first_ms": statistics.median(s["first"]) * 1000,
                "next_ms": statistics.median(s["next"]) * 1000,
                "snapshot_bytes": statistics.median(s["growth"]),
                # 3 bins: a model's versions index, its manifest and its variant
                "pull_bins_bytes": 3 * (empty_bin + BIG_NAMESPACE / 2**bits * entry),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time a namespace's first publish and measure its share of the snapshot at "
        "several bin counts (medians). Example: scripts/bench_bins.py --bits 8,6,4 --runs 5",
    )
    parser.add_argument("--bits", type=int_list, default=[4, 6, 8], help="bit lengths to measure (default 8,6,4)")
    parser.add_argument("--runs", type=int, default=5, help="namespaces published per bit length (default 5)")
    args = parser.parse_args(argv)
    if args.runs < 1 or not all(1 <= b <= 16 for b in args.bits):
        parser.error("--runs must be positive and --bits between 1 and 16")
    print("edzoo hash-bin benchmark")
    print(f"machine: {cpu_name()}; folder store, SQLite index, edzoo serve (gunicorn, 2 workers)")
    print(
        f"settings: {args.runs} runs per bit length; model: tests/builders.py's reader "
        "(manifest, 2 variants, versions index)"
    )
    default = trust.DEFAULT_BIN_BITS
    with tempfile.TemporaryDirectory(prefix="edzoo-bench-bins-") as tmp:
        rows = measure(Path(tmp), sorted(args.bits, reverse=True), args.runs)
    print(
        table(
            [
                "bits",
                "bins",
                "first publish",
                "next publish",
                "snapshot per namespace",
                "snapshot, 1,000 namespaces",
                f"3 bins, {BIG_NAMESPACE:,}-file namespace",
            ],
            [
                [
                    str(r["bits"]),
                    str(r["bins"]),
                    f"{r['first_ms']:.0f} ms",
                    f"{r['next_ms']:.0f} ms",
                    f"{r['snapshot_bytes'] / 1024:.1f} KiB",
                    f"{r['snapshot_bytes'] * 1000 / 2**20:.2f} MiB",
                    f"{r['pull_bins_bytes'] / 1024:.0f} KiB",
                ]
                for r in rows
            ],
        )
    )
    print(f"edzoo's default for new namespaces: {default} bits ({2**default} bins)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
