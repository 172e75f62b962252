"""`edzoo optimize` and `edzoo measure` on models that are none of the zoo's four: an image
classifier trained here on generated shapes (read from an image folder), a knowledge-tracing
sequence model (read from a DKT 3-line file), a task kind and a recipe registered through the
entry points of a package installed in a temporary folder; then publish → pull --device
through a real server, and the bad inputs a team will meet, each a clear error with nothing
written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("tensorflow_model_optimization")

from click.testing import CliRunner  # noqa: E402

from registry.cli.main import cli  # noqa: E402
from registry.core import manifest as manifests  # noqa: E402
from zoo import _tf, kinds  # noqa: E402
from zoo.data import DataOptions, load_data  # noqa: E402
from zoo.datasets import shapes  # noqa: E402

pytestmark = [pytest.mark.tf, pytest.mark.slow(minutes=5)]

REPO = Path(__file__).resolve().parents[1]
WRITER = r"^[^/]+/(w\d)_"  # shapes.write_folder names files <label>/w<writer>_<n>.png


def _cnn(keras, classes: int = 3, name: str = "shapes_cnn"):  # type: ignore[no-untyped-def]
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((16, 16, 1)),
            layers.Conv2D(16, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, activation="relu"),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(classes),
            layers.Softmax(),
        ],
        name=name,
    )


@pytest.fixture(scope="module")
def shapes_job(tmp_path_factory):  # type: ignore[no-untyped-def]
    """An image folder of four writers, a second folder from another 'source', and a CNN
    trained here on the training split edzoo will make of the first."""
    root = tmp_path_factory.mktemp("shapes")
    images, other = root / "images", root / "other"
    shapes.write_folder(images, 500, seed=1)
    shapes.write_folder(other, 40, seed=9)
    data = load_data(images, DataOptions(group=WRITER))
    keras = _tf.load().keras
    _tf.seed_everything(0)
    model = _cnn(keras)
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    with _tf.quiet_native_stderr():
        model.fit(data.train.x, data.train.y, epochs=30, batch_size=32, verbose=0)
    path = root / "shapes.keras"
    model.save(path)
    card = root / "card.yaml"
    card.write_text(
        "summary: Names a drawn circle, square or triangle, for a geometry game.\n"
        "subjects: [math]\ngrades: [K, '1']\nlanguages: [zxx]\nlicense: Apache-2.0\n"
        "intended_use: Feedback in a shape-drawing game for young learners.\n"
        "limitations: [Trained on generated shapes only.]\n"
        "education: {age_band: 5-7, privacy_class: student-input-on-device}\n"
    )
    return root, path, images, other, card, data


@pytest.fixture(scope="module")
def optimized(shapes_job):  # type: ignore[no-untyped-def]
    root, model, images, other, card, _ = shapes_job
    out = root / "build"
    result = CliRunner().invoke(
        cli,
        [
            "optimize", str(model), "--data", str(images), "--task", "image-classification", "--out", str(out),
            "--group", WRITER, "--shift-data", str(other), "--card", str(card), "--namespace", "acme",
            "--name", "shapes", "--version", "1.0.0",
            # a team may set its own allowance for a recipe
            "--max-drop", "pcqat_int8=2.5",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out / "acme" / "shapes" / "1.0.0", result.output


def test_optimize_writes_what_publish_accepts(optimized):  # type: ignore[no-untyped-def]
    out_dir, output = optimized
    build = manifests.read_build_dir(out_dir)
    doc = build.manifest
    ids = [v["id"] for v in doc["variants"]]
    assert ids[:2] == ["int8", "fp32"] and {"qat_int8", "pcqat_int8", "distilled_int8"} <= set(ids)
    assert doc["task"] == "image-classification" and doc["signature"]["labels"] == ["circle", "square", "triangle"]
    assert doc["signature"]["preprocessing"]["image"]["height"] == 16
    assert doc["card"]["education"]["age_band"] == "5-7"
    digests = doc["provenance"]["dataset_digests"]
    assert set(digests) == {"shapes-train", "shapes-val", "shapes-test", "shapes-shift"}
    for v in doc["variants"]:  # measured on both sets, through LiteRT
        assert 0.5 < v["metrics"]["value"] <= 1 and v["metrics"]["shift"]["dataset_sha256"] == digests["shapes-shift"]
        assert v["benchmarks"]["invokes_per_timing"] >= 1 and v["benchmarks"]["empty_invoke_us_p50"] > 0
    distilled = next(v for v in doc["variants"] if v["id"] == "distilled_int8")
    fp32 = next(v for v in doc["variants"] if v["id"] == "fp32")
    assert distilled["parameters"] * 3 <= fp32["parameters"]  # the narrower copy edzoo derived
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["shift_set"]["size"] == 120 and "shift_drop_points" in metrics["gates"]["int8"]
    assert metrics["gates"]["pcqat_int8"]["allowed_drop_points"] == 2.5
    assert metrics["dataset"]["splits"]["made"]["group"] == WRITER
    assert "Feedback in a shape-drawing game" in (out_dir / "card.md").read_text()
    assert "shifted" in output and "empty invoke() costs" in output


def test_optimize_publish_pull_for_a_device(optimized, env, tmp_path):  # type: ignore[no-untyped-def]
    from registry.client import publish, pull
    from registry.client.device import load_device

    out_dir, _ = optimized
    assert publish(out_dir, registry=env.url, key_path=env.key, token=env.token).status == "published"
    pulled = pull(
        "acme/shapes@1.0.0",
        registry=env.url,
        root=env.root,
        cache_dir=tmp_path / "cache",
        device=load_device("android-go-1gb"),
    )
    assert pulled.path.read_bytes() == (out_dir / "variants" / f"{pulled.variant}.tflite").read_bytes()


def test_measure_a_tflite_made_elsewhere(optimized, shapes_job):  # type: ignore[no-untyped-def]
    out_dir, _ = optimized
    _, _, images, other, _, _ = shapes_job
    tflite = out_dir / "variants" / "int8.tflite"
    result = CliRunner().invoke(
        cli,
        ["measure", str(tflite), "--data", str(images), "--group", WRITER, "--task", "image-classification",
         "--shift-data", str(other), "--runs", "20", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    doc = json.loads((out_dir / "manifest.json").read_text())
    int8 = next(v for v in doc["variants"] if v["id"] == "int8")
    assert got["metric"]["value"] == pytest.approx(
        int8["metrics"]["value"], abs=1e-6
    )  # the same split, the same kernels
    assert got["shift"]["value"] == pytest.approx(int8["metrics"]["shift"]["value"], abs=1e-6)
    assert got["dataset_sha256"] == int8["metrics"]["dataset_sha256"]


# -- a sequence model ---------------------------------------------------------------------------


def _dkt_file(path: Path, students: int, skills: int, seed: int) -> None:
    """Simulated students: the chance of a right answer grows with ability, the skill's ease and
    practice on that skill."""
    rng = np.random.default_rng(seed)
    ease = rng.normal(0, 1, skills)
    lines = []
    for _ in range(students):
        ability = rng.normal(0, 1)
        n = int(rng.integers(8, 30))
        seen = np.zeros(skills)
        qs, ans = [], []
        for _ in range(n):
            q = int(rng.integers(0, skills))
            p = 1 / (1 + np.exp(-(ability + ease[q] + 0.5 * seen[q] - 0.5)))
            a = int(rng.random() < p)
            seen[q] += 1
            qs.append(q + 100)  # original ids are not 0..S-1: the adapter maps them
            ans.append(a)
        lines += [str(n), ",".join(map(str, qs)), ",".join(map(str, ans))]
    path.write_text("\n".join(lines) + "\n")


def test_knowledge_tracing_sequence_model(tmp_path):  # type: ignore[no-untyped-def]
    """A causal convolution with a residual Add over past answers: edzoo cannot narrow it, so the
    distillation recipes are not applied, and the table and the manifest say why."""
    t = _tf.load()
    keras, tf = t.keras, t.tf
    students = tmp_path / "students.txt"
    _dkt_file(students, 600, 5, seed=3)
    options = DataOptions(max_len=24)
    data = load_data(students, options)
    skills = data.info["n_skills"]
    kind = kinds.get("knowledge-tracing")
    _tf.seed_everything(0)
    inputs = keras.Input((24,), dtype="int32")
    x = keras.layers.Embedding(1 + 2 * skills, 32)(inputs)
    h = keras.layers.Conv1D(32, 5, padding="causal", activation="relu")(x)
    x = keras.layers.Add()([x, h])
    logits = keras.layers.Dense(skills, name="logits")(x)
    model = keras.Model(inputs, keras.layers.Activation("sigmoid")(logits), name="dkt_cnn")
    model.compile(keras.optimizers.Adam(3e-3), lambda y, p: kind.loss(tf, y, p, False))
    with _tf.quiet_native_stderr():
        model.fit(data.train.x, kind.targets(data.train), epochs=15, batch_size=32, verbose=0)
    path = tmp_path / "dkt.keras"
    saved = keras.models.clone_model(model)  # uncompiled: a training loss is not part of the file
    saved.set_weights(model.get_weights())
    saved.save(path)
    out = tmp_path / "build"
    result = CliRunner().invoke(
        cli,
        ["optimize", str(path), "--data", str(students), "--task", "knowledge-tracing", "--out", str(out),
         "--name", "practice"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "distilled_int8  not applied: edzoo narrows plain CNN and dense models only (this one has Add)" in (
        result.output
    )
    build = manifests.read_build_dir(out / "local" / "practice" / "0.1.0")
    doc = build.manifest
    assert doc["task"] == "knowledge-tracing"
    assert set(doc["provenance"]["recipes_not_applied"]) == {"distilled_int8", "student_int8"}
    ids = {v["id"] for v in doc["variants"]}
    assert {"int8", "fp32", "qat_int8", "prune_int8"} <= ids and "distilled_int8" not in ids
    fp32 = next(v for v in doc["variants"] if v["id"] == "fp32")
    assert fp32["metrics"]["name"] == "kt_auc" and fp32["metrics"]["value"] > 0.6
    assert fp32["requirements"]["builtin_ops"]
    assert "distilled_int8" in (out / "local" / "practice" / "0.1.0" / "card.md").read_text()


# -- a task kind and a recipe from another package ----------------------------------------------

PLUGIN = """
from zoo import kinds, recipes

KIND = kinds.Kind(
    "reading-level",
    "the reading level of a passage, from its features",
    "text-classification",
    "accuracy",
    layouts=("csv",),
)


def _int8_wide(ctx):
    made = recipes.RECIPES["int8"].make(ctx)
    return recipes.Made(made.model, "int8", {"io_dtype": "int8", "notes": "the int8 recipe, from a plugin"})


RECIPE = recipes.Recipe("int8_plugin", "int8 from a plugin", "int8", 1.0, _int8_wide, order=15)
"""


def _plugin(root: Path) -> dict[str, str]:
    pkg = root / "edzoo_testplugin"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(PLUGIN)
    info = root / "edzoo_testplugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: edzoo-testplugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[edzoo.tasks]\nreading-level = edzoo_testplugin:KIND\n\n"
        "[edzoo.recipes]\nint8_plugin = edzoo_testplugin:RECIPE\n"
    )
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(REPO)])}


def test_a_kind_and_a_recipe_from_an_entry_point(tmp_path):  # type: ignore[no-untyped-def]
    env = _plugin(tmp_path / "site")
    edzoo = [sys.executable, "-m", "registry.cli"]
    listed = subprocess.run([*edzoo, "zoo", "list"], env=env, capture_output=True, text=True, check=False)
    assert listed.returncode == 0, listed.stderr
    assert "reading-level" in listed.stdout and "int8_plugin" in listed.stdout

    rng = np.random.default_rng(0)
    rows = ["label,words,syllables,sentence"]
    for i in range(300):
        level = i % 3
        rows.append(
            f"L{level},{rng.normal(8 + 8 * level, 1.5):.3f},{rng.normal(1.2 + 0.4 * level, 0.1):.3f},"
            f"{rng.normal(0, 1):.3f}"
        )
    csv = tmp_path / "passages.csv"
    csv.write_text("\n".join(rows) + "\n")
    keras = _tf.load().keras
    data = load_data(csv)
    _tf.seed_everything(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3),
                              keras.layers.Softmax()], name="levels")  # fmt: skip
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    with _tf.quiet_native_stderr():
        model.fit(data.train.x, data.train.y, epochs=30, verbose=0)
    model.save(tmp_path / "levels.keras")
    out = tmp_path / "build"
    done = subprocess.run(
        [*edzoo, "optimize", str(tmp_path / "levels.keras"), "--data", str(csv), "--task", "reading-level",
         "--recipes", "int8_plugin", "--out", str(out)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads((out / "local" / "levels" / "0.1.0" / "manifest.json").read_text())
    assert [v["id"] for v in doc["variants"]] == ["int8_plugin", "fp32"]
    assert doc["task"] == "text-classification"


# -- bad input: one line, an exit code, nothing written -----------------------------------------


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("small")
    keras = _tf.load().keras
    _tf.seed_everything(0)
    model = _cnn(keras, name="small")
    model.compile("adam", "sparse_categorical_crossentropy")
    path = root / "small.keras"
    model.save(path)

    class Scale(keras.layers.Layer):
        """A custom layer with weights that tfmot's QAT scheme does not know."""

        def build(self, shape):  # type: ignore[no-untyped-def]
            self.kernel = self.add_weight("kernel", (int(shape[-1]), 3))

        def call(self, x):  # type: ignore[no-untyped-def]
            return keras.backend.dot(x, self.kernel)

    keras.utils.get_custom_objects()["Scale"] = Scale
    custom = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Flatten(), Scale(), keras.layers.Softmax()])
    custom_path = root / "custom.keras"
    custom.save(custom_path)
    x, y = shapes.images(60, size=16, seed=4, classes=3)
    good = _npz(root / "good.npz", x_train=x[:40], y_train=y[:40], x_test=x[40:], y_test=y[40:])
    return root, path, custom_path, x, y, good


def _bad_cases(root: Path, model: Path, custom: Path, x: np.ndarray, y: np.ndarray, good: Path) -> list:  # type: ignore[type-arg]
    (root / "garbage.keras").write_bytes(b"this is not a model")
    small = np.zeros((60, 8, 8, 1), np.float32)
    return [
        ("not a model", root / "garbage.keras", good, [], 15, "Keras could not load it"),
        ("no such model", root / "missing.keras", good, [], 15, "no such file"),
        (
            "shape mismatch",
            model,
            _npz(root / "small.npz", x_train=small[:40], y_train=y[:40], x_test=small[40:], y_test=y[40:]),
            [],
            14,
            "the model's input is [16, 16, 1]",
        ),
        (
            "labels outside the classes",
            model,
            _npz(root / "labels.npz", x_train=x[:40], y_train=y[:40] + 3, x_test=x[40:], y_test=y[40:]),
            [],
            14,
            "outside its classes",
        ),
        (
            "no training data for a recipe that trains",
            model,
            _npz(root / "notrain.npz", x_val=x[:40], y_val=y[:40], x_test=x[40:], y_test=y[40:]),
            ["--recipes", "qat_int8"],
            16,
            "no training split",
        ),
        ("a layer QAT cannot quantize", custom, good, ["--recipes", "qat_int8"], 16, "supports none of the layers"),
        ("an unknown recipe", model, good, ["--recipes", "int9"], 2, "unknown recipes: int9"),
    ]


def test_bad_input_is_one_line_and_writes_nothing(small_model, tmp_path):  # type: ignore[no-untyped-def]
    root, model, custom, x, y, good = small_model
    for name, model_path, data, extra, code, text in _bad_cases(root, model, custom, x, y, good):
        out = tmp_path / name.replace(" ", "-")
        result = CliRunner().invoke(
            cli,
            ["optimize", str(model_path), "--data", str(data), "--task", "image-classification", "--out", str(out),
             *extra],
        )  # fmt: skip
        assert result.exit_code == code, (name, result.output)
        errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and text in errors[0], (name, result.output)
        assert not out.exists() or not any(p.is_file() for p in out.rglob("*")), name  # nothing written


def test_measure_refuses_what_is_not_a_tflite(small_model, tmp_path):  # type: ignore[no-untyped-def]
    root, model, _, _, _, good = small_model
    fake = tmp_path / "fake.tflite"
    fake.write_bytes(b"TFL3 but not really")
    result = CliRunner().invoke(cli, ["measure", str(fake), "--data", str(good)])
    assert result.exit_code == 15 and "LiteRT cannot load it" in result.output
    result = CliRunner().invoke(cli, ["measure", str(model), "--data", str(good)])
    assert result.exit_code == 2 and "takes a .tflite" in result.output


def test_the_paired_gate_tells_noise_from_a_loss() -> None:
    from zoo.pipeline import paired_drop_low

    y = np.zeros(300, np.int64)
    reference = y.copy()
    noise = y.copy()
    noise[:2] = 1  # 2 of 300 samples (0.67 points): within what 300 samples can tell apart from none
    loss = y.copy()
    loss[:30] = 1  # 10 points
    assert paired_drop_low(reference, noise, y) < 0 < paired_drop_low(reference, loss, y) < 10
    tokens = np.full((4, 5), -1)  # padding is never counted
    assert paired_drop_low(tokens, tokens, tokens) is None
    assert paired_drop_low(reference, loss[:10], y) is None


def test_a_tflite_that_differs_from_keras_is_a_conversion_error() -> None:
    """The fp32 check before any variant is made: a mismatch is exit 12 with its own code, not
    a bare error (exit 1)."""
    from types import SimpleNamespace

    from zoo import pipeline

    model = SimpleNamespace(predict=lambda x, verbose=0: np.ones((4, 2), np.float32))
    data = SimpleNamespace(test=SimpleNamespace(x=np.zeros((4, 3), np.float32)))
    reference = SimpleNamespace(evaluation=SimpleNamespace(outputs=np.zeros((4, 2), np.float32)))
    with pytest.raises(pipeline.QualityGateError) as e:
        pipeline._keras_gap(model, data, reference)  # type: ignore[arg-type]
    assert isinstance(e.value, pipeline.ConversionError)
    assert (e.value.code, e.value.exit_code) == ("conversion_mismatch", 12) and "differs from Keras" in e.value.message
