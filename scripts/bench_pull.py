#!/usr/bin/env python3
"""Benchmark ``edzoo pull`` against nginx + sha256sum, and count the TUF metadata a pull downloads.

    .venv/bin/python scripts/bench_pull.py                 # full run (several minutes)
    .venv/bin/python scripts/bench_pull.py --quick         # fast check: 3 runs, 10 and 100 models
    .venv/bin/python scripts/bench_pull.py --json out.json # also write every sample as JSON

Everything runs on this machine, in a temporary folder that is removed at the end:

1. Pull time. A registry (``edzoo registry init``) served by ``edzoo serve`` (gunicorn, 2
   workers) holds one version with a random ``--size-mb`` variant. ``registry.client.pull``
   is timed cold (a new, empty cache each run: TUF metadata refresh, download, verification)
   and warm (the same cache again: metadata refresh, the cached blob trusted while unchanged on
   disk since it was verified, no download).
   The peer, measured in the same run, is nginx serving the same file with sendfile: cold is
   a urllib3 download into a file plus ``sha256sum`` of it, warm is ``sha256sum`` alone. A
   second peer hashes with Python's hashlib (OpenSSL) instead, as the client does: a
   sha256sum built without OpenSSL skips the CPU's SHA instructions and can be the slower part.
2. Metadata bytes per pull. A second registry gets ``--models`` small models in namespace
   ``bench`` (published one by one with ``registry.client.publish``); at each count, a cold
   pull of one model records every URL it fetches and the bytes of each, split by role;
   then the same cache is pulled again (warm).
3. Snapshot vs namespaces. The same registry then gets more publisher namespaces (one model
   each), and the same pull is counted again: the snapshot lists every role of every
   namespace, which is the known limit of TUF.

Only medians are printed. nginx comes from Debian's package: the script installs it with
apt-get when it runs as root and nginx is missing, otherwise it says how and exits with 2.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from benchlib import cpu_name, edzoo_server, free_port, int_list, log, stop, table, tail  # noqa: E402
from builders import make_build_dir  # noqa: E402
from tuf.api import exceptions as tuf_exceptions  # noqa: E402

from registry.client import Puller, publish, pull  # noqa: E402
from registry.client import download as client_download  # noqa: E402
from registry.client.http import ProgressFetcher  # noqa: E402
from registry.core import keys, trust  # noqa: E402
from registry.server import admin  # noqa: E402

MB = 1 << 20
BIG_NS, BIG_NAME, VERSION = "perf", "big", "1.0.0"
BENCH_NS = "bench"


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


# -- the machine ---------------------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "os": platform.platform(),
        "python": platform.python_version(),
        "tuf": importlib.metadata.version("tuf"),
        "edzoo": importlib.metadata.version("edzoo"),
        "urllib3": importlib.metadata.version("urllib3"),
        "nginx": nginx_version(),
    }


# -- subprocesses --------------------------------------------------------------------------------


def nginx_binary() -> str | None:
    # /usr/sbin is not on every user's PATH.
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")


def nginx_version() -> str:
    exe = nginx_binary()
    if exe is None:
        return "not installed"
    out = subprocess.run([exe, "-v"], capture_output=True, text=True).stderr.strip()
    return out.rsplit("/", 1)[-1] if "/" in out else out


def ensure_nginx() -> str:
    exe = nginx_binary()
    if exe is not None:
        return exe
    if os.geteuid() != 0:
        print(
            "nginx is not installed. Install Debian's package, then run this again:\n    sudo apt-get install -y nginx",
            file=sys.stderr,
        )
        raise SystemExit(2)
    log("nginx is not installed: apt-get install -y nginx")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "nginx"]
    if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, stdout=subprocess.DEVNULL, check=True)
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)
    exe = nginx_binary()
    if exe is None:
        raise SystemExit("apt-get installed nginx but no nginx binary was found")
    return exe


NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
{user}
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


@contextlib.contextmanager
def nginx_server(exe: str, prefix: Path, www: Path) -> Iterator[str]:
    port = free_port()
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    # As root, nginx workers would switch to "nobody", who cannot enter the private temp folder.
    user = "user root;" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(user=user, prefix=prefix, port=port, root=www))
    log_path = prefix / "stderr.log"
    proc = None
    try:
        with open(log_path, "wb") as out:
            proc = subprocess.Popen(
                [exe, "-c", str(conf), "-p", str(prefix), "-e", str(prefix / "error.log")],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for_port(port, proc, prefix / "error.log")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def wait_for_port(port: int, proc: subprocess.Popen, log_path: Path, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"nginx exited with {proc.returncode}:\n{tail(log_path)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.05)
    raise SystemExit(f"nginx did not listen on port {port} within {timeout_s:.0f} s:\n{tail(log_path)}")


# -- a registry with one publisher ---------------------------------------------------------------
@dataclass
class Publisher:
    namespace: str
    key_path: Path
    token: str


@dataclass
class LocalRegistry:
    data: Path
    keys_dir: Path
    root_json: Path
    workdir: Path
    publishers: dict[str, Publisher] = field(default_factory=dict)

    @classmethod
    def create(cls, workdir: Path) -> LocalRegistry:
        workdir.mkdir(parents=True)
        result = admin.init(workdir / "data", workdir / "offline-keys")
        return cls(result.data_dir, result.keys_dir, result.root_path, workdir)

    def add_publisher(self, namespace: str) -> Publisher:
        signer = keys.generate()
        key_path = self.workdir / "publisher-keys" / f"{namespace}.pem"
        pub_path = key_path.with_suffix(".pub.json")
        keys.save_key_pair(signer, key_path, pub_path)
        token = admin.add_publisher(self.data, self.keys_dir, namespace, pub_path)
        self.publishers[namespace] = Publisher(namespace, key_path, token)
        return self.publishers[namespace]

    def publish(self, url: str, namespace: str, name: str, variants: dict[str, bytes] | None = None) -> None:
        p = self.publishers[namespace]
        build = make_build_dir(self.workdir / "builds" / namespace / name, namespace, name, VERSION, variants)
        result = publish(build, registry=url, key_path=p.key_path, token=p.token)
        if result.status != "published":
            raise SystemExit(f"publishing {namespace}/{name}: status {result.status}")
        shutil.rmtree(build)


# -- 1. pull time vs nginx -----------------------------------------------------------------------
def sha256sum(path: Path) -> str:
    out = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True)
    return out.stdout.split()[0]


def hashlib_sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def nginx_download(url: str, dest: Path, digest: Callable[[Path], str] = sha256sum) -> str:
    """GET ``url`` with urllib3 into ``dest`` (a new connection, as a new client would open),
    then hash the file."""
    http = urllib3.PoolManager()
    response = http.request("GET", url, preload_content=False)
    try:
        if response.status != 200:
            raise SystemExit(f"nginx answered HTTP {response.status} for {url}")
        with open(dest, "wb") as f:
            for chunk in response.stream(MB):
                f.write(chunk)
    finally:
        response.release_conn()
        http.clear()
    return digest(dest)


def created_entries(folder: Path) -> int:
    """Files, folders and links under ``folder``: what making it from nothing created."""
    return sum(len(dirs) + len(files) for _, dirs, files in os.walk(folder))


def creation_cost_us(where: Path, n: int = 200) -> float:
    """Median microseconds to create one small file or folder in a new folder under ``where``
    (what a cold cache pays per entry; some virtual disks take hundreds of µs)."""
    folder = where / "creation-cost"
    folder.mkdir()
    samples = []
    try:
        for i in range(n):
            t0 = time.perf_counter()
            if i % 2:
                (folder / f"d{i}").mkdir()
            else:
                (folder / f"f{i}").write_bytes(b"x" * 512)
            samples.append(time.perf_counter() - t0)
    finally:
        shutil.rmtree(folder)
    return statistics.median(samples) * 1e6


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


PULL_CASES = (
    "edzoo_cold",
    "nginx_cold",
    "nginx_hashlib_cold",
    "edzoo_warm",
    "nginx_warm",
    "hashlib_warm",
)


def bench_pull_time(tmp: Path, nginx_exe: str, runs: int, size_mb: float) -> dict[str, Any]:
    work = tmp / "pull"
    reg = LocalRegistry.create(work)
    reg.add_publisher(BIG_NS)
    data = os.urandom(int(size_mb * MB))
    sha = hashlib.sha256(data).hexdigest()
    www = work / "www"
    www.mkdir()
    (www / "fp32.tflite").write_bytes(data)
    root = reg.root_json.read_bytes()
    ref = f"{BIG_NS}/{BIG_NAME}@{VERSION}"
    caches = work / "caches"
    peer_dir = work / "peer"
    peer_dir.mkdir()
    warm_cache = caches / "warm"
    warm_file = peer_dir / "warm.tflite"
    samples: dict[str, list[float]] = {case: [] for case in PULL_CASES}

    def check(case: str, got: str) -> None:
        if got != sha:
            raise SystemExit(f"{case}: got sha256 {got}, expected {sha}")

    with edzoo_server(reg.data, work) as url, nginx_server(nginx_exe, work / "nginx", www) as peer:
        log(f"[pull] edzoo serve at {url}, nginx at {peer}; publishing {ref} ({size_mb:g} MiB)")
        reg.publish(url, BIG_NS, BIG_NAME, {"fp32": data})
        del data
        file_url = f"{peer}/fp32.tflite"

        def edzoo_pull(cache: Path, expect_download: bool) -> str:
            result = pull(ref, registry=url, root=root, cache_dir=cache)
            if result.downloaded != expect_download:
                raise SystemExit(f"pull into {cache}: downloaded={result.downloaded}")
            return result.sha256

        entries: list[int] = []  # what each cold pull created in its cache

        def run_cold(i: int) -> dict[str, float]:
            cache, dest = caches / f"cold-{i}", peer_dir / f"cold-{i}.tflite"
            cases: dict[str, Callable[[], str]] = {
                "edzoo_cold": lambda: edzoo_pull(cache, True),
                "nginx_cold": lambda: nginx_download(file_url, dest),
                "nginx_hashlib_cold": lambda: nginx_download(file_url, dest, hashlib_sha256),
            }
            out = {}
            for case, fn in cases.items():
                out[case], got = timed(fn)
                check(case, got)
                if case == "edzoo_cold":
                    entries.append(created_entries(cache))  # untimed
                shutil.rmtree(cache, ignore_errors=True)
                dest.unlink(missing_ok=True)
                # Untimed: the file system's work for what was just written and deleted, so it is
                # not charged to the next case's first fsync (the edzoo cache fsyncs its pinned
                # root on first use; the peers fsync nothing).
                os.sync()
            return out

        def run_warm() -> dict[str, float]:
            cases: dict[str, Callable[[], str]] = {
                "edzoo_warm": lambda: edzoo_pull(warm_cache, False),
                "nginx_warm": lambda: sha256sum(warm_file),
                "hashlib_warm": lambda: hashlib_sha256(warm_file),
            }
            out = {}
            for case, fn in cases.items():
                out[case], got = timed(fn)
                check(case, got)
            return out

        log("[pull] warm-up")
        edzoo_pull(warm_cache, True)
        nginx_download(file_url, warm_file)
        run_cold(-1)
        run_warm()
        # Interleaved, so drift of the machine (page cache, CPU clock) hits every case alike.
        costs = []
        for i in tqdm(range(runs), desc="cold pulls", file=sys.stderr, leave=False):
            for case, dt in run_cold(i).items():
                samples[case].append(dt)
            os.sync()
            costs.append(creation_cost_us(work))
        for _ in tqdm(range(runs), desc="warm pulls", file=sys.stderr, leave=False):
            for case, dt in run_warm().items():
                samples[case].append(dt)

    medians = {k: median_ms(v) for k, v in samples.items()}
    return {
        "size_bytes": int(size_mb * MB),
        "runs": runs,
        "samples_s": samples,
        "median_ms": medians,
        # A new cache's files, folders and links (the peers create one file), and what creating
        # one costs on this disk, measured between the cold runs.
        "cold_entries": max(entries),
        "creation_us": statistics.median(costs),
    }


# -- 2./3. metadata bytes per pull ---------------------------------------------------------------
class CountingFetcher(ProgressFetcher):
    """The client's fetcher, also recording each request: URL, HTTP status, bytes received."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.requests: list[list[Any]] = []  # [url, status, bytes]

    def open(self, url: str, *, offset: int = 0) -> urllib3.BaseHTTPResponse:
        try:
            response = super().open(url, offset=offset)
        except tuf_exceptions.DownloadHTTPError as e:
            self.requests.append([url, e.status_code, 0])
            raise
        self.requests.append([url, response.status, 0])
        return response

    def count(self, n: int) -> None:
        # a target's bytes, streamed by the cache from the response open() just returned
        super().count(n)
        self.requests[-1][2] += n

    def download_bytes(self, url: str, max_length: int) -> bytes:
        before = self.bytes_downloaded
        try:
            return super().download_bytes(url, max_length)
        finally:
            self.requests[-1][2] += self.bytes_downloaded - before


@contextlib.contextmanager
def counting_fetcher() -> Iterator[None]:
    # The Puller builds its fetcher (and refreshes metadata) in its constructor, so the class
    # it uses is swapped for the duration of one pull.
    saved = client_download.ProgressFetcher
    client_download.ProgressFetcher = CountingFetcher  # type: ignore[misc]
    try:
        yield
    finally:
        client_download.ProgressFetcher = saved  # type: ignore[misc]


_META_RE = re.compile(r"/tuf/metadata/(?:\d+\.)?(?P<role>.+)\.json$")
CATEGORIES = ("root", "timestamp", "snapshot", "targets", "namespace role", "bins")


def classify(url: str) -> str:
    m = _META_RE.search(url)
    if m is None:
        return "target files" if "/tuf/targets/" in url else "other"
    role = m.group("role")
    if role in ("root", "timestamp", "snapshot", "targets"):
        return role
    return "bins" if ".bin-" in role else "namespace role"


def counted_pull(url: str, root: bytes, ref: str, cache: Path) -> tuple[float, list[list[Any]]]:
    with counting_fetcher():
        t0 = time.perf_counter()
        puller = Puller(url, root=root, cache_dir=cache)
        puller.pull(ref)
        dt = time.perf_counter() - t0
    fetcher = puller.source.fetcher  # type: ignore[attr-defined]
    assert isinstance(fetcher, CountingFetcher)
    if fetcher.bytes_downloaded != sum(r[2] for r in fetcher.requests if r[1] in (200, 206)):
        raise SystemExit("byte counts disagree with the client's own ProgressFetcher.bytes_downloaded")
    return dt, fetcher.requests


def metadata_row(requests: list[list[Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {c: 0 for c in CATEGORIES}
    row["bins_files"] = 0
    row["metadata_files"] = 0
    row["not_found"] = 0
    row["target_files"] = 0
    row["target_bytes"] = 0
    row["urls"] = [{"url": u, "status": s, "bytes": b} for u, s, b in requests]
    for u, status, n in requests:
        kind = classify(u)
        if status != 200:
            row["not_found"] += 1  # e.g. the probe for the next root version
            continue
        if kind == "target files":
            row["target_files"] += 1
            row["target_bytes"] += n
            continue
        row[kind] += n
        row["metadata_files"] += 1
        if kind == "bins":
            row["bins_files"] += 1
    row["metadata_bytes"] = sum(row[c] for c in CATEGORIES)
    row["metadata_bytes_without_snapshot"] = row["metadata_bytes"] - row["snapshot"]
    return row


def measure_metadata(url: str, root: bytes, ref: str, caches: Path, runs: int) -> dict[str, Any]:
    """Cold pulls (a new cache each), then warm pulls (the last cache again) of ``ref``."""
    caches.mkdir(parents=True, exist_ok=True)
    counted_pull(url, root, ref, caches / "warm-up")
    cold_s, rows = [], []
    for i in range(runs):
        dt, requests = counted_pull(url, root, ref, caches / f"cold-{i}")
        cold_s.append(dt)
        rows.append(metadata_row(requests))
    warm_s, warm_bytes = [], set()
    for _ in range(runs):
        dt, requests = counted_pull(url, root, ref, caches / f"cold-{runs - 1}")
        warm_s.append(dt)
        warm_bytes.add(sum(n for _, _, n in requests))
    shutil.rmtree(caches)
    sizes = {json.dumps({k: v for k, v in r.items() if k != "urls"}, sort_keys=True) for r in rows}
    if len(sizes) != 1 or len(warm_bytes) != 1:
        raise SystemExit(f"pulls of {ref} fetched different bytes from run to run")
    return {
        **rows[0],
        "cold_pull_median_ms": median_ms(cold_s),
        "cold_pull_samples_s": cold_s,
        "warm_pull_bytes": warm_bytes.pop(),
        "warm_pull_median_ms": median_ms(warm_s),
        "warm_pull_samples_s": warm_s,
    }


def bench_metadata(tmp: Path, counts: list[int], namespaces: list[int], runs: int) -> dict[str, Any]:
    work = tmp / "metadata"
    reg = LocalRegistry.create(work)
    reg.add_publisher(BENCH_NS)
    root = reg.root_json.read_bytes()
    ref = f"{BENCH_NS}/m00000@{VERSION}"
    by_models: list[dict[str, Any]] = []
    by_namespaces: list[dict[str, Any]] = []
    publish_s: list[float] = []
    with edzoo_server(reg.data, work) as url:
        log(f"[metadata] edzoo serve at {url}")
        published = 0
        bar = tqdm(total=max(counts), desc=f"publishing {BENCH_NS}/*", file=sys.stderr, unit="model")
        with bar:
            for n in counts:
                while published < n:
                    t0 = time.perf_counter()
                    reg.publish(url, BENCH_NS, f"m{published:05d}")
                    publish_s.append(time.perf_counter() - t0)
                    published += 1
                    bar.update(1)
                row = measure_metadata(url, root, ref, work / "caches", runs)
                by_models.append({"models": n, "namespaces": 1, "pulled": ref, **row})
                bar.write(
                    f"[metadata] {n} models: {row['metadata_bytes']} B of metadata ({row['snapshot']} B snapshot)",
                    file=sys.stderr,
                )

        ns_publish_s: list[float] = []
        total_ns = 1
        for k in namespaces:
            while total_ns < k:
                ns = f"other{total_ns:03d}"
                reg.add_publisher(ns)
                t0 = time.perf_counter()
                reg.publish(url, ns, "m00000")
                ns_publish_s.append(time.perf_counter() - t0)
                total_ns += 1
            row = measure_metadata(url, root, ref, work / "caches", runs)
            by_namespaces.append({"models": published + total_ns - 1, "namespaces": total_ns, "pulled": ref, **row})
            log(
                f"[metadata] {total_ns} namespaces: {row['metadata_bytes']} B of metadata "
                f"({row['snapshot']} B snapshot)"
            )
    return {
        "pulled": ref,
        "by_models": by_models,
        "by_namespaces": by_namespaces,
        "publish_median_ms": median_ms(publish_s) if publish_s else None,
        "publish_total_s": sum(publish_s),
        "first_publish_to_namespace_median_ms": median_ms(ns_publish_s) if ns_publish_s else None,
    }


# -- report --------------------------------------------------------------------------------------


def kb(n: float) -> str:
    return f"{n / 1000:.1f} kB"


METADATA_LINES: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("cold pull, bytes downloaded:", lambda r: ""),
    ("  root (*)", lambda r: f"{r['root']:,}"),
    ("  timestamp", lambda r: f"{r['timestamp']:,}"),
    ("  snapshot", lambda r: f"{r['snapshot']:,}"),
    ("  targets (top-level)", lambda r: f"{r['targets']:,}"),
    (f"  namespace role ({BENCH_NS})", lambda r: f"{r['namespace role']:,}"),
    ("  bins, sum", lambda r: f"{r['bins']:,}"),
    ("  bins, files", lambda r: str(r["bins_files"])),
    ("  = metadata total", lambda r: f"{r['metadata_bytes']:,}"),
    ("    metadata files", lambda r: str(r["metadata_files"])),
    ("    without snapshot", lambda r: f"{r['metadata_bytes_without_snapshot']:,}"),
    ("  target files (manifest + variant)", lambda r: f"{r['target_bytes']:,}"),
    ("  requests answered 404 (*)", lambda r: str(r["not_found"])),
    ("cold pull, median ms", lambda r: f"{r['cold_pull_median_ms']:.1f}"),
    ("warm pull, bytes downloaded", lambda r: f"{r['warm_pull_bytes']:,}"),
    ("warm pull, median ms", lambda r: f"{r['warm_pull_median_ms']:.1f}"),
]


def metadata_table(rows: list[dict[str, Any]], column: str) -> str:
    headers = [f"one pull of {rows[0]['pulled']}", *(f"{r[column]:,} {column}" for r in rows)]
    return table(headers, [[label, *(fn(r) for r in rows)] for label, fn in METADATA_LINES])


def report(pull_res: dict[str, Any], meta: dict[str, Any]) -> str:
    m = pull_res["median_ms"]
    size_mb = pull_res["size_bytes"] / MB
    out = [
        f"\n== 1. Pull time: edzoo vs nginx + sha256sum ({size_mb:g} MiB variant, {pull_res['runs']} runs, medians) =="
    ]
    rows = []
    for case in ("cold", "warm"):
        e, p, h = (
            m[f"edzoo_{case}"],
            m[f"nginx_{case}"],
            m[f"{'nginx_hashlib' if case == 'cold' else 'hashlib'}_{case}"],
        )
        rows.append([case, f"{e:.1f}", f"{p:.1f}", f"{e / p:.2f}x", f"{h:.1f}", f"{e / h:.2f}x"])
    out.append(table(["case", "edzoo ms", "nginx+sha256sum ms", "ratio", "nginx+hashlib ms", "ratio"], rows))
    out.append(files_note(pull_res))
    out.append(
        f"cold: edzoo {m['edzoo_cold']:.1f} ms, nginx+sha256sum {m['nginx_cold']:.1f} ms, "
        f"ratio {m['edzoo_cold'] / m['nginx_cold']:.2f}x"
    )
    out.append(
        f"warm: edzoo {m['edzoo_warm']:.1f} ms, sha256sum {m['nginx_warm']:.1f} ms, "
        f"ratio {m['edzoo_warm'] / m['nginx_warm']:.2f}x"
    )
    out.append(
        "cold = a new empty cache: TUF refresh (timestamp, snapshot, targets, roles), download, "
        "verification, cache commit; the peer downloads with urllib3 into a file, then hashes it.\n"
        "warm = the populated cache: TUF refresh (downloads timestamp.json; the rest is read "
        "from the cache), the cached blob trusted while unchanged on disk; the peer hashes the file it "
        "downloaded.\n"
        "nginx+hashlib hashes with Python's hashlib (OpenSSL), as the client does, instead of "
        "sha256sum; the warm columns compare the two hashes alone."
    )

    out.append(
        f"\n== 2. TUF metadata one cold pull of {meta['pulled']} downloads, vs models in "
        f"namespace {BENCH_NS} (bytes) =="
    )
    out.append(metadata_table(meta["by_models"], "models"))
    out.append(
        "(*) the pinned root comes with the app; the client only asks for the next root version, which answers 404."
    )
    out.append(
        f"publishing one small model (sign on the client, upload, server checks): median "
        f"{meta['publish_median_ms']:.0f} ms; {meta['publish_total_s']:.0f} s for "
        f"{meta['by_models'][-1]['models']:,} models"
    )
    if meta["by_namespaces"]:
        out.append(
            "\n== 3. The same pull vs publisher namespaces in the registry (each other "
            "namespace holds one model; bytes) =="
        )
        out.append(metadata_table(meta["by_namespaces"], "namespaces"))
        if meta["first_publish_to_namespace_median_ms"] is not None:
            out.append(
                f"first publish to a new namespace (its role and the bins its files need): median "
                f"{meta['first_publish_to_namespace_median_ms']:.0f} ms"
            )
    out.append("\n== Summary ==")
    out.append(summary(pull_res, meta))
    return "\n".join(out)


def changed(before: int, after: int) -> str:
    return f"stayed at {before:,} B" if before == after else f"went from {before:,} B to {after:,} B"


def files_note(pull_res: dict[str, Any]) -> str:
    """What a cold pull creates on disk and what that costs here, so the cold ratio can be read
    across machines: the peers create one file."""
    n, us = pull_res["cold_entries"], pull_res["creation_us"]
    return (
        f"a cold pull creates {n} files, folders and links in the new cache (the peers: 1); creating one "
        f"took {us:.0f} µs on this disk (median, measured between the cold runs), about "
        f"{n * us / 1000:.1f} ms of the cold pull"
    )


def summary(pull_res: dict[str, Any], meta: dict[str, Any]) -> str:
    m = pull_res["median_ms"]
    size_mb = pull_res["size_bytes"] / MB
    first, last = meta["by_models"][0], meta["by_models"][-1]
    text = (
        f"On this machine a cold `edzoo pull` of a {size_mb:g} MiB variant took "
        f"{m['edzoo_cold']:.1f} ms against {m['nginx_cold']:.1f} ms for nginx + sha256sum of the "
        f"same file ({m['edzoo_cold'] / m['nginx_cold']:.2f}x) and "
        f"{m['nginx_hashlib_cold']:.1f} ms for nginx + hashlib "
        f"({m['edzoo_cold'] / m['nginx_hashlib_cold']:.2f}x); a warm pull took "
        f"{m['edzoo_warm']:.1f} ms against {m['nginx_warm']:.1f} ms for sha256sum alone "
        f"({m['edzoo_warm'] / m['nginx_warm']:.2f}x) and {m['hashlib_warm']:.1f} ms for hashlib "
        f"alone ({m['edzoo_warm'] / m['hashlib_warm']:.2f}x); {files_note(pull_res)}. "
        f"From {first['models']:,} to {last['models']:,} models in one namespace, the metadata of "
        f"a cold pull went from {kb(first['metadata_bytes'])} to {kb(last['metadata_bytes'])} in "
        f"{last['metadata_files']} files; without the snapshot, from "
        f"{kb(first['metadata_bytes_without_snapshot'])} to "
        f"{kb(last['metadata_bytes_without_snapshot'])}, of which the {last['bins_files']} bins "
        f"the pull reads went from {kb(first['bins'])} to {kb(last['bins'])} (each bin lists "
        f"about 1/{2**trust.DEFAULT_BIN_BITS} of the namespace's files) and the namespace role "
        f"{changed(first['namespace role'], last['namespace role'])}. "
        f"The snapshot went from {kb(first['snapshot'])} to {kb(last['snapshot'])}: it lists every "
        f"role, and a bin exists from its first file, so it grows until all "
        f"{2**trust.DEFAULT_BIN_BITS} bins of a namespace are in use"
    )
    ns = meta["by_namespaces"]
    if len(ns) > 1:
        a, b = ns[0], ns[-1]
        steps = b["namespaces"] - a["namespaces"]
        text += (
            f"; it also grows with namespaces: from {kb(a['snapshot'])} with "
            f"{a['namespaces']} to {kb(b['snapshot'])} with {b['namespaces']:,} (about "
            f"{kb((b['snapshot'] - a['snapshot']) / steps)} per namespace, the known limit of "
            f"TUF), while the top-level targets role, which lists each namespace's key, grew by "
            f"about {kb((b['targets'] - a['targets']) / steps)} per namespace; the namespace role "
            f"{changed(a['namespace role'], b['namespace role'])} and the bins "
            f"{changed(a['bins'], b['bins'])}. With the snapshot, the time of a pull of a small "
            f"model grew too: cold {a['cold_pull_median_ms']:.1f} ms -> "
            f"{b['cold_pull_median_ms']:.1f} ms, warm {a['warm_pull_median_ms']:.1f} ms -> "
            f"{b['warm_pull_median_ms']:.1f} ms"
        )
    return text + "."


# -- main ----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time `edzoo pull` against nginx + sha256sum in the same run, and count the "
        "TUF metadata bytes one pull downloads as a registry grows. Prints medians.",
    )
    parser.add_argument("--runs", type=int, default=None, help="timed runs per case (default 7; 3 with --quick)")
    parser.add_argument("--size-mb", type=float, default=20.0, help="size of the pulled variant in MiB (default 20)")
    parser.add_argument(
        "--models",
        type=int_list,
        default=None,
        help="model counts in one namespace, measured in turn (default 10,100,1000; 10,100 with --quick)",
    )
    parser.add_argument(
        "--namespaces",
        type=int_list,
        default=None,
        help="publisher namespace counts for the snapshot section (default 1,10,100; 1,4 with --quick)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a fast check: 3 runs, 10 and 100 models, 1 and 4 namespaces",
    )
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write every result to PATH")
    args = parser.parse_args(argv)
    runs = args.runs or (3 if args.quick else 7)
    counts = args.models or ([10, 100] if args.quick else [10, 100, 1000])
    namespaces = args.namespaces or ([1, 4] if args.quick else [1, 10, 100])
    if runs < 1 or args.size_mb <= 0:
        parser.error("--runs and --size-mb must be positive")

    nginx_exe = ensure_nginx()
    machine = machine_info()
    print("edzoo pull benchmark")
    print(f"machine: {machine['cpu']}, {machine['cores']} cores ({machine['usable_cores']} usable), {machine['os']}")
    print(
        f"software: Python {machine['python']}, tuf {machine['tuf']}, edzoo {machine['edzoo']}, "
        f"urllib3 {machine['urllib3']}, nginx {machine['nginx']}; edzoo serve: gunicorn, 2 workers"
    )
    print(
        f"settings: {runs} runs, {args.size_mb:g} MiB variant, models {counts}, namespaces {namespaces}",
        flush=True,
    )

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="edzoo-bench-") as tmp_name:
        tmp = Path(tmp_name)
        pull_res = bench_pull_time(tmp, nginx_exe, runs, args.size_mb)
        meta = bench_metadata(tmp, counts, namespaces, runs)
    print(report(pull_res, meta))
    print(f"\n(total wall time {time.perf_counter() - t0:.0f} s)")
    if args.json:
        doc = {
            "machine": machine,
            "settings": {
                "runs": runs,
                "size_mb": args.size_mb,
                "models": counts,
                "namespaces": namespaces,
            },
            "pull": pull_res,
            "metadata": meta,
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
