#!/usr/bin/env python3
"""Benchmark ``edzoo optimize`` on a MobileNetV2-class image classifier: what each recipe does
to size, accuracy and latency, against the fp32 variant measured in the same run.

    nice -n 10 .venv/bin/python scripts/bench_optimize.py            # full run (about 40 minutes on 2 cores)
    .venv/bin/python scripts/bench_optimize.py --quick               # smoke run: 240 images, one epoch (13 minutes)
    .venv/bin/python scripts/bench_optimize.py --recipes fp32,int8   # only these recipes
    .venv/bin/python scripts/bench_optimize.py --epochs 8 --out build/bench-optimize

The model is ``tf_keras.applications.MobileNetV2`` (alpha 0.35, 96x96x3 input, 6 classes,
``weights=None``: the architecture only, nothing is downloaded), trained here for a few epochs
on generated shapes (``zoo.datasets.shapes``: circle, square, triangle, cross, ring, bar, in
colour with noise; train, validation and test drawn with different seeds). It then goes through
the pipeline's Python API (``zoo.optimize.optimize``, profile ``quick``), which converts every
recipe, scores each variant on the held-out split through LiteRT and benchmarks it
(``zoo.measure.benchmark``: per-call latency from blocks of invokes per clock reading, one
thread, a fresh process; and the interpreter's empty-call overhead, timed the same way).

One table: per variant its file size and gzip size, top-1 accuracy, latency p50 (the median
over timed blocks), each beside its ratio to fp32, and the empty-invoke overhead; then the
field's usual claim for CNNs (int8 2-4x faster and 4x smaller than float32) beside what int8
measured here. Only medians are printed; progress goes to stderr.

The fine-tuning recipes (QAT, pruning, clustering, PCQAT) train the model for the profile's
fine-tuning epochs more on the same training split: against a briefly trained fp32 their
accuracy can come out higher. Post-training quantization (dynamic, float16, int8) is the clean
comparison with fp32. The recipes that distill into a narrower student are reported as not
applied: MobileNetV2 has residual additions, which edzoo does not narrow by layer.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CLASSES = 6
SIZE = 96
ALPHA = 0.35
CLAIM = "int8 vs float32 on CNNs, as commonly reported: 2-4x faster, 4x smaller"


@dataclass(frozen=True)
class Plan:
    """How much data and training a run uses."""

    train: int
    val: int
    test: int
    epochs: int
    batch_size: int = 32


FULL = Plan(train=1500, val=300, test=600, epochs=8)
QUICK = Plan(train=240, val=60, test=120, epochs=1)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def make_dataset(plan: Plan, seed: int) -> Any:
    """Generated shapes as a ``zoo.datasets.common.Dataset`` (96x96 RGB in [0, 1])."""
    from zoo.datasets import shapes
    from zoo.datasets.common import Dataset, Split, split_sha256

    parts = {}
    for offset, (name, n) in enumerate((("train", plan.train), ("val", plan.val), ("test", plan.test))):
        x, y = shapes.images(n, size=SIZE, channels=3, seed=seed * 10 + offset, classes=CLASSES)
        parts[name] = Split(x, y)
    info = {
        "source": "zoo.datasets.shapes",
        "format": "generated shapes",
        "kind": "image-classification",
        "seed": seed,
        "sizes": {name: len(split.y) for name, split in parts.items()},
        "sha256": {name: split_sha256(split) for name, split in parts.items()},
    }
    return Dataset(parts["train"], parts["val"], parts["test"], tuple(shapes.LABELS[:CLASSES]), info)


def train_model(data: Any, plan: Plan, seed: int) -> Any:
    """MobileNetV2 (alpha 0.35, random initial weights) trained briefly on ``data.train``."""
    from zoo import _tf

    t = _tf.load()
    _tf.seed_everything(seed)
    model = t.keras.applications.MobileNetV2(
        input_shape=(SIZE, SIZE, 3), alpha=ALPHA, weights=None, classes=CLASSES, classifier_activation="softmax"
    )
    # The applications' batch norm keeps moving averages with momentum 0.999, made for long
    # ImageNet runs: after a few hundred steps they are still near their initial values and the
    # model predicts one class at inference. 0.9 follows a short run.
    for layer in model.layers:
        if isinstance(layer, t.keras.layers.BatchNormalization):
            layer.momentum = 0.9
    model.compile(optimizer=t.keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    started = time.perf_counter()
    with _tf.quiet_native_stderr():
        model.fit(
            data.train.x,
            data.train.y,
            validation_data=(data.val.x, data.val.y),
            epochs=plan.epochs,
            batch_size=plan.batch_size,
            verbose=0,
        )
        _, val_accuracy = model.evaluate(data.val.x, data.val.y, verbose=0)
    log(
        f"MobileNetV2 alpha {ALPHA}, {SIZE}x{SIZE}x3: {model.count_params():,} parameters, {plan.epochs} epochs on "
        f"{plan.train} images, validation accuracy {val_accuracy:.3f} ({time.perf_counter() - started:.0f} s)"
    )
    return model


def _ratio(value: float, ref: float) -> str:
    return f"{value / ref:.2f}x" if ref else "-"


def _line(cells: list[str], widths: list[int]) -> str:
    """One markdown table row: the first column left-aligned, the figures right-aligned."""
    padded = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
    return "| " + " | ".join(padded) + " |"


def table(variants: list[Any], not_applied: dict[str, str]) -> str:
    """The variants as one table, each figure beside its ratio to the fp32 variant."""
    ref = next((v for v in variants if v.id == "fp32"), None)
    if ref is None:
        raise SystemExit("no fp32 variant in the result: the ratios need it (add fp32 to --recipes)")
    headers = [
        "variant",
        "size kB",
        "x fp32",
        "gzip kB",
        "x fp32",
        "accuracy",
        "delta pts",
        "p50 us",
        "x fp32",
        "speed-up",
        "empty us",
    ]
    rows = []
    for v in variants:
        rows.append(
            [
                v.id,
                f"{v.size / 1000:.1f}",
                _ratio(v.size, ref.size),
                f"{v.gzip_size / 1000:.1f}",
                _ratio(v.gzip_size, ref.gzip_size),
                f"{v.value:.3f}",
                f"{(v.value - ref.value) * 100:+.1f}",
                f"{v.latency_us_p50:.0f}",
                _ratio(v.latency_us_p50, ref.latency_us_p50),
                _ratio(ref.latency_us_p50, v.latency_us_p50),
                "-" if v.empty_invoke_us_p50 is None else f"{v.empty_invoke_us_p50:.2f}",
            ]
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    rule = "|" + "|".join(":" + "-" * (w + 1) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"
    lines = [_line(headers, widths), rule, *(_line(r, widths) for r in rows)]
    if not_applied:
        lines.append("")
        lines += [f"not applied: {rid}: {reason}" for rid, reason in not_applied.items()]
    return "\n".join(lines)


def claim_line(variants: list[Any]) -> str:
    """The field's claim for int8 beside what this run measured."""
    by_id = {v.id: v for v in variants}
    ref, int8 = by_id.get("fp32"), by_id.get("int8")
    if ref is None or int8 is None:
        return f"claim ({CLAIM}): not compared, this run has no fp32 and int8 pair"
    return (
        f"claim: {CLAIM}.\nmeasured here: int8 speed-up (fp32 p50 / int8 p50) "
        f"{ref.latency_us_p50 / int8.latency_us_p50:.2f}x ({ref.latency_us_p50:.0f} -> {int8.latency_us_p50:.0f} us); "
        f"{ref.size / int8.size:.2f}x smaller ({ref.size / 1000:.0f} -> {int8.size / 1000:.0f} kB; gzip "
        f"{ref.gzip_size / int8.gzip_size:.2f}x); accuracy {(int8.value - ref.value) * 100:+.1f} pts"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run: few samples, one epoch")
    parser.add_argument("--recipes", help="comma-separated recipe ids (default: the pipeline's own choice)")
    parser.add_argument("--epochs", type=int, help="training epochs of the model (default: 8, --quick 1)")
    parser.add_argument("--out", type=Path, help="where the pipeline writes (default: a temporary folder, removed)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from zoo import measure, recipes
    from zoo.optimize import optimize

    plan = QUICK if args.quick else FULL
    if args.epochs is not None:
        plan = Plan(plan.train, plan.val, plan.test, args.epochs, plan.batch_size)
    chosen = [r.strip() for r in args.recipes.split(",") if r.strip()] if args.recipes else None

    m = measure.machine()
    started = time.perf_counter()
    data = make_dataset(plan, args.seed)
    log(f"shapes: {plan.train} train, {plan.val} validation, {plan.test} test images")
    model = train_model(data, plan, args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-optimize-") as tmp:
        out = args.out or Path(tmp)
        t0 = time.perf_counter()
        result = optimize(
            model,
            data,
            task="image-classification",
            out=out,
            recipes=chosen,
            profile="quick",
            seed=args.seed,
            name="bench-mobilenet",
            # A benchmark reports what each recipe costs; the pipeline's accuracy allowances
            # would stop the run at the first variant that loses more than its recipe allows.
            max_drop={rid: 100.0 for rid in recipes.ids()},
            log=log,
        )
        log(f"optimize: {len(result.variants)} variants ({time.perf_counter() - t0:.0f} s)")

    variants = list(result.variants)
    print(
        f"MobileNetV2 alpha {ALPHA}, {SIZE}x{SIZE}x3, {CLASSES} classes of generated shapes; {plan.epochs} epochs on "
        f"{plan.train} images; accuracy on {plan.test} held-out images through LiteRT"
    )
    print(f"machine: {m['cpu']}, {m['cores']} cores, {m['os']}, Python {m['python']}, {m['runtime']}")
    print("latency: per-call p50 over timed blocks of invokes (zoo.measure.benchmark), 1 thread, fresh process")
    print()
    print(table(variants, dict(result.not_applied)))
    print()
    empties = [v.empty_invoke_us_p50 for v in variants if v.empty_invoke_us_p50 is not None]
    if empties:
        print(
            f"empty invoke (one RELU on one float, same process, same method): median "
            f"{statistics.median(empties):.2f} us over the variants' runs; included in every p50 above"
        )
    print(claim_line(variants))
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
