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
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "BenchConfig",
    "Evaluation",
    "Runner",
    "Score",
    "accuracy_score",
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
    """How latency is measured, in a fresh process: single-sample ``invoke()`` calls, ``warmup``
    of them one by one, then ``runs`` timed blocks of K back-to-back calls each.

    K is chosen from the warm-up so that one block lasts about ``block_us`` microseconds (K = 1
    for a model whose single call already takes that long): one clock reading per call would
    time mostly the clock and Python for a model that runs in a few microseconds.

    Raises :class:`~registry.core.errors.UsageError` for a value outside its range.
    """

    threads: int = 1
    warmup: int = 50  # untimed single calls; K is chosen from them, so at least one
    runs: int = 300  # timed blocks
    block_us: float = 1000.0  # the wall time one block aims at

    def __post_init__(self) -> None:
        from registry.core.errors import UsageError

        if self.threads < 1 or self.warmup < 1 or self.runs < 1 or not self.block_us > 0:
            raise UsageError(
                f"BenchConfig(threads={self.threads}, warmup={self.warmup}, runs={self.runs}, "
                f"block_us={self.block_us}): threads, warmup and runs must be at least 1 and block_us above 0"
            )


@dataclass(frozen=True)
class Score:
    """A task's metric over a held-out split, from a variant's outputs."""

    value: float
    ci95: tuple[float, float]
    n: int
    per_class: dict[str, float]
    predictions: np.ndarray  # the decision per sample (a class id), compared across kernels
    extra: dict[str, Any] = field(default_factory=dict)  # task-specific breakdowns, JSON-ready


@dataclass(frozen=True)
class Evaluation:
    """A variant measured on a held-out split."""

    score: Score
    outputs: np.ndarray  # dequantized outputs (probabilities), float32
    ops: list[str]
    delegates: list[str]
    min_runtime_version: str
    inputs: list[dict[str, Any]]
    outputs_spec: list[dict[str, Any]]

    @property
    def value(self) -> float:
        return self.score.value

    @property
    def accuracy(self) -> float:
        return self.score.value

    @property
    def predictions(self) -> np.ndarray:
        return self.score.predictions


def quantize(values: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """Bring float inputs to the tensor's dtype with its scale and zero point."""
    dtype = detail["dtype"]
    scale, zero_point = detail["quantization"]
    if dtype in (np.float32, np.float16) or not scale:  # float, or integer ids (tokens) as they are
        return values.astype(dtype)
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


class Runner:
    """One LiteRT interpreter on a ``.tflite``, called one sample at a time as a device would:
    ``runner(x)`` quantizes each row of ``x`` for the input tensor and returns the dequantized
    outputs, float32, one row per sample."""

    def __init__(self, path: Path, resolver: Any = None) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        self.interpreter = Interpreter(
            model_path=str(path), num_threads=1, experimental_op_resolver_type=resolver or OpResolverType.AUTO
        )
        self.interpreter.allocate_tensors()
        self._in = self.interpreter.get_input_details()[0]
        self._out = self.interpreter.get_output_details()[0]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        interp, inp, out = self.interpreter, self._in, self._out
        outputs = np.empty((len(x), *out["shape"][1:]), np.float32)
        for i, row in enumerate(x):
            interp.set_tensor(inp["index"], quantize(row[None, ...], inp))
            interp.invoke()
            outputs[i] = dequantize(interp.get_tensor(out["index"])[0], out)
        return outputs

    def ops(self) -> list[str]:
        return [op["op_name"] for op in self.interpreter._get_ops_details()]


def _run(path: Path, x: np.ndarray, resolver: Any) -> tuple[np.ndarray, list[str], Any]:
    runner = Runner(path, resolver)
    return runner(x), runner.ops(), runner.interpreter


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


def accuracy_score(outputs: np.ndarray, y: np.ndarray, labels: tuple[str, ...] | list[str]) -> Score:
    """Top-1 accuracy with a 95% Wilson interval, and recall per class."""
    predictions = outputs.argmax(axis=-1)
    correct = int((predictions == y).sum())
    per_class = {}
    for c, label in enumerate(labels):
        mask = y == c
        if mask.any():
            per_class[label] = round(float((predictions[mask] == c).mean()), 6)
    return Score(correct / len(y), wilson(correct, len(y)), len(y), per_class, predictions)


def evaluate(
    path: Path,
    x: np.ndarray,
    y: np.ndarray,
    labels: tuple[str, ...] | list[str],
    score: Callable[[np.ndarray], Score] | None = None,
) -> Evaluation:
    """Score a ``.tflite`` through LiteRT: ``score(outputs)`` (default: accuracy against ``y``).

    Runs twice: with the default CPU delegate (XNNPACK, what an app gets) and with the
    reference kernels; the variant suits plain CPU only if both make the same decision
    (``Score.predictions``) on every sample.
    """
    from ai_edge_litert.interpreter import OpResolverType

    scorer = score or (lambda outputs: accuracy_score(outputs, y, labels))
    outputs, auto_ops, interp = _run(path, x, OpResolverType.AUTO)
    plain, plain_ops, _ = _run(path, x, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    result = scorer(outputs)
    delegates = ["cpu"] if np.array_equal(scorer(plain).predictions, result.predictions) else []
    if "DELEGATE" in auto_ops:
        delegates.append("xnnpack")
    return Evaluation(
        score=result,
        outputs=outputs,
        ops=sorted(set(plain_ops)),
        delegates=delegates,
        min_runtime_version=min_runtime_version(path),
        inputs=[tensor_spec(d) for d in interp.get_input_details()],
        outputs_spec=[tensor_spec(d) for d in interp.get_output_details()],
    )


def benchmark(path: Path, sample: np.ndarray, config: BenchConfig = BenchConfig()) -> dict[str, Any]:
    """Per-call latency p50/p90 and peak memory of single-sample inference, and beside them the
    interpreter's own per-call overhead (``empty_invoke_us_p50``), in a fresh process that
    imports only numpy and ai_edge_litert (away from TensorFlow's threads and memory).

    Returns the manifest's ``benchmarks`` fields except ``machine``. Raises
    :class:`~zoo.errors.ModelError` if ``path`` is missing or not a model LiteRT can
    load, :class:`~zoo.errors.DataError` if ``sample`` does not fit its input tensor,
    and RuntimeError if the benchmark process fails in another way.
    """
    from zoo.errors import DataError, ModelError

    if not path.is_file():
        raise ModelError(f"{path}: no such model file; pass the path of a .tflite")
    request = {
        "model": str(path),
        "input": np.asarray(sample).tolist(),
        "dtype": np.asarray(sample).dtype.name,
        "threads": config.threads,
        "warmup": config.warmup,
        "runs": config.runs,
        "block_us": config.block_us,
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
    if done.returncode == _BENCH_REFUSED:
        refusal = json.loads(done.stdout)
        kind = ModelError if refusal["kind"] == "model" else DataError
        raise kind(refusal["message"])
    if done.returncode != 0:
        raise RuntimeError(f"benchmark of {path.name} failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# The child's exit status when it refuses its input (stdout then holds {"kind", "message"}), so
# the parent can tell a bad model or sample from a crash without reading the text.
_BENCH_REFUSED = 3


def _empty_model() -> bytes:
    """A ``.tflite`` with one RELU on a one-element float32 tensor, built with the flatbuffers
    object API LiteRT ships (no TensorFlow): invoking it costs what the interpreter and its
    Python binding charge per call, next to nothing of a kernel."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    code = schema.OperatorCodeT()
    code.builtinCode = schema.BuiltinOperator.RELU
    code.deprecatedBuiltinCode = schema.BuiltinOperator.RELU  # readers older than the int32 field use this one
    code.version = 1
    tensors = []
    for name in (b"x", b"y"):
        tensor = schema.TensorT()
        tensor.shape = [1]
        tensor.type = schema.TensorType.FLOAT32
        tensor.buffer = 0  # buffer 0 is the empty one: neither tensor is a constant
        tensor.name = name
        tensors.append(tensor)
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0], [1]
    graph = schema.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs, graph.operators = tensors, [0], [1], [op]
    graph.name = b"main"
    model = schema.ModelT()
    model.version = 3
    model.operatorCodes, model.subgraphs, model.buffers = [code], [graph], [schema.BufferT()]
    model.description = b"edzoo empty-invoke probe"
    builder = flatbuffers.Builder(256)
    builder.Finish(model.Pack(builder), b"TFL3")
    return bytes(builder.Output())


@dataclass(frozen=True)
class _Timing:
    """Per-call times of one interpreter, in microseconds, one per timed block of ``k`` calls."""

    k: int
    per_call_us: np.ndarray


def _time_invokes(invoke: Callable[[], None], warmup: int, runs: int, block_us: float) -> _Timing:
    """Call ``invoke`` ``warmup`` times one by one, choose K from those calls so that K calls
    last about ``block_us``, then time ``runs`` blocks of K calls."""
    import gc
    import time

    clock = time.perf_counter_ns
    singles = []
    for _ in range(warmup):
        start = clock()
        invoke()
        singles.append(clock() - start)
    # The first calls pay for allocation and delegate preparation; the later half is the steady state.
    single_ns = max(1.0, float(np.median(singles[len(singles) // 2 :])))
    k = max(1, round(block_us * 1000.0 / single_ns))
    times = []
    # A collection inside a block would be charged to the model.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(runs):
            start = clock()
            for _ in range(k):
                invoke()
            times.append(clock() - start)
    finally:
        if gc_was_enabled:
            gc.enable()
    return _Timing(k, np.asarray(times, dtype=np.float64) / (1000.0 * k))


def _bench_child() -> int:
    import gc

    from ai_edge_litert.interpreter import Interpreter

    request = json.load(sys.stdin)
    warmup, runs, block_us = request["warmup"], request["runs"], float(request["block_us"])
    gc.collect()
    before = _proc_status_kib("VmRSS")
    # ru_maxrss would not do: Linux carries the parent's high-water mark across exec.
    # Resetting VmHWM makes it the peak from here on.
    try:
        Path("/proc/self/clear_refs").write_text("5")
        peak_field = "VmHWM"
    except OSError:
        peak_field = "VmRSS"
    model = Path(request["model"])
    try:
        interp = Interpreter(model_path=str(model), num_threads=request["threads"])
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        return _refuse("model", f"{model}: LiteRT cannot load it as a model ({e}); pass a .tflite file")
    inp = interp.get_input_details()[0]
    sample = np.asarray([request["input"]], request.get("dtype", "float32"))
    try:
        interp.set_tensor(inp["index"], quantize(sample, inp))
    except ValueError as e:
        return _refuse(
            "data",
            f"{model}: a sample of shape {list(sample.shape[1:])} does not fit its input "
            f"{[int(d) for d in inp['shape'][1:]]} ({e}); pass one row of the model's input",
        )
    timed = _time_invokes(interp.invoke, warmup, runs, block_us)
    after = _proc_status_kib(peak_field)
    del interp
    # After the peak reading, so the model's peak memory is what it was before this was measured.
    empty = Interpreter(model_content=_empty_model(), num_threads=request["threads"])
    empty.allocate_tensors()
    empty.set_tensor(empty.get_input_details()[0]["index"], np.ones(1, np.float32))
    overhead = _time_invokes(empty.invoke, warmup, runs, block_us)
    json.dump(
        {
            "latency_us_p50": round(float(np.percentile(timed.per_call_us, 50)), 3),
            "latency_us_p90": round(float(np.percentile(timed.per_call_us, 90)), 3),
            "peak_memory_bytes": max(0, after - before) * 1024,
            "threads": request["threads"],
            "runs": runs,
            "warmup_runs": warmup,
            "invokes_per_timing": timed.k,
            "empty_invoke_us_p50": round(float(np.percentile(overhead.per_call_us, 50)), 3),
            "method": (
                f"time.perf_counter_ns around a block of {timed.k} back-to-back Interpreter.invoke() "
                f"calls on one held-out sample (the count chosen from {warmup} single warm-up calls so "
                f"a block lasts about {block_us:g} µs), {runs} blocks; latency per call = block time / "
                f"{timed.k}, p50 and p90 over the blocks. In a fresh process importing only numpy and "
                "ai_edge_litert, with the garbage collector off while timing (default XNNPACK CPU "
                "path). Includes the interpreter's per-call overhead, shown as empty_invoke_us_p50: a "
                "one-operator model (RELU on a 1-element float32 tensor) timed the same way in the "
                "same process afterwards. Peak memory: the process's peak resident "
                f"set ({peak_field}) after the timed runs minus its resident set before the "
                "model was loaded."
            ),
        },
        sys.stdout,
    )
    return 0


def _refuse(kind: str, message: str) -> int:
    """Tell the parent the request cannot be measured (``kind`` "model" or "data")."""
    json.dump({"kind": kind, "message": message}, sys.stdout)
    return _BENCH_REFUSED


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
