""":func:`open_bundle` and :func:`verify_bundle`: a bundle checked offline against the root a
device trusts."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tuf.api.metadata import Metadata

from registry.client.download import ProgressFactory
from registry.core import modelindex, names, recall
from registry.core.errors import (
    EdzooError,
    ExpiredMetadataError,
    ManifestError,
    NotFoundError,
    OfflineError,
    SignatureError,
    UntrustedMetadataError,
    UsageError,
)
from registry.core.model import Plan
from registry.core.offline import OfflineVerifier
from registry.core.recall import Withdrawal
from registry.core.trust import now as _now

from .files import (
    DEFAULT_MAX_STALENESS,
    _bar,
    _blob_rel,
    _check_staleness,
    _index_rel,
    _read_json,
    _span,
    format_staleness,
)
from .listing import _read_complete_bundle
from .planfile import MAX_PLAN_BYTES, _parse_plan
from .write import _dict_reader, _top_expiry


@dataclass(frozen=True)
class Freshness:
    """How fresh a bundle's metadata is at install time."""

    expires: datetime  # the earliest expiry of the top-level metadata
    at: datetime
    grace: timedelta
    expired_roles: tuple[str, ...] = ()

    @property
    def expired(self) -> bool:
        return self.expires <= self.at

    def describe(self) -> str:
        if not self.expired:
            return f"metadata valid for {_span(self.expires - self.at, more=True)}"
        return (
            f"metadata expired {_span(self.at - self.expires)} ago; accepted within the "
            f"{format_staleness(self.grace)} grace"
        )


@dataclass
class OpenedBundle:
    """A bundle whose listing and metadata were verified (its files not yet)."""

    path: Path
    doc: dict[str, Any]
    plan: Plan
    verifier: OfflineVerifier
    freshness: Freshness
    timestamp_version: int
    snapshot_version: int
    # model id -> version -> withdrawal, from the signed indexes the bundle carries
    withdrawn: dict[str, dict[str, Withdrawal]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.doc["id"])

    def withdrawal(self, model: str, version: str) -> Withdrawal | None:
        """The withdrawal of ``model@version`` the bundle's signed metadata proves, if any."""
        return self.withdrawn.get(model, {}).get(version)

    def target(self, path: str) -> dict[str, Any]:
        for t in self.doc["targets"]:
            if t["target"] == path:
                return dict(t)
        raise SignatureError(
            f"the plan in {self.path} installs {path}, which bundle.json does not list: the bundle was altered; "
            "make a new one with `edzoo bundle`"
        )

    def verify_file(self, path: str, file: Path, source: Path | None = None) -> None:
        """Check ``file`` against the signed length and sha256 of target ``path``; ``source`` is
        where its bytes came from (named in the error)."""
        try:
            with open(file, "rb") as f:
                self.verifier.verify_file(path, f)
        except SignatureError as e:
            raise SignatureError(
                f"{path}: {source or file} does not match its signed length and sha256 (a truncated, swapped or "
                f"altered file): copy the bundle again from the machine that wrote it, or make a new one with "
                f"`edzoo bundle` ({e.message})"
            ) from e
        except EdzooError as e:
            raise _metadata_error(e, self.path, None, None) from e


ALTERED = "the bundle was altered or damaged; copy it again from the machine that wrote it, or make a new one"


def _check_listing(path: Path, doc: dict[str, Any]) -> dict[str, bytes]:
    """Every file under blobs/ and metadata/ is listed in bundle.json, and every listed one is there
    (metadata with the listed sha256). Returns the metadata files by relative path."""
    expected_blobs = {_blob_rel(t["sha256"]) for t in doc["targets"] if t["in_bundle"]}
    expected_meta = {f"metadata/{rel}" for rel in doc["metadata"]}
    expected_indexes = {_index_rel(i["target"]) for i in doc["indexes"]}
    for sub in ("blobs", "metadata", "indexes"):
        folder = path / sub
        for p in sorted(folder.rglob("*")) if folder.exists() else []:
            if p.is_dir() and not p.is_symlink():
                continue
            rel = p.relative_to(path).as_posix()
            if rel not in expected_blobs and rel not in expected_meta and rel not in expected_indexes:
                raise SignatureError(f"{path}: {rel} is not listed in bundle.json (an extra file): {ALTERED}")
    for rel in sorted(expected_blobs | expected_indexes):
        if not (path / rel).is_file():
            raise SignatureError(f"{path}: {rel} is missing from the bundle: {ALTERED}")
    metadata: dict[str, bytes] = {}
    for rel, info in doc["metadata"].items():
        try:
            data = (path / "metadata" / rel).read_bytes()
        except FileNotFoundError as e:
            raise SignatureError(f"{path}: metadata/{rel} is missing from the bundle: {ALTERED}") from e
        if hashlib.sha256(data).hexdigest() != info["sha256"]:
            raise SignatureError(f"{path}: metadata/{rel} differs from what bundle.json lists: {ALTERED}")
        metadata[rel] = data
    return metadata


def _root_differs(trusted: bytes, read: Callable[[str], bytes | None]) -> bool:
    """Does the bundle carry a root of the trusted root's version that is another root (another
    registry)?"""
    with contextlib.suppress(Exception):
        mine = Metadata.from_bytes(trusted)
        data = read(f"root_history/{mine.signed.version}.root.json")
        if data is not None:
            return bool(Metadata.from_bytes(data).signed.to_dict() != mine.signed.to_dict())
    return False


def _metadata_error(
    e: EdzooError,
    path: Path,
    bundle_registry: str | None,
    device_registry: str | None,
    other_root: bool = False,
    *,
    grace: timedelta | None = None,
    at: datetime | None = None,
) -> EdzooError:
    """Say what to do about a metadata verification failure."""
    text = e.message
    if isinstance(e, OfflineError):
        return SignatureError(f"{path}: the bundle lacks metadata ({text}): {ALTERED}")
    if isinstance(e, ExpiredMetadataError) and grace is not None and at is not None:
        role, when = e.role, e.expires
        return SignatureError(
            f"the bundle's metadata is too old: {role} metadata expired {when:%Y-%m-%d %H:%M} UTC, {_span(at - when)} "
            f"ago, beyond the {format_staleness(grace)} grace. Make a fresh bundle with `edzoo bundle` (or, if the "
            "school accepts it, allow more with --max-staleness, at most 365d)"
        )
    if isinstance(e, UntrustedMetadataError) or other_root:
        where = ""
        if bundle_registry and device_registry and bundle_registry != device_registry:
            where = f" (the bundle comes from {bundle_registry}; this device's registry is {device_registry})"
        elif other_root:
            where = " (its root is not the root this device trusts)"
        return SignatureError(
            f"this bundle was made for another registry, or signed by keys this device does not trust{where}: "
            f"{text}. Make the bundle from the registry this device was set up with, or set the device up again "
            "with that registry's root (--root)"
        )
    if isinstance(e, SignatureError | NotFoundError):
        return SignatureError(f"the bundle's metadata failed verification: {text}: {ALTERED}")
    return e


def open_bundle(
    path: Path,
    *,
    trusted_root: bytes,
    max_staleness: timedelta | None = None,
    at: datetime | None = None,
    device_registry: str | None = None,
) -> OpenedBundle:
    """Check that ``path`` is a complete, unaltered bundle whose metadata verifies against
    ``trusted_root``; its target files are checked later, one by one (:meth:`OpenedBundle.verify_file`).

    ``max_staleness`` defaults to the bundle's policy. Raises UsageError (incomplete), ManifestError,
    SignatureError (altered, untrusted, too stale), each saying what to do.
    """
    path = Path(path)
    _, doc = _read_complete_bundle(path, "make it with `edzoo bundle PLAN --out DIR`")
    if max_staleness is None:
        days = (doc.get("policy") or {}).get("max_staleness_days", DEFAULT_MAX_STALENESS.days)
        if not isinstance(days, int | float) or isinstance(days, bool):
            raise ManifestError(f"{path}/bundle.json: $.policy.max_staleness_days: expected a number of days")
        max_staleness = timedelta(days=days)
        _check_staleness(max_staleness, f"the bundle's policy ({days} days)")
    _check_staleness(max_staleness, "the max staleness")
    plan_bytes, plan_doc = _read_json(path / "plan.json", MAX_PLAN_BYTES, "plan", ALTERED)
    if hashlib.sha256(plan_bytes).hexdigest() != doc.get("plan_sha256"):
        raise SignatureError(f"{path}: plan.json differs from what bundle.json lists: {ALTERED}")
    plan = _parse_plan(plan_bytes, plan_doc, f"{path}/plan.json", in_bundle=True)
    read = _dict_reader(_check_listing(path, doc))
    at = at or _now()
    registry = doc.get("registry") if isinstance(doc.get("registry"), str) else None
    try:
        verifier = OfflineVerifier(read, trusted_root, grace=max_staleness, at=at)
        for t in doc["targets"]:
            info = verifier.target_info(t["target"])
            if info.hashes.get("sha256") != t["sha256"] or info.length != t["size"]:
                raise SignatureError(
                    f"bundle.json lists {t['target']} with sha256 {t['sha256'][:12]}…, the signed metadata with "
                    f"{info.hashes.get('sha256', '?')[:12]}…"
                )
        lists: dict[str, bytes] = {}
        for i in doc["indexes"]:
            with open(path / _index_rel(i["target"]), "rb") as f:
                verifier.verify_file(i["target"], f)
                f.seek(0)
                lists[i["target"]] = f.read()
    except EdzooError as e:
        other_root = _root_differs(trusted_root, read)
        raise _metadata_error(e, path, registry, device_registry, other_root, grace=max_staleness, at=at) from e
    withdrawn = _read_withdrawals(path, lists)
    freshness = Freshness(_top_expiry(verifier), at, max_staleness, tuple(verifier.expired))
    return OpenedBundle(
        path=path,
        doc=doc,
        plan=plan,
        verifier=verifier,
        freshness=freshness,
        timestamp_version=verifier.timestamp.signed.version,
        snapshot_version=verifier.snapshot.signed.version,
        withdrawn=withdrawn,
    )


def _read_withdrawals(path: Path, lists: dict[str, bytes]) -> dict[str, dict[str, Withdrawal]]:
    """Every withdrawn version of the bundle's models, from its verified indexes and list."""
    try:
        data = lists.get(recall.WITHDRAWALS_PATH)
        registry_list = recall.parse_withdrawals(data) if data is not None else {}
        out: dict[str, dict[str, Withdrawal]] = {}
        for target, data in lists.items():
            if target == recall.WITHDRAWALS_PATH:
                continue
            name = names.TargetName.parse(target)
            doc = modelindex.parse_index(data, name.namespace, name.model)
            found = recall.withdrawn_versions(doc, registry_list, f"{name.namespace}/{name.model}")
            if found:
                out[f"{name.namespace}/{name.model}"] = found
        for model in registry_list.keys() - out.keys():  # models the bundle carries no index of
            out[model] = recall.withdrawn_versions({}, registry_list, model)
    except UsageError as e:
        raise UsageError(
            f"{path}: this edzoo cannot read the bundle's signed list of versions ({e.message}): update edzoo on "
            "this device, then install the bundle again"
        ) from e
    return out


def verify_bundle(
    path: Path,
    *,
    trusted_root: bytes,
    max_staleness: timedelta | None = None,
    at: datetime | None = None,
    progress: ProgressFactory | None = None,
) -> OpenedBundle:
    """:func:`open_bundle`, then every file the bundle holds against its signed length and sha256."""
    opened = open_bundle(path, trusted_root=trusted_root, max_staleness=max_staleness, at=at)
    files = {t["sha256"]: t for t in opened.doc["targets"] if t["in_bundle"]}
    with _bar(progress, "verifying", sum(t["size"] for t in files.values())) as update:
        for sha, t in files.items():
            opened.verify_file(t["target"], opened.path / _blob_rel(sha))
            if update is not None:
                update(t["size"])
    return opened
