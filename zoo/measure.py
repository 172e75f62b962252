"""Measure a ``.tflite`` file through the LiteRT interpreter (``ai_edge_litert``): the task
metric on held-out data, the tensors and operators it uses, the runtime it needs, and its
latency and peak memory in a fresh process.

Nothing here imports TensorFlow: the numbers are what a device running LiteRT would see.
Run as ``python -m zoo.measure --bench`` it is the benchmark child process (a JSON request on
stdin, a JSON result on stdout).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import math
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "BenchConfig",
    "Evaluation",
    "benchmark",
    "evaluate",
    "gzip_size",
    "machine",
    "quantize",
    "tensor_spec",
    "version_of",
    "wilson",
]


@dataclass(frozen=True)
class BenchConfig:
    """How latency is measured: single-sample ``invoke()`` after warm-up, in a fresh process."""

    threads: int = 1
    warmup: int = 50
    runs: int = 300


@dataclass(frozen=True)
class Evaluation:
    """A variant measured on a held-out split."""

    accuracy: float
    correct: int
    n: int
    ci95: tuple[float, float]
    per_class: dict[str, float]
    predictions: np.ndarray  # argmax per sample
    outputs: np.ndarray  # dequantized outputs (probabilities), float32
    ops: list[str]
    delegates: list[str]
    min_runtime_version: str
    inputs: list[dict[str, Any]]
    outputs_spec: list[dict[str, Any]]


def quantize(values: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """Bring float inputs to the tensor's dtype with its scale and zero point."""
    dtype = detail["dtype"]
    if dtype in (np.float32, np.float16):
        return values.astype(dtype)
    scale, zero_point = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(values / scale + zero_point), info.min, info.max).astype(dtype)


def dequantize(values: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    if detail["dtype"] in (np.float32, np.float16) or not scale:
        return values.astype(np.float32)
    return ((values.astype(np.float32) - zero_point) * scale).astype(np.float32)


def tensor_spec(detail: dict[str, Any]) -> dict[str, Any]:
    """A tensor as the manifest's signature describes it."""
    spec: dict[str, Any] = {
        "name": detail["name"],
        "dtype": np.dtype(detail["dtype"]).name,
        "shape": [int(d) for d in detail["shape_signature"]],
    }
    scale, zero_point = detail["quantization"]
    if scale:
        spec["quantization"] = {"scale": float(scale), "zero_point": int(zero_point)}
    return spec


def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval of a proportion."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return round(max(0.0, centre - half), 6), round(min(1.0, centre + half), 6)


def _run(path: Path, x: np.ndarray, resolver: Any) -> tuple[np.ndarray, list[str], Any]:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path), num_threads=1, experimental_op_resolver_type=resolver)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    outputs = np.empty((len(x), *out["shape"][1:]), np.float32)
    for i, row in enumerate(x):
        interp.set_tensor(inp["index"], quantize(row[None, ...], inp))
        interp.invoke()
        outputs[i] = dequantize(interp.get_tensor(out["index"])[0], out)
    ops = [op["op_name"] for op in interp._get_ops_details()]
    return outputs, ops, interp


def min_runtime_version(path: Path) -> str:
    """The ``min_runtime_version`` the converter wrote into the model's metadata."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(path.read_bytes(), 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() == b"min_runtime_version":
            raw = model.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
            return raw.split(b"\0", 1)[0].decode()
    raise ValueError(f"{path.name}: the converter wrote no min_runtime_version")


def evaluate(path: Path, x: np.ndarray, y: np.ndarray, labels: tuple[str, ...] | list[str]) -> Evaluation:
    """Classification accuracy (with a 95% interval and per class) through LiteRT.

    Runs twice: with the default CPU delegate (XNNPACK, what an app gets) and with the
    reference kernels; the variant suits plain CPU only if both agree on every prediction.
    """
    from ai_edge_litert.interpreter import OpResolverType

    outputs, auto_ops, interp = _run(path, x, OpResolverType.AUTO)
    plain, plain_ops, _ = _run(path, x, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    predictions = outputs.argmax(axis=-1)
    delegates = ["cpu"] if np.array_equal(plain.argmax(axis=-1), predictions) else []
    if "DELEGATE" in auto_ops:
        delegates.append("xnnpack")
    correct = int((predictions == y).sum())
    per_class = {}
    for c, label in enumerate(labels):
        mask = y == c
        if mask.any():
            per_class[label] = round(float((predictions[mask] == c).mean()), 6)
    return Evaluation(
        accuracy=correct / len(y),
        correct=correct,
        n=len(y),
        ci95=wilson(correct, len(y)),
        per_class=per_class,
        predictions=predictions,
        outputs=outputs,
        ops=sorted(set(plain_ops)),
        delegates=delegates,
        min_runtime_version=min_runtime_version(path),
        inputs=[tensor_spec(d) for d in interp.get_input_details()],
        outputs_spec=[tensor_spec(d) for d in interp.get_output_details()],
    )


def benchmark(path: Path, sample: np.ndarray, config: BenchConfig = BenchConfig()) -> dict[str, Any]:
    """Latency p50/p90 and peak memory of single-sample inference, in a fresh process that
    imports only numpy and ai_edge_litert (away from TensorFlow's threads and memory)."""
    request = {
        "model": str(path),
        "input": np.asarray(sample, np.float32).tolist(),
        "threads": config.threads,
        "warmup": config.warmup,
        "runs": config.runs,
    }
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, "-m", "zoo.measure", "--bench"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmark of {path.name} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)


def _bench_child() -> int:
    import gc
    import time

    from ai_edge_litert.interpreter import Interpreter

    request = json.load(sys.stdin)
    gc.collect()
    before = _proc_status_kib("VmRSS")
    # ru_maxrss would not do: Linux carries the parent's high-water mark across exec.
    # Resetting VmHWM makes it the peak from here on.
    try:
        Path("/proc/self/clear_refs").write_text("5")
        peak_field = "VmHWM"
    except OSError:
        peak_field = "VmRSS"
    interp = Interpreter(model_path=request["model"], num_threads=request["threads"])
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    interp.set_tensor(inp["index"], quantize(np.asarray([request["input"]], np.float32), inp))
    for _ in range(request["warmup"]):
        interp.invoke()
    times = []
    clock = time.perf_counter_ns
    for _ in range(request["runs"]):
        start = clock()
        interp.invoke()
        times.append(clock() - start)
    after = _proc_status_kib(peak_field)
    us = np.asarray(times, dtype=np.float64) / 1000.0
    json.dump(
        {
            "latency_us_p50": round(float(np.percentile(us, 50)), 3),
            "latency_us_p90": round(float(np.percentile(us, 90)), 3),
            "peak_memory_bytes": max(0, after - before) * 1024,
            "threads": request["threads"],
            "runs": request["runs"],
            "warmup_runs": request["warmup"],
            "method": (
                "time.perf_counter_ns around Interpreter.invoke() on one held-out sample, in a "
                "fresh process importing only numpy and ai_edge_litert (default XNNPACK CPU "
                "path); includes Python call overhead. Peak memory: the process's peak resident "
                f"set ({peak_field}) after the timed runs minus its resident set before the "
                "model was loaded."
            ),
        },
        sys.stdout,
    )
    return 0


def _proc_status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}; the benchmark needs Linux")


def gzip_size(data: bytes) -> int:
    """Size after gzip -9 with a fixed mtime (what pruning and clustering pay off in)."""
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def version_of(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        if package == "tensorflow-cpu":
            return metadata.version("tensorflow")
        raise


def machine() -> dict[str, Any]:
    """The reference machine a benchmark ran on."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count() or 1,
        "os": platform.platform(),
        "python": platform.python_version(),
        "runtime": f"ai-edge-litert {version_of('ai-edge-litert')}",
    }


if __name__ == "__main__" and sys.argv[1:] == ["--bench"]:
    sys.exit(_bench_child())
