"""What a build writes from its measured variants: the manifest and metrics.json
(:func:`describe`), the build folder with its card and golden samples (:func:`write`), and the
variant table (:func:`table_rows`, :func:`format_table`)."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from registry.core import manifest as manifests
from registry.core.model import Variant as ManifestVariant
from registry.core.units import MB

from . import measure, provenance
from .buildtypes import (
    BENCH_KEYS,
    KERAS_TOLERANCE,
    REFERENCE,
    Gated,
    Job,
    Shift,
    Trained,
    Variant,
    VariantReport,
    sha256_hex,
)
from .card import render_card
from .datasets.common import Dataset
from .tasks import Task

__all__ = ["describe", "ensure_folder", "format_table", "table_rows", "variant_report", "write"]


def ensure_folder(folder: Path) -> Path:
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder)


def _file_entry(root: Path, rel: str, description: str) -> dict[str, Any]:
    data = (root / rel).read_bytes()
    return {"path": rel, "sha256": sha256_hex(data), "size": len(data), "description": description}


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
        "sha256": sha256_hex(v.data),
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


def variant_report(v: ManifestVariant) -> VariantReport:
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


def table_rows(reports: Sequence[VariantReport]) -> list[dict[str, Any]]:
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
