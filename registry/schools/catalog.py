"""Catalogs (what a school wants) and fleets (what devices it has), loaded and validated.

A catalog (``manifests/schema/catalog.schema.json``) lists models with a priority; a fleet
(``manifests/schema/fleet.schema.json``, JSON or CSV) lists groups of identical devices, each
with a device profile, a count and the storage the models may use. Both are plain data:
loading checks them completely and reports every problem with its place in the file.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from registry.core import names, profiles
from registry.core.contracts import load_schema
from registry.core.errors import ManifestError, UsageError
from registry.core.model import DeviceProfile

__all__ = [
    "Catalog",
    "CatalogEntry",
    "Fleet",
    "DeviceGroup",
    "load_catalog",
    "load_fleet",
    "parse_catalog",
    "parse_fleet",
]

MAX_BYTES = 16 << 20
MAX_PROBLEMS = 20  # listed in one error; the count says how many there are
FLEET_CSV_COLUMNS = ("id", "profile", "count", "free_storage_mb", "memory_mb", "labels")


@dataclass(frozen=True)
class CatalogEntry:
    model: str  # namespace/model
    priority: float
    version: str | None = None  # a version, an alias, or None for the latest release
    required: bool = False
    note: str = ""

    @property
    def ref(self) -> str:
        return f"{self.model}@{self.version}" if self.version else self.model


@dataclass(frozen=True)
class Catalog:
    id: str
    title: str
    entries: tuple[CatalogEntry, ...]
    doc: dict[str, Any]
    sha256: str  # of the file's bytes, recorded in plans

    def entry(self, model: str) -> CatalogEntry:
        for e in self.entries:
            if e.model == model:
                return e
        raise KeyError(model)


@dataclass(frozen=True)
class DeviceGroup:
    id: str
    profile_source: str  # as written in the fleet
    profile: DeviceProfile  # the loaded, validated device profile
    count: int
    free_storage_mb: float
    memory_mb: float | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Fleet:
    id: str
    title: str
    groups: tuple[DeviceGroup, ...]
    sha256: str

    @property
    def devices(self) -> int:
        return sum(g.count for g in self.groups)


def _read(path: Path, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise UsageError(f"cannot read {what} {path}: {e.strerror or e}") from e
    if len(data) > MAX_BYTES:
        raise ManifestError(f"{path}: larger than the {MAX_BYTES >> 20} MiB a {what} may have")
    return data


def _json(data: bytes, source: str) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ManifestError(f"{source}: not UTF-8 (byte {e.start}: {e.reason})") from e
    except json.JSONDecodeError as e:
        raise ManifestError(f"{source}: not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from e


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _validate(doc: Any, schema: str, source: str) -> None:
    if not isinstance(doc, dict):
        raise ManifestError(f"invalid {source}: expected a JSON object, got {type(doc).__name__}")
    errors = sorted(_validator(schema).iter_errors(doc), key=lambda e: [str(p).zfill(9) for p in e.absolute_path])
    problems = list(dict.fromkeys(f"{e.json_path}: {e.message[:300]}" for e in errors))
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        shown = problems[:MAX_PROBLEMS] + (
            [f"... and {len(problems) - MAX_PROBLEMS} more"] if len(problems) > MAX_PROBLEMS else []
        )
        raise ManifestError(f"invalid {source} ({count}):\n  " + "\n  ".join(shown))


# -- catalogs ----------------------------------------------------------------------------------
def load_catalog(path: Path) -> Catalog:
    path = Path(path)
    return parse_catalog(_read(path, "catalog"), source=str(path))


def parse_catalog(data: bytes, *, source: str = "(document)") -> Catalog:
    doc = _json(data, source)
    _validate(doc, "catalog", f"catalog {source}")
    entries = []
    seen: set[str] = set()
    for i, item in enumerate(doc["models"]):
        ref = names.ModelRef.parse(item["model"])  # same rules as everywhere else
        if ref.id in seen:
            raise ManifestError(f"invalid catalog {source}: $.models[{i}]: {ref.id} is listed twice")
        seen.add(ref.id)
        version = item.get("version")
        if version is not None and not names.SEMVER_RE.match(version) and not names.ALIAS_RE.match(version):
            raise ManifestError(
                f"invalid catalog {source}: $.models[{i}].version: {version!r} is neither a version nor an alias"
            )
        entries.append(
            CatalogEntry(
                model=ref.id,
                priority=float(item["priority"]),
                version=version,
                required=bool(item.get("required", False)),
                note=item.get("note", ""),
            )
        )
    return Catalog(doc["id"], doc["title"], tuple(entries), doc, hashlib.sha256(data).hexdigest())


# -- fleets --------------------------------------------------------------------------------------
def load_fleet(path: Path) -> Fleet:
    """A fleet from a ``.json`` or ``.csv`` file; profile paths are relative to the file."""
    path = Path(path)
    return parse_fleet(
        _read(path, "fleet"), source=str(path), base_dir=path.parent, csv_format=path.suffix.lower() == ".csv"
    )


def parse_fleet(
    data: bytes, *, source: str = "(document)", base_dir: Path | None = None, csv_format: bool = False
) -> Fleet:
    doc = _csv_fleet(data, source) if csv_format else _json(data, source)
    _validate(doc, "fleet", f"fleet {source}")
    groups = []
    seen: set[str] = set()
    profile_cache: dict[str, DeviceProfile] = {}
    for i, g in enumerate(doc["groups"]):
        where = f"fleet {source}: $.groups[{i}]"
        if g["id"] in seen:
            raise ManifestError(f"invalid {where}: group id {g['id']!r} is used twice")
        seen.add(g["id"])
        profile_source = g["profile"]
        if profile_source not in profile_cache:
            target: str | Path = profile_source
            if profile_source.endswith(".json") or "/" in profile_source:
                target = (
                    Path(profile_source)
                    if Path(profile_source).is_absolute()
                    else (base_dir or Path.cwd()) / profile_source
                )
            try:
                profile_cache[profile_source] = DeviceProfile.from_dict(profiles.load_profile(target))
            except (ManifestError, UsageError) as e:
                raise type(e)(f"{where}.profile: {e.message}") from e
            except LookupError as e:
                raise ManifestError(f"invalid {where}.profile: {e}") from e
        profile = profile_cache[profile_source]
        groups.append(
            DeviceGroup(
                id=g["id"],
                profile_source=profile_source,
                profile=profile,
                count=g["count"],
                free_storage_mb=float(g.get("free_storage_mb", profile.free_storage_mb)),
                memory_mb=float(g["memory_mb"]) if g.get("memory_mb") is not None else None,
                labels=dict(g.get("labels", {})),
            )
        )
    return Fleet(doc["id"], doc.get("title", ""), tuple(groups), hashlib.sha256(data).hexdigest())


def _csv_fleet(data: bytes, source: str) -> dict[str, Any]:
    """The CSV form as the JSON document it stands for; the fleet id is the file's stem."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ManifestError(f"{source}: not UTF-8 (byte {e.start}: {e.reason})") from e
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in ("id", "profile", "count") if c not in header]
    unknown = [c for c in header if c not in FLEET_CSV_COLUMNS]
    if missing or unknown:
        raise ManifestError(
            f"{source}: the header must name the columns {', '.join(FLEET_CSV_COLUMNS)} (id, profile and count "
            f"required); missing: {', '.join(missing) or 'none'}, unknown: {', '.join(unknown) or 'none'}"
        )
    groups = []
    for line, row in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        group: dict[str, Any] = {"id": row["id"], "profile": row["profile"]}
        for key, kind in (("count", int), ("free_storage_mb", float), ("memory_mb", float)):
            if row.get(key):
                try:
                    group[key] = kind(row[key])
                except ValueError as e:
                    raise ManifestError(f"{source}, line {line}: {key} must be a number, got {row[key]!r}") from e
        if row.get("labels"):
            labels = {}
            for pair in row["labels"].split(";"):
                key, sep, value = pair.partition("=")
                if not sep or not key.strip():
                    raise ManifestError(
                        f"{source}, line {line}: labels must be key=value;key=value, got {row['labels']!r}"
                    )
                labels[key.strip()] = value.strip()
            group["labels"] = labels
        groups.append(group)
    stem = Path(source).stem.lower()
    return {"schema_version": 1, "id": stem if names.NAME_RE.match(stem) else "fleet", "groups": groups}
