"""What the index returns: typed, frozen records of its rows, each with the ``to_json`` the JSON
API serves (:mod:`registry.storage.index` makes them; nothing here reads the database).

Every record is a copy made inside the session that read it, so it stays valid after the session
ends and is safe to share between threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "LogRecord",
    "ModelRecord",
    "ModelRefs",
    "PublisherRecord",
    "ServedHead",
    "TokenRecord",
    "VersionRecord",
    "VersionRef",
]


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


@dataclass(frozen=True)
class ModelRecord:
    """A model as search and the catalog list it: its description (from its latest release),
    its moving names, and its versions in semver order."""

    namespace: str
    name: str
    task: str
    summary: str
    subjects: list[str]
    grades: list[str]
    languages: list[str]
    license: str
    latest: str | None
    aliases: dict[str, str]
    versions: tuple[str, ...]
    # version -> {"reason", "use", "at", "by"}: what the signed metadata withdraws
    withdrawn: dict[str, dict[str, Any]]
    updated_at: datetime | None

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "namespace": self.namespace,
            "name": self.name,
            "task": self.task,
            "summary": self.summary,
            "subjects": self.subjects,
            "grades": self.grades,
            "languages": self.languages,
            "license": self.license,
            "latest": self.latest,
            "aliases": self.aliases,
            "versions": list(self.versions),
            "withdrawn": self.withdrawn,
            "updated_at": _iso(self.updated_at),
        }


@dataclass(frozen=True)
class VersionRecord:
    """One published version: its manifest (the stored document), its files, its withdrawal."""

    model: str  # namespace/name
    version: str
    manifest_sha256: str
    manifest_size: int
    manifest: dict[str, Any]
    files: dict[str, Any]  # path within the version -> {sha256, size}
    published_at: datetime | None
    withdrawn: dict[str, Any] | None  # {"reason", "use", "at", "by"} while withdrawn

    def to_json(self, *, manifest: bool = True) -> dict[str, Any]:
        """What ``GET /api/v1/models/<ns>/<name>/versions/<v>`` answers; ``manifest_document``
        (the whole manifest) unless ``manifest`` is false."""
        out: dict[str, Any] = {
            "model": self.model,
            "version": self.version,
            "manifest": {"sha256": self.manifest_sha256, "size": self.manifest_size},
            "files": self.files,
            "published_at": _iso(self.published_at),
            "withdrawn": self.withdrawn or None,
            "variants": [_variant_summary(v) for v in self.manifest.get("variants", [])],
        }
        if manifest:
            out["manifest_document"] = self.manifest
        return out


def _variant_summary(v: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "file", "sha256", "size", "format", "recipe", "metrics", "benchmarks", "requirements")
    return {key: v.get(key) for key in keys}


@dataclass(frozen=True)
class LogRecord:
    """One entry of the append-only publish log."""

    id: int
    at: datetime | None
    namespace: str
    action: str
    subject: str
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": _iso(self.at),
            "namespace": self.namespace,
            "action": self.action,
            "subject": self.subject,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class ServedHead:
    """What the server answers for the two mutable names a pull asks first: the timestamp's
    bytes, and the newest root version (so the probe for the next root needs no store read)."""

    timestamp: bytes
    timestamp_version: int
    root_version: int


@dataclass(frozen=True)
class VersionRef:
    """What names a version as a commit: its manifest's sha256, and when it was published."""

    version: str
    manifest_sha256: str
    published_at: datetime | None


@dataclass(frozen=True)
class ModelRefs:
    """A model's moving names (latest, aliases) and its versions, in semver order."""

    namespace: str
    name: str
    latest: str | None
    aliases: dict[str, str]
    versions: tuple[VersionRef, ...]

    def commit_of(self) -> dict[str, str]:
        """version -> manifest sha256."""
        return {v.version: v.manifest_sha256 for v in self.versions}


@dataclass(frozen=True)
class PublisherRecord:
    """A publisher: its namespace, its signing key's id, since when, and whether it is revoked."""

    namespace: str
    keyid: str
    created_at: datetime
    revoked: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "keyid": self.keyid,
            "created_at": _iso(self.created_at),
            "revoked": self.revoked,
        }


@dataclass(frozen=True)
class TokenRecord:
    """An upload token, never its value or hash: ``state`` is live, expired or revoked."""

    id: int
    namespace: str
    label: str
    created_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    state: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "namespace": self.namespace,
            "label": self.label,
            "created_at": _iso(self.created_at),
            "expires_at": _iso(self.expires_at),
            "revoked_at": _iso(self.revoked_at),
            "state": self.state,
        }
