"""Policies: what a device optimizes (an objective within a latency budget or an accuracy floor)
and the preset policies by device."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from ..errors import UsageError
from ..model import DeviceProfile

OBJECTIVES = ("best-accuracy", "smallest", "fastest")


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


def policy_for_device(profile: DeviceProfile | Mapping[str, Any]) -> tuple[str, Policy, str]:
    """The preset a device gets when the app names none: ``(name, policy, why)``.

    Offline or metered devices and devices with under 1 GB free storage get
    ``smallest-download``; battery devices with at most 4 GB of RAM get ``smallest`` (they
    hold many subjects' models, and at these sizes every variant answers far inside any
    latency budget); the others get ``best-accuracy``. An app overrides it with its own policy.
    """
    profile = DeviceProfile.of(profile)
    network, power = profile.network, profile.power
    if network in ("offline", "metered") or profile.free_storage_mb < 1024:
        why = f"{network} network" if network in ("offline", "metered") else "under 1 GB free storage"
        return "smallest-download", POLICIES["smallest-download"], f"default for a device with {why}"
    if power == "battery" and profile.ram_mb <= 4096:
        return "smallest", POLICIES["smallest"], "default for a battery device with at most 4 GB of RAM"
    return "best-accuracy", POLICIES["best-accuracy"], "default for a device with room to spare"
