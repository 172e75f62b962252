"""Handwriting: digits, capital letters and + - = drawn by hand, for early numeracy and literacy.

Input: one character as a 28×28 grayscale image laid out as MNIST lays out a digit (ink high,
20×20 box, centre of mass at the centre; ``registry.core.preprocess.mnist_character`` makes
one from a canvas or photo), divided by 255. Output: probabilities over 39 classes. Data:
:mod:`zoo.datasets.handwriting`: real digits from paper and tablet writers, synthetic letters.
The held-out source is the tablet digits of 14 writers never seen (``pendigits.tes``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from . import Profile, Task, register

GOAL = 0.97  # digits by writers never seen, on the test split and on the held-out source


def _score(outputs: np.ndarray, split: Any, labels: Any) -> Any:
    """Accuracy over the 39 classes, and apart: digits (all real), letters and signs (held-out
    fonts), and digits when an app accepts only a digit (argmax over the ten digit outputs;
    ``tied`` counts digits whose top digit output is shared, which such an app cannot rank)."""
    from zoo import measure

    score = measure.accuracy_score(outputs, split.y, labels)
    extra: dict[str, Any] = {}

    def part(name: str, mask: np.ndarray, predicted: np.ndarray) -> None:
        n = int(mask.sum())
        if n:
            k = int((predicted[mask] == split.y[mask]).sum())
            extra[name] = {"accuracy": round(k / n, 6), "ci95": [round(v, 6) for v in measure.wilson(k, n)], "n": n}

    digits = split.y < 10
    part("digits", digits, score.predictions)
    part("letters_and_signs", ~digits, score.predictions)
    if digits.any():
        d = outputs[digits][:, :10]
        part("digits_when_a_digit_is_expected", digits, outputs[:, :10].argmax(axis=1))
        top = d.max(axis=1, keepdims=True)
        extra["digits_when_a_digit_is_expected"]["tied"] = int(((d == top).sum(axis=1) > 1).sum())
    return dataclasses.replace(score, extra=extra)


def _shift(profile: str, seed: int, cache_dir: Path | None, data: Any) -> tuple[str, Any]:
    from zoo.datasets import handwriting

    return handwriting.heldout(profile, seed)  # the strokes are drawn once per process there


def _bar(inp: Any) -> list[tuple[str, bool, str]]:
    """Digits by writers never seen, SD-1 students (test split) and tablet writers (held out),
    as the intended use reads them: the app knows a digit was asked for and ranks the ten digit
    outputs. Over all 39 classes (0/O, 1/I, 5/S compete) the breakdown reports them too."""
    key = "digits_when_a_digit_is_expected"
    checks = []
    test = inp.scores["fp32"].extra[key]["accuracy"]
    checks.append((f"digits >= {GOAL:.0%} on MNIST SD-1 (writers never seen)", test >= GOAL, f"fp32 {test:.4f}"))
    shifted = inp.shift_scores.get("fp32")
    if shifted is not None:
        value = shifted.extra[key]["accuracy"]
        checks.append(
            (f"digits >= {GOAL:.0%} on pendigits.tes (tablet writers never seen)", value >= GOAL, f"fp32 {value:.4f}")
        )
    return checks


def _load(profile: str, seed: int, cache_dir: Path | None) -> Any:
    from zoo.datasets import handwriting

    return handwriting.load(profile, seed, cache_dir=cache_dir)


def _cnn(
    keras: Any, input_shape: tuple[int, ...], classes: int, widths: tuple[int, int, int], name: str, dropout: float
) -> Any:
    """Two conv blocks and a dense head; ``logits`` then ``probs`` (the distiller reads logits)."""
    layers = keras.layers
    conv1, conv2, dense = widths
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Conv2D(conv1, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(name="pool1")(x)
    x = layers.Conv2D(conv2, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense, activation="relu", name="dense")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    logits = layers.Dense(classes, name="logits")(x)
    probs = layers.Softmax(name="probs")(logits)
    return keras.Model(inputs, probs, name=name)


def _teacher(keras: Any, data: Any) -> Any:
    """~155k parameters for 39 classes at 28x28."""
    return _cnn(keras, data.train.x.shape[1:], len(data.labels), (16, 32, 96), "handwriting_teacher", dropout=0.3)


def _student(keras: Any, data: Any) -> Any:
    """The same network, narrower: under a third of the teacher's parameters (~41k)."""
    return _cnn(keras, data.train.x.shape[1:], len(data.labels), (12, 24, 32), "handwriting_student", dropout=0.0)


def _card(data: Any) -> dict[str, Any]:
    from zoo.datasets import sources

    info = data.info
    fonts = info["splits"]["fonts"]
    mnist, pen = sources.info("mnist-t10k"), sources.info("pendigits")
    counts = info["counts"]["test"]
    test_digits = sum(counts[str(d)] for d in range(10))
    return {
        "intended_use": (
            "Recognizing one handwritten digit, capital letter or + - = sign in early numeracy and "
            "literacy apps for young learners (grades K-2): tracing and writing exercises where the "
            "app knows which character the child meant to write and gives feedback. Input is what a "
            "drawing canvas gives after MNIST-style layout (28x28, ink high, centred by mass)."
        ),
        "limitations": [
            "No child's handwriting was in training or testing: the digits are by adults and "
            "high-school students on paper (MNIST) and by 44 adults on a tablet (pendigits). "
            "Accuracy on 5-8-year-olds, who write larger, shakier and reversed shapes, is unknown.",
            "Letters and signs are synthetic only: handwriting-style fonts with random affine and "
            "elastic distortion. They are tested on two font families never seen in training, "
            "not on anyone's real letters, so letter accuracy on real writing is unknown.",
            "Input must be one character laid out MNIST-style; registry.core.preprocess.mnist_character "
            "(what `edzoo predict` runs) makes that from a canvas export or a photo of one character "
            "on a plain background. Several characters in one image, or a cluttered photo, will fail.",
            "Some pairs are ambiguous in handwriting (O/0, I/1, S/5, Z/2, B/8): see the per-class "
            "accuracy in metrics.json; an app that expects a digit should rank only the ten digit "
            "outputs (metrics.json breakdown digits_when_a_digit_is_expected).",
            "It always answers one of the 39 classes, also for blank input or other symbols.",
        ],
        "training_data": {
            "description": (
                "Real digits: MNIST SD-3 (Census Bureau employees, adults) and UCI pendigits.tra "
                "(30 adults on a tablet, pen strokes drawn 2.2 px wide); synthetic digits, letters "
                f"and signs rendered from Debian handwriting fonts ({', '.join(fonts['train'])}; "
                f"validation: {', '.join(fonts['val'])})."
            ),
            "provenance": (
                f"MNIST test set ({mnist.repo} at {mnist.commit[:10]}) and pendigits ({pen.repo} at "
                f"{pen.commit[:10]}), vendored in zoo/datasets/sources with their sha256; fonts from "
                "Debian packages; assembled by zoo/datasets/handwriting/ with a fixed seed."
            ),
            "license": f"MNIST: {mnist.license}; pendigits: {pen.license}; fonts: their Debian packages' "
            "licences (metrics.json lists each)",
            "people": f"MNIST: {mnist.people}; pendigits: {pen.people}",
        },
        "evaluation_data": {
            "description": (
                f"Test split: {test_digits:,} MNIST SD-1 digits by high-school students (writers "
                "disjoint from SD-3's, never seen) and letters and signs from font families never "
                f"seen ({', '.join(fonts['test'])}). Held-out source: the digits of pendigits.tes, "
                "14 tablet writers never seen, drawn from their pen strokes."
            ),
            "provenance": "zoo/datasets/handwriting/ test split and heldout(); never used for training, "
            "calibration or choosing.",
            "sha256": info["sha256"]["test"],
            "size": int(len(data.test.y)),
        },
        "ethical_considerations": (
            "Feedback to children must be encouraging: a low-confidence or wrong answer should "
            "prompt a retry, never a grade. Accuracy on young children's handwriting was not measured."
        ),
    }


TASK = register(
    Task(
        kind="image-classification",
        name="handwriting",
        version="2.0.0",
        task_type="image-classification",
        summary="Recognizes a handwritten digit, capital letter or + - = sign (39 classes) for early "
        "numeracy and literacy apps.",
        subjects=("math", "literacy"),
        grades=("K", "1", "2"),
        languages=("en",),
        license="Apache-2.0",
        load_data=_load,
        teacher=_teacher,
        student=_student,
        card=_card,
        score=_score,
        shift=_shift,
        bar=_bar,
        preprocessing={
            "image": {
                "height": 28,
                "width": 28,
                "channels": 1,
                "layout": "nhwc",
                "normalize": "mnist",
                "pixel_range": [0, 255],
                "range": [0, 1],
            },
            "notes": "One character, MNIST-style: light ink on black, 28x28, scaled to fit a 20x20 box "
            "(aspect kept) and centred by its centre of mass; 0..255 divided by 255. "
            "registry.core.preprocess.mnist_character (normalize: mnist) makes it from a canvas "
            "export or photo with dark ink on a light background.",
        },
        education={
            "age_band": "5-8",
            "privacy_class": "student-input-on-device",
            "student_data": "One drawn character per call (a 28x28 image); nothing is kept by the model.",
            "runs_on": "The student's device, offline.",
        },
        profiles={
            "quick": Profile(
                "quick",
                epochs=8,
                finetune_epochs=2,
                bench_runs=200,
                bench_warmup=20,
                prune_sparsity=0.6,
                pcqat_sparsity=0.6,
                version_suffix="-quick",
                enforce_bar=False,
                # 2,160 test images and 500 held-out digits: a drop is judged by the lower end
                # of its 95% paired interval, as a team's small split is.
                paired_gate=True,
            ),
            # 4 fine-tuning epochs left pcqat_int8 1.53 points under fp32 (allowed 1.0); 1.0.0 used 6.
            "full": Profile("full", epochs=20, finetune_epochs=6, bench_runs=1000, bench_warmup=100, cosine=True),
        },
    )
)
