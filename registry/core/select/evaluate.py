"""A variant against a device: the hard constraints, the ranking by the policy, and the sentences
that explain each outcome."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..model import DeviceProfile, Manifest, Variant
from ..units import MB, format_bytes, format_mb
from ._words import _pct, _ratio, _us
from .latency import Estimate, _estimate
from .policy import Policy

_EPSILON = 1e-9  # tolerance when comparing accuracy points computed from fractions

_CPU_DELEGATES = frozenset({"cpu", "xnnpack"})


@dataclass(frozen=True)
class _Candidate:
    variant: Variant
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

    profile: DeviceProfile
    memory_mb: float
    memory_text: str
    storage_bytes: float
    storage_text: str
    size_measure: str = "file"

    @classmethod
    def of(cls, profile: DeviceProfile, policy: Policy) -> _Device:
        share = float(policy.memory_share if profile.memory_share is None else profile.memory_share)
        ram = profile.ram_mb
        free = profile.free_storage_mb
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
        return self.profile.id

    @property
    def runtime(self) -> str:
        return self.profile.runtime.version


def _version(text: str) -> tuple[int, ...]:
    parts = tuple(int(p) for p in str(text).split("."))
    return parts + (0,) * (3 - len(parts))


def _plural(word: str, items: Sequence[str]) -> str:
    return f"{word}{'s' if len(items) != 1 else ''} {', '.join(items)}"


def _evaluate(variant: Variant, device: _Device, *, check_storage: bool = True) -> _Candidate:
    profile = device.profile
    estimate = _estimate(variant, profile)
    requirements = variant.requirements
    runtime = profile.runtime
    problems: list[str] = []

    needed = requirements.min_runtime_version
    if _version(needed) > _version(device.runtime):
        problems.append(f"needs LiteRT {needed}, the device has {device.runtime}")
    if runtime.ops is not None:
        missing = sorted(set(requirements.builtin_ops) - set(runtime.ops))
        if missing:
            problems.append(f"uses builtin {_plural('op', missing)}, which the device's runtime does not include")
    custom = sorted(set(requirements.custom_ops or ()) - set(runtime.custom_ops or ()))
    if custom:
        problems.append(f"needs custom {_plural('op', custom)}, which the device's runtime does not register")
    delegates = list(requirements.delegates)
    accelerators = set(profile.accelerators)
    suits = tuple(d for d in delegates if d in accelerators)
    if not _CPU_DELEGATES & set(delegates) and not suits:
        problems.append(f"runs only with the {_plural('delegate', delegates)}, which the device lacks")
    if estimate.memory_mb > device.memory_mb + _EPSILON:
        problems.append(f"needs {format_mb(estimate.memory_mb)} of RAM at run time, more than the {device.memory_text}")
    size = int(variant.size)
    if check_storage and size > device.storage_bytes:
        problems.append(f"the file is {format_bytes(size)}, more than the {device.storage_text}")

    metrics = variant.metrics
    value = float(metrics.value)
    higher = metrics.better_when_higher
    quality = metrics.quality
    # Ranking and dominance use the policy's size measure; the storage check above used the file.
    ranked_size = int(variant.download_size) if device.size_measure == "download" else size
    return _Candidate(variant, variant.id, ranked_size, value, higher, quality, estimate, tuple(problems), suits)


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
        metric = candidates[0].variant.metrics.name
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
            floor = f"{p.accuracy_floor * 100:g}%" if self.scale == 100.0 else f"{p.accuracy_floor:g}"
            return f"the {self.metric} floor of {floor}"
        if p.max_drop_points is not None:
            return f"{p.max_drop_points:g} points of the best variant ({self.best.id}, {self.value(self.best)})"
        return "no floor"

    def value(self, c: _Candidate) -> str:
        """The metric as people read it: a fraction as a percentage (``accuracy 98.06%``), as the
        web catalog and the model card print it, so one page never shows 98.06% and 0.9806."""
        return f"{self.metric} {c.value * 100:.2f}%" if self.scale == 100.0 else f"{self.metric} {c.value:.4g}"

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


def _io_note(variant: Variant) -> str | None:
    io = variant.io
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
    needed = c.variant.requirements.min_runtime_version
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


def _ident(manifest: Manifest) -> str:
    return f"{manifest.id}@{manifest.version}"
