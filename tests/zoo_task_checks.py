"""What every reference model's quick build must pass, whatever its task: real data
generation, real training and conversion, every variant measured through the LiteRT
interpreter, golden samples, the quality bar, and reproducibility across recipe subsets.

Not collected by itself: each ``tests/test_zoo_<task>.py`` sets ``TASK`` and imports these
checks (``from zoo_task_checks import *``), so each task is one test file that pytest-xdist
can give its own worker, beside that task's own checks.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("tensorflow_model_optimization")

from pathlib import Path  # noqa: E402

from registry.core import manifest as manifests  # noqa: E402
from registry.core.model import Manifest  # noqa: E402
from zoo import build as zoo_build  # noqa: E402
from zoo import tasks  # noqa: E402
from zoo.measure import Runner  # noqa: E402

__all__ = [
    "built",
    "read",
    "test_a_variant_depends_only_on_the_seed_and_its_recipe",
    "test_build_directory_is_the_registry_contract",
    "test_every_variant_is_measured_with_the_task_metric",
    "test_golden_samples_reproduce_on_litert",
    "test_the_quality_bar_is_measured_and_recorded",
]

pytestmark = [pytest.mark.tf, pytest.mark.slow]


@pytest.fixture(scope="module")
def built(request, tmp_path_factory) -> zoo_build.BuildResult:  # type: ignore[no-untyped-def]
    """The quick build of the test module's TASK, once per module."""
    name = request.module.TASK
    out = tmp_path_factory.mktemp(name)
    return zoo_build.build(name, profile="quick", out=out, cache_dir=out / ".cache", log=lambda _: None)


def read(built: zoo_build.BuildResult, name: str) -> dict:
    return json.loads((built.out_dir / name).read_text())


def test_build_directory_is_the_registry_contract(built):  # type: ignore[no-untyped-def]
    build_dir = manifests.read_build_dir(built.out_dir)
    task = tasks.get(build_dir.name)
    assert build_dir.version == task.version + "-quick"
    ids = [v["id"] for v in build_dir.manifest["variants"]]
    assert ids == [r for r in zoo_build.ORDER if r not in task.not_applicable]
    listed = {f["path"] for f in build_dir.manifest["files"]}
    assert {"card.md", "metrics.json", "golden/samples.json"} <= listed
    education = build_dir.manifest["card"]["education"]
    assert education["privacy_class"] == task.education["privacy_class"] and education["age_band"]
    # the typed model reads a real build's manifest and writes it back byte for byte
    raw = (built.out_dir / "manifest.json").read_text()
    assert json.dumps(Manifest.from_dict(json.loads(raw)).to_dict(), indent=2) == json.dumps(json.loads(raw), indent=2)


def test_every_variant_is_measured_with_the_task_metric(built):  # type: ignore[no-untyped-def]
    doc = read(built, "manifest.json")
    metrics = read(built, "metrics.json")
    task = tasks.get(doc["name"])
    test_sha = doc["provenance"]["dataset_digests"][f"{task.name}-test"]
    for v in doc["variants"]:
        m, b = v["metrics"], v["benchmarks"]
        assert m["name"] == task.metric and m["dataset_sha256"] == test_sha
        assert 0.5 < m["value"] <= 1 and m["ci95"][0] <= m["value"] <= m["ci95"][1]
        assert 0 < b["latency_us_p50"] <= b["latency_us_p90"] and v["gzip_size"] < v["size"]
        assert v["requirements"]["builtin_ops"]
        assert metrics["variants"][v["id"]]["breakdown"], v["id"]
    assert metrics["keras_vs_litert_fp32_max_abs_diff"] <= zoo_build.KERAS_TOLERANCE
    fp32 = next(v for v in doc["variants"] if v["id"] == "fp32")
    assert metrics["baseline"]["value"] < fp32["metrics"]["value"]


def test_the_quality_bar_is_measured_and_recorded(built):  # type: ignore[no-untyped-def]
    metrics = read(built, "metrics.json")
    checks = metrics["bar"]["checks"]
    assert checks and all(set(c) == {"check", "passed", "detail"} for c in checks)
    if metrics["bar"]["enforced"]:
        assert all(c["passed"] for c in checks)
    card = (built.out_dir / "card.md").read_text()
    assert "## Quality bar" in card and metrics["baseline"]["name"] in card
    assert "## Learners and privacy" in card


def test_golden_samples_reproduce_on_litert(built):  # type: ignore[no-untyped-def]
    golden = read(built, "golden/samples.json")
    for variant in read(built, "manifest.json")["variants"]:
        runner = Runner(built.out_dir / variant["file"])
        for sample in golden["samples"]:
            x = np.asarray([sample["input"]])
            x = x.astype(np.float32) if x.dtype.kind == "f" else x.astype(np.int32)
            got = runner(x)[0].ravel()
            expected = sample["expected"][variant["id"]]
            assert np.allclose(got, expected["outputs"], atol=0.02), variant["id"]


def test_a_variant_depends_only_on_the_seed_and_its_recipe(built, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Two builds that share some recipes but not others give byte-identical shared variants:
    neither the other recipes nor their order change a file. One-epoch trainings on the quick
    profile's data keep it small; the gates are not what this checks."""
    from dataclasses import replace

    name = json.loads((built.out_dir / "manifest.json").read_text())["name"]
    task = tasks.get(name)
    tiny = replace(
        task.profiles["quick"],
        name="tiny",
        epochs=1,
        finetune_epochs=1,
        student_epochs=1,
        bench_runs=10,
        bench_warmup=2,
        enforce_bar=False,
        gate_slack=100.0,
    )
    load = task.load_data
    patched = replace(
        task,
        profiles={**task.profiles, "tiny": tiny},
        load_data=lambda profile, seed, cache_dir: load("quick", seed, cache_dir),
        max_drop={},
    )
    monkeypatch.setattr(tasks, "get", lambda _: patched)
    cache = built.out_dir.parents[2] / ".cache"
    a = zoo_build.build(
        name, profile="tiny", out=tmp_path / "a", only=["int8", "distilled_int8"], cache_dir=cache, log=lambda _: None
    )
    b = zoo_build.build(
        name,
        profile="tiny",
        out=tmp_path / "b",
        only=["float16", "student_int8", "distilled_int8", "int8"],
        cache_dir=cache,
        log=lambda _: None,
    )
    for rid in ["fp32", "int8", "distilled_int8"]:
        fa = (a.out_dir / "variants" / f"{rid}.tflite").read_bytes()
        fb = (b.out_dir / "variants" / f"{rid}.tflite").read_bytes()
        assert fa == fb, f"{name} {rid} is not reproducible"
