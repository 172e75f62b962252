"""The device profile as typed objects: :class:`DeviceProfile` with its :class:`Cpu`,
:class:`Runtime` and :class:`OperatingSystem`, built from a profile that passed
:func:`registry.core.profiles.validate_profile` (``manifests/schema/device.schema.json``) and
written back key for key by ``to_dict``, as the manifest's classes are.

Only the standard library; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ._record import _Record

__all__ = ["Cpu", "DeviceProfile", "OperatingSystem", "Runtime"]


@dataclass(frozen=True)
class OperatingSystem(_Record):
    name: str
    version: str


@dataclass(frozen=True)
class Cpu(_Record):
    """``speed_factor``: how many times slower than the zoo's reference machine one
    single-thread inference runs; ``format_factors``: the device's own correction per
    quantization scheme, when it was measured."""

    cores: int
    speed_factor: float
    format_factors: dict[str, float] | None = None


@dataclass(frozen=True)
class Runtime(_Record):
    """The LiteRT build on the device; ``ops`` lists its builtin operators when it is a
    reduced build (absent: all of them), ``custom_ops`` the custom ones it registers."""

    name: str
    version: str
    ops: list[str] | None = None
    custom_ops: list[str] | None = None


@dataclass(frozen=True)
class DeviceProfile(_Record):
    """What a device offers that matters for choosing a variant."""

    _NESTED: ClassVar[dict[str, Any]] = {"os": OperatingSystem, "cpu": Cpu, "runtime": Runtime}

    schema_version: int
    id: str
    name: str
    os: OperatingSystem
    abi: str
    ram_mb: int
    free_storage_mb: int
    cpu: Cpu
    accelerators: list[str]
    runtime: Runtime
    power: str
    network: str
    source: str
    memory_share: float | None = None
