"""Build the example model version edzoo/hello 1.0.0 into a build folder.

    python scripts/make_hello_example.py [--out manifests/examples/hello]

Requires the [zoo] dependencies (TensorFlow, ai-edge-litert, scikit-learn); nothing is
downloaded. The result is a real, small build folder of the kind ``edzoo zoo build`` writes:

- ``variants/fp32.tflite`` and ``variants/int8.tflite`` (full-integer, int8 I/O): a dense
  classifier of scikit-learn's 8x8 handwritten digits (``load_digits``);
- ``manifest.json``: every number in it is measured by this script — accuracy through the
  LiteRT interpreter on a held-out split, latency p50/p90 over single-sample runs in a fresh
  process, the operators the interpreter reports, sizes, digests, tool versions, seeds;
- ``card.md`` (the model card rendered from the manifest) and ``golden/sample.json``
  (three held-out inputs with the class each variant predicts).

The folder is written next to ``--out`` and swapped in only after
``registry.core.manifest.read_build_dir`` accepts it. With fixed seeds the model files are
byte-identical from run to run; the timings and ``built_at`` are not (set
``SOURCE_DATE_EPOCH`` to pin ``built_at``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gzip
import hashlib
import io
import json
import math
import os
import platform
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from zoo import measure  # noqa: E402  (the repository root is not installed in the zoo venv)
from zoo.card import render_card  # noqa: E402

DEFAULT_OUT = REPO / "manifests" / "examples" / "hello"

NAMESPACE, NAME, VERSION = "edzoo", "hello", "1.0.0"
SEED = 20240601
HELDOUT_FRACTION = 0.2
HIDDEN_UNITS = 32
EPOCHS = 30
BATCH_SIZE = 32
LEARNING_RATE = 1e-2
CALIBRATION_SAMPLES = 200
THREADS = 1
WARMUP_RUNS = 100
TIMED_RUNS = 1000
GOLDEN_SAMPLES = 3
MAX_FOLDER_BYTES = 60_000
REFERENCE = "fp32"
LABELS = [str(d) for d in range(10)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python scripts/make_hello_example.py",
        description=(
            "Train, convert, measure and describe the example model edzoo/hello 1.0.0 "
            "(8x8 digits, fp32 and int8 LiteRT variants) into a validated build folder. "
            "Requires the [zoo] dependencies: tensorflow-cpu, ai-edge-litert, scikit-learn."
        ),
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="build folder to (re)write (default: manifests/examples/hello)",
    )
    args = parser.parse_args(argv)
    build(args.out.resolve(), argv if argv is not None else sys.argv[1:])
    return 0


# ---------------------------------------------------------------------------------------------
# The build


def build(out: Path, argv: list[str]) -> None:
    """Train, convert, measure and describe the model; swap the checked folder into ``out``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    sys.path.insert(0, str(REPO))
    from registry.core.manifest import read_build_dir, validate_manifest

    tf.keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    data = _digits()
    model, files = _train_and_convert(tf, data)

    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    umask = os.umask(0o022)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes it private; the result is not
    try:
        for vid, tflite in files.items():
            _write(staging / "variants" / f"{vid}.tflite", tflite)
        measured = {
            vid: _measure(staging / "variants" / f"{vid}.tflite", data["x_held"], data["y_held"]) for vid in files
        }
        golden = _golden(data, measured)
        _write(staging / "golden" / "sample.json", golden)
        manifest = _manifest(data, model, files, measured, argv)
        card = render_card(
            manifest, {"reference": REFERENCE, "test_set": {"size": len(data["y_held"])}, "distillation": None}
        ).encode()
        _write(staging / "card.md", card)
        manifest["files"] = [
            _file_entry("card.md", card, "model card, rendered from this manifest"),
            _file_entry("golden/sample.json", golden, "golden inputs and expected classes"),
        ]
        validate_manifest(manifest)
        text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
        _write(staging / "manifest.json", text.encode())

        result = read_build_dir(staging)
        total = sum(f.size for f in result.files)
        if total > MAX_FOLDER_BYTES:
            raise SystemExit(f"build folder is {total} bytes, more than {MAX_FOLDER_BYTES}")
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

    for f in result.files:
        print(f"{f.size:>8}  {f.sha256[:12]}  {f.path}")
    for v in manifest["variants"]:
        b = v["benchmarks"]
        print(
            f"{v['id']:>5}: {v['size']} B (gzip {v['gzip_size']}), accuracy "
            f"{v['metrics']['value']:.4f} ({v['metrics']['delta_vs_reference']:+.2f} pts), "
            f"p50 {b['latency_us_p50']} us, p90 {b['latency_us_p90']} us, "
            f"peak +{b['peak_memory_bytes']} B, ops {v['requirements']['builtin_ops']}"
        )
    print(f"wrote {out} ({total} bytes)")


def _digits() -> dict:
    """scikit-learn's digits, split into training and held-out parts, with their digests."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    ink = digits.data.astype(np.uint8)  # 0..16: inked cells in each 4x4 block of 32x32
    classes = digits.target.astype(np.uint8)
    train, held = train_test_split(
        np.arange(len(classes)), test_size=HELDOUT_FRACTION, random_state=SEED, stratify=classes
    )
    return {
        "x_train": ink[train].astype(np.float32) / 16.0,
        "y_train": classes[train],
        "x_held": ink[held].astype(np.float32) / 16.0,
        "y_held": classes[held],
        "digests": {
            "sklearn-digits": _split_digest(ink, classes),
            "digits-train": _split_digest(ink[train], classes[train]),
            "digits-heldout": _split_digest(ink[held], classes[held]),
        },
    }


def _train_and_convert(tf, data: dict) -> tuple[object, dict[str, bytes]]:
    import numpy as np

    model = tf.keras.Sequential(
        [
            tf.keras.Input((64,), name="pixels"),
            tf.keras.layers.Dense(HIDDEN_UNITS, activation="relu", name="hidden"),
            tf.keras.layers.Dense(len(LABELS), activation="softmax", name="probabilities"),
        ]
    )
    model.compile(
        optimizer=tf.keras.optimizers.Adam(LEARNING_RATE),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    x_train = data["x_train"]
    model.fit(x_train, data["y_train"], epochs=EPOCHS, batch_size=BATCH_SIZE, shuffle=True, verbose=0)
    calibration = np.random.default_rng(SEED).choice(len(x_train), size=CALIBRATION_SAMPLES, replace=False)

    def representative():
        for i in calibration:
            yield [x_train[i : i + 1]]

    files = {
        "fp32": _convert(tf, model),
        "int8": _convert(tf, model, representative=representative),
    }
    return model, files


def _manifest(data: dict, model, files: dict, measured: dict, argv: list[str]) -> dict:
    """The manifest without its ``files`` list (card.md is rendered from this)."""
    digests = data["digests"]
    recipes = {
        "fp32": {"quantization": "none"},
        "int8": {
            "quantization": "int8",
            "io_dtype": "int8",
            "notes": (
                "Full-integer post-training quantization; calibrated on "
                f"{CALIBRATION_SAMPLES} samples of the training split (seed {SEED})."
            ),
        },
    }
    n_held = len(data["y_held"])
    machine = measure.machine()
    variants = []
    for vid, tflite in files.items():
        m = measured[vid]
        variant = {
            "id": vid,
            "file": f"variants/{vid}.tflite",
            "sha256": hashlib.sha256(tflite).hexdigest(),
            "size": len(tflite),
            "gzip_size": len(gzip.compress(tflite, compresslevel=9, mtime=0)),
            "parameters": int(model.count_params()),
            "format": "tflite",
            "recipe": recipes[vid],
            "metrics": {
                "name": "accuracy",
                "value": round(m["accuracy"], 6),
                "delta_vs_reference": round((m["accuracy"] - measured[REFERENCE]["accuracy"]) * 100, 4),
                "reference_variant": REFERENCE,
                "higher_is_better": True,
                "ci95": [round(b, 6) for b in measure.wilson(m["correct"], n_held)],
                "dataset_sha256": digests["digits-heldout"],
                "per_class": m["per_class"],
                "measured_with": f"ai-edge-litert {measure.version_of('ai-edge-litert')}",
            },
            "benchmarks": {**m["bench"], "machine": machine},
            "requirements": {
                "min_runtime_version": m["min_runtime_version"],
                "builtin_ops": m["ops"],
                "delegates": m["delegates"],
                "min_ram_mb": math.ceil((len(tflite) + m["bench"]["peak_memory_bytes"]) / 2**20),
            },
        }
        if (m["inputs"], m["outputs"]) != (
            measured[REFERENCE]["inputs"],
            measured[REFERENCE]["outputs"],
        ):
            variant["io"] = {"inputs": m["inputs"], "outputs": m["outputs"]}
        variants.append(variant)

    tools = ("tensorflow-cpu", "keras", "ai-edge-litert", "scikit-learn", "numpy")
    return {
        "schema_version": 1,
        "namespace": NAMESPACE,
        "name": NAME,
        "version": VERSION,
        "task": "image-classification",
        "summary": "Recognizes one handwritten digit drawn on an 8x8 grid (example model).",
        "subjects": ["math"],
        "grades": ["K", "1", "2"],
        "languages": ["zxx"],
        "license": "Apache-2.0",
        "card": _card(digests, len(data["y_train"]), n_held),
        "signature": {
            "inputs": measured[REFERENCE]["inputs"],
            "outputs": measured[REFERENCE]["outputs"],
            "preprocessing": {
                "image": {
                    "height": 8,
                    "width": 8,
                    "channels": 1,
                    "layout": "flat",
                    "resize": "area",
                    "pixel_range": [0, 16],
                    "range": [0, 1],
                },
                "notes": (
                    "Each pixel is the count of inked cells in a 4x4 block of a 32x32 "
                    "bitmap (0..16), ink bright; divide by 16, flatten row by row."
                ),
            },
            "labels": LABELS,
        },
        "variants": variants,
        "provenance": {
            "source_commit": _source_commit(),
            "build_script_sha256": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
            "build_command": _build_command(argv),
            "built_at": _built_at(),
            "dataset_digests": digests,
            "tool_versions": {
                "python": platform.python_version(),
                **{tool: measure.version_of(tool) for tool in tools},
            },
            "random_seeds": {"split": SEED, "tensorflow": SEED, "calibration": SEED},
        },
    }


def _golden(data: dict, measured: dict) -> bytes:
    golden = {
        "description": (
            f"The first {GOLDEN_SAMPLES} held-out images, as the input tensor takes them "
            "(float32, ink/16), with the class each variant predicted at build time."
        ),
        "input": measured[REFERENCE]["inputs"][0]["name"],
        "samples": [
            {
                "heldout_index": i,
                "input": data["x_held"][i].tolist(),
                "true_class": int(data["y_held"][i]),
                "expected_class": {vid: m["predictions"][i] for vid, m in measured.items()},
            }
            for i in range(GOLDEN_SAMPLES)
        ],
    }
    return (json.dumps(golden, indent=1) + "\n").encode()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _convert(tf, model, representative=None) -> bytes:
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if representative is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    # The Keras exporter prints the traced signature to stdout; keep the report readable.
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


# ---------------------------------------------------------------------------------------------
# Measurements through the LiteRT interpreter


def _measure(path: Path, x, y) -> dict:
    """Accuracy, tensors, operators and delegates of one .tflite file, plus its benchmark."""
    from zoo import measure

    ev = measure.evaluate(path, x, y, LABELS)
    return {
        "accuracy": ev.accuracy,
        "correct": ev.correct,
        "per_class": ev.per_class,
        "predictions": [int(p) for p in ev.predictions[:GOLDEN_SAMPLES]],
        "ops": ev.ops,
        "delegates": ev.delegates,
        "min_runtime_version": ev.min_runtime_version,
        "inputs": ev.inputs,
        "outputs": ev.outputs_spec,
        "bench": measure.benchmark(path, x[0], measure.BenchConfig(THREADS, WARMUP_RUNS, TIMED_RUNS)),
    }


# ---------------------------------------------------------------------------------------------
# Descriptions


def _card(digests: dict, n_train: int, n_held: int) -> dict:
    sklearn = measure.version_of("scikit-learn")
    digest_rule = (
        "sha256 of the split's 64 pixel values per image as uint8 (0..16, row-major, images "
        "in split order) followed by its class labels as uint8"
    )
    return {
        "intended_use": (
            "A tiny, real example for edzoo's tools and tests: recognizing a single "
            "handwritten digit drawn on an 8x8 grid, as in a counting exercise for young "
            "learners. It shows what a manifest, a model card and two optimized variants look "
            "like; it is not meant to be shipped to students."
        ),
        "limitations": [
            "Input must be an 8x8 grid of ink counts (0..16) made like the UCI optdigits data; "
            "photos or finger drawings need resampling the model was never tested on.",
            "All 1,797 images come from the 13 writers of the UCI test set, and the held-out "
            "split shares its writers with the training split: accuracy on new writers, and "
            "on children's handwriting, is unknown and likely lower.",
            f"The held-out split has {n_held} images: one image is "
            f"{100 / n_held:.2f} accuracy points, so small differences between variants are "
            "noise.",
            "It always answers one of 0-9, also for blank grids and for letters.",
        ],
        "training_data": {
            "description": (
                f"{n_train} images of scikit-learn's load_digits (1,797 8x8 digits), a "
                f"stratified {1 - HELDOUT_FRACTION:.0%} split with seed {SEED}."
            ),
            "provenance": (
                f"scikit-learn {sklearn} sklearn.datasets.load_digits(), which ships the test "
                "set of the UCI 'Optical Recognition of Handwritten Digits' data in the wheel "
                f"(no download); split with train_test_split(random_state={SEED}, "
                f"stratify=target). Digest: {digest_rule}."
            ),
            "sha256": digests["digits-train"],
            "license": "CC-BY-4.0",
        },
        "evaluation_data": {
            "description": (
                f"The other {n_held} images of the same split ({HELDOUT_FRACTION:.0%}, "
                "stratified by class), never seen in training or calibration."
            ),
            "provenance": f"As the training data. Digest: {digest_rule}.",
            "sha256": digests["digits-heldout"],
            "size": n_held,
            "license": "CC-BY-4.0",
        },
        "ethical_considerations": (
            "Not for grading or assessing students: its errors would be read as the student's. "
            "No student data was used: the images were written on NIST forms by 13 people "
            "in the 1990s."
        ),
    }


def _file_entry(path: str, data: bytes, description: str) -> dict:
    return {
        "path": path,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "description": description,
    }


# ---------------------------------------------------------------------------------------------
# The environment


def _split_digest(ink, classes) -> str:
    import numpy as np

    data = np.ascontiguousarray(ink, dtype=np.uint8).tobytes()
    return hashlib.sha256(data + np.ascontiguousarray(classes, dtype=np.uint8).tobytes()).hexdigest()


def _source_commit() -> str | None:
    """The checked-out commit, read from .git without running git; None before a first commit."""
    git = REPO / ".git"
    if git.is_file():  # a worktree: "gitdir: <path>"
        git = (REPO / git.read_text().split(":", 1)[1].strip()).resolve()
    try:
        head = (git / "HEAD").read_text().strip()
    except OSError:
        return None
    if not head.startswith("ref: "):
        return head or None
    ref = head[5:]
    with contextlib.suppress(OSError):
        return (git / ref).read_text().strip()
    with contextlib.suppress(OSError):
        for line in (git / "packed-refs").read_text().splitlines():
            sha, _, name = line.partition(" ")
            if name == ref:
                return sha
    return None


def _build_command(argv: list[str]) -> str:
    script = Path(__file__).resolve()
    try:
        script_arg = str(script.relative_to(REPO))
    except ValueError:
        script_arg = str(script)
    return shlex.join(["python", script_arg, *argv])


def _built_at() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = dt.datetime.fromtimestamp(int(epoch), dt.UTC) if epoch else dt.datetime.now(dt.UTC)
    return when.replace(microsecond=0).isoformat().replace("+00:00", "Z")


if __name__ == "__main__":
    sys.exit(main())
