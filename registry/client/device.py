"""Device profiles on the client: a reference id, a file, or ``this`` (probed).

``probe()`` writes a profile for the machine it runs on: RAM, cores, free storage, the LiteRT
version, and a speed factor measured by timing the reference model that ships in
``manifests/reference/`` exactly as the zoo timed it on the reference machine (single-sample
``invoke()``, one thread, after warm-up; median). The speed factor is this machine's median
divided by the reference median: the selection multiplies every variant's measured latency by
it. One model stands for all: the scaling assumes a device is uniformly slower or faster for
every model of the same kind, which holds roughly across small CNNs on one CPU family and
less well across number formats (profiles can carry per-format factors for that).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import statistics
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from registry.core import profiles
from registry.core._internal.files import atomic_write
from registry.core.contracts import contracts_dir
from registry.core.errors import NotFoundError, UsageError

__all__ = ["load_device", "probe"]

_ABI = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "aarch64": "arm64-v8a",
    "arm64": "arm64",
    "armv7l": "armeabi-v7a",
    "i686": "x86",
    "i386": "x86",
}
_OS = {"linux": "linux", "darwin": "macos", "windows": "windows"}


def load_device(spec: str, *, cache_dir: Path | None = None) -> dict[str, Any]:
    """``this`` (the probed profile of this machine, probed once and cached), a reference id
    (``android-go-1gb``) or a path to a profile document."""
    if spec == "this":
        cached = Path(cache_dir) / "device.json" if cache_dir else None
        if cached and cached.exists():
            return profiles.load_profile(cached)
        profile = probe(storage_path=cache_dir or Path.home())
        if cached:
            atomic_write(cached, (json.dumps(profile, indent=2) + "\n").encode())
        return profile
    return profiles.load_profile(Path(spec) if spec.endswith(".json") else spec)


def _ram_mb() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20))


def _os_version() -> str:
    m = re.match(r"\d+(\.\d+){0,2}", platform.release())
    return m.group(0) if m else "0"


# Manifests state a variant's minimum runtime in TFLite's numbering (the converter's
# min_runtime_version, e.g. 2.17.0), not in the ai-edge-litert package's. The package released
# beside TensorFlow 2.21 (2.3) runs everything TensorFlow 2.21 converts (the zoo's tests run every
# variant with it).
LITERT_TO_TFLITE = {"2.3": "2.21"}


def _runtime_version() -> tuple[str, str]:
    """(TFLite-numbered runtime version, the ai-edge-litert version it stands for)."""
    try:
        version = metadata.version("ai-edge-litert")
    except metadata.PackageNotFoundError as e:
        raise UsageError(
            "probing a device needs the LiteRT interpreter: pip install 'edzoo[litert]' (ai-edge-litert)"
        ) from e
    short = ".".join(version.split(".")[:2])
    newest = max(LITERT_TO_TFLITE, key=lambda v: tuple(int(p) for p in v.split(".")))
    return LITERT_TO_TFLITE.get(short, LITERT_TO_TFLITE[newest]), version


def measure_speed(*, runs: int = 300, warmup: int = 50) -> tuple[float, float, dict[str, Any]]:
    """Time the reference model here; return (p50 µs here, p50 µs on the reference, reference)."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    folder = contracts_dir() / "reference"
    try:
        reference = json.loads((folder / "probe.json").read_text())
    except FileNotFoundError as e:
        raise NotFoundError(f"the probe's reference model is missing ({folder})") from e
    interp = Interpreter(model_path=str(folder / "probe.tflite"), num_threads=reference["threads"])
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    x = np.asarray([reference["input"]], np.float32)
    if inp["dtype"] != np.float32:
        scale, zero = inp["quantization"]
        info = np.iinfo(inp["dtype"])
        x = np.clip(np.round(x / scale + zero), info.min, info.max).astype(inp["dtype"])
    interp.set_tensor(inp["index"], x)
    for _ in range(warmup):
        interp.invoke()
    times = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        interp.invoke()
        times.append((time.perf_counter_ns() - start) / 1000)
    return statistics.median(times), float(reference["latency_us_p50"]), reference


def probe(*, storage_path: Path, runs: int = 300) -> dict[str, Any]:
    """A device profile of this machine, valid against ``device.schema.json``."""
    runtime, package = _runtime_version()
    here, there, reference = measure_speed(runs=runs)
    factor = round(max(here / there, 0.01), 3)
    machine = platform.machine().lower()
    system = platform.system().lower()
    usage = shutil.disk_usage(storage_path if Path(storage_path).exists() else Path.home())
    cpu = platform.processor() or machine
    profile = {
        "schema_version": 1,
        "id": "this",
        "name": f"{platform.node() or 'this machine'} ({cpu}, {platform.system()})",
        "os": {"name": _OS.get(system, "linux"), "version": _os_version()},
        "abi": _ABI.get(machine, "x86_64"),
        "ram_mb": _ram_mb(),
        "free_storage_mb": int(usage.free // (1 << 20)),
        "cpu": {"cores": os.cpu_count() or 1, "speed_factor": factor},
        "accelerators": [],
        "runtime": {"name": "litert", "version": runtime},
        "power": "mains",
        "network": "wifi",
        "source": (
            f"Measured by `edzoo device probe` on {datetime.now(UTC).date().isoformat()}: RAM, cores and "
            f"free storage read from the system; speed factor {factor} = median {here:.2f} µs of "
            f"{reference['model']} {reference['variant']} here / {there} µs on the reference machine "
            f"({reference['machine']['cpu']}), {runs} single-sample runs, 1 thread. Power and network "
            f"are not probed (mains, wifi assumed); accelerators are not probed. Runtime {runtime}: the "
            f"TFLite version ai-edge-litert {package} implements."
        ),
    }
    profiles.validate_profile(profile, source="probed profile")
    return profile
