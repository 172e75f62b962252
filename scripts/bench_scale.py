#!/usr/bin/env python3
"""Benchmark how ``edzoo serve`` scales: pulls per second and p50/p99 pull latency with 1, 2 and 4
gunicorn workers, for a folder vs an S3 store and a SQLite vs a PostgreSQL index; and the blob
throughput of the server against nginx serving the same bytes, in the same run.

    .venv/bin/python scripts/bench_scale.py                  # full run (several minutes)
    .venv/bin/python scripts/bench_scale.py --quick          # fast check (under ~2 minutes)
    .venv/bin/python scripts/bench_scale.py --json out.json  # also write every sample as JSON

Everything runs on 127.0.0.1, in a temporary folder that is removed at the end; no internet.

1. Services. S3 is moto's server (``tests/services.MotoS3``), PostgreSQL a private cluster
   (``tests/services.Postgres``). Without PostgreSQL installed, its rows are skipped with a note.
2. Registries. One per (store, db), made with ``registry.server.admin.init`` (the blob location
   and database URL are recorded in its registry.json), with publisher namespace ``bench`` and
   one small model ``bench/small@1.0.0`` (two variants of a few hundred bytes).
3. Pull load. For each worker count, ``edzoo serve --workers N --threads 4`` is started, and a
   real ``registry.client.pull`` with an empty cache (TUF refresh, download, sha256) first checks
   that the server works and records every HTTP request of that cold pull, with its status and
   size: the probe for the next root (answered 404), timestamp, snapshot, top-level targets, the
   namespace role, its bin, the manifest and the variant. The load generator, another process
   (this script with ``--load-generator``), replays that request sequence once per simulated
   pull with urllib3, from ``--threads`` threads: each pull opens a new connection (as a new
   client does) and keeps it alive across its requests; every status and length is checked,
   but the client neither verifies signatures nor hashes, so it stays cheap. A short warm-up,
   then the measured window, bounded by ``--seconds`` and ``--max-pulls``. pulls/s = completed
   pulls / window; p50 and p99 of the per-pull latency. Each round restarts every server;
   medians over ``--rounds``. Scaling efficiency = pulls/s at N workers / (N x pulls/s at 1).
   The load generator, gunicorn, moto and PostgreSQL share the machine's cores: the "client
   CPU" column is the load generator's own share, "machine busy" the whole machine's (any other
   job included) during the window. Serving a pull reads one index row for the timestamp and
   one for the probe for the next root (the served head); versioned metadata and small blobs
   come from the server's memory after their first read from the object store.
4. Blob throughput. A random ``--blob-mb`` variant is published to the folder and the S3
   registry; one stream downloads its consistent-snapshot target URL
   (/tuf/targets/bench/big/1.0.0/<sha256>.fp32.tflite; a new connection each time, bytes
   counted and discarded) against nginx (sendfile) serving the same file from a folder,
   interleaved, medians of ``--blob-runs``. Folder store: gunicorn sends the file with
   sendfile; S3: the app streams the object from moto; S3 with ``--redirect-blobs``: the
   server answers 302 to a presigned moto URL, and the bytes come from moto.

Only medians (and p50/p99) are printed. nginx comes from Debian's package (see bench_pull.py).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import urllib3

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from bench_pull import (  # noqa: E402
    MB,
    LocalRegistry,
    counted_pull,
    ensure_nginx,
    int_list,
    machine_info,
    nginx_server,
)
from benchlib import edzoo_server, log, table  # noqa: E402
from services import MotoS3, Postgres, ServiceUnavailable  # noqa: E402

from registry.server import admin  # noqa: E402

NS = "bench"
SMALL, BIG, VERSION = "small", "big", "1.0.0"
SMALL_REF, BIG_REF = f"{NS}/{SMALL}@{VERSION}", f"{NS}/{BIG}@{VERSION}"
SERVER_THREADS = 4
USER_AGENT = "edzoo-bench-scale/1"


# -- statistics ----------------------------------------------------------------------------------
def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# -- the load generator (runs in its own process) ------------------------------------------------
def cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields[:8]) - idle, sum(fields[:8])
    return None


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used so far, from /proc."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return None


def load_generator() -> int:
    """Read a spec (JSON) on stdin, run the load, write the samples (JSON) on stdout."""
    spec = json.load(sys.stdin)
    base = urlsplit(spec["base"])
    host, port = base.hostname or "127.0.0.1", base.port or 80
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"the load generator only targets loopback, not {host}")
    sequence = [(path, int(status), int(size)) for path, status, size in spec["requests"]]
    threads, max_pulls = int(spec["threads"]), int(spec["max_pulls"])
    lock = threading.Lock()
    started = 0
    latencies: list[float] = []
    errors: list[str] = []

    def one_pull() -> None:
        pool = urllib3.HTTPConnectionPool(
            host,
            port,
            maxsize=1,
            retries=False,
            timeout=urllib3.Timeout(connect=5.0, read=30.0),
            headers={"User-Agent": USER_AGENT},
        )
        try:
            for path, status, size in sequence:
                r = pool.request("GET", path)
                if r.status != status or (status == 200 and len(r.data) != size):
                    raise RuntimeError(f"GET {path}: HTTP {r.status}, {len(r.data)} B (expected {status}, {size} B)")
        finally:
            pool.close()

    def worker(deadline: float, record: bool) -> None:
        nonlocal started
        while True:
            with lock:
                if time.monotonic() >= deadline or (record and started >= max_pulls):
                    return
                if record:
                    started += 1
            t0 = time.perf_counter()
            try:
                one_pull()
            except Exception as e:  # counted and reported, never fatal to the run
                if record:
                    with lock:
                        errors.append(f"{type(e).__name__}: {e}")
                continue
            dt = time.perf_counter() - t0
            if record:
                with lock:
                    latencies.append(dt)

    def phase(seconds: float, record: bool) -> None:
        deadline = time.monotonic() + seconds
        pool = [threading.Thread(target=worker, args=(deadline, record), daemon=True) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()

    phase(float(spec["warmup_s"]), record=False)
    watch: dict[str, int] = spec.get("watch", {})  # other processes whose CPU use to report
    watched0 = {name: process_cpu_s(pid) for name, pid in watch.items()}
    busy0, cpu0, t0 = cpu_times(), time.process_time(), time.perf_counter()
    phase(float(spec["seconds"]), record=True)
    elapsed, cpu_s, busy1 = time.perf_counter() - t0, time.process_time() - cpu0, cpu_times()
    watched: dict[str, float | None] = {}
    for name, pid in watch.items():
        before, after = watched0[name], process_cpu_s(pid)
        watched[name] = (after - before) / elapsed if before is not None and after is not None else None
    machine_busy = None
    if busy0 and busy1 and busy1[1] > busy0[1]:
        machine_busy = (busy1[0] - busy0[0]) / (busy1[1] - busy0[1])
    json.dump(
        {
            "latencies_s": latencies,
            "elapsed_s": elapsed,
            "errors": len(errors),
            "error_samples": errors[:5],
            "client_cpu_s": cpu_s,
            "machine_busy": machine_busy,
            "watched_cores": watched,
        },
        sys.stdout,
    )
    return 0


def run_load(
    url: str, sequence: list[list[Any]], args: argparse.Namespace, watch: dict[str, int] | None = None
) -> dict[str, Any]:
    spec = {
        "watch": watch or {},
        "base": url,
        "requests": sequence,
        "threads": args.threads,
        "seconds": args.seconds,
        "max_pulls": args.max_pulls,
        "warmup_s": args.warmup,
    }
    cmd = [sys.executable, str(Path(__file__).resolve()), "--load-generator"]
    try:
        done = subprocess.run(
            cmd,
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            timeout=args.seconds + args.warmup + 120,
        )
    except subprocess.TimeoutExpired as e:
        raise SystemExit(f"the load generator did not finish within {e.timeout:.0f} s") from e
    if done.returncode != 0:
        raise SystemExit(f"the load generator failed ({done.returncode}):\n{done.stderr[-2000:]}")
    out = json.loads(done.stdout)
    lat = out["latencies_s"]
    out["pulls"] = len(lat)
    out["pulls_per_s"] = len(lat) / out["elapsed_s"] if out["elapsed_s"] > 0 else 0.0
    out["p50_ms"] = percentile(lat, 50) * 1000 if lat else float("nan")
    out["p99_ms"] = percentile(lat, 99) * 1000 if lat else float("nan")
    out["client_cores"] = out["client_cpu_s"] / out["elapsed_s"] if out["elapsed_s"] > 0 else 0.0
    out["moto_cores"] = out["watched_cores"].get("moto")
    return out


# -- registries and servers ----------------------------------------------------------------------
@dataclass
class Setup:
    store: str  # folder | s3
    db: str  # sqlite | postgresql
    reg: LocalRegistry
    runs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # workers -> one result per round
    sequence: list[list[Any]] = field(default_factory=list)  # [path, status, bytes] of one cold pull

    @property
    def label(self) -> str:
        return f"{self.store}/{self.db}"


def create_registry(work: Path, store: str, db: str, moto: MotoS3, pg: Postgres | None) -> LocalRegistry:
    work.mkdir(parents=True)
    database_url = None  # SQLite in the data folder, the default
    if db == "postgresql":
        assert pg is not None
        database_url = pg.create_database()
    blobs = moto.new_bucket_url() if store == "s3" else None  # else DATA/objects
    result = admin.init(work / "data", work / "offline-keys", database_url=database_url, blobs=blobs)
    reg = LocalRegistry(result.data_dir, result.keys_dir, result.root_path, work)
    reg.add_publisher(NS)  # reads the store and database from registry.json
    return reg


@contextlib.contextmanager
def serving(reg: LocalRegistry, workers: int, *, redirect: bool = False) -> Iterator[str]:
    """`edzoo serve` (benchlib) on ``reg``; EDZOO_REDIRECT_BLOBS is set for its start only."""
    with contextlib.ExitStack() as stack:
        saved = os.environ.get("EDZOO_REDIRECT_BLOBS")
        os.environ["EDZOO_REDIRECT_BLOBS"] = "1" if redirect else "0"
        try:
            url = stack.enter_context(edzoo_server(reg.data, reg.workdir, workers=workers, threads=SERVER_THREADS))
        finally:
            if saved is None:
                os.environ.pop("EDZOO_REDIRECT_BLOBS", None)
            else:
                os.environ["EDZOO_REDIRECT_BLOBS"] = saved
        yield url


def verified_pull(url: str, reg: LocalRegistry, ref: str, cache: Path) -> list[list[Any]]:
    """A real cold ``pull`` (verified); returns its requests as [path, status, bytes]."""
    _, requests = counted_pull(url, reg.root_json.read_bytes(), ref, cache)
    shutil.rmtree(cache, ignore_errors=True)
    bad = [r for r in requests if r[1] not in (200, 404)]
    if bad:
        raise SystemExit(f"a pull of {ref} from {url} got unexpected answers: {bad}")
    return [[urlsplit(u).path, status, n] for u, status, n in requests]


# -- blob throughput -----------------------------------------------------------------------------
def transfer(url: str, size: int, sha256: str | None = None) -> float:
    """Seconds to GET ``url`` on a new connection, following a redirect, bytes discarded
    (hashed and compared when ``sha256`` is given)."""
    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5.0, read=60.0), headers={"User-Agent": USER_AGENT})
    digest = hashlib.sha256() if sha256 else None
    t0 = time.perf_counter()
    response = http.request("GET", url, preload_content=False)
    got = 0
    try:
        if response.status != 200:
            raise SystemExit(f"GET {url}: HTTP {response.status}")
        for chunk in response.stream(MB):
            got += len(chunk)
            if digest is not None:
                digest.update(chunk)
    finally:
        response.release_conn()
        http.clear()
    dt = time.perf_counter() - t0
    if got != size:
        raise SystemExit(f"GET {url}: {got} bytes, expected {size}")
    if digest is not None and digest.hexdigest() != sha256:
        raise SystemExit(f"GET {url}: the bytes differ from the published variant")
    return dt


def bench_blob(
    case: str, edzoo_url: str, nginx_exe: str, www: Path, work: Path, size: int, sha: str, runs: int
) -> dict[str, Any]:
    samples: dict[str, list[float]] = {"edzoo": [], "nginx": []}
    with nginx_server(nginx_exe, work / f"nginx-{case.replace(' ', '-')}", www) as nginx_url:
        urls = {"edzoo": edzoo_url, "nginx": f"{nginx_url}/big.bin"}
        for url in urls.values():  # warm-up, and a check of the bytes
            transfer(url, size, sha)
        for i in range(runs):  # interleaved, alternating which goes first
            for who in ("edzoo", "nginx") if i % 2 == 0 else ("nginx", "edzoo"):
                samples[who].append(transfer(urls[who], size))
    mibs = {who: size / MB / median(s) for who, s in samples.items()}
    log(f"[blob] {case}: edzoo {mibs['edzoo']:.0f} MiB/s, nginx {mibs['nginx']:.0f} MiB/s")
    return {"case": case, "size_bytes": size, "samples_s": samples, "median_mib_s": mibs}


def blob_cases(
    setup: Setup, url: str, nginx_exe: str, www: Path, tmp: Path, big: bytes, runs: int
) -> list[dict[str, Any]]:
    """Publish the big variant to ``setup``'s registry and measure its download(s)."""
    reg, sha = setup.reg, hashlib.sha256(big).hexdigest()
    reg.publish(url, NS, BIG, {"fp32": big})
    requests = verified_pull(url, reg, BIG_REF, tmp / "caches" / f"big-{setup.store}")
    target = requests[-1][0]
    if sha not in target or "/tuf/targets/" not in target:
        raise SystemExit(f"the last request of a pull of {BIG_REF} was not its variant: {target}")
    name = "folder (sendfile)" if setup.store == "folder" else "s3 (app streams from moto)"
    out = [bench_blob(name, url + target, nginx_exe, www, tmp, len(big), sha, runs)]
    if setup.store == "s3":
        with serving(reg, 2, redirect=True) as redirect_url:
            verified_pull(redirect_url, reg, BIG_REF, tmp / "caches" / "big-redirect")
            name = "s3 --redirect-blobs (302, moto sends)"
            out.append(bench_blob(name, redirect_url + target, nginx_exe, www, tmp, len(big), sha, runs))
    return out


# -- the run -------------------------------------------------------------------------------------
def run(args: argparse.Namespace, nginx_exe: str, notes: list[str]) -> tuple[list[Setup], list[dict[str, Any]]]:
    setups: list[Setup] = []
    blobs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="edzoo-bench-scale-") as tmp_name:
        tmp = Path(tmp_name)
        saved_env = dict(os.environ)
        moto: MotoS3 | None = None
        pg: Postgres | None = None
        try:
            for var in ("EDZOO_DATABASE_URL", "EDZOO_BLOBS", "EDZOO_REDIRECT_BLOBS"):
                if os.environ.pop(var, None) is not None:
                    log(f"ignoring {var} from the environment: every registry here names its own")
            log("starting moto_server")
            moto = MotoS3(tmp / "moto")
            moto_pid = moto.proc.pid
            # For admin.init/add_publisher in this process and for every `edzoo serve` started.
            os.environ.update(moto.env())
            os.environ["EDZOO_SCRATCH"] = str(tmp / "s3-scratch")
            dbs = ["sqlite"]
            try:
                log("starting PostgreSQL")
                pg = Postgres()
                dbs.append("postgresql")
            except ServiceUnavailable as e:
                notes.append(f"PostgreSQL rows skipped: {e}")
                log(f"NOTE: PostgreSQL rows skipped: {e}")

            big = os.urandom(int(args.blob_mb * MB))
            www = tmp / "www"
            www.mkdir()
            (www / "big.bin").write_bytes(big)

            for store in ("folder", "s3"):
                for db in dbs:
                    setup = Setup(store, db, create_registry(tmp / f"{store}-{db}", store, db, moto, pg))
                    setups.append(setup)
                    log(f"[{setup.label}] registry created; publishing")
                    with serving(setup.reg, 2) as url:
                        setup.reg.publish(url, NS, SMALL)
                        if db == dbs[0]:
                            blobs += blob_cases(setup, url, nginx_exe, www, tmp, big, args.blob_runs)
            del big

            # Rounds outermost, so drift of the machine (another job, clocks) hits every case alike.
            for rnd in range(args.rounds):
                for setup in setups:
                    for n in args.workers:
                        with serving(setup.reg, n) as url:
                            cache = tmp / "caches" / f"{setup.store}-{setup.db}-{n}-{rnd}"
                            sequence = verified_pull(url, setup.reg, SMALL_REF, cache)
                            if setup.sequence and [r[0] for r in sequence] != [r[0] for r in setup.sequence]:
                                raise SystemExit(f"[{setup.label}] pulls made different requests from run to run")
                            setup.sequence = sequence
                            watch = {"moto": moto_pid} if setup.store == "s3" else None
                            res = run_load(url, sequence, args, watch)
                        setup.runs.setdefault(n, []).append(res)
                        log(
                            f"[round {rnd + 1}/{args.rounds}] {setup.label}, {n} workers: "
                            f"{res['pulls_per_s']:.1f} pulls/s, p50 {res['p50_ms']:.1f} ms, "
                            f"p99 {res['p99_ms']:.1f} ms, {res['errors']} errors"
                        )
        finally:
            if pg is not None:
                pg.destroy()
            if moto is not None:
                moto.stop()
            os.environ.clear()
            os.environ.update(saved_env)
    return setups, blobs


# -- report --------------------------------------------------------------------------------------
def med(setup: Setup, n: int, key: str) -> float:
    return median([r[key] for r in setup.runs.get(n, []) if r[key] is not None])


def fmt_pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{x * 100:.0f}%"


def fmt_cores(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.2f}"


def ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(b) else float("nan")


def report(setups: list[Setup], blobs: list[dict[str, Any]], args: argparse.Namespace, notes: list[str]) -> str:
    out: list[str] = []
    seq = setups[0].sequence
    out.append(
        f"\n== 1. Pulls of {SMALL_REF} under load ({args.threads} client threads, {args.seconds:g} s windows, "
        f"median of {args.rounds} round(s)) =="
    )
    out.append(
        f"one pull = {len(seq)} requests ({sum(1 for r in seq if r[1] != 200)} answered 404), "
        f"{sum(r[2] for r in seq):,} bytes; gunicorn {SERVER_THREADS} threads per worker"
    )
    rows = []
    for s in setups:
        for n in args.workers:
            runs = s.runs.get(n, [])
            rows.append(
                [
                    s.store,
                    s.db,
                    str(n),
                    f"{med(s, n, 'pulls_per_s'):.1f}",
                    f"{med(s, n, 'pulls_per_s') * len(s.sequence):.0f}",
                    f"{med(s, n, 'p50_ms'):.1f}",
                    f"{med(s, n, 'p99_ms'):.1f}",
                    str(sum(r["pulls"] for r in runs)),
                    str(sum(r["errors"] for r in runs)),
                    fmt_cores(med(s, n, "client_cores")),
                    fmt_cores(med(s, n, "moto_cores")),
                    fmt_pct(med(s, n, "machine_busy")),
                ]
            )
    out.append(
        table(
            [
                "store",
                "db",
                "workers",
                "pulls/s",
                "req/s",
                "p50 ms",
                "p99 ms",
                "pulls",
                "errors",
                "client cores",
                "moto cores",
                "machine busy",
            ],
            rows,
        )
    )
    out.append(
        "pulls: all rounds together. During the window: client cores = CPU the load generator used, moto cores = "
        "CPU moto_server used (one Python process: S3 rows wait on it), machine busy = all cores, every process "
        "(any other job included)."
    )

    multi = [n for n in args.workers if n != 1]
    out.append("\n== 2. Scaling efficiency: pulls/s at N workers / (N x pulls/s at 1 worker) ==")
    if 1 not in args.workers or not multi:
        out.append("(needs 1 and at least one other worker count in --workers)")
    else:
        rows = []
        for s in setups:
            one = med(s, 1, "pulls_per_s")
            row = [s.store, s.db, *(f"{med(s, n, 'pulls_per_s'):.1f}" for n in args.workers)]
            for n in multi:
                speedup = ratio(med(s, n, "pulls_per_s"), one)
                row += [f"{speedup:.2f}x", f"{speedup / n:.2f}"]
            rows.append(row)
        headers = ["store", "db", *(f"pulls/s @{n}" for n in args.workers)]
        for n in multi:
            headers += [f"speedup @{n}", f"efficiency @{n}"]
        out.append(table(headers, rows))
        out.append(
            f"{os.cpu_count()} cores on this machine, shared by the server, the load generator, moto and PostgreSQL."
        )

    by = {(s.store, s.db): s for s in setups}
    pairs: list[tuple[str, Setup, Setup]] = []
    for db in ("sqlite", "postgresql"):
        if ("s3", db) in by and ("folder", db) in by:
            pairs.append((f"s3 / folder ({db})", by[("s3", db)], by[("folder", db)]))
    for store in ("folder", "s3"):
        if (store, "postgresql") in by and (store, "sqlite") in by:
            pairs.append((f"postgresql / sqlite ({store})", by[(store, "postgresql")], by[(store, "sqlite")]))
    if pairs:
        out.append("\n== 3. Ratios between backends (pulls/s and p50 latency at the same worker count) ==")
        rows = []
        for label, a, b in pairs:
            row = [label]
            for n in args.workers:
                row += [
                    f"{ratio(med(a, n, 'pulls_per_s'), med(b, n, 'pulls_per_s')):.2f}",
                    f"{ratio(med(a, n, 'p50_ms'), med(b, n, 'p50_ms')):.2f}",
                ]
            rows.append(row)
        headers = ["ratio"]
        for n in args.workers:
            headers += [f"pulls/s @{n}", f"p50 @{n}"]
        out.append(table(headers, rows))
        out.append(
            "A pull reads two index rows (the served head: the timestamp and the probe for the next root) "
            "and, once the server has read them, nothing from the object store."
        )

    if blobs:
        size = blobs[0]["size_bytes"] / MB
        out.append(
            f"\n== 4. Blob throughput: one {size:g} MiB download, edzoo vs nginx (sendfile) serving the same bytes "
            f"(median of {args.blob_runs}) =="
        )
        rows = []
        for b in blobs:
            m = b["median_mib_s"]
            rows.append([b["case"], f"{m['edzoo']:.0f}", f"{m['nginx']:.0f}", f"{m['edzoo'] / m['nginx']:.2f}"])
        out.append(table(["edzoo store", "edzoo MiB/s", "nginx MiB/s", "edzoo / nginx"], rows))
        out.append("one urllib3 stream on a new connection, bytes counted and discarded; edzoo: 2 workers.")

    errors = [(s.label, n, e) for s in setups for n, runs in s.runs.items() for r in runs for e in r["error_samples"]]
    if errors:
        out.append("\nerrors seen by the load generator (first few):")
        out += [f"  {label}, {n} workers: {e}" for label, n, e in errors[:10]]
    if notes:
        out.append("")
        out += [f"note: {n}" for n in notes]
    return "\n".join(out)


# -- main ----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Pulls per second and p50/p99 latency of `edzoo serve` with 1, 2 and 4 workers, folder vs "
        "S3 store, SQLite vs PostgreSQL; scaling efficiency; blob throughput against nginx. Prints medians.",
    )
    parser.add_argument("--quick", action="store_true", help="a fast check: 2 s windows, 1 and 2 workers, 4 MiB blob")
    parser.add_argument(
        "--workers", type=int_list, default=None, help="worker counts (default 1,2,4; 1,2 with --quick)"
    )
    parser.add_argument("--seconds", type=float, default=None, help="measured window per run (default 5; 2 --quick)")
    parser.add_argument("--max-pulls", type=int, default=2000, help="most pulls in one window (default 2000)")
    parser.add_argument("--threads", type=int, default=8, help="load generator threads (default 8)")
    parser.add_argument("--warmup", type=float, default=None, help="warm-up before each window, s (default 1; 0.5)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds, each restarting servers (default 3; 1)")
    parser.add_argument("--blob-mb", type=float, default=None, help="blob size in MiB (default 64; 4 with --quick)")
    parser.add_argument("--blob-runs", type=int, default=None, help="timed downloads per case (default 5; 3)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write every sample to PATH")
    parser.add_argument("--load-generator", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_generator:
        return load_generator()
    q = args.quick
    args.workers = args.workers or ([1, 2] if q else [1, 2, 4])
    args.seconds = args.seconds if args.seconds is not None else (2.0 if q else 5.0)
    args.warmup = args.warmup if args.warmup is not None else (0.5 if q else 1.0)
    args.rounds = args.rounds or (1 if q else 3)
    args.blob_mb = args.blob_mb if args.blob_mb is not None else (4.0 if q else 64.0)
    args.blob_runs = args.blob_runs or (3 if q else 5)
    if min(args.seconds, args.blob_mb, args.max_pulls, args.threads, args.rounds, args.blob_runs) <= 0:
        parser.error("--seconds, --max-pulls, --threads, --rounds, --blob-mb and --blob-runs must be positive")

    nginx_exe = ensure_nginx()
    machine = machine_info()
    machine["moto"] = importlib.metadata.version("moto")
    load_before = os.getloadavg()
    print("edzoo serve scaling benchmark")
    print(f"machine: {machine['cpu']}, {machine['cores']} cores ({machine['usable_cores']} usable), {machine['os']}")
    print(
        f"software: Python {machine['python']}, edzoo {machine['edzoo']}, urllib3 {machine['urllib3']}, "
        f"nginx {machine['nginx']}, moto {machine['moto']}"
    )
    print(
        f"settings: workers {args.workers}, {args.threads} client threads, {args.seconds:g} s windows "
        f"(+{args.warmup:g} s warm-up), at most {args.max_pulls} pulls, {args.rounds} round(s), "
        f"{args.blob_mb:g} MiB blob x {args.blob_runs}"
    )
    print(f"load average before: {' '.join(f'{x:.2f}' for x in load_before)}", flush=True)

    notes: list[str] = []
    t0 = time.perf_counter()
    setups, blobs = run(args, nginx_exe, notes)
    print(report(setups, blobs, args, notes))
    print(
        f"\n(load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"total wall time {time.perf_counter() - t0:.0f} s)"
    )
    if args.json:
        doc = {
            "machine": machine,
            "load_average_before": load_before,
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "notes": notes,
            "load": [
                {
                    "store": s.store,
                    "db": s.db,
                    "requests_per_pull": s.sequence,
                    "workers": {str(n): r for n, r in s.runs.items()},
                }
                for s in setups
            ],
            "blob": blobs,
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
