"""Choosing the variant of a model that suits a device, and a set of models that fits a budget.

Selection is a pure function of a manifest, a device profile (:mod:`registry.core.profiles`)
and a :class:`Policy`. It works in two steps:

1. **Hard constraints.** A variant is *rejected* when the device's runtime is older than
   ``requirements.min_runtime_version``, when the runtime lists its operators and lacks one the
   variant uses, when the variant needs a custom operator the runtime does not register, when
   it runs only with a delegate the device lacks, when its run-time memory exceeds the share
   of RAM a model may use, or when its file exceeds the share of free storage it may take.
2. **The policy.** Among the variants left, the policy's objective decides: the most accurate
   within a latency budget, the smallest within an accuracy floor, or the fastest within it.
   The others *lost*, each with the sentence that says why.

Latency is never guessed from file size: the estimate scales each variant's measured p50 (see
:func:`estimate_latency_us`). Quantities a person reads are in binary units (1 MB = 2^20 bytes,
like the ``*_mb`` fields of manifests and profiles); latencies are in microseconds.

The chosen variant is never *dominated*: no other variant that passes the hard constraints is
at least as accurate, at most as large and at most as slow, and strictly better in one of the
three. The ranking guarantees it (every ranking key orders by those three quantities) and
:func:`select` asserts it.

:func:`select_many` chooses at most one variant per model so that a catalog fits a storage
(and optionally a memory) budget with the largest total value.
"""

from __future__ import annotations

import bisect
import math
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal, NamedTuple

from .errors import NoCompatibleVariantError, UsageError
from .units import MB, format_bytes, format_mb

__all__ = [
    "DEFAULT_FORMAT_FACTORS",
    "OBJECTIVES",
    "POLICIES",
    "Budget",
    "Choice",
    "Estimate",
    "FormatFactor",
    "Plan",
    "Policy",
    "Rejection",
    "estimate_latency_us",
    "select",
    "select_many",
]

OBJECTIVES = ("best-accuracy", "smallest", "fastest")
_CPU_DELEGATES = frozenset({"cpu", "xnnpack"})
_EPSILON = 1e-9  # tolerance when comparing accuracy points computed from fractions


# ---------------------------------------------------------------------------------------------
# Latency model


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


def estimate_latency_us(variant: Mapping[str, Any], profile: Mapping[str, Any]) -> float:
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
    the CPU. Raises :class:`KeyError` for a variant or profile missing the fields the schemas
    require.
    """
    return _estimate(variant, profile).latency_us


def _format_factor(scheme: str, profile: Mapping[str, Any]) -> tuple[float, str]:
    own = profile["cpu"].get("format_factors", {})
    if scheme in own:
        return float(own[scheme]), "the device profile's figure"
    family = _CPU_FAMILY.get(profile["abi"], "")
    default = DEFAULT_FORMAT_FACTORS.get(family, {}).get(scheme)
    if default is not None:
        return default.value, f"the {family} default"
    return 1.0, "no correction"


def _estimate(variant: Mapping[str, Any], profile: Mapping[str, Any]) -> Estimate:
    bench = variant["benchmarks"]
    p50 = float(bench["latency_us_p50"])
    speed = float(profile["cpu"]["speed_factor"])
    scheme = variant["recipe"]["quantization"]
    threads = int(bench.get("threads", 1))
    cores = int(profile["cpu"]["cores"])
    machine = bench.get("machine", {}).get("cpu", "the reference machine")
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
    requirements = variant.get("requirements", {})
    if "min_ram_mb" in requirements:
        memory = float(requirements["min_ram_mb"])
    else:
        memory = (variant["size"] + bench["peak_memory_bytes"]) / MB
    return Estimate(p50 * speed * factor * spread, memory, tuple(notes))


# ---------------------------------------------------------------------------------------------
# Policy


@dataclass(frozen=True)
class Policy:
    """What an app prefers once the hard constraints are met. Policies are data: an app can
    override any field (:meth:`from_dict`), and :data:`POLICIES` holds named presets.

    - ``objective``: ``best-accuracy`` (the most accurate variant within ``latency_budget_us``;
      ties go to the smaller, then the faster), ``smallest`` or ``fastest`` (within the
      accuracy floor; ties go to the more accurate, then the faster or smaller).
    - ``latency_budget_us``: estimated single-inference time a variant may take on the device.
      When no variant that fits the device meets it, the fastest one is chosen and the reasons
      say so: a budget ranks variants, it never leaves a device without a model.
    - ``accuracy_floor``: an absolute metric value a variant must reach (for a lower-is-better
      metric, must not exceed); or ``max_drop_points``: how many points (percentage points
      for fractions) a variant may lose against the best variant of the manifest, whether or
      not that one fits the device (so the floor is the same on every device). When no
      variant that fits meets the floor, the most accurate one that fits is chosen.
    - ``memory_share``: share of the device's RAM one model may use at run time, unless the
      device profile sets its own ``memory_share``.
    - ``storage_share``: share of the device's free storage one model file may take.
    - ``prefer_accelerators``: among variants equal in accuracy, size and speed, prefer one
      whose delegates include an accelerator of the device.
    - ``size_measure``: what "size" ranks by: ``file`` (bytes on the device) or ``download``
      (the gzip size: bytes over a metered or slow network and in compressed bundles, where
      pruning and clustering pay off). The storage constraint always uses the file size.

    Raises :class:`UsageError` for values outside these ranges.
    """

    objective: str = "best-accuracy"
    latency_budget_us: float | None = None
    accuracy_floor: float | None = None
    max_drop_points: float | None = None
    memory_share: float = 0.25
    storage_share: float = 0.5
    prefer_accelerators: bool = True
    size_measure: str = "file"

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise UsageError(f"policy objective {self.objective!r} is not one of {', '.join(OBJECTIVES)}")
        _check_number("latency_budget_us", self.latency_budget_us, low=0, optional=True)
        _check_number("accuracy_floor", self.accuracy_floor, optional=True)
        _check_number("max_drop_points", self.max_drop_points, low=0, inclusive=True, optional=True)
        if self.accuracy_floor is not None and self.max_drop_points is not None:
            raise UsageError("a policy takes accuracy_floor or max_drop_points, not both")
        _check_number("memory_share", self.memory_share, low=0, high=1)
        _check_number("storage_share", self.storage_share, low=0, high=1)
        if self.size_measure not in ("file", "download"):
            raise UsageError(f"policy size_measure must be 'file' or 'download', got {self.size_measure!r}")
        if not isinstance(self.prefer_accelerators, bool):
            raise UsageError(f"policy prefer_accelerators must be true or false, got {self.prefer_accelerators!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Policy:
        """Build a policy from JSON-like data. ``"preset"`` names a base in :data:`POLICIES`
        (default: the field defaults); the other keys override its fields.

        Raises :class:`UsageError` for an unknown key, an unknown preset or a bad value.
        """
        if not isinstance(data, Mapping):
            raise UsageError(f"a policy must be an object, got {type(data).__name__}")
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - {*known, "preset"})
        if unknown:
            raise UsageError(
                f"unknown policy key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                f"expected: preset, {', '.join(known)}"
            )
        values: dict[str, Any] = {}
        if "preset" in data:
            preset = data["preset"]
            if not isinstance(preset, str) or preset not in POLICIES:
                raise UsageError(f"unknown policy preset {preset!r}; presets: {', '.join(POLICIES)}")
            values = POLICIES[preset].to_dict()
            if "accuracy_floor" in data:  # an explicit floor replaces the preset's
                values["max_drop_points"] = None
            if "max_drop_points" in data:
                values["accuracy_floor"] = None
        values.update({k: v for k, v in data.items() if k != "preset"})
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The policy as JSON-ready data; :meth:`from_dict` reads it back to an equal policy."""
        return asdict(self)


def _check_number(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    inclusive: bool = False,
    optional: bool = False,
) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UsageError(f"policy {name} must be a number, got {value!r}")
    if low is not None and (value < low if inclusive else value <= low):
        raise UsageError(f"policy {name} must be {'at least' if inclusive else 'more than'} {low:g}, got {value!r}")
    if high is not None and value > high:
        raise UsageError(f"policy {name} must be at most {high:g}, got {value!r}")


POLICIES: Mapping[str, Policy] = {
    # 50 ms: a reply to a tap or a pen stroke within a tenth of a second, with room for the
    # app's own pre- and post-processing.
    "best-accuracy": Policy("best-accuracy", latency_budget_us=50_000.0),
    # 2 points: the accuracy loss a quantized or distilled variant may trade for size; one test
    # image of a 360-image held-out set is already 0.28 points.
    "smallest": Policy("smallest", max_drop_points=2.0),
    # The same floor: without one, "fastest" would pick any tiny variant however poor.
    "fastest": Policy("fastest", max_drop_points=2.0),
    # For devices that download over a metered network or load from compressed bundles.
    "smallest-download": Policy("smallest", max_drop_points=2.0, size_measure="download"),
}


def policy_for_device(profile: Mapping[str, Any]) -> tuple[str, Policy, str]:
    """The preset a device gets when the app names none: ``(name, policy, why)``.

    Offline or metered devices and devices with under 1 GB free storage get
    ``smallest-download``; battery devices with at most 4 GB of RAM get ``smallest`` (they
    hold many subjects' models, and at these sizes every variant answers far inside any
    latency budget); the others get ``best-accuracy``. An app overrides it with its own policy.
    """
    network, power = profile.get("network"), profile.get("power")
    if network in ("offline", "metered") or profile["free_storage_mb"] < 1024:
        why = f"{network} network" if network in ("offline", "metered") else "under 1 GB free storage"
        return "smallest-download", POLICIES["smallest-download"], f"default for a device with {why}"
    if power == "battery" and profile["ram_mb"] <= 4096:
        return "smallest", POLICIES["smallest"], "default for a battery device with at most 4 GB of RAM"
    return "best-accuracy", POLICIES["best-accuracy"], "default for a device with room to spare"


# ---------------------------------------------------------------------------------------------
# Results


class Rejection(NamedTuple):
    """Why a variant was not chosen: ``rejected`` (the device cannot run it) or ``lost``
    (it runs, but the policy preferred another)."""

    kind: Literal["rejected", "lost"]
    reason: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.reason}"


@dataclass(frozen=True)
class Choice:
    """The chosen variant, the sentences that justify it, and why every other variant lost or
    was rejected (by variant id). ``estimates`` holds latency and memory for every variant."""

    variant: dict[str, Any]
    reasons: list[str]
    others: dict[str, Rejection]
    estimates: dict[str, Estimate] = field(default_factory=dict)

    @property
    def variant_id(self) -> str:
        return str(self.variant["id"])

    def to_json(self) -> dict[str, Any]:
        """The choice as JSON: what the registry's resolve endpoint and ``--json`` print."""
        return {
            "variant": self.variant_id,
            "file": self.variant["file"],
            "sha256": self.variant["sha256"],
            "size": self.variant["size"],
            "reasons": list(self.reasons),
            "others": {vid: {"kind": r.kind, "reason": r.reason} for vid, r in self.others.items()},
            "estimates": {
                vid: {"latency_us": round(e.latency_us, 3), "memory_mb": round(e.memory_mb, 3)}
                for vid, e in self.estimates.items()
            },
        }

    def explain(self) -> str:
        """The choice as text: the variant, its reasons, then each other variant."""
        lines = [f"chose {self.variant_id}:"] + [f"  - {r}" for r in self.reasons]
        lines += [f"  {vid}: {rejection}" for vid, rejection in self.others.items()]
        return "\n".join(lines)


@dataclass(frozen=True)
class Budget:
    """What a plan of several models may take on one device: ``storage_mb`` for all files
    together, and optionally ``memory_mb`` for all models loaded at once."""

    storage_mb: float
    memory_mb: float | None = None

    def __post_init__(self) -> None:
        for name, value in (("storage_mb", self.storage_mb), ("memory_mb", self.memory_mb)):
            if value is None and name == "memory_mb":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
                raise UsageError(f"budget {name} must be a number of MB, at least 0, got {value!r}")

    @classmethod
    def for_profile(cls, profile: Mapping[str, Any], policy: Policy) -> Budget:
        """The policy's share of the device's free storage; no memory budget."""
        return cls(storage_mb=policy.storage_share * profile["free_storage_mb"])


@dataclass(frozen=True)
class Plan:
    """The variants :func:`select_many` put on a device.

    ``choices`` maps each model in the plan to its :class:`Choice` (in the order given);
    ``left_out`` maps every other model to the sentence that says why it is not in the plan.
    Totals are over the chosen variants: file bytes, run-time memory (MB) and value.
    """

    choices: dict[str, Choice]
    left_out: dict[str, str]
    total_size: int
    total_memory_mb: float
    total_value: float
    budget: Budget


# ---------------------------------------------------------------------------------------------
# Evaluating variants against a device


@dataclass(frozen=True)
class _Candidate:
    variant: dict[str, Any]
    id: str
    size: int
    value: float  # the metric as measured
    higher: bool  # the metric's higher_is_better
    quality: float  # the metric oriented so that higher is better
    estimate: Estimate
    problems: tuple[str, ...]  # hard constraints it breaks; empty when it can run
    suits: tuple[str, ...]  # accelerators of the device among its delegates
    fastest_us: float | None = None  # the manifest's fastest estimate on this device (speed_class)
    speed_cls: int | None = None  # speed_class(latency, fastest_us), computed once by _anchor

    @property
    def latency(self) -> float:
        return self.estimate.latency_us

    @property
    def speed(self) -> int:
        """The latency at the resolution it is measured with: see :func:`speed_class`."""
        if self.speed_cls is not None:
            return self.speed_cls
        return speed_class(self.latency, self.latency if self.fastest_us is None else self.fastest_us)


# Single-thread medians of one model repeat within about 8% from run to run on the reference
# machine (shared/notes/optimization.md): latencies closer than that are the same speed.
LATENCY_NOISE = 0.08


def speed_class(latency_us: float, fastest_us: float) -> int:
    """Latency in steps of 8% above the fastest variant of the manifest on the same device
    (class 0: within 8% of the fastest). Variants in one class are equally fast: ranking,
    dominance and the latency budget compare classes, so timing noise between two builds of
    the same network never decides a choice (exact ties then go to the variant id)."""
    ratio = max(latency_us, 1e-9) / max(fastest_us, 1e-9)
    return max(0, math.floor(math.log(ratio) / math.log1p(LATENCY_NOISE) + 1e-9))


def _anchor(candidates: list[_Candidate]) -> list[_Candidate]:
    fastest = min((c.latency for c in candidates), default=0.0)
    return [replace(c, fastest_us=fastest, speed_cls=speed_class(c.latency, fastest)) for c in candidates]


@dataclass(frozen=True)
class _Device:
    """A profile's limits under a policy, with the words that explain them."""

    profile: Mapping[str, Any]
    memory_mb: float
    memory_text: str
    storage_bytes: float
    storage_text: str
    size_measure: str = "file"

    @classmethod
    def of(cls, profile: Mapping[str, Any], policy: Policy) -> _Device:
        share = float(profile.get("memory_share", policy.memory_share))
        ram = profile["ram_mb"]
        free = profile["free_storage_mb"]
        return cls(
            profile=profile,
            memory_mb=share * ram,
            memory_text=f"{format_mb(share * ram)} a model may use ({_pct(share)} of {format_mb(ram)} RAM)",
            storage_bytes=policy.storage_share * free * MB,
            storage_text=f"{format_bytes(policy.storage_share * free * MB)} it may take "
            f"({_pct(policy.storage_share)} of {format_mb(free)} free storage)",
            size_measure=policy.size_measure,
        )

    @property
    def label(self) -> str:
        return str(self.profile.get("id", "this device"))

    @property
    def runtime(self) -> str:
        return str(self.profile["runtime"]["version"])


def _version(text: str) -> tuple[int, ...]:
    parts = tuple(int(p) for p in str(text).split("."))
    return parts + (0,) * (3 - len(parts))


def _plural(word: str, items: Sequence[str]) -> str:
    return f"{word}{'s' if len(items) != 1 else ''} {', '.join(items)}"


def _evaluate(variant: dict[str, Any], device: _Device, *, check_storage: bool = True) -> _Candidate:
    profile = device.profile
    estimate = _estimate(variant, profile)
    requirements = variant.get("requirements", {})
    runtime = profile["runtime"]
    problems: list[str] = []

    needed = requirements.get("min_runtime_version", "0.0")
    if _version(needed) > _version(device.runtime):
        problems.append(f"needs LiteRT {needed}, the device has {device.runtime}")
    if "ops" in runtime:
        missing = sorted(set(requirements.get("builtin_ops", [])) - set(runtime["ops"]))
        if missing:
            problems.append(f"uses builtin {_plural('op', missing)}, which the device's runtime does not include")
    custom = sorted(set(requirements.get("custom_ops", [])) - set(runtime.get("custom_ops", [])))
    if custom:
        problems.append(f"needs custom {_plural('op', custom)}, which the device's runtime does not register")
    delegates = list(requirements.get("delegates", ["cpu"]))
    accelerators = set(profile.get("accelerators", []))
    suits = tuple(d for d in delegates if d in accelerators)
    if not _CPU_DELEGATES & set(delegates) and not suits:
        problems.append(f"runs only with the {_plural('delegate', delegates)}, which the device lacks")
    if estimate.memory_mb > device.memory_mb + _EPSILON:
        problems.append(f"needs {format_mb(estimate.memory_mb)} of RAM at run time, more than the {device.memory_text}")
    size = int(variant["size"])
    if check_storage and size > device.storage_bytes:
        problems.append(f"the file is {format_bytes(size)}, more than the {device.storage_text}")

    metrics = variant["metrics"]
    value = float(metrics["value"])
    higher = bool(metrics.get("higher_is_better", True))
    quality = value if higher else -value
    # Ranking and dominance use the policy's size measure; the storage check above used the file.
    ranked_size = int(variant.get("gzip_size", size)) if device.size_measure == "download" else size
    return _Candidate(
        variant, str(variant["id"]), ranked_size, value, higher, quality, estimate, tuple(problems), suits
    )


@dataclass(frozen=True)
class _Ranking:
    """Orders variants for one manifest under one policy; every key is fixed per variant, so
    removing a variant that was not chosen never changes the choice."""

    policy: Policy
    best: _Candidate  # the most accurate variant of the manifest, runnable or not
    scale: float  # points per metric unit: 100 for fractions
    metric: str

    @classmethod
    def of(cls, candidates: Sequence[_Candidate], policy: Policy) -> _Ranking:
        best = max(candidates, key=lambda c: (c.quality, -c.size, -c.speed))
        fractions = all(0.0 <= c.value <= 1.0 for c in candidates)
        metric = str(candidates[0].variant["metrics"].get("name", "accuracy"))
        return cls(policy, best, 100.0 if fractions else 1.0, metric)

    def points(self, a: _Candidate, b: _Candidate) -> float:
        """How many points better ``a`` is than ``b`` (negative when worse)."""
        return (a.quality - b.quality) * self.scale

    def meets_floor(self, c: _Candidate) -> bool:
        p = self.policy
        if p.accuracy_floor is not None:
            floor = p.accuracy_floor if c.higher else -p.accuracy_floor
            return c.quality >= floor - _EPSILON
        if p.max_drop_points is not None:
            return self.points(self.best, c) <= p.max_drop_points + _EPSILON
        return True

    def meets_budget(self, c: _Candidate) -> bool:
        budget = self.policy.latency_budget_us
        if budget is None or c.latency <= budget:
            return True
        # Within measurement noise of a budget that some variant meets counts as meeting it.
        fastest = c.latency if c.fastest_us is None else c.fastest_us
        return budget >= fastest and c.speed <= speed_class(budget, fastest)

    def tier(self, c: _Candidate) -> int:
        """0: meets the floor and the budget; 1: meets the floor only; 2: below the floor."""
        if not self.meets_floor(c):
            return 2
        return 0 if self.meets_budget(c) else 1

    def objective(self, tier: int) -> str:
        return (self.policy.objective, "fastest", "best-accuracy")[tier]

    def key(self, c: _Candidate) -> tuple:
        tier = self.tier(c)
        objective = self.objective(tier)
        if objective == "best-accuracy":
            main: tuple = (-c.quality, c.size, c.speed)
        elif objective == "smallest":
            main = (c.size, -c.quality, c.speed)
        else:
            main = (c.speed, -c.quality, c.size)
        accelerated = 0 if (self.policy.prefer_accelerators and c.suits) else 1
        return (tier, *main, accelerated, c.id)

    # -- sentences --------------------------------------------------------------------------

    def less_accurate(self, points: float) -> str:
        return f"{points:.2f} points less accurate" if self.metric == "accuracy" else f"{points:.2f} points worse"

    def floor_text(self) -> str:
        p = self.policy
        if p.accuracy_floor is not None:
            return f"the {self.metric} floor of {p.accuracy_floor:g}"
        if p.max_drop_points is not None:
            return f"{p.max_drop_points:g} points of the best variant ({self.best.id}, {self.value(self.best)})"
        return "no floor"

    def value(self, c: _Candidate) -> str:
        return f"{self.metric} {c.value:.4f}" if self.scale == 100.0 else f"{self.metric} {c.value:.4g}"

    def why_tier(self, c: _Candidate) -> str:
        """Why ``c`` is in a worse tier than the chosen variant."""
        if not self.meets_floor(c):
            if self.policy.accuracy_floor is not None:
                return f"{self.value(c)} does not reach {self.floor_text()}"
            drop = self.points(self.best, c)
            return (
                f"{self.less_accurate(drop)} than the best variant ({self.best.id}), "
                f"more than the {self.policy.max_drop_points:g} allowed"
            )
        return f"est. {_us(c.latency)} > budget {_us(self.policy.latency_budget_us or 0.0)}"

    def versus(self, loser: _Candidate, chosen: _Candidate, objective: str | None = None) -> str:
        """Why ``loser`` lost to ``chosen``, which ranks before it on ``objective`` (by default
        the objective of the chosen variant's tier)."""
        objective = objective or self.objective(self.tier(chosen))
        size = f"{_ratio(loser.size / chosen.size)} the size" if chosen.size else format_bytes(loser.size)
        time = f"{_ratio(loser.latency / chosen.latency)} the time" if chosen.latency else _us(loser.latency)
        points = self.points(chosen, loser)
        worse = {  # how the loser is worse than the chosen variant, on each criterion
            "accuracy": points > _EPSILON,
            "size": loser.size > chosen.size,
            "time": loser.speed > chosen.speed,
        }
        lead = {
            "accuracy": f"{self.less_accurate(points)} than {chosen.id} at {size}",
            "size": f"{size} of {chosen.id} ({format_bytes(loser.size)} vs {format_bytes(chosen.size)})",
            "time": f"est. {_us(loser.latency)}, {time} of {chosen.id} ({_us(chosen.latency)})",
        }
        then = {
            "accuracy": self.less_accurate(points),
            "size": f"{size} ({format_bytes(loser.size)} vs {format_bytes(chosen.size)})",
            "time": f"slower (est. {_us(loser.latency)} vs {_us(chosen.latency)})",
        }
        same = {"accuracy": "as accurate", "size": "as small", "time": "as fast"}
        order = {
            "best-accuracy": ("accuracy", "size", "time"),
            "smallest": ("size", "accuracy", "time"),
            "fastest": ("time", "accuracy", "size"),
        }[objective]
        for i, criterion in enumerate(order):
            if not worse[criterion]:
                continue
            if i == 0:
                return lead[criterion]
            return f"{' and '.join(same[c] for c in order[:i])} as {chosen.id}, but {then[criterion]}"
        return f"ties with {chosen.id} on {self.metric}, size and speed; {chosen.id} comes first" + (
            f" (it suits the device's {', '.join(chosen.suits)})" if chosen.suits and not loser.suits else " by id"
        )


def _dominates(a: _Candidate, b: _Candidate) -> bool:
    at_least = a.quality >= b.quality and a.size <= b.size and a.speed <= b.speed
    return at_least and (a.quality > b.quality or a.size < b.size or a.speed < b.speed)


def _io_note(variant: Mapping[str, Any]) -> str | None:
    io = variant.get("io")
    if not io:
        return None
    quantized = [t for side in ("inputs", "outputs") for t in io.get(side, []) if t.get("dtype") != "float32"]
    if not quantized:
        return None
    parts = []
    for side, verb in (("inputs", "quantize inputs"), ("outputs", "dequantize outputs")):
        tensors = [t for t in io.get(side, []) if t.get("dtype") != "float32"]
        if tensors:
            t = tensors[0]
            q = t.get("quantization")
            how = f" with scale {q['scale']:.6g} and zero point {q['zero_point']}" if q else ""
            parts.append(f"{verb} ({t['dtype']}){how}")
    return "takes quantized tensors, which every device accepts: the app must " + " and ".join(parts) + " (see io)"


def _fit_sentence(c: _Candidate, device: _Device, *, storage: str | None = None) -> str:
    needed = c.variant.get("requirements", {}).get("min_runtime_version", "0.0")
    where = storage if storage is not None else f"of the {device.storage_text}"
    return (
        f"runs on {device.label}: needs LiteRT {needed} (device has {device.runtime}), "
        f"{format_mb(c.estimate.memory_mb)} of the {device.memory_text}, a {format_bytes(c.size)} file {where}"
    )


def _latency_sentence(c: _Candidate) -> str:
    return f"est. {_us(c.latency)} on this device = " + " ".join(c.estimate.notes)


def _chosen_sentence(c: _Candidate, ranking: _Ranking, tied: int) -> str:
    tier = ranking.tier(c)
    policy = ranking.policy
    has_floor = policy.accuracy_floor is not None or policy.max_drop_points is not None
    if tier == 0:
        one = tied == 1
        conditions = ["runs here" if one else "run here"]
        if policy.latency_budget_us is not None:
            conditions.append(f"{'meets' if one else 'meet'} the {_us(policy.latency_budget_us)} budget")
        if has_floor:
            conditions.append(f"{'is' if one else 'are'} within {ranking.floor_text()}")
        scope = f"{'the only variant' if one else f'the {tied} variants'} that {' and '.join(conditions)}"
        figures = {
            "best-accuracy": f"{ranking.value(c)}, est. {_us(c.latency)}, {format_bytes(c.size)}",
            "smallest": f"{format_bytes(c.size)}, {ranking.value(c)}, est. {_us(c.latency)}",
            "fastest": f"est. {_us(c.latency)}, {ranking.value(c)}, {format_bytes(c.size)}",
        }[policy.objective]
        best = {"best-accuracy": "most accurate", "smallest": "smallest", "fastest": "fastest"}[policy.objective]
        return f"{scope}: {figures}" if one else f"{best} of {scope}: {figures}"
    if tier == 1:
        among = f"of those within {ranking.floor_text()}" if has_floor else "that runs here"
        return (
            f"no variant that runs here meets the {_us(policy.latency_budget_us or 0.0)} budget; "
            f"this is the fastest {among}: est. {_us(c.latency)}"
        )
    return (
        f"no variant that runs here is within {ranking.floor_text()}; "
        f"this is the most accurate that runs here: {ranking.value(c)}"
    )


def _ident(manifest: Mapping[str, Any]) -> str:
    return f"{manifest.get('namespace', '?')}/{manifest.get('name', '?')}@{manifest.get('version', '?')}"


# ---------------------------------------------------------------------------------------------
# One model


def select(manifest: Mapping[str, Any], profile: Mapping[str, Any], policy: Policy) -> Choice:
    """Choose the variant of ``manifest`` that suits the device of ``profile`` under ``policy``.

    ``manifest`` is a validated manifest (:func:`registry.core.manifest.validate_manifest`),
    ``profile`` a validated device profile (:func:`registry.core.profiles.load_profile`).
    Hard constraints come first (see the module docstring), then the policy's objective; the
    returned :class:`Choice` says why, with numbers, for the chosen variant and every other.

    Raises :class:`NoCompatibleVariantError`, listing every variant with its reasons, when
    no variant passes the hard constraints.
    """
    device = _Device.of(profile, policy)
    candidates = _anchor([_evaluate(v, device) for v in manifest["variants"]])
    if not candidates:
        raise NoCompatibleVariantError(f"{_ident(manifest)} has no variants")
    runnable = [c for c in candidates if not c.problems]
    if not runnable:
        lines = [f"{c.id}: {'; '.join(c.problems)}" for c in candidates]
        raise NoCompatibleVariantError(
            f"no variant of {_ident(manifest)} can run on {device.label}:\n  " + "\n  ".join(lines)
        )
    ranking = _Ranking.of(candidates, policy)
    chosen = min(runnable, key=ranking.key)
    dominators = [c.id for c in runnable if _dominates(c, chosen)]
    assert not dominators, f"{chosen.id} is dominated by {dominators}"
    tier = ranking.tier(chosen)
    same_tier = sum(1 for c in runnable if ranking.tier(c) == tier)
    headline = [_fit_sentence(chosen, device), _chosen_sentence(chosen, ranking, same_tier)]
    return _choice(chosen, candidates, ranking, headline)


def _choice(
    chosen: _Candidate,
    candidates: Sequence[_Candidate],
    ranking: _Ranking,
    headline: Iterable[str],
    *,
    objective: str | None = None,
    beaten: Mapping[str, str] | None = None,
) -> Choice:
    """Assemble the reasons for ``chosen`` (after ``headline``) and the rejection of every
    other candidate. Losers in the chosen variant's tier are compared on ``objective``
    (default: the tier's); ``beaten`` holds reasons, by id, that replace the comparison.
    """
    tier = ranking.tier(chosen)
    reasons = [*headline, _latency_sentence(chosen)]
    if chosen.suits:
        reasons.append(
            f"suits the device's {', '.join(chosen.suits)} (a delegate it lists); the estimate is for the CPU"
        )
    io = _io_note(chosen.variant)
    if io:
        reasons.append(io)
    others: dict[str, Rejection] = {}
    for c in candidates:
        if c is chosen:
            continue
        if c.problems:
            others[c.id] = Rejection("rejected", "; ".join(c.problems))
        elif beaten and c.id in beaten:
            others[c.id] = Rejection("lost", beaten[c.id])
        elif ranking.tier(c) > tier:
            others[c.id] = Rejection("lost", ranking.why_tier(c))
        else:
            others[c.id] = Rejection("lost", ranking.versus(c, chosen, objective))
    estimates = {c.id: c.estimate for c in candidates}
    return Choice(chosen.variant, reasons, others, estimates)


# ---------------------------------------------------------------------------------------------
# Several models under one budget


# A partial plan, as a plain tuple because the search makes millions of them:
# (bytes, memory MB, -value, latency µs, picks), where picks is the chain of choices made so far,
# newest first: (index into the model's eligible variants or -1 for none, previous chain).
_State = tuple[int, float, float, float, Any]
_ORDER = operator.itemgetter(0, 1, 2, 3)


class _Totals(NamedTuple):
    """The best plan found: its totals and one pick per model (-1 for none)."""

    value: float
    size: int
    memory: float
    picks: list[int]


class _Model(NamedTuple):
    id: str
    candidates: list[_Candidate]
    ranking: _Ranking | None
    eligible: list[_Candidate]  # runnable, in the model's best tier, in ranking order
    weight: float

    def utility(self, c: _Candidate) -> float:
        return self.weight * (c.value if c.higher else 1.0 - c.value)


def _pareto(states: list[_State], track_memory: bool) -> list[_State]:
    """Keep the states no other state beats (no less value, no more bytes, and no more
    memory when a memory budget applies).

    A dropped state can never lead to the best plan: whatever the remaining models add to it,
    adding the same to the state that beats it gives a plan at least as good on the plan's
    order (value, then bytes, memory, latency, then the order states were made in, which is
    deterministic). The stable sort puts, among states that beat one another, the one that
    comes first in that order first, so every state is compared only with the states kept
    before it, which are no larger.
    """
    states.sort(key=_ORDER)
    kept: list[_State] = []
    if not track_memory:
        best = math.inf  # lowest -value so far
        for s in states:
            if s[2] < best:
                kept.append(s)
                best = s[2]
        return kept
    # The kept states' (memory, -value) staircase: memory ascending, -value strictly
    # descending, so the best value within a memory bound is at the last step at or below it.
    memories: list[float] = []
    negated: list[float] = []
    for s in states:
        memory, neg_value = s[1], s[2]
        below = bisect.bisect_right(memories, memory)
        if below and negated[below - 1] <= neg_value:
            continue
        kept.append(s)
        i = j = bisect.bisect_left(memories, memory)
        while j < len(memories) and negated[j] >= neg_value:
            j += 1
        memories[i:j] = [memory]
        negated[i:j] = [neg_value]
    return kept


def _search(models: Sequence[_Model], storage_cap: float, memory_cap: float | None) -> _Totals:
    """The most valuable plan within the caps (see :func:`select_many` for the algorithm)."""
    # What the models after each one could add at most, budgets aside: a state that cannot
    # reach the value of a plan already known (a greedy one, or a state), even with all of
    # it, is dropped.
    floor = _greedy_value(models, storage_cap, memory_cap)
    rest = [0.0] * (len(models) + 1)
    for i in range(len(models) - 1, -1, -1):
        rest[i] = rest[i + 1] + max([0.0, *(models[i].utility(c) for c in models[i].eligible)])
    states: list[_State] = [(0, 0.0, -0.0, 0.0, None)]
    for i, m in enumerate(models):
        options = [(c.size, c.estimate.memory_mb, m.utility(c), c.latency) for c in m.eligible]
        grown: list[_State] = [
            (size, memory, neg, latency, (-1, picks)) for size, memory, neg, latency, picks in states
        ]
        for size, memory, neg, latency, picks in states:
            for j, (o_size, o_memory, o_value, o_latency) in enumerate(options):
                total = size + o_size
                used = memory + o_memory
                if total > storage_cap or (memory_cap is not None and used > memory_cap + _EPSILON):
                    continue
                grown.append((total, used, neg - o_value, latency + o_latency, (j, picks)))
        floor = max(floor, -min(s[2] for s in grown))
        reachable = -floor + rest[i + 1] + _EPSILON  # as -value
        states = _pareto([s for s in grown if s[2] <= reachable], memory_cap is not None)
    best = min(states, key=lambda s: (s[2], s[0], s[1], s[3]))
    chain, order = best[4], []
    while chain is not None:
        order.append(chain[0])
        chain = chain[1]
    return _Totals(-best[2], best[0], best[1], order[::-1])


def _greedy_value(models: Sequence[_Model], storage_cap: float, memory_cap: float | None) -> float:
    """The value of a good plan found quickly: from an empty plan, repeatedly make the change
    (add a model's variant, or swap it for a more valuable one) that gains the most value for
    the extra share of the budget it takes, and still fits."""
    picked: list[_Candidate | None] = [None] * len(models)
    size, memory, value = 0, 0.0, 0.0
    while True:
        best: tuple[float, int, _Candidate] | None = None
        for i, m in enumerate(models):
            current = picked[i]
            for c in m.eligible:
                gain = m.utility(c) - (m.utility(current) if current else 0.0)
                extra = c.size - (current.size if current else 0)
                extra_memory = c.estimate.memory_mb - (current.estimate.memory_mb if current else 0.0)
                if gain <= _EPSILON or size + extra > storage_cap:
                    continue
                if memory_cap is not None and memory + extra_memory > memory_cap + _EPSILON:
                    continue
                # The extra share of the scarcer budget the change takes.
                cost = extra / max(storage_cap, 1.0)
                if memory_cap is not None:
                    cost = max(cost, extra_memory / max(memory_cap, _EPSILON))
                rate = gain / max(cost, _EPSILON)
                if best is None or rate > best[0]:
                    best = (rate, i, c)
        if best is None:
            return value
        _, i, c = best
        current = picked[i]
        size += c.size - (current.size if current else 0)
        memory += c.estimate.memory_mb - (current.estimate.memory_mb if current else 0.0)
        value += models[i].utility(c) - (models[i].utility(current) if current else 0.0)
        picked[i] = c


def select_many(
    items: Sequence[tuple[str, Mapping[str, Any]]],
    profile: Mapping[str, Any],
    budget: Budget,
    policy: Policy,
    *,
    weights: Mapping[str, float] | None = None,
) -> Plan:
    """Choose at most one variant per model so that the plan fits ``budget`` on the device
    and its total value is the largest possible.

    ``items`` are (model id, manifest) pairs. The value of a variant is the model's weight
    (``weights``, default 1) times its metric value (for a lower-is-better metric measured as
    a fraction, 1 - value). Each model's variants first pass the hard constraints of
    :func:`select` (the file size is checked against the budget instead of the device's
    storage share), then the policy's floor and latency budget: only the variants of a model
    in its best tier (see :class:`Policy`) compete. The files together must fit
    ``budget.storage_mb``; with ``budget.memory_mb``, the models' run-time memory together
    must fit it too. Among plans of equal value the smaller, then the leaner in memory, then
    the faster wins. The policy's objective does not apply: the plan maximises value.

    Algorithm: an exact multiple-choice knapsack by dynamic programming over the models. The
    state after the first i models is a set of partial plans (value, bytes, memory); each
    model extends every state by each of its variants or by nothing. Two rules drop states
    that cannot lead to the best plan: a state beaten by another (no more bytes and memory,
    no less value), and a state whose value, plus the most every later model could add,
    stays below a plan already known (a greedy plan computed first, or a better state).
    Sizes are exact bytes, not rounded to a grid, so a plan that fits to the byte is found.
    With k_i variants for model i and F states kept, a step builds F' = F x (k_i + 1) states
    and sorts them, O(F' log F'), then prunes them in O(F') (O(F' log F') with a memory
    budget). F is at most the number of distinct total sizes (and memories) under the
    budget, and at most the product of (k_j + 1) over the models so far. Measured on the
    2-vCPU reference machine, 40 models of 6 variants each take 0.01-0.25 s with a storage
    budget and up to 2 s with a memory budget as well (the states then spread over two
    dimensions).

    Raises :class:`UsageError` for repeated model ids, weights of unknown models or weights
    that are not positive, and for a lower-is-better metric that is not a fraction (its value
    cannot be added up).
    """
    ids = [model_id for model_id, _ in items]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise UsageError(f"models listed more than once: {', '.join(repeated)}")
    weights = dict(weights or {})
    unknown = sorted(set(weights) - set(ids))
    if unknown:
        raise UsageError(f"weights given for models not in the plan: {', '.join(unknown)}")
    for model_id, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight < math.inf:
            raise UsageError(f"weight of {model_id} must be a number > 0, got {weight!r}")

    # The budget is bytes on the device: sizes are file sizes here, whatever the policy ranks by.
    device = _Device.of(profile, replace(policy, size_measure="file"))
    storage_cap = budget.storage_mb * MB
    memory_cap = budget.memory_mb
    storage_text = f"the plan's {format_bytes(storage_cap)} storage budget"
    memory_text = f"the plan's {format_mb(memory_cap or 0.0)} memory budget"

    models: list[_Model] = []
    for model_id, manifest in items:
        candidates = []
        for variant in manifest["variants"]:
            c = _evaluate(variant, device, check_storage=False)
            extra = []
            if c.size > storage_cap:
                extra.append(f"the file is {format_bytes(c.size)}, more than {storage_text}")
            if memory_cap is not None and c.estimate.memory_mb > memory_cap + _EPSILON:
                extra.append(f"needs {format_mb(c.estimate.memory_mb)} of RAM at run time, more than {memory_text}")
            candidates.append(replace(c, problems=c.problems + tuple(extra)) if extra else c)
        candidates = _anchor(candidates)
        ranking = _Ranking.of(candidates, policy) if candidates else None
        if ranking and ranking.scale != 100.0 and not all(c.higher for c in candidates):
            raise UsageError(f"{model_id}: a lower-is-better metric that is not a fraction cannot be added up")
        runnable = [c for c in candidates if not c.problems]
        eligible: list[_Candidate] = []
        if ranking and runnable:
            best_tier = min(ranking.tier(c) for c in runnable)
            eligible = sorted((c for c in runnable if ranking.tier(c) == best_tier), key=ranking.key)
        models.append(_Model(model_id, candidates, ranking, eligible, float(weights.get(model_id, 1.0))))

    best = _search(models, storage_cap, memory_cap)

    files = sum(1 for p in best.picks if p >= 0)
    choices: dict[str, Choice] = {}
    left_out: dict[str, str] = {}
    for m, pick in zip(models, best.picks, strict=True):
        if m.ranking is None:
            left_out[m.id] = "the manifest has no variants"
        elif not m.eligible:
            left_out[m.id] = f"no variant fits on {device.label}: " + "; ".join(
                f"{c.id}: {', '.join(c.problems)}" for c in m.candidates
            )
        elif pick < 0:
            left_out[m.id] = _left_out(m, best, storage_cap, memory_cap)
        else:
            chosen = m.eligible[pick]
            beaten = {}
            for c in m.eligible:
                if c is not chosen and m.utility(c) - m.utility(chosen) > _EPSILON:
                    over = best.size - chosen.size + c.size > storage_cap
                    beaten[c.id] = (
                        f"{m.ranking.points(c, chosen):.2f} points better than {chosen.id}, but a "
                        f"{format_bytes(c.size)} file instead of {format_bytes(chosen.size)}: "
                        "with it the plan would exceed "
                        f"{storage_text if over else memory_text}"
                    )
            headline = [
                _fit_sentence(chosen, device, storage=f"counted against {storage_text}"),
                f"in the plan with value {m.utility(chosen):.4g} (weight {m.weight:g} x "
                f"{m.ranking.value(chosen)}); "
                + ("the plan's 1 file takes " if files == 1 else f"the plan's {files} files take ")
                + f"{format_bytes(best.size)} of {storage_text}",
            ]
            choices[m.id] = _choice(chosen, m.candidates, m.ranking, headline, objective="best-accuracy", beaten=beaten)
    return Plan(choices, left_out, best.size, best.memory, best.value, budget)


def _left_out(m: _Model, plan: _Totals, storage_cap: float, memory_cap: float | None) -> str:
    """Why a model with eligible variants got none in the best plan."""
    if all(m.utility(c) <= 0 for c in m.eligible):
        return "its variants add no value to the plan (metric value 0 or less)"
    smallest = min(m.eligible, key=lambda c: (c.size, c.id))
    left = f"{format_bytes(max(storage_cap - plan.size, 0.0))} of storage"
    if memory_cap is not None:
        left += f" and {format_mb(max(memory_cap - plan.memory, 0.0))} of memory"
    count = len(m.eligible)
    return (
        (f"none of its {count} eligible variants fits" if count != 1 else "its one eligible variant does not fit")
        + f" in the {left} the plan leaves "
        f"(the smallest is {smallest.id}, {format_bytes(smallest.size)}, "
        f"{format_mb(smallest.estimate.memory_mb)} of RAM): "
        "the budget holds more value with the other models"
    )


# ---------------------------------------------------------------------------------------------
# Numbers for people


def _us(x: float) -> str:
    return f"{x:,.0f} µs" if x >= 100 else f"{x:.3g} µs"


def _pct(share: float) -> str:
    return f"{share * 100:g}%"


def _ratio(r: float) -> str:
    return f"{r:.1f}x" if r >= 0.95 else f"{r:.2f}x"
