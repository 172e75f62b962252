"""Numbers and words for the web catalog's pages: metric formats, recipe and policy sentences,
a device's facts (sizes in the binary units of :mod:`registry.core.units`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from registry.core import select
from registry.core.model import Manifest
from registry.core.units import format_mb

GRADE_ORDER = ["K", *(str(g) for g in range(1, 13))]


def human_us(x: float) -> str:
    if x < 100:
        return f"{x:.3g} µs"
    if x < 1000:
        return f"{x:,.0f} µs"
    if x < 1_000_000:
        return f"{x / 1000:.3g} ms"
    return f"{x / 1_000_000:.3g} s"


def slug_words(slug: str) -> str:
    """``image-classification`` -> ``Image classification``."""
    text = slug.replace("-", " ").replace("_", " ")
    return text[:1].upper() + text[1:]


def grade_key(grade: str) -> int:
    return GRADE_ORDER.index(grade) if grade in GRADE_ORDER else len(GRADE_ORDER)


@dataclass(frozen=True)
class MetricFormat:
    """How one manifest's metric is shown: fractions as percentages."""

    name: str
    fraction: bool
    higher_is_better: bool

    @classmethod
    def of(cls, manifest: Mapping[str, Any] | Manifest) -> MetricFormat:
        m = Manifest.of(manifest)
        values = [float(v.metrics.value) for v in m.variants]
        first = m.variants[0].metrics  # a valid manifest has a variant
        return cls(
            name=first.name,
            fraction=all(0.0 <= x <= 1.0 for x in values),
            higher_is_better=first.better_when_higher,
        )

    def value(self, x: float) -> str:
        return f"{x * 100:.2f}%" if self.fraction else f"{x:.4g}"

    def tick(self, x: float, step: float) -> str:
        """A tick label with as many decimals as the tick step needs (0.25 -> 2)."""
        scale = 100.0 if self.fraction else 1.0
        decimals = _decimals(step * scale)
        return f"{x * scale:.{decimals}f}" + ("%" if self.fraction else "")

    @property
    def title(self) -> str:
        return slug_words(self.name) + ("" if self.higher_is_better else " (lower is better)")


def _decimals(step: float) -> int:
    """Decimals that show every multiple of ``step`` exactly (a 1-2-2.5-5 step)."""
    for decimals in range(0, 10):
        if abs(round(step, decimals) - step) <= abs(step) * 1e-6:
            return decimals
    return 10


def policy_text(policy: select.Policy) -> str:
    """What a policy asks for, in words."""
    if policy.objective == "best-accuracy":
        text = "the most accurate variant"
        if policy.latency_budget_us is not None:
            text += f" within an estimated {human_us(policy.latency_budget_us)} per inference"
    elif policy.objective == "smallest":
        text = "the smallest download (gzip size)" if policy.size_measure == "download" else "the smallest file"
    else:
        text = "the fastest variant"
    if policy.max_drop_points is not None:
        text += f" within {policy.max_drop_points:g} points of the best variant"
    elif policy.accuracy_floor is not None:
        text += f" that reaches {policy.accuracy_floor:g}"
    return text


def device_facts(profile: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A profile as (label, value) rows."""
    cpu = profile["cpu"]
    speed = float(cpu["speed_factor"])
    if speed > 1:
        pace = f"{speed:g}× the reference machine's time per inference"
    elif speed < 1:
        pace = f"{speed:g}× the reference machine's time per inference (faster)"
    else:
        pace = "as fast as the reference machine"
    os_name = {"ios": "iOS", "ipados": "iPadOS", "chromeos": "ChromeOS", "macos": "macOS"}.get(
        profile["os"]["name"], slug_words(profile["os"]["name"])
    )
    runtime = profile["runtime"]
    rows = [
        ("Operating system", f"{os_name} {profile['os']['version']}"),
        ("ABI", str(profile["abi"])),
        ("RAM", format_mb(profile["ram_mb"])),
        ("Free storage", format_mb(profile["free_storage_mb"])),
        ("CPU", f"{cpu['cores']} cores; {pace}"),
        ("Accelerators", ", ".join(profile.get("accelerators", [])) or "none"),
        ("Runtime", f"LiteRT {runtime['version']}" + (" (a trimmed build)" if "ops" in runtime else "")),
        ("Power", slug_words(str(profile["power"]))),
        ("Network", slug_words(str(profile["network"]))),
    ]
    if "memory_share" in profile:
        rows.append(("Memory a model may use", f"{float(profile['memory_share']) * 100:g}% of RAM"))
    return rows
