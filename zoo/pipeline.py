"""The build pipeline, as stages that pass typed results:

    data → train → make (one variant per recipe) → measure (LiteRT) → gate → describe → write

A :class:`Job` says what to build: a reference model of the zoo (:func:`zoo.build.build`) or a
team's own model and data (:func:`zoo.optimize.optimize`); both run :func:`run`. The result is
a build directory ``OUT/<namespace>/<name>/<version>/`` that ``edzoo publish`` accepts
(manifest.json, variants/, card.md, metrics.json, golden/).

Every figure in the manifest, the card and metrics.json is measured in this run; the test split
(and a shifted evaluation set from another source, when one is given) is only ever read for
the final measurements.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from registry.core import manifest as manifests
from registry.core.errors import EdzooError, UsageError
from registry.core.model import Manifest
from registry.core.model import Variant as ManifestVariant
from registry.core.units import MB
from zoo.errors import RecipeError

from . import _tf, measure, provenance, recipes
from .card import render_card
from .datasets.common import Dataset, Split, split_sha256
from .tasks import Profile, Task

__all__ = [
    "KERAS_TOLERANCE",
    "REFERENCE",
    "BuildResult",
    "Job",
    "QualityGateError",
    "Shift",
    "Trained",
    "Variant",
    "VariantReport",
    "choose",
    "format_table",
    "run",
]

REFERENCE = "fp32"
KERAS_TOLERANCE = 1e-4  # max |output difference| between Keras and the fp32 .tflite
BENCH_KEYS = (
    "latency_us_p50",
    "latency_us_p90",
    "invokes_per_timing",
    "empty_invoke_us_p50",
    "peak_memory_bytes",
    "threads",
    "runs",
    "warmup_runs",
    "method",
)


class QualityGateError(EdzooError):
    """A variant lost more than its recipe allows, failed one of its recipe's gates, or the
    model missed its quality bar. Nothing is written."""

    code = "quality_gate"
    exit_code = 12

    def __init__(self, message: str, *, failures: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.failures = list(failures)


class ConversionError(QualityGateError):
    """The fp32 .tflite does not compute what the Keras model computes (beyond
    ``KERAS_TOLERANCE``): every variant made from it would be measured on the wrong model."""

    code = "conversion_mismatch"


@dataclass(frozen=True)
class Shift:
    """A second evaluation set, from another source than the training data."""

    source: str
    split: Split
    sha256: str


@dataclass(frozen=True)
class Job:
    """What one run builds. ``recipes`` are in manifest order and include fp32; ``asked`` are
    those asked for by name (one that cannot apply is an error; the others are reported as not
    applied); ``pretrained``: the model is already trained (``edzoo optimize``)."""

    task: Task
    profile: Profile
    version: str
    recipes: tuple[str, ...]
    asked: frozenset[str]
    allowed: Mapping[str, float]
    out: Path
    score: Callable[[np.ndarray, Split, tuple[str, ...]], measure.Score]
    seed: int = 0
    cache_dir: Path | None = None
    argv: tuple[str, ...] = ()
    pretrained: bool = False
    data: Dataset | None = None  # given (optimize); else the task loads it
    shift: Shift | None = None
    log: Callable[[str], None] = print


@dataclass(frozen=True)
class Trained:
    model: Any
    parameters: int
    val_value: float
    seconds: float


@dataclass(frozen=True)
class Variant:
    """One recipe's variant, made and measured."""

    recipe: recipes.Recipe
    made: recipes.Made
    data: bytes
    evaluation: measure.Evaluation
    bench: dict[str, Any]
    more: dict[str, Any]
    shift: measure.Evaluation | None
    seconds: float

    @property
    def id(self) -> str:
        return self.recipe.id


@dataclass(frozen=True)
class VariantReport:
    """A variant as the table and the Python API show it."""

    id: str
    size: int
    gzip_size: int
    parameters: int
    value: float
    ci95: tuple[float, float]
    delta: float
    latency_us_p50: float
    latency_us_p90: float
    empty_invoke_us_p50: float | None
    peak_memory_bytes: int
    shift_value: float | None = None
    shift_delta: float | None = None


@dataclass(frozen=True)
class Gated:
    drops: dict[str, float]
    shift_drops: dict[str, float]
    # What the allowance is compared with, where it is not the drop itself: the lower end of
    # the drop's 95% paired interval (Profile.paired_gate, accuracy only).
    judged: dict[str, float]
    shift_judged: dict[str, float]
    checks: dict[str, list[recipes.GateCheck]]  # per variant, its recipe's own gates
    bar: list[tuple[str, bool, str]]


@dataclass(frozen=True)
class BuildResult:
    out_dir: Path
    manifest: dict[str, Any]
    rows: list[dict[str, Any]]
    seconds: float
    variants: tuple[VariantReport, ...] = ()
    not_applied: dict[str, str] = field(default_factory=dict)
    metric: str = "accuracy"


@dataclass(frozen=True)
class BarInput:
    """What a task's quality bar looks at: every variant's score and extra measurements, the
    baseline measured in the same build, and the sizes."""

    profile: str
    scores: dict[str, measure.Score]
    more: dict[str, dict[str, Any]]
    baseline: dict[str, Any] | None
    teacher_parameters: int
    parameters: dict[str, int]
    sizes: dict[str, int]
    # Scores on the held-out source (Task.shift), for the variants measured on it.
    shift_scores: dict[str, measure.Score] = field(default_factory=dict)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
    workdir = Path(tempfile.mkdtemp(prefix=f".{task.name}-", dir=_ensure(job.out)))
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
    reports = tuple(_report(v) for v in built.variants)
    return BuildResult(
        dest, doc, _rows(reports), time.perf_counter() - started, reports, not_applied, metric=task.metric
    )


# -- stages ----------------------------------------------------------------------------------


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


def _ensure(folder: Path) -> Path:
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder)


def _file_entry(root: Path, rel: str, description: str) -> dict[str, Any]:
    data = (root / rel).read_bytes()
    return {"path": rel, "sha256": _sha256(data), "size": len(data), "description": description}


def _min_ram_mb(size: int, peak: int) -> int:
    return max(1, math.ceil((size + peak) / (1 << 20)))


def describe(
    job: Job,
    data: Dataset,
    shift: Shift | None,
    variants: Mapping[str, Variant],
    gated: Gated,
    trained: Trained,
    keras_gap: float,
    baseline: dict[str, Any] | None,
    not_applied: Mapping[str, str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The manifest and metrics.json, from the measured variants."""
    task = job.task
    digests = {name: data.info["sha256"][name] for name in ("train", "val", "test")}
    ref = variants[REFERENCE].evaluation
    machine = measure.machine()
    runtime = f"ai-edge-litert {measure.version_of('ai-edge-litert')}"
    entries = [
        _variant_entry(
            rid,
            v,
            variants,
            shift,
            metric=task.metric,
            test_sha256=digests["test"],
            machine=machine,
            runtime=runtime,
            trained=trained,
        )
        for rid, v in variants.items()
    ]
    doc: dict[str, Any] = {
        "schema_version": 1,
        "namespace": task.namespace,
        "name": task.name,
        "version": job.version,
        "task": task.task_type,
        "summary": task.summary,
        "subjects": list(task.subjects),
        "grades": list(task.grades),
        "languages": list(task.languages),
        "license": task.license,
        "card": {**task.card(data), **({"education": dict(task.education)} if task.education else {})},
        "signature": {
            "inputs": ref.inputs,
            "outputs": ref.outputs_spec,
            "preprocessing": task.preprocessing,
            "labels": list(data.labels),
        },
        "variants": entries,
        "provenance": _provenance(job, digests, shift, not_applied),
    }
    metrics = {
        "model": f"{task.namespace}/{task.name}@{job.version}",
        "profile": job.profile.name,
        "reference": REFERENCE,
        "test_set": {"size": int(len(data.test.y)), "sha256": digests["test"]},
        "shift_set": (
            {"source": shift.source, "size": int(len(shift.split.y)), "sha256": shift.sha256} if shift else None
        ),
        "keras_vs_litert_fp32_max_abs_diff": keras_gap,
        "keras_vs_litert_tolerance": KERAS_TOLERANCE,
        "gates": {rid: _gate_entry(job, gated, rid) for rid in variants},
        "distillation": _distillation(task.metric, variants, trained),
        "variants": {
            e["id"]: {
                "size": e["size"],
                "gzip_size": e["gzip_size"],
                "parameters": e["parameters"],
                "recipe": e["recipe"],
                "metrics": e["metrics"],
                "breakdown": variants[e["id"]].evaluation.score.extra,
                "shift_breakdown": _shift_extra(variants[e["id"]]),
                "more": variants[e["id"]].more,
                "benchmarks": e["benchmarks"],
                "requirements": e["requirements"],
            }
            for e in entries
        },
        "dataset": data.info,
        "baseline": baseline,
        "bar": {
            "enforced": job.profile.enforce_bar,
            "checks": [{"check": name, "passed": ok, "detail": detail} for name, ok, detail in gated.bar],
        },
        "not_applicable": dict(not_applied),
    }
    return doc, metrics


def _variant_entry(
    rid: str,
    v: Variant,
    variants: Mapping[str, Variant],
    shift: Shift | None,
    *,
    metric: str,
    test_sha256: str,
    machine: dict[str, Any],
    runtime: str,
    trained: Trained,
) -> dict[str, Any]:
    """One variant of the manifest: its file, recipe, metrics (and on the shifted set),
    benchmarks and requirements."""
    ev, b, made = v.evaluation, v.bench, v.made
    ref = variants[REFERENCE].evaluation
    metrics_entry: dict[str, Any] = {
        "name": metric,
        "value": round(ev.value, 6),
        "delta_vs_reference": round((ev.value - ref.value) * 100, 4),
        "reference_variant": REFERENCE,
        "higher_is_better": True,
        "ci95": list(ev.score.ci95),
        "dataset_sha256": test_sha256,
        "per_class": ev.score.per_class,
        "measured_with": runtime,
    }
    if v.shift is not None and shift is not None:
        ref_shift = variants[REFERENCE].shift
        assert ref_shift is not None
        metrics_entry["shift"] = {
            "source": shift.source,
            "value": round(v.shift.value, 6),
            "delta_vs_reference": round((v.shift.value - ref_shift.value) * 100, 4),
            "ci95": list(v.shift.score.ci95),
            "dataset_sha256": shift.sha256,
        }
    entry: dict[str, Any] = {
        "id": rid,
        "file": f"variants/{rid}.tflite",
        "sha256": _sha256(v.data),
        "size": len(v.data),
        "gzip_size": measure.gzip_size(v.data),
        "parameters": made.parameters or trained.parameters,
        "format": "tflite",
        "recipe": {"quantization": v.recipe.quantization, **made.details},
        "metrics": metrics_entry,
        "benchmarks": {**{k: b[k] for k in BENCH_KEYS if k in b}, "machine": machine},
        "requirements": {
            "min_runtime_version": ev.min_runtime_version,
            "builtin_ops": [op for op in ev.ops if op != "DELEGATE"],
            "delegates": ev.delegates or ["xnnpack"],
            "min_ram_mb": _min_ram_mb(len(v.data), b["peak_memory_bytes"]),
        },
    }
    if ev.inputs != ref.inputs or ev.outputs_spec != ref.outputs_spec:
        entry["io"] = {"inputs": ev.inputs, "outputs": ev.outputs_spec}
    return entry


def _provenance(
    job: Job, digests: Mapping[str, str], shift: Shift | None, not_applied: Mapping[str, str]
) -> dict[str, Any]:
    """Where the build came from: the commit, the command, the data's digests, tools, seeds."""
    commit, dirty = provenance.source_commit()
    dataset_digests = {f"{job.task.name}-{k}": v for k, v in digests.items()}
    if shift is not None:
        dataset_digests[f"{job.task.name}-shift"] = shift.sha256
    prov: dict[str, Any] = {
        "source_commit": commit,
        "source_dirty": dirty,
        "build_command": provenance.build_command(list(job.argv)),
        "built_at": provenance.built_at(),
        "dataset_digests": dataset_digests,
        "tool_versions": provenance.tool_versions(),
        "random_seeds": {"seed": job.seed, "student_init": job.seed + 1},
    }
    if not_applied:
        prov["recipes_not_applied"] = dict(not_applied)
    return prov


def _gate_entry(job: Job, gated: Gated, rid: str) -> dict[str, Any]:
    """What the gates measured for one variant, and each check's verdict."""
    return {
        "allowed_drop_points": job.allowed[rid],
        "drop_points": round(gated.drops[rid], 4),
        **({"shift_drop_points": round(gated.shift_drops[rid], 4)} if rid in gated.shift_drops else {}),
        **({"drop_points_low95": round(gated.judged[rid], 4)} if rid in gated.judged else {}),
        **({"shift_drop_points_low95": round(gated.shift_judged[rid], 4)} if rid in gated.shift_judged else {}),
        "checks": [{"check": c.name, "passed": c.passed, "detail": c.detail} for c in gated.checks[rid]],
    }


def _distillation(metric: str, variants: Mapping[str, Variant], trained: Trained) -> dict[str, Any] | None:
    """Distilled against plain student, when the build made both."""
    if "distilled_int8" not in variants or "student_int8" not in variants:
        return None
    d, s = variants["distilled_int8"].evaluation, variants["student_int8"].evaluation
    winner = "distillation" if d.value > s.value else ("no distillation" if s.value > d.value else "tie")
    return {
        "metric": metric,
        "distilled_accuracy": round(d.value, 6),
        "distilled_ci95": list(d.score.ci95),
        "plain_accuracy": round(s.value, 6),
        "plain_ci95": list(s.score.ci95),
        "winner": winner,
        "student_parameters": variants["distilled_int8"].made.parameters,
        "teacher_parameters": trained.parameters,
    }


def _shift_extra(v: Variant) -> dict[str, Any] | None:
    return v.shift.score.extra if v.shift is not None else None


def write(
    job: Job,
    workdir: Path,
    doc: dict[str, Any],
    metrics: dict[str, Any],
    data: Dataset,
    variants: Mapping[str, Variant],
) -> Path:
    """Card, metrics, golden samples and the manifest into ``workdir``, checked against the
    registry's contract, then moved into place in one rename."""
    task = job.task
    (workdir / "golden").mkdir()
    golden = _golden(task, data, variants, job.profile.golden_samples)
    extra_files = task.files(data, workdir) if task.files else []
    (workdir / "golden" / "samples.json").write_text(json.dumps(golden, indent=1) + "\n")
    (workdir / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    (workdir / "card.md").write_text(render_card(doc, metrics))
    doc["files"] = [
        _file_entry(workdir, p, d)
        for p, d in (
            *extra_files,
            ("card.md", "model card"),
            ("metrics.json", "every measurement of this build, per variant and per class"),
            ("golden/samples.json", "held-out inputs with each variant's expected outputs, for on-device smoke tests"),
        )
    ]
    (workdir / "manifest.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    manifests.read_build_dir(workdir)  # the contract with the registry, checked before it is published
    dest = Path(job.out) / task.namespace / task.name / job.version
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        shutil.rmtree(dest)
    workdir.rename(dest)
    return dest


def _named(labels: Sequence[str], values: Any) -> Any:
    """A class id as its label (a sequence of ids as a list; -1, padding, as None)."""
    if np.ndim(values) == 0:
        return labels[int(values)] if int(values) >= 0 else None
    return [_named(labels, v) for v in np.asarray(values)]


def _golden(task: Task, data: Dataset, variants: Mapping[str, Variant], n: int) -> dict[str, Any]:
    """A few held-out inputs with each variant's expected decision and outputs."""
    picks = list(range(min(n, len(data.test.y))))

    def as_list(x: np.ndarray) -> Any:
        x = np.asarray(x)
        return x.astype(np.float32).round(6).tolist() if np.issubdtype(x.dtype, np.floating) else x.tolist()

    return {
        "about": "Run each input through a variant and compare: the decision must match; outputs "
        "within 0.02 (int8 variants quantize their inputs and activations).",
        "labels": list(data.labels),
        "samples": [
            {
                "input": as_list(data.test.x[i]),
                "label": _named(data.labels, data.test.y[i]),
                **(task.golden_extra(data, i) if task.golden_extra else {}),
                "expected": {
                    rid: {
                        "top": _named(data.labels, v.evaluation.predictions[i]),
                        "outputs": [round(float(x), 5) for x in np.ravel(v.evaluation.outputs[i])],
                    }
                    for rid, v in variants.items()
                },
            }
            for i in picks
        ],
    }


def _report(v: ManifestVariant) -> VariantReport:
    m, b = v.metrics, v.benchmarks
    return VariantReport(
        id=v.id,
        size=v.size,
        gzip_size=_written(v.gzip_size),
        parameters=_written(v.parameters),
        value=m.value,
        ci95=(_written(m.ci95)[0], _written(m.ci95)[1]),
        delta=m.delta_vs_reference,
        latency_us_p50=b.latency_us_p50,
        latency_us_p90=b.latency_us_p90,
        empty_invoke_us_p50=b.empty_invoke_us_p50,
        peak_memory_bytes=b.peak_memory_bytes,
        shift_value=m.shift["value"] if m.shift else None,
        shift_delta=m.shift["delta_vs_reference"] if m.shift else None,
    )


T = TypeVar("T")


def _written(value: T | None) -> T:
    """A field :func:`describe` always writes (optional in the schema, not in a build)."""
    if value is None:
        raise AssertionError("describe() writes gzip_size, parameters and ci95 for every variant")
    return value


def _rows(reports: Sequence[VariantReport]) -> list[dict[str, Any]]:
    """The variant table's rows, from the reports (ratios against the reference variant)."""
    ref = next(r for r in reports if r.id == REFERENCE)
    return [
        {
            "variant": r.id,
            "size": r.size,
            "gzip": r.gzip_size,
            "size_x": r.size / ref.size,
            "gzip_x": r.gzip_size / ref.gzip_size,
            "accuracy": r.value,
            "ci95": list(r.ci95),
            "delta": r.delta,
            "shift": r.shift_value,
            "shift_delta": r.shift_delta,
            "p50": r.latency_us_p50,
            "p90": r.latency_us_p90,
            "empty": r.empty_invoke_us_p50,
            "peak": r.peak_memory_bytes,
        }
        for r in reports
    ]


def format_table(rows: list[dict[str, Any]], not_applied: Mapping[str, str] | None = None) -> str:
    """The variant table: sizes and their ratio to fp32, the metric with its 95% interval and
    its drop, the shifted set's metric when there is one, per-call latency, peak memory; then
    the recipes that did not apply, each with why, and the interpreter's empty-call cost."""
    shifted = any(r.get("shift") is not None for r in rows)
    head = (
        f"{'variant':15s} {'bytes':>9s} {'×fp32':>6s} {'gzip':>9s} {'×fp32':>6s} {'metric':>8s} "
        f"{'95% CI':>15s} {'Δ pts':>6s} "
        + (f"{'shifted':>8s} {'Δ pts':>6s} " if shifted else "")
        + f"{'p50 µs':>8s} {'p90 µs':>8s} {'peak MB':>7s}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['variant']:15s} {r['size']:9,d} {r['size_x']:6.2f} {r['gzip']:9,d} {r['gzip_x']:6.2f} "
            f"{r['accuracy']:8.4f} {r['ci95'][0]:7.4f}-{r['ci95'][1]:.4f} {r['delta']:+6.2f} "
            + (
                (
                    f"{r['shift']:8.4f} {r['shift_delta']:+6.2f} "
                    if r.get("shift") is not None
                    else f"{'-':>8s} {'':6s} "
                )
                if shifted
                else ""
            )
            + f"{r['p50']:8.1f} {r['p90']:8.1f} {r['peak'] / MB:7.2f}"
        )
    for rid, why in (not_applied or {}).items():
        lines.append(f"{rid:15s} not applied: {why}")
    empty = [r["empty"] for r in rows if r.get("empty") is not None]
    if empty:
        lines.append(
            f"latency is per invoke() (blocks of calls per clock reading); an empty invoke() costs "
            f"{float(np.median(empty)):.2f} µs of it here"
        )
    return "\n".join(lines)
