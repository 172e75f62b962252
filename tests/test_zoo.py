"""The zoo pipeline on the quick profile: real training, real conversions, the LiteRT
interpreter, and a publish → pull through a real server."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("tensorflow_model_optimization")

from registry.core import manifest as manifests  # noqa: E402
from registry.core.model import Manifest  # noqa: E402
from zoo import build as zoo_build  # noqa: E402
from zoo import recipes  # noqa: E402

pytestmark = [pytest.mark.tf, pytest.mark.slow(minutes=12)]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> zoo_build.BuildResult:  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("zoo")
    return zoo_build.build("handwriting", profile="quick", out=out, cache_dir=out / ".cache", log=lambda _: None)


def _doc(built) -> dict:  # type: ignore[no-untyped-def]
    return json.loads((built.out_dir / "manifest.json").read_text())


def test_build_directory_is_the_registry_contract(built):  # type: ignore[no-untyped-def]
    build_dir = manifests.read_build_dir(built.out_dir)
    assert (build_dir.namespace, build_dir.name, build_dir.version) == ("edzoo", "handwriting", "2.0.0-quick")
    ids = [v["id"] for v in build_dir.manifest["variants"]]
    assert ids == list(zoo_build.ORDER)
    for name in ("card.md", "metrics.json", "golden/samples.json"):
        assert (built.out_dir / name).is_file()
    assert len(build_dir.manifest["signature"]["labels"]) == 39
    # the typed model reads a real build's manifest and writes it back byte for byte
    raw = (built.out_dir / "manifest.json").read_text()
    assert json.dumps(Manifest.from_dict(json.loads(raw)).to_dict(), indent=2) == json.dumps(json.loads(raw), indent=2)


def test_every_variant_is_measured_not_typed(built):  # type: ignore[no-untyped-def]
    doc = _doc(built)
    test_sha = doc["provenance"]["dataset_digests"]["handwriting-test"]
    for v in doc["variants"]:
        m, b, req = v["metrics"], v["benchmarks"], v["requirements"]
        data = (built.out_dir / v["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == v["sha256"] and len(data) == v["size"]
        assert 0 < m["value"] <= 1 and m["ci95"][0] <= m["value"] <= m["ci95"][1]
        assert m["dataset_sha256"] == test_sha and len(m["per_class"]) == 39
        assert b["runs"] >= 200 and 0 < b["latency_us_p50"] <= b["latency_us_p90"]
        assert req["builtin_ops"] and req["min_runtime_version"]
    int8 = next(v for v in doc["variants"] if v["id"] == "int8")
    assert int8["io"]["inputs"][0]["dtype"] == "int8" and "quantization" in int8["io"]["inputs"][0]


def test_fp32_litert_matches_keras(built):  # type: ignore[no-untyped-def]
    metrics = json.loads((built.out_dir / "metrics.json").read_text())
    assert metrics["keras_vs_litert_fp32_max_abs_diff"] <= zoo_build.KERAS_TOLERANCE


def test_golden_samples_reproduce_on_litert(built):  # type: ignore[no-untyped-def]
    from ai_edge_litert.interpreter import Interpreter

    from zoo.measure import dequantize, quantize

    golden = json.loads((built.out_dir / "golden" / "samples.json").read_text())
    for variant in _doc(built)["variants"]:
        interp = Interpreter(model_path=str(built.out_dir / variant["file"]))
        interp.allocate_tensors()
        inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
        for sample in golden["samples"]:
            interp.set_tensor(inp["index"], quantize(np.asarray([sample["input"]], np.float32), inp))
            interp.invoke()
            got = dequantize(interp.get_tensor(out["index"])[0], out)
            expected = sample["expected"][variant["id"]]
            assert golden["labels"][int(got.argmax())] == expected["top"], variant["id"]
            assert np.allclose(got, expected["outputs"], atol=0.02)


def _float_ops(model: bytes) -> set[str]:
    """The operators of a ``.tflite`` that read a float32 tensor."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=model)
    interp.allocate_tensors()
    dtype = {t["index"]: t["dtype"] for t in interp.get_tensor_details()}
    return {
        op["op_name"]
        for op in interp._get_ops_details()
        if op["op_name"] != "DELEGATE" and any(i >= 0 and dtype.get(int(i)) == np.float32 for i in op["inputs"])
    }


def test_int8_variants_output_probabilities_an_app_can_rank(built):  # type: ignore[no-untyped-def]
    """Full-integer variants keep only the final softmax in float: an int8 softmax steps by
    1/256 and reads 0 under 1/512, so the classes below the winner tie."""
    from zoo.measure import Runner

    doc, golden = _doc(built), json.loads((built.out_dir / "golden" / "samples.json").read_text())
    inputs = np.asarray([sample["input"] for sample in golden["samples"]], np.float32)
    assert _float_ops((built.out_dir / "variants" / "fp32.tflite").read_bytes()) >= {"CONV_2D", "SOFTMAX"}
    int8 = [v for v in doc["variants"] if v["recipe"]["quantization"] == "int8"]
    assert {"int8", "qat_int8", "pcqat_int8", "distilled_int8"} <= {v["id"] for v in int8}
    for variant in int8:
        data = (built.out_dir / variant["file"]).read_bytes()
        assert _float_ops(data) <= recipes.FLOAT_OUTPUT_OPS, variant["id"]
        assert variant["io"]["inputs"][0]["dtype"] == "int8" and variant["io"]["outputs"][0]["dtype"] == "float32"
        assert (Runner(built.out_dir / variant["file"])(inputs) > 0).all(), variant["id"]


def test_optimizations_do_what_they_claim(built):  # type: ignore[no-untyped-def]
    v = {x["id"]: x for x in _doc(built)["variants"]}
    assert v["int8"]["size"] <= 0.30 * v["fp32"]["size"]
    assert v["prune_int8"]["recipe"]["pruning"]["sparsity"] >= 0.5
    assert v["prune_int8"]["gzip_size"] < v["int8"]["gzip_size"]  # pruning pays off compressed
    assert v["cluster_int8"]["gzip_size"] < v["int8"]["gzip_size"]
    assert v["distilled_int8"]["parameters"] * 3 <= v["fp32"]["parameters"]
    metrics = json.loads((built.out_dir / "metrics.json").read_text())
    assert metrics["distillation"]["winner"] in {"distillation", "no distillation", "tie"}


def test_same_seed_gives_identical_files_whatever_else_is_built(built, tmp_path):  # type: ignore[no-untyped-def]
    only = ["int8", "prune_int8", "distilled_int8"]
    cache = built.out_dir.parents[2] / ".cache"
    again = zoo_build.build("handwriting", out=tmp_path, only=only, cache_dir=cache, log=lambda _: None)
    for rid in ["fp32", *only]:
        fa = (built.out_dir / "variants" / f"{rid}.tflite").read_bytes()
        fb = (again.out_dir / "variants" / f"{rid}.tflite").read_bytes()
        assert fa == fb, f"{rid} is not reproducible"


def test_quality_gate_fires_on_a_bad_recipe(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    bad = recipes.Recipe(
        "two_clusters_int8",
        "2 clusters per layer → int8 (deliberately bad)",
        "int8",
        0.5,
        lambda ctx: recipes.clustering._cluster_int8(ctx, clusters=2),
    )
    monkeypatch.setitem(recipes.RECIPES, bad.id, bad)
    with pytest.raises(
        zoo_build.QualityGateError,
        match=r"two_clusters_int8: (on UCI pendigits\.tes.*?, )?accuracy dropped [0-9.]+ points[^(]*\(allowed 0\.50",
    ):
        zoo_build.build("handwriting", out=tmp_path, only=[bad.id], cache_dir=tmp_path / "c", log=lambda _: None)
    assert not list(tmp_path.glob("edzoo/*"))  # nothing written


def test_build_publish_pull(built, env, tmp_path):  # type: ignore[no-untyped-def]
    from registry.client import publish, pull
    from registry.server import admin

    token = admin.add_publisher(env.data, env.keys_dir, "edzoo", env.pub)
    result = publish(built.out_dir, registry=env.url, key_path=env.key, token=token)
    assert result.status == "published"
    pulled = pull(
        "edzoo/handwriting@2.0.0-quick",
        registry=env.url,
        root=env.root,
        cache_dir=tmp_path / "cache",
        variant="pcqat_int8",
    )
    assert pulled.path.read_bytes() == (built.out_dir / "variants" / "pcqat_int8.tflite").read_bytes()

    # `edzoo predict NS/MODEL@VERSION` runs the pulled, verified copy on photos of the golden
    # digits (dark ink on light paper, three times larger): the manifest's `mnist` normalizer
    # brings them back to the model's input, and the answers are the golden ones.
    from click.testing import CliRunner
    from PIL import Image

    from registry.cli.main import cli

    golden = json.loads((built.out_dir / "golden" / "samples.json").read_text())
    photos = []
    for n, sample in enumerate(golden["samples"]):
        ink = np.asarray(sample["input"], np.float32)[..., 0]
        page = np.full((120, 110), 240.0)
        page[15:99, 10:94] -= np.kron(ink, np.ones((3, 3))) * 200
        photos.append(tmp_path / f"photo-{n}.png")
        Image.fromarray(page.clip(0, 255).astype(np.uint8)).save(photos[-1])
    ran = CliRunner().invoke(
        cli,
        ["predict", "edzoo/handwriting@2.0.0-quick", *map(str, photos), "--variant", "pcqat_int8", "--json"]
        + ["--cache", str(tmp_path / "cache")],
    )
    assert ran.exit_code == 0, ran.output
    tops = [json.loads(line)["top"][0]["label"] for line in ran.output.splitlines()]
    expected = [s["expected"]["pcqat_int8"]["top"] for s in golden["samples"]]
    assert sum(a == b for a, b in zip(tops, expected, strict=True)) >= len(expected) - 1, (tops, expected)
