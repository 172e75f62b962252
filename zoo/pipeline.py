"""The build pipeline, as stages that pass typed results:

    data → train → make (one variant per recipe) → measure (LiteRT) → gate → describe → write

A :class:`Job` says what to build: a reference model of the zoo (:func:`zoo.build.build`) or a
team's own model and data (:func:`zoo.optimize.optimize`); both run :func:`run`. The result is
a build directory ``OUT/<namespace>/<name>/<version>/`` that ``edzoo publish`` accepts
(manifest.json, variants/, card.md, metrics.json, golden/).

Every figure in the manifest, the card and metrics.json is measured in this run; the test split
(and a shifted evaluation set from another source, when one is given) is only ever read for
the final measurements.

The stages are here; the typed results they pass are in :mod:`zoo.buildtypes`, and what a
build writes (the manifest, metrics.json, the golden samples, the table) in
:mod:`zoo.artifacts`.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from registry.core.errors import UsageError
from registry.core.model import Manifest
from zoo.errors import RecipeError

from . import _tf, measure, recipes
from .artifacts import describe, ensure_folder, table_rows, variant_report, write
from .buildtypes import (
    KERAS_TOLERANCE,
    REFERENCE,
    BarInput,
    BuildResult,
    ConversionError,
    Gated,
    Job,
    QualityGateError,
    Shift,
    Trained,
    Variant,
)
from .datasets.common import Dataset, split_sha256

__all__ = ["choose", "gate", "make_and_measure", "paired_drop_low", "run", "train"]


class _Steps:
    def __init__(self, job: Job, total: int) -> None:
        self.job, self.total, self.n = job, total, 0

    def __call__(self, message: str) -> None:
        self.n += 1
        self.job.log(f"[{self.n}/{self.total}] {message}")


def run(job: Job) -> BuildResult:
    """Run every stage of ``job``; returns what was written.

    Raises QualityGateError (nothing written) when a variant fails its allowance or gates, or
    the task's enforced bar; RecipeError when a recipe asked for by name cannot apply.
    """
    started = time.perf_counter()
    task, prof = job.task, job.profile
    say = _Steps(job, 5 + len(job.recipes))
    _tf.load()

    t0 = time.perf_counter()
    data = job.data if job.data is not None else task.load_data(prof.name, job.seed, job.cache_dir)
    shift = job.shift or _task_shift(job, data)
    say(
        f"data: {len(data.train.y)} train, {len(data.val.y)} validation, {len(data.test.y)} test samples, "
        f"{len(data.labels)} labels"
        + (f"; shifted set: {len(shift.split.y)} samples from {shift.source}" if shift else "")
        + f" ({time.perf_counter() - t0:.1f} s)"
    )

    t0 = time.perf_counter()
    baseline = task.baseline(data, job.seed) if task.baseline else None
    say(
        f"baseline: {baseline['name']}: {task.metric} {baseline['value']:.4f} ({time.perf_counter() - t0:.1f} s)"
        if baseline
        else "baseline: none for this task"
    )

    trained = train(job, data)
    say(
        f"{'model' if job.pretrained else 'teacher'}: {trained.parameters:,} parameters, "
        + ("given trained" if job.pretrained else f"{prof.epochs} epochs")
        + f", validation {task.metric} {trained.val_value:.4f} ({trained.seconds:.1f} s)"
    )

    ctx = recipes.Context(teacher=trained.model, data=data, profile=prof, task=task, seed=job.seed, log=job.log)
    bench = measure.BenchConfig(threads=1, warmup=prof.bench_warmup, runs=prof.bench_runs)
    workdir = Path(tempfile.mkdtemp(prefix=f".{task.name}-", dir=ensure_folder(job.out)))
    try:
        (workdir / "variants").mkdir()
        variants: dict[str, Variant] = {}
        not_applied: dict[str, str] = dict(task.not_applicable)
        for rid in job.recipes:
            recipe = recipes.get(rid)
            t0 = time.perf_counter()
            try:
                variant = make_and_measure(job, ctx, recipe, data, shift, workdir, bench)
            except recipes.NotApplicable as e:
                if rid in job.asked or rid == REFERENCE:
                    raise RecipeError(
                        f"{rid} cannot apply to {task.name}: {e.reason}", recipe=rid, reason=e.reason
                    ) from e
                not_applied[rid] = e.reason
                say(f"{rid}: not applied: {e.reason}")
                continue
            variants[rid] = variant
            ev = variant.evaluation
            say(
                f"{rid}: {recipe.title}: {len(variant.data):,} B, {task.metric} {ev.value:.4f}"
                + (f", shifted {variant.shift.value:.4f}" if variant.shift else "")
                + f", p50 {variant.bench['latency_us_p50']} µs ({time.perf_counter() - t0:.1f} s)"
            )

        keras_gap = _keras_gap(trained.model, data, variants[REFERENCE])
        gated = gate(job, variants, trained, baseline, data.test.y, shift.split.y if shift else None)
        say(
            "quality bar: "
            + ("; ".join(f"{'ok' if ok else 'FAILED'} {name} ({detail})" for name, ok, detail in gated.bar) or "none")
        )
        failures = _failures(job, variants, gated, shift.source if shift else None)
        if failures:
            raise QualityGateError(
                "quality gate failed, nothing written:\n  " + "\n  ".join(failures), failures=failures
            )

        doc, metrics = describe(job, data, shift, variants, gated, trained, keras_gap, baseline, not_applied)
        dest = write(job, workdir, doc, metrics, data, variants)
    finally:
        if workdir.exists():
            shutil.rmtree(workdir)
    say(f"wrote {dest} ({sum(f.stat().st_size for f in dest.rglob('*') if f.is_file()):,} B)")
    built = Manifest.from_dict(doc)  # validated by write()
    reports = tuple(variant_report(v) for v in built.variants)
    return BuildResult(
        dest, doc, table_rows(reports), time.perf_counter() - started, reports, not_applied, metric=task.metric
    )


def choose(only: Sequence[str] | None, not_applicable: dict[str, str] | None = None) -> tuple[str, ...]:
    """The recipes a build runs, in manifest order: ``only`` (fp32 always: it is the reference)
    or every registered one, less those the task declares not applicable. Raises UsageError
    naming unknown recipes."""
    known = recipes.ids()
    unknown = sorted(set(only or ()) - set(known))
    if unknown:
        raise UsageError(f"unknown recipes: {', '.join(unknown)}; known: {', '.join(known)}")
    skip = not_applicable or {}
    return tuple(r for r in known if (only is None or r in only or r == REFERENCE) and r not in skip)


def _task_shift(job: Job, data: Dataset) -> Shift | None:
    if job.task.shift is None:
        return None
    source, split = job.task.shift(job.profile.name, job.seed, job.cache_dir, data)
    return Shift(source, split, split_sha256(split))


def train(job: Job, data: Dataset) -> Trained:
    """The teacher, trained with the task's loss (or the given model, as it is), and its
    validation score."""
    t = _tf.load()
    t0 = time.perf_counter()
    _tf.seed_everything(job.seed)
    model = job.task.teacher(t.keras, data)
    if not job.pretrained:
        ctx = recipes.Context(teacher=model, data=data, profile=job.profile, task=job.task, seed=job.seed)
        ctx.fit(model, job.profile.epochs)
    split = data.val if len(data.val.y) else data.test
    with _tf.quiet_native_stderr():
        val = job.score(model.predict(split.x, verbose=0), split, data.labels).value
    return Trained(model, _tf.param_count(model), val, time.perf_counter() - t0)


def make_and_measure(
    job: Job,
    ctx: recipes.Context,
    recipe: recipes.Recipe,
    data: Dataset,
    shift: Shift | None,
    workdir: Path,
    bench: measure.BenchConfig,
) -> Variant:
    """One variant: made by its recipe from a fresh state (its bytes depend only on the seed and
    the recipe, not on which recipes ran before), converted, scored through LiteRT on the test
    split (and the shifted set), timed. Raises recipes.NotApplicable."""
    t0 = time.perf_counter()
    if recipe.needs_training and not len(data.train.y):
        raise recipes.NotApplicable(f"{recipe.title} trains, and the data has no training split")
    t = _tf.load()
    t.keras.backend.clear_session()  # layer and graph names restart, so tensor names in the file do too
    _tf.seed_everything(job.seed)
    ctx.cache.clear()
    made = recipe.make(ctx)
    data_bytes = recipes.convert(made, ctx)
    path = workdir / "variants" / f"{recipe.id}.tflite"
    path.write_bytes(data_bytes)
    labels = data.labels
    with _tf.quiet_native_stderr():
        ev = measure.evaluate(path, data.test.x, data.test.y, labels, score=lambda o: job.score(o, data.test, labels))
        shifted = (
            measure.evaluate(
                path, shift.split.x, shift.split.y, labels, score=lambda o: job.score(o, shift.split, labels)
            )
            if shift
            else None
        )
        more = job.task.evaluate_more(path, data, job.seed) if job.task.evaluate_more else {}
    result = measure.benchmark(path, data.test.x[0], bench)
    return Variant(recipe, made, data_bytes, ev, result, more, shifted, time.perf_counter() - t0)


def _keras_gap(model: Any, data: Dataset, reference: Variant) -> float:
    with _tf.quiet_native_stderr():
        keras_out = model.predict(data.test.x, verbose=0)
    gap = float(np.abs(np.asarray(keras_out, np.float32) - reference.evaluation.outputs).max())
    if gap > KERAS_TOLERANCE:
        raise ConversionError(
            f"the fp32 .tflite differs from Keras by {gap:.2e} (> {KERAS_TOLERANCE}); nothing was written: "
            "check the model's layers for ops the converter changes"
        )
    return gap


def gate(
    job: Job,
    variants: Mapping[str, Variant],
    trained: Trained,
    baseline: dict[str, Any] | None,
    test_y: np.ndarray | None = None,
    shift_y: np.ndarray | None = None,
) -> Gated:
    """Drops against fp32 (test split and shifted set), each recipe's own gates, the task's bar."""
    ref = variants[REFERENCE]
    drops = {rid: (ref.evaluation.value - v.evaluation.value) * 100 for rid, v in variants.items()}
    shift_drops = {
        rid: (ref.shift.value - v.shift.value) * 100
        for rid, v in variants.items()
        if v.shift is not None and ref.shift is not None
    }
    judged: dict[str, float] = {}
    shift_judged: dict[str, float] = {}
    if job.profile.paired_gate and job.task.metric == "accuracy" and test_y is not None:
        for rid, v in variants.items():
            low = paired_drop_low(ref.evaluation.predictions, v.evaluation.predictions, test_y)
            if low is not None:
                judged[rid] = low
            if v.shift is not None and ref.shift is not None and shift_y is not None:
                low = paired_drop_low(ref.shift.predictions, v.shift.predictions, shift_y)
                if low is not None:
                    shift_judged[rid] = low
    facts = recipes.GateFacts(trained.parameters, job.task.student_max_fraction)
    checks = {rid: v.recipe.check(v.made, facts) for rid, v in variants.items()}
    bar: list[tuple[str, bool, str]] = []
    if job.task.bar is not None:
        bar = list(
            job.task.bar(
                BarInput(
                    profile=job.profile.name,
                    scores={rid: v.evaluation.score for rid, v in variants.items()},
                    more={rid: v.more for rid, v in variants.items()},
                    baseline=baseline,
                    teacher_parameters=trained.parameters,
                    parameters={rid: v.made.parameters or trained.parameters for rid, v in variants.items()},
                    sizes={rid: len(v.data) for rid, v in variants.items()},
                    shift_scores={rid: v.shift.score for rid, v in variants.items() if v.shift is not None},
                )
            )
        )
    return Gated(drops, shift_drops, judged, shift_judged, checks, bar)


def paired_drop_low(reference: np.ndarray, variant: np.ndarray, y: np.ndarray) -> float | None:
    """The lower end (points) of the 95% interval of the accuracy a variant loses against the
    reference on the same samples: the two are right or wrong mostly together, so the paired
    difference is far tighter than either accuracy's own interval. None when the decisions are
    not one per labelled position."""
    y = np.asarray(y)
    if np.shape(reference) != y.shape or np.shape(variant) != y.shape:
        return None
    ok = y >= 0
    r = (np.asarray(reference) == y)[ok].astype(np.float64)
    v = (np.asarray(variant) == y)[ok].astype(np.float64)
    if not r.size:
        return None
    d = float((r - v).mean())
    var = (float((r != v).mean()) - d * d) / r.size
    return (d - 1.959964 * math.sqrt(max(var, 0.0))) * 100


def _failures(job: Job, variants: Mapping[str, Variant], gated: Gated, shift_source: str | None = None) -> list[str]:
    metric, out = job.task.metric, []
    ref = variants[REFERENCE]

    def low(judged: dict[str, float], rid: str) -> str:
        return f", at least {judged[rid]:.2f} at 95% paired confidence" if rid in judged else ""

    for rid, v in variants.items():
        allowed = job.allowed[rid]
        if gated.judged.get(rid, gated.drops[rid]) > allowed + 1e-9:
            out.append(
                f"{rid}: {metric} dropped {gated.drops[rid]:.2f} points{low(gated.judged, rid)} (allowed "
                f"{allowed:.2f}; {v.evaluation.value:.4f} vs fp32 {ref.evaluation.value:.4f})"
            )
        shift_drop = gated.shift_judged.get(rid, gated.shift_drops.get(rid))
        if shift_drop is not None and shift_drop > allowed + 1e-9 and v.shift and ref.shift:
            source = shift_source or "the shifted set"
            out.append(
                f"{rid}: on {source}, {metric} dropped {gated.shift_drops[rid]:.2f} points"
                f"{low(gated.shift_judged, rid)} (allowed {allowed:.2f}; {v.shift.value:.4f} vs fp32 "
                f"{ref.shift.value:.4f})"
            )
    out += [c.detail for checks in gated.checks.values() for c in checks if not c.passed]
    out += [f"bar: {name}: {detail}" for name, ok, detail in gated.bar if not ok and job.profile.enforce_bar]
    return out
