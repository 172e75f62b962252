"""The speech, grammar and recommendation models on the quick profile: real data generation
(espeak-ng, WordNet, the simulator), real training and conversion, every variant measured
through the LiteRT interpreter, and what each task adds (a front end, a tokenizer, learning
gains) checked against the files the build wrote."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("tensorflow_model_optimization")

from registry.core import manifest as manifests  # noqa: E402
from zoo import build as zoo_build  # noqa: E402
from zoo import tasks  # noqa: E402
from zoo.measure import Runner  # noqa: E402

pytestmark = [pytest.mark.tf, pytest.mark.slow]

TASKS = ("speech", "grammar", "recommendation")


@pytest.fixture(scope="module", params=TASKS)
def built(request, tmp_path_factory) -> zoo_build.BuildResult:  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp(request.param)
    return zoo_build.build(request.param, profile="quick", out=out, cache_dir=out / ".cache", log=lambda _: None)


def _read(built: zoo_build.BuildResult, name: str) -> dict:
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


def test_every_variant_is_measured_with_the_task_metric(built):  # type: ignore[no-untyped-def]
    doc = _read(built, "manifest.json")
    metrics = _read(built, "metrics.json")
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
    metrics = _read(built, "metrics.json")
    checks = metrics["bar"]["checks"]
    assert checks and all(set(c) == {"check", "passed", "detail"} for c in checks)
    if metrics["bar"]["enforced"]:
        assert all(c["passed"] for c in checks)
    card = (built.out_dir / "card.md").read_text()
    assert "## Quality bar" in card and metrics["baseline"]["name"] in card
    assert "## Learners and privacy" in card


def test_golden_samples_reproduce_on_litert(built):  # type: ignore[no-untyped-def]
    golden = _read(built, "golden/samples.json")
    for variant in _read(built, "manifest.json")["variants"]:
        runner = Runner(built.out_dir / variant["file"])
        for sample in golden["samples"]:
            x = np.asarray([sample["input"]])
            x = x.astype(np.float32) if x.dtype.kind == "f" else x.astype(np.int32)
            got = runner(x)[0].ravel()
            expected = sample["expected"][variant["id"]]
            assert np.allclose(got, expected["outputs"], atol=0.02), variant["id"]


def test_speech_ships_its_front_end(built):  # type: ignore[no-untyped-def]
    if built.manifest["name"] != "speech":
        pytest.skip("speech only")
    from zoo.datasets.speech import logmel

    golden = _read(built, "golden/samples.json")
    frontend = Runner(built.out_dir / "frontend.tflite")
    with_audio = [s for s in golden["samples"] if "audio_int16" in s]
    assert with_audio
    for sample in with_audio:
        audio = np.asarray(sample["audio_int16"], np.float32)[None] / 32768.0
        ours = frontend(audio)[0]
        assert ours.shape == (49, 40, 1)
        assert np.abs(ours - np.asarray(sample["input"], np.float32)).max() < 1e-3
        assert np.abs(ours[..., 0] - logmel(audio[0])).max() < 1e-3
    breakdown = _read(built, "metrics.json")["variants"]["fp32"]["breakdown"]
    assert set(breakdown["accuracy_per_snr_band"]) >= {"5-10 dB", "10-20 dB", "20-30 dB"}
    assert all({"said", "heard", "count"} <= set(c) for c in breakdown["confusions"])
    assert built.manifest["signature"]["preprocessing"]["audio"]["features"] == "log-mel"


def test_grammar_ships_its_tokenizer(built):  # type: ignore[no-untyped-def]
    if built.manifest["name"] != "grammar":
        pytest.skip("grammar only")
    from zoo.datasets.grammar import Tokenizer

    tok = Tokenizer.from_json(_read(built, "tokenizer.json"))
    for sample in _read(built, "golden/samples.json")["samples"]:
        assert tok.encode_batch([sample["text"]])[0].tolist() == sample["input"]
    breakdown = _read(built, "metrics.json")["variants"]["fp32"]["breakdown"]
    assert set(breakdown["recall_per_error_type"]) == {"agreement", "article", "tense", "preposition", "plural"}
    assert built.manifest["signature"]["preprocessing"]["text"]["vocab_file"] == "tokenizer.json"


def test_recommendation_reports_learning_gains(built):  # type: ignore[no-untyped-def]
    if built.manifest["name"] != "recommendation":
        pytest.skip("recommendation only")
    metrics = _read(built, "metrics.json")
    for rid, v in metrics["variants"].items():
        gains = v["more"]["learning_gain"]
        assert {"recommender", "curriculum", "random", "oracle"} <= set(gains), rid
        assert gains["oracle"]["mean_gain"] >= gains["random"]["mean_gain"]
    breakdown = metrics["variants"]["fp32"]["breakdown"]
    assert 0.5 < breakdown["oracle_auc"] <= 1 and len(breakdown["auc_per_skill"]) == 8


def test_recommend_picks_the_item_nearest_the_target_in_an_open_skill() -> None:
    from zoo.tasks.recommendation import recommend

    item_skill = np.array([0, 0, 1, 1])
    probs = np.array(
        [
            [0.95, 0.9, 0.5, 0.68],  # skill 0 mastered: 0.68 in skill 1
            [0.6, 0.71, 0.2, 0.3],  # both open: 0.71
            [0.99, 0.95, 0.9, 0.92],  # all mastered: nearest the target overall
        ]
    )
    assert recommend(probs, item_skill, target=0.7, mastery=0.85).tolist() == [3, 1, 2]


def test_a_recipe_that_does_not_apply_is_refused_with_the_reason(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from registry.core.errors import EdzooError

    task = replace(tasks.get("recommendation"), not_applicable={"qat_int8": "no reason but a test"})
    monkeypatch.setattr(tasks, "get", lambda name: task)
    with pytest.raises(EdzooError, match="qat_int8 does not apply to recommendation: no reason but a test"):
        zoo_build.build("recommendation", only=["qat_int8"], out=tmp_path, log=lambda _: None)


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


def test_a_missed_bar_fails_the_build_and_writes_nothing(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from zoo.tasks import recommendation

    monkeypatch.setattr(recommendation, "AUC_FRACTION", 1.01)  # above the oracle: no model can pass
    with pytest.raises(zoo_build.QualityGateError, match=r"bar: AUC >= 1.01 x oracle AUC: fp32 0\.\d+"):
        zoo_build.build("recommendation", out=tmp_path, only=["int8"], cache_dir=tmp_path / "c", log=lambda _: None)
    assert not list(tmp_path.glob("edzoo/*"))
