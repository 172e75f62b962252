"""The installation plan (``plan.json``) as typed objects: :class:`Plan` with its
:class:`PlanGroup`, :class:`InstallItem`, :class:`PlanTarget` and their parts.

``edzoo plan`` builds a :class:`Plan` (:func:`registry.schools.plan.make_plan`) and writes its
``to_dict`` with sorted keys; ``edzoo bundle`` and a device's install read it back with
``from_dict`` after their own checks (:mod:`registry.schools.bundle.planfile`). A plan that was
read writes back the keys it was read with, so a plan made by an older edzoo (without
``objective`` or ``pull_would_take``) stays byte for byte what it was.

Only the standard library; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ._record import _Record

__all__ = [
    "InstallItem",
    "NotInstalled",
    "Plan",
    "PlanBudget",
    "PlanCatalog",
    "PlanFleet",
    "PlanGroup",
    "PlanModel",
    "PlanRegistry",
    "PlanTarget",
    "PlanTotals",
    "Unavailable",
    "WithdrawnPin",
]


@dataclass(frozen=True)
class PlanTarget(_Record):
    """A file the bundle carries, as the registry signs it."""

    target: str
    sha256: str
    size: int


@dataclass(frozen=True)
class InstallItem(_Record):
    """A variant file one device of a group gets; ``pull_would_take`` is what ``edzoo pull
    --device`` would take by the group's policy alone (None: nothing runs there on its own)."""

    model: str
    version: str
    variant: str
    file: str
    target: str
    sha256: str
    size: int
    why: str
    pull_would_take: str | None = None


@dataclass(frozen=True)
class NotInstalled(_Record):
    """A catalog model a group does not get, and why."""

    model: str
    reason: str


@dataclass(frozen=True)
class PlanBudget(_Record):
    """What a group's devices offer: storage for all files, memory for all models at once."""

    storage_mb: float
    memory_mb: float | None


@dataclass(frozen=True)
class PlanGroup(_Record):
    """A group of identical devices and what each one installs. ``objective`` says what decided
    (the most accurate set within the budget), which may differ from the ``policy`` of a pull."""

    _NESTED: ClassVar[dict[str, Any]] = {
        "budget": PlanBudget,
        "install": (InstallItem,),
        "not_installed": (NotInstalled,),
    }

    id: str
    profile: str
    count: int
    labels: dict[str, str]
    policy: str
    budget: PlanBudget
    install: tuple[InstallItem, ...]
    not_installed: tuple[NotInstalled, ...]
    problems: list[str]
    bytes_per_device: int
    bytes_total: int
    value: float
    objective: str | None = None


@dataclass(frozen=True)
class PlanModel(_Record):
    """A catalog model the plan resolved: its version, priority and signed manifest."""

    model: str
    version: str
    priority: float
    required: bool
    manifest_target: str
    manifest_sha256: str
    manifest_size: int


@dataclass(frozen=True)
class Unavailable(_Record):
    """A catalog model that did not resolve, and why."""

    model: str
    reason: str


@dataclass(frozen=True)
class WithdrawnPin(_Record):
    """A catalog pin to a withdrawn version, dropped from the plan: the signed fields of the
    withdrawal, and ``latest``, the newest version that is not withdrawn (when it was known)."""

    model: str
    version: str
    reason: str
    use: str | None
    by: str
    at: str
    latest: str | None = None


@dataclass(frozen=True)
class PlanCatalog(_Record):
    id: str
    title: str
    sha256: str


@dataclass(frozen=True)
class PlanFleet(_Record):
    id: str
    sha256: str
    devices: int
    groups: int


@dataclass(frozen=True)
class PlanRegistry(_Record):
    """Where the plan was made: the registry's URL and the snapshot version it read."""

    url: str
    snapshot_version: int | None


@dataclass(frozen=True)
class PlanTotals(_Record):
    unique_bytes: int  # each file once: what a bundle carries
    device_bytes: int  # what is copied onto all devices
    devices: int


@dataclass(frozen=True)
class Plan(_Record):
    """Which variant of which catalog model each device group of a fleet gets. ``withdrawn``
    lists catalog pins to withdrawn versions that were dropped (signed fields and the model),
    ``warnings`` one line per withdrawal that changed the plan."""

    _NESTED: ClassVar[dict[str, Any]] = {
        "catalog": PlanCatalog,
        "fleet": PlanFleet,
        "registry": PlanRegistry,
        "models": (PlanModel,),
        "unavailable": (Unavailable,),
        "groups": (PlanGroup,),
        "targets": (PlanTarget,),
        "totals": PlanTotals,
        "withdrawn": (WithdrawnPin,),
    }

    schema_version: int
    kind: str
    catalog: PlanCatalog
    fleet: PlanFleet
    registry: PlanRegistry
    models: tuple[PlanModel, ...]
    unavailable: tuple[Unavailable, ...]
    groups: tuple[PlanGroup, ...]
    targets: tuple[PlanTarget, ...]
    totals: PlanTotals
    withdrawn: tuple[WithdrawnPin, ...] | None = None
    warnings: list[str] | None = None

    def group(self, group_id: str) -> PlanGroup | None:
        """The group with this id, or None."""
        return next((g for g in self.groups if g.id == group_id), None)

    def model(self, model: str) -> PlanModel | None:
        """The resolved catalog model ``NAMESPACE/MODEL``, or None."""
        return next((m for m in self.models if m.model == model), None)
