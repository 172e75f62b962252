""":func:`measure_tflite`: a ``.tflite`` someone already has, measured through LiteRT on given data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.errors import DataError, ModelError

from .. import _tf, kinds, measure
from ..datasets.common import Dataset
from .data import _replace


@dataclass(frozen=True)
class MeasureResult:
    """A ``.tflite`` measured through LiteRT on a test split (and a shifted set)."""

    path: Path
    metric: str
    value: float
    ci95: tuple[float, float]
    n: int
    per_class: dict[str, float]
    shift_value: float | None
    shift_n: int | None
    ops: list[str]
    delegates: list[str]
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    bench: dict[str, Any]
    dataset_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": str(self.path),
            "metric": {"name": self.metric, "value": round(self.value, 6), "ci95": list(self.ci95), "n": self.n},
            "per_class": self.per_class,
            "shift": None if self.shift_value is None else {"value": round(self.shift_value, 6), "n": self.shift_n},
            "dataset_sha256": self.dataset_sha256,
            "ops": self.ops,
            "delegates": self.delegates,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "benchmarks": self.bench,
        }


def measure_tflite(
    path: Path,
    data: Any,
    *,
    task: str = "generic",
    metric: str | None = None,
    shift_data: Any = None,
    data_options: Any = None,
    runs: int = 100,
) -> MeasureResult:
    """Score a ``.tflite`` on the test split of ``data`` through LiteRT, with the kind's metric,
    and time it. Needs no TensorFlow. Raises ModelError, DataError, UsageError."""
    path = Path(path)
    kind = kinds.get(task)
    scorer = kinds.metric(metric or kind.metric).score
    try:
        runner = measure.Runner(path)
    except (ValueError, RuntimeError, OSError) as e:
        raise ModelError(f"{path}: LiteRT cannot load it as a .tflite ({str(e).splitlines()[0][:160]})") from e
    detail = runner.interpreter.get_input_details()[0]
    want = tuple(int(d) for d in detail["shape_signature"][1:])
    if isinstance(data, Dataset):
        dataset = data
    else:
        from .. import data as adapters

        opts = data_options or adapters.DataOptions()
        if opts.image_size is None and len(want) == 3 and min(want) > 0:
            opts = _replace(opts, image_size=(want[0], want[1]), channels=opts.channels or want[2])
        if opts.max_len is None and len(want) == 1 and want[0] > 0:
            opts = _replace(opts, max_len=want[0])
        dataset = adapters.load_data(data, opts)
    test = dataset.test
    if not len(test.y):
        raise DataError(f"{data}: no test split to measure on")
    got = tuple(test.x.shape[1:])
    if len(got) != len(want) or any(w > 0 and w != g for w, g in zip(want, got, strict=False)):
        raise DataError(f"{data}: samples have shape {list(got)}, {path.name} takes {list(want)}: resize or re-encode")
    with _tf.quiet_native_stderr():
        ev = measure.evaluate(path, test.x, test.y, dataset.labels, score=lambda o: scorer(o, test, dataset.labels))
        shifted = None
        if shift_data is not None:
            from .. import data as adapters

            split, _ = adapters.load_eval(shift_data, data_options or adapters.DataOptions(), like=dataset)
            shifted = measure.evaluate(
                path, split.x, split.y, dataset.labels, score=lambda o: scorer(o, split, dataset.labels)
            )
    bench = measure.benchmark(path, test.x[0], measure.BenchConfig(runs=runs, warmup=min(20, runs)))
    return MeasureResult(
        path=path,
        metric=metric or kind.metric,
        value=ev.value,
        ci95=ev.score.ci95,
        n=ev.score.n,
        per_class=ev.score.per_class,
        shift_value=shifted.value if shifted else None,
        shift_n=shifted.score.n if shifted else None,
        ops=ev.ops,
        delegates=ev.delegates,
        inputs=ev.inputs,
        outputs=ev.outputs_spec,
        bench=bench,
        dataset_sha256=dataset.info["sha256"]["test"],
    )
