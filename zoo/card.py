"""The model card (``card.md``), rendered from the manifest and the build's measurements."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry.core.card import card_head, card_tail
from registry.core.manifest import describe_recipe
from registry.core.model import Manifest


def _pct(x: float) -> str:
    return f"{x * 100:.2f}%"


def render_card(doc: Mapping[str, Any], metrics: dict[str, Any]) -> str:
    """``card.md``: the card's shared head and tail (:mod:`registry.core.card`) around the
    build's measurements, from the manifest ``doc`` and the build's ``metrics.json``."""
    m = Manifest.of(doc)
    sig = m.signature
    ref = m.variant(metrics["reference"])
    metric = ref.metrics.name
    lines = [
        *card_head(m),
        "## Variants",
        "",
        f"Measured through the LiteRT interpreter on the held-out test set ({metrics['test_set']['size']:,} "
        "samples, never used for training, calibration or choosing). Latency: per single-sample "
        "inference, 1 thread, timed in blocks of back-to-back calls.",
        "",
        f"| variant | recipe | bytes | gzip bytes | {metric} (95% CI) | Δ vs fp32 (points) | p50 µs | p90 µs |",
        "|---|---|---:|---:|---|---:|---:|---:|",
    ]
    for v in m.variants:
        b, met = v.benchmarks, v.metrics
        ci = f" ({_pct(met.ci95[0])}–{_pct(met.ci95[1])})" if met.ci95 else ""
        gzip = f"{v.gzip_size:,}" if v.gzip_size is not None else "—"
        lines.append(
            f"| {v.id} | {describe_recipe(v.recipe)} | {v.size:,} | {gzip} | {_pct(met.value)}{ci} | "
            f"{met.delta_vs_reference:+.2f} | {b.latency_us_p50} | {b.latency_us_p90} |"
        )
    machine = ref.benchmarks.machine
    lines += [
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['os']}, {machine['runtime']}; "
        f"{ref.benchmarks.runs} timed runs after {ref.benchmarks.warmup_runs} warm-up runs. "
        "A difference smaller than the confidence intervals is noise.",
        "",
        *_shift(m, metrics, metric),
        *_by_source(m, metrics),
        *_not_applicable(metrics.get("not_applicable") or {}),
        *_bar(metrics, metric),
        *_breakdown(metrics, metrics["reference"]),
    ]
    d = metrics.get("distillation")
    if d:
        winner = {
            "distillation": "Distillation helped",
            "no distillation": "Distillation did not help",
            "tie": "Distillation made no difference",
        }[d["winner"]]
        lines += [
            "## Distillation",
            "",
            f"The student has {d['student_parameters']:,} parameters "
            f"({d['student_parameters'] / d['teacher_parameters']:.0%} of the teacher's "
            f"{d['teacher_parameters']:,}). {winner} here: distilled "
            f"{_pct(d['distilled_accuracy'])} vs the same student trained on labels alone "
            f"{_pct(d['plain_accuracy'])} (int8, test set, {d.get('metric', 'accuracy')}).",
            "",
        ]
    worst = sorted((ref.metrics.per_class or {}).items(), key=lambda kv: kv[1])[:8]
    lines += [
        "## Recall per class (fp32)",
        "",
        "Lowest: "
        + ", ".join(f"{k} {_pct(v)}" for k, v in worst)
        + ". All classes and variants: "
        + ("metrics.json." if metrics.get("variants") else "each variant's metrics.per_class in manifest.json."),
        "",
        "## How to call it",
        "",
    ]
    for t in sig["inputs"]:
        lines.append(f"- Input `{t['name']}`: {t['dtype']} {t['shape']}")
    for t in sig["outputs"]:
        lines.append(f"- Output `{t['name']}`: {t['dtype']} {t['shape']} (probabilities)")
    for f in m.files or []:
        if f["path"] not in ("card.md", "metrics.json", "golden/samples.json"):
            lines.append(f"- `{f['path']}`: {f['description']}")
    for v in m.variants:
        for side in ("inputs", "outputs"):
            for t in (v.io or {}).get(side, []):
                q = t.get("quantization")
                quant = f", scale {q['scale']:.8g}, zero point {q['zero_point']}" if q else ""
                lines.append(f"- Variant {v.id} {side[:-1]} `{t['name']}`: {t['dtype']}{quant}")
    lines += [
        f"- Preprocessing: {sig['preprocessing'].get('notes', '')}",
        f"- Labels (output order): {' '.join(sig['labels'])}",
        "- golden/samples.json: held-out inputs with each variant's expected outputs, to smoke-test a download.",
        "",
        *card_tail(m),
    ]
    return "\n".join(lines)


def _shift(m: Manifest, metrics: dict[str, Any], metric: str) -> list[str]:
    """Every variant on the evaluation set from another source, beside the test split."""
    shift = metrics.get("shift_set")
    if not shift:
        return []
    lines = [
        "## On data from another source",
        "",
        f"{shift['size']:,} samples from {shift['source']}, a source the training data does not come from; every "
        "variant is gated on it as on the test split.",
        "",
        f"| variant | {metric}, test split | {metric}, other source | Δ vs fp32 there (points) |",
        "|---|---:|---:|---:|",
    ]
    for v in m.variants:
        s = v.metrics.shift
        if s:
            lines.append(f"| {v.id} | {_pct(v.metrics.value)} | {_pct(s['value'])} | {s['delta_vs_reference']:+.2f} |")
    return [*lines, ""]


def _parts(breakdown: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The breakdown entries that are an accuracy over a part of the set (``accuracy`` and ``n``)."""
    return {k: v for k, v in (breakdown or {}).items() if isinstance(v, dict) and {"accuracy", "n"} <= set(v)}


def _by_source(m: Manifest, metrics: dict[str, Any]) -> list[str]:
    """Every variant on each part of the test split and of the other source (a task's score
    breakdowns with an accuracy and a count, such as digits by writers never seen)."""
    per_variant = metrics.get("variants") or {}
    ref = per_variant.get(metrics["reference"], {})
    test, held = _parts(ref.get("breakdown")), _parts(ref.get("shift_breakdown"))
    if not test and not held:
        return []
    columns = [("breakdown", k, f"test: {k.replace('_', ' ')} (n={v['n']:,})") for k, v in test.items()]
    columns += [("shift_breakdown", k, f"other source: {k.replace('_', ' ')} (n={v['n']:,})") for k, v in held.items()]
    lines = [
        "## By source",
        "",
        "Accuracy (95% CI) on each part of the test split and of the other source.",
        "",
        "| variant | " + " | ".join(title for _, _, title in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for v in m.variants:
        cells = []
        for where, key, _ in columns:
            part = _parts(per_variant.get(v.id, {}).get(where)).get(key)
            cells.append(
                f"{_pct(part['accuracy'])} ({_pct(part['ci95'][0])}–{_pct(part['ci95'][1])})"
                if part and part.get("ci95")
                else (_pct(part["accuracy"]) if part else "—")
            )
        lines.append(f"| {v.id} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _not_applicable(skipped: dict[str, str]) -> list[str]:
    if not skipped:
        return []
    return ["## Recipes not built for this model", "", *[f"- {rid}: {why}" for rid, why in skipped.items()], ""]


def _bar(metrics: dict[str, Any], metric: str) -> list[str]:
    baseline, bar = metrics.get("baseline"), metrics.get("bar") or {}
    if not baseline and not bar.get("checks"):
        return []
    lines = ["## Quality bar", ""]
    if baseline:
        lines.append(
            f"Baseline measured in the same build on the same split: {baseline['name']}, {metric} "
            f"{_pct(baseline['value'])}."
        )
        lines.append("")
    for check in bar.get("checks", []):
        lines.append(f"- {'passed' if check['passed'] else 'FAILED'}: {check['check']} ({check['detail']})")
    if bar.get("checks") and not bar.get("enforced", True):
        lines.append("- This profile reports the bar without enforcing it; the full profile enforces it.")
    return [*lines, ""]


def _breakdown(metrics: dict[str, Any], ref: str) -> list[str]:
    """The reference variant's task-specific breakdowns (per SNR band, per error type...)."""
    v = metrics.get("variants", {}).get(ref, {})
    shown_by_source = _parts(v.get("breakdown"))
    parts = {k: x for k, x in {**v.get("breakdown", {}), **v.get("more", {})}.items() if k not in shown_by_source}
    if not parts:
        return []
    lines = [f"## Breakdown ({ref})", ""]
    for key, value in parts.items():
        title = key.replace("_", " ")
        if isinstance(value, dict) and all(isinstance(x, int | float) for x in value.values()):
            shown = ", ".join(f"{k} {_num(x)}" for k, x in value.items())
            lines.append(f"- {title}: {shown}")
        elif isinstance(value, list):
            lines.append(f"- {title}: " + "; ".join(_item(x) for x in value[:10]))
        elif isinstance(value, int | float | str):
            lines.append(f"- {title}: {_num(value) if not isinstance(value, str) else value}")
        elif isinstance(value, dict):
            lines.append(f"- {title}:")
            lines += [f"  - {k}: {_item(x)}" for k, x in value.items()]
    return [*lines, ""]


def _num(x: Any) -> str:
    if isinstance(x, float) and 0 <= x <= 1:
        return f"{x:.4f}"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def _item(x: Any) -> str:
    if isinstance(x, dict):
        return ", ".join(f"{k.replace('_', ' ')} {_item(v)}" for k, v in x.items())
    if isinstance(x, list):
        return "[" + ", ".join(_num(v) for v in x) + "]"
    return _num(x)
