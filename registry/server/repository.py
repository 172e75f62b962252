"""The registry's state: TUF metadata, blobs and the index, and the publish transaction.

Layout of a data folder (the server's; the offline root/targets keys live elsewhere)::

    DATA_DIR/registry.json          what this folder is (format version, bins, database URL)
    DATA_DIR/keys/snapshot.pem      online keys, mode 0600
    DATA_DIR/keys/timestamp.pem
    DATA_DIR/objects/blobs/sha256/ab/<sha256>
    DATA_DIR/objects/tuf/<N>.root.json, root.json, <V>.<role>.json, timestamp.json
    DATA_DIR/index.sqlite           the searchable index (unless a database URL is configured)
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import re
import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuf.api.metadata import Metadata, Snapshot, TargetFile, Targets, Timestamp

from registry.core import keys, manifest, modelindex, names, trust
from registry.core.errors import (
    ConflictError,
    NotFoundError,
    SignatureError,
    StorageError,
    UsageError,
)
from registry.storage.index import Index
from registry.storage.objects import FsObjectStore, ObjectStore, blob_key

__all__ = ["Registry", "ServerConfig"]

FORMAT = 1
_META_NAME_RE = re.compile(r"^(?:timestamp|root|[0-9]{1,10}\.[a-z0-9][a-z0-9.-]{0,60})\.json$")


@dataclass(frozen=True)
class ServerConfig:
    """Where a registry server keeps its state. Read once at the entry point."""

    data_dir: Path
    database_url: str | None = None  # default: SQLite file in the data folder
    max_upload_bytes: int = 2 << 30
    expiry: trust.Expiry = trust.Expiry()

    @classmethod
    def from_env(cls, data_dir: Path, env: dict[str, str]) -> ServerConfig:
        return cls(
            data_dir=Path(data_dir).resolve(),
            database_url=env.get("EDZOO_DATABASE_URL") or None,
            max_upload_bytes=int(env.get("EDZOO_MAX_UPLOAD_BYTES", 2 << 30)),
        )

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'index.sqlite'}"


def token_hash(token: str) -> str:
    # Tokens are 256-bit random strings: a plain sha256 is a sound way to store them.
    return hashlib.sha256(token.encode()).hexdigest()


class Registry:
    """One registry: open it on a data folder made by :func:`registry.server.admin.init`."""

    def __init__(self, config: ServerConfig, *, objects: ObjectStore | None = None) -> None:
        self.config = config
        info_path = config.data_dir / "registry.json"
        try:
            self.info = json.loads(info_path.read_text())
        except FileNotFoundError as e:
            raise NotFoundError(
                f"{config.data_dir} is not an edzoo registry (no registry.json); create one with `edzoo registry init`"
            ) from e
        if self.info.get("format") != FORMAT:
            raise StorageError(f"{info_path}: unsupported registry format {self.info.get('format')}")
        self.objects = objects or FsObjectStore(config.data_dir / "objects")
        self.index = Index(config.db_url)
        self._snapshot_signer = keys.load_signer(config.data_dir / "keys" / "snapshot.pem")
        self._timestamp_signer = keys.load_signer(config.data_dir / "keys" / "timestamp.pem")
        self._thread_lock = threading.Lock()

    # -- locking: one writer at a time, across threads and worker processes ------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        with self._thread_lock, open(self.config.data_dir / "publish.lock", "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    # -- reading TUF metadata ------------------------------------------------------------------
    def metadata_file(self, name: str) -> bytes:
        """Bytes of a metadata file as the updater names it (``3.snapshot.json``)."""
        if not _META_NAME_RE.match(name):
            raise NotFoundError(f"no metadata file {name}")
        if name == "timestamp.json":
            self.refresh_timestamp()
        return self.objects.get_bytes(f"tuf/{name}")

    def _load(self, key: str) -> Metadata:
        return Metadata.from_bytes(self.objects.get_bytes(key))

    def timestamp(self) -> Metadata[Timestamp]:
        return self._load("tuf/timestamp.json")

    def snapshot(self) -> tuple[Metadata[Snapshot], bytes]:
        version = self.timestamp().signed.snapshot_meta.version
        data = self.objects.get_bytes(f"tuf/{version}.snapshot.json")
        return Metadata.from_bytes(data), data

    def role(self, name: str, snapshot: Metadata[Snapshot] | None = None) -> tuple[Metadata[Targets], bytes] | None:
        """The current version of a targets role, or None if it does not exist."""
        snapshot = snapshot or self.snapshot()[0]
        meta = snapshot.signed.meta.get(f"{name}.json")
        if meta is None:
            return None
        data = self.objects.get_bytes(f"tuf/{meta.version}.{name}.json")
        return Metadata.from_bytes(data), data

    def refresh_timestamp(self, *, force: bool = False) -> None:
        """Re-sign the timestamp when less than half its lifetime is left (clients reject an
        expired one, so an idle registry must still renew it)."""
        lifetime = self.config.expiry.timestamp
        if not force and self.timestamp().signed.expires - trust.now() > lifetime / 2:
            return
        with self.lock():
            current = self.timestamp()
            if not force and current.signed.expires - trust.now() > lifetime / 2:
                return
            snap, _ = self.snapshot()
            new = trust.update_timestamp(current, snap, self._timestamp_signer, self.config.expiry)
            self.objects.put_bytes("tuf/timestamp.json", trust.to_bytes(new))

    # -- publishing ------------------------------------------------------------------------------
    def namespace_for_token(self, token: str) -> str | None:
        return self.index.publisher_for_token(token_hash(token))

    def publish(self, namespace: str, submitted: dict[str, bytes]) -> dict[str, Any]:
        """Verify and store a publisher's signed roles. All checks run before anything is
        written; the timestamp is written last, so a failure leaves the previous state."""
        if len(submitted) > 4096:
            raise UsageError("too many roles in one publish")
        with self.lock():
            snapshot, _ = self.snapshot()
            targets_md, _ = self.role("targets", snapshot) or (None, b"")
            assert targets_md is not None
            try:
                targets_md.signed.get_delegated_role(namespace)
            except ValueError as e:
                raise SignatureError(f"namespace {namespace!r} is not delegated to any publisher") from e
            current: dict[str, Metadata[Targets]] = {}
            current_bytes: dict[str, bytes] = {}
            for name in submitted:
                found = self.role(name, snapshot)
                if found is not None:
                    current[name], current_bytes[name] = found
            if namespace not in current:
                found = self.role(namespace, snapshot)
                if found is not None:
                    current[namespace], current_bytes[namespace] = found
            check = trust.check_publish(
                namespace=namespace,
                targets_md=targets_md,
                current=current,
                current_bytes=current_bytes,
                submitted=submitted,
            )
            if check.is_noop:
                return {"status": "unchanged", "versions": [], "roles": []}
            ns_md = check.roles.get(namespace) or current[namespace]
            versions, indexes = self._check_contents(namespace, ns_md, check.new_targets, snapshot)

            for name, md in check.roles.items():
                self.objects.put_bytes(f"tuf/{md.signed.version}.{name}.json", submitted[name])
            new_snapshot = trust.update_snapshot(
                snapshot,
                {name: md.signed.version for name, md in check.roles.items()},
                self._snapshot_signer,
                self.config.expiry,
            )
            self.objects.put_bytes(f"tuf/{new_snapshot.signed.version}.snapshot.json", trust.to_bytes(new_snapshot))
            new_timestamp = trust.update_timestamp(
                self.timestamp(), new_snapshot, self._timestamp_signer, self.config.expiry
            )
            detail = {
                "roles": sorted(check.roles),
                "files": len(check.new_targets),
                "snapshot": new_snapshot.signed.version,
            }
            self.index.record_publish(
                namespace,
                versions,
                indexes,
                detail,
                before_commit=lambda: self.objects.put_bytes("tuf/timestamp.json", trust.to_bytes(new_timestamp)),
            )
            return {
                "status": "published",
                "versions": [
                    f"{v['manifest']['namespace']}/{v['manifest']['name']}@{v['manifest']['version']}" for v in versions
                ],
                "roles": sorted(check.roles),
                "snapshot_version": new_snapshot.signed.version,
            }

    def _check_contents(
        self,
        namespace: str,
        ns_md: Metadata[Targets],
        new_targets: dict[str, TargetFile],
        snapshot: Metadata[Snapshot],
    ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        """Check the files behind new targets: uploaded with the signed length and hash, each
        new version complete with a valid manifest that matches its files, each versions index
        consistent. Returns (versions to index, model → new versions index)."""
        succinct = ns_md.signed.delegations.succinct_roles  # type: ignore[union-attr]
        assert succinct is not None
        for path, info in new_targets.items():
            size = self.objects.size(blob_key(info.hashes["sha256"]))
            if size is None:
                raise UsageError(f"{path}: its blob {info.hashes['sha256']} was not uploaded", code="blob_missing")
            if size != info.length:
                raise UsageError(f"{path}: signed length {info.length} differs from the uploaded blob ({size})")

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
            found = self.role(succinct.get_role_for_target(path), snapshot)
            return found[0].signed.targets.get(path) if found else None

        versions = []
        for (model, version), files in sorted(by_version.items()):
            ref = f"{namespace}/{model}@{version}"
            if stored_target(names.target_path(namespace, model, version, names.MANIFEST_FILE)) is not None:
                raise ConflictError(f"{ref} is already published; its files cannot change")
            if names.MANIFEST_FILE not in files:
                raise UsageError(f"{ref}: {names.MANIFEST_FILE} is missing from the publish")
            info = files[names.MANIFEST_FILE]
            doc = manifest.parse_manifest(self.objects.get_bytes(blob_key(info.hashes["sha256"])))
            if (doc["namespace"], doc["name"], doc["version"]) != (namespace, model, version):
                raise UsageError(f"{ref}: the manifest describes {doc['namespace']}/{doc['name']}@{doc['version']}")
            declared = [(v["file"], v["sha256"], v["size"]) for v in doc["variants"]]
            declared += [(f["path"], f["sha256"], f["size"]) for f in doc.get("files", [])]
            for file, sha, size in declared:
                got = files.get(file)
                if got is None or got.hashes.get("sha256") != sha or got.length != size:
                    raise UsageError(f"{ref}: {file} is not signed with the sha256 and size its manifest declares")
            versions.append(
                {
                    "manifest": doc,
                    "sha256": info.hashes["sha256"],
                    "size": info.length,
                    "files": {f: {"sha256": i.hashes["sha256"], "size": i.length} for f, i in sorted(files.items())},
                }
            )

        new_versions_by_model: dict[str, set[str]] = defaultdict(set)
        for model, version in by_version:
            new_versions_by_model[model].add(version)
        indexes = {}
        for model in sorted(set(index_files) | set(new_versions_by_model)):
            path = names.index_path(namespace, model)
            if model not in index_files:
                raise UsageError(f"{path} must be updated to list the new versions of {namespace}/{model}")
            info = index_files[model]
            doc = modelindex.parse_index(self.objects.get_bytes(blob_key(info.hashes["sha256"])), namespace, model)
            old_info = stored_target(path)
            old_versions: set[str] = set()
            if old_info is not None:
                old_doc = modelindex.parse_index(
                    self.objects.get_bytes(blob_key(old_info.hashes["sha256"])), namespace, model
                )
                old_versions = set(old_doc["versions"])
            listed = set(doc["versions"])
            if not old_versions <= listed:
                raise ConflictError(f"{path} drops published versions: {', '.join(sorted(old_versions - listed))}")
            unknown = listed - old_versions - new_versions_by_model[model]
            if unknown:
                raise UsageError(f"{path} lists versions that are not published: {', '.join(sorted(unknown))}")
            missing = new_versions_by_model[model] - listed
            if missing:
                raise UsageError(f"{path} does not list the new versions {', '.join(sorted(missing))}")
            indexes[model] = doc
        return versions, indexes

    # -- introspection --------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        ts = self.timestamp()
        return {
            "status": "ok",
            "timestamp_version": ts.signed.version,
            "timestamp_expires": ts.signed.expires.isoformat(),
            "snapshot_version": ts.signed.snapshot_meta.version,
            **self.index.counts(),
        }

    def close(self) -> None:
        self.index.dispose()
