"""edzoo's typed data model, after python-tuf's ``tuf.api``: classes built from validated JSON
with ``from_dict`` and written back byte for byte with ``to_dict``; ``of`` takes either."""

from .manifest import Benchmarks, Manifest, Metrics, Recipe, Requirements, Variant
from .profile import Cpu, DeviceProfile, OperatingSystem, Runtime

__all__ = [
    "Benchmarks",
    "Cpu",
    "DeviceProfile",
    "Manifest",
    "Metrics",
    "OperatingSystem",
    "Recipe",
    "Requirements",
    "Runtime",
    "Variant",
]
