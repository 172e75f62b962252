"""What a sync did and what the mirror serves, and the one log line that says so."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tuf.api.metadata import TargetFile

from registry.core.recall import Withdrawal
from registry.core.units import format_bytes

from .common import iso, now


@dataclass(frozen=True)
class MirroredModel:
    """One catalog model as the mirror holds it."""

    model: str
    requested: str  # the catalog's version or alias, or "latest"
    version: str
    variants: tuple[str, ...]
    targets: tuple[str, ...]  # every target path of this model the mirror serves (index, manifest, files)
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "requested": self.requested,
            "version": self.version,
            "variants": list(self.variants),
            "targets": list(self.targets),
            "bytes": self.bytes,
        }


@dataclass(frozen=True)
class Unavailable:
    """A catalog model the upstream does not offer (not published, no such version or alias)."""

    model: str
    reason: str


@dataclass(frozen=True)
class WithdrawnVersion:
    """A withdrawn version of a catalog model (or one the registry admin withdrew): the mirror
    does not sync or serve its files."""

    model: str
    withdrawal: Withdrawal

    @property
    def version(self) -> str:
        return self.withdrawal.version

    @property
    def message(self) -> str:
        return self.withdrawal.message(self.model)

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "version": self.version, **self.withdrawal.to_json(), "message": self.message}


@dataclass(frozen=True)
class SyncResult:
    """What one :func:`sync` did and what the mirror now serves."""

    upstream: str
    catalog_id: str
    timestamp_version: int
    snapshot_version: int
    timestamp_expires: datetime
    models: tuple[MirroredModel, ...]
    unavailable: tuple[Unavailable, ...]
    fetched_files: int  # target files downloaded from the upstream (and verified)
    fetched_bytes: int
    skipped_files: int  # target files the mirror already held, verified again and not downloaded
    skipped_bytes: int
    metadata_bytes: int  # TUF metadata downloaded from the upstream
    written_files: int  # files written into www/ (new or repaired); 0 when nothing changed
    started: datetime
    seconds: float
    www: Path = field(repr=False, default=Path("."))
    withdrawn: tuple[WithdrawnVersion, ...] = ()  # of the catalog's models, and all the registry admin's
    removed_files: int = 0  # files of withdrawn versions deleted from www/ by this sync


def describe_sync(result: SyncResult) -> str:
    """One line for a log: what a sync fetched and what the mirror now serves."""
    missing = f", {len(result.unavailable)} unavailable" if result.unavailable else ""
    if result.withdrawn:
        missing += f", {len(result.withdrawn)} withdrawn version{'' if len(result.withdrawn) == 1 else 's'} not served"
    return (
        f"{iso(now())} sync ok from {result.upstream}: snapshot {result.snapshot_version}, "
        f"{len(result.models)} models{missing}; fetched {result.fetched_files} files "
        f"({format_bytes(result.fetched_bytes)}) + {format_bytes(result.metadata_bytes)} metadata, "
        f"{result.skipped_files} already held ({format_bytes(result.skipped_bytes)}), "
        f"{result.written_files} written; timestamp valid until {iso(result.timestamp_expires)} "
        f"({result.seconds:.1f} s)"
    )


@dataclass(frozen=True)
class Fetched:
    """A target file a sync holds, verified: where its blob is, its signed info, whether this
    sync downloaded it."""

    path: str
    blob: Path
    info: TargetFile
    downloaded: bool
