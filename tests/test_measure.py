"""zoo.measure.benchmark on a small real model (the device probe's reference, no TensorFlow):
blocks of K invokes per clock reading, the interpreter's empty-call overhead beside the
latencies, and clear errors for what cannot be measured.

No test compares the speed of two models: timings vary from run to run; only the structure of
the result and the choice of K (which follows the request) are checked.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

from registry.core.errors import UsageError
from zoo import measure  # noqa: E402
from zoo.errors import DataError, ModelError  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[1] / "manifests" / "reference"
PROBE = REFERENCE / "probe.tflite"
SAMPLE = np.asarray(json.loads((REFERENCE / "probe.json").read_text())["input"], np.float32)

QUICK = measure.BenchConfig(warmup=20, runs=40)
KEYS = {
    "latency_us_p50": float,
    "latency_us_p90": float,
    "peak_memory_bytes": int,
    "threads": int,
    "runs": int,
    "warmup_runs": int,
    "invokes_per_timing": int,
    "empty_invoke_us_p50": float,
    "method": str,
}


@pytest.fixture(scope="module")
def result() -> dict:  # type: ignore[type-arg]
    return measure.benchmark(PROBE, SAMPLE, QUICK)


def test_every_field_is_there_with_its_type(result):  # type: ignore[no-untyped-def]
    assert set(result) == set(KEYS)
    for key, kind in KEYS.items():
        assert isinstance(result[key], kind), key


def test_the_numbers_are_sane(result):  # type: ignore[no-untyped-def]
    assert 0 < result["latency_us_p50"] <= result["latency_us_p90"]
    assert result["invokes_per_timing"] >= 1
    assert result["empty_invoke_us_p50"] > 0
    assert result["peak_memory_bytes"] >= 0
    assert (result["threads"], result["runs"], result["warmup_runs"]) == (1, 40, 20)


def test_a_block_of_a_tiny_model_lasts_about_block_us(result):  # type: ignore[no-untyped-def]
    # The probe runs in microseconds to a few hundred: several calls fit in 1000 µs.
    block = result["invokes_per_timing"] * result["latency_us_p50"]
    assert QUICK.block_us / 5 < block < QUICK.block_us * 5


def test_the_method_says_what_the_clock_brackets(result):  # type: ignore[no-untyped-def]
    method = result["method"]
    assert f"block of {result['invokes_per_timing']} back-to-back Interpreter.invoke()" in method
    assert "empty_invoke_us_p50" in method


def test_a_longer_block_takes_more_invokes_per_timing():  # type: ignore[no-untyped-def]
    short = measure.benchmark(PROBE, SAMPLE, measure.BenchConfig(warmup=20, runs=5, block_us=100))
    long = measure.benchmark(PROBE, SAMPLE, measure.BenchConfig(warmup=20, runs=5, block_us=20000))
    assert long["invokes_per_timing"] > short["invokes_per_timing"] >= 1


def test_a_block_shorter_than_one_call_takes_one_invoke():  # type: ignore[no-untyped-def]
    done = measure.benchmark(PROBE, SAMPLE, measure.BenchConfig(warmup=5, runs=3, block_us=0.001))
    assert done["invokes_per_timing"] == 1
    assert done["runs"] == 3


@pytest.mark.parametrize("runs", [1, 7])
def test_runs_is_the_number_of_blocks_asked_for(runs):  # type: ignore[no-untyped-def]
    done = measure.benchmark(PROBE, SAMPLE, measure.BenchConfig(warmup=5, runs=runs, block_us=200))
    assert done["runs"] == runs


def test_the_empty_model_loads_and_runs_one_relu():  # type: ignore[no-untyped-def]
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(
        model_content=measure._empty_model(),
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interp.allocate_tensors()
    assert [op["op_name"] for op in interp._get_ops_details()] == ["RELU"]
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    interp.set_tensor(inp["index"], np.asarray([-2.5], np.float32))
    interp.invoke()
    assert interp.get_tensor(out["index"]).tolist() == [0.0]


def test_a_missing_model_is_a_model_error(tmp_path):  # type: ignore[no-untyped-def]
    with pytest.raises(ModelError, match="no such model file"):
        measure.benchmark(tmp_path / "absent.tflite", SAMPLE, QUICK)


def test_a_file_that_is_not_a_model_is_a_model_error(tmp_path):  # type: ignore[no-untyped-def]
    bad = tmp_path / "notes.tflite"
    bad.write_bytes(b"not a flatbuffer at all")
    with pytest.raises(ModelError, match="notes.tflite"):
        measure.benchmark(bad, SAMPLE, QUICK)


def test_a_sample_of_the_wrong_shape_is_a_data_error():  # type: ignore[no-untyped-def]
    with pytest.raises(DataError, match=r"\[3, 3\]"):
        measure.benchmark(PROBE, np.zeros((3, 3), np.float32), QUICK)


@pytest.mark.parametrize(
    "fields",
    [{"threads": 0}, {"warmup": 0}, {"runs": 0}, {"block_us": 0.0}, {"block_us": -1.0}],
    ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()),
)
def test_a_config_out_of_range_is_a_usage_error(fields):  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError):
        measure.BenchConfig(**fields)
