"""What selection returns: the choice, the rejections, budgets and plans."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from ..errors import UsageError
from ..model import DeviceProfile, Variant
from .latency import Estimate
from .policy import Policy


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

    variant: Variant
    reasons: list[str]
    others: dict[str, Rejection]
    estimates: dict[str, Estimate] = field(default_factory=dict)

    @property
    def variant_id(self) -> str:
        return self.variant.id

    def to_json(self) -> dict[str, Any]:
        """The choice as JSON: what the registry's resolve endpoint and ``--json`` print."""
        return {
            "variant": self.variant_id,
            "file": self.variant.file,
            "sha256": self.variant.sha256,
            "size": self.variant.size,
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
    def for_profile(cls, profile: DeviceProfile | Mapping[str, Any], policy: Policy) -> Budget:
        """The policy's share of the device's free storage; no memory budget."""
        return cls(storage_mb=policy.storage_share * DeviceProfile.of(profile).free_storage_mb)


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
