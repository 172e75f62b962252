#!/usr/bin/env python3
"""Benchmark the Hugging Face download routes against ``edzoo pull``, and the catalog page as a
registry grows.

    .venv/bin/python scripts/bench_hf.py                 # full run (a few minutes)
    .venv/bin/python scripts/bench_hf.py --quick         # fast check: 3 runs, smaller variants
    .venv/bin/python scripts/bench_hf.py --json out.json # also write every sample as JSON

Everything runs on this machine, in a temporary folder that is removed at the end:

1. snapshot_download vs edzoo pull. A registry (``edzoo registry init``) served by ``edzoo
   serve`` (gunicorn, 2 workers x 4 threads) holds one version with three random variants
   (``--size-mb`` for fp32, a quarter of it for int8 and dynamic). In the same run, alternating,
   the real ``huggingface_hub.snapshot_download`` (``HF_ENDPOINT`` = the registry,
   ``allow_patterns=["manifest.json", "variants/*"]``: the same four files) and
   ``registry.client.Puller`` pulling each variant are timed cold (a new, empty cache each run;
   for edzoo that includes the TUF metadata refresh and the sha256 check of every file; the
   Hugging Face client checks sizes only) and warm (the last cache again). Both run in this
   process. The ratio edzoo / Hugging Face is printed: below 1 means edzoo's own client was
   faster. The server hashes each local blob once per worker before serving it over the HF
   routes; two warm-up runs of each client come before the timed ones.
2. Catalog page render time. Another registry gets 10, 100 and 1,000 models. They are inserted
   as rows through the index (``Index.record_publish``, the call a publish makes), not published
   through TUF: a real publish of 1,000 models takes minutes and the page reads only the index.
   At each count ``GET /`` (the web catalog) is timed over ``--page-runs`` requests; if the
   server answers 404 there (no web catalog), ``GET /api/v1/models?limit=500`` is timed instead
   and the output says so.

Only medians are printed.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import urllib3

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from bench_pull import median_ms, timed  # noqa: E402
from benchlib import cpu_name, edzoo_server, int_list, log, table  # noqa: E402
from builders import make_build_dir, manifest_for  # noqa: E402

from registry.client import Puller, publish  # noqa: E402
from registry.core import keys  # noqa: E402
from registry.server import admin  # noqa: E402
from registry.storage.index import Index  # noqa: E402

MB = 1 << 20
NS, NAME, VERSION = "perf", "big", "1.0.0"
REPO_ID = f"{NS}/{NAME}"
PATTERNS = ["manifest.json", "variants/*"]


def machine_info() -> dict[str, Any]:
    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "edzoo": importlib.metadata.version("edzoo"),
        "huggingface_hub": importlib.metadata.version("huggingface_hub"),
        "tuf": importlib.metadata.version("tuf"),
    }


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


# -- a registry with one publisher ---------------------------------------------------------------
def new_registry(work: Path, namespace: str) -> tuple[Path, bytes, Path, str]:
    """(data folder, root.json bytes, publisher key, upload token)."""
    work.mkdir(parents=True)
    result = admin.init(work / "data", work / "offline-keys")
    key = work / "publisher-keys" / f"{namespace}.pem"
    pub = key.with_suffix(".pub.json")
    keys.save_key_pair(keys.generate(), key, pub)
    token = admin.add_publisher(result.data_dir, result.keys_dir, namespace, pub)
    return result.data_dir, result.root_path.read_bytes(), key, token


# -- 1. snapshot_download vs edzoo pull ----------------------------------------------------------
def hf_environment(url: str, home: Path) -> None:
    """huggingface_hub reads its settings when it is imported: set them first, import after."""
    for name in [k for k in os.environ if k.startswith(("HF_", "HUGGINGFACE_"))]:
        del os.environ[name]
    os.environ.update(
        HF_ENDPOINT=url,
        HF_HOME=str(home),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        HF_HUB_OFFLINE="0",
    )


CASES = ("hf_cold", "edzoo_cold", "hf_warm", "edzoo_warm")


def bench_download(tmp: Path, runs: int, size_mb: float) -> dict[str, Any]:
    work = tmp / "download"
    data, root, key, token = new_registry(work, NS)
    sizes = {"fp32": int(size_mb * MB), "int8": int(size_mb * MB / 4), "dynamic": int(size_mb * MB / 4)}
    variants = {vid: os.urandom(n) for vid, n in sizes.items()}
    build = make_build_dir(work / "build", NS, NAME, VERSION, variants)
    expected = {p.relative_to(build).as_posix(): sha256_file(p) for p in build.rglob("*") if p.is_file()}
    samples: dict[str, list[float]] = {case: [] for case in CASES}
    with edzoo_server(data, work) as url:
        log(f"[download] edzoo serve at {url}")
        result = publish(build, registry=url, key_path=key, token=token)
        if result.status != "published":
            raise SystemExit(f"publishing {REPO_ID}: status {result.status}")
        hf_environment(url, work / "hf-home")
        from huggingface_hub import snapshot_download

        def hf_pull(cache: Path) -> dict[str, str]:
            folder = Path(snapshot_download(REPO_ID, allow_patterns=PATTERNS, cache_dir=cache))
            return {p.relative_to(folder).as_posix(): str(p) for p in folder.rglob("*") if p.is_file()}

        def edzoo_pull(cache: Path) -> dict[str, str]:
            puller = Puller(url, root=root, cache_dir=cache)
            got = {}
            for vid in variants:
                pulled = puller.pull(f"{REPO_ID}@{VERSION}", variant=vid)
                got[f"variants/{vid}.tflite"] = str(pulled.path)
            return got

        def check(got: dict[str, str], what: str) -> None:
            for rel, path in got.items():
                if sha256_file(Path(path)) != expected[rel]:
                    raise SystemExit(f"{what}: {rel} has the wrong bytes")

        caches = work / "caches"
        for i in range(2):  # warm-up: each gunicorn worker hashes the blobs once, HF fetches its registry
            check(hf_pull(caches / f"warmup-hf-{i}"), "snapshot_download")
            check(edzoo_pull(caches / f"warmup-edzoo-{i}"), "edzoo pull")
        shutil.rmtree(caches)
        got_hf: dict[str, str] = {}
        # os.sync() before each timed case, untimed: the file system's work for what the last
        # case wrote is not charged to the next one (edzoo fsyncs its pinned root on first use).
        for i in range(runs):
            os.sync()
            dt, got_hf = timed(lambda i=i: hf_pull(caches / f"hf-{i}"))
            samples["hf_cold"].append(dt)
            check(got_hf, "snapshot_download")
            os.sync()
            dt, got = timed(lambda i=i: edzoo_pull(caches / f"edzoo-{i}"))
            samples["edzoo_cold"].append(dt)
            check(got, "edzoo pull")
        if set(got_hf) != {"manifest.json", *(f"variants/{v}.tflite" for v in variants)}:
            raise SystemExit(f"snapshot_download fetched {sorted(got_hf)}, not the manifest and the variants")
        for _ in range(runs):
            os.sync()
            samples["hf_warm"].append(timed(lambda: hf_pull(caches / f"hf-{runs - 1}"))[0])
            os.sync()
            samples["edzoo_warm"].append(timed(lambda: edzoo_pull(caches / f"edzoo-{runs - 1}"))[0])
    return {
        "runs": runs,
        "files": sorted(got_hf),
        "bytes": sum(sizes.values()) + len((build / "manifest.json").read_bytes()),
        "variant_bytes": sizes,
        "median_ms": {case: median_ms(s) for case, s in samples.items()},
        "samples_s": samples,
    }


# -- 2. catalog page render time -----------------------------------------------------------------
SUBJECTS = ["math", "literacy", "science", "language", "music"]
TASKS = ["image-classification", "keyword-spotting", "text-classification", "grammar-error-detection"]


def insert_models(index: Index, namespace: str, start: int, stop: int) -> None:
    """Index models ``m<start>`` .. ``m<stop - 1>`` as one publish would, without TUF metadata."""
    versions, indexes = [], {}
    for i in range(start, stop):
        name = f"m{i:05d}"
        payload = {"fp32": f"{name} fp32".encode() * 64, "int8": f"{name} int8".encode() * 16}
        doc = manifest_for(namespace, name, VERSION, payload)
        doc["summary"] = f"benchmark model {i}"
        doc["subjects"] = [SUBJECTS[i % len(SUBJECTS)]]
        doc["grades"] = [str(1 + i % 12)]
        doc["task"] = TASKS[i % len(TASKS)]
        raw = json.dumps(doc).encode()
        files = {"manifest.json": {"sha256": hashlib.sha256(raw).hexdigest(), "size": len(raw)}}
        for v in doc["variants"]:
            files[v["file"]] = {"sha256": v["sha256"], "size": v["size"]}
        versions.append({"manifest": doc, "sha256": files["manifest.json"]["sha256"], "size": len(raw), "files": files})
        indexes[name] = {"versions": [VERSION], "aliases": {}}
    with index.writer() as session:
        index.record_publish(session, namespace, versions, indexes, {"benchmark": True})


def time_page(url: str, runs: int) -> tuple[str, list[float], int]:
    """(what was timed, samples, body bytes). ``GET /``, or the JSON listing if there is no catalog."""
    http = urllib3.PoolManager(retries=False, timeout=60)
    try:
        target, what = f"{url}/", "GET / (web catalog)"
        first = http.request("GET", target)
        if first.status == 404:
            target, what = f"{url}/api/v1/models?limit=500", "GET /api/v1/models?limit=500 (no web catalog: / is 404)"
            first = http.request("GET", target)
        if first.status != 200:
            raise SystemExit(f"{target} answered {first.status}")
        for _ in range(2):  # warm-up: both workers
            http.request("GET", target)
        samples, size = [], 0
        for _ in range(runs):
            t0 = time.perf_counter()
            response = http.request("GET", target)
            samples.append(time.perf_counter() - t0)
            if response.status != 200:
                raise SystemExit(f"{target} answered {response.status}")
            size = len(response.data)
        return what, samples, size
    finally:
        http.clear()


def bench_catalog(tmp: Path, counts: list[int], runs: int) -> list[dict[str, Any]]:
    work = tmp / "catalog"
    data, _, _, _ = new_registry(work, "bench")
    index = Index(f"sqlite:///{data / 'index.sqlite'}")
    rows: list[dict[str, Any]] = []
    try:
        with edzoo_server(data, work) as url:
            log(f"[catalog] edzoo serve at {url}")
            have = 0
            for n in counts:
                t0 = time.perf_counter()
                insert_models(index, "bench", have, n)
                log(f"[catalog] {n} models indexed (+{n - have} in {time.perf_counter() - t0:.1f} s)")
                have = n
                what, samples, size = time_page(url, runs)
                rows.append(
                    {"models": n, "what": what, "median_ms": median_ms(samples), "bytes": size, "samples_s": samples}
                )
    finally:
        index.dispose()
    return rows


# -- report --------------------------------------------------------------------------------------
def report(dl: dict[str, Any], catalog: list[dict[str, Any]]) -> str:
    m = dl["median_ms"]
    sizes = ", ".join(f"{v} {n / MB:.2f} MiB" for v, n in dl["variant_bytes"].items())
    out = [
        f"\n== 1. snapshot_download vs edzoo pull of the same {len(dl['files'])} files "
        f"({dl['bytes'] / MB:.2f} MiB: manifest.json, {sizes}; {dl['runs']} runs, medians) ==",
        table(
            ["case", "huggingface_hub ms", "edzoo ms", "edzoo / hf"],
            [
                [
                    case,
                    f"{m[f'hf_{case}']:.1f}",
                    f"{m[f'edzoo_{case}']:.1f}",
                    f"{m[f'edzoo_{case}'] / m[f'hf_{case}']:.2f}x",
                ]
                for case in ("cold", "warm")
            ],
        ),
        "cold = a new empty cache. huggingface_hub: model_info, the commit's tree, then HEAD + GET per file, "
        "8 at a time, sizes checked. edzoo: TUF refresh (timestamp, snapshot, targets, roles), the manifest "
        "and each variant, every file's length and sha256 checked against signed metadata, one at a time.\n"
        "warm = the last cache again. huggingface_hub: model_info (main may have moved), files found by commit; "
        "edzoo: timestamp refresh and the verified local metadata walked again; each cached file "
        "trusted by its recorded inode, size, mtime and ctime (hashed again only when they changed).",
        "\n== 2. Catalog page render time vs models in the registry (medians) ==",
    ]
    whats = {r["what"] for r in catalog}
    out.append(
        table(
            ["models", "request", "median ms", "body bytes"],
            [[f"{r['models']:,}", r["what"], f"{r['median_ms']:.1f}", f"{r['bytes']:,}"] for r in catalog],
        )
    )
    out.append(
        "Models were inserted as index rows (Index.record_publish, what a publish records), not published "
        "through TUF: the page reads only the index."
    )
    first, last = catalog[0], catalog[-1]
    ratio = m["edzoo_cold"] / m["hf_cold"]
    verdict = "faster than" if ratio < 0.95 else "as fast as" if ratio <= 1.05 else "slower than"
    out += [
        "\n== Summary ==",
        f"A cold `edzoo pull` of the {len(dl['files']) - 1} variants took {m['edzoo_cold']:.1f} ms against "
        f"{m['hf_cold']:.1f} ms for huggingface_hub's snapshot_download of the same files from the same server "
        f"({ratio:.2f}x: edzoo's own client was {verdict} the Hugging Face client, while also verifying TUF "
        f"signatures and every sha256); warm, {m['edzoo_warm']:.1f} ms against {m['hf_warm']:.1f} ms "
        f"({m['edzoo_warm'] / m['hf_warm']:.2f}x). {'; '.join(sorted(whats))} took {first['median_ms']:.1f} ms "
        f"with {first['models']:,} models and {last['median_ms']:.1f} ms with {last['models']:,} "
        f"({last['median_ms'] / first['median_ms']:.1f}x for {last['models'] / first['models']:.0f}x the models).",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time huggingface_hub's snapshot_download from an edzoo registry against `edzoo pull` of "
        "the same files in the same run, and the catalog page as the registry grows. Prints medians.",
    )
    parser.add_argument(
        "--runs", type=int, default=None, help="timed runs per download case (default 7; 3 with --quick)"
    )
    parser.add_argument(
        "--size-mb",
        type=float,
        default=None,
        help="fp32 variant size in MiB; int8 and dynamic are a quarter (default 8; 2 with --quick)",
    )
    parser.add_argument(
        "--models", type=int_list, default=None, help="model counts for the catalog page (default 10,100,1000)"
    )
    parser.add_argument(
        "--page-runs", type=int, default=None, help="requests per catalog size (default 30; 10 with --quick)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a fast check: 3 runs, a 2 MiB fp32 variant, 10 page requests"
    )
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write every result to PATH")
    args = parser.parse_args(argv)
    runs = args.runs or (3 if args.quick else 7)
    size_mb = args.size_mb or (2.0 if args.quick else 8.0)
    counts = args.models or [10, 100, 1000]
    page_runs = args.page_runs or (10 if args.quick else 30)
    if runs < 1 or size_mb <= 0 or page_runs < 1:
        parser.error("--runs, --size-mb and --page-runs must be positive")

    machine = machine_info()
    print("edzoo Hugging Face routes benchmark")
    print(f"machine: {machine['cpu']}, {machine['cores']} cores, {machine['os']}")
    print(
        f"software: Python {machine['python']}, edzoo {machine['edzoo']}, huggingface_hub "
        f"{machine['huggingface_hub']}, tuf {machine['tuf']}; edzoo serve: gunicorn, 2 workers x 4 threads"
    )
    print(f"settings: {runs} runs, fp32 {size_mb:g} MiB, catalog sizes {counts}, {page_runs} page requests", flush=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="edzoo-bench-hf-") as tmp_name:
        tmp = Path(tmp_name)
        dl = bench_download(tmp, runs, size_mb)
        catalog = bench_catalog(tmp, counts, page_runs)
    print(report(dl, catalog))
    print(f"\n(total wall time {time.perf_counter() - t0:.0f} s)")
    if args.json:
        doc = {
            "machine": machine,
            "settings": {"runs": runs, "size_mb": size_mb, "models": counts, "page_runs": page_runs},
            "download": dl,
            "catalog": catalog,
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
