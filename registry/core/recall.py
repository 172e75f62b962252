"""Withdrawn (recalled) model versions: what a withdrawal says and where it is signed.

A version is withdrawn by a signed change, never by deleting its files:

- its publisher lists it under ``"withdrawn"`` in the model's versions index
  (``<ns>/<model>/versions.json``, see :mod:`registry.core.modelindex`);
- in an emergency the registry admin lists it in ``withdrawals.json``, a target of the top-level
  ``targets`` role, signed with the offline targets keys::

    {"schema_version": 1, "withdrawn": {"ns/model": {"1.0.0": {"reason", "use", "at"}}}}

Both are TUF targets, so a client verifies them like any file. This module is pure: it parses,
builds and merges the two lists; it does no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from . import names
from .errors import UsageError

__all__ = [
    "BY_PUBLISHER",
    "BY_REGISTRY",
    "MAX_REASON",
    "WITHDRAWALS_PATH",
    "Withdrawal",
    "build_withdrawals",
    "check_reason",
    "format_at",
    "parse_withdrawals",
    "withdrawn_versions",
]

WITHDRAWALS_PATH = "withdrawals.json"
MAX_REASON = 500
BY_PUBLISHER = "publisher"
BY_REGISTRY = "registry"
_BY = (BY_PUBLISHER, BY_REGISTRY)
_AT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\Z", re.ASCII)
_FIELDS = frozenset({"reason", "use", "at"})


def format_at(at: datetime) -> str:
    """ISO 8601 in UTC to the second, as the signed documents carry it (``2026-12-02T07:00:00Z``)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_reason(reason: object) -> str:
    """A reason is one line of at most :data:`MAX_REASON` characters, not blank."""
    if not isinstance(reason, str) or not reason.strip():
        raise UsageError("a withdrawal needs a reason: one line saying why (--reason TEXT)")
    if "\n" in reason or "\r" in reason or any(ord(c) < 32 for c in reason):
        raise UsageError("the reason of a withdrawal must be one line of text, without control characters")
    if len(reason) > MAX_REASON:
        raise UsageError(f"the reason of a withdrawal is {len(reason)} characters; at most {MAX_REASON} fit")
    return reason


@dataclass(frozen=True)
class Withdrawal:
    """One withdrawn version: why, what to use instead, since when, and who signed it."""

    version: str
    reason: str
    use: str | None
    at: datetime
    by: str  # BY_PUBLISHER (the versions index) or BY_REGISTRY (the admin's withdrawals.json)

    def __post_init__(self) -> None:
        names.check_version(self.version)
        check_reason(self.reason)
        if self.use is not None:
            names.check_version(self.use)
            if self.use == self.version:
                raise UsageError(f"withdrawn version {self.version} cannot name itself as the version to use")
        if self.at.tzinfo is None:
            raise UsageError("a withdrawal's time must be in UTC")
        if self.by not in _BY:
            raise UsageError(f"a withdrawal is signed by {' or '.join(_BY)}, not {self.by!r}")

    def to_dict(self) -> dict[str, Any]:
        """What the signed documents hold (``by`` is where the entry sits, not a field)."""
        return {"reason": self.reason, "use": self.use, "at": format_at(self.at)}

    def to_json(self) -> dict[str, Any]:
        """For displays (the JSON API, the index): the signed fields and who signed them."""
        return {**self.to_dict(), "by": self.by}

    @classmethod
    def from_dict(cls, version: str, d: object, *, by: str) -> Withdrawal:
        """Parse one entry; UsageError naming what is wrong."""
        if not isinstance(d, dict):
            raise UsageError(f"withdrawal of {version!r}: expected an object with reason, use and at")
        unknown = set(d) - _FIELDS
        if unknown:
            raise UsageError(f"withdrawal of {version!r}: unknown fields {', '.join(sorted(map(str, unknown)))}")
        at = d.get("at")
        if not isinstance(at, str) or not _AT_RE.match(at):
            raise UsageError(f"withdrawal of {version!r}: 'at' must be an ISO 8601 UTC time like 2026-12-02T07:00:00Z")
        try:
            when = datetime.strptime(at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError as e:
            raise UsageError(f"withdrawal of {version!r}: 'at' is not a valid time: {at}") from e
        use = d.get("use")
        if use is not None and not isinstance(use, str):
            raise UsageError(f"withdrawal of {version!r}: 'use' must be a version or null")
        if not isinstance(version, str):
            raise UsageError(f"withdrawal of {version!r}: expected a version")
        return cls(version=version, reason=d.get("reason"), use=use, at=when, by=by)  # type: ignore[arg-type]

    @classmethod
    def from_json(cls, version: str, d: Mapping[str, Any]) -> Withdrawal:
        """The inverse of :meth:`to_json`."""
        return cls.from_dict(version, {k: d.get(k) for k in _FIELDS}, by=str(d.get("by", BY_PUBLISHER)))

    def message(self, model_id: str) -> str:
        """One line: who withdrew which version when, why, and what to use instead."""
        who = "its publisher" if self.by == BY_PUBLISHER else "the registry admin"
        instead = f"use {model_id}@{self.use} instead" if self.use else "no replacement was named"
        return (
            f"{model_id}@{self.version} was withdrawn by {who} on {self.at.strftime('%Y-%m-%d %H:%M')} UTC: "
            f"{self.reason}; {instead}"
        )


def parse_withdrawals(data: bytes) -> dict[str, dict[str, Withdrawal]]:
    """Parse the registry admin's ``withdrawals.json``: model id → version → Withdrawal."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise UsageError(f"{WITHDRAWALS_PATH} is not valid JSON: {e}") from e
    if not isinstance(doc, dict) or doc.get("schema_version") != 1 or not isinstance(doc.get("withdrawn"), dict):
        raise UsageError(f"{WITHDRAWALS_PATH}: expected an object with schema_version 1 and 'withdrawn'")
    out: dict[str, dict[str, Withdrawal]] = {}
    for model_id, entries in doc["withdrawn"].items():
        _check_model_id(model_id)
        if not isinstance(entries, dict) or not entries:
            raise UsageError(f"{WITHDRAWALS_PATH}: {model_id!r} must map versions to withdrawals")
        out[model_id] = {v: Withdrawal.from_dict(v, d, by=BY_REGISTRY) for v, d in entries.items()}
    return out


def build_withdrawals(entries: Mapping[str, Mapping[str, Withdrawal]]) -> bytes:
    """Serialize the registry admin's list (models without withdrawals are left out)."""
    withdrawn: dict[str, dict[str, Any]] = {}
    for model_id in sorted(entries):
        _check_model_id(model_id)
        versions = entries[model_id]
        if versions:
            withdrawn[model_id] = {v: versions[v].to_dict() for v in sorted(versions, key=names.version_key)}
    doc = {"schema_version": 1, "withdrawn": withdrawn}
    return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()


def withdrawn_versions(
    index_doc: Mapping[str, Any],
    registry_list: Mapping[str, Mapping[str, Withdrawal]] | None,
    model_id: str,
) -> dict[str, Withdrawal]:
    """Every withdrawn version of ``model_id``: the publisher's (``index_doc["withdrawn"]``, as
    :func:`registry.core.modelindex.parse_index` checked it) and the registry admin's, merged.

    A version both withdrew shows the registry admin's entry. A replacement (``use``) that is
    itself withdrawn is followed to the first one that is not, or dropped when there is none.
    """
    merged = {v: Withdrawal.from_dict(v, d, by=BY_PUBLISHER) for v, d in (index_doc.get("withdrawn") or {}).items()}
    merged.update((registry_list or {}).get(model_id, {}))
    listed = set(index_doc.get("versions") or ())
    out = {}
    for version, w in merged.items():
        use, seen = w.use, {version}
        while use is not None and use in merged and use not in seen:
            seen.add(use)
            use = merged[use].use
        if use is not None and (use in seen or (listed and use not in listed)):
            use = None  # a cycle, or a version the publisher never published
        out[version] = w if use == w.use else Withdrawal(w.version, w.reason, use, w.at, w.by)
    return out


def _check_model_id(model_id: object) -> str:
    ns, sep, model = model_id.partition("/") if isinstance(model_id, str) else ("", "", "")
    if not sep:
        raise UsageError(f"{WITHDRAWALS_PATH}: {model_id!r} is not a model id NAMESPACE/MODEL")
    names.check_namespace(ns)
    names.check_name(model, "model name")
    return str(model_id)
