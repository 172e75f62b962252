"""The build pipeline: data → teacher → one variant per recipe → measured through LiteRT →
quality gates → a build directory ``build/<namespace>/<model>/<version>/`` that
``edzoo publish`` accepts (manifest.json, variants/, card.md, metrics.json, golden/).

Every figure in the manifest, the card and metrics.json is measured in this run; the test split
is only ever read for the final measurements.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from registry.core import manifest as manifests
from registry.core.errors import EdzooError

from . import _tf, measure, provenance, recipes, tasks
from .card import render_card

__all__ = ["BuildResult", "QualityGateError", "build", "format_table"]

REFERENCE = "fp32"
# The order variants are listed in the manifest: a client that does not choose gets the first.
ORDER = (
    "int8",
    "fp32",
    "dynamic",
    "float16",
    "qat_int8",
    "prune_int8",
    "cluster_int8",
    "pcqat_int8",
    "distilled_int8",
    "student_int8",
)
KERAS_TOLERANCE = 1e-4
MIN_SPARSITY = 0.5  # max |probability| difference between Keras and the fp32 .tflite


class QualityGateError(EdzooError):
    """A variant lost more accuracy than its recipe allows."""

    code = "quality_gate"
    exit_code = 12


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


@dataclass(frozen=True)
class BuildResult:
    out_dir: Path
    manifest: dict[str, Any]
    rows: list[dict[str, Any]]
    seconds: float


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build(
    task_name: str,
    *,
    profile: str = "quick",
    out: Path = Path("build"),
    seed: int = 0,
    only: Sequence[str] | None = None,
    max_drop: dict[str, float] | None = None,
    cache_dir: Path | None = None,
    log: Callable[[str], None] = print,
    argv: Sequence[str] | None = None,
) -> BuildResult:
    """Build ``task_name`` and write its build directory under ``out``.

    ``only`` restricts the recipes (fp32 is always built: it is the reference). ``max_drop``
    overrides recipes' allowed drops (points). Raises QualityGateError naming each variant over
    its allowance (the build directory is not written then).
    """
    started = time.perf_counter()
    task = tasks.get(task_name)
    if profile not in task.profiles:
        raise EdzooError(f"unknown profile {profile!r}; choose one of {', '.join(task.profiles)}", code="bad_request")
    prof = task.profiles[profile]
    unknown = set(only or ()) - set(recipes.RECIPES)
    if unknown:
        raise EdzooError(
            f"unknown recipes: {', '.join(sorted(unknown))}; known: {', '.join(ORDER)}", code="bad_request"
        )
    skipped = sorted(set(only or ()) & set(task.not_applicable))
    if skipped:
        raise EdzooError(
            "; ".join(f"{r} does not apply to {task.name}: {task.not_applicable[r]}" for r in skipped),
            code="bad_request",
        )
    chosen = [r for r in ORDER if (only is None or r in only or r == REFERENCE) and r not in task.not_applicable]
    chosen += [r for r in only or () if r not in ORDER]  # a recipe registered beside the named ones
    allowed = {r: recipes.RECIPES[r].max_drop_points for r in chosen} | task.max_drop | (max_drop or {})
    allowed = {r: allowed[r] + (prof.gate_slack if r != REFERENCE else 0.0) for r in chosen}
    scorer = task.score or (lambda outputs, split, labels: measure.accuracy_score(outputs, split.y, labels))
    steps = 5 + len(chosen)
    step = iter(range(1, steps + 1))

    def say(message: str) -> None:
        log(f"[{next(step)}/{steps}] {message}")

    t = _tf.load()
    t0 = time.perf_counter()
    data = task.load_data(profile, seed, cache_dir)
    digests = {name: data.info["sha256"][name] for name in ("train", "val", "test")}
    say(
        f"data: {len(data.train.y)} train, {len(data.val.y)} validation, {len(data.test.y)} test samples, "
        f"{len(data.labels)} labels ({time.perf_counter() - t0:.1f} s)"
    )

    t0 = time.perf_counter()
    baseline = task.baseline(data, seed) if task.baseline else None
    say(
        f"baseline: {baseline['name']}: {task.metric} {baseline['value']:.4f} ({time.perf_counter() - t0:.1f} s)"
        if baseline
        else "baseline: none for this task"
    )

    t0 = time.perf_counter()
    _tf.seed_everything(seed)
    teacher = task.teacher(t.keras, data)
    ctx = recipes.Context(teacher=teacher, data=data, profile=prof, task=task, seed=seed, log=log)
    with _tf.quiet_native_stderr():
        ctx.fit(teacher, prof.epochs)
    with _tf.quiet_native_stderr():
        val_score = scorer(teacher.predict(data.val.x, verbose=0), data.val, data.labels).value
    teacher_params = _tf.param_count(teacher)
    say(
        f"teacher: {teacher_params:,} parameters, {prof.epochs} epochs, validation {task.metric} "
        f"{val_score:.4f} ({time.perf_counter() - t0:.1f} s)"
    )

    bench = measure.BenchConfig(threads=1, warmup=prof.bench_warmup, runs=prof.bench_runs)
    workdir = Path(tempfile.mkdtemp(prefix=f".{task.name}-", dir=_ensure(out)))
    try:
        (workdir / "variants").mkdir()
        results: dict[str, dict[str, Any]] = {}
        for rid in chosen:
            recipe = recipes.RECIPES[rid]
            t0 = time.perf_counter()
            _tf.seed_everything(seed)
            made = recipe.make(ctx)
            data_bytes = recipes.convert(made, ctx)
            path = workdir / "variants" / f"{rid}.tflite"
            path.write_bytes(data_bytes)
            with _tf.quiet_native_stderr():
                ev = measure.evaluate(
                    path,
                    data.test.x,
                    data.test.y,
                    data.labels,
                    score=lambda outputs: scorer(outputs, data.test, data.labels),
                )
                more = task.evaluate_more(path, data, seed) if task.evaluate_more else {}
            bench_result = measure.benchmark(path, data.test.x[0], bench)
            results[rid] = {
                "recipe": recipe,
                "made": made,
                "bytes": data_bytes,
                "eval": ev,
                "bench": bench_result,
                "more": more,
            }
            say(
                f"{rid}: {recipe.title}: {len(data_bytes):,} B, {task.metric} {ev.value:.4f}, "
                f"p50 {bench_result['latency_us_p50']} µs ({time.perf_counter() - t0:.1f} s)"
            )

        ref = results[REFERENCE]["eval"]
        with _tf.quiet_native_stderr():
            keras_probs = teacher.predict(data.test.x, verbose=0)
        keras_gap = float(np.abs(keras_probs - ref.outputs).max())
        if keras_gap > KERAS_TOLERANCE:
            raise EdzooError(
                f"the fp32 .tflite differs from Keras by {keras_gap:.2e} (> {KERAS_TOLERANCE})",
                code="conversion_mismatch",
            )
        failures = []
        for rid, r in results.items():
            drop = (ref.value - r["eval"].value) * 100
            r["drop"] = drop
            if drop > allowed[rid] + 1e-9:
                failures.append(
                    f"{rid}: {task.metric} dropped {drop:.2f} points (allowed {allowed[rid]:.2f}; "
                    f"{r['eval'].value:.4f} vs fp32 {ref.value:.4f})"
                )
        for rid in ("prune_int8", "pcqat_int8"):
            if rid in results and (got := results[rid]["made"].details["pruning"]["sparsity"]) < MIN_SPARSITY:
                failures.append(f"{rid}: pruning reached {got:.0%} sparsity (at least {MIN_SPARSITY:.0%} required)")
        for rid in ("distilled_int8", "student_int8"):
            params = results[rid]["made"].parameters if rid in results else None
            if params and params > teacher_params * task.student_max_fraction:
                failures.append(
                    f"{rid}: {params:,} parameters is more than {task.student_max_fraction:.2g} of the "
                    f"teacher's {teacher_params:,}"
                )
        bar = _bar(task, prof, results, baseline, teacher_params)
        say(
            "quality bar: "
            + ("; ".join(f"{'ok' if ok else 'FAILED'} {name} ({detail})" for name, ok, detail in bar) or "none")
        )
        failures += [f"bar: {name}: {detail}" for name, ok, detail in bar if not ok and prof.enforce_bar]
        if failures:
            raise QualityGateError("quality gate failed, nothing written:\n  " + "\n  ".join(failures))

        version = task.version + prof.version_suffix
        doc, metrics = _describe(
            task, prof, data, results, digests, teacher_params, keras_gap, seed, version, argv or sys.argv, allowed
        )
        metrics["baseline"] = baseline
        metrics["bar"] = {
            "enforced": prof.enforce_bar,
            "checks": [{"check": name, "passed": ok, "detail": detail} for name, ok, detail in bar],
        }
        metrics["not_applicable"] = dict(task.not_applicable)
        (workdir / "golden").mkdir()
        golden = _golden(task, data, results, prof.golden_samples)
        extra_files = task.files(data, workdir) if task.files else []
        (workdir / "golden" / "samples.json").write_text(json.dumps(golden, indent=1) + "\n")
        (workdir / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
        card = render_card(doc, metrics)
        (workdir / "card.md").write_text(card)
        doc["files"] = [
            _file_entry(workdir, p, d)
            for p, d in (
                *extra_files,
                ("card.md", "model card"),
                ("metrics.json", "every measurement of this build, per variant and per class"),
                (
                    "golden/samples.json",
                    "held-out inputs with each variant's expected outputs, for on-device smoke tests",
                ),
            )
        ]
        (workdir / "manifest.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
        manifests.read_build_dir(workdir)  # the contract with the registry, checked before it is published

        dest = Path(out) / task.namespace / task.name / version
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            shutil.rmtree(dest)
        workdir.rename(dest)
    finally:
        if workdir.exists():
            shutil.rmtree(workdir)
    rows = _rows(doc)
    say(f"wrote {dest} ({sum(f.stat().st_size for f in dest.rglob('*') if f.is_file()):,} B)")
    return BuildResult(dest, doc, rows, time.perf_counter() - started)


def _bar(
    task: Any, prof: Any, results: dict[str, dict[str, Any]], baseline: dict[str, Any] | None, teacher_params: int
) -> list[tuple[str, bool, str]]:
    if task.bar is None:
        return []
    return list(
        task.bar(
            BarInput(
                profile=prof.name,
                scores={rid: r["eval"].score for rid, r in results.items()},
                more={rid: r["more"] for rid, r in results.items()},
                baseline=baseline,
                teacher_parameters=teacher_params,
                parameters={rid: r["made"].parameters or teacher_params for rid, r in results.items()},
                sizes={rid: len(r["bytes"]) for rid, r in results.items()},
            )
        )
    )


def _ensure(folder: Path) -> Path:
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder)


def _file_entry(root: Path, rel: str, description: str) -> dict[str, Any]:
    data = (root / rel).read_bytes()
    return {"path": rel, "sha256": _sha256(data), "size": len(data), "description": description}


def _min_ram_mb(size: int, peak: int) -> int:
    return max(1, math.ceil((size + peak) / (1 << 20)))


def _describe(
    task: Any,
    prof: Any,
    data: Any,
    results: dict[str, dict[str, Any]],
    digests: dict[str, str],
    teacher_params: int,
    keras_gap: float,
    seed: int,
    version: str,
    argv: Sequence[str],
    allowed: dict[str, float],
) -> tuple[dict[str, Any], dict[str, Any]]:
    ref = results[REFERENCE]["eval"]
    machine = measure.machine()
    runtime = f"ai-edge-litert {measure.version_of('ai-edge-litert')}"
    variants = []
    for rid, r in results.items():
        ev, b, made, recipe = r["eval"], r["bench"], r["made"], r["recipe"]
        entry: dict[str, Any] = {
            "id": rid,
            "file": f"variants/{rid}.tflite",
            "sha256": _sha256(r["bytes"]),
            "size": len(r["bytes"]),
            "gzip_size": measure.gzip_size(r["bytes"]),
            "parameters": made.parameters or teacher_params,
            "format": "tflite",
            "recipe": {"quantization": recipe.quantization, **made.details},
            "metrics": {
                "name": task.metric,
                "value": round(ev.value, 6),
                "delta_vs_reference": round((ev.value - ref.value) * 100, 4),
                "reference_variant": REFERENCE,
                "higher_is_better": True,
                "ci95": list(ev.score.ci95),
                "dataset_sha256": digests["test"],
                "per_class": ev.score.per_class,
                "measured_with": runtime,
            },
            "benchmarks": {
                **{
                    k: b[k]
                    for k in (
                        "latency_us_p50",
                        "latency_us_p90",
                        "peak_memory_bytes",
                        "threads",
                        "runs",
                        "warmup_runs",
                        "method",
                    )
                },
                "machine": machine,
            },
            "requirements": {
                "min_runtime_version": ev.min_runtime_version,
                "builtin_ops": [op for op in ev.ops if op != "DELEGATE"],
                "delegates": ev.delegates or ["xnnpack"],
                "min_ram_mb": _min_ram_mb(len(r["bytes"]), b["peak_memory_bytes"]),
            },
        }
        if ev.inputs != ref.inputs or ev.outputs_spec != ref.outputs_spec:
            entry["io"] = {"inputs": ev.inputs, "outputs": ev.outputs_spec}
        variants.append(entry)

    commit, dirty = provenance.source_commit()
    doc: dict[str, Any] = {
        "schema_version": 1,
        "namespace": task.namespace,
        "name": task.name,
        "version": version,
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
        "variants": variants,
        "provenance": {
            "source_commit": commit,
            "source_dirty": dirty,
            "build_command": provenance.build_command(list(argv)),
            "built_at": provenance.built_at(),
            "dataset_digests": {f"{task.name}-{k}": v for k, v in digests.items()},
            "tool_versions": provenance.tool_versions(),
            "random_seeds": {"seed": seed, "student_init": seed + 1},
        },
    }
    distill = None
    if "distilled_int8" in results and "student_int8" in results:
        d, s = results["distilled_int8"]["eval"], results["student_int8"]["eval"]
        winner = "distillation" if d.value > s.value else ("no distillation" if s.value > d.value else "tie")
        distill = {
            "metric": task.metric,
            "distilled_accuracy": round(d.value, 6),
            "distilled_ci95": list(d.score.ci95),
            "plain_accuracy": round(s.value, 6),
            "plain_ci95": list(s.score.ci95),
            "winner": winner,
            "student_parameters": results["distilled_int8"]["made"].parameters,
            "teacher_parameters": teacher_params,
        }
    metrics = {
        "model": f"{task.namespace}/{task.name}@{version}",
        "profile": prof.name,
        "reference": REFERENCE,
        "test_set": {"size": int(len(data.test.y)), "sha256": digests["test"]},
        "keras_vs_litert_fp32_max_abs_diff": keras_gap,
        "keras_vs_litert_tolerance": KERAS_TOLERANCE,
        "gates": {
            rid: {"allowed_drop_points": allowed[rid], "drop_points": round(r["drop"], 4)} for rid, r in results.items()
        },
        "distillation": distill,
        "variants": {
            v["id"]: {
                "size": v["size"],
                "gzip_size": v["gzip_size"],
                "parameters": v["parameters"],
                "recipe": v["recipe"],
                "metrics": v["metrics"],
                "breakdown": results[v["id"]]["eval"].score.extra,
                "more": results[v["id"]]["more"],
                "benchmarks": v["benchmarks"],
                "requirements": v["requirements"],
            }
            for v in variants
        },
        "dataset": data.info,
    }
    return doc, metrics


def _golden(task: Any, data: Any, results: dict[str, dict[str, Any]], n: int) -> dict[str, Any]:
    """A few held-out inputs with each variant's expected decision and outputs."""
    picks = list(range(min(n, len(data.test.y))))

    def as_list(x: np.ndarray) -> Any:
        x = np.asarray(x)
        return x.astype(np.float32).round(6).tolist() if np.issubdtype(x.dtype, np.floating) else x.tolist()

    return {
        "about": "Run each input through a variant and compare: the decision must match; outputs "
        "within 0.02 (int8 outputs step by 1/256).",
        "labels": list(data.labels),
        "samples": [
            {
                "input": as_list(data.test.x[i]),
                "label": data.labels[int(data.test.y[i])],
                **(task.golden_extra(data, i) if task.golden_extra else {}),
                "expected": {
                    rid: {
                        "top": data.labels[int(r["eval"].predictions[i])],
                        "outputs": [round(float(v), 5) for v in np.ravel(r["eval"].outputs[i])],
                    }
                    for rid, r in results.items()
                },
            }
            for i in picks
        ],
    }


def _rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    ref = next(v for v in doc["variants"] if v["id"] == REFERENCE)
    rows = []
    for v in doc["variants"]:
        b, m = v["benchmarks"], v["metrics"]
        rows.append(
            {
                "variant": v["id"],
                "size": v["size"],
                "gzip": v["gzip_size"],
                "size_x": v["size"] / ref["size"],
                "gzip_x": v["gzip_size"] / ref["gzip_size"],
                "accuracy": m["value"],
                "ci95": m["ci95"],
                "delta": m["delta_vs_reference"],
                "p50": b["latency_us_p50"],
                "p90": b["latency_us_p90"],
                "peak": b["peak_memory_bytes"],
            }
        )
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'variant':15s} {'bytes':>9s} {'×fp32':>6s} {'gzip':>9s} {'×fp32':>6s} {'metric':>8s} "
        f"{'95% CI':>15s} {'Δ pts':>6s} {'p50 µs':>8s} {'p90 µs':>8s} {'peak MB':>7s}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['variant']:15s} {r['size']:9,d} {r['size_x']:6.2f} {r['gzip']:9,d} {r['gzip_x']:6.2f} "
            f"{r['accuracy']:8.4f} {r['ci95'][0]:7.4f}-{r['ci95'][1]:.4f} {r['delta']:+6.2f} "
            f"{r['p50']:8.1f} {r['p90']:8.1f} {r['peak'] / 1e6:7.2f}"
        )
    return "\n".join(lines)
