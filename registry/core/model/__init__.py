"""edzoo's typed data model, after python-tuf's ``tuf.api``: classes built from validated JSON
with ``from_dict`` and written back byte for byte with ``to_dict``; ``of`` takes either.
:class:`RecordError` is what ``from_dict`` raises for a document of another shape."""

from ._record import RecordError
from .manifest import Benchmarks, Manifest, Metrics, Recipe, Requirements, Variant
from .plan import (
    InstallItem,
    NotInstalled,
    Plan,
    PlanBudget,
    PlanCatalog,
    PlanFleet,
    PlanGroup,
    PlanModel,
    PlanRegistry,
    PlanTarget,
    PlanTotals,
    Unavailable,
    WithdrawnPin,
)
from .profile import Cpu, DeviceProfile, OperatingSystem, Runtime

__all__ = [
    "Benchmarks",
    "Cpu",
    "DeviceProfile",
    "InstallItem",
    "Manifest",
    "Metrics",
    "NotInstalled",
    "OperatingSystem",
    "Plan",
    "PlanBudget",
    "PlanCatalog",
    "PlanFleet",
    "PlanGroup",
    "PlanModel",
    "PlanRegistry",
    "PlanTarget",
    "PlanTotals",
    "RecordError",
    "Recipe",
    "Requirements",
    "Runtime",
    "Unavailable",
    "Variant",
    "WithdrawnPin",
]
