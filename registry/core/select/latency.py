"""The latency model: a variant's measured p50 scaled to a device (its speed factor, and a factor
per CPU family and quantization scheme)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..model import DeviceProfile, Variant
from ._words import _us


@dataclass(frozen=True)
class FormatFactor:
    """An extra time multiplier for one quantization scheme on one CPU family, and its source."""

    value: float
    source: str


# CPU family -> quantization scheme -> extra multiplier on top of the device's speed_factor.
# A scheme a family does not list has factor 1.0. The factor corrects for a scheme whose cost
# relative to fp32 on the device differs from that ratio on the reference machine: whatever a
# scheme costs on the reference (x86) is already inside each variant's measured p50.
DEFAULT_FORMAT_FACTORS: Mapping[str, Mapping[str, FormatFactor]] = {
    "x86": {
        "dynamic-range": FormatFactor(
            1.0,
            "measured on the x86 reference machine: 1.5-1.9x slower than fp32 on larger models on the "
            "default XNNPACK CPU path, faster on tiny ones; that cost is already in the variant's own p50",
        ),
        "float16": FormatFactor(
            1.0, "measured on the x86 reference: float16 runs at fp32 speed on x86 CPUs, as in the p50"
        ),
    },
    "arm64": {
        "dynamic-range": FormatFactor(
            1.0,
            "not measured on ARM: the variant's own p50 carries the slowdown measured on the reference, "
            "and there is no measurement showing that the ratio to fp32 differs on ARM cores",
        ),
        "float16": FormatFactor(
            0.8,
            "estimate: ARMv8.2 and later cores with FP16 arithmetic run float16 natively under XNNPACK, "
            "where the reference ran it at fp32 speed; cores without it (Cortex-A53, Cortex-A72, Apple A10) "
            "set 1.0 in their profile",
        ),
    },
    "arm32": {
        "float16": FormatFactor(1.0, "32-bit ARM has no FP16 arithmetic: float16 runs at fp32 speed"),
    },
}
_CPU_FAMILY = {"x86_64": "x86", "x86": "x86", "arm64-v8a": "arm64", "arm64": "arm64", "armeabi-v7a": "arm32"}


@dataclass(frozen=True)
class Estimate:
    """What a variant is expected to cost on a device."""

    latency_us: float
    memory_mb: float
    notes: tuple[str, ...] = ()  # how the latency was derived, one factor each


def estimate_latency_us(variant: Variant | Mapping[str, Any], profile: DeviceProfile | Mapping[str, Any]) -> float:
    """Estimate the median single-inference time of ``variant`` on the device of ``profile``.

    The model of scaling::

        estimate = measured p50 x cpu.speed_factor x format factor [x threads / cores]

    - *measured p50*: ``benchmarks.latency_us_p50``, taken on the reference machine of the
      manifest (``benchmarks.machine``), usually with one thread.
    - *speed_factor*: how many times slower than that reference the device runs one
      single-thread fp32 or int8 inference on the XNNPACK CPU path (the profile says where
      its figure comes from).
    - *format factor*: the profile's ``cpu.format_factors[scheme]``, else
      :data:`DEFAULT_FORMAT_FACTORS` for the device's CPU family, else 1.0. It corrects for a
      quantization scheme whose cost relative to fp32 differs between the device and the
      reference (float16 is native on recent ARM cores, not on x86).
    - *threads / cores*: when the reference ran more threads than the device has cores, the
      work is assumed to spread over the cores the device has; this over-estimates when the
      reference did not scale linearly, which errs on the slow side. A reference run with
      several threads on a device with enough cores is taken as is, and noted.

    Accelerators are not modelled: no delegate latency is measured, so the estimate is for
    the CPU. ``variant`` and ``profile`` are model objects or validated documents; a document
    missing the fields the schemas require raises :class:`KeyError`.
    """
    return _estimate(Variant.of(variant), DeviceProfile.of(profile)).latency_us


def _format_factor(scheme: str, profile: DeviceProfile) -> tuple[float, str]:
    own = profile.cpu.format_factors or {}
    if scheme in own:
        return float(own[scheme]), "the device profile's figure"
    family = _CPU_FAMILY.get(profile.abi, "")
    default = DEFAULT_FORMAT_FACTORS.get(family, {}).get(scheme)
    if default is not None:
        return default.value, f"the {family} default"
    return 1.0, "no correction"


def _estimate(variant: Variant, profile: DeviceProfile) -> Estimate:
    bench = variant.benchmarks
    p50 = float(bench.latency_us_p50)
    speed = float(profile.cpu.speed_factor)
    scheme = variant.recipe.quantization
    threads = int(bench.threads)
    cores = int(profile.cpu.cores)
    machine = bench.machine.get("cpu", "the reference machine")
    notes = [
        f"{_us(p50)} measured (p50, {threads} thread{'s' if threads != 1 else ''}, {machine})",
        f"x {speed:g} device speed factor",
    ]
    factor, source = _format_factor(scheme, profile)
    if factor != 1.0:
        notes.append(f"x {factor:g} for {scheme} ({source})")
    spread = 1.0
    if threads > cores:
        spread = threads / cores
        notes.append(f"x {spread:g}: measured with {threads} threads, the device has {cores} cores")
    elif threads > 1:
        notes.append(f"measured with {threads} threads: the app must run as many to match")
    # The manifest's own figure (the zoo writes the file plus the measured peak, rounded up).
    memory = float(variant.requirements.min_ram_mb)
    return Estimate(p50 * speed * factor * spread, memory, tuple(notes))
