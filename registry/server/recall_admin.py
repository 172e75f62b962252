"""The registry admin's emergency recall: withdraw a version with the offline targets keys when
its publisher cannot be reached (or restore one the admin withdrew).

The list is ``withdrawals.json`` (:mod:`registry.core.recall`), a target of the top-level
targets role itself, without a folder, so it matches no namespace's delegation: only the offline
targets keys can sign it. Each change is a new version of the top-level targets role listing the
new list; the snapshot and the timestamp follow, and the index records it. Runs on the admin's
machine with the data folder and the offline keys folder, like ``add_publisher``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuf.api.metadata import Metadata, Snapshot, TargetFile, Targets

from registry.core import modelindex, names, recall, trust
from registry.core.errors import NotFoundError, UsageError
from registry.core.recall import Withdrawal
from registry.storage.objects import blob_key

from .keyadmin import offline_signers, open_registry, sign_targets
from .repository import Registry

__all__ = ["AdminRecallResult", "unwithdraw", "withdraw"]


@dataclass(frozen=True)
class AdminRecallResult:
    """What :func:`withdraw` and :func:`unwithdraw` did."""

    model: str  # ns/model
    version: str
    status: str  # "withdrawn", "restored" or "unchanged"
    withdrawal: Withdrawal | None  # the registry admin's entry now signed
    targets_version: int | None  # the new top-level targets version (None when unchanged)
    still_withdrawn_by_publisher: bool  # after unwithdraw: the publisher's own yank remains


def withdraw(
    data_dir: Path,
    keys_dir: Path,
    ref: str,
    *,
    reason: str,
    use: str | None = None,
    database_url: str | None = None,
    blobs: str | None = None,
) -> AdminRecallResult:
    """Withdraw ``ns/model@version`` with the offline targets keys. ``use`` must be a published
    version that is not withdrawn. Raises UsageError, NotFoundError, SignatureError (the keys
    folder does not hold enough trusted targets keys)."""
    model_ref, version = _version_ref(ref)
    recall.check_reason(reason)
    if use is not None:
        names.check_version(use)

    def change(entries: dict[str, Withdrawal], doc: dict[str, Any], merged: dict[str, Withdrawal]) -> None:
        if use is not None:
            if use not in doc["versions"]:
                raise UsageError(f"{model_ref.id}@{use} is not published; --use names a published version")
            if use in merged and use != version:
                raise UsageError(f"{model_ref.id}@{use} is withdrawn too; --use names a version that is not")
        old = entries.get(version)
        if old is None or (old.reason, old.use) != (reason, use):
            entries[version] = Withdrawal(version, reason, use, trust.now(), recall.BY_REGISTRY)

    return _change(data_dir, keys_dir, model_ref, version, change, database_url=database_url, blobs=blobs)


def unwithdraw(
    data_dir: Path,
    keys_dir: Path,
    ref: str,
    *,
    database_url: str | None = None,
    blobs: str | None = None,
) -> AdminRecallResult:
    """Lift the registry admin's withdrawal of ``ns/model@version`` (a publisher's own yank
    stays until `edzoo unyank`). Raises as :func:`withdraw` does."""
    model_ref, version = _version_ref(ref)

    def change(entries: dict[str, Withdrawal], doc: dict[str, Any], merged: dict[str, Withdrawal]) -> None:
        entries.pop(version, None)

    return _change(data_dir, keys_dir, model_ref, version, change, database_url=database_url, blobs=blobs)


def _version_ref(ref: str) -> tuple[names.ModelRef, str]:
    parsed = names.ModelRef.parse(ref)
    if parsed.revision is None or not names.SEMVER_RE.match(parsed.revision):
        raise UsageError(f"name the version by number: {parsed.id}@1.0.0, not {ref}")
    return parsed, parsed.revision


def _change(
    data_dir: Path,
    keys_dir: Path,
    ref: names.ModelRef,
    version: str,
    change: Any,
    *,
    database_url: str | None,
    blobs: str | None,
) -> AdminRecallResult:
    with open_registry(data_dir, database_url=database_url, blobs=blobs) as registry:
        root = registry.current_root()
        offline_signers(keys_dir, Targets.type, root)  # present before anything is read or built
        with registry.lock() as session:
            snapshot, _ = registry.snapshot()
            found = registry.role(Targets.type, snapshot)
            assert found is not None
            targets_md: Metadata[Targets] = Metadata.from_bytes(found[1])
            doc = _index_doc(registry, ref, snapshot)
            if version not in doc["versions"]:
                raise NotFoundError(f"{ref.id} has no version {version}; published: {', '.join(doc['versions'])}")
            current = registry.registry_withdrawals(snapshot)
            entries = dict(current.get(ref.id, {}))
            before = dict(entries)
            change(entries, doc, recall.withdrawn_versions(doc, current, ref.id))
            by_publisher = version in modelindex.publisher_withdrawals(doc)
            if entries == before:
                return AdminRecallResult(ref.id, version, "unchanged", entries.get(version), None, by_publisher)
            data = recall.build_withdrawals({**current, ref.id: entries})
            sha = hashlib.sha256(data).hexdigest()
            registry.objects.put_bytes(blob_key(sha), data)
            targets_md = trust.next_targets(targets_md, registry.config.expiry)
            targets = targets_md.signed
            targets.targets[recall.WITHDRAWALS_PATH] = TargetFile(len(data), {"sha256": sha}, recall.WITHDRAWALS_PATH)
            sign_targets(targets_md, root, keys_dir)
            new_snapshot, _ = registry.commit_roles({Targets.type: targets_md}, snapshot)
            registry.sync_withdrawals(session, ref.namespace, new_snapshot, {ref.model})
        status = "withdrawn" if version in entries else "restored"
        return AdminRecallResult(ref.id, version, status, entries.get(version), targets.version, by_publisher)


def _index_doc(registry: Registry, ref: names.ModelRef, snapshot: Metadata[Snapshot]) -> dict[str, Any]:
    """The model's versions index as its publisher's stored roles sign it."""
    path = names.index_path(ref.namespace, ref.model)
    found = registry.role(ref.namespace, snapshot)
    info = None
    if found is not None:
        succinct = found[0].signed.delegations.succinct_roles  # type: ignore[union-attr]
        assert succinct is not None
        bin_md = registry.role(succinct.get_role_for_target(path), snapshot)
        info = bin_md[0].signed.targets.get(path) if bin_md else None
    if info is None:
        raise NotFoundError(f"no model {ref.id} is published in this registry")
    return modelindex.parse_index(registry.objects.get_bytes(blob_key(info.hashes["sha256"])), ref.namespace, ref.model)
