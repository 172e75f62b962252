#!/usr/bin/env python3
"""Benchmark device-aware variant selection: the registry's resolve endpoint, and ``select()``.

    .venv/bin/python scripts/bench_select.py                 # full run (about four minutes)
    .venv/bin/python scripts/bench_select.py --quick         # fast check: fewer requests and repeats
    .venv/bin/python scripts/bench_select.py --json out.json # also write every sample as JSON

Everything runs on this machine, in a temporary folder that is removed at the end:

1. Resolve vs health, same run, same server. A registry (``registry.server.admin.init``) with
   one publisher, ``acme``, served by ``edzoo serve --workers 2`` (gunicorn, 4 threads per
   worker), gets one model, ``acme/letters@1.0.0``, whose six variants differ the way a zoo
   build's do (``tests/builders.make_realistic_build_dir``). The same load generator then
   sends a fixed number of requests (``--requests``) from ``--threads`` client threads, each
   with its own ``urllib3.PoolManager`` (keep-alive), to three URLs, interleaved in every
   repeat:

   - ``GET /api/v1/health`` (the peer: one TUF metadata read and three index counts);
   - ``GET /api/v1/models/acme/letters/resolve?device=android-go-1gb``;
   - ``POST`` of the same endpoint with the android-go-1gb profile document as the body.

   When ``wrk`` is installed (Debian package ``wrk``; installed with apt-get when missing and
   running as root, skipped otherwise or with ``--no-wrk``), each URL is also loaded by wrk
   for ``--wrk-seconds`` with as many connections as client threads, once per repeat, the
   URLs taking turns. Every figure says which generator it came from: the Python generator
   shares the CPU with the server and spends time of its own per request, so it compresses
   the ratio; wrk costs far less per request.

   Each URL gets: the median rps; its ratio to health's median; the median of the ratios
   within a repeat (paired); and, from ``ss``, how the run's kept-alive connections were
   spread over the two gunicorn workers. A gthread worker keeps every connection it accepted,
   and often accepts all of a few connections that arrive together: the other worker then
   idles and throughput halves. The medians over the runs in which both workers held
   connections are printed beside the medians over all runs.
2. ``select()`` cost as variants grow. Synthetic, schema-valid manifests with 10, 100 and
   1,000 variants (fixed seed; sizes from 200 kB to 100 MB, every quantization scheme, gzip
   ratios of pruned and clustered files, latencies that grow with size, accuracies that grow
   with size and drop with quantization, minimum runtimes from 1.5 to 2.17, some variants
   for GPU, NNAPI or Core ML only) are chosen from for the 8 reference device profiles under
   the 4 preset policies. Reported: median microseconds per call over the 32 combinations,
   per variant, per preset, and what each added variant costs from one size to the next.
3. ``select_many`` with 5, 10 and 20 models of 6 synthetic variants each on one device
   (android-midrange, preset best-accuracy) under a storage budget of half what the plan
   takes without a budget, so that the budget binds: median milliseconds per plan.

Only medians are printed.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import importlib.metadata
import json
import math
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from benchlib import edzoo_server, log, table  # noqa: E402
from builders import make_realistic_build_dir, manifest_for  # noqa: E402

from registry.client import publish  # noqa: E402
from registry.core import keys, profiles  # noqa: E402
from registry.core.manifest import validate_manifest  # noqa: E402
from registry.core.select import POLICIES, Budget, Policy, policy_for_device, select, select_many  # noqa: E402
from registry.server import admin  # noqa: E402

MB = 1 << 20
NAMESPACE, MODEL, VERSION = "acme", "letters", "1.0.0"
DEVICE = "android-go-1gb"
SERVER_WORKERS = 2
SERVER_THREADS = 4  # edzoo serve's default --threads
SEED = 20240611
VARIANT_COUNTS = (10, 100, 1000)
MODEL_COUNTS = (5, 10, 20)
VARIANTS_PER_MODEL = 6
PLAN_DEVICE = "android-midrange"
PLAN_POLICY = "best-accuracy"
BUDGET_SHARE = 0.5


# -- the machine ---------------------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = {}
    for dist in ("edzoo", "flask", "gunicorn", "urllib3", "jsonschema", "sqlalchemy"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "os": platform.platform(),
        "python": platform.python_version(),
        **versions,
        "wrk": wrk_version(),
    }


# -- subprocesses --------------------------------------------------------------------------------


# -- wrk (optional) ------------------------------------------------------------------------------
def wrk_binary() -> str | None:
    return shutil.which("wrk")


def wrk_version() -> str:
    exe = wrk_binary()
    if exe is None:
        return "not installed"
    out = subprocess.run([exe, "-v"], capture_output=True, text=True)
    found = re.search(r"wrk (\S+)", out.stdout + out.stderr)
    return found.group(1) if found else "unknown"


def ensure_wrk() -> str | None:
    """The wrk binary; installs Debian's package when missing and root. None: skip wrk."""
    exe = wrk_binary()
    if exe is not None:
        return exe
    if os.geteuid() != 0:
        log("wrk is not installed and this is not root: skipping wrk (install it: sudo apt-get install -y wrk)")
        return None
    log("wrk is not installed: apt-get install -y wrk")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "wrk"]
    quiet = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    if subprocess.run(cmd, **quiet).returncode != 0:  # type: ignore[call-overload]
        subprocess.run(["apt-get", "update"], **quiet)  # type: ignore[call-overload]
        if subprocess.run(cmd, **quiet).returncode != 0:  # type: ignore[call-overload]
            log("apt-get could not install wrk: skipping wrk")
            return None
    return wrk_binary()


def lua_post_script(path: Path, body: bytes) -> Path:
    text = body.decode()
    if "]==]" in text:
        raise SystemExit("the POST body cannot be quoted for wrk's Lua script")
    path.write_text(
        f'wrk.method = "POST"\nwrk.body = [==[{text}]==]\nwrk.headers["Content-Type"] = "application/json"\n'
    )
    return path


def run_wrk(exe: str, url: str, seconds: float, connections: int, script: Path | None) -> dict[str, Any]:
    cmd = [exe, f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s"]
    if script is not None:
        cmd += ["-s", str(script)]
    before = server_connections(url)
    proc = subprocess.Popen([*cmd, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(min(1.0, seconds / 2))  # wrk opens its connections at the start
        split = connection_split(url, before)
        stdout, stderr = proc.communicate(timeout=seconds + 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise SystemExit(f"wrk failed ({proc.returncode}):\n{stdout}\n{stderr}")
    rps = re.search(r"Requests/sec:\s*([0-9.]+)", stdout)
    total = re.search(r"(\d+) requests in", stdout)
    if rps is None or total is None:
        raise SystemExit(f"cannot read wrk's output:\n{stdout}")
    bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", stdout)
    socket_errors = re.search(r"Socket errors: (.*)", stdout)
    return {
        "rps": float(rps.group(1)),
        "requests": int(total.group(1)),
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": socket_errors.group(1).strip() if socket_errors else None,
        "split": split,
    }


def server_connections(url: str) -> dict[str, str] | None:
    """The server's established connections on ``url``'s port: client address -> the pid of
    the worker that holds it, from ``ss``; None when ``ss`` is missing or fails."""
    ss = shutil.which("ss") or shutil.which("ss", path="/usr/sbin:/sbin:/usr/bin:/bin")
    if ss is None:
        return None
    port = url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1]
    out = subprocess.run([ss, "-tnpH", "state", "established", f"( sport = :{port} )"], capture_output=True, text=True)
    if out.returncode != 0:
        return None
    found = {}
    for line in out.stdout.splitlines():
        fields = line.split()
        pids = sorted(set(re.findall(r"pid=(\d+)", line)))  # a socket with two fds names its pid twice
        if len(fields) >= 4 and pids:
            found[fields[3]] = pids[0]
    return found


def connection_split(url: str, before: dict[str, str] | None) -> str | None:
    """How the connections opened since ``before`` (the load generator's) are spread over the
    server's worker processes, largest first (``"3+1"``; ``"4+0"``: one worker holds them all);
    None when not known.

    gunicorn's gthread workers keep a kept-alive connection in the worker that accepted it, and
    a worker accepts every connection that arrives while it is in accept(): a few clients that
    connect at once often all land on one worker, which then serves them alone, on one core.
    """
    now = server_connections(url)
    if now is None or before is None:
        return None
    counts = collections.Counter(pid for peer, pid in now.items() if peer not in before)
    if not counts:
        return None
    values = sorted(counts.values(), reverse=True) + [0] * max(0, SERVER_WORKERS - len(counts))
    return "+".join(map(str, values))


def spread(split: str | None) -> bool | None:
    """Whether every worker held a connection (None: not known)."""
    return None if split is None else "0" not in split.split("+")


# -- a registry with one realistic model ---------------------------------------------------------
def make_registry(workdir: Path) -> tuple[Path, Path, str]:
    """A new registry with publisher acme: (data folder, publisher key, upload token)."""
    result = admin.init(workdir / "data", workdir / "offline-keys")
    signer = keys.generate()
    key_path = workdir / "publisher-keys" / f"{NAMESPACE}.pem"
    pub_path = key_path.with_suffix(".pub.json")
    keys.save_key_pair(signer, key_path, pub_path)
    token = admin.add_publisher(result.data_dir, result.keys_dir, NAMESPACE, pub_path)
    return result.data_dir, key_path, token


def publish_letters(url: str, workdir: Path, key_path: Path, token: str) -> dict[str, Any]:
    build = make_realistic_build_dir(workdir / "build" / MODEL, NAMESPACE, MODEL, VERSION)
    result = publish(build, registry=url, key_path=key_path, token=token)
    if result.status != "published":
        raise SystemExit(f"publishing {NAMESPACE}/{MODEL}: status {result.status}")
    return json.loads((build / "manifest.json").read_text())


# -- the Python load generator -------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    label: str
    method: str
    path: str
    body: bytes | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json"} if self.body is not None else {}


def load(base: str, target: Target, total: int, threads: int) -> tuple[float, int, str | None]:
    """Send ``total`` requests from ``threads`` threads, one PoolManager (one kept-alive
    connection) each. Each thread first opens its connection with one uncounted request;
    then the spread of the connections over the server's workers is read and the clock
    starts. Returns (wall seconds from the common start to the last answer, answers that were
    not 200, the connections' spread over the workers)."""
    url = base + target.path
    shares = [total // threads + (1 if i < total % threads else 0) for i in range(threads)]
    pools = [urllib3.PoolManager(maxsize=1, retries=False, timeout=30.0) for _ in range(threads)]
    errors = [0] * threads
    failures: list[BaseException] = []
    connected = threading.Barrier(threads + 1)
    start = threading.Barrier(threads + 1)

    def work(i: int) -> None:
        http, n = pools[i], shares[i]
        try:
            try:
                http.request(target.method, url, body=target.body, headers=target.headers)
            finally:
                connected.wait()
                start.wait()
            for _ in range(n):
                r = http.request(target.method, url, body=target.body, headers=target.headers)
                if r.status != 200:
                    errors[i] += 1
        except BaseException as e:  # reported after the join
            failures.append(e)

    before = server_connections(base)
    workers = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(threads)]
    for w in workers:
        w.start()
    connected.wait()
    split = connection_split(base, before)
    start.wait()
    t0 = time.perf_counter()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - t0
    for p in pools:
        p.clear()
    if failures:
        raise SystemExit(f"{target.label}: the load generator failed: {failures[0]!r}")
    return elapsed, sum(errors), split


def bench_http(
    tmp: Path, requests: int, threads: int, repeats: int, warmup: int, wrk_exe: str | None, wrk_seconds: float
) -> dict[str, Any]:
    work = tmp / "http"
    work.mkdir()
    data, key_path, token = make_registry(work)
    profile_doc = profiles.load_profile(DEVICE)
    targets = [
        Target("health", "GET", "/api/v1/health"),
        Target("resolve GET", "GET", f"/api/v1/models/{NAMESPACE}/{MODEL}/resolve?device={DEVICE}"),
        Target(
            "resolve POST",
            "POST",
            f"/api/v1/models/{NAMESPACE}/{MODEL}/resolve",
            json.dumps({"profile": profile_doc}).encode(),
        ),
    ]
    with edzoo_server(data, work, workers=SERVER_WORKERS, threads=SERVER_THREADS) as url:
        log(f"[http] edzoo serve at {url} ({SERVER_WORKERS} workers x {SERVER_THREADS} threads)")
        doc = publish_letters(url, work, key_path, token)
        http = urllib3.PoolManager(retries=False, timeout=30.0)
        answers = {}
        for t in targets:
            r = http.request(t.method, url + t.path, body=t.body, headers=t.headers)
            if r.status != 200:
                raise SystemExit(f"{t.label}: HTTP {r.status}: {r.data[:500]!r}")
            answers[t.label] = r.json()
        http.clear()
        chosen = {answers[label]["variant"] for label in ("resolve GET", "resolve POST")}
        if len(chosen) != 1:
            raise SystemExit(f"GET and POST resolve chose different variants: {chosen}")
        response_bytes = {t.label: len(json.dumps(answers[t.label]).encode()) for t in targets}

        log(f"[http] warm-up: {warmup} requests per URL")
        for t in targets:
            load(url, t, warmup, threads)
        py_runs: dict[str, list[dict[str, Any]]] = {t.label: [] for t in targets}
        for i in range(repeats):
            for t in targets:  # interleaved, so a drift of the machine hits every URL alike
                seconds, bad, split = load(url, t, requests, threads)
                if bad:
                    raise SystemExit(f"{t.label}: {bad} of {requests} answers were not HTTP 200")
                py_runs[t.label].append({"rps": requests / seconds, "split": split})
            log(
                f"[http] repeat {i + 1}/{repeats}: "
                + ", ".join(f"{label} {r[-1]['rps']:,.0f} rps ({r[-1]['split']})" for label, r in py_runs.items())
            )

        wrk_res: dict[str, Any] | None = None
        if wrk_exe is not None:
            wrk_res = {label: [] for label in py_runs}
            script = lua_post_script(work / "post.lua", targets[2].body or b"")
            wrk_repeats = repeats
            for i in range(wrk_repeats):
                for t in targets:
                    row = run_wrk(wrk_exe, url + t.path, wrk_seconds, threads, script if t.method == "POST" else None)
                    if row["non_2xx"] or row["socket_errors"]:
                        raise SystemExit(f"wrk {t.label}: {row['non_2xx']} non-2xx answers, {row['socket_errors']}")
                    wrk_res[t.label].append(row)
                log(
                    f"[http] wrk {i + 1}/{wrk_repeats}: "
                    + ", ".join(
                        f"{label} {rows[-1]['rps']:,.0f} rps ({rows[-1]['split']})" for label, rows in wrk_res.items()
                    )
                )

    # The same choice in this process, for scale.
    manifest_doc = doc
    policy_name, policy, _ = policy_for_device(profile_doc)
    select_us = time_call(lambda: select(manifest_doc, profile_doc, policy), repeats=7)
    load_id_us = time_call(lambda: profiles.load_profile(DEVICE), repeats=7)
    load_doc_us = time_call(lambda: profiles.load_profile(dict(profile_doc)), repeats=7)

    out: dict[str, Any] = {
        "requests": requests,
        "threads": threads,
        "repeats": repeats,
        "warmup": warmup,
        "chosen_variant": chosen.pop(),
        "policy": policy_name,
        "response_bytes": response_bytes,
        "python": summarize_runs(py_runs),
        "in_process_us": {
            "select": select_us,
            "load_profile(id)": load_id_us,
            "load_profile(document)": load_doc_us,
        },
        "wrk": None,
    }
    if wrk_res is not None:
        out["wrk"] = {
            "seconds": wrk_seconds,
            "connections": threads,
            "threads": min(2, threads),
            **summarize_runs(wrk_res),
        }
    return out


def summarize_runs(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians of a generator's runs, by URL: rps over all runs; the ratio to health within
    each repeat (measured moments apart, so a slow spell of the machine hits both); and rps
    over the runs whose connections every server worker shared."""
    health = runs["health"]
    out: dict[str, Any] = {
        "median_rps": {},
        "paired_ratio": {},
        "spread_runs": {},
        "spread_median_rps": {},
        "runs": runs,
    }
    for label, rows in runs.items():
        out["median_rps"][label] = statistics.median(r["rps"] for r in rows)
        out["paired_ratio"][label] = statistics.median(r["rps"] / h["rps"] for r, h in zip(rows, health, strict=True))
        known = [r for r in rows if spread(r["split"]) is not None]
        shared = [r["rps"] for r in known if spread(r["split"])]
        out["spread_runs"][label] = f"{len(shared)}/{len(rows)}" if known else "unknown"
        out["spread_median_rps"][label] = statistics.median(shared) if shared else None
    return out


def time_call(fn: Any, repeats: int, min_seconds: float = 0.05) -> float:
    """Median microseconds per call of ``fn`` over ``repeats`` timed loops of about
    ``min_seconds`` each."""
    fn()
    loops, elapsed = 1, 0.0
    while True:
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_seconds / 4 or loops >= 1 << 20:
            break
        loops *= 2
    loops = max(1, int(loops * (min_seconds / max(elapsed, 1e-9))))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        samples.append((time.perf_counter() - t0) / loops)
    return statistics.median(samples) * 1e6


# -- synthetic manifests -------------------------------------------------------------------------
# quantization: (share of variants, size vs fp32, time vs fp32, accuracy drop in points, up to)
SCHEMES = {
    "none": (0.25, 1.0, 1.0, 0.0),
    "float16": (0.15, 0.5, 0.95, 0.1),
    "dynamic-range": (0.2, 0.27, 1.6, 0.6),
    "int8": (0.3, 0.26, 0.5, 1.5),
    "int16x8": (0.1, 0.4, 1.4, 0.4),
}
RUNTIMES = {"1.5.0": 2, "1.14.0": 6, "2.10.0": 4, "2.13.0": 3, "2.14.0": 2, "2.16.0": 2, "2.17.0": 1}
DELEGATES = {
    ("cpu", "xnnpack"): 70,
    ("cpu", "xnnpack", "gpu"): 15,
    ("gpu",): 8,
    ("nnapi",): 4,
    ("coreml",): 3,
}


def synthetic_variant(rng: random.Random, vid: str, base: dict[str, Any], *, safe: bool = False) -> dict[str, Any]:
    """A variant with figures drawn the way a zoo's variants spread. ``safe``: a small int8
    CPU variant for runtime 1.14 that every reference device can run."""
    v = json.loads(json.dumps(base))
    if safe:
        fp32_size, scheme = rng.uniform(150e3, 400e3), "int8"
    else:
        fp32_size = 10 ** rng.uniform(math.log10(200e3), math.log10(100e6))  # 200 kB - 100 MB
        scheme = rng.choices(list(SCHEMES), weights=[s[0] for s in SCHEMES.values()])[0]
    _, size_factor, time_factor, max_drop = SCHEMES[scheme]
    size = int(fp32_size * size_factor * rng.uniform(0.9, 1.1))
    pruned = rng.random() < 0.25  # pruned or clustered: compresses far better
    gzip_size = int(size * (rng.uniform(0.25, 0.5) if pruned else rng.uniform(0.8, 0.95)))
    # about 0.3-2 ms per MB of fp32 weights on the reference machine, in one thread
    p50 = fp32_size / MB * 10 ** rng.uniform(2.5, 3.3) * time_factor
    threads = 1 if safe or rng.random() < 0.9 else 4
    accuracy = 0.78 + 0.045 * math.log10(fp32_size / 1e3) + rng.gauss(0, 0.01)
    accuracy = min(0.99, max(0.5, accuracy - rng.uniform(0, max_drop) / 100))
    peak = int(size * rng.uniform(0.3, 1.0) + 4 * MB)
    v.update(
        {
            "id": vid,
            "file": f"variants/{vid}.tflite",
            "sha256": rng.randbytes(32).hex(),
            "size": size,
            "gzip_size": gzip_size,
            "recipe": {"quantization": scheme},
        }
    )
    v["metrics"].update({"value": round(accuracy, 4), "delta_vs_reference": 0.0, "reference_variant": "v0000"})
    v["benchmarks"].update(
        {
            "latency_us_p50": round(p50, 2),
            "latency_us_p90": round(p50 * rng.uniform(1.05, 1.3), 2),
            "peak_memory_bytes": peak,
            "threads": threads,
        }
    )
    v["benchmarks"]["machine"]["cores"] = 4
    v["requirements"] = {
        "min_runtime_version": "1.14.0" if safe else rng.choices(list(RUNTIMES), weights=list(RUNTIMES.values()))[0],
        "builtin_ops": ["CONV_2D", "FULLY_CONNECTED", "SOFTMAX"],
        "delegates": ["cpu", "xnnpack"] if safe else list(rng.choices(list(DELEGATES), list(DELEGATES.values()))[0]),
        "min_ram_mb": math.ceil((size + peak) / MB * rng.uniform(1.0, 1.5)),
    }
    return v


def synthetic_manifest(n: int, seed: int, name: str) -> dict[str, Any]:
    rng = random.Random(seed)
    doc = manifest_for("bench", name, VERSION, {"v0000": b"filler"})
    base = doc["variants"][0]
    doc["variants"] = [synthetic_variant(rng, f"v{i:04d}", base, safe=i == 0) for i in range(n)]
    rng.shuffle(doc["variants"])  # the safe variant is not always first
    validate_manifest(doc)
    return doc


# -- 2. select() ---------------------------------------------------------------------------------
def bench_select(repeats: int, counts: tuple[int, ...]) -> dict[str, Any]:
    profile_docs = {pid: profiles.load_profile(pid) for pid in profiles.reference_profiles()}
    rows = []
    for n in counts:
        doc = synthetic_manifest(n, SEED + n, f"synthetic-{n}")
        loops = max(1, 2000 // n)
        per_combo: dict[str, float] = {}
        chosen: dict[str, str] = {}
        for pid, profile in profile_docs.items():
            for preset, policy in POLICIES.items():
                chosen[f"{pid}/{preset}"] = select(doc, profile, policy).variant_id  # warm-up, and a check
                samples = []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    for _ in range(loops):
                        select(doc, profile, policy)
                    samples.append((time.perf_counter() - t0) / loops)
                per_combo[f"{pid}/{preset}"] = statistics.median(samples) * 1e6
        values = list(per_combo.values())
        by_preset = {
            preset: statistics.median(v for k, v in per_combo.items() if k.endswith(f"/{preset}"))
            for preset in POLICIES
        }
        med = statistics.median(values)
        rows.append(
            {
                "variants": n,
                "combinations": len(values),
                "loops_per_sample": loops,
                "median_us": med,
                "min_us": min(values),
                "max_us": max(values),
                "us_per_variant": med / n,
                "by_preset_us": by_preset,
                "per_combination_us": per_combo,
                "distinct_choices": len(set(chosen.values())),
            }
        )
        log(f"[select] {n} variants: {med:,.1f} µs per call (median of {len(values)} combinations)")
    steps = [
        {
            "from": a["variants"],
            "to": b["variants"],
            "us_per_added_variant": (b["median_us"] - a["median_us"]) / (b["variants"] - a["variants"]),
        }
        for a, b in zip(rows, rows[1:], strict=False)
    ]
    return {"profiles": list(profile_docs), "presets": list(POLICIES), "repeats": repeats, "rows": rows, "steps": steps}


# -- 3. select_many ------------------------------------------------------------------------------
def bench_select_many(repeats: int, counts: tuple[int, ...]) -> dict[str, Any]:
    profile = profiles.load_profile(PLAN_DEVICE)
    policy: Policy = POLICIES[PLAN_POLICY]
    rows = []
    for n in counts:
        items = [
            (f"bench/m{i:02d}", synthetic_manifest(VARIANTS_PER_MODEL, SEED * 7 + i, f"m{i:02d}")) for i in range(n)
        ]
        # The budget binds: a share of what the plan takes with room for every model's best.
        unconstrained = select_many(items, profile, Budget(storage_mb=1e9), policy)
        budget = Budget(storage_mb=BUDGET_SHARE * unconstrained.total_size / MB)
        plan = select_many(items, profile, budget, policy)  # warm-up, and the figures to report
        samples = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            select_many(items, profile, budget, policy)
            samples.append(time.perf_counter() - t0)
        med = statistics.median(samples) * 1e3
        rows.append(
            {
                "models": n,
                "variants_per_model": VARIANTS_PER_MODEL,
                "budget_mb": budget.storage_mb,
                "unconstrained_plan_mb": unconstrained.total_size / MB,
                "unconstrained_models": len(unconstrained.choices),
                "median_ms": med,
                "samples_ms": [s * 1e3 for s in samples],
                "models_in_plan": len(plan.choices),
                "plan_mb": plan.total_size / MB,
                "plan_value": plan.total_value,
            }
        )
        log(f"[select_many] {n} models: {med:.2f} ms, {len(plan.choices)} in the plan")
    return {"device": PLAN_DEVICE, "policy": PLAN_POLICY, "budget_share": BUDGET_SHARE, "rows": rows}


# -- report --------------------------------------------------------------------------------------


def report(http: dict[str, Any], sel: dict[str, Any], many: dict[str, Any]) -> str:
    out = []
    out.append(
        f"\n== 1. Resolve vs health on one `edzoo serve` ({SERVER_WORKERS} workers x {SERVER_THREADS} threads), "
        f"same run, medians =="
    )
    out.append(
        f"python generator: {http['requests']:,} requests x {http['repeats']} repeats per URL, "
        f"{http['threads']} client threads with one urllib3.PoolManager (keep-alive) each"
    )
    generators = [("python", http["python"])]
    wrk = http["wrk"]
    if wrk:
        generators.append(("wrk", wrk))
    rows = []
    for name, res in generators:
        health = res["median_rps"]["health"]
        spread_health = res["spread_median_rps"]["health"]
        for label, rps in res["median_rps"].items():
            shared = res["spread_median_rps"][label]
            rows.append(
                [
                    label,
                    name,
                    f"{rps:,.0f}",
                    f"{1e3 / rps:.2f}",
                    f"{rps / health:.2f}x",
                    f"{res['paired_ratio'][label]:.2f}x",
                    res["spread_runs"][label],
                    f"{shared:,.0f}" if shared else "-",
                    f"{shared / spread_health:.2f}x" if shared and spread_health else "-",
                    f"{http['response_bytes'][label]:,}",
                ]
            )
    out.append(
        table(
            [
                "URL",
                "generator",
                "req/s",
                "ms/req (1/rps)",
                "vs health",
                "paired vs health",
                "runs on all workers",
                "their req/s",
                "their vs health",
                "response B",
            ],
            rows,
        )
    )
    if wrk:
        out.append(
            f"wrk: {wrk['seconds']:g} s per run, {wrk['connections']} connections on {wrk['threads']} threads, "
            f"{len(wrk['runs']['health'])} run(s) per URL, interleaved"
        )
    else:
        out.append("wrk: not run (not installed, or --no-wrk)")
    out.append(
        "req/s: median over runs; vs health: ratio of the medians; paired vs health: median over repeats of the "
        "ratio within a repeat (the URLs take turns in every repeat); runs on all workers: runs whose kept-alive "
        f"connections every one of the {SERVER_WORKERS} server workers shared (read with ss), and the medians "
        "over those runs alone. In the other runs one worker held every connection and served them alone."
    )
    out.append(
        f"URLs: health = GET /api/v1/health; resolve GET = GET .../{NAMESPACE}/{MODEL}/resolve?device={DEVICE}; "
        f'resolve POST = the same with {{"profile": <{DEVICE} document>}} as the body. Both resolves chose '
        f"{http['chosen_variant']} (policy {http['policy']}, the device's default)."
    )
    ip = http["in_process_us"]
    out.append(
        f"in this process, for scale: select() on the served manifest {ip['select']:.1f} µs, "
        f"load_profile('{DEVICE}') {ip['load_profile(id)']:.1f} µs, "
        f"load_profile(document) {ip['load_profile(document)']:.1f} µs"
    )

    out.append(
        f"\n== 2. select() cost vs variants ({len(sel['profiles'])} reference profiles x "
        f"{len(sel['presets'])} presets = {sel['rows'][0]['combinations']} combinations, "
        f"median of {sel['repeats']} repeats each) =="
    )
    rows = []
    prev = None
    for r in sel["rows"]:
        growth = f"{r['median_us'] / prev['median_us']:.1f}x for {r['variants'] / prev['variants']:g}x" if prev else ""
        marginal = f"{(r['median_us'] - prev['median_us']) / (r['variants'] - prev['variants']):.2f}" if prev else ""
        rows.append(
            [
                f"{r['variants']:,}",
                f"{r['median_us']:,.1f}",
                f"{r['min_us']:,.1f} - {r['max_us']:,.1f}",
                f"{r['us_per_variant']:.2f}",
                *(f"{r['by_preset_us'][p]:,.1f}" for p in sel["presets"]),
                growth,
                marginal,
                str(r["distinct_choices"]),
            ]
        )
        prev = r
    out.append(
        table(
            [
                "variants",
                "µs/call",
                "range over combos",
                "µs/variant",
                *(f"{p} µs" for p in sel["presets"]),
                "growth",
                "µs per added variant",
                "distinct picks",
            ],
            rows,
        )
    )
    out.append(
        "µs/call: median over the combinations of each one's median; µs/variant = µs/call / variants; "
        "µs per added variant = the rise of µs/call from the row above, per variant added; "
        "distinct picks: how many different variants the combinations chose."
    )

    out.append(
        f"\n== 3. select_many(): models x {VARIANTS_PER_MODEL} variants on {many['device']}, policy "
        f"{many['policy']}, storage budget {many['budget_share']:.0%} of the plan without a budget =="
    )
    rows = [
        [
            str(r["models"]),
            f"{r['models'] * r['variants_per_model']}",
            f"{r['unconstrained_plan_mb']:,.1f}",
            f"{r['budget_mb']:,.1f}",
            f"{r['median_ms']:.2f}",
            f"{r['models_in_plan']}",
            f"{r['plan_mb']:,.1f}",
        ]
        for r in many["rows"]
    ]
    out.append(
        table(["models", "variants", "no-budget plan MB", "budget MB", "ms/plan", "models in plan", "plan MB"], rows)
    )
    out.append("\n== Summary ==")
    out.append(summary(http, sel, many))
    return "\n".join(out)


def summary(http: dict[str, Any], sel: dict[str, Any], many: dict[str, Any]) -> str:
    py = http["python"]["median_rps"]
    pr = http["python"]["paired_ratio"]
    text = (
        f"On this machine one `edzoo serve` ({SERVER_WORKERS} workers) answered "
        f"{py['health']:,.0f} health requests per second, {py['resolve GET']:,.0f} resolve GETs "
        f"({pr['resolve GET']:.2f}x health, paired) and {py['resolve POST']:,.0f} resolve POSTs with a "
        f"profile document ({pr['resolve POST']:.2f}x), as measured by the Python generator "
        f"({http['threads']} threads, {http['requests']:,} requests per repeat)"
    )
    wrk = http["wrk"]
    if wrk:
        w, wr = wrk["median_rps"], wrk["paired_ratio"]
        text += (
            f"; wrk ({wrk['connections']} connections, {wrk['seconds']:g} s runs), which spends far less per "
            f"request, measured {w['health']:,.0f}, {w['resolve GET']:,.0f} ({wr['resolve GET']:.2f}x) and "
            f"{w['resolve POST']:,.0f} ({wr['resolve POST']:.2f}x)"
        )
        ws = wrk["spread_median_rps"]
        if all(ws.values()):
            text += (
                f", or {ws['health']:,.0f}, {ws['resolve GET']:,.0f} ({ws['resolve GET'] / ws['health']:.2f}x) and "
                f"{ws['resolve POST']:,.0f} ({ws['resolve POST'] / ws['health']:.2f}x) over the runs whose "
                "connections both workers shared"
            )
    rows = sel["rows"]
    first, last = rows[0], rows[-1]
    text += (
        f". In-process, select() on the served 6-variant manifest took {http['in_process_us']['select']:.0f} µs. "
        f"On synthetic manifests it took {first['median_us']:,.0f} µs with {first['variants']:,} variants and "
        f"{last['median_us']:,.0f} µs with {last['variants']:,} "
        f"({last['median_us'] / first['median_us']:.0f}x for {last['variants'] / first['variants']:.0f}x the variants)"
    )
    if sel["steps"]:
        text += ", each added variant costing " + " and ".join(
            f"{s['us_per_added_variant']:.1f} µs from {s['from']:,} to {s['to']:,}" for s in sel["steps"]
        )
    m = many["rows"]
    text += (
        ". select_many() planned "
        + ", ".join(f"{r['models']} models in {r['median_ms']:.1f} ms" for r in m)
        + f" ({VARIANTS_PER_MODEL} variants each, a storage budget of {many['budget_share']:.0%} of the "
        "plan without one)."
    )
    return text


# -- main ----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Measure the registry's resolve endpoint against its health endpoint on one "
        "`edzoo serve` in the same run, and the cost of select() and select_many() as variants and "
        "models grow. Prints medians.",
    )
    parser.add_argument("--quick", action="store_true", help="a fast check: 300 requests, 3 repeats, wrk for 2 s")
    parser.add_argument("--requests", type=int, default=None, help="requests per URL per repeat (default 2000)")
    parser.add_argument("--threads", type=int, default=4, help="client threads, and wrk connections (default 4)")
    parser.add_argument(
        "--repeats", type=int, default=None, help="repeats per measurement, wrk runs too (default 7; 3 with --quick)"
    )
    parser.add_argument("--no-wrk", action="store_true", help="do not run (or install) wrk")
    parser.add_argument(
        "--wrk-seconds", type=float, default=None, help="seconds per wrk run (default 5; 2 with --quick)"
    )
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write every result to PATH")
    args = parser.parse_args(argv)
    requests = args.requests or (300 if args.quick else 2000)
    repeats = args.repeats or (3 if args.quick else 7)
    wrk_seconds = args.wrk_seconds or (2.0 if args.quick else 5.0)
    warmup = 50 if args.quick else 200
    if requests < args.threads or args.threads < 1 or repeats < 1 or wrk_seconds <= 0:
        parser.error("--threads, --repeats and --wrk-seconds must be positive, --requests at least --threads")

    wrk_exe = None if args.no_wrk else ensure_wrk()
    machine = machine_info()
    print("edzoo select benchmark")
    print(f"machine: {machine['cpu']}, {machine['cores']} cores ({machine['usable_cores']} usable), {machine['os']}")
    print(
        f"software: Python {machine['python']}, edzoo {machine['edzoo']}, flask {machine['flask']}, "
        f"gunicorn {machine['gunicorn']}, urllib3 {machine['urllib3']}, jsonschema {machine['jsonschema']}, "
        f"sqlalchemy {machine['sqlalchemy']}, wrk {machine['wrk']}"
    )
    print(
        f"settings: {requests:,} requests x {repeats} repeats per URL from {args.threads} threads"
        + (f", wrk {wrk_seconds:g} s per run" if wrk_exe else ", no wrk")
        + f"; select() on {', '.join(map(str, VARIANT_COUNTS))} variants; "
        f"select_many() on {', '.join(map(str, MODEL_COUNTS))} models; the server and the load generator "
        "share this machine's cores",
        flush=True,
    )

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="edzoo-bench-select-") as tmp_name:
        http = bench_http(Path(tmp_name), requests, args.threads, repeats, warmup, wrk_exe, wrk_seconds)
    sel = bench_select(repeats, VARIANT_COUNTS)
    many = bench_select_many(repeats, MODEL_COUNTS)
    print(report(http, sel, many))
    print(f"\n(total wall time {time.perf_counter() - t0:.0f} s)")
    if args.json:
        doc = {
            "machine": machine,
            "settings": {
                "requests": requests,
                "threads": args.threads,
                "repeats": repeats,
                "wrk_seconds": wrk_seconds if wrk_exe else None,
                "variant_counts": list(VARIANT_COUNTS),
                "model_counts": list(MODEL_COUNTS),
                "seed": SEED,
            },
            "http": http,
            "select": sel,
            "select_many": many,
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
