"""The checks a publish runs on the files behind its new targets, before anything is written:
every blob uploaded with its signed length, each new version complete with a valid manifest
that matches its files, each model's versions index consistent with what is published.
:meth:`registry.server.repository.Registry.publish` calls :func:`check_contents` under its lock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from tuf.api.metadata import Metadata, TargetFile, Targets

from registry.core import manifest, modelindex, names
from registry.core.errors import ConflictError, UsageError
from registry.core.model import Manifest
from registry.storage.objects import ObjectStore, blob_key

__all__ = ["check_contents"]


def check_contents(
    objects: ObjectStore,
    namespace: str,
    ns_md: Metadata[Targets],
    new_targets: dict[str, TargetFile],
    role: Callable[[str], tuple[Metadata[Targets], bytes] | None],
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Check the files behind new targets: uploaded with the signed length and hash, each
    new version complete with a valid manifest that matches its files, each versions index
    consistent. ``role`` reads a stored role of the current snapshot. Returns (versions to index,
    model → new versions index)."""
    succinct = ns_md.signed.delegations.succinct_roles  # type: ignore[union-attr]
    assert succinct is not None
    _check_uploaded(objects, new_targets)
    by_version: dict[tuple[str, str], dict[str, TargetFile]] = defaultdict(dict)
    index_files: dict[str, TargetFile] = {}
    for path, info in new_targets.items():
        t = names.TargetName.parse(path)
        if t.is_index:
            index_files[t.model] = info
        else:
            assert t.version is not None
            by_version[(t.model, t.version)][t.file] = info

    def stored_target(path: str) -> TargetFile | None:
        found = role(succinct.get_role_for_target(path))
        return found[0].signed.targets.get(path) if found else None

    versions = [
        _checked_version(objects, namespace, model, version, files, stored_target)
        for (model, version), files in sorted(by_version.items())
    ]
    new_versions_by_model: dict[str, set[str]] = defaultdict(set)
    for model, version in by_version:
        new_versions_by_model[model].add(version)
    indexes = {
        model: _checked_index(objects, namespace, model, index_files, new_versions_by_model[model], stored_target)
        for model in sorted(set(index_files) | set(new_versions_by_model))
    }
    return versions, indexes


def _check_uploaded(objects: ObjectStore, new_targets: dict[str, TargetFile]) -> None:
    """Every new target's blob is in the store, with the signed length."""
    for path, info in new_targets.items():
        size = objects.size(blob_key(info.hashes["sha256"]))
        if size is None:
            raise UsageError(f"{path}: its blob {info.hashes['sha256']} was not uploaded", code="blob_missing")
        if size != info.length:
            raise UsageError(f"{path}: signed length {info.length} differs from the uploaded blob ({size})")


def _checked_version(
    objects: ObjectStore,
    namespace: str,
    model: str,
    version: str,
    files: dict[str, TargetFile],
    stored_target: Callable[[str], TargetFile | None],
) -> dict[str, Any]:
    """A new version: not published before, its manifest valid and about it, every file the
    manifest declares signed with the declared sha256 and size. Returns what the index records."""
    ref = f"{namespace}/{model}@{version}"
    if stored_target(names.target_path(namespace, model, version, names.MANIFEST_FILE)) is not None:
        raise ConflictError(f"{ref} is already published; its files cannot change")
    if names.MANIFEST_FILE not in files:
        raise UsageError(f"{ref}: {names.MANIFEST_FILE} is missing from the publish")
    info = files[names.MANIFEST_FILE]
    doc = manifest.parse_manifest(objects.get_bytes(blob_key(info.hashes["sha256"])))
    typed = Manifest.from_dict(doc)
    if (typed.namespace, typed.name, typed.version) != (namespace, model, version):
        raise UsageError(f"{ref}: the manifest describes {typed.id}@{typed.version}")
    declared = [(v.file, v.sha256, v.size) for v in typed.variants]
    declared += [(f["path"], f["sha256"], f["size"]) for f in typed.files or []]
    for file, sha, size in declared:
        got = files.get(file)
        if got is None or got.hashes.get("sha256") != sha or got.length != size:
            raise UsageError(f"{ref}: {file} is not signed with the sha256 and size its manifest declares")
    return {
        "manifest": doc,
        "sha256": info.hashes["sha256"],
        "size": info.length,
        "files": {f: {"sha256": i.hashes["sha256"], "size": i.length} for f, i in sorted(files.items())},
    }


def _checked_index(
    objects: ObjectStore,
    namespace: str,
    model: str,
    index_files: dict[str, TargetFile],
    new_versions: set[str],
    stored_target: Callable[[str], TargetFile | None],
) -> dict[str, Any]:
    """A model's new versions index: it lists every version published before and every new
    one, nothing else, and restores no withdrawn version while publishing."""
    path = names.index_path(namespace, model)
    if model not in index_files:
        raise UsageError(f"{path} must be updated to list the new versions of {namespace}/{model}")
    info = index_files[model]
    doc = modelindex.parse_index(objects.get_bytes(blob_key(info.hashes["sha256"])), namespace, model)
    old_info = stored_target(path)
    old_versions: set[str] = set()
    old_withdrawn: set[str] = set()
    if old_info is not None:
        old_doc = modelindex.parse_index(objects.get_bytes(blob_key(old_info.hashes["sha256"])), namespace, model)
        old_versions = set(old_doc["versions"])
        old_withdrawn = set(old_doc.get("withdrawn", {}))
    listed = set(doc["versions"])
    if not old_versions <= listed:
        raise ConflictError(f"{path} drops published versions: {', '.join(sorted(old_versions - listed))}")
    unknown = listed - old_versions - new_versions
    if unknown:
        raise UsageError(f"{path} lists versions that are not published: {', '.join(sorted(unknown))}")
    missing = new_versions - listed
    if missing:
        raise UsageError(f"{path} does not list the new versions {', '.join(sorted(missing))}")
    restored = old_withdrawn - set(doc.get("withdrawn", {}))
    if restored and new_versions:
        # An index written by a client that does not know withdrawals would restore them
        # silently; a restore is a change of its own (`edzoo unyank`).
        raise ConflictError(
            f"{path} would restore the withdrawn versions {', '.join(sorted(restored))} while publishing "
            f"{', '.join(sorted(new_versions))}: publish with an edzoo that keeps "
            "withdrawals, and restore a version with `edzoo unyank`"
        )
    return doc
